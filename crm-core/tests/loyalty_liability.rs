//! The program's liability (`Crm::loyalty_liability`): balances owed and in debt across every
//! account, points expiring within a look-ahead, and the bound on the look-ahead.

mod common;

use chrono::{Duration, Utc};
use crm_core::loyalty::{DebtPolicy, Program};
use crm_core::*;

/// One point per dollar; lots expire 30 days after earning.
const PROGRAM: &str = r#"{"name": "P", "rates": {"USD": {"points": 1, "per_minor": 100}},
    "rules": [{"name": "base", "kind": "base"}], "expiry_days": 30}"#;

fn customer(crm: &Crm, ext: &str) -> CustomerId {
    crm.upsert_customer(&NewCustomer { external_id: Some(ext.into()), name: ext.into(), ..Default::default() })
        .unwrap()
        .record
        .id
}

fn order(ext: &str, c: CustomerId, days_ago: i64, total: i64) -> NewOrder {
    NewOrder {
        external_id: ext.into(),
        customer_id: Some(c),
        customer_external_id: None,
        occurred_at: Utc::now() - Duration::days(days_ago),
        status: Some(OrderStatus::Completed),
        currency: "USD".parse().unwrap(),
        total_minor: total,
        channel: None,
        items: None,
    }
}

#[test]
fn an_empty_program_owes_nothing() {
    let crm = common::test_crm();
    let owed = crm.loyalty_liability(30).unwrap();
    assert_eq!((owed.accounts, owed.holders, owed.outstanding, owed.debt, owed.expiring), (0, 0, 0, 0, 0));
    assert_eq!(owed.expiring_by - owed.as_of, Duration::days(30));
}

#[test]
fn balances_add_up_and_lots_expiring_in_the_window_are_counted() {
    let crm = common::test_crm();
    crm.set_loyalty_program(&Program::from_json(PROGRAM).unwrap()).unwrap();
    let (a, b, c) = (customer(&crm, "A"), customer(&crm, "B"), customer(&crm, "C"));
    crm.record_order(&order("O-1", a, 25, 10_000)).unwrap(); // 100 points, expire in 5 days
    crm.record_order(&order("O-2", a, 1, 5_000)).unwrap(); // 50 points, expire in 29 days
    crm.record_order(&order("O-3", b, 40, 7_000)).unwrap(); // 70 points, due 10 days ago
    crm.redeem_points(a, 30, "R-1").unwrap(); // from the soonest-expiring lot
    customer(&crm, "D"); // no account
    let _ = c;

    let owed = crm.loyalty_liability(7).unwrap();
    assert_eq!((owed.accounts, owed.holders, owed.outstanding, owed.debt), (2, 2, 190, 0));
    assert_eq!(owed.expiring, 70 + 70, "B's overdue lot and what is left of A's first");
    assert_eq!(crm.loyalty_liability(30).unwrap().expiring, 190);
    assert_eq!(crm.loyalty_liability(0).unwrap().expiring, 70);

    // The expiry run takes B's lot: the liability falls by it.
    crm.expire_points(Utc::now()).unwrap();
    let owed = crm.loyalty_liability(7).unwrap();
    assert_eq!((owed.holders, owed.outstanding, owed.expiring), (1, 120, 70));
    let sum: i64 = [a, b].iter().map(|id| crm.points_balance(*id).unwrap().balance).sum();
    assert_eq!(owed.outstanding, sum);
}

#[test]
fn debts_are_counted_apart() {
    let mut p = Program::from_json(PROGRAM).unwrap();
    p.debt = DebtPolicy::AllowNegative;
    let crm = common::test_crm();
    crm.set_loyalty_program(&p).unwrap();
    let (a, b) = (customer(&crm, "A"), customer(&crm, "B"));
    let mut spent = order("O-1", a, 2, 10_000);
    crm.record_order(&spent).unwrap();
    crm.redeem_points(a, 80, "R-1").unwrap();
    spent.status = Some(OrderStatus::Refunded);
    crm.record_order(&spent).unwrap(); // -80: A owes what they spent
    crm.record_order(&order("O-2", b, 2, 4_000)).unwrap();
    let owed = crm.loyalty_liability(90).unwrap();
    assert_eq!((owed.accounts, owed.holders, owed.outstanding, owed.debt), (2, 1, 40, 80));
}

#[test]
fn a_look_ahead_past_the_bound_is_refused() {
    let crm = common::test_crm();
    crm.set_loyalty_program(&Program::from_json(PROGRAM).unwrap()).unwrap();
    let a = customer(&crm, "A");
    crm.record_order(&order("O-1", a, 1, 1_000)).unwrap();
    let before = crm.changes_since(0, 1_000).unwrap();
    assert!(crm.loyalty_liability(3_650).is_ok());
    let e = crm.loyalty_liability(3_651).unwrap_err();
    assert_eq!(e.field(), Some("expiring_within_days"));
    assert!(matches!(e, Error::Validation { .. }));
    assert_eq!(crm.changes_since(0, 1_000).unwrap(), before, "a read writes nothing");
    assert_eq!(crm.loyalty_liability(0).unwrap().outstanding, 10);
}
