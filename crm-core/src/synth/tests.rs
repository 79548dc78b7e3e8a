use std::collections::{BTreeMap, HashMap, HashSet};

use super::*;
use crate::validate::Validator;

fn synth(customers: u64) -> Synth {
    Synth::new(SynthConfig { customers, ..Default::default() })
}

fn validator() -> Validator {
    Validator::new(Default::default()).unwrap()
}

#[test]
fn same_seed_same_data_different_seed_different_data() {
    let a = synth(2_000);
    let b = synth(2_000);
    let oa: Vec<_> = a.orders().take(1_000).collect();
    let ob: Vec<_> = b.orders().take(1_000).collect();
    assert_eq!(oa.len(), 1_000);
    assert_eq!(oa, ob);
    assert!(a.customers().take(300).eq(b.customers().take(300)));
    assert!(a.interactions().take(1_000).eq(b.interactions().take(1_000)));
    assert_eq!(a.catalogue(), b.catalogue());

    let c = Synth::new(SynthConfig { seed: 43, customers: 2_000, ..Default::default() });
    let oc: Vec<_> = c.orders().take(1_000).collect();
    assert_ne!(oa, oc);
    assert!(!a.customers().take(50).eq(c.customers().take(50)));
    assert_ne!(a.catalogue(), c.catalogue());
}

#[test]
fn iterators_are_independent_of_consumption_order() {
    let s = synth(300);
    // Interleaving the iterators, or reading a customer directly, changes nothing.
    let mut orders = s.orders();
    let mut customers = s.customers();
    let first_order = orders.next().unwrap();
    let c1 = customers.next().unwrap();
    assert_eq!(c1, s.customer(1));
    assert_eq!(Some(first_order), s.orders().next());
    assert_eq!(s.customer(137), s.customers().nth(136).unwrap());
    // Customer n's rows do not depend on how many customers there are.
    let more = synth(600);
    assert!(s.orders().eq(more.orders().take_while(|o| o.customer_external_id.as_deref() <= Some("C00000300"))));
}

/// Pins the exact output, so that an accidental change (or a platform difference) shows up.
/// Update the constant when the generator is changed on purpose. Rows are hashed as JSON
/// without null or empty values, so adding an optional field to the row types does not
/// change the fingerprint.
#[test]
fn fingerprint() {
    assert_eq!(
        fingerprint_of(&synth(200)),
        FINGERPRINT,
        "generator output changed: {:#x}",
        fingerprint_of(&synth(200))
    );
}

fn fingerprint_of(s: &Synth) -> u64 {
    fn prune(v: serde_json::Value) -> Option<serde_json::Value> {
        use serde_json::Value;
        match v {
            Value::Null => None,
            Value::Array(a) if a.is_empty() => None,
            Value::Object(o) => {
                let o: serde_json::Map<_, _> = o.into_iter().filter_map(|(k, v)| prune(v).map(|v| (k, v))).collect();
                (!o.is_empty()).then_some(Value::Object(o))
            }
            other => Some(other),
        }
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |row: serde_json::Value| {
        let mut text = String::new();
        if let Some(v) = prune(row) {
            // Sorted keys whatever serde_json's map type is.
            text = canonical(&v);
        }
        for b in text.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for c in s.customers() {
        eat(serde_json::to_value(&c).unwrap());
    }
    for o in s.orders() {
        eat(serde_json::to_value(&o).unwrap());
    }
    for i in s.interactions() {
        eat(serde_json::to_value(&i).unwrap());
    }
    for p in s.catalogue() {
        eat(serde_json::json!([p.sku, p.category, p.price_minor_usd]));
    }
    h
}

fn canonical(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            let mut entries: Vec<_> = o.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries.iter().map(|(k, v)| format!("{k:?}:{}", canonical(v))).collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}
const FINGERPRINT: u64 = 0xda11_61e4_9965_345f;

#[test]
fn customer_count_is_exact() {
    for n in [0, 1, 7, 1_234] {
        assert_eq!(synth(n).customers().count() as u64, n);
    }
    assert_eq!(synth(0).orders().count(), 0);
    assert_eq!(synth(0).interactions().count(), 0);
}

#[test]
fn external_ids_and_emails_are_unique() {
    let s = synth(3_000);
    let mut ids = HashSet::new();
    let mut emails = HashSet::new();
    for (n, c) in s.customers().enumerate() {
        let id = c.external_id.unwrap();
        assert_eq!(id, Synth::customer_external_id(n as u64 + 1));
        assert_eq!(id.len(), 9);
        assert!(ids.insert(id));
        if let Some(e) = c.email {
            assert!(emails.insert(e.to_lowercase()), "duplicate email {e}");
        }
    }
    let mut order_ids = HashSet::new();
    for (k, o) in s.orders().enumerate() {
        assert_eq!(o.external_id, format!("O{:09}", k + 1));
        assert!(order_ids.insert(o.external_id));
    }
    assert!(order_ids.len() > 20_000);
    let mut interaction_ids = HashSet::new();
    for (k, i) in s.interactions().enumerate() {
        let id = i.external_id.unwrap();
        assert_eq!(id, format!("I{:09}", k + 1));
        assert!(interaction_ids.insert(id));
    }
    assert!(interaction_ids.len() > 6_000);
    assert_eq!(Synth::customer_external_id(1), "C00000001");
    assert_eq!(Synth::customer_external_id(12_345_678), "C12345678");
}

#[test]
fn orders_and_interactions_follow_their_customers() {
    let s = synth(3_000);
    let cfg = s.config();
    let start = cfg.end.checked_sub_months(Months::new(12 * cfg.years)).unwrap();
    let created: HashMap<String, DateTime<Utc>> =
        s.customers().map(|c| (c.external_id.unwrap(), c.created_at.unwrap())).collect();
    for t in created.values() {
        assert!(*t >= start && *t < cfg.end);
    }

    let check = |who: &str, at: DateTime<Utc>, prev: &mut Option<(String, DateTime<Utc>)>| {
        let c = created.get(who).unwrap_or_else(|| panic!("unknown customer {who}"));
        assert!(at >= *c, "{who}: {at} before creation {c}");
        assert!(at < cfg.end && at >= start);
        assert_eq!(at.timestamp_subsec_nanos(), 0);
        if let Some((p_who, p_at)) = prev {
            assert!(p_who.as_str() <= who, "customers out of order: {p_who} then {who}");
            if p_who == who {
                assert!(*p_at <= at, "{who}: rows out of time order");
            }
        }
        *prev = Some((who.to_owned(), at));
    };

    let mut prev = None;
    for o in s.orders() {
        assert!(o.customer_id.is_none());
        check(o.customer_external_id.as_deref().unwrap(), o.occurred_at, &mut prev);
        assert!((1..=5).contains(&o.items.as_ref().map_or(0, Vec::len)));
        assert_eq!(o.total_minor, o.items.iter().flatten().map(|i| i.quantity * i.unit_price_minor).sum::<i64>());
        let skus: HashSet<_> = o.items.iter().flatten().map(|i| &i.sku).collect();
        assert_eq!(skus.len(), o.items.as_ref().map_or(0, Vec::len), "repeated SKU in {}", o.external_id);
        assert!(o.items.iter().flatten().all(|i| i.unit_price_minor > 0 && i.quantity >= 1));
        assert!(["web", "store", "app", "phone", "marketplace"].contains(&o.channel.as_deref().unwrap()));
    }
    let mut prev = None;
    for i in s.interactions() {
        assert!(i.customer_id.is_none());
        check(i.customer_external_id.as_deref().unwrap(), i.occurred_at, &mut prev);
    }
}

#[test]
fn everything_passes_validation() {
    let s = synth(5_000);
    let v = validator();
    let mut phones = 0;
    for c in s.customers() {
        let n = v.customer(&c).unwrap_or_else(|e| panic!("{c:?}: {e}"));
        if n.phone.is_some() {
            phones += 1;
        }
        // The human notation normalises to E.164 for the customer's country.
        if let (Some(raw), Some(e164)) = (&c.phone, &n.phone) {
            assert!(e164.starts_with(&raw[..raw.find(' ').unwrap()]), "{raw} -> {e164}");
        }
    }
    assert!((3_600..=4_300).contains(&phones), "{phones} phones");
    for o in s.orders().take(30_000) {
        v.order(&o).unwrap_or_else(|e| panic!("{o:?}: {e}"));
    }
    for i in s.interactions() {
        v.interaction(&i).unwrap_or_else(|e| panic!("{i:?}: {e}"));
    }
}

#[test]
fn phones_of_every_country_are_valid() {
    // Many numbers per country, straight from the generator's phone function.
    let v = validator();
    let mut r = stream(&[7; 32], 1);
    for country in &COUNTRIES {
        for city in country.cities {
            for _ in 0..300 {
                let p = phone(&mut r, country, city);
                let c = NewCustomer { name: "x".into(), phone: Some(p.clone()), ..Default::default() };
                v.customer(&c).unwrap_or_else(|e| panic!("{}: {p}: {e}", country.code));
            }
        }
    }
}

#[test]
fn profiles_look_realistic() {
    let s = synth(10_000);
    let (mut companies, mut no_phone, mut no_email, mut birthdays, mut genders, mut tagged, mut attrs) =
        (0, 0, 0, 0, 0, 0, 0);
    let mut countries: BTreeMap<String, u32> = BTreeMap::new();
    for c in s.customers() {
        assert!(c.lifecycle.is_none());
        let country = c.address.country.clone().unwrap();
        *countries.entry(country).or_default() += 1;
        assert!(c.address.city.is_some());
        match c.kind {
            Some(CustomerKind::Company) => {
                companies += 1;
                assert!(c.industry.is_some());
                assert_eq!(c.company.as_ref(), Some(&c.name));
                assert!(c.birthday.is_none() && c.gender.is_none());
            }
            Some(CustomerKind::Person) | None => {
                assert!(c.industry.is_none());
                assert_eq!(c.name.split(' ').count(), 2, "{}", c.name);
            }
        }
        no_phone += usize::from(c.phone.is_none());
        no_email += usize::from(c.email.is_none());
        genders += usize::from(c.gender.is_some());
        tagged += usize::from(!c.tags.is_empty());
        attrs += usize::from(!c.attributes.is_empty());
        if let Some(b) = c.birthday {
            birthdays += 1;
            assert!((1940..=2006).contains(&chrono::Datelike::year(&b)));
        }
    }
    let pct = |x: usize| x as f64 / 100.0;
    assert!((6.0..10.0).contains(&pct(companies)), "{companies}");
    assert!((18.0..24.0).contains(&pct(no_phone)), "{no_phone}");
    assert!((3.5..6.5).contains(&pct(no_email)), "{no_email}");
    assert!((35.0..50.0).contains(&pct(birthdays)), "{birthdays}");
    assert!(genders > 4_000 && tagged > 3_000 && attrs > 3_000, "{genders} {tagged} {attrs}");
    assert_eq!(countries.len(), 10, "{countries:?}");
    let us = countries["US"];
    assert!(countries.values().all(|&n| n <= us), "{countries:?}");
}

#[test]
fn orders_per_customer_are_skewed_with_the_configured_mean() {
    for mean in [10.0, 4.0] {
        let s = Synth::new(SynthConfig { customers: 20_000, orders_per_customer: mean, ..Default::default() });
        let mut per_customer = vec![0u32; 20_001];
        let mut total = 0u64;
        for o in s.orders() {
            let n: usize = o.customer_external_id.unwrap()[1..].parse().unwrap();
            per_customer[n] += 1;
            total += 1;
        }
        let counts = &per_customer[1..];
        let share = |k: u32| counts.iter().filter(|&&c| c == k).count() as f64 / counts.len() as f64;
        let empirical = total as f64 / counts.len() as f64;
        assert!((empirical - mean).abs() <= mean * 0.10, "mean {empirical} vs {mean}");
        assert!((0.08..0.12).contains(&share(0)), "no orders: {}", share(0));
        assert!((0.34..0.40).contains(&share(1)), "one order: {}", share(1));
        let max = *counts.iter().max().unwrap();
        assert!(max <= MAX_ORDERS);
        if mean == 10.0 {
            // A long tail: some customers with far more orders than the mean.
            assert!(max >= 150, "max {max}");
            assert!(counts.iter().filter(|&&c| c >= 50).count() >= 100);
        }
    }
}

#[test]
fn unusual_configurations_work() {
    for (mean, inter) in [(0.0, 0.0), (0.5, 0.2), (1.0, 1.5), (2_000.0, 50.0)] {
        let s = Synth::new(SynthConfig {
            customers: 300,
            orders_per_customer: mean,
            interactions_per_customer: inter,
            ..Default::default()
        });
        let orders = s.orders().count() as f64 / 300.0;
        let interactions = s.interactions().count() as f64 / 300.0;
        if mean == 0.0 {
            assert_eq!(orders, 0.0);
            assert_eq!(interactions, 0.0);
        } else if mean < 100.0 {
            assert!((orders - mean).abs() < mean * 0.3 + 0.1, "{orders} vs {mean}");
        } else {
            assert!(orders > 300.0, "{orders}");
        }
    }
    let nan = Synth::new(SynthConfig { customers: 10, orders_per_customer: f64::NAN, ..Default::default() });
    assert_eq!(nan.orders().count(), 0);

    // A zero-year window is widened to one day; a window reaching before 1970 is clipped.
    let epoch = DateTime::from_timestamp(0, 0).unwrap();
    for (end, years) in [(SynthConfig::default().end, 0), (Utc.with_ymd_and_hms(1972, 6, 1, 0, 0, 0).unwrap(), 10)] {
        let s = Synth::new(SynthConfig { customers: 200, end, years, ..Default::default() });
        let v = validator();
        for c in s.customers() {
            let t = c.created_at.unwrap();
            assert!(t >= epoch && t < end);
            v.customer(&c).unwrap();
        }
        for o in s.orders() {
            assert!(o.occurred_at >= epoch && o.occurred_at < end);
        }
        for i in s.interactions() {
            assert!(i.occurred_at >= epoch && i.occurred_at < end);
        }
    }
}

#[test]
fn every_interaction_kind_appears() {
    let s = synth(2_000);
    let mut kinds: HashMap<InteractionKind, u32> = HashMap::new();
    let mut nps = 0;
    let mut csat = 0;
    for i in s.interactions() {
        *kinds.entry(i.kind).or_default() += 1;
        match (i.kind, i.score) {
            (InteractionKind::Survey, Some(Score::Nps(x))) => {
                assert!(x <= 10);
                nps += 1;
            }
            (InteractionKind::Survey, Some(other)) => panic!("survey with {other:?}"),
            (InteractionKind::Feedback, Some(Score::Csat(x))) => {
                assert!((1..=5).contains(&x));
                csat += 1;
            }
            (InteractionKind::Feedback | InteractionKind::Complaint, _) => {}
            (k, Some(s)) => panic!("{k:?} with score {s:?}"),
            _ => {}
        }
    }
    for k in InteractionKind::ALL {
        assert!(kinds.get(&k).copied().unwrap_or(0) > 0, "no {k:?}");
    }
    let top = [InteractionKind::Email, InteractionKind::Web, InteractionKind::Chat, InteractionKind::Call];
    let top_share: u32 = top.iter().map(|k| kinds[k]).sum();
    assert!(top_share as f64 > 0.6 * kinds.values().sum::<u32>() as f64);
    assert!(nps > 50 && csat > 50, "{nps} {csat}");
}

#[test]
fn catalogue_is_skewed_and_priced() {
    let s = synth(2_000);
    let cat = s.catalogue();
    assert_eq!(cat.len(), 500);
    let categories: HashSet<_> = cat.iter().map(|p| p.category.as_str()).collect();
    assert_eq!(categories.len(), 12);
    assert_eq!(cat.iter().map(|p| &p.sku).collect::<HashSet<_>>().len(), 500);
    let _: &dyn Sync = &s; // shareable between threads
    assert!(cat.iter().all(|p| p.price_minor_usd > 0));

    let skus: HashSet<&str> = cat.iter().map(|p| p.sku.as_str()).collect();
    let mut sold: HashMap<String, u64> = HashMap::new();
    let mut lines = 0u64;
    for o in s.orders().take(50_000) {
        for i in o.items.iter().flatten() {
            assert!(skus.contains(i.sku.as_str()), "unknown SKU {}", i.sku);
            *sold.entry(i.sku.clone()).or_default() += 1;
            lines += 1;
        }
    }
    let mut counts: Vec<u64> = sold.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top50: u64 = counts.iter().take(50).sum();
    // The top 10 % of SKUs sell far more than 10 % of the lines.
    assert!(top50 as f64 > 0.25 * lines as f64, "{top50} of {lines}");
}

#[test]
fn prices_follow_the_currency() {
    let s = synth(3_000);
    let jpy = Currency::new("JPY").unwrap();
    let usd = Currency::new("USD").unwrap();
    let by_sku: HashMap<&str, i64> = s.catalogue().iter().map(|p| (p.sku.as_str(), p.price_minor_usd)).collect();
    let (mut yen_orders, mut usd_orders) = (0, 0);
    for o in s.orders() {
        let digits = o.currency.minor_digits();
        if o.currency == jpy {
            yen_orders += 1;
            assert_eq!(digits, 0);
            for i in o.items.iter().flatten() {
                // Whole yen at shelf prices (tens), about 150 yen to the dollar.
                assert_eq!(i.unit_price_minor % 10, 0, "{o:?}");
                let usd_cents = by_sku[i.sku.as_str()];
                let expected = usd_cents * 150 / 100;
                assert!(
                    (i.unit_price_minor - expected).abs() <= 6,
                    "{} yen for {usd_cents} US cents",
                    i.unit_price_minor
                );
            }
            let m = crate::Money::new(o.total_minor, o.currency);
            assert!(!m.to_string().contains('.'), "{m}");
        } else if o.currency == usd {
            usd_orders += 1;
            for i in o.items.iter().flatten() {
                assert_eq!(i.unit_price_minor, by_sku[i.sku.as_str()]);
            }
        } else {
            assert_eq!(digits, 2);
            for i in o.items.iter().flatten() {
                assert_eq!(i.unit_price_minor % 100, 99, "{o:?}");
            }
        }
        assert_eq!(o.total_minor, o.items.iter().flatten().map(|i| i.quantity * i.unit_price_minor).sum::<i64>());
    }
    assert!(yen_orders > 500 && usd_orders > 2_000, "{yen_orders} {usd_orders}");
    assert_eq!(convert(1_999, 150_000, 0), 3_000);
    assert_eq!(convert(1_999, 920, 2), 1_899);
    assert_eq!(convert(1_999, 1_000, 2), 1_999);
    assert_eq!(convert(1, 150_000, 0), 10);
}

#[test]
fn order_statuses_and_channels_are_mixed() {
    let s = synth(3_000);
    let mut status: HashMap<OrderStatus, u32> = HashMap::new();
    let mut channels: HashMap<String, u32> = HashMap::new();
    let mut n = 0;
    for o in s.orders() {
        *status.entry(o.status.unwrap_or_default()).or_default() += 1;
        *channels.entry(o.channel.unwrap()).or_default() += 1;
        n += 1;
    }
    let share = |s: OrderStatus| status.get(&s).copied().unwrap_or(0) as f64 / n as f64;
    assert!((0.92..0.96).contains(&share(OrderStatus::Completed)));
    assert!((0.03..0.05).contains(&share(OrderStatus::Refunded)));
    assert!((0.01..0.03).contains(&share(OrderStatus::Cancelled)));
    assert_eq!(channels.len(), 5);
}

/// `cargo test --release -p crm-core --lib synth::tests::throughput -- --ignored --nocapture`
#[test]
#[ignore]
fn throughput() {
    let s = synth(1_000_000);
    let t = std::time::Instant::now();
    let mut bytes = 0usize;
    for c in s.customers() {
        bytes += c.name.len();
    }
    let customers_s = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let mut orders = 0u64;
    for o in s.orders() {
        orders += 1;
        bytes += o.items.as_ref().map_or(0, Vec::len);
    }
    let orders_s = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let interactions = s.interactions().count();
    let interactions_s = t.elapsed().as_secs_f64();
    println!(
        "1,000,000 customers in {customers_s:.2}s ({:.0}/s); {orders} orders in {orders_s:.2}s ({:.0}/s); \
         {interactions} interactions in {interactions_s:.2}s ({:.0}/s) [{bytes}]",
        1e6 / customers_s,
        orders as f64 / orders_s,
        interactions as f64 / interactions_s
    );
}

fn with_duplicates(customers: u64, duplicates: f64) -> Synth {
    Synth::new(SynthConfig { customers, duplicates, ..Default::default() })
}

/// The original's number in a duplicate's external id, and the run after the `~`.
fn ground_truth(id: &str) -> (u64, u64) {
    let (original, run) = id.split_once('~').unwrap_or_else(|| panic!("{id} has no ~"));
    (original.strip_prefix('C').unwrap().parse().unwrap(), run.parse().unwrap())
}

#[test]
fn no_duplicates_leaves_the_output_as_it_was() {
    // The default is none, and an explicit 0 is the same: the pinned output is unchanged.
    assert_eq!(SynthConfig::default().duplicates, 0.0);
    let zero = with_duplicates(200, 0.0);
    assert_eq!(zero.duplicate_count(), 0);
    assert_eq!(fingerprint_of(&zero), FINGERPRINT);
    // With duplicates, the originals, orders, interactions and catalogue are still those.
    let plain = synth(200);
    let dupes = with_duplicates(200, 0.3);
    assert!(dupes.customers().take(200).eq(plain.customers()));
    assert!(dupes.orders().eq(plain.orders()));
    assert!(dupes.interactions().eq(plain.interactions()));
    assert_eq!(dupes.catalogue(), plain.catalogue());
    // Orders and interactions name originals only.
    assert!(dupes.orders().all(|o| !o.customer_external_id.unwrap().contains('~')));
}

#[test]
fn duplicate_counts() {
    for (customers, share, expected) in
        [(1_000, 0.05, 50), (7, 0.5, 4), (3, 0.1, 0), (0, 0.5, 0), (1_234, 1.0, 1_234), (10, 0.0, 0)]
    {
        let s = with_duplicates(customers, share);
        assert_eq!(s.duplicate_count(), expected, "{customers} × {share}");
        assert_eq!(s.customers().count() as u64, customers + expected);
    }
}

#[test]
fn out_of_range_duplicate_shares_are_clamped() {
    for (share, expected) in
        [(f64::NAN, 0), (-0.5, 0), (f64::NEG_INFINITY, 0), (-0.0, 0), (1.5, 100), (f64::INFINITY, 100), (1.0, 100)]
    {
        let s = with_duplicates(100, share);
        assert_eq!(s.duplicate_count(), expected, "{share}");
        assert_eq!(s.customers().count() as u64, 100 + expected, "{share}");
    }
    // The same through JSON, as the bindings read it.
    for (json, expected) in [(r#"{"customers":100,"duplicates":-1}"#, 0), (r#"{"customers":100,"duplicates":7}"#, 100)]
    {
        let cfg: SynthConfig = serde_json::from_str(json).unwrap();
        assert_eq!(Synth::new(cfg).duplicate_count(), expected, "{json}");
    }
    // Asking for a duplicate that cannot exist is a caller's bug, not a row.
    assert!(std::panic::catch_unwind(|| with_duplicates(0, 1.0).duplicate_source(1)).is_err());
    assert!(std::panic::catch_unwind(|| with_duplicates(5, 1.0).duplicate(0)).is_err());
}

#[test]
fn duplicates_are_deterministic() {
    let a = with_duplicates(2_000, 0.2);
    let b = with_duplicates(2_000, 0.2);
    assert!(a.customers().eq(b.customers()));
    assert_eq!(a.duplicate(17), b.duplicate(17));
    assert_eq!(a.duplicate(17), a.customers().nth(2_016).unwrap());
    // A duplicate does not depend on how many there are.
    let more = with_duplicates(2_000, 0.5);
    assert!(a.customers().eq(more.customers().take(2_400)));
    // Another seed copies other customers, differently.
    let c = Synth::new(SynthConfig { seed: 43, ..a.config().clone() });
    let sources = |s: &Synth| (1..=400).map(|k| s.duplicate_source(k)).collect::<Vec<_>>();
    assert_ne!(sources(&a), sources(&c));
}

#[test]
fn duplicates_name_their_original() {
    for customers in [1, 2, 3, 5, 64, 1_000, 1_025] {
        let s = with_duplicates(customers, 1.0);
        let mut seen = HashSet::new();
        for (k, c) in s.customers().skip(customers as usize).enumerate() {
            let k = k as u64 + 1;
            let (n, run) = ground_truth(c.external_id.as_deref().unwrap());
            assert_eq!(run, 1);
            assert_eq!(n, s.duplicate_source(k));
            assert!((1..=customers).contains(&n));
            assert!(seen.insert(n), "{n} copied twice");
        }
        assert_eq!(seen.len() as u64, customers);
        // Beyond one run, every customer is copied again, as `~2`.
        let (n, run) = ground_truth(s.duplicate(customers + 1).external_id.as_deref().unwrap());
        assert_eq!((n, run), (s.duplicate_source(customers + 1), 2));
        let second: HashSet<u64> = (customers + 1..=2 * customers).map(|k| s.duplicate_source(k)).collect();
        assert_eq!(second.len() as u64, customers);
    }
    // Sources are shuffled, not in order.
    let s = with_duplicates(1_000, 1.0);
    let in_place = (1..=1_000).filter(|&k| s.duplicate_source(k) == k).count();
    assert!(in_place < 10, "{in_place}");
    // Far-out duplicates cost nothing more.
    let big = Synth::new(SynthConfig { customers: u64::MAX / 3, ..Default::default() });
    assert!(big.duplicate_source(u64::MAX / 3 - 5) <= u64::MAX / 3);
}

/// The part of the record a change is on.
fn part(c: dupes::Change) -> &'static str {
    use dupes::Change as C;
    match c {
        C::NameTypo | C::NameSwapped | C::Nickname | C::HanName | C::FullWidth | C::UpperCase => "name",
        C::EmailDomain | C::EmailTypo | C::EmailDots | C::EmailTag | C::EmailUpperCase | C::EmailDropped => "email",
        C::PhoneNational | C::PhoneSeparators | C::PhoneDigit | C::PhoneDropped => "phone",
        C::StreetAbbreviated | C::PostalCodeDropped => "address",
        C::BirthdayDropped | C::BirthdaySwapped => "birthday",
        C::LegalFormChanged | C::LegalFormDropped => "company",
    }
}

/// What a change did to its original, seen from the outside.
fn check_change(change: dupes::Change, o: &NewCustomer, d: &NewCustomer, v: &Validator) {
    use dupes::Change as C;
    let ascii_letters = |s: &str| s.chars().filter(char::is_ascii_alphabetic).count();
    let email_parts = |e: &str| e.split_once('@').map(|(l, d)| (l.to_owned(), d.to_owned())).unwrap();
    let e164 = |c: &NewCustomer| v.customer(c).unwrap().phone.unwrap();
    let ctx = || format!("{change:?}: {o:?} -> {d:?}");
    match change {
        C::NameTypo => {
            assert_ne!(o.name, d.name, "{}", ctx());
            let (a, b) = (ascii_letters(&o.name) as i64, ascii_letters(&d.name) as i64);
            assert!((a - b).abs() <= 1, "{}", ctx());
            assert!(o.name.len().abs_diff(d.name.len()) <= 1, "{}", ctx());
        }
        C::NameSwapped => {
            let (first, last) = o.name.split_once(' ').unwrap();
            assert_eq!(d.name, format!("{last} {first}"));
        }
        C::Nickname => {
            let (first, last) = o.name.split_once(' ').unwrap();
            let (short, rest) = d.name.split_once(' ').unwrap();
            assert_eq!(rest, last);
            let forms = data::NICKNAMES.iter().find(|n| n.0 == first).unwrap().1;
            assert!(forms.contains(&short), "{}", ctx());
        }
        C::HanName => {
            assert!(d.name.chars().all(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)), "{}", ctx());
            assert!((2..=3).contains(&d.name.chars().count()), "{}", ctx());
        }
        C::FullWidth => {
            assert!(d.name.chars().any(|ch| ('\u{ff21}'..='\u{ff5a}').contains(&ch)), "{}", ctx());
            assert_eq!(d.name, dupes::full_width(&o.name));
        }
        C::UpperCase => assert_eq!(d.name, o.name.to_uppercase()),
        C::EmailDomain => {
            let ((ol, od), (dl, dd)) = (email_parts(o.email.as_ref().unwrap()), email_parts(d.email.as_ref().unwrap()));
            assert_eq!(ol, dl);
            assert_ne!(od, dd);
        }
        C::EmailTypo => {
            let ((ol, od), (dl, dd)) = (email_parts(o.email.as_ref().unwrap()), email_parts(d.email.as_ref().unwrap()));
            assert_eq!(od, dd);
            assert_ne!(ol, dl);
            assert!(ol.len().abs_diff(dl.len()) <= 1);
        }
        C::EmailDots => {
            let d = d.email.as_ref().unwrap();
            assert!(d.ends_with("@example.com"));
            assert_ne!(d, o.email.as_ref().unwrap());
            assert_eq!(&d.replace('.', ""), &o.email.as_ref().unwrap().replace('.', ""));
        }
        C::EmailTag => {
            let (dl, dd) = email_parts(d.email.as_ref().unwrap());
            assert_eq!(dd, "example.com");
            let (base, tag) = dl.split_once('+').unwrap();
            assert!(data::EMAIL_TAGS.contains(&tag));
            assert_eq!(format!("{base}@{dd}"), *o.email.as_ref().unwrap());
        }
        C::EmailUpperCase => {
            let d = d.email.as_ref().unwrap();
            assert_ne!(d, o.email.as_ref().unwrap());
            assert_eq!(&d.to_lowercase(), o.email.as_ref().unwrap());
        }
        C::EmailDropped => assert!(o.email.is_some() && d.email.is_none()),
        C::PhoneNational => {
            let p = d.phone.as_deref().unwrap();
            assert!(!p.starts_with('+'), "{}", ctx());
            assert_eq!(e164(o), e164(d), "{}", ctx());
        }
        C::PhoneSeparators => {
            assert_ne!(o.phone, d.phone);
            assert_eq!(e164(o), e164(d), "{}", ctx());
        }
        C::PhoneDigit => {
            let (a, b) = (e164(o), e164(d));
            assert_eq!(a.len(), b.len());
            assert_eq!(a.bytes().zip(b.bytes()).filter(|(x, y)| x != y).count(), 1, "{}", ctx());
        }
        C::PhoneDropped => assert!(o.phone.is_some() && d.phone.is_none()),
        C::StreetAbbreviated => {
            let (os, ds) = (o.address.street.as_ref().unwrap(), d.address.street.as_ref().unwrap());
            assert!(ds.len() < os.len(), "{}", ctx());
            assert_eq!(o.address.postal_code, d.address.postal_code);
        }
        C::PostalCodeDropped => {
            assert!(o.address.postal_code.is_some() && d.address.postal_code.is_none());
            assert_eq!(o.address.street, d.address.street);
        }
        C::BirthdayDropped => assert!(o.birthday.is_some() && d.birthday.is_none()),
        C::BirthdaySwapped => {
            use chrono::Datelike;
            let (a, b) = (o.birthday.unwrap(), d.birthday.unwrap());
            assert_eq!((a.year(), a.month(), a.day()), (b.year(), b.day(), b.month()));
            assert_ne!(a, b);
        }
        C::LegalFormChanged | C::LegalFormDropped => {
            let (oc, dc) = (o.company.as_ref().unwrap(), d.company.as_ref().unwrap());
            assert_ne!(oc, dc);
            let common = oc.chars().zip(dc.chars()).take_while(|(a, b)| a == b).count();
            assert!(common >= 2, "{}", ctx());
            if change == C::LegalFormDropped {
                assert!(oc.starts_with(dc.as_str()) && dc.len() < oc.len(), "{}", ctx());
            }
        }
    }
}

#[test]
fn every_kind_of_change_occurs_and_does_what_it_says() {
    let s = with_duplicates(6_000, 1.0);
    let v = validator();
    let mut counts: BTreeMap<dupes::Change, u32> = BTreeMap::new();
    let mut per_copy = [0u32; 4];
    for k in 1..=s.duplicate_count() {
        let (d, changes) = s.perturbed(k);
        assert_eq!(d, s.duplicate(k));
        let o = s.customer(s.duplicate_source(k));
        assert!((1..=3).contains(&changes.len()), "{changes:?}");
        per_copy[changes.len()] += 1;
        assert_ne!(o, d);
        assert_eq!((o.kind, &o.address.country, &o.address.city), (d.kind, &d.address.country, &d.address.city));
        let parts: HashSet<_> = changes.iter().map(|&c| part(c)).collect();
        assert_eq!(parts.len(), changes.len(), "one change per part: {changes:?}");
        // A company's name is its company name: a change of the name applies to the
        // respelled one.
        let mut base = o.clone();
        if o.kind == Some(CustomerKind::Company) {
            base.name = d.company.clone().unwrap();
        }
        for &c in &changes {
            *counts.entry(c).or_default() += 1;
            check_change(c, if part(c) == "company" { &o } else { &base }, &d, &v);
        }
    }
    let total = s.duplicate_count() as f64;
    for c in dupes::Change::ALL {
        let n = counts.get(&c).copied().unwrap_or(0);
        assert!(n >= 20, "{c:?} occurs {n} times: {counts:?}");
    }
    // Shares, for the docs: `cargo test -p crm-core --lib synth::tests::every_kind -- --nocapture`.
    for (c, n) in &counts {
        println!("{c:?}: {:.1} % of copies", 100.0 * f64::from(*n) / total);
    }
    println!("1, 2, 3 changes: {per_copy:?}");
    assert!((0.46..0.54).contains(&(f64::from(per_copy[1]) / total)), "{per_copy:?}");
}

#[test]
fn duplicates_pass_validation_and_ingest() {
    let s = with_duplicates(3_000, 0.5);
    let v = validator();
    for c in s.customers().skip(3_000) {
        v.customer(&c).unwrap_or_else(|e| panic!("{c:?}: {e}"));
    }
    let crm = crate::Crm::in_memory().unwrap();
    let report = crm.ingest_customers(s.customers(), Default::default()).unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!((report.failed, report.created), (0, 4_500), "{report:?}");
    let orders = crm.ingest_orders(s.orders().take(2_000), Default::default()).unwrap();
    assert_eq!(orders.failed, 0, "{orders:?}");
}

#[test]
fn reference_tables_cover_the_names() {
    for &(first, _, _) in CULTURES[data::CHINESE].first {
        assert!(data::HAN.iter().any(|h| h.0 == first), "{first}");
    }
    for &(last, _) in CULTURES[data::CHINESE].last {
        assert!(data::HAN.iter().any(|h| h.0 == last), "{last}");
    }
    for (name, _) in data::NICKNAMES {
        assert!(CULTURES.iter().any(|c| c.first.iter().any(|f| f.0 == *name)), "{name} is no generated name");
    }
    for country in &COUNTRIES {
        for suffix in country.company_suffixes {
            assert!(data::LEGAL_FORMS.iter().any(|f| f.0 == *suffix), "{suffix}");
        }
    }
}
