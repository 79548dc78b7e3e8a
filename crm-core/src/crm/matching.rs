//! Incremental matching (see [`crate::identity::matching`]): the blocking keys customer
//! writes keep, [`Crm::match_customer`], the stored model and policy, and what creating a
//! customer does under the policy. The one place all of it lives.
//!
//! The keys cost bulk loads of customers about a third of their speed (five or six rows a
//! customer in a table keyed by a hash: 30,000 customers/s against 42,600 without, in
//! `cargo bench --bench ingest -- --match-keys`), so a store keeps them only once matching
//! is used: the first call that needs them ([`Crm::match_customer`],
//! [`Crm::set_match_policy`], [`Crm::ensure_match_keys`]) computes them for every customer
//! in one pass, in key order (3.7 s for 1,050,000 customers), and from then on every
//! customer write keeps them.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::{now, Crm};
use crate::config::ConfigKey;
use crate::customer::{Customer, CustomerId, IdentityFields, NewCustomer};
use crate::error::{Error, Result};
use crate::identity::in_parallel;
use crate::identity::{
    match_keys, matching::score_candidates, MatchCandidate, MatchModel, MatchOptions, MatchPolicy, MatchSettings,
    MatchSuggestion, MergeErrorKind, MergeRequest, PolicyMode, Standard, SuggestionStatus,
};
use crate::store::prelude::*;

/// Customers read, and keys written, per statement while computing every customer's keys.
const BACKFILL_PAGE: usize = 5_000;

/// The blocking keys a customer has in the store: none once merged away.
fn keys_of(c: &Customer) -> Vec<i64> {
    if c.merged_into.is_some() {
        Vec::new()
    } else {
        match_keys(&Standard::of(c))
    }
}

/// Whether the store keeps match keys (matching was used).
fn keys_kept(tx: &mut (impl ReadTx + ?Sized)) -> Result<bool> {
    Ok(tx.config(ConfigKey::MatchKeys)?.is_some_and(|v| v.contains("built")))
}

/// Keeps the blocking keys in step with a customer write: `old` as it was (`None`: new),
/// `new` as written (`None`: deleted). Nothing while the store keeps no keys.
pub(crate) fn sync_keys(
    tx: &mut (impl StoreTx + ?Sized),
    old: Option<&Customer>,
    new: Option<&Customer>,
) -> Result<()> {
    if !keys_kept(tx)? {
        return Ok(());
    }
    let before: BTreeSet<(i64, CustomerId)> =
        old.map(|c| keys_of(c).into_iter().map(|k| (k, c.id)).collect()).unwrap_or_default();
    let after: BTreeSet<(i64, CustomerId)> =
        new.map(|c| keys_of(c).into_iter().map(|k| (k, c.id)).collect()).unwrap_or_default();
    let gone: Vec<_> = before.difference(&after).copied().collect();
    let came: Vec<_> = after.difference(&before).copied().collect();
    tx.remove_match_keys(&gone)?;
    tx.add_match_keys(&came)
}

/// Stores the keys of new customers (their ids assigned), when the store keeps keys;
/// returns whether it does (and so whether a match policy may act).
pub(crate) fn add_keys(tx: &mut (impl StoreTx + ?Sized), customers: &[Customer]) -> Result<bool> {
    if !keys_kept(tx)? {
        return Ok(false);
    }
    let mut rows: Vec<(i64, CustomerId)> = in_parallel(customers, 512, |part| {
        part.iter().flat_map(|c| keys_of(c).into_iter().map(move |k| (k, c.id))).collect::<Vec<_>>()
    })
    .concat();
    // In key order: neighbouring inserts land on the same pages.
    rows.sort_unstable();
    tx.add_match_keys(&rows)?;
    Ok(true)
}

/// Updates a stored customer and its keys: the one path of a profile change.
pub(crate) fn update_customer(tx: &mut (impl StoreTx + ?Sized), old: &Customer, new: &Customer) -> Result<()> {
    tx.update_customer(new)?;
    sync_keys(tx, Some(old), Some(new))
}

/// Computes the keys of every customer not merged away, once (standardised on every
/// core, written in key order); from then on customer writes keep them.
fn build_keys(tx: &mut (impl StoreTx + ?Sized)) -> Result<()> {
    if keys_kept(tx)? {
        return Ok(());
    }
    let mut rows: Vec<(i64, CustomerId)> = Vec::new();
    let mut after = CustomerId(0);
    loop {
        let page = tx.identity_fields(after, BACKFILL_PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for part in in_parallel(&page, 512, |part| {
            part.iter()
                .flat_map(|f| match_keys(&Standard::of_fields(f)).into_iter().map(move |k| (k, f.id)))
                .collect::<Vec<_>>()
        }) {
            rows.extend(part);
        }
        if page.len() < BACKFILL_PAGE {
            break;
        }
    }
    rows.sort_unstable();
    for chunk in rows.chunks(BACKFILL_PAGE) {
        tx.add_match_keys(chunk)?;
    }
    tx.put_config(ConfigKey::MatchKeys, "\"built\"", now())
}

/// The stored model, or the validation error saying how to get one.
fn stored_model(tx: &mut (impl ReadTx + ?Sized)) -> Result<MatchModel> {
    match tx.config(ConfigKey::MatchModel)? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| Error::validation(ConfigKey::MatchModel.as_str(), format!("stored model unreadable: {e}"))),
        None => Err(Error::validation(
            "model",
            "no match model is stored: train one with train_match_model, store one with set_match_model, or pass one",
        )),
    }
}

/// The candidates of a record (standardised) among the stored customers: every customer
/// sharing a blocking key with it in a block of at most `max_block`, but `skip`.
fn candidates(
    tx: &mut (impl ReadTx + ?Sized),
    query: &Standard,
    max_block: u32,
    skip: Option<CustomerId>,
) -> Result<Vec<(CustomerId, Standard)>> {
    let mut ids: BTreeSet<CustomerId> = BTreeSet::new();
    for key in match_keys(query) {
        let found = tx.match_candidates(key, max_block as usize + 1)?;
        if found.len() <= max_block as usize {
            ids.extend(found);
        }
    }
    if let Some(s) = skip {
        ids.remove(&s);
    }
    let ids: Vec<CustomerId> = ids.into_iter().collect();
    Ok(tx.identity_fields_of(&ids)?.iter().map(|f| (f.id, Standard::of_fields(f))).collect())
}

/// What creating `c` does under the stored policy: nothing, suggestions, or a merge into
/// the most likely stored customer. Returns the customer the write ends at (the survivor
/// after an automatic merge).
pub(crate) fn after_create(
    tx: &mut (impl StoreTx + ?Sized),
    c: &Customer,
    policy: &Option<(MatchPolicy, MatchModel)>,
    at: DateTime<Utc>,
) -> Result<CustomerId> {
    let Some((policy, model)) = policy else { return Ok(c.id) };
    let query = Standard::of(c);
    let found = candidates(tx, &query, policy.max_block_size, Some(c.id))?;
    let scored = score_candidates(&query, &found, model, policy.threshold, crate::identity::MAX_MATCHES);
    let mut end = c.id;
    for (n, m) in scored.iter().enumerate() {
        let evidence = serde_json::to_value(&m.evidence).unwrap_or_default();
        if n == 0 && policy.mode == PolicyMode::AutoMerge {
            let request = MergeRequest {
                actor: Some("auto-match".into()),
                reason: Some(format!(
                    "match probability {:.6} at or above the policy's {}",
                    m.probability, policy.threshold
                )),
                evidence: Some(
                    serde_json::json!({"probability": m.probability, "weight": m.weight, "evidence": evidence}),
                ),
                ..Default::default()
            };
            match super::merge::merge(tx, m.customer, c.id, &request, at) {
                Ok(_) => {
                    end = m.customer;
                    continue;
                }
                // A chain already as long as allowed: suggested instead.
                Err(Error::Merge { kind: MergeErrorKind::TooDeep, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        tx.insert_match_suggestion(&MatchSuggestion {
            id: 0,
            customer: c.id,
            candidate: m.customer,
            probability: m.probability,
            evidence,
            status: SuggestionStatus::Open,
            created_at: at,
        })?;
    }
    Ok(end)
}

/// The stored policy with the model it needs, when it does anything.
pub(crate) fn active_policy(tx: &mut (impl ReadTx + ?Sized)) -> Result<Option<(MatchPolicy, MatchModel)>> {
    let Some(json) = tx.config(ConfigKey::MatchPolicy)? else { return Ok(None) };
    let policy: MatchPolicy = serde_json::from_str(&json)
        .map_err(|e| Error::validation(ConfigKey::MatchPolicy.as_str(), format!("stored policy unreadable: {e}")))?;
    if policy.mode == PolicyMode::Off {
        return Ok(None);
    }
    Ok(Some((policy, stored_model(tx)?)))
}

impl<S: Store> Crm<S> {
    /// The stored customers that may be the person or company `record` describes, the most
    /// likely first: the customers sharing a blocking key with it (mailbox, phone, name and
    /// street, a name token with the birthday or postcode, company or birthday with the
    /// postcode; keys every customer write keeps), scored with the stored model
    /// ([`set_match_model`](Self::set_match_model)) or `options.model`. Reads only the
    /// candidates: milliseconds against millions of customers. Customers merged away are
    /// never candidates; a person is compared with people, a company with companies.
    ///
    /// `record` is validated as [`create_customer`](Self::create_customer) validates it (so
    /// a phone in national notation needs its country) and is not stored. Errors:
    /// [`Error::Validation`] for the record, `options` (see [`MatchOptions`]) or `model`
    /// when no model is stored and none is given.
    ///
    /// ```
    /// use crm_core::identity::{MatchOptions, MatchSettings};
    /// use crm_core::{Crm, NewCustomer};
    /// let crm = Crm::in_memory()?;
    /// let person = |name: &str, email: &str| NewCustomer { name: name.into(), email: Some(email.into()), ..Default::default() };
    /// let ada = crm.create_customer(&person("Ada Lovelace", "ada.lovelace@gmail.com"))?;
    /// for i in 0..50 {
    ///     crm.create_customer(&person(&format!("Person {i}"), &format!("p{i}@example.org")))?;
    /// }
    /// crm.create_customer(&person("LOVELACE Ada", "AdaLovelace+shop@googlemail.com"))?;
    /// crm.train_match_model(&MatchSettings::default())?;
    /// let found = crm.match_customer(&person("Ada Lovelace", "ada.lovelace+news@gmail.com"), &MatchOptions::default())?;
    /// assert_eq!(found[0].customer, ada.id);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn match_customer(&self, record: &NewCustomer, options: &MatchOptions) -> Result<Vec<MatchCandidate>> {
        options.validate()?;
        let v = self.validator.customer(record)?;
        let fields = IdentityFields {
            id: CustomerId(0),
            kind: v.kind.unwrap_or_default(),
            name: v.name,
            email: v.email,
            phone: v.phone,
            company: v.company,
            address: v.address,
            birthday: v.birthday,
        };
        let query = Standard::of_fields(&fields);
        self.ensure_keys()?;
        self.store.read(|tx| {
            let model = match &options.model {
                Some(m) => m.clone(),
                None => stored_model(tx)?,
            };
            let found = candidates(tx, &query, options.max_block_size, None)?;
            Ok(score_candidates(&query, &found, &model, options.threshold, options.limit))
        })
    }

    /// Computes the match keys of every customer, once (a write that reads every customer:
    /// seconds for a million), after which every customer write keeps them. The calls that
    /// need the keys ([`match_customer`](Self::match_customer),
    /// [`set_match_policy`](Self::set_match_policy)) call it; a host may call it first to
    /// pay the cost at a time of its choosing. A store never asked to match keeps no keys,
    /// and its customer writes pay nothing for them.
    pub fn ensure_match_keys(&self) -> Result<()> {
        self.ensure_keys()
    }

    fn ensure_keys(&self) -> Result<()> {
        if !self.store.read(|tx| keys_kept(tx))? {
            self.store.write_alone(|tx| build_keys(tx))?;
        }
        Ok(())
    }

    /// Stores the model [`match_customer`](Self::match_customer) and the match policy score
    /// with (checked as [`MatchModel::validate`] checks).
    pub fn set_match_model(&self, model: &MatchModel) -> Result<()> {
        model.validate()?;
        let json = serde_json::to_string(model).map_err(|e| Error::validation("model", e.to_string()))?;
        self.store.write(|tx| tx.put_config(ConfigKey::MatchModel, &json, now()))
    }

    /// The stored match model, if one was stored.
    pub fn match_model(&self) -> Result<Option<MatchModel>> {
        self.store.read(|tx| match tx.config(ConfigKey::MatchModel)? {
            Some(_) => stored_model(tx).map(Some),
            None => Ok(None),
        })
    }

    /// Estimates a model from the stored customers as
    /// [`find_duplicates`](Self::find_duplicates) does under `settings` (its `model` must be
    /// `None`), stores it ([`set_match_model`](Self::set_match_model)) and returns it.
    pub fn train_match_model(&self, settings: &MatchSettings) -> Result<MatchModel> {
        if settings.model.is_some() {
            return Err(Error::validation("model", "train_match_model estimates the model: leave model out"));
        }
        let model = self.find_duplicates(settings)?.model;
        self.set_match_model(&model)?;
        Ok(model)
    }

    /// Stores the match policy of customer writes (see [`MatchPolicy`]): from then on,
    /// every customer created (by [`create_customer`](Self::create_customer), an upsert or
    /// bulk ingest) is matched against the stored customers in the same transaction, and
    /// the policy suggests or merges. A policy that does anything needs a stored model
    /// ([`Error::Validation`] on `model` otherwise).
    pub fn set_match_policy(&self, policy: &MatchPolicy) -> Result<()> {
        policy.validate()?;
        let json = serde_json::to_string(policy).map_err(|e| Error::validation("policy", e.to_string()))?;
        self.ensure_keys()?;
        self.store.write(|tx| {
            if policy.mode != PolicyMode::Off {
                stored_model(tx)?;
            }
            tx.put_config(ConfigKey::MatchPolicy, &json, now())
        })
    }

    /// The stored match policy (the default, off, when none was stored).
    pub fn match_policy(&self) -> Result<MatchPolicy> {
        self.store.read(|tx| match tx.config(ConfigKey::MatchPolicy)? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| Error::validation("match_policy", format!("stored policy unreadable: {e}"))),
            None => Ok(MatchPolicy::default()),
        })
    }

    /// The suggestions the match policy made, by id after `after` (0 for the first), of one
    /// status or all, at most `limit` (1 to 10,000).
    pub fn match_suggestions(
        &self,
        status: Option<SuggestionStatus>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<MatchSuggestion>> {
        if !(1..=crate::query::MAX_PAGE).contains(&limit) {
            return Err(Error::validation("limit", format!("{limit} is outside 1 ..= {}", crate::query::MAX_PAGE)));
        }
        self.store.read(|tx| tx.match_suggestions(status, after, limit))
    }

    /// Marks a suggestion decided: `Dismissed` (the two are different) or `Merged` (the host
    /// merged them, [`merge_customers`](Self::merge_customers)). [`Error::Validation`] on
    /// `id` when there is no such suggestion, on `status` for `Open`.
    pub fn resolve_suggestion(&self, id: i64, status: SuggestionStatus) -> Result<()> {
        if status == SuggestionStatus::Open {
            return Err(Error::validation("status", "a suggestion is resolved as dismissed or merged"));
        }
        self.store.write(|tx| {
            if tx.set_suggestion_status(id, status)? {
                Ok(())
            } else {
                Err(Error::validation("id", format!("no match suggestion has id {id}")))
            }
        })
    }
}
