//! The loyalty simulator: the stored program replayed over orders recorded through the
//! facade agrees with the live ledger month by month; changed programs change the figures as
//! computed by hand; months are continuous; the redemption models; the dry run writes
//! nothing; every guarded bad input is a typed error.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use crm_core::ingest::IngestOptions;
use crm_core::loyalty::{
    EntryKind, Program, Redemption, RulePoints, SimulatedMonth, Simulation, SimulationOptions, TierCount,
};
use crm_core::synth::{Synth, SynthConfig};
use crm_core::*;

fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn midnight(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn month(at: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", at.year(), at.month())
}

fn customer(crm: &Crm, ext: &str, country: &str, tags: &[&str]) -> CustomerId {
    crm.upsert_customer(&NewCustomer {
        external_id: Some(ext.into()),
        name: ext.into(),
        address: Address { country: Some(country.into()), ..Default::default() },
        tags: tags.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .unwrap()
    .record
    .id
}

fn item(sku: &str, category: &str, quantity: i64, unit_price_minor: i64) -> LineItem {
    LineItem { sku: sku.into(), category: Some(category.into()), quantity, unit_price_minor }
}

fn order(ext: &str, c: CustomerId, at: DateTime<Utc>, total: i64, items: Vec<LineItem>) -> NewOrder {
    NewOrder {
        external_id: ext.into(),
        customer_id: Some(c),
        customer_external_id: None,
        occurred_at: at,
        status: Some(OrderStatus::Completed),
        currency: "USD".parse().unwrap(),
        total_minor: total,
        channel: None,
        items: Some(items),
    }
}

fn options(until: DateTime<Utc>) -> SimulationOptions {
    SimulationOptions { until: Some(until), ..Default::default() }
}

fn program(json: &str) -> Program {
    Program::from_json(json).unwrap()
}

/// `(month, issued, redeemed, expired, outstanding)` of every month.
fn flows(s: &Simulation) -> Vec<(&str, i64, i64, i64, i64)> {
    s.months.iter().map(|m| (m.month.as_str(), m.issued, m.redeemed, m.expired, m.outstanding)).collect()
}

/// Every month follows from the one before, none is skipped, and the totals add up.
fn assert_continuous(s: &Simulation) {
    let mut prev: Option<&SimulatedMonth> = None;
    for m in &s.months {
        let before = prev.map_or(0, |p| p.outstanding);
        assert_eq!(m.outstanding, before + m.issued - m.redeemed - m.expired, "{}", m.month);
        assert!(m.outstanding >= 0 && m.redeemed >= 0 && m.expired >= 0 && m.issued >= 0);
        assert!(m.earning_orders <= m.orders && m.customers_earning <= m.earning_orders);
        if let Some(p) = prev {
            let (py, pm) = (p.month[..4].parse::<i32>().unwrap(), p.month[5..].parse::<u32>().unwrap());
            let next = if pm == 12 { format!("{:04}-01", py + 1) } else { format!("{py:04}-{:02}", pm + 1) };
            assert_eq!(m.month, next, "months are consecutive");
        }
        prev = Some(m);
    }
    let sum = |f: fn(&SimulatedMonth) -> i64| s.months.iter().map(f).sum::<i64>();
    assert_eq!(s.totals.issued, sum(|m| m.issued));
    assert_eq!(s.totals.redeemed, sum(|m| m.redeemed));
    assert_eq!(s.totals.expired, sum(|m| m.expired));
    assert_eq!(s.totals.orders, sum(|m| m.orders));
    assert_eq!(s.totals.earning_orders, sum(|m| m.earning_orders));
    assert_eq!(s.totals.outstanding, s.months.last().map_or(0, |m| m.outstanding));
    assert_eq!(s.totals.outstanding, s.totals.issued - s.totals.redeemed - s.totals.expired);
}

// ---------------------------------------------------------------------------------------
// Agreement with the live ledger

/// A small deterministic generator (no dependency on the crate's synthetic data, whose
/// customers buy in many currencies).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const CATEGORIES: [&str; 4] = ["shoes", "socks", "hats", "bags"];

/// Customers in two countries, some tagged, with orders over two years recorded through the
/// facade in time order: items in several categories, some via the web, a few in EUR (no
/// rate), a few refunded or cancelled when recorded.
fn recorded_history(crm: &Crm, seed: u64) -> Vec<CustomerId> {
    let mut r = Lcg(seed);
    let customers: Vec<CustomerId> = (0..14)
        .map(|i| {
            let country = if i % 3 == 0 { "SG" } else { "US" };
            let tags: &[&str] = if i % 4 == 0 { &["vip"] } else { &[] };
            customer(crm, &format!("C-{i}"), country, tags)
        })
        .collect();
    let mut orders = Vec::new();
    for (i, &c) in customers.iter().enumerate() {
        let n = if i == 13 { 0 } else { r.next(18) + 1 };
        for k in 0..n {
            let at = t(2024, 1, 1) + Duration::minutes(r.next(730 * 24 * 60) as i64);
            let items: Vec<LineItem> = (0..r.next(3) + 1)
                .map(|j| {
                    let cat = CATEGORIES[r.next(4) as usize];
                    item(&format!("{cat}-{j}"), cat, r.next(3) as i64 + 1, (r.next(120) as i64 + 5) * 100)
                })
                .collect();
            let total = items.iter().map(|it| it.quantity * it.unit_price_minor).sum();
            let mut o = order(&format!("O-{i}-{k}"), c, at, total, items);
            if r.next(5) == 0 {
                o.channel = Some("web".into());
            }
            if r.next(15) == 0 {
                o.currency = "EUR".parse().unwrap();
            }
            match r.next(20) {
                0 => o.status = Some(OrderStatus::Refunded),
                1 => o.status = Some(OrderStatus::Cancelled),
                _ => {}
            }
            orders.push(o);
        }
    }
    orders.sort_by_key(|o| o.occurred_at);
    for o in &orders {
        crm.record_order(o).unwrap();
    }
    customers
}

/// Rates, multipliers of every kind (with per-order, per-day and per-month caps, stacking
/// and not), conditions on the customer, its statistics and its orders, a first-order
/// bonus, tiers, pending points and expiry.
fn rich_program(tiers: &str, expiry: &str) -> String {
    format!(
        r#"{{
  "name": "Stars",
  "rates": {{"USD": {{"points": 1, "per_minor": 100}}}},
  "rules": [
    {{"name": "base", "kind": "base"}},
    {{"name": "shoes", "kind": "multiplier", "by": "category", "value": "shoes", "multiplier": 3.0,
      "caps": {{"per_order": 40, "per_month": 100}}}},
    {{"name": "web", "kind": "multiplier", "by": "channel", "value": "web", "multiplier": 1.5,
      "caps": {{"per_day": 30}}, "stacks": false}},
    {{"name": "socks for regulars", "kind": "multiplier", "by": "category", "value": "socks",
      "multiplier": 2.0, "stacks": false, "when": "count(orders within 60 days) >= 2"}},
    {{"name": "sg", "kind": "multiplier", "by": "category", "value": "hats", "multiplier": 2.0,
      "when": "country = \"SG\" and order_count >= 3"}},
    {{"name": "vip bags", "kind": "multiplier", "by": "sku", "value": "bags-0", "multiplier": 1.25,
      "when": "\"vip\" in tags"}},
    {{"name": "gold", "kind": "multiplier", "by": "tier", "value": "gold", "multiplier": 2.0}},
    {{"name": "welcome", "kind": "bonus", "event": "first_order", "points": 25}}
  ],
  "tiers": {tiers},
  "pending_days": 14{expiry}
}}"#
    )
}

/// Live ledger figures per month, read back through the facade.
#[derive(Debug, Default, PartialEq, Eq)]
struct Ledger {
    issued: BTreeMap<String, i64>,
    earning_orders: BTreeMap<String, i64>,
    customers_earning: BTreeMap<String, BTreeSet<CustomerId>>,
    redeemed: BTreeMap<String, i64>,
    expired: BTreeMap<String, i64>,
    rules: BTreeMap<String, (i64, i64)>,
}

fn ledger(crm: &Crm, customers: &[CustomerId]) -> Ledger {
    let mut l = Ledger::default();
    for &c in customers {
        for e in crm.points_statement(c).unwrap().entries {
            let m = month(e.at);
            match e.kind {
                EntryKind::Earn => {
                    *l.issued.entry(m.clone()).or_default() += e.points;
                    *l.earning_orders.entry(m.clone()).or_default() += 1;
                    l.customers_earning.entry(m).or_default().insert(c);
                    let note: serde_json::Value = serde_json::from_str(e.note.as_deref().unwrap()).unwrap();
                    let rules: Vec<RulePoints> = serde_json::from_value(note["rules"].clone()).unwrap();
                    for r in rules {
                        let t = l.rules.entry(r.rule).or_default();
                        t.0 += r.points;
                        t.1 += 1;
                    }
                }
                EntryKind::Redeem => *l.redeemed.entry(m).or_default() -= e.points,
                EntryKind::Expire => *l.expired.entry(m).or_default() -= e.points,
                k => panic!("unexpected {k:?} entry"),
            }
        }
    }
    l
}

fn nonzero(s: &Simulation, f: fn(&SimulatedMonth) -> i64) -> BTreeMap<String, i64> {
    s.months.iter().filter(|m| f(m) != 0).map(|m| (m.month.clone(), f(m))).collect()
}

/// Checks a simulation of the stored program against the live ledger, month by month.
fn assert_agrees(crm: &Crm, customers: &[CustomerId], s: &Simulation, until: DateTime<Utc>) {
    let l = ledger(crm, customers);
    assert!(!l.issued.is_empty());
    assert_eq!(nonzero(s, |m| m.issued), l.issued, "points issued per month");
    assert_eq!(nonzero(s, |m| m.earning_orders), l.earning_orders, "earning orders per month");
    let customers_earning: BTreeMap<String, i64> =
        l.customers_earning.iter().map(|(m, c)| (m.clone(), c.len() as i64)).collect();
    assert_eq!(nonzero(s, |m| m.customers_earning), customers_earning);
    assert_eq!(nonzero(s, |m| m.redeemed), l.redeemed, "points redeemed per month");
    assert_eq!(nonzero(s, |m| m.expired), l.expired, "points expired per month");
    let rules: BTreeMap<String, (i64, i64)> =
        s.rules.iter().filter(|r| r.orders > 0).map(|r| (r.rule.clone(), (r.points, r.orders))).collect();
    assert_eq!(rules, l.rules, "points per rule");
    // Outstanding and accounts with points at every month end: the balances as of then.
    for m in &s.months {
        let (y, mo): (i32, u32) = (m.month[..4].parse().unwrap(), m.month[5..].parse().unwrap());
        let next = if mo == 12 { midnight(y + 1, 1, 1) } else { midnight(y, mo + 1, 1) };
        let end = next.min(until) - Duration::microseconds(1);
        let balances: Vec<i64> = customers.iter().map(|&c| crm.points_balance_as_of(c, end).unwrap()).collect();
        assert_eq!(m.outstanding, balances.iter().sum::<i64>(), "outstanding at the end of {}", m.month);
        assert_eq!(m.accounts_with_balance, balances.iter().filter(|b| **b > 0).count() as i64, "{}", m.month);
    }
    let balances: i64 = customers.iter().map(|&c| crm.points_balance(c).unwrap().balance).sum();
    assert_eq!(s.totals.outstanding, balances);
    // Tiers at the end, and accounts.
    if let Some(tiers) = &s.tiers {
        let mut live: BTreeMap<String, i64> = BTreeMap::new();
        for &c in customers {
            if let Some(t) = crm.points_balance(c).unwrap().tier {
                *live.entry(t).or_default() += 1;
            }
        }
        let sim: BTreeMap<String, i64> =
            tiers.iter().filter(|t| t.accounts > 0).map(|t| (t.tier.clone(), t.accounts)).collect();
        assert_eq!(sim, live, "tiers at the end");
        assert!(!live.is_empty(), "the fixture reaches some tier");
    }
    assert_continuous(s);
}

#[test]
fn the_stored_program_agrees_with_the_live_ledger_month_by_month() {
    let until = midnight(2026, 1, 1);
    let variants = [
        (
            r#"{"basis": {"by": "points"}, "window_days": 180, "levels": [{"name": "silver", "min": 150}, {"name": "gold", "min": 400}]}"#,
            r#", "expiry_days": 200"#,
        ),
        (
            r#"{"basis": {"by": "spend", "currency": "USD"}, "window_days": 90, "levels": [{"name": "silver", "min": 30000}, {"name": "gold", "min": 90000}]}"#,
            r#", "expiry_days": 45"#,
        ),
        (
            r#"{"basis": {"by": "orders"}, "window_days": 120, "levels": [{"name": "silver", "min": 3}, {"name": "gold", "min": 6}]}"#,
            "",
        ),
    ];
    for (seed, (tiers, expiry)) in variants.into_iter().enumerate() {
        let crm = common::test_crm();
        let p = program(&rich_program(tiers, expiry));
        crm.set_loyalty_program(&p).unwrap();
        let customers = recorded_history(&crm, seed as u64 + 7);
        // The live ledger expires what is due before the end of the run.
        crm.expire_points(until - Duration::microseconds(1)).unwrap();
        let s = crm.simulate_loyalty(None, &options(until)).unwrap();
        assert_eq!(s, crm.simulate_loyalty(Some(&p), &options(until)).unwrap(), "stored = the same program given");
        assert_eq!(s.months.first().unwrap().month, "2024-01");
        assert_eq!(s.months.last().unwrap().month, "2025-12");
        assert_eq!(s.months.len(), 24);
        if !expiry.is_empty() {
            assert!(s.totals.expired > 0, "the fixture expires points");
        }
        let accounts = customers.iter().filter(|&&c| crm.customer_stats(c).unwrap().order_count > 0).count();
        assert_eq!(s.totals.accounts, accounts as i64, "every customer with a completed order");
        assert_agrees(&crm, &customers, &s, until);
        // One customer at a time gives that customer's figures.
        let mut outstanding = 0;
        for &c in &customers {
            let one = SimulationOptions { customers: Some(vec![c]), ..options(until) };
            let s1 = crm.simulate_loyalty(None, &one).unwrap();
            assert_eq!(s1.totals.outstanding, crm.points_balance(c).unwrap().balance);
            outstanding += s1.totals.outstanding;
        }
        assert_eq!(outstanding, s.totals.outstanding);
    }
}

#[test]
fn actual_redemptions_replayed_under_the_stored_program_agree_with_the_ledger() {
    let until = midnight(2026, 1, 1);
    let crm = common::test_crm();
    let tiers =
        r#"{"basis": {"by": "points"}, "levels": [{"name": "silver", "min": 150}, {"name": "gold", "min": 400}]}"#;
    crm.set_loyalty_program(&program(&rich_program(tiers, r#", "expiry_days": 120"#))).unwrap();
    let customers = recorded_history(&crm, 3);
    // Redemptions in time order, after the orders: each sees the lots of its time.
    let mut r = Lcg(11);
    let mut redeemed = 0;
    for k in 0..120 {
        let at = t(2024, 2, 1) + Duration::hours(k * 120 + 3);
        let c = customers[r.next(customers.len() as u64) as usize];
        match crm.redeem_points_at(c, r.next(60) as i64 + 1, &format!("R-{k}"), at) {
            Ok(_) => redeemed += 1,
            Err(Error::InsufficientPoints { .. }) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(redeemed > 20, "the fixture redeems ({redeemed})");
    crm.expire_points(until - Duration::microseconds(1)).unwrap();
    let actual = SimulationOptions { redemption: Redemption::Actual, ..options(until) };
    let s = crm.simulate_loyalty(None, &actual).unwrap();
    assert!(s.totals.redeemed > 0);
    assert_agrees(&crm, &customers, &s, until);

    // Under a stingier program the same redemptions are capped to what accounts hold.
    let mut stingy = crm.loyalty_program().unwrap().unwrap();
    stingy.rates.get_mut(&"USD".parse().unwrap()).unwrap().per_minor = 1_000;
    let less = crm.simulate_loyalty(Some(&stingy), &actual).unwrap();
    assert!(less.totals.issued < s.totals.issued);
    assert!(less.totals.redeemed < s.totals.redeemed);
    assert_continuous(&less);
}

// ---------------------------------------------------------------------------------------
// Changed programs, by hand

/// Ada buys in January and February, Bob once in February after a refunded order:
///
/// | order | customer | when | total | items |
/// |---|---|---|---|---|
/// | O1 | Ada | 2025-01-10 | 100.00 | shoes 60.00, socks 2 x 20.00 |
/// | O2 | Ada | 2025-01-20 | 50.00 | socks 50.00 |
/// | P2 | Bob | 2025-01-25 | 500.00, refunded | |
/// | P1 | Bob | 2025-02-01 | 30.00 | |
/// | O3 | Ada | 2025-02-15 | 200.00 | shoes 200.00 |
/// | O4 | Ada | 2025-02-20 | 80.00 | shoes 80.00 |
fn fixture(stored: &str) -> (Crm, CustomerId, CustomerId) {
    let crm = common::test_crm();
    crm.set_loyalty_program(&program(stored)).unwrap();
    let ada = customer(&crm, "ada", "GB", &[]);
    let bob = customer(&crm, "bob", "GB", &[]);
    let mut refunded = order("P2", bob, t(2025, 1, 25), 50_000, vec![]);
    refunded.status = Some(OrderStatus::Refunded);
    for o in [
        order("O1", ada, t(2025, 1, 10), 10_000, vec![item("S1", "shoes", 1, 6_000), item("K1", "socks", 2, 2_000)]),
        order("O2", ada, t(2025, 1, 20), 5_000, vec![item("K1", "socks", 1, 5_000)]),
        refunded,
        order("P1", bob, t(2025, 2, 1), 3_000, vec![]),
        order("O3", ada, t(2025, 2, 15), 20_000, vec![item("S2", "shoes", 1, 20_000)]),
        order("O4", ada, t(2025, 2, 20), 8_000, vec![item("S1", "shoes", 1, 8_000)]),
    ] {
        crm.record_order(&o).unwrap();
    }
    (crm, ada, bob)
}

const BASE: &str = r#"{"name": "Base", "rates": {"USD": {"points": 1, "per_minor": 100}},
    "rules": [{"name": "base", "kind": "base"}]}"#;

fn until() -> DateTime<Utc> {
    midnight(2025, 4, 1)
}

#[test]
fn changed_programs_change_the_figures_as_computed_by_hand() {
    let (crm, ..) = fixture(BASE);
    let stored = crm.simulate_loyalty(None, &options(until())).unwrap();
    // January 100 + 50; February 30 + 200 + 80; the refunded order never earns.
    assert_eq!(flows(&stored), [("2025-01", 150, 0, 0, 150), ("2025-02", 310, 0, 0, 460), ("2025-03", 0, 0, 0, 460)]);
    let jan = &stored.months[0];
    assert_eq!((jan.orders, jan.earning_orders, jan.customers_earning, jan.accounts_with_balance), (2, 2, 1, 1));
    let feb = &stored.months[1];
    assert_eq!((feb.orders, feb.earning_orders, feb.customers_earning, feb.accounts_with_balance), (3, 3, 2, 2));
    assert_eq!((stored.totals.accounts, stored.totals.customers_earning, stored.totals.orders), (2, 2, 5));
    assert_eq!(stored.tiers, None);

    // Double the rate.
    let double = program(&BASE.replace(r#""points": 1"#, r#""points": 2"#));
    let s = crm.simulate_loyalty(Some(&double), &options(until())).unwrap();
    assert_eq!(flows(&s), [("2025-01", 300, 0, 0, 300), ("2025-02", 620, 0, 0, 920), ("2025-03", 0, 0, 0, 920)]);

    // Add a category multiplier: shoes earn double (60 + 200 + 80 extra).
    let shoes = r#"{"name": "Shoes", "rates": {"USD": {"points": 1, "per_minor": 100}},
        "rules": [{"name": "base", "kind": "base"},
                  {"name": "shoes", "kind": "multiplier", "by": "category", "value": "shoes", "multiplier": 2.0}]}"#;
    let s = crm.simulate_loyalty(Some(&program(shoes)), &options(until())).unwrap();
    assert_eq!(flows(&s), [("2025-01", 210, 0, 0, 210), ("2025-02", 590, 0, 0, 800), ("2025-03", 0, 0, 0, 800)]);
    let rules: Vec<(&str, i64, i64)> = s.rules.iter().map(|r| (r.rule.as_str(), r.points, r.orders)).collect();
    assert_eq!(rules, [("base", 460, 5), ("shoes", 340, 3)]);

    // Cap it: 100 per order (O3 gets 100), 120 per month (O4 gets the 20 February has left).
    let capped = program(
        &shoes.replace(r#""multiplier": 2.0}"#, r#""multiplier": 2.0, "caps": {"per_order": 100, "per_month": 120}}"#),
    );
    let s = crm.simulate_loyalty(Some(&capped), &options(until())).unwrap();
    assert_eq!(flows(&s), [("2025-01", 210, 0, 0, 210), ("2025-02", 430, 0, 0, 640), ("2025-03", 0, 0, 0, 640)]);
    assert_eq!(s.rules[1], crm_core::loyalty::RuleTotal { rule: "shoes".into(), points: 180, orders: 3 });

    // Nothing was stored: the stored program still simulates as before.
    assert_eq!(crm.loyalty_program().unwrap().unwrap().name, "Base");
    assert_eq!(crm.simulate_loyalty(None, &options(until())).unwrap(), stored);
}

#[test]
fn expiry_counts_in_the_month_a_lot_expires() {
    let (crm, ..) = fixture(BASE);
    // Lots live 30 days: January's expire in February, February's in March.
    let p = program(&BASE.replace("\"rules\"", "\"expiry_days\": 30, \"rules\""));
    let s = crm.simulate_loyalty(Some(&p), &options(until())).unwrap();
    assert_eq!(flows(&s), [("2025-01", 150, 0, 0, 150), ("2025-02", 310, 0, 150, 310), ("2025-03", 0, 0, 310, 0)]);
    assert_eq!(s.months[2].accounts_with_balance, 0);
    // Ending the run before a lot's expiry leaves it outstanding.
    let early = crm.simulate_loyalty(Some(&p), &options(t(2025, 3, 10))).unwrap();
    // Bob's 30 expire on 3 March; Ada's February lots on 17 and 22 March, after the end.
    assert_eq!(flows(&early).last().unwrap(), &("2025-03", 0, 0, 30, 280));
    assert_continuous(&early);
}

#[test]
fn a_start_date_launches_the_program_then_with_history_behind_it() {
    let (crm, ..) = fixture(BASE);
    // Silver for 2 orders in a year; silver doubles; a first-order bonus.
    let p = program(
        r#"{"name": "Launch", "rates": {"USD": {"points": 1, "per_minor": 100}},
        "rules": [{"name": "base", "kind": "base"},
                  {"name": "silver", "kind": "multiplier", "by": "tier", "value": "silver", "multiplier": 2.0},
                  {"name": "welcome", "kind": "bonus", "event": "first_order", "points": 25}],
        "tiers": {"basis": {"by": "orders"}, "levels": [{"name": "silver", "min": 2}]}}"#,
    );
    let opts = SimulationOptions { from: Some(midnight(2025, 1, 15)), ..options(until()) };
    let s = crm.simulate_loyalty(Some(&p), &opts).unwrap();
    // O1 is history: O2 is Ada's first order of the program (50 + 25), and with O1 makes her
    // silver; O3 and O4 earn double. Bob: P1 earns 30 + 25 (the refunded P2 never counted).
    assert_eq!(flows(&s), [("2025-01", 75, 0, 0, 75), ("2025-02", 615, 0, 0, 690), ("2025-03", 0, 0, 0, 690)]);
    assert_eq!(s.months[0].orders, 1);
    assert_eq!(s.tiers, Some(vec![TierCount { tier: "silver".into(), accounts: 1 }]));
    assert_eq!(s.from, opts.from);
    // A start before any order reports every month from it.
    let opts = SimulationOptions { from: Some(midnight(2024, 11, 20)), ..options(until()) };
    let s = crm.simulate_loyalty(Some(&p), &opts).unwrap();
    assert_eq!(
        s.months.iter().map(|m| m.month.as_str()).collect::<Vec<_>>(),
        ["2024-11", "2024-12", "2025-01", "2025-02", "2025-03"]
    );
    assert_continuous(&s);
}

// ---------------------------------------------------------------------------------------
// Redemption models

#[test]
fn the_rate_model_redeems_a_share_of_what_is_redeemable_at_each_month_end() {
    let (crm, ada, _) = fixture(BASE);
    let rate = |permille| SimulationOptions { redemption: Redemption::Rate { permille }, ..options(until()) };
    // Points are pending for 10 days: O4 (20 February) is not redeemable at February's end.
    let p = program(&BASE.replace("\"rules\"", "\"pending_days\": 10, \"rules\""));
    let s = crm.simulate_loyalty(Some(&p), &rate(500)).unwrap();
    // January: Ada 150 -> 75. February: Ada holds 355, of which 275 redeemable -> 137; Bob
    // 30 -> 15. March: Ada 218 -> 109, Bob 15 -> 7.
    assert_eq!(flows(&s), [("2025-01", 150, 75, 0, 75), ("2025-02", 310, 152, 0, 233), ("2025-03", 0, 116, 0, 117)]);
    let none = crm.simulate_loyalty(Some(&p), &rate(0)).unwrap();
    assert_eq!(none.totals.redeemed, 0);
    let all = crm.simulate_loyalty(Some(&p), &rate(1_000)).unwrap();
    assert_eq!(flows(&all), [("2025-01", 150, 150, 0, 0), ("2025-02", 310, 230, 0, 80), ("2025-03", 0, 80, 0, 0)]);

    // With expiry, redemption takes the soonest-expiring lots first (45 days: O1 expires on
    // 24 February, O2 on 6 March).
    let p = program(&BASE.replace("\"rules\"", "\"expiry_days\": 45, \"rules\""));
    let only_ada = SimulationOptions { customers: Some(vec![ada]), ..rate(500) };
    let s = crm.simulate_loyalty(Some(&p), &only_ada).unwrap();
    // January: 75 of O1's 100 go. February: O1's last 25 expire; of 330, 165 are redeemed
    // (all of O2, 115 of O3). March: nothing left of O2 to expire; 82 of 165 redeemed.
    assert_eq!(flows(&s), [("2025-01", 150, 75, 0, 75), ("2025-02", 280, 165, 25, 165), ("2025-03", 0, 82, 0, 83)]);

    // A month that `until` cuts short has no month-end redemption.
    let cut = SimulationOptions { until: Some(t(2025, 3, 10)), ..rate(500) };
    let s = crm.simulate_loyalty(Some(&program(BASE)), &cut).unwrap();
    assert_eq!(s.months.last().unwrap().redeemed, 0);
    assert_continuous(&s);
}

#[test]
fn months_are_continuous_on_synthetic_data() {
    let crm = common::test_crm();
    let synth = Synth::new(SynthConfig { customers: 300, ..Default::default() });
    crm.ingest_customers(synth.customers(), IngestOptions::default()).unwrap();
    crm.ingest_orders(synth.orders(), IngestOptions::default()).unwrap();
    let mut rates = String::new();
    for cur in ["USD", "EUR", "GBP", "SGD", "CNY", "JPY", "AUD", "INR", "BRL"] {
        rates.push_str(&format!(r#""{cur}": {{"points": 1, "per_minor": 100}},"#));
    }
    let p = program(&format!(
        r#"{{"name": "Synth", "rates": {{{}}},
        "rules": [{{"name": "base", "kind": "base"}},
                  {{"name": "shoes", "kind": "multiplier", "by": "category", "value": "shoes", "multiplier": 2.0, "caps": {{"per_month": 500}}}},
                  {{"name": "gold", "kind": "multiplier", "by": "tier", "value": "gold", "multiplier": 1.5}},
                  {{"name": "welcome", "kind": "bonus", "event": "first_order", "points": 50}}],
        "tiers": {{"basis": {{"by": "orders"}}, "levels": [{{"name": "silver", "min": 3}}, {{"name": "gold", "min": 8}}]}},
        "expiry_days": 365, "pending_days": 30}}"#,
        rates.trim_end_matches(',')
    ));
    let end = synth.config().end;
    for redemption in [Redemption::None, Redemption::Rate { permille: 150 }, Redemption::Actual] {
        let s = crm.simulate_loyalty(Some(&p), &SimulationOptions { redemption, ..options(end) }).unwrap();
        assert_continuous(&s);
        assert_eq!(s.months.len(), 36, "three years of orders");
        assert!(s.totals.issued > 0 && s.totals.expired > 0);
        assert_eq!(s.totals.redeemed > 0, matches!(redemption, Redemption::Rate { .. }), "no real redemptions here");
        let tiers = s.tiers.as_ref().unwrap();
        assert!(tiers.iter().all(|t| t.accounts > 0));
        assert!(tiers.iter().map(|t| t.accounts).sum::<i64>() <= s.totals.accounts);
    }
}

// ---------------------------------------------------------------------------------------
// Dry run and bad input

/// Everything a simulation must leave as it was: every account's statement, the program,
/// the change feed, and the database file's bytes.
fn snapshot(crm: &Crm, customers: &[CustomerId], files: &[std::path::PathBuf]) -> String {
    let mut out = String::new();
    for &c in customers {
        out.push_str(&serde_json::to_string(&crm.points_statement(c).unwrap()).unwrap());
    }
    out.push_str(&serde_json::to_string(&crm.loyalty_program().unwrap()).unwrap());
    out.push_str(&serde_json::to_string(&crm.changes_since(0, 10_000).unwrap()).unwrap());
    for f in files {
        let bytes = std::fs::read(f).unwrap_or_default();
        out.push_str(&format!("{}:{}:{:x}", f.display(), bytes.len(), fnv(&bytes)));
    }
    out
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

#[test]
fn a_simulation_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    let crm = Crm::open(&path).unwrap();
    let tiers =
        r#"{"basis": {"by": "points"}, "levels": [{"name": "silver", "min": 150}, {"name": "gold", "min": 400}]}"#;
    let p = program(&rich_program(tiers, r#", "expiry_days": 90"#));
    crm.set_loyalty_program(&p).unwrap();
    let customers = recorded_history(&crm, 5);
    crm.redeem_points_at(customers[0], 1, "R-1", t(2025, 6, 1)).ok();
    // Not the `-shm` index: readers take their read marks there.
    let files: Vec<_> = ["", "-wal"].iter().map(|x| dir.path().join(format!("crm.db{x}"))).collect();
    let before = snapshot(&crm, &customers, &files);
    let mut changed = p.clone();
    changed.rules[0].caps.per_order = Some(3);
    for redemption in [Redemption::None, Redemption::Rate { permille: 400 }, Redemption::Actual] {
        let opts = SimulationOptions { redemption, ..Default::default() };
        crm.simulate_loyalty(None, &opts).unwrap();
        crm.simulate_loyalty(Some(&changed), &opts).unwrap();
        crm.simulate_loyalty(Some(&changed), &SimulationOptions { customers: Some(customers.clone()), ..opts })
            .unwrap();
    }
    assert_eq!(snapshot(&crm, &customers, &files), before);
}

/// Runs `f`, expects a validation error on `field`, and checks nothing changed.
fn refused(crm: &Crm, customers: &[CustomerId], field: &str, f: impl FnOnce() -> Result<Simulation>) {
    let before = snapshot(crm, customers, &[]);
    match f() {
        Err(Error::Validation { field: got, reason }) => assert_eq!(got, field, "{reason}"),
        other => panic!("expected a validation error on {field}, got {other:?}"),
    }
    assert_eq!(snapshot(crm, customers, &[]), before);
}

#[test]
fn bad_input_is_refused_with_a_typed_error_and_writes_nothing() {
    // No stored program.
    let crm = common::test_crm();
    let c = customer(&crm, "C-1", "US", &[]);
    crm.record_order(&order("O-1", c, t(2025, 1, 1), 1_000, vec![])).unwrap();
    refused(&crm, &[c], "program", || crm.simulate_loyalty(None, &SimulationOptions::default()));

    let (crm, ada, bob) = fixture(BASE);
    let all = [ada, bob];
    let ok = SimulationOptions::default();
    // Every kind of candidate the validator refuses (read without validation, as a host
    // building one in code might).
    let bad = [
        (r#"{"name": "", "rules": []}"#, "name"),
        (r#"{"name": "P", "rates": {"USD": {"points": -1, "per_minor": 100}}}"#, "rates.USD.points"),
        (r#"{"name": "P", "rates": {"USD": {"points": 1, "per_minor": 0}}}"#, "rates.USD.per_minor"),
        (r#"{"name": "P", "expiry_days": 0}"#, "expiry_days"),
        (r#"{"name": "P", "rules": [{"name": "b", "kind": "base"}, {"name": "b", "kind": "base"}]}"#, "rules[1].name"),
        (
            r#"{"name": "P", "rules": [{"name": "m", "kind": "multiplier", "by": "sku", "value": "x"}]}"#,
            "rules[0].multiplier",
        ),
        (r#"{"name": "P", "rules": [{"name": "b", "kind": "base", "multiplier": 2}]}"#, "rules[0].multiplier"),
        (
            r#"{"name": "P", "rules": [{"name": "m", "kind": "multiplier", "by": "sku", "value": "x", "multiplier": -2}]}"#,
            "rules[0].multiplier",
        ),
        (r#"{"name": "P", "rules": [{"name": "b", "kind": "bonus", "event": "sign_up"}]}"#, "rules[0].points"),
        (
            r#"{"name": "P", "rules": [{"name": "b", "kind": "bonus", "event": "sign_up", "points": 0}]}"#,
            "rules[0].points",
        ),
        (r#"{"name": "P", "rules": [{"name": "b", "kind": "base", "caps": {"per_day": 0}}]}"#, "rules[0].caps.per_day"),
        (
            r#"{"name": "P", "rules": [{"name": "b", "kind": "base", "from": "2025-02-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}]}"#,
            "rules[0].until",
        ),
        (
            r#"{"name": "P", "rules": [{"name": "b", "kind": "base", "when": "shoe_size > 3"}]}"#,
            "rules[0].when.shoe_size",
        ),
        (
            r#"{"name": "P", "rules": [{"name": "t", "kind": "multiplier", "by": "tier", "value": "gold", "multiplier": 2}]}"#,
            "rules[0].value",
        ),
        (r#"{"name": "P", "tiers": {"basis": {"by": "points"}, "levels": []}}"#, "tiers.levels"),
        (
            r#"{"name": "P", "tiers": {"basis": {"by": "points"}, "window_days": 0, "levels": [{"name": "a", "min": 1}]}}"#,
            "tiers.window_days",
        ),
        (
            r#"{"name": "P", "tiers": {"basis": {"by": "points"}, "levels": [{"name": "a", "min": 0, "max": 200}, {"name": "b", "min": 100}]}}"#,
            "tiers.levels[1].min",
        ),
        (
            r#"{"name": "P", "rates": {"USD": {"points": 1, "per_minor": 1}}, "tiers": {"basis": {"by": "spend", "currency": "EUR"}, "levels": [{"name": "a", "min": 1}]}}"#,
            "tiers.basis.currency",
        ),
    ];
    for (json, field) in bad {
        let p: Program = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        refused(&crm, &all, field, || crm.simulate_loyalty(Some(&p), &ok));
    }
    // Bad options.
    let opts = |f: &dyn Fn(&mut SimulationOptions)| {
        let mut o = SimulationOptions::default();
        f(&mut o);
        o
    };
    let cases: [(SimulationOptions, &str); 7] = [
        (opts(&|o| (o.from, o.until) = (Some(t(2025, 3, 1)), Some(t(2025, 2, 1)))), "from"),
        (opts(&|o| (o.from, o.until) = (Some(t(2025, 3, 1)), Some(t(2025, 3, 1)))), "from"),
        (opts(&|o| o.from = Some(Utc::now() + Duration::days(2))), "from"),
        (opts(&|o| o.until = Some(Utc::now() + Duration::days(365 * 101))), "until"),
        (opts(&|o| o.redemption = Redemption::Rate { permille: -1 }), "redemption.rate.permille"),
        (opts(&|o| o.redemption = Redemption::Rate { permille: 1_001 }), "redemption.rate.permille"),
        (opts(&|o| o.customers = Some(vec![])), "customers"),
    ];
    for (o, field) in cases {
        refused(&crm, &all, field, || crm.simulate_loyalty(None, &o));
        refused(&crm, &all, field, || crm.simulate_loyalty(Some(&program(BASE)), &o));
    }
    let too_many = opts(&|o| o.customers = Some(vec![ada; loyalty::MAX_SIMULATED_CUSTOMERS + 1]));
    refused(&crm, &all, "customers", || crm.simulate_loyalty(None, &too_many));
    // An unknown customer is not found.
    let before = snapshot(&crm, &all, &[]);
    let unknown = opts(&|o| o.customers = Some(vec![ada, CustomerId(999)]));
    match crm.simulate_loyalty(None, &unknown) {
        Err(Error::NotFound { entity: Entity::Customer, id }) => assert_eq!(id, "999"),
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(&crm, &all, &[]), before);
    // Unknown option fields and models are refused when read.
    for json in
        [r#"{"since": "2025-01-01T00:00:00Z"}"#, r#"{"redemption": "sometimes"}"#, r#"{"redemption": {"rate": {}}}"#]
    {
        assert!(serde_json::from_str::<SimulationOptions>(json).is_err(), "{json}");
    }
}
