//! Loyalty through the facade: earning on orders (single and bulk), refunds, redemption
//! soonest-expiring first, expiry, pending points, tiers, idempotent replays, concurrency
//! on a file, and every guarded bad input (a typed error, nothing written).

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::ingest::IngestOptions;
use crm_core::loyalty::{DebtPolicy, EntryKind, Event, Program};
use crm_core::*;

fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

const PROGRAM: &str = r#"{
  "name": "Stars",
  "rates": {"USD": {"points": 1, "per_minor": 100}},
  "rules": [
    {"name": "base", "kind": "base"},
    {"name": "shoes", "kind": "multiplier", "by": "category", "value": "shoes", "multiplier": 3.0,
     "caps": {"per_order": 50}},
    {"name": "gold", "kind": "multiplier", "by": "tier", "value": "gold", "multiplier": 2.0},
    {"name": "welcome", "kind": "bonus", "event": "first_order", "points": 10},
    {"name": "signup", "kind": "bonus", "event": "sign_up", "points": 25},
    {"name": "birthday", "kind": "bonus", "event": "birthday", "points": 100,
     "when": "country = \"SG\""}
  ],
  "tiers": {"basis": {"by": "points"}, "window_days": 365, "grace_days": 30,
            "levels": [{"name": "silver", "min": 100}, {"name": "gold", "min": 500}]},
  "expiry_days": 365
}"#;

/// One point per dollar and nothing else.
const BASE: &str =
    r#"{"name": "P", "rates": {"USD": {"points": 1, "per_minor": 100}}, "rules": [{"name": "base", "kind": "base"}]}"#;

fn setup(program: &str) -> (Crm, CustomerId) {
    let crm = common::test_crm();
    crm.set_loyalty_program(&Program::from_json(program).unwrap()).unwrap();
    let c = customer(&crm, "C-1");
    (crm, c)
}

fn customer(crm: &Crm, ext: &str) -> CustomerId {
    crm.upsert_customer(&NewCustomer { external_id: Some(ext.into()), name: ext.into(), ..Default::default() })
        .unwrap()
        .record
        .id
}

fn order(ext: &str, c: CustomerId, at: DateTime<Utc>, total: i64) -> NewOrder {
    NewOrder {
        external_id: ext.into(),
        customer_id: Some(c),
        customer_external_id: None,
        occurred_at: at,
        status: Some(OrderStatus::Completed),
        currency: "USD".parse().unwrap(),
        total_minor: total,
        channel: None,
        items: None,
    }
}

fn balance(crm: &Crm, c: CustomerId) -> i64 {
    crm.points_balance(c).unwrap().balance
}

/// The ledger's invariants for one account: balance = sum of entries = last balance_after;
/// lots hold exactly the non-negative part of the balance.
fn assert_sound(crm: &Crm, c: CustomerId) {
    let s = crm.points_statement(c).unwrap();
    let sum: i64 = s.entries.iter().map(|e| e.points).sum();
    assert_eq!(s.balance.balance, sum, "balance = sum of entries");
    let held: i64 = s.lots.iter().filter(|l| !l.expired).map(|l| l.remaining).sum();
    assert_eq!(held, s.balance.balance.max(0), "lots hold the balance");
    assert!(s.lots.iter().all(|l| l.remaining >= 0 && l.remaining <= l.points));
}

#[test]
fn orders_earn_once_with_multipliers_bonuses_and_caps() {
    let (crm, c) = setup(PROGRAM);
    let mut o = order("O-1", c, t(2026, 1, 10), 10_050);
    o.items =
        Some(vec![LineItem { sku: "S1".into(), category: Some("shoes".into()), quantity: 1, unit_price_minor: 4_000 }]);
    crm.record_order(&o).unwrap();
    // base 100 + shoes 40 * (3 - 1) = 80 capped at 50 + first order 10
    assert_eq!(balance(&crm, c), 160);
    crm.record_order(&o).unwrap();
    assert_eq!(balance(&crm, c), 160, "the same order earns once");
    crm.record_order(&order("O-2", c, t(2026, 1, 11), 1_000)).unwrap();
    assert_eq!(balance(&crm, c), 170, "no second first-order bonus");
    let s = crm.points_statement(c).unwrap();
    assert_eq!(s.entries.len(), 2);
    assert!(s.entries[0].note.as_deref().unwrap().contains("welcome"));
    assert_eq!(s.balance.tier.as_deref(), Some("silver"), "qualifying 160 reaches silver at once");
    assert_sound(&crm, c);
}

#[test]
fn no_program_no_points_and_other_currencies_earn_nothing() {
    let crm = common::test_crm();
    let c = customer(&crm, "C-1");
    crm.record_order(&order("O-1", c, t(2026, 1, 1), 5_000)).unwrap();
    assert_eq!(balance(&crm, c), 0);
    crm.set_loyalty_program(&Program::from_json(PROGRAM).unwrap()).unwrap();
    let mut o = order("O-2", c, t(2026, 1, 2), 5_000);
    o.currency = "EUR".parse().unwrap();
    crm.record_order(&o).unwrap();
    assert_eq!(balance(&crm, c), 10, "only the first-order bonus: EUR has no rate");
}

#[test]
fn bulk_ingest_earns_in_the_same_transactions() {
    let (crm, c) = setup(PROGRAM);
    let d = customer(&crm, "C-2");
    let rows: Vec<NewOrder> =
        (0..50).map(|i| order(&format!("B-{i}"), if i % 2 == 0 { c } else { d }, t(2026, 2, 1), 1_000)).collect();
    let opts = || IngestOptions { batch_size: 7, ..Default::default() };
    let r = crm.ingest_orders(rows.clone(), opts()).unwrap();
    assert_eq!(r.created, 50);
    assert_eq!(balance(&crm, c), 25 * 10 + 10);
    assert_eq!(balance(&crm, d), 25 * 10 + 10);
    let again = crm.ingest_orders(rows, opts()).unwrap();
    assert_eq!(again.unchanged, 50);
    assert_eq!(balance(&crm, c), 260, "re-ingest earns nothing");
    assert_sound(&crm, c);
    assert_sound(&crm, d);
}

/// Rules whose conditions read the statistics, the order history and the orders so far.
const CONDITIONAL: &str = r#"{
  "name": "Repeat",
  "rates": {"USD": {"points": 1, "per_minor": 100}},
  "rules": [
    {"name": "base", "kind": "base"},
    {"name": "regular", "kind": "multiplier", "by": "channel", "value": "web", "multiplier": 2.0,
     "when": "order_count >= 2"},
    {"name": "big spender", "kind": "multiplier", "by": "channel", "value": "web", "multiplier": 3.0,
     "when": "total_spent >= 40.00 USD"},
    {"name": "busy month", "kind": "multiplier", "by": "channel", "value": "web", "multiplier": 1.5,
     "when": "count(orders within 30 days) >= 3"}
  ]
}"#;

/// A batch holding several orders of one customer earns what the same orders earn one
/// call at a time: a condition on the statistics sees the batch's earlier orders.
#[test]
fn bulk_ingest_earns_what_single_calls_earn_under_conditions() {
    let single = common::test_crm();
    let bulk = common::test_crm();
    let mut rows = Vec::new();
    for crm in [&single, &bulk] {
        crm.set_loyalty_program(&Program::from_json(CONDITIONAL).unwrap()).unwrap();
    }
    let cs: Vec<CustomerId> = (0..3).map(|i| customer(&single, &format!("C-{i}"))).collect();
    for (i, &c) in cs.iter().enumerate() {
        assert_eq!(customer(&bulk, &format!("C-{i}")), c);
    }
    for n in 0..24 {
        let mut o =
            order(&format!("O-{n}"), cs[n % 3], t(2026, 3, 1) + Duration::days(n as i64), 1_000 + 100 * n as i64);
        o.channel = Some("web".into());
        if n % 7 == 6 {
            o.status = Some(OrderStatus::Refunded);
        }
        rows.push(o);
    }
    for o in &rows {
        single.record_order(o).unwrap();
    }
    let r = bulk.ingest_orders(rows, IngestOptions { batch_size: 10, ..Default::default() }).unwrap();
    assert_eq!(r.created, 24);
    let earned = |crm: &Crm, c: CustomerId| -> Vec<(String, i64, Option<String>)> {
        let s = crm.points_statement(c).unwrap();
        s.entries.into_iter().map(|e| (e.key, e.points, e.note)).collect()
    };
    for &c in &cs {
        let want = earned(&single, c);
        assert!(want.iter().any(|(_, p, _)| *p > 40), "some order met a condition: {want:?}");
        assert_eq!(earned(&bulk, c), want, "customer {c:?}");
        assert_sound(&bulk, c);
    }
}

#[test]
fn refunds_reverse_in_proportion_idempotently() {
    let (crm, c) = setup(BASE);
    let mut o = order("O-1", c, t(2026, 1, 1), 10_000);
    crm.record_order(&o).unwrap();
    assert_eq!(balance(&crm, c), 100);
    o.total_minor = 4_000; // partial refund: 60% returned
    crm.record_order(&o).unwrap();
    assert_eq!(balance(&crm, c), 40);
    crm.record_order(&o).unwrap();
    assert_eq!(balance(&crm, c), 40, "the same refund again changes nothing");
    o.status = Some(OrderStatus::Refunded);
    crm.record_order(&o).unwrap();
    assert_eq!(balance(&crm, c), 0);
    let kinds: Vec<EntryKind> = crm.points_statement(c).unwrap().entries.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EntryKind::Earn, EntryKind::Reverse, EntryKind::Reverse]);
    assert_sound(&crm, c);
}

#[test]
fn refund_of_spent_points_follows_the_debt_policy() {
    for (policy, want) in [(DebtPolicy::ClawBackAvailable, 0), (DebtPolicy::AllowNegative, -70)] {
        let mut p = Program::from_json(BASE).unwrap();
        p.debt = policy;
        let crm = common::test_crm();
        crm.set_loyalty_program(&p).unwrap();
        let c = customer(&crm, "C-1");
        let mut o = order("O-1", c, t(2026, 1, 1), 10_000);
        crm.record_order(&o).unwrap();
        crm.redeem_points_at(c, 70, "R-1", t(2026, 1, 2)).unwrap();
        o.status = Some(OrderStatus::Cancelled);
        crm.record_order(&o).unwrap();
        assert_eq!(balance(&crm, c), want, "{policy:?}");
        assert_sound(&crm, c);
        // Undone, the cancellation gives back what it took; cancelled again, it takes it again.
        o.status = Some(OrderStatus::Completed);
        crm.record_order(&o).unwrap();
        assert_eq!(balance(&crm, c), 30, "{policy:?}: as before the cancellation");
        o.status = Some(OrderStatus::Cancelled);
        crm.record_order(&o).unwrap();
        assert_eq!(balance(&crm, c), want, "{policy:?}: cancelled again");
        assert_sound(&crm, c);
        // A later earning pays the debt first.
        crm.record_order(&order("O-2", c, t(2026, 1, 3), 10_000)).unwrap();
        assert_eq!(balance(&crm, c), want + 100);
        assert_sound(&crm, c);
    }
}

/// A refund undone (the order sent again as completed) gives back what the refund took,
/// tier progress included; refunding it again takes it again (spent points: see
/// `refund_of_spent_points_follows_the_debt_policy`).
#[test]
fn a_refund_undone_gives_back_what_it_took() {
    let (crm, c) = setup(PROGRAM);
    let mut o = order("O-1", c, t(2026, 1, 1), 20_000);
    crm.record_order(&o).unwrap();
    // base 200 + first order 10; qualifying 200 (the base) reaches silver
    assert_eq!((balance(&crm, c), tier_of(&crm, c).as_deref()), (210, Some("silver")));
    let full = crm.points_statement(c).unwrap();
    o.status = Some(OrderStatus::Refunded);
    crm.record_order(&o).unwrap();
    assert_eq!(balance(&crm, c), 0);
    o.status = Some(OrderStatus::Completed);
    crm.record_order(&o).unwrap();
    let back = crm.points_statement(c).unwrap();
    assert_eq!(back.balance.balance, 210, "the refund undone");
    assert_eq!(back.lots.iter().map(|l| l.remaining).sum::<i64>(), 210);
    let restored =
        back.lots.iter().find(|l| l.points == 210 && l.remaining == 210).expect("a lot of the points given back");
    assert_eq!(restored.expires_at, full.lots[0].expires_at, "given back points expire with the order's lot");
    crm.record_order(&o).unwrap();
    assert_eq!(crm.points_statement(c).unwrap(), back, "sending it again changes nothing");
    o.total_minor = 5_000; // then a partial refund: re-priced, base 50, the first-order bonus stays
    crm.record_order(&o).unwrap();
    assert_eq!(balance(&crm, c), 50 + 10);
    o.status = Some(OrderStatus::Refunded);
    crm.record_order(&o).unwrap();
    assert_eq!(balance(&crm, c), 0);
    let keys: Vec<String> = crm.points_statement(c).unwrap().entries.into_iter().map(|e| e.key).collect();
    assert_eq!(
        keys,
        [
            "order:O-1",
            "order:O-1:reverse-to:0:0",
            "order:O-1:reverse-to:210:200:1",
            "order:O-1:reverse-to:60:50:2",
            "order:O-1:reverse-to:0:0:3"
        ]
    );
    assert_sound(&crm, c);
}

/// Deleting an order takes back what it earned; its entries stay in the ledger, unlinked,
/// with keys freed, so the same external id (and, SQLite reusing the largest id, the same
/// order id) can earn again as a new order.
#[test]
fn a_deleted_order_gives_back_its_points_and_frees_its_ids() {
    let (crm, c) = setup(BASE);
    crm.record_order(&order("O-1", c, t(2026, 1, 1), 5_000)).unwrap();
    let mut o = order("O-2", c, t(2026, 1, 2), 10_000);
    let first = crm.record_order(&o).unwrap().record.id;
    o.total_minor = 6_000;
    crm.record_order(&o).unwrap(); // a partial refund first
    assert_eq!(balance(&crm, c), 50 + 60);
    let feed = crm.changes_since(0, 10_000).unwrap().len();
    crm.delete_order(first).unwrap();
    assert_eq!(balance(&crm, c), 50, "the deleted order's points are taken back");
    let s = crm.points_statement(c).unwrap();
    let keys: Vec<&str> = s.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "order:O-1",
            "order:O-2~deleted:2",
            "order:O-2:reverse-to:60:60~deleted:3",
            "order:O-2:reverse-to:0:0:1~deleted:4"
        ]
    );
    assert!(s.entries[1..].iter().all(|e| e.order_id.is_none()), "unlinked from the deleted order");
    let changes = crm.changes_since(0, 10_000).unwrap();
    let entry_changes: Vec<(Entity, Op)> =
        changes[feed..].iter().filter(|ch| ch.entity == Entity::LoyaltyEntry).map(|ch| (ch.entity, ch.op)).collect();
    assert_eq!(entry_changes.len(), 4, "the reversal, then three entries unlinked: {entry_changes:?}");
    assert_sound(&crm, c);

    // The same external id again: a new order, earning anew; on SQLite its id is the deleted
    // one's (PostgreSQL never hands an id out twice).
    o.total_minor = 3_000;
    let again = crm.record_order(&o).unwrap();
    assert_eq!(again.outcome, Outcome::Created);
    if crm.store().engine() == "sqlite" {
        assert_eq!(again.record.id, first);
    }
    assert_eq!(balance(&crm, c), 50 + 30);
    o.status = Some(OrderStatus::Refunded);
    crm.record_order(&o).unwrap();
    assert_eq!(balance(&crm, c), 50, "its refund takes back its own points, no more");
    assert_sound(&crm, c);
}

/// Deleting a customer removes their account and ledger: a customer given the same id
/// later starts from nothing.
#[test]
fn a_deleted_customer_takes_their_ledger_with_them() {
    let (crm, keep) = setup(PROGRAM);
    let c = customer(&crm, "C-2");
    crm.record_order(&order("O-1", c, t(2026, 1, 1), 50_000)).unwrap();
    crm.earn_points_at(c, 25, "K-1", t(2026, 1, 2)).unwrap();
    crm.redeem_points_at(c, 10, "R-1", t(2026, 1, 3)).unwrap();
    crm.record_order(&order("O-2", keep, t(2026, 1, 1), 1_000)).unwrap();
    let kept = crm.points_statement(keep).unwrap();
    assert!(crm.points_statement(c).unwrap().entries.len() >= 3);
    crm.delete_customer(c).unwrap();
    let feed = crm.changes_since(0, 10_000).unwrap();
    assert_eq!(
        feed.iter().filter(|ch| ch.entity == Entity::LoyaltyEntry && ch.op == Op::Delete).count(),
        3,
        "each entry removed is a deletion in the feed"
    );
    let newcomer = customer(&crm, "C-3");
    if crm.store().engine() == "sqlite" {
        assert_eq!(newcomer, c, "SQLite gives the largest id again");
    }
    let s = crm.points_statement(newcomer).unwrap();
    assert_eq!((s.balance.balance, s.entries.len(), s.lots.len(), s.tiers.len()), (0, 0, 0, 0));
    assert_eq!(s.balance.tier, None);
    // The first-order bonus is the newcomer's own.
    crm.record_order(&order("O-3", newcomer, t(2026, 2, 1), 1_000)).unwrap();
    assert_eq!(balance(&crm, newcomer), 10 + 10);
    crm.redeem_points_at(newcomer, 5, "R-1", t(2026, 2, 2)).unwrap();
    assert_eq!(crm.points_statement(keep).unwrap(), kept, "the other customer is untouched");
    assert_sound(&crm, newcomer);
}

#[test]
fn redemption_takes_soonest_expiring_lots_and_expiry_runs_once() {
    // A lot earned before expiry was introduced never expires: it is drawn on last,
    // although it is the oldest.
    let (crm, c) = setup(r#"{"name": "P"}"#);
    crm.earn_points_at(c, 50, "E-forever", t(2026, 1, 1)).unwrap();
    crm.set_loyalty_program(&Program::from_json(r#"{"name": "P", "expiry_days": 30}"#).unwrap()).unwrap();
    crm.earn_points_at(c, 100, "E-expiring", t(2026, 2, 1)).unwrap();
    match crm.redeem_points_at(c, 120, "R-0", t(2026, 3, 5)) {
        Err(Error::InsufficientPoints { available: 50, requested: 120 }) => {}
        other => panic!("the 100 expired on 3 March: {other:?}"),
    }
    assert_eq!(balance(&crm, c), 150, "the refused redemption wrote no expiry either");
    crm.redeem_points_at(c, 60, "R-1", t(2026, 2, 20)).unwrap();
    let lots = crm.points_statement(c).unwrap().lots;
    assert_eq!((lots[0].remaining, lots[1].remaining), (50, 40), "the expiring lot first");
    let r = crm.expire_points(t(2026, 4, 1)).unwrap();
    assert_eq!((r.lots, r.points), (1, 40));
    assert_eq!(crm.expire_points(t(2026, 4, 1)).unwrap().lots, 0, "each lot expires once");
    assert_eq!(balance(&crm, c), 50);
    assert_eq!(crm.points_balance_as_of(c, t(2026, 2, 25)).unwrap(), 90);
    assert_sound(&crm, c);
}

#[test]
fn pending_points_unlock_after_the_return_window() {
    let (crm, c) = setup(
        r#"{"name": "P", "pending_days": 14, "rates": {"USD": {"points": 1, "per_minor": 100}},
        "rules": [{"name": "base", "kind": "base"}]}"#,
    );
    let at = Utc::now() - Duration::days(20);
    crm.record_order(&order("O-1", c, at, 5_000)).unwrap();
    crm.record_order(&order("O-2", c, Utc::now() - Duration::days(1), 3_000)).unwrap();
    let b = crm.points_balance(c).unwrap();
    assert_eq!((b.balance, b.available, b.pending), (80, 50, 30));
    match crm.redeem_points(c, 60, "R-1") {
        Err(Error::InsufficientPoints { available: 50, requested: 60 }) => {}
        other => panic!("{other:?}"),
    }
    match crm.redeem_points_at(c, 10, "R-2", at + Duration::days(13)) {
        Err(Error::InsufficientPoints { available: 0, requested: 10 }) => {}
        other => panic!("inside the return window: {other:?}"),
    }
    crm.redeem_points_at(c, 10, "R-3", at + Duration::days(15)).unwrap();
}

#[test]
fn replays_return_the_original_and_write_nothing() {
    let (crm, c) = setup(PROGRAM);
    crm.earn_points(c, 100, "E-1").unwrap();
    let first = crm.redeem_points(c, 30, "R-1").unwrap();
    let feed = crm.changes_since(0, 1000).unwrap().len();
    let again = crm.redeem_points(c, 30, "R-1").unwrap();
    assert!(again.replayed && !first.replayed);
    assert_eq!(again.entry, first.entry);
    assert_eq!(crm.changes_since(0, 1000).unwrap().len(), feed);
    assert!(matches!(crm.redeem_points(c, 31, "R-1"), Err(Error::Conflict(_))), "a key reused for another request");
    assert!(crm.award_event(c, Event::SignUp, "signup:C-1", t(2026, 1, 1)).unwrap().is_some());
    assert!(crm.award_event(c, Event::SignUp, "signup:C-1", t(2026, 1, 1)).unwrap().unwrap().replayed);
    assert_eq!(balance(&crm, c), 95);
}

#[test]
fn event_bonuses_honour_their_conditions() {
    let (crm, c) = setup(PROGRAM);
    assert!(crm.award_event(c, Event::Birthday, "bday:2026", t(2026, 5, 1)).unwrap().is_none());
    crm.update_customer(
        c,
        &CustomerPatch {
            address: Some(Some(Address { country: Some("SG".into()), ..Default::default() }.into())),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(crm.award_event(c, Event::Birthday, "bday:2026", t(2026, 5, 1)).unwrap().unwrap().entry.points, 100);
}

#[test]
fn tiers_upgrade_at_once_feed_earning_and_downgrade_after_the_period_and_grace() {
    let (crm, c) = setup(PROGRAM);
    crm.record_order(&order("O-1", c, t(2025, 1, 1), 60_000)).unwrap(); // 600 + 10: gold
    assert_eq!(crm.points_balance(c).unwrap().tier.as_deref(), Some("gold"));
    crm.record_order(&order("O-2", c, t(2025, 1, 2), 10_000)).unwrap(); // base 100 + gold 100
    assert_eq!(balance(&crm, c), 810);
    crm.redeem_points_at(c, 800, "R-1", t(2025, 1, 3)).unwrap();
    assert_eq!(crm.points_balance(c).unwrap().tier.as_deref(), Some("gold"), "redemption never lowers a tier");
    let r = crm.review_tiers(t(2026, 1, 10)).unwrap();
    assert_eq!(r.downgraded, 0, "inside the grace period");
    let r = crm.review_tiers(t(2026, 2, 10)).unwrap();
    assert_eq!(r.downgraded, 1);
    let h = crm.loyalty_tier_history(c).unwrap();
    assert_eq!(h.iter().map(|x| x.tier.clone()).collect::<Vec<_>>(), [Some("gold".to_string()), None]);
}

#[test]
fn refunds_take_back_tier_progress() {
    let (crm, c) = setup(PROGRAM);
    let mut o = order("O-1", c, t(2025, 1, 1), 60_000);
    crm.record_order(&o).unwrap();
    o.status = Some(OrderStatus::Refunded);
    crm.record_order(&o).unwrap();
    let s = crm.points_statement(c).unwrap();
    assert_eq!(s.entries.iter().map(|e| e.qualifying).sum::<i64>(), 0);
    // At the period end the gold tier, no longer earned, goes.
    assert_eq!(crm.review_tiers(t(2026, 3, 1)).unwrap().downgraded, 1);
}

#[test]
fn programs_read_from_toml() {
    let p = Program::from_toml(
        r#"
        name = "Stars"
        debt = "allow_negative"
        [rates.SGD]
        points = 2
        per_minor = 100
        rounding = "nearest"
        [[rules]]
        name = "base"
        kind = "base"
        "#,
    )
    .unwrap();
    assert_eq!(p.debt, DebtPolicy::AllowNegative);
    assert_eq!(Program::from_json(&p.to_json()).unwrap(), p);
}

#[test]
fn threads_redeeming_from_one_account_on_a_file_never_overspend() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    let crm = Arc::new(Crm::open(&path).unwrap());
    let c = customer(&crm, "C-1");
    crm.earn_points(c, 1_000, "E-1").unwrap();
    let handles: Vec<_> = (0..4)
        .map(|th| {
            // Half the threads share the handle, half open their own connection to the file.
            let crm = if th % 2 == 0 { Arc::clone(&crm) } else { Arc::new(Crm::open(&path).unwrap()) };
            std::thread::spawn(move || {
                let mut ok = 0;
                for i in 0..60 {
                    match crm.redeem_points(c, 7, &format!("R-{th}-{i}")) {
                        Ok(_) => ok += 1,
                        Err(Error::InsufficientPoints { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                ok
            })
        })
        .collect();
    let ok: i64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(ok, 1_000 / 7);
    assert_eq!(balance(&crm, c), 1_000 - 7 * ok);
    assert_sound(&crm, c);
}

/// Runs `f`, expects `want` to match the error, and checks nothing changed.
fn refused<T: std::fmt::Debug>(crm: &Crm, c: CustomerId, want: impl Fn(&Error) -> bool, f: impl FnOnce() -> Result<T>) {
    let before = (crm.points_statement(c).unwrap(), crm.changes_since(0, 10_000).unwrap().len());
    match f() {
        Err(e) => assert!(want(&e), "unexpected error {e:?}"),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
    assert_eq!((crm.points_statement(c).unwrap(), crm.changes_since(0, 10_000).unwrap().len()), before);
}

fn field(name: &'static str) -> impl Fn(&Error) -> bool {
    move |e| matches!(e, Error::Validation { field, .. } if field == name)
}

#[test]
fn bad_ledger_input_is_refused_and_writes_nothing() {
    let (crm, c) = setup(PROGRAM);
    crm.earn_points(c, 50, "E-1").unwrap();
    refused(&crm, c, field("points"), || crm.redeem_points(c, 0, "R-1"));
    refused(&crm, c, field("points"), || crm.redeem_points(c, -5, "R-1"));
    refused(
        &crm,
        c,
        |e| matches!(e, Error::InsufficientPoints { available: 50, requested: 51 }),
        || crm.redeem_points(c, 51, "R-1"),
    );
    refused(
        &crm,
        c,
        |e| matches!(e, Error::NotFound { entity: Entity::Customer, .. }),
        || crm.redeem_points(CustomerId(999), 5, "R-1"),
    );
    refused(&crm, c, field("idempotency_key"), || crm.redeem_points(c, 5, ""));
    refused(&crm, c, field("tier"), || crm.set_loyalty_tier(c, Some("platinum")));
    refused(&crm, c, |e| matches!(e, Error::InsufficientPoints { .. }), || crm.adjust_points(c, -60, "A-1", "typo"));
    refused(&crm, c, field("points"), || crm.earn_points(c, 0, "E-2"));
}

#[test]
fn invalid_programs_are_refused_naming_the_field() {
    let crm = common::test_crm();
    let bad = [
        (r#"{"name": "P", "rates": {"USD": {"points": -1, "per_minor": 100}}}"#, "rates.USD.points"),
        (r#"{"name": "P", "rates": {"USD": {"points": 1, "per_minor": 0}}}"#, "rates.USD.per_minor"),
        (
            r#"{"name": "P", "rules": [{"name": "m", "kind": "multiplier", "by": "sku", "value": "x", "multiplier": -2}]}"#,
            "rules[0].multiplier",
        ),
        (r#"{"name": "P", "rules": [{"name": "b", "kind": "base", "caps": {"per_day": 0}}]}"#, "rules[0].caps.per_day"),
        (
            r#"{"name": "P", "rules": [{"name": "b", "kind": "base", "when": "shoe_size > 3"}]}"#,
            "rules[0].when.shoe_size",
        ),
        (
            r#"{"name": "P", "tiers": {"basis": {"by": "points"}, "levels": [{"name": "a", "min": 0, "max": 200}, {"name": "b", "min": 100}]}}"#,
            "tiers.levels[1].min",
        ),
        (
            r#"{"name": "P", "tiers": {"basis": {"by": "points"}, "levels": [{"name": "a", "min": 100}, {"name": "b", "min": 100}]}}"#,
            "tiers.levels[1].min",
        ),
        (
            r#"{"name": "P", "rules": [{"name": "t", "kind": "multiplier", "by": "tier", "value": "gold", "multiplier": 2}]}"#,
            "rules[0].value",
        ),
        (
            r#"{"name": "P", "rates": {"USD": {"points": 1, "per_minor": 1}}, "tiers": {"basis": {"by": "spend", "currency": "EUR"}, "levels": [{"name": "a", "min": 1}]}}"#,
            "tiers.basis.currency",
        ),
        (r#"{"name": "P", "rates": {"XYZ": {"points": 1, "per_minor": 1}}}"#, "rates.XYZ"),
        (r#"{"name": "P", "rules": [{"name": "b", "kind": "bonus", "event": "sign_up"}]}"#, "rules[0].points"),
        // Periods past a century would overflow the date arithmetic of every earning.
        (r#"{"name": "P", "expiry_days": 4294967295}"#, "expiry_days"),
        (r#"{"name": "P", "pending_days": 36526}"#, "pending_days"),
        (
            r#"{"name": "P", "tiers": {"basis": {"by": "points"}, "window_days": 100000, "levels": [{"name": "a", "min": 1}]}}"#,
            "tiers.window_days",
        ),
        (
            r#"{"name": "P", "tiers": {"basis": {"by": "points"}, "grace_days": 100000, "levels": [{"name": "a", "min": 1}]}}"#,
            "tiers.grace_days",
        ),
    ];
    for (json, want) in bad {
        match Program::from_json(json) {
            Err(Error::Validation { field, reason }) => assert_eq!(field, want, "{json}: {reason}"),
            other => panic!("{json}: {other:?}"),
        }
    }
    // A program built in code is validated on set, and nothing is stored.
    let mut p = Program::from_json(PROGRAM).unwrap();
    p.rules[0].caps.per_order = Some(0);
    assert!(matches!(crm.set_loyalty_program(&p), Err(Error::Validation { .. })));
    assert!(crm.loyalty_program().unwrap().is_none());
    assert!(crm.changes_since(0, 10).unwrap().is_empty());
}

fn item(sku: &str, category: Option<&str>, quantity: i64, unit_price_minor: i64) -> LineItem {
    LineItem { sku: sku.into(), category: category.map(Into::into), quantity, unit_price_minor }
}

fn tier_of(crm: &Crm, c: CustomerId) -> Option<String> {
    crm.points_balance(c).unwrap().tier
}

#[test]
fn day_and_month_caps_limit_a_rule_per_calendar_period() {
    let (crm, c) = setup(
        r#"{"name": "Capped", "rates": {"USD": {"points": 1, "per_minor": 100}},
            "rules": [{"name": "base", "kind": "base", "caps": {"per_day": 30, "per_month": 50}}]}"#,
    );
    let mut want = Vec::new();
    for (i, (at, total)) in [
        (t(2026, 3, 1), 2_000),  // 20
        (t(2026, 3, 1), 2_000),  // 10: the day's cap of 30
        (t(2026, 3, 2), 2_000),  // 20: a new day, the month reaches 50
        (t(2026, 3, 3), 2_000),  // 0: the month's cap
        (t(2026, 3, 31), 4_000), // 0: still March
        (t(2026, 4, 1), 4_000),  // 30: April, the day's cap
    ]
    .into_iter()
    .enumerate()
    {
        crm.record_order(&order(&format!("O-{i}"), c, at, total)).unwrap();
        want.push(balance(&crm, c));
    }
    assert_eq!(want, [20, 30, 50, 50, 50, 80]);
    assert_sound(&crm, c);
}

#[test]
fn caps_count_per_customer() {
    let (crm, c) = setup(
        r#"{"name": "Capped", "rates": {"USD": {"points": 1, "per_minor": 100}},
            "rules": [{"name": "base", "kind": "base", "caps": {"per_day": 30}}]}"#,
    );
    let d = customer(&crm, "C-2");
    crm.record_order(&order("O-1", c, t(2026, 3, 1), 5_000)).unwrap();
    crm.record_order(&order("O-2", d, t(2026, 3, 1), 5_000)).unwrap();
    assert_eq!((balance(&crm, c), balance(&crm, d)), (30, 30));
}

#[test]
fn of_non_stacking_multipliers_only_the_best_applies_beside_stacking_ones() {
    let (crm, c) = setup(
        r#"{"name": "Stack", "rates": {"USD": {"points": 1, "per_minor": 100}},
            "rules": [
              {"name": "base", "kind": "base"},
              {"name": "shoes x2", "kind": "multiplier", "by": "category", "value": "shoes", "multiplier": 2.0, "stacks": false},
              {"name": "shoes x4", "kind": "multiplier", "by": "category", "value": "shoes", "multiplier": 4.0, "stacks": false},
              {"name": "sku x1.5", "kind": "multiplier", "by": "sku", "value": "S-1", "multiplier": 1.5}
            ]}"#,
    );
    let mut o = order("O-1", c, t(2026, 3, 1), 10_000);
    o.items = Some(vec![item("S-1", Some("shoes"), 1, 10_000)]);
    crm.record_order(&o).unwrap();
    // base 100 + the better non-stacking one (x4: 300; not x2: 100) + the stacking SKU one 50
    assert_eq!(balance(&crm, c), 450);
    let note = crm.points_statement(c).unwrap().entries[0].note.clone().unwrap();
    let note: serde_json::Value = serde_json::from_str(&note).unwrap();
    assert_eq!(
        note["rules"],
        serde_json::json!([{"rule": "base", "points": 100}, {"rule": "shoes x4", "points": 300},
                           {"rule": "sku x1.5", "points": 50}])
    );
    assert_eq!(note["first_order"], true, "the context it was priced in");
}

#[test]
fn channel_and_sku_multipliers_select_the_order_and_its_items() {
    let (crm, c) = setup(
        r#"{"name": "Mult", "rates": {"USD": {"points": 1, "per_minor": 100}},
            "rules": [
              {"name": "base", "kind": "base"},
              {"name": "web", "kind": "multiplier", "by": "channel", "value": "web", "multiplier": 2.0},
              {"name": "sku", "kind": "multiplier", "by": "sku", "value": "SKU-9", "multiplier": 3.0}
            ]}"#,
    );
    let items = vec![item("SKU-9", None, 2, 1_000), item("SKU-1", None, 1, 3_000)];
    let mut o = order("O-1", c, t(2026, 3, 1), 5_000);
    o.channel = Some("web".into());
    o.items = Some(items.clone());
    crm.record_order(&o).unwrap();
    // base 50 + web 50 (the whole order) + SKU-9 20 * (3 - 1) = 40
    assert_eq!(balance(&crm, c), 140);
    let mut o = order("O-2", c, t(2026, 3, 2), 5_000);
    o.channel = Some("store".into());
    o.items = Some(items);
    crm.record_order(&o).unwrap();
    assert_eq!(balance(&crm, c), 140 + 90, "another channel: base 50 + SKU-9 40");
}

#[test]
fn rounding_up_and_to_nearest() {
    let program = |mode: &str| {
        format!(
            r#"{{"name": "Round", "rates": {{"USD": {{"points": 1, "per_minor": 100, "rounding": "{mode}"}}}},
                "rules": [{{"name": "base", "kind": "base"}}]}}"#
        )
    };
    let earned = |mode: &str, total: i64| {
        let (crm, c) = setup(&program(mode));
        crm.record_order(&order("O-1", c, t(2026, 3, 1), total)).unwrap();
        balance(&crm, c)
    };
    assert_eq!([earned("down", 1_099), earned("up", 1_001), earned("up", 1_000)], [10, 11, 10]);
    assert_eq!([earned("nearest", 1_049), earned("nearest", 1_050), earned("nearest", 1_051)], [10, 11, 11]);
}

#[test]
fn spend_tiers_count_only_the_rolling_window() {
    let (crm, c) = setup(
        r#"{"name": "Spend", "rates": {"USD": {"points": 1, "per_minor": 100}},
            "rules": [{"name": "base", "kind": "base"}],
            "tiers": {"basis": {"by": "spend", "currency": "USD"}, "window_days": 30,
                      "levels": [{"name": "silver", "min": 10000}, {"name": "gold", "min": 50000}]}}"#,
    );
    crm.record_order(&order("O-1", c, t(2026, 1, 1), 6_000)).unwrap();
    assert_eq!(tier_of(&crm, c), None);
    crm.record_order(&order("O-2", c, t(2026, 1, 10), 6_000)).unwrap();
    assert_eq!(tier_of(&crm, c).as_deref(), Some("silver"), "12,000 in the window");
    crm.record_order(&order("O-3", c, t(2026, 3, 1), 40_000)).unwrap();
    assert_eq!(tier_of(&crm, c).as_deref(), Some("silver"), "52,000 in all but 40,000 in the window");
    crm.record_order(&order("O-4", c, t(2026, 3, 5), 10_000)).unwrap();
    assert_eq!(tier_of(&crm, c).as_deref(), Some("gold"), "50,000 in the window");
}

#[test]
fn order_count_tiers_over_a_rolling_window_up_at_once_down_at_review() {
    let (crm, c) = setup(
        r#"{"name": "Count", "rates": {"USD": {"points": 1, "per_minor": 100}},
            "rules": [{"name": "base", "kind": "base"}],
            "tiers": {"basis": {"by": "orders"}, "window_days": 30,
                      "levels": [{"name": "regular", "min": 3}]}}"#,
    );
    for (i, at) in [t(2026, 1, 1), t(2026, 1, 20), t(2026, 2, 15)].into_iter().enumerate() {
        crm.record_order(&order(&format!("O-{i}"), c, at, 1_000)).unwrap();
    }
    assert_eq!(tier_of(&crm, c), None, "3 orders in all, 2 in the window");
    crm.record_order(&order("O-3", c, t(2026, 2, 16), 1_000)).unwrap();
    assert_eq!(tier_of(&crm, c).as_deref(), Some("regular"), "3 in the window from 17 January");
    let r = crm.review_tiers(t(2026, 3, 10)).unwrap();
    assert_eq!((r.accounts, r.upgraded, r.downgraded), (1, 0, 0), "held less than a window");
    let r = crm.review_tiers(t(2026, 3, 20)).unwrap();
    assert_eq!((r.accounts, r.upgraded, r.downgraded), (1, 0, 1));
    assert_eq!(tier_of(&crm, c), None);
    let reasons: Vec<_> = crm.loyalty_tier_history(c).unwrap().into_iter().map(|h| (h.tier, h.reason)).collect();
    assert_eq!(reasons, [(Some("regular".to_string()), "upgrade".to_string()), (None, "downgrade".to_string())]);
}

#[test]
fn orders_that_earn_no_points_still_move_spend_and_order_count_tiers_up() {
    // The rule's monthly cap is spent by the first order: later orders earn nothing but
    // still count as orders in the window.
    let (crm, c) = setup(
        r#"{"name": "Count", "rates": {"USD": {"points": 1, "per_minor": 100}},
            "rules": [{"name": "base", "kind": "base", "caps": {"per_month": 10}}],
            "tiers": {"basis": {"by": "orders"}, "window_days": 30,
                      "levels": [{"name": "regular", "min": 2}]}}"#,
    );
    crm.record_order(&order("O-1", c, t(2026, 3, 1), 1_000)).unwrap();
    crm.record_order(&order("O-2", c, t(2026, 3, 2), 1_000)).unwrap();
    assert_eq!(balance(&crm, c), 10);
    assert_eq!(tier_of(&crm, c).as_deref(), Some("regular"), "2 orders in the window");
}
