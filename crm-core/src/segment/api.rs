//! Segmentation through the [`Crm`] facade: ad-hoc rules, saved segments, snapshots,
//! scoring plans, lifecycle stages and value tiers. Each call is one transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::lifecycle::LifecycleRules;
use super::tiers::{TierBasis, TierConfig};
use super::{Segment, SegmentId, SegmentKind};
use crate::changes::Entity;
use crate::config::ConfigKey;
use crate::customer::{Customer, CustomerId};
use crate::error::{Error, Result};
use crate::money::Money;
use crate::rule::{self, check, Cmp, Cond, Definitions, Expr, Scalar, SegmentDef, Subject, Term, Value};
use crate::segment::HistoryEntry;
use crate::segment::{SegmentRead, SegmentStoreMut};

/// Most members returned by one page.
pub const MAX_MEMBERS_PAGE: usize = 100_000;

/// What a snapshot of a dynamic segment changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The segment.
    pub segment: SegmentId,
    /// When the snapshot was taken (the evaluation time).
    pub at: DateTime<Utc>,
    /// Members now.
    pub members: i64,
    /// Customers who entered since the last snapshot.
    pub entered: Vec<CustomerId>,
    /// Customers who left since the last snapshot.
    pub left: Vec<CustomerId>,
}

/// What a lifecycle or tier refresh did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refresh {
    /// The as-of time the rules were evaluated at (and the time recorded for changes).
    pub as_of: DateTime<Utc>,
    /// Customers evaluated.
    pub customers: i64,
    /// Customers whose stage or tier changed.
    pub changed: i64,
    /// Customers per stage or tier after the refresh (customers without a tier are not counted).
    pub counts: BTreeMap<String, i64>,
}

pub(crate) fn name_of<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Segments and scoring plans named by `e` (directly).
pub(crate) fn references(e: &Expr, segments: &mut Vec<String>, plans: &mut Vec<String>) {
    fn value(v: &Value, segments: &mut Vec<String>, plans: &mut Vec<String>) {
        match v {
            Value::Field { name } => {
                if let Some(p) = name.strip_prefix("score.") {
                    plans.push(p.to_string());
                }
            }
            Value::Shift { base, .. } => value(base, segments, plans),
            Value::Aggregate { filter: Some(f), .. } => references(f, segments, plans),
            _ => {}
        }
    }
    match e {
        Expr::And { args } | Expr::Or { args } => args.iter().for_each(|a| references(a, segments, plans)),
        Expr::Not { arg } => references(arg, segments, plans),
        Expr::Compare { left, right, .. } => {
            value(left, segments, plans);
            value(right, segments, plans);
        }
        Expr::In { value: v, .. } | Expr::IsNull { value: v, .. } | Expr::Within { value: v, .. } => {
            value(v, segments, plans)
        }
        Expr::Contains { value: a, item: b } | Expr::StartsWith { value: a, prefix: b } => {
            value(a, segments, plans);
            value(b, segments, plans);
        }
        Expr::Between { value: a, low, high } => {
            value(a, segments, plans);
            value(low, segments, plans);
            value(high, segments, plans);
        }
        Expr::InSegment { name } => segments.push(name.clone()),
        Expr::Bool { .. } => {}
    }
}

/// Every stored rule (segments, plans, lifecycle and tier rules) with a label, for finding
/// what refers to a segment or plan.
pub(crate) fn stored_rules<T: SegmentRead + ?Sized>(tx: &mut T) -> Result<Vec<(String, Expr)>> {
    let mut out = Vec::new();
    for s in tx.list_segments()? {
        if let Some(r) = s.rule {
            out.push((format!("segment \"{}\"", s.name), r));
        }
    }
    for p in tx.list_plans()? {
        for r in p.rules {
            out.push((format!("scoring plan \"{}\"", p.name), r.when));
        }
    }
    if let Some(l) = lifecycle_rules(tx)? {
        out.extend(l.rules.into_iter().map(|r| ("the lifecycle rules".to_string(), r.when)));
    }
    if let Some(TierConfig { basis: TierBasis::Rules { tiers }, .. }) = tier_config(tx)? {
        out.extend(tiers.into_iter().map(|t| ("the value-tier rules".to_string(), t.when)));
    }
    Ok(out)
}

pub(crate) fn dependents<T: SegmentRead + ?Sized>(
    tx: &mut T,
    segment: Option<&str>,
    plan: Option<&str>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (label, rule) in stored_rules(tx)? {
        let (mut segs, mut plans) = (Vec::new(), Vec::new());
        references(&rule, &mut segs, &mut plans);
        let hit =
            segment.is_some_and(|s| segs.iter().any(|x| x == s)) || plan.is_some_and(|p| plans.iter().any(|x| x == p));
        if hit && !out.contains(&label) {
            out.push(label);
        }
    }
    Ok(out)
}

pub(crate) fn definitions<T: SegmentRead + ?Sized>(tx: &mut T) -> Result<Definitions> {
    let mut d = Definitions::default();
    for s in tx.list_segments()? {
        let def = match (s.kind, s.rule) {
            (SegmentKind::Dynamic, Some(r)) => SegmentDef::Dynamic(r),
            _ => SegmentDef::Static(s.id.0),
        };
        d.segments.insert(s.name, def);
    }
    for p in tx.list_plans()? {
        let pairs = p.as_pairs();
        d.plans.insert(p.name, pairs);
    }
    Ok(d)
}

pub(crate) fn lifecycle_rules<T: SegmentRead + ?Sized>(tx: &mut T) -> Result<Option<LifecycleRules>> {
    tx.config(ConfigKey::LifecycleRules)?
        .map(|s| {
            serde_json::from_str(&s).map_err(|e| Error::validation(ConfigKey::LifecycleRules.as_str(), e.to_string()))
        })
        .transpose()
}

pub(crate) fn tier_config<T: SegmentRead + ?Sized>(tx: &mut T) -> Result<Option<TierConfig>> {
    tx.config(ConfigKey::ValueTiers)?
        .map(|s| serde_json::from_str(&s).map_err(|e| Error::validation(ConfigKey::ValueTiers.as_str(), e.to_string())))
        .transpose()
}

pub(crate) fn segment_named<T: SegmentRead + ?Sized>(tx: &mut T, name: &str) -> Result<Segment> {
    tx.segment_by_name(name)?.ok_or_else(|| Error::not_found(Entity::Segment, name))
}

/// The condition deciding membership of a segment: its rule, or its stored list.
pub(crate) fn membership(s: &Segment, defs: &Definitions, now: DateTime<Utc>) -> Result<Cond> {
    match (&s.kind, &s.rule) {
        (SegmentKind::Dynamic, Some(r)) => check(r, defs, now),
        _ => Ok(Cond::InStatic(s.id.0)),
    }
}

pub(crate) fn all_members<T: SegmentRead + ?Sized>(tx: &mut T, rule: &Cond) -> Result<Vec<CustomerId>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = tx.rule_members(rule, after, MAX_MEMBERS_PAGE)?;
        after = page.last().copied();
        let done = page.len() < MAX_MEMBERS_PAGE;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Every member of a saved segment now, ascending (a dynamic segment's rule evaluated, a
/// static segment's list read), inside the caller's transaction.
pub(crate) fn members_now<T: SegmentRead + ?Sized>(tx: &mut T, name: &str) -> Result<Vec<CustomerId>> {
    let seg = segment_named(tx, name)?;
    let c = membership(&seg, &definitions(tx)?, Utc::now())?;
    all_members(tx, &c)
}

pub(crate) fn check_page(limit: usize) -> Result<()> {
    if limit == 0 || limit > MAX_MEMBERS_PAGE {
        return Err(Error::validation("limit", format!("1 to {MAX_MEMBERS_PAGE}, got {limit}")));
    }
    Ok(())
}

pub(crate) fn check_description(d: &Option<String>) -> Result<()> {
    if d.as_ref().is_some_and(|d| d.chars().count() > 2_000) {
        return Err(Error::validation("description", "at most 2,000 characters"));
    }
    Ok(())
}

/// Evaluates `rule` for one customer in memory, loading only what it reads.
pub(crate) fn evaluate_one<T: SegmentRead + ?Sized>(tx: &mut T, customer: CustomerId, rule: &Cond) -> Result<bool> {
    let c = tx.get_customer(customer)?.ok_or_else(|| Error::not_found(Entity::Customer, customer))?;
    let stats = tx.get_stats(customer)?;
    let needs = rule::needs(rule);
    let rfm = if needs.rfm { tx.get_rfm(customer)? } else { None };
    let tier = if needs.tier { tx.tier_of(customer)? } else { None };
    let statics = if needs.static_segments { tx.static_segments_of(customer)? } else { Vec::new() };
    let since = |us: Option<i64>| us.and_then(DateTime::from_timestamp_micros);
    let orders = if needs.orders { tx.orders_of(customer, since(needs.orders_since))? } else { Vec::new() };
    let interactions =
        if needs.interactions { tx.interactions_of(customer, since(needs.interactions_since))? } else { Vec::new() };
    let subject = Subject {
        customer: &c,
        stats: &stats,
        rfm: rfm.as_ref(),
        tier: tier.as_deref(),
        orders: &orders,
        interactions: &interactions,
        static_segments: &statics,
    };
    Ok(rule::matches(&subject, rule))
}

/// Records a lifecycle change made by a customer update in the stage history.
pub(crate) fn record_stage_change<T: SegmentRead + SegmentStoreMut + ?Sized>(
    tx: &mut T,
    old: &Customer,
    new: &Customer,
) -> Result<()> {
    if old.lifecycle == new.lifecycle {
        return Ok(());
    }
    tx.append_history(
        "lifecycle",
        &[HistoryEntry {
            customer_id: new.id,
            previous: Some((name_of(&old.lifecycle), old.created_at)),
            value: name_of(&new.lifecycle),
            at: new.updated_at,
        }],
    )
}

pub(crate) fn plan_conditions(defs: &Definitions, plan: &str) -> Result<Vec<(Cond, i64)>> {
    let probe = Expr::Compare {
        left: Value::Field { name: format!("score.{plan}") },
        cmp: Cmp::Ge,
        right: Value::Literal { value: rule::Literal::Int(0) },
    };
    match check(&probe, defs, Utc::now())? {
        Cond::Compare(Term::Score(rules), _, _) => Ok(rules),
        _ => Err(Error::not_found(Entity::ScoringPlan, plan)),
    }
}

pub(crate) fn spend_at_least(m: Money) -> Cond {
    Cond::Compare(Term::Spend(Some(m.currency)), Cmp::Ge, Term::Const(Scalar::Money(m.minor, m.currency)))
}

/// The least spend among the top `percent` of `sorted` (ascending) spenders; ties at the
/// boundary all qualify.
pub(crate) fn percentile_cutoff(sorted: &[i64], percent: f64) -> i64 {
    if sorted.is_empty() {
        return i64::MAX;
    }
    let n = sorted.len();
    let k = ((n as f64) * percent / 100.0).ceil().clamp(1.0, n as f64) as usize;
    sorted[n - k]
}

/// Names where in a settings record a rule's error lies (`rules[2].when.country`).
pub(crate) fn at_rule(e: Error, path: &str) -> Error {
    match e {
        Error::Validation { field, reason } => Error::Validation { field: format!("{path}.{field}"), reason },
        e => e,
    }
}

/// Entered (in `now`, not in `before`) and left (in `before`, not in `now`); both sorted.
pub(crate) fn diff_sorted(before: &[CustomerId], now: &[CustomerId]) -> (Vec<CustomerId>, Vec<CustomerId>) {
    let (mut i, mut j) = (0, 0);
    let (mut entered, mut left) = (Vec::new(), Vec::new());
    while i < before.len() || j < now.len() {
        match (before.get(i), now.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                left.push(*a);
                i += 1;
            }
            (Some(_), Some(b)) => {
                entered.push(*b);
                j += 1;
            }
            (Some(a), None) => {
                left.push(*a);
                i += 1;
            }
            (None, Some(b)) => {
                entered.push(*b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (entered, left)
}
