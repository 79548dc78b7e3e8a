//! Every kind of bad input the facade guards against: a typed error naming the field,
//! and nothing written (row counts and the change feed unchanged).

mod common;

use chrono::{Duration, TimeZone, Utc};
use crm_core::*;

fn setup() -> (Crm, Customer) {
    let crm = common::test_crm();
    let c = crm
        .upsert_customer(&NewCustomer { external_id: Some("C-1".into()), name: "Ada".into(), ..Default::default() })
        .unwrap()
        .record;
    (crm, c)
}

fn snapshot(crm: &Crm) -> (Counts, usize) {
    (crm.counts().unwrap(), crm.changes_since(0, 10_000).unwrap().len())
}

/// Runs `f`, expects a validation error on `field`, and checks nothing changed.
fn refused<T: std::fmt::Debug>(crm: &Crm, field: &str, f: impl FnOnce() -> Result<T>) {
    let before = snapshot(crm);
    match f() {
        Err(Error::Validation { field: got, reason }) => {
            assert_eq!(got, field, "reason: {reason}");
            assert!(!reason.is_empty());
        }
        other => panic!("expected a validation error on {field}, got {other:?}"),
    }
    assert_eq!(snapshot(crm), before, "nothing may change");
}

fn cust(f: impl FnOnce(&mut NewCustomer)) -> NewCustomer {
    let mut c = NewCustomer { external_id: Some("C-2".into()), name: "Bo".into(), ..Default::default() };
    f(&mut c);
    c
}

fn order(f: impl FnOnce(&mut NewOrder)) -> NewOrder {
    let mut o = NewOrder {
        external_id: "O-1".into(),
        customer_id: None,
        customer_external_id: Some("C-1".into()),
        occurred_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        status: Some(OrderStatus::Completed),
        currency: "USD".parse().unwrap(),
        total_minor: 1000,
        channel: None,
        items: Some(vec![LineItem { sku: "S".into(), category: None, quantity: 1, unit_price_minor: 1000 }]),
    };
    f(&mut o);
    o
}

fn inter(f: impl FnOnce(&mut NewInteraction)) -> NewInteraction {
    let mut i = NewInteraction {
        external_id: Some("I-1".into()),
        customer_id: None,
        customer_external_id: Some("C-1".into()),
        kind: InteractionKind::Call,
        channel: None,
        direction: None,
        occurred_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        subject: None,
        body: None,
        score: None,
        payload: None,
    };
    f(&mut i);
    i
}

#[test]
fn bad_emails() {
    let (crm, _) = setup();
    for bad in ["no-at-sign", "a@b", "two@@example.com", "sp ace@example.com"] {
        refused(&crm, "email", || crm.upsert_customer(&cust(|c| c.email = Some(bad.into()))));
    }
}

#[test]
fn bad_phones() {
    let (crm, _) = setup();
    refused(&crm, "phone", || crm.upsert_customer(&cust(|c| c.phone = Some("12345".into()))));
    refused(&crm, "phone", || crm.upsert_customer(&cust(|c| c.phone = Some("+1 000 000 0000".into()))));
    // A national number needs a default region.
    refused(&crm, "phone", || crm.upsert_customer(&cust(|c| c.phone = Some("9123 4567".into()))));
    let sg = Crm::with_store(
        store::SqliteStore::in_memory().unwrap(),
        ValidationConfig { default_region: Some("SG".into()), ..Default::default() },
    )
    .unwrap();
    let c = sg.upsert_customer(&cust(|c| c.phone = Some("9123 4567".into()))).unwrap().record;
    assert_eq!(c.phone.as_deref(), Some("+6591234567"));
    assert!(matches!(
        Crm::with_store(
            store::SqliteStore::in_memory().unwrap(),
            ValidationConfig { default_region: Some("Narnia".into()), ..Default::default() }
        ),
        Err(Error::Validation { .. })
    ));
}

#[test]
fn bad_currencies_are_refused_when_parsed() {
    assert_eq!("US".parse::<Currency>().unwrap_err().field(), Some("currency"));
    assert_eq!("XYZ".parse::<Currency>().unwrap_err().field(), Some("currency"));
    let json = r#"{"external_id":"O","customer_external_id":"C-1","occurred_at":"2026-01-01T00:00:00Z","currency":"ABC","total_minor":1}"#;
    let e = serde_json::from_str::<NewOrder>(json).unwrap_err();
    assert!(e.to_string().contains("ISO 4217"), "{e}");
}

#[test]
fn bad_amounts() {
    let (crm, _) = setup();
    refused(&crm, "total_minor", || crm.record_order(&order(|o| o.total_minor = -1)));
    refused(&crm, "total_minor", || crm.record_order(&order(|o| o.total_minor = MAX_MINOR + 1)));
    refused(&crm, "items[0].unit_price_minor", || {
        crm.record_order(&order(|o| o.items.as_mut().unwrap()[0].unit_price_minor = -5))
    });
    refused(&crm, "items[0].quantity", || crm.record_order(&order(|o| o.items.as_mut().unwrap()[0].quantity = 0)));
    refused(&crm, "items[0]", || {
        crm.record_order(&order(|o| {
            o.items.as_mut().unwrap()[0].quantity = 1_000_000;
            o.items.as_mut().unwrap()[0].unit_price_minor = MAX_MINOR;
        }))
    });
}

#[test]
fn bad_dates() {
    let (crm, _) = setup();
    refused(&crm, "occurred_at", || {
        crm.record_order(&order(|o| o.occurred_at = Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap()))
    });
    refused(&crm, "occurred_at", || crm.record_order(&order(|o| o.occurred_at = Utc::now() + Duration::days(30))));
    refused(&crm, "occurred_at", || crm.add_interaction(&inter(|i| i.occurred_at = Utc::now() + Duration::days(400))));
    refused(&crm, "birthday", || crm.upsert_customer(&cust(|c| c.birthday = Some("1850-01-01".parse().unwrap()))));
    refused(&crm, "birthday", || {
        crm.upsert_customer(&cust(|c| c.birthday = Some(Utc::now().date_naive() + Duration::days(2))))
    });
    refused(&crm, "created_at", || {
        crm.upsert_customer(&cust(|c| c.created_at = Some(Utc.with_ymd_and_hms(1901, 1, 1, 0, 0, 0).unwrap())))
    });
}

#[test]
fn over_long_strings() {
    let (crm, _) = setup();
    let long = "x".repeat(257);
    refused(&crm, "name", || crm.upsert_customer(&cust(|c| c.name = long.clone())));
    refused(&crm, "company", || crm.upsert_customer(&cust(|c| c.company = Some(long.clone()))));
    refused(&crm, "address.city", || crm.upsert_customer(&cust(|c| c.address.city = Some(long.clone()))));
    refused(&crm, "tags", || {
        crm.upsert_customer(&cust(|c| {
            c.tags.insert(long.clone());
        }))
    });
    refused(&crm, "external_id", || crm.upsert_customer(&cust(|c| c.external_id = Some("e".repeat(129)))));
    refused(&crm, "external_id", || crm.record_order(&order(|o| o.external_id = "e".repeat(129))));
    refused(&crm, "items[0].sku", || crm.record_order(&order(|o| o.items.as_mut().unwrap()[0].sku = long.clone())));
    refused(&crm, "body", || crm.add_interaction(&inter(|i| i.body = Some("b".repeat(65_537)))));
    refused(&crm, "name", || crm.upsert_customer(&cust(|c| c.name = "nul\0byte".into())));
    refused(&crm, "name", || crm.upsert_customer(&cust(|c| c.name = "   ".into())));
    refused(&crm, "tags", || crm.upsert_customer(&cust(|c| c.tags = (0..101).map(|n| format!("t{n}")).collect())));
    refused(&crm, "items", || {
        crm.record_order(&order(|o| {
            o.items = Some(
                (0..1001)
                    .map(|n| LineItem { sku: format!("s{n}"), category: None, quantity: 1, unit_price_minor: 0 })
                    .collect(),
            )
        }))
    });
}

#[test]
fn oversized_custom_attributes_and_payloads() {
    let (crm, c) = setup();
    let big = serde_json::Value::String("v".repeat(20_000));
    refused(&crm, "attributes", || {
        crm.upsert_customer(&cust(|c| {
            c.attributes.insert("blob".into(), big.clone());
        }))
    });
    let patch = CustomerPatch {
        attributes: Some(Some([("blob".to_string(), big.clone())].into_iter().collect())),
        ..Default::default()
    };
    refused(&crm, "attributes", || crm.update_customer(c.id, &patch));
    refused(&crm, "payload", || crm.add_interaction(&inter(|i| i.payload = Some(big.clone()))));
    refused(&crm, "attributes", || {
        crm.upsert_customer(&cust(|c| {
            c.attributes.insert(String::new(), serde_json::json!(1));
        }))
    });
}

#[test]
fn bad_scores_and_countries() {
    let (crm, _) = setup();
    refused(&crm, "score", || crm.add_interaction(&inter(|i| i.score = Some(Score::Csat(0)))));
    refused(&crm, "score", || crm.add_interaction(&inter(|i| i.score = Some(Score::Nps(11)))));
    refused(&crm, "address.country", || crm.upsert_customer(&cust(|c| c.address.country = Some("XX".into()))));
    refused(&crm, "address.country", || crm.upsert_customer(&cust(|c| c.address.country = Some("Singapore".into()))));
}

#[test]
fn unknown_customers_on_orders_and_interactions() {
    let (crm, c) = setup();
    refused(&crm, "customer_external_id", || {
        crm.record_order(&order(|o| o.customer_external_id = Some("nobody".into())))
    });
    refused(&crm, "customer_id", || {
        crm.record_order(&order(|o| {
            o.customer_external_id = None;
            o.customer_id = Some(CustomerId(c.id.0 + 1000));
        }))
    });
    refused(&crm, "customer_id", || {
        crm.record_order(&order(|o| {
            o.customer_external_id = None;
        }))
    });
    refused(&crm, "customer_id", || crm.record_order(&order(|o| o.customer_id = Some(c.id))));
    refused(&crm, "customer_external_id", || {
        crm.add_interaction(&inter(|i| i.customer_external_id = Some("nobody".into())))
    });
}

#[test]
fn missing_records_and_conflicts() {
    let (crm, c) = setup();
    let before = snapshot(&crm);
    assert!(matches!(crm.get_customer(CustomerId(9999)), Err(Error::NotFound { entity: Entity::Customer, .. })));
    assert!(matches!(crm.get_customer_by_external_id("zzz"), Err(Error::NotFound { .. })));
    assert!(matches!(crm.get_order(OrderId(1)), Err(Error::NotFound { entity: Entity::Order, .. })));
    assert!(matches!(crm.delete_customer(CustomerId(9999)), Err(Error::NotFound { .. })));
    assert!(matches!(crm.delete_order(OrderId(77)), Err(Error::NotFound { .. })));
    assert!(matches!(crm.delete_interaction(InteractionId(77)), Err(Error::NotFound { .. })));
    assert!(matches!(crm.update_customer(CustomerId(9999), &CustomerPatch::default()), Err(Error::NotFound { .. })));
    assert!(matches!(crm.timeline(CustomerId(9999), 10, None), Err(Error::NotFound { .. })));
    assert!(matches!(
        crm.create_customer(&NewCustomer { external_id: Some("C-1".into()), name: "Dup".into(), ..Default::default() }),
        Err(Error::Conflict(_))
    ));
    let other = crm
        .create_customer(&NewCustomer { external_id: Some("C-9".into()), name: "Zed".into(), ..Default::default() })
        .unwrap();
    let before2 = snapshot(&crm);
    let steal = CustomerPatch { external_id: Some(Some("C-1".into())), ..Default::default() };
    assert!(matches!(crm.update_customer(other.id, &steal), Err(Error::Conflict(_))));
    assert_eq!(snapshot(&crm), before2);
    assert_eq!(before.0.customers + 1, before2.0.customers);
    assert_eq!(crm.get_customer(c.id).unwrap().external_id.as_deref(), Some("C-1"));
}

#[test]
fn bad_query_arguments() {
    let (crm, c) = setup();
    refused(&crm, "limit", || crm.query_customers(&CustomerQuery { limit: 0, ..Default::default() }));
    refused(&crm, "limit", || crm.query_customers(&CustomerQuery { limit: 1_000_000, ..Default::default() }));
    refused(&crm, "cursor", || {
        crm.query_customers(&CustomerQuery { cursor: Some("not-a-cursor".into()), ..Default::default() })
    });
    refused(&crm, "cursor", || crm.timeline(c.id, 10, Some("1.2")));
    refused(&crm, "limit", || crm.changes_since(0, 0));
    refused(&crm, "limit", || crm.search_customers("a", 0));
    refused(&crm, "text", || crm.search_customers(&"q".repeat(1000), 10));
    refused(&crm, "external_id", || crm.upsert_customer(&NewCustomer { name: "no key".into(), ..Default::default() }));
}

#[test]
fn unknown_fields_in_json_input_are_refused() {
    let e = serde_json::from_str::<NewCustomer>(r#"{"name":"A","emial":"a@example.com"}"#).unwrap_err();
    assert!(e.to_string().contains("emial"), "{e}");
    let e = serde_json::from_str::<CustomerPatch>(r#"{"nmae":"A"}"#).unwrap_err();
    assert!(e.to_string().contains("nmae"), "{e}");
}

#[test]
fn rule_times_are_bounded() {
    let (crm, c) = setup();
    let rule = crm_core::rule::parse("last_order_at within 30 days").unwrap();
    let y9999 = Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap();
    let y1969 = Utc.with_ymd_and_hms(1969, 1, 1, 0, 0, 0).unwrap();
    for t in [y9999, y1969] {
        refused(&crm, "as_of", || crm.count_matching(&rule, Some(t)));
        refused(&crm, "as_of", || crm.members_matching(&rule, Some(t), None, 10));
        refused(&crm, "as_of", || crm.matches_at(c.id, &rule, Some(t)));
    }
    // A forecast a year ahead is a question a host may ask.
    assert_eq!(crm.count_matching(&rule, Some(Utc::now() + chrono::Duration::days(365))).unwrap(), 0);
}

#[test]
fn ingest_batch_sizes_are_bounded() {
    let (crm, _) = setup();
    let rows = vec![NewCustomer { external_id: Some("C-2".into()), name: "B".into(), ..Default::default() }];
    for n in [0, crm_core::ingest::MAX_BATCH_SIZE + 1] {
        let opts = crm_core::ingest::IngestOptions { batch_size: n, ..Default::default() };
        refused(&crm, "batch_size", || crm.ingest_customers(rows.clone(), opts));
    }
}

/// Storage failures carry a kind a host can act on, the same for every engine, and never
/// the driver's type: a missing directory is unavailable, a file that is no database is
/// corrupt, a writer held up past the busy timeout is busy (and nothing of its call is
/// written; the same call retried applies once).
#[test]
fn storage_errors_say_what_kind_of_failure_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let e = Crm::open(dir.path().join("no/such/dir/crm.db")).unwrap_err();
    assert_eq!(e.storage_kind(), Some(StorageErrorKind::Unavailable), "{e}");
    assert!(e.storage_kind().unwrap().is_retryable());
    assert!(e.to_string().starts_with("storage error (unavailable): "), "{e}");

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "this is not a database. ".repeat(200)).unwrap();
    let e = Crm::open(&junk).unwrap_err();
    assert_eq!(e.storage_kind(), Some(StorageErrorKind::Corrupt), "{e}");
    assert!(!e.storage_kind().unwrap().is_retryable());
    assert!(std::error::Error::source(&e).is_some(), "the engine's error is kept as the source");

    let path = dir.path().join("busy.db");
    let config = CrmConfig {
        sqlite: crm_core::store::SqliteOptions {
            busy_timeout: std::time::Duration::from_millis(50),
            ..Default::default()
        },
        ..Default::default()
    };
    let crm = Crm::open_with(&path, config).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let ada = || NewCustomer { external_id: Some("C-1".into()), name: "Ada".into(), ..Default::default() };
    let e = crm.upsert_customer(&ada()).unwrap_err();
    assert_eq!(e.storage_kind(), Some(StorageErrorKind::Busy), "{e}");
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(snapshot(&crm), (Counts::default(), 0), "nothing of the busy call was written");
    crm.upsert_customer(&ada()).unwrap();
    crm.upsert_customer(&ada()).unwrap();
    assert_eq!(crm.counts().unwrap().customers, 1);
    assert_eq!(Error::validation("x", "y").storage_kind(), None);
}
