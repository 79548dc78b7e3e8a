//! RFM through the facade: a hand-computed example with ties, the as-of-earlier path against
//! a recomputation from the orders, a property test against a naive model, single-customer
//! scoring against the batch, refresh as one transaction, and bad input.

mod common;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use crm_core::segment::rfm::{RfmConfig, RfmGrid, RfmScore, RfmSource};
use crm_core::store::prelude::*;
use crm_core::synth::{Synth, SynthConfig};
use crm_core::{Crm, Currency, CustomerId, Error, NewCustomer, NewOrder, OrderStatus};
use proptest::prelude::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn cur(code: &str) -> Currency {
    code.parse().unwrap()
}

fn customer(crm: &Crm, name: &str) -> CustomerId {
    crm.create_customer(&NewCustomer { name: name.into(), ..Default::default() }).unwrap().id
}

fn order(crm: &Crm, ext: &str, c: CustomerId, at: DateTime<Utc>, status: OrderStatus, currency: &str, minor: i64) {
    crm.record_order(&NewOrder {
        external_id: ext.into(),
        customer_id: Some(c),
        customer_external_id: None,
        occurred_at: at,
        status: Some(status),
        currency: cur(currency),
        total_minor: minor,
        channel: None,
        items: None,
    })
    .unwrap();
}

fn config(currency: &str, as_of: Option<DateTime<Utc>>) -> RfmConfig {
    RfmConfig { as_of, ..RfmConfig::new(cur(currency)) }
}

// ---- naive model -------------------------------------------------------------------------

/// An order as the naive model sees it.
#[derive(Debug, Clone)]
struct Plain {
    customer: CustomerId,
    at: DateTime<Utc>,
    status: OrderStatus,
    currency: Currency,
    minor: i64,
}

/// RFM straight from the definition: aggregate the completed orders up to `as_of`, then score
/// each member by counting, for each dimension, the members with a strictly worse value.
fn naive(orders: &[Plain], currency: Currency, as_of: DateTime<Utc>) -> Vec<RfmScore> {
    let mut agg: BTreeMap<CustomerId, (DateTime<Utc>, i64, i64)> = BTreeMap::new();
    for o in orders.iter().filter(|o| o.status == OrderStatus::Completed && o.at <= as_of) {
        let e = agg.entry(o.customer).or_insert((o.at, 0, 0));
        e.0 = e.0.max(o.at);
        e.1 += 1;
        if o.currency == currency {
            e.2 += o.minor;
        }
    }
    let members: Vec<(CustomerId, i64, i64, i64)> = agg
        .into_iter()
        .filter(|(_, a)| a.2 > 0)
        .map(|(c, (last, f, m))| (c, (as_of - last).num_microseconds().unwrap().div_euclid(86_400_000_000), f, m))
        .collect();
    let n = members.len();
    let score = |worse: usize| 1 + (5 * worse / n) as u8;
    let grid = RfmGrid::default();
    members
        .iter()
        .map(|&(c, days, f, m)| {
            let r = score(members.iter().filter(|x| x.1 > days).count());
            let fs = score(members.iter().filter(|x| x.2 < f).count());
            let ms = score(members.iter().filter(|x| x.3 < m).count());
            RfmScore {
                customer_id: c,
                recency_days: days,
                frequency: f,
                monetary_minor: m,
                r,
                f: fs,
                m: ms,
                segment: grid.name(r, fs, ms).to_owned(),
            }
        })
        .collect()
}

/// Every stored order, read back through the timelines.
fn stored_orders(crm: &Crm) -> Vec<Plain> {
    let mut out = Vec::new();
    let ids: Vec<CustomerId> =
        crm.store().read(|tx| Ok((1..=tx.count_customers()?).map(CustomerId).collect())).unwrap();
    for id in ids {
        let mut cursor: Option<String> = None;
        loop {
            let page = crm.timeline(id, 500, cursor.as_deref()).unwrap();
            for e in page.items {
                if let crm_core::TimelineEntry::Order(o) = e {
                    out.push(Plain {
                        customer: o.customer_id,
                        at: o.occurred_at,
                        status: o.status,
                        currency: o.total.currency,
                        minor: o.total.minor,
                    });
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    out
}

/// Stored scores of every customer, in id order.
fn stored_scores(crm: &Crm) -> Vec<RfmScore> {
    let n = crm.counts().unwrap().customers;
    (1..=n).filter_map(|i| crm.rfm_of(CustomerId(i)).unwrap()).collect()
}

// ---- hand-computed example ---------------------------------------------------------------

const AS_OF: &str = "2026-06-01T00:00:00Z";

/// Ten EUR customers with ties in every dimension, and four customers outside the EUR
/// population. Each last order lies three hours before a whole number of days, so recency
/// rounds down.
fn ten_customers() -> Crm {
    let crm = common::test_crm();
    let as_of = t(AS_OF);
    // (days since the last order, completed EUR orders, EUR spend)
    let plan: [(i64, i64, i64); 10] = [
        (1, 9, 50_000),
        (1, 8, 50_000),
        (5, 8, 20_000),
        (5, 1, 1_000),
        (30, 3, 20_000),
        (30, 3, 5_000),
        (60, 2, 5_000),
        (90, 1, 1_000),
        (200, 5, 30_000),
        (200, 1, 500),
    ];
    for (n, &(days, k, spend)) in plan.iter().enumerate() {
        let c = customer(&crm, &format!("C{}", n + 1));
        let last = as_of - Duration::days(days) - Duration::hours(3);
        for j in 0..k {
            let minor = spend / k + if j == 0 { spend % k } else { 0 };
            order(
                &crm,
                &format!("O{}-{j}", n + 1),
                c,
                last - Duration::days(j * 2),
                OrderStatus::Completed,
                "EUR",
                minor,
            );
        }
    }
    // Customer 1's tenth completed order is in USD: it counts for F and R, not for M.
    order(&crm, "O1-usd", CustomerId(1), as_of - Duration::days(100), OrderStatus::Completed, "USD", 999);
    // Refunded and cancelled orders never count, even the most recent ones.
    order(&crm, "O4-refund", CustomerId(4), as_of - Duration::hours(1), OrderStatus::Refunded, "EUR", 1_000_000);
    order(&crm, "O10-cancel", CustomerId(10), as_of - Duration::hours(1), OrderStatus::Cancelled, "EUR", 1_000_000);
    // Not in the EUR population: USD only (11), refunded only (12), no orders (13), zero spend (14).
    let c11 = customer(&crm, "C11");
    order(&crm, "O11", c11, as_of - Duration::days(3), OrderStatus::Completed, "USD", 7_000);
    let c12 = customer(&crm, "C12");
    order(&crm, "O12", c12, as_of - Duration::days(3), OrderStatus::Refunded, "EUR", 7_000);
    customer(&crm, "C13");
    let c14 = customer(&crm, "C14");
    order(&crm, "O14", c14, as_of - Duration::days(3), OrderStatus::Completed, "EUR", 0);
    crm
}

fn expected_ten() -> Vec<RfmScore> {
    let rows: [(i64, i64, i64, u8, u8, u8, &str); 10] = [
        (1, 10, 50_000, 5, 5, 5, "Champions"),
        (1, 8, 50_000, 5, 4, 5, "Champions"),
        (5, 8, 20_000, 4, 4, 3, "Loyal"),
        (5, 1, 1_000, 4, 1, 1, "Promising"),
        (30, 3, 20_000, 3, 3, 3, "Need Attention"),
        (30, 3, 5_000, 3, 3, 2, "Need Attention"),
        (60, 2, 5_000, 2, 2, 2, "Hibernating"),
        (90, 1, 1_000, 2, 1, 1, "Hibernating"),
        (200, 5, 30_000, 1, 4, 4, "Can't Lose Them"),
        (200, 1, 500, 1, 1, 1, "Lost"),
    ];
    rows.iter()
        .enumerate()
        .map(|(i, &(recency_days, frequency, monetary_minor, r, f, m, segment))| RfmScore {
            customer_id: CustomerId(i as i64 + 1),
            recency_days,
            frequency,
            monetary_minor,
            r,
            f,
            m,
            segment: segment.into(),
        })
        .collect()
}

#[test]
fn hand_computed_example_with_ties() {
    let crm = ten_customers();
    let table = crm.compute_rfm(&config("EUR", Some(t(AS_OF)))).unwrap();
    assert_eq!(table.model.source, RfmSource::Stats);
    assert_eq!(table.model.population, 10);
    assert_eq!(table.model.as_of, t(AS_OF));
    assert_eq!(table.scores, expected_ten());
    let b = &table.model.boundaries;
    assert_eq!(b.recency_days, [Some(90), Some(30), Some(5), Some(1)]);
    assert_eq!(b.frequency, [Some(2), Some(3), Some(5), Some(10)]);
    assert_eq!(b.monetary_minor, [Some(5_000), Some(20_000), Some(30_000), Some(50_000)]);
    assert_eq!(table.scores, naive(&stored_orders(&crm), cur("EUR"), t(AS_OF)));

    let sizes: BTreeMap<String, u64> = table.segment_sizes().into_iter().collect();
    assert_eq!(sizes["Champions"], 2);
    assert_eq!(sizes["Need Attention"], 2);
    assert_eq!(sizes["Hibernating"], 2);
    assert_eq!(sizes["At Risk"], 0);
    assert_eq!(sizes.values().sum::<u64>(), 10);

    // The USD population is customers 1 and 11, with F over all completed orders.
    let usd = crm.compute_rfm(&config("USD", Some(t(AS_OF)))).unwrap();
    let got: Vec<(i64, i64, i64)> =
        usd.scores.iter().map(|s| (s.customer_id.0, s.frequency, s.monetary_minor)).collect();
    assert_eq!(got, [(1, 10, 999), (11, 1, 7_000)]);
}

#[test]
fn refresh_stores_and_single_scoring_agrees_with_the_batch() {
    let crm = ten_customers();
    let cfg = config("EUR", Some(t(AS_OF)));
    let model = crm.refresh_rfm(&cfg).unwrap();
    assert_eq!(crm.rfm_model().unwrap().as_ref(), Some(&model));
    let expected = expected_ten();
    assert_eq!(stored_scores(&crm), expected);
    for s in &expected {
        assert_eq!(crm.rfm_of(s.customer_id).unwrap().as_ref(), Some(s));
        assert_eq!(crm.score_rfm(s.customer_id, Some(t(AS_OF))).unwrap().as_ref(), Some(s));
    }
    for outside in 11..=14 {
        assert_eq!(crm.rfm_of(CustomerId(outside)).unwrap(), None);
        assert_eq!(crm.score_rfm(CustomerId(outside), Some(t(AS_OF))).unwrap(), None);
    }
    let sizes: BTreeMap<String, u64> = crm.rfm_segment_sizes().unwrap().into_iter().collect();
    assert_eq!(sizes, crm.compute_rfm(&cfg).unwrap().segment_sizes().into_iter().collect());

    // Later, customer 10 buys again: scored now against the stored boundaries, without a refresh.
    let later = t(AS_OF) + Duration::days(2);
    order(&crm, "O10-again", CustomerId(10), t(AS_OF) + Duration::days(1), OrderStatus::Completed, "EUR", 60_000);
    let s = crm.score_rfm(CustomerId(10), Some(later)).unwrap().unwrap();
    assert_eq!((s.recency_days, s.frequency, s.monetary_minor), (1, 2, 60_500));
    assert_eq!((s.r, s.f, s.m, s.segment.as_str()), (5, 2, 5, "Champions")); // FM = (2 + 5 + 1) / 2 = 4
                                                                             // As of the model's time, the new order is not counted: the stored score again.
    assert_eq!(crm.score_rfm(CustomerId(10), Some(t(AS_OF))).unwrap().as_ref(), Some(&expected[9]));
    // The stored row is only replaced by the next refresh.
    assert_eq!(crm.rfm_of(CustomerId(10)).unwrap().as_ref(), Some(&expected[9]));
}

#[test]
fn statistics_serve_unless_a_member_ordered_after_as_of() {
    let crm = ten_customers();
    let cfg = config("EUR", Some(t(AS_OF)));
    // A later order outside the EUR population does not matter.
    order(&crm, "O11-later", CustomerId(11), t(AS_OF) + Duration::days(1), OrderStatus::Completed, "USD", 100);
    let table = crm.compute_rfm(&cfg).unwrap();
    assert_eq!((table.model.source, &table.scores), (RfmSource::Stats, &expected_ten()));
    // Customer 13's first EUR spend comes after as-of: from the orders, and not a member.
    order(&crm, "O13-later", CustomerId(13), t(AS_OF) + Duration::days(1), OrderStatus::Completed, "EUR", 100);
    let table = crm.compute_rfm(&cfg).unwrap();
    assert_eq!((table.model.source, &table.scores), (RfmSource::Orders, &expected_ten()));
    crm.refresh_rfm(&cfg).unwrap();
    assert_eq!(crm.score_rfm(CustomerId(13), Some(t(AS_OF))).unwrap(), None);
    assert!(crm.score_rfm(CustomerId(13), None).unwrap().is_some());
}

#[test]
fn as_of_earlier_is_computed_from_the_orders() {
    let crm = common::test_crm();
    let synth = Synth::new(SynthConfig { customers: 300, orders_per_customer: 6.0, ..Default::default() });
    for c in synth.customers() {
        crm.upsert_customer(&c).unwrap();
    }
    for o in synth.orders() {
        crm.record_order(&o).unwrap();
    }
    let orders = stored_orders(&crm);
    let end = synth.config().end;
    let currencies = ["USD", "EUR", "CNY"];
    for (k, as_of) in [end - Duration::days(400), end - Duration::days(90) + Duration::hours(5), end].iter().enumerate()
    {
        let currency = cur(currencies[k]);
        let table = crm.compute_rfm(&RfmConfig { as_of: Some(*as_of), ..RfmConfig::new(currency) }).unwrap();
        let expected_source = if *as_of == end { RfmSource::Stats } else { RfmSource::Orders };
        assert_eq!(table.model.source, expected_source);
        let want = naive(&orders, currency, *as_of);
        assert!(want.len() > 10, "{currency}: only {} members", want.len());
        assert_eq!(table.scores, want, "{currency} as of {as_of}");

        // One customer at a time, as of the same time, against the stored model.
        crm.refresh_rfm(&table.model.config).unwrap();
        for s in &want {
            assert_eq!(crm.score_rfm(s.customer_id, Some(*as_of)).unwrap().as_ref(), Some(s));
        }
    }
}

// ---- property test -----------------------------------------------------------------------

#[derive(Debug, Clone)]
struct GenOrder {
    customer: usize,
    day: i64,
    hour: i64,
    status: OrderStatus,
    usd: bool,
    /// Thousands of minor units, so that totals tie often.
    thousands: i64,
    /// A later status for the same order (a refund or a correction), written as an update.
    then: Option<OrderStatus>,
}

fn status() -> impl Strategy<Value = OrderStatus> {
    prop_oneof![
        6 => Just(OrderStatus::Completed),
        1 => Just(OrderStatus::Refunded),
        1 => Just(OrderStatus::Cancelled)
    ]
}

fn gen_order(customers: usize) -> impl Strategy<Value = GenOrder> {
    (0..customers, 0..40i64, 0..24i64, status(), any::<bool>(), 0..6i64, proptest::option::weighted(0.1, status()))
        .prop_map(|(customer, day, hour, status, usd, thousands, then)| GenOrder {
            customer,
            day,
            hour,
            status,
            usd,
            thousands,
            then,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn batch_scores_match_a_naive_model(
        (customers, orders) in (1usize..25).prop_flat_map(|n| (Just(n), proptest::collection::vec(gen_order(n), 0..90))),
        as_of_day in prop_oneof![Just(60i64), 0..45i64],
        usd in any::<bool>(),
    ) {
        let crm = common::test_crm();
        let ids: Vec<CustomerId> = (0..customers).map(|i| customer(&crm, &format!("C{i}"))).collect();
        let base = t("2026-01-01T00:00:00Z");
        let mut plain: HashMap<usize, Plain> = HashMap::new();
        for (k, o) in orders.iter().enumerate() {
            let at = base + Duration::days(o.day) + Duration::hours(o.hour);
            let currency = if o.usd { "USD" } else { "EUR" };
            order(&crm, &format!("O{k}"), ids[o.customer], at, o.status, currency, o.thousands * 1_000);
            if let Some(s) = o.then {
                order(&crm, &format!("O{k}"), ids[o.customer], at, s, currency, o.thousands * 1_000);
            }
            let status = o.then.unwrap_or(o.status);
            plain.insert(k, Plain { customer: ids[o.customer], at, status, currency: cur(currency), minor: o.thousands * 1_000 });
        }
        let plain: Vec<Plain> = plain.into_values().collect();
        let as_of = base + Duration::days(as_of_day) + Duration::minutes(30);
        let currency = cur(if usd { "USD" } else { "EUR" });
        let cfg = RfmConfig { as_of: Some(as_of), ..RfmConfig::new(currency) };

        let table = crm.compute_rfm(&cfg).unwrap();
        let want = naive(&plain, currency, as_of);
        prop_assert_eq!(&table.scores, &want);
        prop_assert_eq!(table.model.population, want.len() as u64);

        crm.refresh_rfm(&cfg).unwrap();
        prop_assert_eq!(&stored_scores(&crm), &want);
        for s in &want {
            let one = crm.score_rfm(s.customer_id, Some(as_of)).unwrap();
            prop_assert_eq!(one.as_ref(), Some(s));
        }
    }
}

// ---- refresh and deletion ----------------------------------------------------------------

#[test]
fn refresh_replaces_stored_rows_wholesale() {
    let crm = ten_customers();
    crm.refresh_rfm(&config("EUR", Some(t(AS_OF)))).unwrap();
    assert_eq!(stored_scores(&crm).len(), 10);
    // USD's population is customers 1 and 11: the other nine EUR rows go.
    let model = crm.refresh_rfm(&config("USD", Some(t(AS_OF)))).unwrap();
    assert_eq!(model.population, 2);
    let ids: Vec<i64> = stored_scores(&crm).iter().map(|s| s.customer_id.0).collect();
    assert_eq!(ids, [1, 11]);
    assert_eq!(crm.rfm_model().unwrap(), Some(model));
    let sizes: u64 = crm.rfm_segment_sizes().unwrap().iter().map(|(_, n)| n).sum();
    assert_eq!(sizes, 2);
}

#[test]
fn refresh_is_one_transaction_seen_whole_by_readers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rfm.db");
    let crm = Crm::open(&path).unwrap();
    let synth = Synth::new(SynthConfig { customers: 2_000, orders_per_customer: 3.0, ..Default::default() });
    crm.ingest_customers(synth.customers(), Default::default()).unwrap();
    crm.ingest_orders(synth.orders(), Default::default()).unwrap();
    let configs = [config("USD", None), config("CNY", None), config("GBP", None)];
    let populations: Vec<u64> = configs.iter().map(|c| crm.compute_rfm(c).unwrap().model.population).collect();
    assert!(populations.windows(2).all(|w| w[0] != w[1]), "{populations:?}");

    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            // Every snapshot a reader sees holds the rows of exactly one refresh.
            let c = rusqlite::Connection::open(&path).unwrap();
            let mut seen = 0;
            // Reads until the refreshes are over and one snapshot with a model was checked
            // (on a loaded machine the refreshes may all finish before the first read).
            while seen == 0 || !done.load(std::sync::atomic::Ordering::Relaxed) {
                let tx = c.unchecked_transaction().unwrap();
                let rows: i64 = tx.query_row("SELECT count(*) FROM customer_rfm", [], |r| r.get(0)).unwrap();
                let model: Option<String> = tx.query_row("SELECT model FROM rfm_model", [], |r| r.get(0)).ok();
                tx.commit().unwrap();
                if let Some(m) = model {
                    let m: serde_json::Value = serde_json::from_str(&m).unwrap();
                    assert_eq!(m["population"].as_i64(), Some(rows));
                    seen += 1;
                }
            }
            seen
        });
        for round in 0..6 {
            let m = crm.refresh_rfm(&configs[round % 3]).unwrap();
            assert_eq!(m.population, populations[round % 3]);
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    });
}

#[test]
fn deleting_a_customer_removes_its_stored_score() {
    let crm = ten_customers();
    crm.refresh_rfm(&config("EUR", Some(t(AS_OF)))).unwrap();
    assert!(crm.rfm_of(CustomerId(3)).unwrap().is_some());
    crm.delete_customer(CustomerId(3)).unwrap();
    assert!(matches!(crm.rfm_of(CustomerId(3)), Err(Error::NotFound { .. })));
    assert_eq!(crm.store().read(|tx| tx.get_rfm(CustomerId(3))).unwrap(), None);
    let total: u64 = crm.rfm_segment_sizes().unwrap().iter().map(|(_, n)| n).sum();
    assert_eq!(total, 9);
}

// ---- bad input ---------------------------------------------------------------------------

/// Everything RFM stores, and the rest of the store's state, for "nothing changed" checks.
fn snapshot(crm: &Crm) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?}",
        crm.rfm_model().unwrap(),
        stored_scores(crm),
        crm.rfm_segment_sizes().unwrap(),
        crm.counts().unwrap(),
        crm.changes_since(0, 10_000).unwrap(),
    )
}

fn field_of<T: std::fmt::Debug>(r: crm_core::Result<T>) -> String {
    match r {
        Err(Error::Validation { field, reason }) => {
            assert!(!reason.is_empty());
            field
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn no_model_yet_is_a_clear_error() {
    let crm = ten_customers();
    let before = snapshot(&crm);
    let err = crm.score_rfm(CustomerId(1), None).unwrap_err();
    assert!(err.to_string().contains("refresh_rfm"), "{err}");
    assert_eq!(field_of(crm.score_rfm(CustomerId(1), None)), "rfm_model");
    assert_eq!(crm.rfm_model().unwrap(), None);
    assert_eq!(crm.rfm_of(CustomerId(1)).unwrap(), None);
    assert!(crm.rfm_segment_sizes().unwrap().is_empty());
    assert_eq!(snapshot(&crm), before);
}

#[test]
fn unknown_customers_are_not_found() {
    let crm = ten_customers();
    crm.refresh_rfm(&config("EUR", Some(t(AS_OF)))).unwrap();
    assert!(matches!(crm.score_rfm(CustomerId(999), None), Err(Error::NotFound { .. })));
    assert!(matches!(crm.rfm_of(CustomerId(999)), Err(Error::NotFound { .. })));
}

#[test]
fn bad_configurations_are_refused_and_change_nothing() {
    let crm = ten_customers();
    crm.refresh_rfm(&config("EUR", Some(t(AS_OF)))).unwrap();
    let before = snapshot(&crm);

    // JSON: each a validation error naming the field.
    let cases = [
        (r#"{"currency": "XYZ"}"#, "currency"),
        (r#"{"currency": ""}"#, "currency"),
        (r#"{"currency": "EUR", "as_of": "1969-12-31T23:59:59Z"}"#, "as_of"),
        (r#"{"currency": "EUR", "as_of": "3026-01-01T00:00:00Z"}"#, "as_of"),
        (r#"{"currency": "EUR", "as_of": "yesterday"}"#, "as_of"),
        (r#"{"currency": "EUR", "grid": [["A","B","C","D","E"]]}"#, "grid"),
        (r#"{"currency": "EUR", "colour": "red"}"#, "rfm_config"),
        (r#"{"as_of": null}"#, "rfm_config"),
        (r#"{"currency": 5}"#, "rfm_config"),
    ];
    for (json, field) in cases {
        assert_eq!(field_of(RfmConfig::from_json(json)), field, "{json}");
        assert!(serde_json::from_str::<RfmConfig>(json).is_err(), "{json}");
    }

    // Grids: wrong dimensions, blank or over-long names.
    let good: Vec<Vec<String>> = RfmGrid::default().rows().iter().map(|r| r.to_vec()).collect();
    let mut short_row = good.clone();
    short_row[1].pop();
    assert_eq!(field_of(RfmGrid::new(short_row)), "grid[1]");
    let mut six = good.clone();
    six.push(good[0].clone());
    assert_eq!(field_of(RfmGrid::new(six)), "grid");
    let mut blank = good.clone();
    blank[2][3] = "  ".into();
    assert_eq!(field_of(RfmGrid::new(blank.clone())), "grid[2][3]");
    let json = serde_json::json!({"currency": "EUR", "grid": blank}).to_string();
    assert_eq!(field_of(RfmConfig::from_json(&json)), "grid[2][3]");
    let mut long = good.clone();
    long[4][0] = "x".repeat(65);
    assert_eq!(field_of(RfmGrid::new(long.clone())), "grid[4][0]");
    long[4][0] = "é".repeat(64);
    assert!(RfmGrid::new(long).is_ok());

    // Through the facade: as-of times out of range, for every call that takes one.
    for bad in [t("1969-07-20T20:17:00Z"), Utc::now() + Duration::days(400)] {
        let cfg = config("EUR", Some(bad));
        assert_eq!(field_of(cfg.validate()), "as_of");
        assert_eq!(field_of(crm.compute_rfm(&cfg)), "as_of");
        assert_eq!(field_of(crm.refresh_rfm(&cfg)), "as_of");
        assert_eq!(field_of(crm.score_rfm(CustomerId(1), Some(bad))), "as_of");
    }
    assert_eq!(snapshot(&crm), before);

    // The limits themselves are accepted.
    assert!(crm.compute_rfm(&config("EUR", Some(DateTime::UNIX_EPOCH))).is_ok());
    assert!(crm.compute_rfm(&config("EUR", Some(Utc::now() + Duration::days(365)))).is_ok());
}

#[test]
fn config_json_round_trips() {
    let mut rows: Vec<Vec<String>> = RfmGrid::default().rows().iter().map(|r| r.to_vec()).collect();
    rows[0][0] = "Fresh".into();
    let cfg = RfmConfig { currency: cur("JPY"), as_of: Some(t(AS_OF)), grid: RfmGrid::new(rows).unwrap() };
    let json = serde_json::to_string(&cfg).unwrap();
    assert_eq!(RfmConfig::from_json(&json).unwrap(), cfg);
    assert_eq!(serde_json::from_str::<RfmConfig>(&json).unwrap(), cfg);
    let minimal = RfmConfig::from_json(r#"{"currency": "jpy"}"#).unwrap();
    assert_eq!(minimal, RfmConfig::new(cur("JPY")));
}
