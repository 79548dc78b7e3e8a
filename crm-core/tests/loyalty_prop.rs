//! The ledger's invariants over random sequences of earn, redeem, expire, order, refund,
//! refund undone and replay: the balance is the sum of the entries; it never goes below zero unless the
//! debt policy allows it; replaying any call with its key changes nothing; the points left
//! in the lots are exactly the non-negative part of the balance.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::loyalty::{DebtPolicy, Program};
use crm_core::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Earn(i64),
    Redeem(i64),
    Order(i64),
    Refund(usize, u8),
    /// The order back as it was first recorded (a refund undone).
    Restore(usize),
    Expire,
    Replay(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1i64..200).prop_map(Op::Earn),
        (1i64..300).prop_map(Op::Redeem),
        (1i64..50_000).prop_map(Op::Order),
        (0usize..20, 0u8..=100).prop_map(|(i, pct)| Op::Refund(i, pct)),
        (0usize..20).prop_map(Op::Restore),
        Just(Op::Expire),
        (0usize..40).prop_map(Op::Replay),
    ]
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn check(crm: &Crm, c: CustomerId, debt: DebtPolicy) -> std::result::Result<(), TestCaseError> {
    let s = crm.points_statement(c).unwrap();
    let sum: i64 = s.entries.iter().map(|e| e.points).sum();
    prop_assert_eq!(s.balance.balance, sum);
    if let Some(last) = s.entries.iter().max_by_key(|e| e.id) {
        prop_assert_eq!(last.balance_after, sum);
    }
    let held: i64 = s.lots.iter().filter(|l| !l.expired).map(|l| l.remaining).sum();
    prop_assert_eq!(held, sum.max(0));
    prop_assert!(s.lots.iter().all(|l| (0..=l.points).contains(&l.remaining)));
    if debt == DebtPolicy::ClawBackAvailable {
        prop_assert!(sum >= 0);
        prop_assert!(s.entries.iter().all(|e| e.balance_after >= 0));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn ledger_invariants_hold(ops in proptest::collection::vec(op(), 1..40), negative in any::<bool>()) {
        let debt = if negative { DebtPolicy::AllowNegative } else { DebtPolicy::ClawBackAvailable };
        let mut p = Program::from_json(r#"{"name": "P", "expiry_days": 20,
            "rates": {"USD": {"points": 1, "per_minor": 100}}, "rules": [{"name": "base", "kind": "base"}]}"#).unwrap();
        p.debt = debt;
        let crm = common::test_crm();
        crm.set_loyalty_program(&p).unwrap();
        let c = crm.create_customer(&NewCustomer { name: "P".into(), ..Default::default() }).unwrap().id;
        // Every call made, to replay: (its time, the call).
        let mut done: Vec<(DateTime<Utc>, Op, String)> = Vec::new();
        let mut orders: Vec<NewOrder> = Vec::new();
        let mut originals: Vec<NewOrder> = Vec::new();
        for (n, op) in ops.into_iter().enumerate() {
            let at = start() + Duration::days(n as i64 * 3);
            let key = format!("K-{n}");
            let before = crm.points_statement(c).unwrap();
            match &op {
                Op::Earn(p) => { crm.earn_points_at(c, *p, &key, at).unwrap(); }
                Op::Redeem(p) => match crm.redeem_points_at(c, *p, &key, at) {
                    Ok(_) => {}
                    Err(Error::InsufficientPoints { available, requested }) => {
                        prop_assert!(available < requested);
                        prop_assert_eq!(crm.points_statement(c).unwrap(), before, "a refused redemption writes nothing");
                    }
                    Err(e) => panic!("{e}"),
                },
                Op::Order(total) => {
                    let o: NewOrder = serde_json::from_value(serde_json::json!({
                        "external_id": format!("O-{n}"), "customer_id": c.0, "occurred_at": at,
                        "currency": "USD", "total_minor": total})).unwrap();
                    crm.record_order(&o).unwrap();
                    orders.push(o.clone());
                    originals.push(o);
                }
                Op::Refund(i, pct) => {
                    if orders.is_empty() { continue; }
                    let len = orders.len();
                    let o = &mut orders[i % len];
                    if *pct == 0 { o.status = Some(OrderStatus::Refunded); } else { o.total_minor = o.total_minor * i64::from(*pct) / 100; }
                    crm.record_order(o).unwrap();
                }
                Op::Restore(i) => {
                    if orders.is_empty() { continue; }
                    let i = i % orders.len();
                    orders[i] = originals[i].clone();
                    crm.record_order(&orders[i]).unwrap();
                }
                Op::Expire => { crm.expire_points(at).unwrap(); }
                Op::Replay(i) => {
                    if done.is_empty() { continue; }
                    let (at, op, key) = done[i % done.len()].clone();
                    let feed = crm.changes_since(0, 10_000).unwrap().len();
                    match op {
                        Op::Earn(p) => prop_assert!(crm.earn_points_at(c, p, &key, at).unwrap().replayed),
                        Op::Redeem(p) => if let Ok(r) = crm.redeem_points_at(c, p, &key, at) {
                            prop_assert!(r.replayed, "only a redemption that was refused may succeed later");
                        },
                        Op::Order(_) | Op::Refund(..) | Op::Restore(_) => {
                            for o in &orders { crm.record_order(o).unwrap(); }
                        }
                        Op::Expire => { crm.expire_points(at).unwrap(); }
                        Op::Replay(_) => {}
                    }
                    if !matches!(op, Op::Redeem(_)) {
                        prop_assert_eq!(crm.points_statement(c).unwrap(), before.clone(), "a replay changes nothing");
                        prop_assert_eq!(crm.changes_since(0, 10_000).unwrap().len(), feed);
                    }
                }
            }
            check(&crm, c, debt)?;
            if !matches!(op, Op::Replay(_)) {
                done.push((at, op, key));
            }
        }
    }
}
