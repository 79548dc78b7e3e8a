//! Every correction of an order settles its points so that, whatever sequence of order
//! writes and corrections a host sends (amendments up and down, new lines, another channel,
//! currency or time, status round trips, partial refunds by amount or by lines, moves to
//! another customer, deletions of orders and of customers, retries of any of them), each
//! customer's ledger equals a replay of that customer's current orders through the program:
//! the same orders recorded once, in their current state, into a fresh database.
//!
//! The program's earning depends on the order alone (rates with rounding, multipliers by
//! category, SKU and channel, a per-order cap, a date window, a condition on the
//! customer's country): that is the class of programs for which replay equality is the
//! definition (see the `loyalty::orders` module). Both debt policies are exercised.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::loyalty::{DebtPolicy, Program};
use crm_core::*;
use proptest::prelude::*;

const PROGRAM: &str = r#"{"name": "Replay",
    "rates": {"USD": {"points": 1, "per_minor": 100, "rounding": "nearest"},
              "EUR": {"points": 3, "per_minor": 250}},
    "rules": [
      {"name": "base", "kind": "base"},
      {"name": "shoes x2", "kind": "multiplier", "by": "category", "value": "shoes", "multiplier": 2.0,
       "caps": {"per_order": 120}},
      {"name": "web x1.5", "kind": "multiplier", "by": "channel", "value": "web", "multiplier": 1.5, "stacks": false},
      {"name": "app x1.2", "kind": "multiplier", "by": "channel", "value": "app", "multiplier": 1.2, "stacks": false},
      {"name": "gift x0.5", "kind": "multiplier", "by": "sku", "value": "GIFT", "multiplier": 0.5},
      {"name": "sg toys", "kind": "multiplier", "by": "category", "value": "toys", "multiplier": 3.0,
       "when": "country = \"SG\""},
      {"name": "spring books", "kind": "multiplier", "by": "category", "value": "books", "multiplier": 2.0,
       "from": "2025-03-01T00:00:00Z", "until": "2025-06-01T00:00:00Z"}
    ]}"#;

const COUNTRIES: [&str; 3] = ["SG", "GB", "SG"];
const SKUS: [(&str, &str); 5] =
    [("SHOE", "shoes"), ("TOY", "toys"), ("BOOK", "books"), ("GIFT", "gifts"), ("MUG", "home")];

/// An order's content: time (days into 2025), currency, channel, lines (sku index,
/// quantity, unit price) and the total's difference from the lines' sum.
#[derive(Debug, Clone)]
struct Spec {
    day: i64,
    eur: bool,
    channel: Option<usize>,
    lines: Vec<(usize, i64, i64)>,
    discount: i64,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0i64..300,
        any::<bool>(),
        proptest::option::of(0usize..3),
        proptest::collection::vec((0usize..SKUS.len(), 1i64..4, 1i64..9_000), 0..4),
        0i64..500,
    )
        .prop_map(|(day, eur, channel, lines, discount)| Spec { day, eur, channel, lines, discount })
}

#[derive(Debug, Clone)]
enum Op {
    /// A new order of customer slot `.0`.
    New(usize, Spec),
    /// An order sent again with other content (an amendment), possibly for another customer.
    Amend(usize, Spec, Option<usize>),
    /// An order sent again with only its status changed (0 completed, 1 refunded, 2 cancelled).
    Status(usize, u8),
    /// The same through `update_order` with a patch of the total.
    PatchTotal(usize, u8),
    /// A partial refund: by lines (the first line, one unit) or by an amount (a share in %).
    Refund(usize, bool, u8),
    /// An order deleted.
    Delete(usize),
    /// A customer deleted (with their orders), and a new customer put in their slot.
    DeleteCustomer(usize),
    /// A write repeated exactly (a host's retry).
    Retry(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..3, spec()).prop_map(|(c, s)| Op::New(c, s)),
        3 => (0usize..30, spec(), proptest::option::of(0usize..3)).prop_map(|(i, s, c)| Op::Amend(i, s, c)),
        3 => (0usize..30, 0u8..3).prop_map(|(i, s)| Op::Status(i, s)),
        1 => (0usize..30, 1u8..=150).prop_map(|(i, pct)| Op::PatchTotal(i, pct)),
        2 => (0usize..30, any::<bool>(), 1u8..=100).prop_map(|(i, l, pct)| Op::Refund(i, l, pct)),
        1 => (0usize..30).prop_map(Op::Delete),
        1 => (0usize..3).prop_map(Op::DeleteCustomer),
        2 => (0usize..40).prop_map(Op::Retry),
    ]
}

fn day(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 10, 0, 0).unwrap() + Duration::days(d)
}

fn new_order(ext: &str, customer: CustomerId, s: &Spec) -> NewOrder {
    let items: Vec<LineItem> = s
        .lines
        .iter()
        .map(|&(k, q, p)| LineItem {
            sku: SKUS[k].0.into(),
            category: Some(SKUS[k].1.into()),
            quantity: q,
            unit_price_minor: p,
        })
        .collect();
    let sum: i64 = items.iter().map(|i| i.quantity * i.unit_price_minor).sum();
    NewOrder {
        external_id: ext.into(),
        customer_id: Some(customer),
        customer_external_id: None,
        occurred_at: day(s.day),
        status: Some(OrderStatus::Completed),
        currency: if s.eur { "EUR" } else { "USD" }.parse().unwrap(),
        total_minor: (sum - s.discount).max(0) + 99,
        channel: s.channel.map(|c| ["web", "app", "store"][c].to_string()),
        items: Some(items),
    }
}

/// A write that can be repeated.
#[derive(Debug, Clone)]
enum Write {
    Record(NewOrder),
    Refund(String, Refund),
    Status(String, OrderStatus),
}

fn apply(crm: &Crm, w: &Write) -> Result<()> {
    match w {
        Write::Record(o) => crm.record_order(o).map(drop),
        Write::Refund(ext, r) => crm.refund_order(ext, r).map(drop),
        Write::Status(ext, s) => crm.set_order_status(ext, *s).map(drop),
    }
}

/// What a customer's ledger says: balance, qualifying points, and net points per order
/// (by external id) of the orders that are theirs now.
fn standing(crm: &Crm, c: CustomerId) -> (i64, i64, BTreeMap<String, i64>) {
    let s = crm.points_statement(c).unwrap();
    let mut by_order: BTreeMap<String, i64> = BTreeMap::new();
    for e in &s.entries {
        if let Some(id) = e.order_id {
            if let Ok(o) = crm.get_order(id) {
                if o.customer_id == c {
                    *by_order.entry(o.external_id).or_default() += e.points;
                }
            }
        }
    }
    by_order.retain(|_, v| *v != 0);
    (s.balance.balance, s.entries.iter().map(|e| e.qualifying).sum(), by_order)
}

fn sound(crm: &Crm, c: CustomerId) -> std::result::Result<(), TestCaseError> {
    let s = crm.points_statement(c).unwrap();
    let sum: i64 = s.entries.iter().map(|e| e.points).sum();
    prop_assert_eq!(s.balance.balance, sum);
    let held: i64 = s.lots.iter().filter(|l| !l.expired).map(|l| l.remaining).sum();
    prop_assert_eq!(held, sum.max(0));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_ledger_equals_a_replay_of_its_current_orders(
        ops in proptest::collection::vec(op(), 1..45),
        negative in any::<bool>(),
    ) {
        let mut p = Program::from_json(PROGRAM).unwrap();
        p.debt = if negative { DebtPolicy::AllowNegative } else { DebtPolicy::ClawBackAvailable };
        let crm = common::test_crm();
        crm.set_loyalty_program(&p).unwrap();
        let new_customer = |crm: &Crm, slot: usize, n: usize| {
            crm.create_customer(&NewCustomer {
                name: format!("slot {slot} #{n}"),
                address: Address { country: Some(COUNTRIES[slot].into()), ..Default::default() },
                ..Default::default()
            })
            .unwrap()
            .id
        };
        let mut slots: Vec<CustomerId> = (0..3).map(|s| new_customer(&crm, s, 0)).collect();
        let mut exts: Vec<String> = Vec::new();
        let mut writes: Vec<Write> = Vec::new();
        for (n, op) in ops.into_iter().enumerate() {
            let pick = |i: usize| (!exts.is_empty()).then(|| exts[i % exts.len()].clone());
            let write = match op {
                Op::New(c, s) => {
                    let ext = format!("O-{n}");
                    exts.push(ext.clone());
                    Some(Write::Record(new_order(&ext, slots[c], &s)))
                }
                Op::Amend(i, s, c) => pick(i).and_then(|ext| {
                    let stored = crm.get_order_by_external_id(&ext).ok()?;
                    let customer = c.map_or(stored.customer_id, |c| slots[c]);
                    Some(Write::Record(NewOrder { status: None, ..new_order(&ext, customer, &s) }))
                }),
                Op::Status(i, s) => pick(i).map(|ext| {
                    let status = [OrderStatus::Completed, OrderStatus::Refunded, OrderStatus::Cancelled][usize::from(s)];
                    Write::Status(ext, status)
                }),
                Op::PatchTotal(i, pct) => {
                    if let Some(o) = pick(i).and_then(|ext| crm.get_order_by_external_id(&ext).ok()) {
                        let total = o.total.minor * i64::from(pct) / 100;
                        let patch = OrderPatch { total_minor: Some(total), ..Default::default() };
                        crm.update_order(o.id, &patch).unwrap();
                    }
                    None
                }
                Op::Refund(i, by_lines, pct) => pick(i).and_then(|ext| {
                    let o = crm.get_order_by_external_id(&ext).ok()?;
                    let r = match (by_lines, o.items.first()) {
                        (true, Some(line)) => Refund {
                            key: format!("RF-{n}"),
                            lines: vec![RefundLine { sku: line.sku.clone(), quantity: 1 }],
                            ..Default::default()
                        },
                        _ => Refund {
                            key: format!("RF-{n}"),
                            amount_minor: Some((o.total.minor * i64::from(pct) / 100).max(1)),
                            ..Default::default()
                        },
                    };
                    Some(Write::Refund(ext, r))
                }),
                Op::Delete(i) => {
                    if let Some(o) = pick(i).and_then(|ext| crm.get_order_by_external_id(&ext).ok()) {
                        crm.delete_order(o.id).unwrap();
                    }
                    None
                }
                Op::DeleteCustomer(s) => {
                    crm.delete_customer(slots[s]).unwrap();
                    slots[s] = new_customer(&crm, s, n);
                    None
                }
                Op::Retry(i) => {
                    if let Some(w) = (!writes.is_empty()).then(|| writes[i % writes.len()].clone()) {
                        // A retry of a write whose order or customer has gone since may fail
                        // with a typed error; one that succeeds must change nothing it had
                        // not changed the first time, which the final replay checks.
                        let _ = apply(&crm, &w);
                    }
                    None
                }
            };
            if let Some(w) = write {
                let before = crm.changes_since(0, 10_000).unwrap().len();
                match apply(&crm, &w) {
                    Ok(()) => writes.push(w),
                    // A refusal (a refund of more than is left, of a refunded order, an order
                    // of a deleted customer) writes nothing.
                    Err(Error::Validation { .. } | Error::NotFound { .. }) => {
                        prop_assert_eq!(crm.changes_since(0, 10_000).unwrap().len(), before);
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            for &c in &slots {
                sound(&crm, c)?;
            }
        }

        // The replay: each customer's current orders, recorded once, oldest first.
        let replay = common::test_crm();
        replay.set_loyalty_program(&p).unwrap();
        for (slot, &c) in slots.iter().enumerate() {
            let fresh = new_customer(&replay, slot, 0);
            let mut current: Vec<Order> = exts
                .iter()
                .filter_map(|e| crm.get_order_by_external_id(e).ok())
                .filter(|o| o.customer_id == c)
                .collect();
            current.sort_by_key(|o| (o.occurred_at, o.external_id.clone()));
            for o in &current {
                replay
                    .record_order(&NewOrder {
                        external_id: o.external_id.clone(),
                        customer_id: Some(fresh),
                        customer_external_id: None,
                        occurred_at: o.occurred_at,
                        status: Some(o.status),
                        currency: o.total.currency,
                        total_minor: o.total.minor,
                        channel: o.channel.clone(),
                        items: Some(o.items.clone()),
                    })
                    .unwrap();
            }
            prop_assert_eq!(standing(&crm, c), standing(&replay, fresh), "customer slot {}", slot);
        }
    }
}
