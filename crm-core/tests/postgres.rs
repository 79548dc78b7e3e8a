//! What only a server store has: opening by URL and what can go wrong there, writers on many
//! connections at once, and lost connections. The ports themselves are proved by the shared
//! suites (tests/common). Needs `CRM_TEST_PG` (make test sets it); each test skips, saying
//! so, without it.
#![cfg(feature = "postgres")]

mod common;

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, Utc};
use crm_core::store::prelude::*;
use crm_core::store::PostgresStore;
use crm_core::*;

fn base_url() -> Option<String> {
    let url = std::env::var("CRM_TEST_PG").ok();
    if url.is_none() {
        eprintln!("CRM_TEST_PG is not set: skipped (make test sets it)");
    }
    url
}

/// A URL of a new schema, and the schema's name.
fn scratch() -> Option<(String, String)> {
    let url = common::pg_scratch_url()?;
    let schema = url.rsplit("search_path%3D").next().unwrap().to_string();
    Some((url, schema))
}

fn admin() -> postgres::Client {
    postgres::Client::connect(&std::env::var("CRM_TEST_PG").unwrap(), postgres::NoTls).unwrap()
}

fn tables_in(schema: &str) -> Vec<String> {
    admin()
        .query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", &[&schema])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn kind(e: &Error) -> Option<StorageErrorKind> {
    e.storage_kind()
}

fn at(day: i64) -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::days(day)
}

fn person(crm: &Crm, ext: &str) -> CustomerId {
    crm.upsert_customer(&NewCustomer { external_id: Some(ext.into()), name: ext.into(), ..Default::default() })
        .unwrap()
        .record
        .id
}

fn order(ext: &str, c: CustomerId, day: i64, minor: i64) -> NewOrder {
    NewOrder {
        external_id: ext.into(),
        customer_id: Some(c),
        customer_external_id: None,
        occurred_at: at(day),
        status: None,
        currency: "USD".parse().unwrap(),
        total_minor: minor,
        channel: None,
        items: None,
    }
}

#[test]
fn malformed_urls_are_validation_errors_naming_the_url() {
    for bad in [
        "postgresql://localhost:notaport/db",
        "postgresql://localhost:99999/db",
        "postgresql://user@host/db?sslmode=sometimes",
        "postgresql://user@host/db?no_such_option=1",
        "mysql://localhost/db",
    ] {
        match Crm::open(bad) {
            Err(Error::Validation { field, reason }) => {
                assert_eq!(field, "url", "{bad}");
                assert!(!reason.is_empty());
            }
            other => panic!("{bad}: expected a validation error on url, got {other:?}"),
        }
    }
    let long = format!("postgresql://localhost/{}", "d".repeat(5000));
    assert!(matches!(Crm::open(&long), Err(Error::Validation { field, .. }) if field == "url"));
}

#[test]
fn a_password_never_appears_in_errors() {
    let e = Crm::open("postgresql://crm:hunter2@127.0.0.1:1/db").unwrap_err();
    assert_eq!(kind(&e), Some(StorageErrorKind::Unavailable), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = Crm::open("postgresql://crm:hunter2@localhost:notaport/db").unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn no_server_and_no_database_are_unavailable() {
    let Some(base) = base_url() else { return };
    let e = Crm::open("postgresql://crm_test:crm_test@127.0.0.1:1/crm_test?connect_timeout=5").unwrap_err();
    assert_eq!(kind(&e), Some(StorageErrorKind::Unavailable), "{e}");
    assert!(e.storage_kind().unwrap().is_retryable());
    let missing = base.rsplit_once('/').map(|(head, _)| format!("{head}/no_such_database_here")).unwrap();
    let e = Crm::open(&missing).unwrap_err();
    assert_eq!(kind(&e), Some(StorageErrorKind::Unavailable), "{e}");
}

#[test]
fn wrong_credentials_are_auth_errors_and_create_nothing() {
    let Some((url, schema)) = scratch() else { return };
    let wrong = url.replacen("crm_test:crm_test@", "crm_test:not-the-password@", 1);
    assert_ne!(wrong, url, "the test expects CRM_TEST_PG with user crm_test:crm_test");
    let e = Crm::open(&wrong).unwrap_err();
    assert_eq!(kind(&e), Some(StorageErrorKind::Auth), "{e}");
    assert!(!kind(&e).unwrap().is_retryable());
    assert!(e.to_string().contains("password"), "{e}");
    assert!(tables_in(&schema).is_empty());
}

#[test]
fn a_database_of_a_newer_crm_is_refused_and_left_alone() {
    let Some((url, schema)) = scratch() else { return };
    admin()
        .batch_execute(&format!(
            "CREATE TABLE {schema}.crm_schema (version BIGINT NOT NULL); INSERT INTO {schema}.crm_schema VALUES (999)"
        ))
        .unwrap();
    match Crm::open(&url) {
        Err(Error::SchemaTooNew { found: 999, supported }) => assert!(supported < 999),
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert_eq!(tables_in(&schema), vec!["crm_schema".to_string()]);
}

#[test]
fn opening_twice_and_concurrently_migrates_once() {
    let Some((url, schema)) = scratch() else { return };
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresStore::open(&url).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let tables = tables_in(&schema);
    assert!(tables.contains(&"customers".to_string()) && tables.contains(&"order_refunds".to_string()));
    let version: i64 = admin().query_one(&format!("SELECT version FROM {schema}.crm_schema"), &[]).unwrap().get(0);
    assert_eq!(version, crm_core::store::postgres::SCHEMA_VERSION);
    PostgresStore::open(&url).unwrap();
}

#[test]
fn crm_opens_a_url_and_the_data_is_shared_between_handles() {
    let Some((url, _)) = scratch() else { return };
    let a = Crm::open(&url).unwrap();
    let b = Crm::open(&url).unwrap();
    assert_eq!(a.store().engine(), "postgres");
    let c = person(&a, "C-1");
    b.record_order(&order("O-1", c, 1, 500)).unwrap();
    assert_eq!(a.customer_stats(c).unwrap().order_count, 1);
    assert_eq!(a.counts().unwrap().orders, 1);
}

/// Redemptions from one account on several handles (each its own pool of connections):
/// the balance is never overspent.
#[test]
fn redemptions_on_many_connections_never_overspend() {
    let Some((url, _)) = scratch() else { return };
    let crm = Crm::open(&url).unwrap();
    let c = person(&crm, "C-1");
    crm.earn_points(c, 1_000, "E-1").unwrap();
    let start = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|th| {
            let url = url.clone();
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let crm = Crm::open(&url).unwrap();
                start.wait();
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
    assert_eq!(crm.points_balance(c).unwrap().balance, 1_000 - 7 * ok);
}

/// Orders of a few customers from four handles at once, some of them sent twice: every
/// customer's statistics equal what their stored orders give, and no order is duplicated.
#[test]
fn concurrent_writers_lose_no_statistics_and_duplicate_nothing() {
    let Some((url, _)) = scratch() else { return };
    let crm = Crm::open(&url).unwrap();
    let ids: Vec<CustomerId> = (0..3).map(|i| person(&crm, &format!("C-{i}"))).collect();
    let start = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|th| {
            let (url, ids, start) = (url.clone(), ids.clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                let crm = Crm::open(&url).unwrap();
                start.wait();
                for i in 0..40 {
                    let c = ids[i % ids.len()];
                    // Every thread also sends the shared orders S-i: each must be written once.
                    crm.record_order(&order(&format!("T{th}-{i}"), c, i as i64, 100 + i as i64)).unwrap();
                    crm.record_order(&order(&format!("S-{i}"), c, i as i64, 1_000)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(crm.counts().unwrap().orders, 4 * 40 + 40);
    for c in ids {
        assert_eq!(crm.customer_stats(c).unwrap(), common::recomputed_stats(&crm, c));
    }
}

/// A feed reader never passes an entry that commits late: an entry takes its sequence
/// number when its transaction commits, so a writer that appended first and commits last
/// gets the larger number, and a reader whose cursor passed the other writer's entry still
/// gets it. Nothing of a transaction is in the feed before it commits.
#[test]
fn the_feed_never_skips_an_entry_committed_late() {
    let Some((url, _)) = scratch() else { return };
    let store = Arc::new(PostgresStore::open(&url).unwrap());
    let (appended, go_on) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let slow = {
        let (store, appended, go_on) = (Arc::clone(&store), Arc::clone(&appended), Arc::clone(&go_on));
        std::thread::spawn(move || {
            store
                .write(|tx| {
                    tx.append_change(Entity::Customer, 1, Op::Insert, at(0))?;
                    appended.wait();
                    go_on.wait();
                    Ok(())
                })
                .unwrap()
        })
    };
    appended.wait();
    store.write(|tx| tx.append_change(Entity::Customer, 2, Op::Insert, at(0))).unwrap();
    let seen = store.read(|tx| tx.changes_since(0, 100)).unwrap();
    assert_eq!(seen.iter().map(|c| c.id).collect::<Vec<_>>(), [2], "the first writer's entry is not in yet");
    let cursor = seen[0].seq;
    go_on.wait();
    slow.join().unwrap();
    let later: Vec<i64> = store.read(|tx| tx.changes_since(cursor, 100)).unwrap().iter().map(|c| c.id).collect();
    assert_eq!(later, [1], "the entry committed late comes after the cursor");
}

/// The server ends the connection in the middle of a transaction: a typed Unavailable
/// error, nothing of the transaction written, and the same call retried completes.
#[test]
fn a_connection_lost_mid_transaction_writes_nothing_and_a_retry_completes() {
    let Some((url, schema)) = scratch() else { return };
    // The session to end is found by its application name.
    let name = format!("crm_{schema}");
    let crm = Crm::open(format!("{url}&application_name={name}")).unwrap();
    let c = person(&crm, "C-1");
    let store = crm.store().as_postgres().unwrap();
    let e = store
        .write(|tx| {
            tx.append_change(Entity::Customer, c.0, Op::Update, at(0))?;
            // The server ends this very session, as a restart or a network failure would.
            let mut admin = admin();
            let sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1";
            assert_eq!(admin.query(sql, &[&name]).unwrap().len(), 1);
            tx.count_customers()
        })
        .unwrap_err();
    assert_eq!(kind(&e), Some(StorageErrorKind::Unavailable), "{e}");
    assert_eq!(crm.changes_since(0, 100).unwrap().len(), 1, "only the customer's creation");
    // The pool dropped the broken connection: the retry gets a new one.
    crm.record_order(&order("O-1", c, 1, 500)).unwrap();
    crm.record_order(&order("O-1", c, 1, 500)).unwrap();
    assert_eq!(crm.customer_stats(c).unwrap().order_count, 1);
}

#[test]
fn connection_settings_out_of_range_are_validation_errors_before_connecting() {
    use crm_core::store::PostgresOptions;
    // No server is needed: the settings are checked first.
    let url = "postgresql://crm:pw@127.0.0.1:1/db";
    for (opts, field) in [
        (PostgresOptions { max_connections: 0, ..Default::default() }, "max_connections"),
        (PostgresOptions { max_connections: 1001, ..Default::default() }, "max_connections"),
        (PostgresOptions { connect_timeout: std::time::Duration::ZERO, ..Default::default() }, "connect_timeout_ms"),
        (
            PostgresOptions { connect_timeout: std::time::Duration::from_secs(3601), ..Default::default() },
            "connect_timeout_ms",
        ),
    ] {
        let config = CrmConfig { postgres: opts, ..Default::default() };
        match Crm::open_with(url, config) {
            Err(Error::Validation { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected a validation error on {field}, got {other:?}"),
        }
    }
}

/// A database of schema 7 with records of every kind that has a key (made by undoing
/// migrations 8 to 13 on a new one) is upgraded: every external id and idempotency key is in the key
/// table with its customer, order lines and refunds carry their order's customer, the
/// keys stay unique through the facade, the completed order has its period state, and the
/// ledger entry's lot is in the entry's row.
#[test]
fn a_schema_7_database_gets_its_keys_and_customers_of_lines_and_refunds() {
    let Some((url, schema)) = scratch() else { return };
    drop(Crm::open(&url).unwrap());
    let mut admin = admin();
    admin
        .batch_execute(&format!(
            "SET search_path = {schema};
             DROP INDEX loyalty_entries_open;
             ALTER TABLE loyalty_entries DROP COLUMN remaining, DROP COLUMN available_at, DROP COLUMN expires_at,
                 DROP COLUMN expired;
             CREATE TABLE loyalty_lots (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                 customer_id BIGINT NOT NULL, entry_id BIGINT NOT NULL, points BIGINT NOT NULL,
                 remaining BIGINT NOT NULL, earned_at BIGINT NOT NULL, available_at BIGINT NOT NULL, expires_at BIGINT,
                 expired BOOLEAN NOT NULL DEFAULT false);
             CREATE INDEX loyalty_lots_open ON loyalty_lots(customer_id, expires_at) WHERE remaining > 0;
             CREATE INDEX loyalty_lots_entry ON loyalty_lots(entry_id);
             ALTER TABLE customer_spend DROP COLUMN orders, DROP COLUMN first_at, DROP COLUMN last_at,
                 DROP COLUMN days, DROP COLUMN first_day_minor, DROP COLUMN weeks, DROP COLUMN first_week_minor;
             DROP TABLE customer_identities, match_keys, match_suggestions, merges, merge_moves;
             DROP TABLE external_keys;
             ALTER TABLE order_items DROP COLUMN customer_id;
             ALTER TABLE order_refunds DROP COLUMN customer_id;
             DROP INDEX customers_external_id, orders_external_id, interactions_external_id, order_refunds_key,
                 loyalty_entries_key;
             ALTER TABLE customers ADD CONSTRAINT customers_external_id_key UNIQUE (external_id);
             ALTER TABLE orders ADD CONSTRAINT orders_external_id_key UNIQUE (external_id);
             ALTER TABLE interactions ADD CONSTRAINT interactions_external_id_key UNIQUE (external_id);
             ALTER TABLE order_refunds ADD CONSTRAINT order_refunds_refund_key_key UNIQUE (refund_key);
             ALTER TABLE loyalty_entries ADD CONSTRAINT loyalty_entries_idempotency_key_key UNIQUE (idempotency_key);
             UPDATE crm_schema SET version = 7;
             INSERT INTO customers (external_id, kind, name, lifecycle, created_at, updated_at)
                 VALUES ('C1', 'person', 'Ada', 'prospect', 0, 0), ('C2', 'person', 'Bob', 'prospect', 0, 0),
                 (NULL, 'person', 'No Key', 'prospect', 0, 0);
             INSERT INTO customer_stats (customer_id) SELECT id FROM customers;
             INSERT INTO orders (external_id, customer_id, occurred_at, status, currency, total_minor, created_at,
                 updated_at) SELECT 'O1', id, 0, 'completed', 'EUR', 500, 0, 0 FROM customers WHERE external_id = 'C2';
             INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price_minor)
                 SELECT id, 0, 'A', 1, 500 FROM orders;
             INSERT INTO order_refunds (order_id, refund_key, amount_minor, lines, at, created_at)
                 SELECT id, 'R1', 100, '[]', 0, 0 FROM orders;
             INSERT INTO interactions (external_id, customer_id, kind, occurred_at, created_at)
                 SELECT 'I1', id, 'call', 0, 0 FROM customers WHERE external_id = 'C2';
             INSERT INTO interactions (external_id, customer_id, kind, occurred_at, created_at)
                 SELECT NULL, id, 'call', 0, 0 FROM customers WHERE external_id = 'C2';
             INSERT INTO loyalty_entries (customer_id, kind, points, qualifying, idempotency_key, at, balance_after,
                 created_at) SELECT id, 'adjust', 10, 0, 'L1', 0, 10, 0 FROM customers WHERE external_id = 'C1';
             INSERT INTO loyalty_lots (customer_id, entry_id, points, remaining, earned_at, available_at, expires_at)
                 SELECT customer_id, id, 10, 7, 0, 86400000000, 172800000000 FROM loyalty_entries;"
        ))
        .unwrap();

    let crm = Crm::open(&url).unwrap();
    let (c1, c2) = (crm.customer_id_by_external_id("C1").unwrap().0, crm.customer_id_by_external_id("C2").unwrap().0);
    let state: (i64, String, i64, i64, i64, i64, i64) = {
        let r = admin
            .query_one(
                &format!(
                    "SELECT customer_id, currency, total_minor, orders, days, first_day_minor, weeks \
                     FROM {schema}.customer_spend"
                ),
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6))
    };
    assert_eq!(state, (c2, "EUR".to_string(), 500, 1, 1, 500, 1));
    let lots = crm.points_statement(CustomerId(c1)).unwrap().lots;
    let entry = crm.points_statement(CustomerId(c1)).unwrap().entries[0].id;
    let micros = |v: i64| DateTime::<Utc>::from_timestamp_micros(v).unwrap();
    let lot = crm_core::loyalty::Lot {
        id: entry.0,
        customer_id: CustomerId(c1),
        entry_id: entry,
        points: 10,
        remaining: 7,
        earned_at: micros(0),
        available_at: micros(86_400_000_000),
        expires_at: Some(micros(172_800_000_000)),
        expired: false,
    };
    assert_eq!(lots, [lot]);
    let gone: i64 = admin
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'loyalty_lots'",
            &[&schema],
        )
        .unwrap()
        .get(0);
    assert_eq!(gone, 0);
    let keys: Vec<(String, String, i64)> = admin
        .query(&format!("SELECT kind, key, customer_id FROM {schema}.external_keys ORDER BY kind, key"), &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let key = |k: &str, v: &str, c: i64| (k.to_string(), v.to_string(), c);
    assert_eq!(
        keys,
        [
            key("customer", "C1", c1),
            key("customer", "C2", c2),
            key("interaction", "I1", c2),
            key("loyalty", "L1", c1),
            key("order", "O1", c2),
            key("refund", "R1", c2)
        ]
    );
    for table in ["order_items", "order_refunds"] {
        let owners: Vec<i64> = admin
            .query(&format!("SELECT customer_id FROM {schema}.{table}"), &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(owners, [c2], "{table}");
    }
    // The keys keep the records unique: the same order again is the stored one, a new
    // customer with a taken external id is a conflict.
    let again = crm
        .record_order(&NewOrder {
            external_id: "O1".into(),
            customer_id: None,
            customer_external_id: Some("C1".into()),
            occurred_at: at(0),
            status: None,
            currency: crm_core::Currency::new("EUR").unwrap(),
            total_minor: 500,
            channel: None,
            items: None,
        })
        .unwrap();
    assert_eq!((again.outcome, again.record.customer_id.0), (Outcome::Updated, c1), "moved to C1");
    assert_eq!(crm.counts().unwrap().orders, 1);
    let moved: Vec<(String, i64)> = admin
        .query(
            &format!(
                "SELECT kind, customer_id FROM {schema}.external_keys WHERE kind IN ('order', 'refund') ORDER BY kind"
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(moved, [("order".to_string(), c1), ("refund".to_string(), c1)], "the keys move with the order");
    let taken = crm.create_customer(&NewCustomer {
        external_id: Some("C2".into()),
        name: "Other".into(),
        ..Default::default()
    });
    assert!(matches!(taken, Err(Error::Conflict(_))), "{taken:?}");
}

/// The partitioned layout the suites run on (`CRM_TEST_STORE=postgres-partitioned`) is what
/// it says: every customer-owned table partitioned by hash of its customer, none of them
/// with a unique index that leaves the customer out, and the store works on it.
#[test]
fn the_partitioned_layout_partitions_every_customer_owned_table() {
    let Some(url) = common::pg_partitioned_url() else { return };
    let schema = url.rsplit("search_path%3D").next().unwrap().to_string();
    let partitioned: Vec<(String, String)> = admin()
        .query(
            "SELECT c.relname::text, pg_get_partkeydef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind = 'p' ORDER BY 1",
            &[&schema],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut want: Vec<(String, String)> =
        common::DISTRIBUTED.iter().map(|(t, k)| (t.to_string(), format!("HASH ({k})"))).collect();
    want.sort();
    assert_eq!(partitioned, want);
    let crm = Crm::open(&url).unwrap();
    let c = person(&crm, "C-1");
    assert!(crm
        .create_customer(&NewCustomer { external_id: Some("C-1".into()), name: "Again".into(), ..Default::default() })
        .is_err());
    assert_eq!(crm.get_customer_by_external_id("C-1").unwrap().id, c);
}
