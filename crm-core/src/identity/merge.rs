//! Merging duplicate customers and undoing it: the request, the survivorship rules that
//! decide the surviving profile, the merge log, and the storage port that keeps it.
//!
//! A merge folds a *merged* customer into a *survivor* ([`Crm::merge_customers`]): the
//! survivor's profile takes fields from the merged one by the [`Survivorship`] rules; the
//! merged customer's orders, interactions, unspent loyalty points and static segment
//! memberships move to the survivor, and its statistics and points follow; the merged
//! customer stays stored, marked [`merged_into`](crate::Customer::merged_into), so its id
//! and external id keep resolving to the survivor. Every record the merge moved, and every
//! record written afterwards through the merged customer's id or external id, is listed
//! with the merge, so [`Crm::unmerge_customer`] can hand each side back exactly what is
//! its own.
//!
//! [`Crm::merge_customers`]: crate::Crm::merge_customers
//! [`Crm::unmerge_customer`]: crate::Crm::unmerge_customer

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::{Address, Consent, Customer, CustomerId};
use crate::error::{Error, Result};

/// Longest chain of merges (a customer merged into one that was merged into another, ...).
/// A merge that would make a longer one is refused with [`MergeErrorKind::TooDeep`].
pub const MAX_MERGE_DEPTH: usize = 16;
/// Longest `actor` or `reason`, in characters.
pub const MAX_MERGE_TEXT: usize = 2_000;
/// Largest `evidence`, as JSON text, in bytes.
pub const MAX_EVIDENCE_BYTES: usize = 64 * 1024;

/// The id of a merge in the merge log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MergeId(pub i64);

impl std::fmt::Display for MergeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Which side a profile field is taken from when both have a value. A value is never
/// replaced by nothing: when the preferred side has no value, the other side's is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Prefer {
    /// The survivor's value (the default).
    #[default]
    Survivor,
    /// The merged customer's value.
    Merged,
    /// The value of the customer whose record changed last (`updated_at`; the survivor on a tie).
    MostRecent,
    /// The longer value (for the address: the one with more parts; the survivor on a tie).
    MostComplete,
    /// The value of the customer known to the higher-ranked source
    /// ([`Survivorship::source_priority`]; a customer ranks by the best of its identities'
    /// sources, and its own external id counts as source `"primary"`; the survivor on a tie).
    SourcePriority,
}

/// The profile fields survivorship rules name.
pub const SURVIVORSHIP_FIELDS: [&str; 11] =
    ["name", "email", "phone", "company", "title", "industry", "address", "birthday", "gender", "attributes", "kind"];

/// How the surviving profile is made from the two. Fixed rules beside these: tags are the
/// union of both; consents take, per purpose, the most restrictive answer (a refusal over
/// a grant, the later of two equal answers); attributes are merged key by key, the
/// preferred side winning a key both have; the creation time is the earlier one; the
/// external id, lifecycle stage and id stay the survivor's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Survivorship {
    /// The rule of every field not named in `fields`.
    pub default: Prefer,
    /// Rules per field (names in [`SURVIVORSHIP_FIELDS`]).
    pub fields: BTreeMap<String, Prefer>,
    /// Sources, most trusted first, for [`Prefer::SourcePriority`] (at most 64; `"primary"`
    /// names the host's own external ids).
    pub source_priority: Vec<String>,
}

/// The rank of a customer's sources in `priority` (lower is better; `usize::MAX` when none
/// is listed): the best of its identities' sources, and `"primary"` when it has its own
/// external id.
pub(crate) fn source_rank<'a>(priority: &[String], sources: impl IntoIterator<Item = &'a str>) -> usize {
    sources.into_iter().filter_map(|s| priority.iter().position(|p| p == s)).min().unwrap_or(usize::MAX)
}

/// A merge as the host asks for it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct MergeRequest {
    /// Who merged (a user or process name the host chooses), at most [`MAX_MERGE_TEXT`] characters.
    pub actor: Option<String>,
    /// Why, at most [`MAX_MERGE_TEXT`] characters.
    pub reason: Option<String>,
    /// The evidence the decision rests on (for example a
    /// [`MatchPair`](crate::identity::MatchPair) as JSON), at most
    /// [`MAX_EVIDENCE_BYTES`] of JSON nested at most [`MAX_JSON_DEPTH`](crate::json::MAX_JSON_DEPTH) deep.
    pub evidence: Option<serde_json::Value>,
    /// How the surviving profile is made.
    pub survivorship: Survivorship,
}

/// An unmerge as the host asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct UnmergeRequest {
    /// Who undid the merge, at most [`MAX_MERGE_TEXT`] characters.
    pub actor: Option<String>,
    /// Why, at most [`MAX_MERGE_TEXT`] characters.
    pub reason: Option<String>,
}

/// One merge in the merge log: who, when, why, on what evidence, and both profiles as they
/// were, so that an unmerge can restore them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeRecord {
    /// Its id.
    pub id: MergeId,
    /// The customer that remained.
    pub survivor: CustomerId,
    /// The customer folded into it.
    pub merged: CustomerId,
    /// Who merged.
    pub actor: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// The evidence the host gave.
    pub evidence: Option<serde_json::Value>,
    /// The survivorship rules used.
    pub survivorship: Survivorship,
    /// When.
    pub merged_at: DateTime<Utc>,
    /// The survivor's profile before the merge.
    pub survivor_before: Customer,
    /// The merged customer's profile before the merge.
    pub merged_before: Customer,
    /// The survivor's profile the merge wrote.
    pub survivor_after: Customer,
    /// When the merge was undone (`None` while it stands).
    pub unmerged_at: Option<DateTime<Utc>>,
    /// Who undid it.
    pub unmerged_by: Option<String>,
    /// Why it was undone.
    pub unmerge_reason: Option<String>,
}

/// What a merge or unmerge call did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeOutcome {
    /// The merge, as logged (after an unmerge: with its `unmerged_at`).
    pub merge: MergeRecord,
    /// The survivor as stored now.
    pub survivor: Customer,
    /// The merged customer as stored now.
    pub merged: Customer,
    /// Orders moved.
    pub orders_moved: u64,
    /// Interactions moved.
    pub interactions_moved: u64,
    /// Loyalty points moved (unspent points of the side that moved; orders' points follow
    /// their orders and are not counted here).
    pub points_moved: i64,
    /// `true` when the call repeated one already done (the same merge again, or an unmerge
    /// of a merge already undone): nothing was written.
    pub replayed: bool,
}

/// Why a merge or unmerge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MergeErrorKind {
    /// A customer merged with itself.
    SelfMerge,
    /// A customer that is merged into another given as a survivor, or merged again elsewhere.
    MergedAway,
    /// The survivor is (through a chain of merges) merged into the customer to merge.
    Cycle,
    /// A chain of merges longer than [`MAX_MERGE_DEPTH`].
    TooDeep,
    /// An unmerge of a customer that was never merged.
    NotMerged,
    /// An unmerge of a customer whose survivor is itself merged away: that merge is undone first.
    Order,
}

impl MergeErrorKind {
    /// The snake-case name the bindings report.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeErrorKind::SelfMerge => "self_merge",
            MergeErrorKind::MergedAway => "merged_away",
            MergeErrorKind::Cycle => "cycle",
            MergeErrorKind::TooDeep => "too_deep",
            MergeErrorKind::NotMerged => "not_merged",
            MergeErrorKind::Order => "order",
        }
    }
}

impl std::fmt::Display for MergeErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) fn merge_error(kind: MergeErrorKind, message: impl Into<String>) -> Error {
    Error::Merge { kind, message: message.into() }
}

/// What kind of record a merge moved (in the move list kept with each merge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Moved {
    /// An order of the merged side.
    Order,
    /// An interaction of the merged side.
    Interaction,
    /// A loyalty entry that credited the survivor with the merged side's unspent points
    /// (its lot holds what of them is left).
    PointsIn,
    /// A static segment the merged customer left (it rejoins at unmerge).
    SegmentLeft,
    /// A static segment the survivor joined because the merged customer was in it.
    SegmentJoined,
}

impl Moved {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Moved::Order => "order",
            Moved::Interaction => "interaction",
            Moved::PointsIn => "points_in",
            Moved::SegmentLeft => "segment_left",
            Moved::SegmentJoined => "segment_joined",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Moved> {
        [Moved::Order, Moved::Interaction, Moved::PointsIn, Moved::SegmentLeft, Moved::SegmentJoined]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// The storage port of the merge log: what the domain reads.
pub trait MergeStore {
    /// The merges a customer took part in (as survivor or merged), oldest first.
    fn merges_of(&mut self, customer: CustomerId) -> Result<Vec<MergeRecord>>;
    /// The standing merge (not undone) that folded `merged` into another customer: its id
    /// and the survivor.
    fn merge_link(&mut self, merged: CustomerId) -> Result<Option<(MergeId, CustomerId)>>;
    /// [`merge_link`](Self::merge_link) of many customers at once (those without one are left out).
    fn merge_links(
        &mut self,
        merged: &[CustomerId],
    ) -> Result<std::collections::HashMap<CustomerId, (MergeId, CustomerId)>> {
        let mut out = std::collections::HashMap::new();
        for &m in merged {
            if let Some(l) = self.merge_link(m)? {
                out.insert(m, l);
            }
        }
        Ok(out)
    }
    /// Whether any merge stands (lets a bulk write skip resolving merged customers).
    fn any_merge(&mut self) -> Result<bool>;
    /// A merge by id.
    fn get_merge(&mut self, id: MergeId) -> Result<Option<MergeRecord>>;
    /// The last merge (standing or undone) that folded `merged` into another customer.
    fn last_merge_of(&mut self, merged: CustomerId) -> Result<Option<MergeRecord>>;
    /// The records a merge moved, or that were written through the merged side afterwards:
    /// `(kind, id)` in the order they were listed.
    #[doc(hidden)]
    fn merge_moves(&mut self, merge: MergeId) -> Result<Vec<(String, i64)>>;
    /// The merges that list a record (kind, record id).
    #[doc(hidden)]
    fn merges_listing(&mut self, kind: &str, record_id: i64) -> Result<Vec<MergeId>>;
    /// The customers with a standing merge into `survivor`.
    fn merged_into(&mut self, survivor: CustomerId) -> Result<Vec<CustomerId>>;
}

/// The storage port of the merge log: what the domain writes.
pub trait MergeStoreMut: MergeStore {
    /// Logs a merge; returns its id.
    fn insert_merge(&mut self, m: &MergeRecord) -> Result<MergeId>;
    /// Lists records with a merge (kind, record id); a record listed twice is listed once.
    #[doc(hidden)]
    fn add_merge_moves(&mut self, merge: MergeId, kind: &str, ids: &[i64]) -> Result<()>;
    /// Marks a merge undone.
    fn close_merge(&mut self, id: MergeId, at: DateTime<Utc>, actor: Option<&str>, reason: Option<&str>) -> Result<()>;
    /// Removes the merges a customer took part in and their move lists (the customer is
    /// being deleted).
    fn delete_merges_of(&mut self, customer: CustomerId) -> Result<()>;
}

/// What a store keeps of a merge record in one JSON column (the rest has columns of its own).
#[derive(Serialize, Deserialize)]
struct Body {
    actor: Option<String>,
    reason: Option<String>,
    evidence: Option<serde_json::Value>,
    survivorship: Survivorship,
    survivor_before: Customer,
    merged_before: Customer,
    survivor_after: Customer,
}

impl MergeRecord {
    /// The JSON column a store keeps for this record.
    pub(crate) fn body_json(&self) -> Result<String> {
        let b = Body {
            actor: self.actor.clone(),
            reason: self.reason.clone(),
            evidence: self.evidence.clone(),
            survivorship: self.survivorship.clone(),
            survivor_before: self.survivor_before.clone(),
            merged_before: self.merged_before.clone(),
            survivor_after: self.survivor_after.clone(),
        };
        serde_json::to_string(&b).map_err(|e| Error::validation("merge", e.to_string()))
    }

    /// The record from a store's columns and JSON column.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_row(
        id: i64,
        survivor: i64,
        merged: i64,
        merged_at: DateTime<Utc>,
        unmerged_at: Option<DateTime<Utc>>,
        unmerged_by: Option<String>,
        unmerge_reason: Option<String>,
        body: &str,
    ) -> std::result::Result<MergeRecord, serde_json::Error> {
        let b: Body = serde_json::from_str(body)?;
        Ok(MergeRecord {
            id: MergeId(id),
            survivor: CustomerId(survivor),
            merged: CustomerId(merged),
            actor: b.actor,
            reason: b.reason,
            evidence: b.evidence,
            survivorship: b.survivorship,
            merged_at,
            survivor_before: b.survivor_before,
            merged_before: b.merged_before,
            survivor_after: b.survivor_after,
            unmerged_at,
            unmerged_by,
            unmerge_reason,
        })
    }
}

/// Checks a merge or unmerge request's texts and evidence.
pub(crate) fn check_request(
    actor: Option<&str>,
    reason: Option<&str>,
    evidence: Option<&serde_json::Value>,
) -> Result<()> {
    for (field, text) in [("actor", actor), ("reason", reason)] {
        if let Some(t) = text {
            if t.trim().is_empty() || t.chars().count() > MAX_MERGE_TEXT || t.contains('\0') {
                return Err(Error::validation(field, format!("1 to {MAX_MERGE_TEXT} characters, no NUL")));
            }
        }
    }
    if let Some(e) = evidence {
        let text = serde_json::to_string(e).map_err(|e| Error::validation("evidence", e.to_string()))?;
        if text.len() > MAX_EVIDENCE_BYTES {
            return Err(Error::validation(
                "evidence",
                format!("{} bytes of JSON; at most {MAX_EVIDENCE_BYTES}", text.len()),
            ));
        }
        crate::json::check_depth(&text).map_err(|e| Error::validation("evidence", e.reason))?;
    }
    Ok(())
}

/// Checks survivorship rules: every field named is one of [`SURVIVORSHIP_FIELDS`]; at
/// most 64 sources, each a source name.
pub(crate) fn check_survivorship(s: &Survivorship) -> Result<()> {
    if s.source_priority.len() > 64 {
        return Err(Error::validation("survivorship.source_priority", "at most 64 sources"));
    }
    for (i, src) in s.source_priority.iter().enumerate() {
        super::sources::check_source(src)
            .map_err(|_| Error::validation(format!("survivorship.source_priority[{i}]"), "not a source name"))?;
    }
    for f in s.fields.keys() {
        if !SURVIVORSHIP_FIELDS.contains(&f.as_str()) {
            return Err(Error::validation(
                format!("survivorship.fields.{}", crate::error::clip(f, 64)),
                format!("unknown field; one of {}", SURVIVORSHIP_FIELDS.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The surviving profile of `s` (survivor) and `m` (merged) under `rules`, as of `now`.
/// `ranks`: the survivor's and the merged customer's [`source_rank`]s.
pub(crate) fn survive(
    s: &Customer,
    m: &Customer,
    rules: &Survivorship,
    ranks: (usize, usize),
    now: DateTime<Utc>,
) -> Customer {
    let rule = |field: &str| rules.fields.get(field).copied().unwrap_or(rules.default);
    // Whether the merged side's value wins when both have one.
    let merged_wins = |field: &str, s_len: usize, m_len: usize| match rule(field) {
        Prefer::Survivor => false,
        Prefer::Merged => true,
        Prefer::MostRecent => m.updated_at > s.updated_at,
        Prefer::MostComplete => m_len > s_len,
        Prefer::SourcePriority => ranks.1 < ranks.0,
    };
    fn pick<T: Clone>(a: &Option<T>, b: &Option<T>, b_wins: bool) -> Option<T> {
        match (a, b) {
            (Some(_), Some(y)) if b_wins => Some(y.clone()),
            (Some(x), _) => Some(x.clone()),
            (None, y) => y.clone(),
        }
    }
    let text = |field: &str, a: &Option<String>, b: &Option<String>| {
        let win = merged_wins(field, a.as_deref().map_or(0, str::len), b.as_deref().map_or(0, str::len));
        pick(a, b, win)
    };
    let mut out = s.clone();
    let name_wins = merged_wins("name", s.name.chars().count(), m.name.chars().count());
    if s.name.trim().is_empty() || (name_wins && !m.name.trim().is_empty()) {
        out.name = m.name.clone();
    }
    out.email = text("email", &s.email, &m.email);
    out.phone = text("phone", &s.phone, &m.phone);
    out.company = text("company", &s.company, &m.company);
    out.title = text("title", &s.title, &m.title);
    out.industry = text("industry", &s.industry, &m.industry);
    out.gender = text("gender", &s.gender, &m.gender);
    out.birthday = pick(&s.birthday, &m.birthday, merged_wins("birthday", 1, 1));
    out.address = address(&s.address, &m.address, merged_wins("address", parts(&s.address), parts(&m.address)));
    if merged_wins("kind", 1, 1) {
        out.kind = m.kind;
    }
    let attr_wins = merged_wins("attributes", s.attributes.len(), m.attributes.len());
    for (k, v) in &m.attributes {
        if attr_wins || !out.attributes.contains_key(k) {
            out.attributes.insert(k.clone(), v.clone());
        }
    }
    out.tags.extend(m.tags.iter().cloned());
    for (purpose, c) in &m.consents {
        let keep = match out.consents.get(purpose) {
            None => c.clone(),
            Some(own) => restrictive(own, c).clone(),
        };
        out.consents.insert(purpose.clone(), keep);
    }
    out.created_at = s.created_at.min(m.created_at);
    out.updated_at = now;
    out.merged_into = None;
    out
}

/// The more restrictive of two answers for one purpose: a refusal over a grant, else the later.
fn restrictive<'a>(a: &'a Consent, b: &'a Consent) -> &'a Consent {
    match (a.granted, b.granted) {
        (false, true) => a,
        (true, false) => b,
        _ if b.at > a.at => b,
        _ => a,
    }
}

fn parts(a: &Address) -> usize {
    [&a.country, &a.region, &a.city, &a.postal_code, &a.street].iter().filter(|p| p.is_some()).count()
}

/// The address a merge keeps: the preferred one whole when it has any part (parts of two
/// addresses are never mixed), else the other.
fn address(s: &Address, m: &Address, m_wins: bool) -> Address {
    match (parts(s), parts(m)) {
        (0, _) => m.clone(),
        (_, 0) => s.clone(),
        _ if m_wins => m.clone(),
        _ => s.clone(),
    }
}

/// The survivor's profile after an unmerge: each field the merge set and nobody changed
/// since (still equal to `after`) goes back to its value `before` the merge; a field
/// changed after the merge keeps its current value. Tags and attributes go key by key:
/// what the merge added and is still there is removed, what it removed comes back.
pub(crate) fn restore(current: &Customer, before: &Customer, after: &Customer, now: DateTime<Utc>) -> Customer {
    fn back<T: Clone + PartialEq>(cur: &T, before: &T, after: &T) -> T {
        if cur == after {
            before.clone()
        } else {
            cur.clone()
        }
    }
    let mut out = current.clone();
    out.kind = back(&current.kind, &before.kind, &after.kind);
    out.name = back(&current.name, &before.name, &after.name);
    out.email = back(&current.email, &before.email, &after.email);
    out.phone = back(&current.phone, &before.phone, &after.phone);
    out.company = back(&current.company, &before.company, &after.company);
    out.title = back(&current.title, &before.title, &after.title);
    out.industry = back(&current.industry, &before.industry, &after.industry);
    out.address = back(&current.address, &before.address, &after.address);
    out.birthday = back(&current.birthday, &before.birthday, &after.birthday);
    out.gender = back(&current.gender, &before.gender, &after.gender);
    out.created_at = back(&current.created_at, &before.created_at, &after.created_at);
    for t in after.tags.difference(&before.tags) {
        out.tags.remove(t);
    }
    for (k, v) in &after.attributes {
        if current.attributes.get(k) == Some(v) {
            match before.attributes.get(k) {
                Some(old) => out.attributes.insert(k.clone(), old.clone()),
                None => out.attributes.remove(k),
            };
        }
    }
    for (k, v) in &after.consents {
        if current.consents.get(k) == Some(v) {
            match before.consents.get(k) {
                Some(old) => out.consents.insert(k.clone(), old.clone()),
                None => out.consents.remove(k),
            };
        }
    }
    out.updated_at = now;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::{CustomerKind, LifecycleStage};
    use chrono::TimeZone;

    fn customer(id: i64, name: &str) -> Customer {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        Customer {
            id: CustomerId(id),
            external_id: Some(format!("C-{id}")),
            kind: CustomerKind::Person,
            name: name.into(),
            email: None,
            phone: None,
            company: None,
            title: None,
            industry: None,
            address: Address::default(),
            birthday: None,
            gender: None,
            tags: Default::default(),
            attributes: Default::default(),
            consents: Default::default(),
            lifecycle: LifecycleStage::default(),
            created_at: t,
            updated_at: t,
            merged_into: None,
        }
    }

    #[test]
    fn never_overwrites_with_nothing_and_unions_tags() {
        let mut s = customer(1, "Ada Lovelace");
        s.email = Some("ada@example.com".into());
        s.tags.insert("vip".into());
        let mut m = customer(2, "Ada L.");
        m.phone = Some("+6591234567".into());
        m.tags.insert("web".into());
        let rules = Survivorship { default: Prefer::Merged, ..Default::default() };
        let out = survive(&s, &m, &rules, (0, 0), s.updated_at);
        assert_eq!(out.name, "Ada L.");
        assert_eq!(out.email.as_deref(), Some("ada@example.com"), "a null never overwrites");
        assert_eq!(out.phone.as_deref(), Some("+6591234567"));
        assert_eq!(out.tags.len(), 2);
        assert_eq!(out.external_id.as_deref(), Some("C-1"));
    }

    #[test]
    fn consents_take_the_most_restrictive_answer() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let t1 = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        let mut s = customer(1, "A");
        s.consents.insert("email".into(), Consent { granted: true, at: t1, source: None });
        s.consents.insert("sms".into(), Consent { granted: false, at: t0, source: None });
        let mut m = customer(2, "A");
        m.consents.insert("email".into(), Consent { granted: false, at: t0, source: None });
        m.consents.insert("sms".into(), Consent { granted: true, at: t1, source: None });
        let out = survive(&s, &m, &Survivorship::default(), (0, 0), t1);
        assert!(!out.consents["email"].granted && !out.consents["sms"].granted);
    }

    #[test]
    fn most_complete_and_most_recent() {
        let mut s = customer(1, "Ada");
        s.address.city = Some("London".into());
        let mut m = customer(2, "Ada Lovelace");
        m.address = Address { city: Some("London".into()), postal_code: Some("N1".into()), ..Default::default() };
        m.updated_at += chrono::TimeDelta::days(1);
        let rules = Survivorship {
            default: Prefer::MostComplete,
            fields: [("name".to_string(), Prefer::MostRecent)].into(),
            ..Default::default()
        };
        let out = survive(&s, &m, &rules, (0, 0), m.updated_at);
        assert_eq!(out.name, "Ada Lovelace");
        assert_eq!(out.address.postal_code.as_deref(), Some("N1"));
    }

    #[test]
    fn restore_keeps_what_changed_after_the_merge() {
        let s = customer(1, "Ada");
        let mut m = customer(2, "Ada Lovelace");
        m.email = Some("ada@example.com".into());
        m.tags.insert("web".into());
        let after =
            survive(&s, &m, &Survivorship { default: Prefer::Merged, ..Default::default() }, (0, 0), s.updated_at);
        let mut current = after.clone();
        current.email = Some("new@example.com".into());
        let back = restore(&current, &s, &after, s.updated_at);
        assert_eq!(back.name, "Ada");
        assert_eq!(back.email.as_deref(), Some("new@example.com"), "changed after the merge: kept");
        assert!(back.tags.is_empty());
    }

    #[test]
    fn requests_are_checked() {
        assert!(check_request(Some(""), None, None).is_err());
        assert!(check_request(None, Some(&"x".repeat(MAX_MERGE_TEXT + 1)), None).is_err());
        let deep = (0..200).fold(serde_json::json!(1), |v, _| serde_json::json!([v]));
        assert!(check_request(None, None, Some(&deep)).is_err());
        assert!(check_request(Some("ops"), Some("same person"), Some(&serde_json::json!({"score": 0.99}))).is_ok());
        let bad = Survivorship { fields: [("shoe_size".to_string(), Prefer::Merged)].into(), ..Default::default() };
        assert!(check_survivorship(&bad).is_err());
    }
}
