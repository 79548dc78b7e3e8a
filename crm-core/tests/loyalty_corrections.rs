//! What order corrections do to customers' data, one case at a time (the property test
//! `loyalty_replay_prop.rs` covers random sequences): orders keep what a write leaves out,
//! status-only updates, partial refunds by amount and by lines with their retries and
//! refusals, moves between customers, amendments up and down, the context an order keeps
//! (tier, first order, day caps), and the bounds on every time the loyalty calls take.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::loyalty::{EntryKind, Event, Program};
use crm_core::*;

fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

const PROGRAM: &str = r#"{
  "name": "Stars",
  "rates": {"USD": {"points": 1, "per_minor": 100}},
  "rules": [
    {"name": "base", "kind": "base"},
    {"name": "shoes", "kind": "multiplier", "by": "category", "value": "shoes", "multiplier": 3.0},
    {"name": "gold", "kind": "multiplier", "by": "tier", "value": "gold", "multiplier": 2.0},
    {"name": "welcome", "kind": "bonus", "event": "first_order", "points": 10},
    {"name": "birthday", "kind": "bonus", "event": "birthday", "points": 100}
  ],
  "tiers": {"basis": {"by": "points"}, "window_days": 365,
            "levels": [{"name": "silver", "min": 100}, {"name": "gold", "min": 500}]},
  "expiry_days": 365
}"#;

fn setup() -> (Crm, CustomerId, CustomerId) {
    let crm = common::test_crm();
    crm.set_loyalty_program(&Program::from_json(PROGRAM).unwrap()).unwrap();
    let mut ids = ["C-1", "C-2"].map(|ext| {
        crm.upsert_customer(&NewCustomer { external_id: Some(ext.into()), name: ext.into(), ..Default::default() })
            .unwrap()
            .record
            .id
    });
    ids.sort();
    (crm, ids[0], ids[1])
}

fn item(sku: &str, category: &str, quantity: i64, unit_price_minor: i64) -> LineItem {
    LineItem { sku: sku.into(), category: Some(category.into()), quantity, unit_price_minor }
}

fn order(ext: &str, c: CustomerId, at: DateTime<Utc>, total: i64, items: Option<Vec<LineItem>>) -> NewOrder {
    NewOrder {
        external_id: ext.into(),
        customer_id: Some(c),
        customer_external_id: None,
        occurred_at: at,
        status: None,
        currency: "USD".parse().unwrap(),
        total_minor: total,
        channel: Some("web".into()),
        items,
    }
}

fn balance(crm: &Crm, c: CustomerId) -> i64 {
    crm.points_balance(c).unwrap().balance
}

/// Everything a refused call must leave alone: the feed, both customers' ledgers and statistics.
fn state(crm: &Crm, cs: &[CustomerId]) -> String {
    let mut s = format!("{:?}", crm.changes_since(0, 10_000).unwrap());
    for &c in cs {
        s += &format!("{:?}{:?}", crm.points_statement(c).unwrap(), crm.customer_stats(c).unwrap());
    }
    s
}

#[test]
fn an_order_sent_again_without_status_lines_or_channel_keeps_them() {
    let (crm, c, _) = setup();
    let lines = vec![item("S-1", "shoes", 2, 2_500)];
    let mut o = order("O-1", c, t(2025, 3, 1), 5_000, Some(lines.clone()));
    crm.record_order(&o).unwrap();
    crm.set_order_status("O-1", OrderStatus::Refunded).unwrap();
    // The ERP sends the order again as it knows it: no status, no lines, no channel.
    o.items = None;
    o.channel = None;
    o.status = None;
    let w = crm.record_order(&o).unwrap();
    assert_eq!(w.outcome, Outcome::Unchanged, "nothing sent differs from what is stored");
    let stored = crm.get_order_by_external_id("O-1").unwrap();
    assert_eq!((stored.status, stored.items, stored.channel.as_deref()), (OrderStatus::Refunded, lines, Some("web")));
    assert_eq!(balance(&crm, c), 0, "the refund stands");
    // An explicit empty list removes the lines; a status sent is applied.
    o.items = Some(vec![]);
    o.status = Some(OrderStatus::Completed);
    let w = crm.record_order(&o).unwrap();
    assert_eq!((w.outcome, w.record.items.len(), w.record.status), (Outcome::Updated, 0, OrderStatus::Completed));
    // A new order needs its customer; an existing one keeps it when none is named.
    let mut anon = order("O-9", c, t(2025, 3, 2), 100, None);
    anon.customer_id = None;
    match crm.record_order(&anon) {
        Err(Error::Validation { field, .. }) => assert_eq!(field, "customer_id"),
        other => panic!("{other:?}"),
    }
    let mut again = o.clone();
    again.customer_id = None;
    assert_eq!(crm.record_order(&again).unwrap().record.customer_id, c);
}

#[test]
fn a_status_only_update_moves_statistics_and_points_and_keeps_the_rest() {
    let (crm, c, _) = setup();
    crm.record_order(&order("O-1", c, t(2025, 3, 1), 20_000, Some(vec![item("B-1", "books", 1, 20_000)]))).unwrap();
    assert_eq!(balance(&crm, c), 210);
    let w = crm.set_order_status("O-1", OrderStatus::Cancelled).unwrap();
    assert_eq!((w.outcome, w.record.items.len(), w.record.total.minor), (Outcome::Updated, 1, 20_000));
    assert_eq!((balance(&crm, c), crm.customer_stats(c).unwrap().order_count), (0, 0));
    assert_eq!(crm.set_order_status("O-1", OrderStatus::Cancelled).unwrap().outcome, Outcome::Unchanged);
    crm.set_order_status("O-1", OrderStatus::Completed).unwrap();
    assert_eq!((balance(&crm, c), crm.customer_stats(c).unwrap().order_count), (210, 1));
    assert!(matches!(crm.set_order_status("O-404", OrderStatus::Refunded), Err(Error::NotFound { .. })));
    assert_eq!(crm.customer_stats(c).unwrap(), common::recomputed_stats(&crm, c));
}

#[test]
fn partial_refunds_by_amount_and_by_lines_follow_through_statistics_and_points() {
    let (crm, c, d) = setup();
    let lines = vec![item("SHOE", "shoes", 2, 5_000), item("SOCK", "socks", 4, 500)];
    crm.record_order(&order("O-1", c, t(2025, 3, 1), 12_000, Some(lines))).unwrap();
    // base 120 + shoes 100 * 2 + welcome 10
    assert_eq!(balance(&crm, c), 330);
    // One shoe back: 5,000 leaves the total, a shoe leaves the lines.
    let shoe = Refund {
        key: "RF-1".into(),
        lines: vec![RefundLine { sku: "SHOE".into(), quantity: 1 }],
        ..Default::default()
    };
    let w = crm.refund_order("O-1", &shoe).unwrap();
    assert_eq!((w.outcome, w.record.total.minor, w.record.items[0].quantity), (Outcome::Updated, 7_000, 1));
    assert_eq!(balance(&crm, c), 70 + 100 + 10, "re-priced: base 70, one shoe, the welcome bonus stays");
    assert_eq!(crm.customer_stats(c).unwrap().total_spent, vec![Money::new(7_000, "USD".parse().unwrap())]);
    // A retry changes nothing; the same key for another refund is a conflict.
    let before = state(&crm, &[c, d]);
    assert_eq!(crm.refund_order("O-1", &shoe).unwrap().outcome, Outcome::Unchanged);
    let other = Refund { key: "RF-1".into(), amount_minor: Some(10), ..Default::default() };
    assert!(matches!(crm.refund_order("O-1", &other), Err(Error::Conflict(_))));
    assert_eq!(state(&crm, &[c, d]), before);
    // Refusals: more than is left, a SKU not on the order, more units than it holds, no
    // amount and no lines, a time before the order. Each names its field, writes nothing.
    let refused = |r: Refund, field: &str| match crm.refund_order("O-1", &r) {
        Err(Error::Validation { field: f, .. }) => assert_eq!(f, field, "{r:?}"),
        other => panic!("{r:?}: {other:?}"),
    };
    refused(Refund { key: "X1".into(), amount_minor: Some(7_001), ..Default::default() }, "amount_minor");
    refused(
        Refund { key: "X2".into(), lines: vec![RefundLine { sku: "HAT".into(), quantity: 1 }], ..Default::default() },
        "lines[0].sku",
    );
    refused(
        Refund { key: "X3".into(), lines: vec![RefundLine { sku: "SOCK".into(), quantity: 5 }], ..Default::default() },
        "lines[0].quantity",
    );
    refused(Refund { key: "X4".into(), ..Default::default() }, "amount_minor");
    refused(Refund { key: "X5".into(), amount_minor: Some(1), at: Some(t(2025, 2, 1)), ..Default::default() }, "at");
    refused(Refund { key: " ".into(), amount_minor: Some(1), ..Default::default() }, "key");
    refused(
        Refund { key: "X6".into(), lines: vec![RefundLine { sku: "SOCK".into(), quantity: 0 }], ..Default::default() },
        "lines[0].quantity",
    );
    assert_eq!(state(&crm, &[c, d]), before);
    // The ERP sends the order again as it sold it: the refund stands (the order is kept net
    // of its refunds), nothing changes; a second refund of everything it sold is refused.
    let sold = order(
        "O-1",
        c,
        t(2025, 3, 1),
        12_000,
        Some(vec![item("SHOE", "shoes", 2, 5_000), item("SOCK", "socks", 4, 500)]),
    );
    let again = crm.record_order(&sold).unwrap();
    assert_eq!(
        (again.outcome, again.record.total.minor, again.record.items[0].quantity),
        (Outcome::Unchanged, 7_000, 1)
    );
    refused(Refund { key: "X8".into(), amount_minor: Some(12_000), ..Default::default() }, "amount_minor");
    // A corrected total from the ERP stays net of the refund.
    crm.record_order(&NewOrder { total_minor: 11_000, ..sold.clone() }).unwrap();
    assert_eq!(crm.get_order_by_external_id("O-1").unwrap().total.minor, 6_000);
    crm.record_order(&sold).unwrap();
    assert_eq!(crm.get_order_by_external_id("O-1").unwrap().total.minor, 7_000);
    // An amount (a goodwill refund): only the base follows, the lines stay.
    crm.refund_order("O-1", &Refund { key: "RF-2".into(), amount_minor: Some(2_000), ..Default::default() }).unwrap();
    assert_eq!(balance(&crm, c), 50 + 100 + 10);
    // What is left, refunded: the order is refunded, the points all go back.
    let w = crm
        .refund_order("O-1", &Refund { key: "RF-3".into(), amount_minor: Some(5_000), ..Default::default() })
        .unwrap();
    assert_eq!((w.record.status, w.record.total.minor), (OrderStatus::Refunded, 0));
    assert_eq!((balance(&crm, c), crm.customer_stats(c).unwrap().order_count), (0, 0));
    refused(Refund { key: "X7".into(), amount_minor: Some(1), ..Default::default() }, "status");
    let refunds = crm.order_refunds(w.record.id).unwrap();
    assert_eq!(
        refunds.iter().map(|r| (r.key.as_str(), r.amount_minor)).collect::<Vec<_>>(),
        [("RF-1", 5_000), ("RF-2", 2_000), ("RF-3", 5_000)]
    );
    assert_eq!(crm.customer_stats(c).unwrap(), common::recomputed_stats(&crm, c));
    // Deleting the order takes its refunds with it.
    crm.delete_order(w.record.id).unwrap();
    assert!(matches!(crm.order_refunds(w.record.id), Err(Error::NotFound { .. })));
}

#[test]
fn an_order_moved_to_another_customer_takes_its_points_along() {
    let (crm, c, d) = setup();
    let mut o = order("O-1", c, t(2025, 3, 1), 30_000, None);
    crm.record_order(&o).unwrap();
    crm.redeem_points_at(c, 5, "R-1", t(2025, 3, 2)).unwrap();
    assert_eq!(balance(&crm, c), 310 - 5);
    o.customer_id = Some(d);
    crm.record_order(&o).unwrap();
    assert_eq!(balance(&crm, c), 0, "what is left goes with the order; the spent 5 are forgiven");
    assert_eq!(balance(&crm, d), 310, "the new customer earns it, welcome bonus included");
    assert_eq!(crm.customer_stats(c).unwrap().order_count, 0);
    assert_eq!(crm.customer_stats(d).unwrap().order_count, 1);
    // Moved back: the first customer gets it back as it was priced for them.
    o.customer_id = Some(c);
    crm.record_order(&o).unwrap();
    assert_eq!((balance(&crm, c), balance(&crm, d)), (310 - 5, 0));
    let keys: Vec<String> = crm.points_statement(d).unwrap().entries.into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["order:O-1:customer:2", "order:O-1:reverse-to:0:0:1"]);
}

#[test]
fn an_amended_order_earns_more_or_less_in_the_context_it_first_earned() {
    let (crm, c, _) = setup();
    // First order: 600 + welcome 10 reaches gold. The second earns the gold multiplier.
    crm.record_order(&order("O-1", c, t(2025, 1, 10), 60_000, None)).unwrap();
    let mut second = order("O-2", c, t(2025, 1, 11), 10_000, None);
    crm.record_order(&second).unwrap();
    assert_eq!(balance(&crm, c), 610 + 200);
    // Amending the first order up: still priced without gold (it was earned before), the
    // welcome bonus kept.
    crm.record_order(&order("O-1", c, t(2025, 1, 10), 80_000, None)).unwrap();
    assert_eq!(balance(&crm, c), 810 + 200);
    // Amending the second down and up: at gold.
    second.total_minor = 5_000;
    crm.record_order(&second).unwrap();
    assert_eq!(balance(&crm, c), 810 + 100);
    second.total_minor = 15_000;
    crm.record_order(&second).unwrap();
    assert_eq!(balance(&crm, c), 810 + 300);
    // Refunding the first order does not hand its welcome bonus to the second.
    crm.set_order_status("O-1", OrderStatus::Refunded).unwrap();
    assert_eq!(balance(&crm, c), 300);
    let s = crm.points_statement(c).unwrap();
    assert!(s.entries.iter().all(|e| e.kind != EntryKind::Earn || e.points > 0));
    assert_eq!(s.balance.tier.as_deref(), Some("gold"), "tiers move down at a review, not at a refund");
}

#[test]
fn an_amended_order_keeps_its_own_share_of_a_day_cap() {
    let crm = common::test_crm();
    crm.set_loyalty_program(
        &Program::from_json(
            r#"{"name": "Cap", "rates": {"USD": {"points": 1, "per_minor": 100}},
            "rules": [{"name": "base", "kind": "base", "caps": {"per_day": 100}}]}"#,
        )
        .unwrap(),
    )
    .unwrap();
    let c = crm.create_customer(&NewCustomer { name: "Cy".into(), ..Default::default() }).unwrap().id;
    let mut a = order("A", c, t(2025, 5, 1), 6_000, None);
    crm.record_order(&a).unwrap();
    crm.record_order(&order("B", c, t(2025, 5, 1), 9_000, None)).unwrap();
    assert_eq!(balance(&crm, c), 100, "60 + what is left of the day's cap");
    // A's channel corrected: nothing changes (it keeps its own 60 of the cap).
    a.channel = Some("store".into());
    crm.record_order(&a).unwrap();
    assert_eq!(balance(&crm, c), 100);
    // A amended down frees room that A no longer uses (B keeps what it earned).
    a.total_minor = 1_000;
    crm.record_order(&a).unwrap();
    assert_eq!(balance(&crm, c), 50);
    crm.record_order(&order("C", c, t(2025, 5, 1), 9_000, None)).unwrap();
    assert_eq!(balance(&crm, c), 100, "C gets the 50 A released");
    // A moved to another day: it earns in full there, its share of May 1st is released.
    a.occurred_at = t(2025, 5, 2);
    a.total_minor = 6_000;
    crm.record_order(&a).unwrap();
    assert_eq!(balance(&crm, c), 100 - 10 + 60);
}

#[test]
fn every_loyalty_time_is_bounded_and_nothing_expires_before_its_time() {
    let (crm, c, d) = setup();
    crm.earn_points(c, 100, "E-1").unwrap();
    let before = state(&crm, &[c, d]);
    let far = Utc::now() + Duration::days(400);
    let y9999 = Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap();
    let y1969 = Utc.with_ymd_and_hms(1969, 7, 20, 0, 0, 0).unwrap();
    let refused = |r: Result<()>, field: &str| match r {
        Err(Error::Validation { field: f, reason }) => {
            assert_eq!(f, field);
            assert!(reason.len() < 300, "{reason}");
        }
        other => panic!("{field}: {other:?}"),
    };
    for at in [far, y9999, y1969] {
        refused(crm.earn_points_at(c, 5, "E-2", at).map(drop), "at");
        refused(crm.redeem_points_at(c, 5, "R-1", at).map(drop), "at");
        refused(crm.award_event(c, Event::Birthday, "B-1", at).map(drop), "at");
        refused(crm.expire_points(at).map(drop), "as_of");
        refused(crm.review_tiers(at).map(drop), "as_of");
        refused(crm.points_balance_as_of(c, at).map(drop), "at");
    }
    refused(crm.expire_points_dry_run(y9999).map(drop), "as_of");
    assert_eq!(state(&crm, &[c, d]), before, "nothing written");
    // A lot due in 30 minutes: an expiry run dated an hour ahead (clock skew) leaves it.
    crm.set_loyalty_program(&Program::from_json(r#"{"name": "Short", "expiry_days": 1}"#).unwrap()).unwrap();
    let earned_at = Utc::now() - Duration::days(1) + Duration::minutes(30);
    crm.earn_points_at(d, 40, "E-3", earned_at).unwrap();
    let r = crm.expire_points(Utc::now() + Duration::hours(1)).unwrap();
    assert_eq!((r.lots, r.points), (0, 0));
    match crm.redeem_points_at(d, 40, "R-2", Utc::now() + Duration::hours(1)) {
        Err(Error::InsufficientPoints { available: 0, requested: 40 }) => {}
        other => panic!("a lot expiring before the redemption's time is not redeemable: {other:?}"),
    }
    assert_eq!(balance(&crm, d), 40, "and not expired either");
    // The forecast sees it (and the 100 points, which never expire under the first program).
    let f = crm.expire_points_dry_run(Utc::now() + Duration::days(2)).unwrap();
    assert_eq!((f.lots, f.points), (1, 40));
    // Statements print times that are RFC 3339 (no year beyond 9999 can be stored).
    let json = serde_json::to_string(&crm.points_statement(d).unwrap()).unwrap();
    assert!(!json.contains("+1"), "{json}");
}

#[test]
fn bad_settings_for_time_bounds_are_refused() {
    for cfg in [
        ValidationConfig { max_future_secs: -1, ..Default::default() },
        ValidationConfig { max_future_secs: i64::MAX, ..Default::default() },
        ValidationConfig { max_forecast_days: 1_000_000, ..Default::default() },
        ValidationConfig { min_time: Utc.with_ymd_and_hms(1800, 1, 1, 0, 0, 0).unwrap(), ..Default::default() },
        ValidationConfig { min_time: Utc::now() + Duration::days(1), ..Default::default() },
    ] {
        match Crm::in_memory_with(CrmConfig { validation: cfg.clone(), ..Default::default() }) {
            Err(Error::Validation { .. }) => {}
            other => panic!("{cfg:?}: {other:?}"),
        }
    }
}
