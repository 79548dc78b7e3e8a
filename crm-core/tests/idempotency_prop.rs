//! Idempotency of the public API, on the store under test (tests/common): any call that
//! carries a key or an external id, repeated at once with the same arguments, answers the
//! same (or the documented replay: `Unchanged`, `replayed`) and changes nothing the second
//! time; a call that fails changes nothing; and a key reused for another request (points,
//! refunds) is [`Error::Conflict`], which changes nothing either.
//!
//! Random sequences mix every keyed call (upserts by external id and by identity, orders,
//! corrections, refunds, interactions, points, bulk ingest from rows and files, merges and
//! unmerges, and the `set_*` configuration calls) over small pools of keys, so that repeats
//! later in the sequence and keys reused with another payload happen often. After each call
//! a fingerprint of everything public (the whole change feed, counts, each customer with its
//! statistics, identities, merges, ledger and histories, each order with its refunds, each
//! interaction, the configuration) is taken; the repeat must leave it as it was.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::identity::{MergeRequest, UnmergeRequest};
use crm_core::ingest::{IngestOptions, IngestReport, RecordKind};
use crm_core::loyalty::{Event, Posted, Program};
use crm_core::segment::{LifecycleRules, NewSegment, ScoringPlan, StageRule, TierConfig};
use crm_core::*;
use proptest::prelude::*;
use serde_json::json;

/// Stars: earning by order, event bonuses and tiers (as in tests/loyalty.rs).
const PROGRAM: &str = r#"{
  "name": "Stars",
  "rates": {"USD": {"points": 1, "per_minor": 100}},
  "rules": [
    {"name": "base", "kind": "base"},
    {"name": "welcome", "kind": "bonus", "event": "first_order", "points": 10},
    {"name": "signup", "kind": "bonus", "event": "sign_up", "points": 25},
    {"name": "birthday", "kind": "bonus", "event": "birthday", "points": 100, "when": "country = \"SG\""}
  ],
  "tiers": {"basis": {"by": "points"}, "window_days": 365, "grace_days": 30,
            "levels": [{"name": "silver", "min": 100}, {"name": "gold", "min": 500}]},
  "expiry_days": 365
}"#;

const CUSTOMERS: usize = 4;
const ORDERS: usize = 4;
const KEYS: usize = 4;
const SOURCES: [&str; 2] = ["pos", "web"];

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn cust_ext(c: usize) -> String {
    format!("C-{c}")
}

fn order_ext(o: usize) -> String {
    format!("O-{o}")
}

/// One keyed call, with the small numbers that choose its key and payload.
#[derive(Debug, Clone)]
enum Op {
    /// `upsert_customer` (mode 0), `upsert_customer_with` Replace (1), `upsert_customer_patch` (2).
    Upsert {
        c: usize,
        v: u8,
        mode: u8,
    },
    UpsertFrom {
        src: usize,
        key: usize,
        v: u8,
        patch: bool,
    },
    AddIdentity {
        c: usize,
        src: usize,
        key: usize,
    },
    Order {
        o: usize,
        c: usize,
        v: u8,
    },
    UpdateOrder {
        o: usize,
        v: u8,
    },
    SetStatus {
        o: usize,
        s: u8,
    },
    Refund {
        o: usize,
        key: usize,
        v: u8,
    },
    Interaction {
        i: usize,
        c: usize,
        v: u8,
    },
    Earn {
        c: usize,
        key: usize,
        pts: u8,
    },
    Redeem {
        c: usize,
        key: usize,
        pts: u8,
    },
    Adjust {
        c: usize,
        key: usize,
        pts: i8,
    },
    Award {
        c: usize,
        key: usize,
        ev: u8,
    },
    IngestCustomers(Vec<(usize, u8)>),
    IngestOrders(Vec<(usize, usize, u8)>),
    IngestInteractions(Vec<(usize, usize, u8)>),
    /// A JSON Lines file of customers (0), orders (1) or interactions (2).
    IngestFile {
        kind: u8,
        rows: Vec<(usize, usize, u8)>,
    },
    Merge {
        s: usize,
        m: usize,
        v: u8,
    },
    Unmerge {
        m: usize,
    },
    SetProgram(u8),
    SetTierConfig(u8),
    SetMatchPolicy(u8),
    SetLifecycle(u8),
    PutPlan(u8),
    SetLoyaltyTier {
        c: usize,
        t: u8,
    },
    AddMembers(Vec<usize>),
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..CUSTOMERS;
    let o = 0..ORDERS;
    let k = 0..KEYS;
    let rows3 = proptest::collection::vec((0..ORDERS, 0..CUSTOMERS, 0u8..3), 1..4);
    prop_oneof![
        4 => (c.clone(), 0u8..3, 0u8..3).prop_map(|(c, v, mode)| Op::Upsert { c, v, mode }),
        2 => (0..2usize, 0..3usize, 0u8..3, any::<bool>()).prop_map(|(src, key, v, patch)| Op::UpsertFrom { src, key, v, patch }),
        1 => (c.clone(), 0..2usize, 0..3usize).prop_map(|(c, src, key)| Op::AddIdentity { c, src, key }),
        4 => (o.clone(), c.clone(), 0u8..3).prop_map(|(o, c, v)| Op::Order { o, c, v }),
        1 => (o.clone(), 0u8..3).prop_map(|(o, v)| Op::UpdateOrder { o, v }),
        1 => (o.clone(), 0u8..3).prop_map(|(o, s)| Op::SetStatus { o, s }),
        2 => (o.clone(), k.clone(), 0u8..3).prop_map(|(o, key, v)| Op::Refund { o, key, v }),
        2 => (0..3usize, c.clone(), 0u8..3).prop_map(|(i, c, v)| Op::Interaction { i, c, v }),
        3 => (c.clone(), k.clone(), 1u8..3).prop_map(|(c, key, pts)| Op::Earn { c, key, pts }),
        2 => (c.clone(), k.clone(), 1u8..3).prop_map(|(c, key, pts)| Op::Redeem { c, key, pts }),
        1 => (c.clone(), k.clone(), prop_oneof![Just(-1i8), Just(1), Just(2)]).prop_map(|(c, key, pts)| Op::Adjust { c, key, pts }),
        1 => (c.clone(), k.clone(), 0u8..2).prop_map(|(c, key, ev)| Op::Award { c, key, ev }),
        1 => proptest::collection::vec((c.clone(), 0u8..3), 1..4).prop_map(Op::IngestCustomers),
        1 => rows3.clone().prop_map(Op::IngestOrders),
        1 => rows3.clone().prop_map(Op::IngestInteractions),
        1 => (0u8..3, rows3).prop_map(|(kind, rows)| Op::IngestFile { kind, rows }),
        2 => (c.clone(), c.clone(), 0u8..2).prop_map(|(s, m, v)| Op::Merge { s, m, v }),
        1 => c.clone().prop_map(|m| Op::Unmerge { m }),
        1 => (0u8..2).prop_map(Op::SetProgram),
        1 => (0u8..2).prop_map(Op::SetTierConfig),
        1 => (0u8..2).prop_map(Op::SetMatchPolicy),
        1 => (0u8..2).prop_map(Op::SetLifecycle),
        1 => (0u8..2).prop_map(Op::PutPlan),
        1 => (c.clone(), 0u8..3).prop_map(|(c, t)| Op::SetLoyaltyTier { c, t }),
        1 => proptest::collection::vec(c, 1..3).prop_map(Op::AddMembers),
    ]
}

// ---- payloads ------------------------------------------------------------------------

fn customer_json(ext: &str, v: u8) -> serde_json::Value {
    match v {
        0 => json!({"external_id": ext, "name": "Ada", "email": "ada@example.com", "tags": ["vip"]}),
        1 => json!({"external_id": ext, "name": "Ada L", "address": {"country": "SG"}, "attributes": {"plan": "gold"}}),
        _ => {
            json!({"external_id": ext, "name": "Bob", "phone": "+6591234567", "email": null, "attributes": {"plan": null}})
        }
    }
}

fn new_customer(ext: &str, v: u8) -> NewCustomer {
    // NewCustomer has no explicit nulls: drop them.
    let mut j = customer_json(ext, v);
    let obj = j.as_object_mut().unwrap();
    obj.retain(|_, x| !x.is_null());
    if let Some(a) = obj.get_mut("attributes").and_then(|a| a.as_object_mut()) {
        a.retain(|_, x| !x.is_null());
    }
    serde_json::from_value(j).unwrap()
}

fn patch(ext: &str, v: u8) -> CustomerPatch {
    serde_json::from_value(customer_json(ext, v)).unwrap()
}

fn order_json(o: usize, c: usize, v: u8) -> serde_json::Value {
    let items = json!([{"sku": "A", "category": "shoes", "quantity": 2, "unit_price_minor": 1500},
                       {"sku": "B", "quantity": 1, "unit_price_minor": 2000}]);
    match v {
        0 => json!({"external_id": order_ext(o), "customer_external_id": cust_ext(c), "occurred_at": t0(),
                    "currency": "USD", "total_minor": 5000, "items": items}),
        1 => {
            json!({"external_id": order_ext(o), "customer_external_id": cust_ext(c), "occurred_at": t0() + Duration::days(1),
                    "currency": "USD", "total_minor": 12000, "channel": "web"})
        }
        _ => json!({"external_id": order_ext(o), "customer_external_id": cust_ext(c), "occurred_at": t0(),
                    "currency": "USD", "total_minor": 5000, "status": "cancelled", "items": items}),
    }
}

fn new_order(o: usize, c: usize, v: u8) -> NewOrder {
    serde_json::from_value(order_json(o, c, v)).unwrap()
}

fn order_patch(v: u8) -> OrderPatch {
    serde_json::from_value(match v {
        0 => json!({"total_minor": 4000}),
        1 => json!({"status": "completed", "channel": "store"}),
        _ => json!({"occurred_at": t0() + Duration::days(2), "channel": null}),
    })
    .unwrap()
}

fn status(s: u8) -> OrderStatus {
    [OrderStatus::Completed, OrderStatus::Refunded, OrderStatus::Cancelled][s as usize % 3]
}

fn refund(key: usize, v: u8) -> Refund {
    let key = format!("R-{key}");
    match v {
        0 => Refund { key, amount_minor: Some(1000), ..Default::default() },
        1 => Refund { key, lines: vec![RefundLine { sku: "A".into(), quantity: 1 }], ..Default::default() },
        _ => Refund { key, amount_minor: Some(500), at: Some(t0() + Duration::days(3)), ..Default::default() },
    }
}

fn interaction_json(i: usize, c: usize, v: u8) -> serde_json::Value {
    match v {
        0 => json!({"external_id": format!("I-{i}"), "customer_external_id": cust_ext(c), "kind": "call",
                    "occurred_at": t0()}),
        1 => json!({"external_id": format!("I-{i}"), "customer_external_id": cust_ext(c), "kind": "email",
                    "occurred_at": t0() + Duration::hours(5), "subject": "Hello", "payload": {"n": 1}}),
        _ => json!({"external_id": format!("I-{i}"), "customer_external_id": cust_ext(c), "kind": "survey",
                    "occurred_at": t0(), "score": {"nps": 9}}),
    }
}

fn new_interaction(i: usize, c: usize, v: u8) -> NewInteraction {
    serde_json::from_value(interaction_json(i, c, v)).unwrap()
}

fn program(v: u8) -> Program {
    let mut p = Program::from_json(PROGRAM).unwrap();
    if v == 1 {
        p = Program::from_json(&PROGRAM.replace("\"Stars\"", "\"Stars 2\"").replace("365}", "400}")).unwrap();
    }
    p
}

fn tier_config(v: u8) -> TierConfig {
    let min = if v == 0 { 10_000 } else { 20_000 };
    serde_json::from_value(json!({"basis": {"by": "spend", "currency": "USD",
        "tiers": [{"name": "high", "min_minor": min * 10}, {"name": "medium", "min_minor": min}]}, "default": "low"}))
    .unwrap()
}

fn match_policy(v: u8) -> crm_core::identity::MatchPolicy {
    serde_json::from_value(json!({"mode": "off", "threshold": if v == 0 { 0.9 } else { 0.95 }, "max_block_size": 500}))
        .unwrap()
}

fn lifecycle(v: u8) -> LifecycleRules {
    let when = if v == 0 { r#"country = "SG""# } else { r#""vip" in tags"# };
    LifecycleRules {
        rules: vec![StageRule { stage: LifecycleStage::Loyal, when: crm_core::rule::parse(when).unwrap() }],
    }
}

fn plan(v: u8) -> ScoringPlan {
    serde_json::from_value(json!({"name": "lead", "rules": [
        {"when": "email is not null", "points": if v == 0 { 10 } else { 20 }}]}))
    .unwrap()
}

fn event(ev: u8) -> Event {
    if ev == 0 {
        Event::SignUp
    } else {
        Event::Birthday
    }
}

// ---- answers -------------------------------------------------------------------------

/// What a call answered, without what a replay reports differently by design: `body` must
/// be the same on the repeat; `fresh` (a record created or updated, an entry posted, rows
/// written, a merge made) must be false on the repeat.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    body: String,
    fresh: bool,
}

type Res = std::result::Result<Answer, Error>;

fn plain<T: Debug>(r: Result<T>) -> Res {
    r.map(|v| Answer { body: format!("{v:?}"), fresh: false })
}

fn written<T: Debug>(r: Result<Written<T>>) -> Res {
    r.map(|w| Answer { body: format!("{:?}", w.record), fresh: w.outcome != Outcome::Unchanged })
}

fn posted(r: Result<Posted>) -> Res {
    r.map(|p| Answer { body: format!("{:?}", p.entry), fresh: !p.replayed })
}

fn ingested(r: Result<IngestReport>) -> Res {
    r.map(|r| Answer { body: format!("{} {} {:?}", r.rows, r.failed, r.errors), fresh: r.created + r.updated > 0 })
}

/// The test's memory: the store id of each pooled customer once created (kept across
/// merges: the id the host holds), and what each used key was used for.
#[derive(Default)]
struct World {
    ids: HashMap<usize, CustomerId>,
    /// Points key → (entry kind, customer posted to, points).
    points: HashMap<String, (crm_core::loyalty::EntryKind, CustomerId, i64)>,
    /// Refund key → the refund as stored.
    refunds: HashMap<String, OrderRefund>,
    dir: Option<tempfile::TempDir>,
    files: usize,
}

impl World {
    /// The id of pooled customer `c`, or an id no customer has (the call then fails).
    fn id(&self, c: usize) -> CustomerId {
        self.ids.get(&c).copied().unwrap_or(CustomerId(1_000_000 + c as i64))
    }
}

/// Makes the call `op` stands for (the same arguments each time it is given the same `op`
/// and world).
fn call(crm: &Crm, w: &mut World, op: &Op, file: &std::path::Path) -> Res {
    match op {
        Op::Upsert { c, v, mode: 0 } => written(crm.upsert_customer(&new_customer(&cust_ext(*c), *v))),
        Op::Upsert { c, v, mode: 1 } => {
            written(crm.upsert_customer_with(&new_customer(&cust_ext(*c), *v), UpsertMode::Replace))
        }
        Op::Upsert { c, v, .. } => written(crm.upsert_customer_patch(&patch(&cust_ext(*c), *v), UpsertMode::Merge)),
        Op::UpsertFrom { src, key, v, patch: false } => {
            written(crm.upsert_customer_from(SOURCES[*src], &new_customer(&format!("P-{key}"), *v)))
        }
        Op::UpsertFrom { src, key, v, patch: true } => {
            written(crm.upsert_customer_patch_from(SOURCES[*src], &patch(&format!("P-{key}"), *v), UpsertMode::Merge))
        }
        Op::AddIdentity { c, src, key } => plain(crm.add_identity(w.id(*c), SOURCES[*src], &format!("P-{key}"))),
        Op::Order { o, c, v } => written(crm.record_order(&new_order(*o, *c, *v))),
        Op::UpdateOrder { o, v } => written(crm.update_order_by_external_id(&order_ext(*o), &order_patch(*v))),
        Op::SetStatus { o, s } => written(crm.set_order_status(&order_ext(*o), status(*s))),
        Op::Refund { o, key, v } => written(crm.refund_order(&order_ext(*o), &refund(*key, *v))),
        Op::Interaction { i, c, v } => written(crm.add_interaction(&new_interaction(*i, *c, *v))),
        Op::Earn { c, key, pts } => {
            posted(crm.earn_points_at(w.id(*c), *pts as i64 * 10, &format!("K-{key}"), t0() + Duration::days(30)))
        }
        Op::Redeem { c, key, pts } => {
            posted(crm.redeem_points_at(w.id(*c), *pts as i64 * 10, &format!("K-{key}"), t0() + Duration::days(60)))
        }
        Op::Adjust { c, key, pts } => {
            posted(crm.adjust_points(w.id(*c), *pts as i64 * 10, &format!("K-{key}"), "goodwill"))
        }
        Op::Award { c, key, ev } => {
            crm.award_event(w.id(*c), event(*ev), &format!("K-{key}"), t0() + Duration::days(10)).map(|p| match p {
                Some(p) => Answer { body: format!("{:?}", p.entry), fresh: !p.replayed },
                None => Answer { body: "no bonus".into(), fresh: false },
            })
        }
        Op::IngestCustomers(rows) => ingested(crm.ingest_customers(
            rows.iter().map(|(c, v)| new_customer(&cust_ext(*c), *v)).collect::<Vec<_>>(),
            IngestOptions { batch_size: 2, ..Default::default() },
        )),
        Op::IngestOrders(rows) => ingested(crm.ingest_orders(
            rows.iter().map(|(o, c, v)| new_order(*o, *c, *v)).collect::<Vec<_>>(),
            IngestOptions::default(),
        )),
        Op::IngestInteractions(rows) => ingested(crm.ingest_interactions(
            rows.iter().map(|(i, c, v)| new_interaction(*i % 3, *c, *v)).collect::<Vec<_>>(),
            IngestOptions::default(),
        )),
        Op::IngestFile { kind, .. } => {
            let kind = [RecordKind::Customers, RecordKind::Orders, RecordKind::Interactions][*kind as usize % 3];
            ingested(crm.ingest_file(kind, file, IngestOptions::default()))
        }
        Op::Merge { s, m, v } => {
            let req =
                MergeRequest { actor: Some("prop".into()), reason: Some(format!("reason {v}")), ..Default::default() };
            crm.merge_customers(w.id(*s), w.id(*m), &req).map(|o| Answer {
                // A replay reports no moves: the merge, as it stands, is the answer.
                body: format!("{:?} {:?} {:?}", o.merge, o.survivor, o.merged),
                fresh: !o.replayed,
            })
        }
        Op::Unmerge { m } => crm
            .unmerge_customer(w.id(*m), &UnmergeRequest::default())
            .map(|o| Answer { body: format!("{:?} {:?} {:?}", o.merge, o.survivor, o.merged), fresh: !o.replayed }),
        Op::SetProgram(v) => plain(crm.set_loyalty_program(&program(*v))),
        Op::SetTierConfig(v) => plain(crm.set_tier_config(&tier_config(*v))),
        Op::SetMatchPolicy(v) => plain(crm.set_match_policy(&match_policy(*v))),
        Op::SetLifecycle(v) => plain(crm.set_lifecycle_rules(&lifecycle(*v))),
        Op::PutPlan(v) => plain(crm.put_scoring_plan(&plan(*v))),
        Op::SetLoyaltyTier { c, t } => {
            plain(crm.set_loyalty_tier(w.id(*c), [None, Some("silver"), Some("gold")][*t as usize % 3]))
        }
        Op::AddMembers(cs) => {
            let ids: Vec<CustomerId> = cs.iter().map(|c| w.id(*c)).collect();
            crm.add_segment_members("list", &ids).map(|n| Answer { body: String::new(), fresh: n > 0 })
        }
    }
}

/// Writes the file an [`Op::IngestFile`] ingests (once, before the call and its repeat).
fn write_file(w: &mut World, op: &Op) -> std::path::PathBuf {
    let dir = w.dir.get_or_insert_with(|| tempfile::tempdir().unwrap());
    w.files += 1;
    let path = dir.path().join(format!("rows-{}.jsonl", w.files));
    let mut text = String::new();
    if let Op::IngestFile { kind, rows } = op {
        for (a, c, v) in rows {
            let row = match kind % 3 {
                0 => customer_json(&cust_ext(*c), *v),
                1 => order_json(*a, *c, *v),
                _ => interaction_json(*a % 3, *c, *v),
            };
            text.push_str(&row.to_string());
            text.push('\n');
        }
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// What the call must answer when its key was used before for another request: points and
/// refunds (the keys of the ledger and of refunds); `None` when anything documented may come.
fn reused_key(crm: &Crm, w: &World, op: &Op) -> Option<bool> {
    use crm_core::loyalty::EntryKind;
    let resolved = |id: CustomerId| crm.get_customer(id).map(|c| c.id).ok();
    let (key, kind, customer, points) = match op {
        Op::Earn { c, key, pts } => (format!("K-{key}"), EntryKind::Earn, w.id(*c), Some(*pts as i64 * 10)),
        Op::Redeem { c, key, pts } => (format!("K-{key}"), EntryKind::Redeem, w.id(*c), Some(-(*pts as i64) * 10)),
        Op::Adjust { c, key, pts } => (format!("K-{key}"), EntryKind::Adjust, w.id(*c), Some(*pts as i64 * 10)),
        Op::Award { c, key, .. } => (format!("K-{key}"), EntryKind::Earn, w.id(*c), None),
        Op::Refund { o, key, v } => {
            let r = refund(*key, *v);
            let done = w.refunds.get(&r.key)?;
            let order = crm.get_order_by_external_id(&order_ext(*o)).ok()?;
            let same = done.order_id == order.id
                && r.amount_minor.is_none_or(|m| m == done.amount_minor)
                && r.lines == done.lines;
            return Some(same);
        }
        _ => return None,
    };
    let (k, c, p) = w.points.get(&key)?;
    resolved(customer)?;
    // Same request: the customer named is the one posted to (or resolves where it does).
    let same_customer = resolved(customer) == resolved(*c);
    Some(same_customer && *k == kind && points.is_none_or(|p2| p2 == *p))
}

/// Notes what a successful first call used its key for.
fn remember(crm: &Crm, w: &mut World, op: &Op, r: &Res) {
    use crm_core::loyalty::EntryKind;
    if r.is_err() {
        return;
    }
    let mut point = |key: usize, kind, c: usize, p: i64| {
        let id = w.id(c);
        w.points.entry(format!("K-{key}")).or_insert((kind, id, p));
    };
    match op {
        Op::Earn { c, key, pts } => point(*key, EntryKind::Earn, *c, *pts as i64 * 10),
        Op::Redeem { c, key, pts } => point(*key, EntryKind::Redeem, *c, -(*pts as i64) * 10),
        Op::Adjust { c, key, pts } => point(*key, EntryKind::Adjust, *c, *pts as i64 * 10),
        Op::Award { c, key, .. } => {
            if let Ok(st) = crm.points_statement(w.id(*c)) {
                if let Some(e) = st.entries.iter().find(|e| e.key == format!("K-{key}")) {
                    let (kind, pts, id) = (e.kind, e.points, e.customer_id);
                    w.points.entry(format!("K-{key}")).or_insert((kind, id, pts));
                }
            }
        }
        Op::Refund { o, key, .. } => {
            let k = format!("R-{key}");
            if let std::collections::hash_map::Entry::Vacant(e) = w.refunds.entry(k) {
                let order = crm.get_order_by_external_id(&order_ext(*o)).unwrap();
                if let Some(r) = crm.order_refunds(order.id).unwrap().into_iter().find(|r| &r.key == e.key()) {
                    e.insert(r);
                }
            }
        }
        _ => {}
    }
    // Pooled customers created by this call: their own ids (before any merge moves them).
    for c in 0..CUSTOMERS {
        if let std::collections::hash_map::Entry::Vacant(e) = w.ids.entry(c) {
            if let Ok(found) = crm.customer_id_by_external_id(&cust_ext(c)) {
                e.insert(found);
            }
        }
    }
}

/// Whether a customers ingest names one stored customer through two external ids (a
/// merged-away customer and its survivor). Its rows are written one by one, as single
/// upserts would be, so each row with another payload writes the customer again, and so
/// does a repeat of the whole ingest: outside what this test holds (see the report of
/// Hardening item 4). Its answer and its errors are still checked.
fn one_customer_twice(crm: &Crm, op: &Op) -> bool {
    let rows: Vec<usize> = match op {
        Op::IngestCustomers(rows) => rows.iter().map(|r| r.0).collect(),
        Op::IngestFile { kind: 0, rows } => rows.iter().map(|r| r.1).collect(),
        _ => return false,
    };
    let mut seen = HashMap::new();
    for c in rows {
        if let Ok(found) = crm.get_customer_by_external_id(&cust_ext(c)) {
            if *seen.entry(found.id).or_insert(c) != c {
                return true;
            }
        }
    }
    false
}

/// Everything public, by a key naming where it was read.
fn fingerprint(crm: &Crm) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    let mut put = |k: String, v: String| {
        f.insert(k, v);
    };
    let mut feed = Vec::new();
    let mut seq = 0;
    loop {
        let page = crm.changes_since(seq, 1000).unwrap();
        let Some(last) = page.last() else { break };
        seq = last.seq;
        feed.extend(page);
    }
    let mut ids: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for ch in &feed {
        put(format!("feed/{:08}", ch.seq), format!("{ch:?}"));
        ids.entry(ch.entity.as_str()).or_default().push(ch.id);
    }
    for v in ids.values_mut() {
        v.sort();
        v.dedup();
    }
    put("counts".into(), format!("{:?}", crm.counts()));
    for &id in ids.get("customer").into_iter().flatten() {
        let c = CustomerId(id);
        put(format!("customer/{id}"), format!("{:?}", crm.get_customer(c)));
        put(format!("customer/{id}/stats"), format!("{:?}", crm.customer_stats(c)));
        put(format!("customer/{id}/identities"), format!("{:?}", crm.identities(c)));
        put(format!("customer/{id}/merges"), format!("{:?}", crm.merge_history(c)));
        put(format!("customer/{id}/points"), format!("{:?}", crm.points_statement(c)));
        put(format!("customer/{id}/stages"), format!("{:?}", crm.stage_history(c)));
        put(format!("customer/{id}/tier"), format!("{:?} {:?}", crm.tier_of(c), crm.tier_history(c)));
        put(format!("customer/{id}/timeline"), format!("{:?}", crm.timeline(c, 500, None)));
    }
    for &id in ids.get("order").into_iter().flatten() {
        let o = OrderId(id);
        put(format!("order/{id}"), format!("{:?} {:?}", crm.get_order(o), crm.order_refunds(o)));
    }
    for &id in ids.get("interaction").into_iter().flatten() {
        put(format!("interaction/{id}"), format!("{:?}", crm.get_interaction(InteractionId(id))));
    }
    put("config/program".into(), format!("{:?}", crm.loyalty_program()));
    put("config/tiers".into(), format!("{:?}", crm.tier_config()));
    put("config/match_policy".into(), format!("{:?}", crm.match_policy()));
    put("config/lifecycle".into(), format!("{:?}", crm.lifecycle_rules()));
    put("config/plans".into(), format!("{:?}", crm.scoring_plans()));
    put("segments".into(), format!("{:?}", crm.segments()));
    put("segments/list".into(), format!("{:?}", crm.segment_members("list", None, 1000)));
    put("suggestions".into(), format!("{:?}", crm.match_suggestions(None, 0, 1000)));
    f
}

/// The entries of `after` that differ from `before` (for a readable failure).
fn diff(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (k, v) in after {
        match before.get(k) {
            Some(b) if b == v => {}
            Some(b) => out.push_str(&format!("\n  {k}:\n    was {b}\n    now {v}")),
            None => out.push_str(&format!("\n  {k}: new {v}")),
        }
    }
    for k in before.keys().filter(|k| !after.contains_key(*k)) {
        out.push_str(&format!("\n  {k}: gone"));
    }
    out
}

/// A store with the program, a static segment, and half the pooled customers, each with
/// an order (the rest are left for the calls to create).
fn setup() -> (Crm, World) {
    let crm = common::test_crm();
    crm.set_loyalty_program(&program(0)).unwrap();
    crm.create_segment(&NewSegment { name: "list".into(), ..Default::default() }).unwrap();
    let mut w = World::default();
    for c in 0..CUSTOMERS / 2 {
        w.ids.insert(c, crm.upsert_customer(&new_customer(&cust_ext(c), 0)).unwrap().record.id);
        crm.record_order(&new_order(c, c, 0)).unwrap();
    }
    (crm, w)
}

/// Runs `ops`, each call made twice, checking the rules of the module doc.
fn run(ops: &[Op]) -> std::result::Result<(), TestCaseError> {
    let (crm, mut w) = setup();
    let mut before = fingerprint(&crm);
    for (n, op) in ops.iter().enumerate() {
        let file = if matches!(op, Op::IngestFile { .. }) { write_file(&mut w, op) } else { Default::default() };
        let expect = reused_key(&crm, &w, op);
        let twice = one_customer_twice(&crm, op);
        let first = call(&crm, &mut w, op, &file);
        let after = fingerprint(&crm);
        match (&first, expect) {
            (Err(_), _) => {
                prop_assert!(before == after, "step {n} {op:?} failed ({first:?}) but wrote:{}", diff(&before, &after))
            }
            (Ok(_), Some(false)) => prop_assert!(false, "step {n} {op:?}: a key reused for another request: {first:?}"),
            _ => {}
        }
        if expect == Some(false) {
            prop_assert!(matches!(first, Err(Error::Conflict(_))), "step {n} {op:?}: {first:?}, expected a conflict");
        }
        if expect == Some(true) {
            prop_assert!(matches!(&first, Ok(a) if !a.fresh), "step {n} {op:?}: {first:?}, expected a replay");
        }
        remember(&crm, &mut w, op, &first);
        let second = call(&crm, &mut w, op, &file);
        let again = fingerprint(&crm);
        if !twice {
            prop_assert!(after == again, "step {n} {op:?} repeated ({second:?}) wrote:{}", diff(&after, &again));
        }
        match (&first, &second) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(&a.body, &b.body, "step {} {:?}: the repeat answered otherwise", n, op);
                prop_assert!(twice || !b.fresh, "step {n} {op:?}: the repeat reports a write: {b:?}");
            }
            (Err(a), Err(b)) => {
                prop_assert_eq!(format!("{a:?}"), format!("{b:?}"), "step {} {:?}: another error on the repeat", n, op)
            }
            _ => prop_assert!(false, "step {n} {op:?}: {first:?} then {second:?}"),
        }
        before = again;
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn keyed_calls_repeated_change_nothing(ops in proptest::collection::vec(op(), 1..30)) {
        run(&ops)?;
    }
}

// ---- regressions the property test found ---------------------------------------------

/// `put_scoring_plan` with the plan as stored appended an `update` feed entry each time.
#[test]
fn storing_the_same_scoring_plan_again_writes_nothing() {
    run(&[Op::PutPlan(0)]).unwrap();
    let (crm, _) = setup();
    crm.put_scoring_plan(&plan(0)).unwrap();
    let feed = crm.changes_since(0, 1000).unwrap();
    crm.put_scoring_plan(&plan(0)).unwrap();
    assert_eq!(crm.changes_since(0, 1000).unwrap(), feed);
    crm.put_scoring_plan(&plan(1)).unwrap();
    assert_eq!(crm.changes_since(0, 1000).unwrap().len(), feed.len() + 1, "a changed plan is still fed");
}

/// `set_loyalty_program` with the program as set appended an `update` feed entry each time.
#[test]
fn setting_the_same_loyalty_program_again_writes_nothing() {
    run(&[Op::SetProgram(0), Op::SetProgram(1)]).unwrap();
    let (crm, _) = setup();
    let feed = crm.changes_since(0, 1000).unwrap();
    crm.set_loyalty_program(&program(0)).unwrap();
    assert_eq!(crm.changes_since(0, 1000).unwrap(), feed);
    crm.set_loyalty_program(&program(1)).unwrap();
    assert_eq!(crm.changes_since(0, 1000).unwrap().len(), feed.len() + 1, "a changed program is still fed");
}

/// A points call retried after its customer was merged into another was refused as a
/// conflict: the entry names the merged customer, the retry resolves to the survivor.
#[test]
fn a_points_retry_after_a_merge_is_a_replay() {
    let (crm, w) = setup();
    let (survivor, merged) = (w.id(0), w.id(1));
    let at = t0() + Duration::days(30);
    let first = crm.earn_points_at(merged, 10, "K-0", at).unwrap();
    crm.merge_customers(survivor, merged, &MergeRequest::default()).unwrap();
    let feed = crm.changes_since(0, 1000).unwrap();
    let again = crm.earn_points_at(merged, 10, "K-0", at).unwrap();
    assert!(again.replayed);
    assert_eq!(again.entry, first.entry);
    let through_survivor = crm.earn_points_at(survivor, 10, "K-0", at).unwrap();
    assert!(through_survivor.replayed, "the same person now");
    assert!(matches!(crm.earn_points_at(merged, 20, "K-0", at), Err(Error::Conflict(_))), "other points");
    assert!(matches!(crm.redeem_points_at(merged, 10, "K-0", at), Err(Error::Conflict(_))), "another kind");
    assert_eq!(crm.changes_since(0, 1000).unwrap(), feed);
    // Another customer altogether is still a conflict.
    let other = crm.upsert_customer(&new_customer(&cust_ext(2), 0)).unwrap().record.id;
    assert!(matches!(crm.earn_points_at(other, 10, "K-0", at), Err(Error::Conflict(_))));
}
