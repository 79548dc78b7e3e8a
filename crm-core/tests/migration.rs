//! Schema upgrades: a file written at schema version 1 (tests/fixtures/schema_v1.sql) is
//! upgraded in place when opened, with its rows intact and the statistics backfilled; a
//! file from a newer library is refused and left alone; opening an up-to-date file again
//! changes nothing.

mod common;
use common::recomputed_stats;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use crm_core::store::prelude::*;
use crm_core::store::sqlite::SCHEMA_VERSION;
use crm_core::store::SqliteStore;
use crm_core::{
    Consent, Crm, CustomerId, CustomerKind, CustomerStats, Direction, Entity, Error, InteractionId, InteractionKind,
    LifecycleStage, LineItem, Money, NewCustomer, NewInteraction, NewOrder, Op, OrderId, OrderStatus, Outcome, Score,
};
use rusqlite::types::Value;
use rusqlite::Connection;

/// Migration 1's DDL and a few rows, stamped `user_version = 1`.
const SCHEMA_V1: &str = include_str!("fixtures/schema_v1.sql");

/// Tables of schema version 1.
const V1_TABLES: [&str; 4] = ["customers", "interactions", "order_items", "orders"];

fn noon(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn cur(code: &str) -> crm_core::Currency {
    code.parse().unwrap()
}

fn v1_file(dir: &Path) -> PathBuf {
    let path = dir.join("v1.sqlite");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(SCHEMA_V1).unwrap();
    path
}

fn user_version(path: &Path) -> i64 {
    Connection::open(path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
}

/// Everything in a file, read through a separate connection: the version stamp, the schema
/// and every row of every table (rows sorted, values in their stored SQLite types).
#[derive(Debug, PartialEq)]
struct Snapshot {
    user_version: i64,
    schema: Vec<(String, String, Option<String>)>,
    rows: BTreeMap<String, Vec<String>>,
}

fn snapshot(path: &Path) -> Snapshot {
    let conn = Connection::open(path).unwrap();
    let user_version = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    let schema: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut rows = BTreeMap::new();
    for (kind, name, _) in &schema {
        if kind != "table" {
            continue;
        }
        let mut st = conn.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
        let n = st.column_count();
        let mut all: Vec<String> = st
            .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect::<rusqlite::Result<Vec<Value>>>())
            .unwrap()
            .map(|r| format!("{:?}", r.unwrap()))
            .collect();
        all.sort();
        rows.insert(name.clone(), all);
    }
    Snapshot { user_version, schema, rows }
}

/// The schema with runs of whitespace collapsed (SQLite keeps each CREATE statement's text).
fn normalised_schema(s: &Snapshot) -> Vec<(String, String, Option<String>)> {
    s.schema
        .iter()
        .map(|(k, n, sql)| {
            (k.clone(), n.clone(), sql.as_ref().map(|q| q.split_whitespace().collect::<Vec<_>>().join(" ")))
        })
        .collect()
}

fn stats(
    id: i64,
    orders: i64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    spent: &[(i64, &str)],
    interactions: i64,
    last_interaction: Option<DateTime<Utc>>,
) -> CustomerStats {
    CustomerStats {
        customer_id: CustomerId(id),
        order_count: orders,
        first_order_at: first,
        last_order_at: last,
        total_spent: spent.iter().map(|(m, c)| Money::new(*m, cur(c))).collect(),
        interaction_count: interactions,
        last_interaction_at: last_interaction,
    }
}

fn check_stats<S: Store>(crm: &Crm<S>, want: &CustomerStats) {
    let got = crm.customer_stats(want.customer_id).unwrap();
    assert_eq!(&got, want, "stats of customer {}", want.customer_id);
    assert_eq!(got, recomputed_stats(crm, want.customer_id), "stats of customer {} vs stored rows", want.customer_id);
}

/// O-1 as the version-1 file holds it, as an input.
fn o1(status: OrderStatus) -> NewOrder {
    NewOrder {
        external_id: "O-1".into(),
        customer_id: None,
        customer_external_id: Some("C-1".into()),
        occurred_at: noon(2025, 2, 1),
        status: Some(status),
        currency: cur("USD"),
        total_minor: 2599,
        channel: Some("web".into()),
        items: Some(vec![
            LineItem { sku: "SKU-A".into(), category: Some("books".into()), quantity: 1, unit_price_minor: 1999 },
            LineItem { sku: "SKU-B".into(), category: None, quantity: 2, unit_price_minor: 300 },
        ]),
    }
}

#[test]
fn the_fixture_is_a_version_1_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = snapshot(&v1_file(dir.path()));
    assert_eq!(s.user_version, 1);
    let tables: Vec<&str> = s.schema.iter().filter(|(k, ..)| k == "table").map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(tables, V1_TABLES);
    const { assert!(SCHEMA_VERSION >= 2) };
}

#[test]
fn a_version_1_file_is_upgraded_with_rows_intact_and_stats_backfilled() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(dir.path());
    let before = snapshot(&path);

    let crm = Crm::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);

    // The version-1 rows are untouched, and the upgraded schema is exactly a new file's.
    let after = snapshot(&path);
    for t in V1_TABLES.iter().filter(|t| **t != "order_items") {
        assert_eq!(after.rows[*t], before.rows[*t], "rows of {t}");
    }
    // Line items keep their columns and gain their order's customer (migration 8).
    let without_last = |rows: &[String]| -> Vec<String> {
        rows.iter().map(|r| format!("{}]", r.rsplit_once(", ").unwrap().0)).collect()
    };
    assert_eq!(without_last(&after.rows["order_items"]), before.rows["order_items"]);
    let conn = Connection::open(&path).unwrap();
    let (items, of_their_order): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE i.customer_id = o.customer_id) \
             FROM order_items i JOIN orders o ON o.id = i.order_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((items, of_their_order), (3, 3));
    drop(conn);
    let fresh_path = dir.path().join("fresh.sqlite");
    drop(Crm::open(&fresh_path).unwrap());
    assert_eq!(
        normalised_schema(&after),
        normalised_schema(&snapshot(&fresh_path)),
        "schema of an upgraded version-1 file vs a new file (is the fixture still migration 1?)"
    );

    // Readable through the facade.
    assert_eq!(crm.counts().unwrap(), crm_core::Counts { customers: 3, orders: 7, interactions: 3 });
    // Migration 5 copied each customer's order count and last order onto their spend rows.
    let conn = Connection::open(&path).unwrap();
    let (rows, off): (i64, i64) = conn
        .query_row(
            "SELECT count(*), coalesce(sum(sp.customer_order_count != st.order_count \
             OR sp.customer_last_order_at IS NOT st.last_order_at), 0) \
             FROM customer_spend sp JOIN customer_stats st USING (customer_id)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(rows > 0);
    assert_eq!(off, 0, "spend rows whose copy of the statistics differs");
    let ada = crm.get_customer(CustomerId(1)).unwrap();
    assert_eq!(ada.external_id.as_deref(), Some("C-1"));
    assert_eq!(ada.kind, CustomerKind::Person);
    assert_eq!(ada.name, "Ada Lovelace");
    assert_eq!(ada.email.as_deref(), Some("ada@example.com"));
    assert_eq!(ada.phone.as_deref(), Some("+442079460958"));
    assert_eq!(ada.title.as_deref(), Some("Countess"));
    assert_eq!(ada.address.country.as_deref(), Some("GB"));
    assert_eq!(ada.address.city.as_deref(), Some("London"));
    assert_eq!(ada.address.postal_code.as_deref(), Some("W1"));
    assert_eq!(ada.birthday, Some("1815-12-10".parse().unwrap()));
    assert_eq!(ada.tags, BTreeSet::from(["vip".to_string()]));
    assert_eq!(ada.attributes.get("plan"), Some(&serde_json::json!("gold")));
    assert_eq!(
        ada.consents.get("email"),
        Some(&Consent { granted: true, at: noon(2025, 1, 1), source: Some("web".into()) })
    );
    assert_eq!(ada.lifecycle, LifecycleStage::Active);
    assert_eq!((ada.created_at, ada.updated_at), (noon(2025, 1, 1), noon(2025, 1, 1)));
    let babbage = crm.get_customer_by_external_id("C-2").unwrap();
    assert_eq!(babbage.id, CustomerId(2));
    assert_eq!(babbage.kind, CustomerKind::Company);
    assert_eq!(babbage.industry.as_deref(), Some("machinery"));
    assert_eq!(babbage.updated_at, noon(2025, 1, 10));

    let o = crm.get_order_by_external_id("O-1").unwrap();
    assert_eq!((o.customer_id, o.occurred_at, o.status), (CustomerId(1), noon(2025, 2, 1), OrderStatus::Completed));
    assert_eq!((o.total, o.channel.as_deref()), (Money::new(2599, cur("USD")), Some("web")));
    assert_eq!(Some(o.items), o1(OrderStatus::Completed).items);
    let o = crm.get_order_by_external_id("O-5").unwrap();
    assert_eq!(
        o.items,
        vec![LineItem {
            sku: "ENGINE".into(),
            category: Some("machines".into()),
            quantity: 1,
            unit_price_minor: 12000
        }]
    );
    let o = crm.get_order_by_external_id("O-3").unwrap();
    assert_eq!((o.status, o.total), (OrderStatus::Refunded, Money::new(5000, cur("USD"))));
    assert_eq!(crm.get_order_by_external_id("O-7").unwrap().status, OrderStatus::Cancelled);
    assert_eq!(crm.get_order(o.id).unwrap().external_id, "O-3");
    let i = crm.get_interaction(InteractionId(1)).unwrap();
    assert_eq!((i.external_id.as_deref(), i.customer_id, i.kind), (Some("I-1"), CustomerId(1), InteractionKind::Call));
    assert_eq!((i.direction, i.score), (Some(Direction::Inbound), Some(Score::Csat(4))));
    assert_eq!(i.payload, Some(serde_json::json!({"k": [1, 2]})));
    assert_eq!(crm.get_interaction(InteractionId(2)).unwrap().external_id, None);
    assert_eq!(crm.timeline(CustomerId(1), 100, None).unwrap().items.len(), 4 + 2);

    // Backfilled statistics: completed orders only, spend per currency.
    check_stats(
        &crm,
        &stats(
            1,
            3,
            Some(noon(2025, 1, 15)),
            Some(noon(2025, 3, 1)),
            &[(1000, "EUR"), (2599 + 401, "USD")],
            2,
            Some(noon(2025, 3, 5)),
        ),
    );
    check_stats(&crm, &stats(2, 1, Some(noon(2025, 5, 1)), Some(noon(2025, 5, 1)), &[(12000, "EUR")], 0, None));
    check_stats(&crm, &stats(3, 0, None, None, &[], 1, Some(noon(2025, 1, 10))));
    assert!(crm.changes_since(0, 100).unwrap().is_empty(), "the change feed starts empty");

    // New writes after the upgrade keep the statistics and start the change feed.
    let w = crm
        .record_order(&NewOrder {
            external_id: "O-8".into(),
            customer_id: None,
            customer_external_id: Some("C-2".into()),
            occurred_at: noon(2025, 7, 1),
            status: Some(OrderStatus::Completed),
            currency: cur("USD"),
            total_minor: 100,
            channel: None,
            items: None,
        })
        .unwrap();
    assert_eq!(w.outcome, Outcome::Created);
    assert!(w.record.id.0 > 7, "a new order gets a fresh id, not {}", w.record.id);
    let o8 = w.record.id;
    check_stats(
        &crm,
        &stats(2, 2, Some(noon(2025, 5, 1)), Some(noon(2025, 7, 1)), &[(12000, "EUR"), (100, "USD")], 0, None),
    );
    // Re-sending version-1 records as they are stored changes nothing.
    assert_eq!(crm.record_order(&o1(OrderStatus::Completed)).unwrap().outcome, Outcome::Unchanged);
    let same_i1 = NewInteraction {
        external_id: Some("I-1".into()),
        customer_id: None,
        customer_external_id: Some("C-1".into()),
        kind: InteractionKind::Call,
        channel: Some("phone".into()),
        direction: Some(Direction::Inbound),
        occurred_at: noon(2025, 2, 2),
        subject: Some("hello".into()),
        body: Some("asked about engines".into()),
        score: Some(Score::Csat(4)),
        payload: Some(serde_json::json!({"k": [1, 2]})),
    };
    assert_eq!(crm.add_interaction(&same_i1).unwrap().outcome, Outcome::Unchanged);
    let same_c2 = NewCustomer {
        external_id: Some("C-2".into()),
        kind: Some(CustomerKind::Company),
        name: "Babbage Engines Ltd".into(),
        company: Some("Babbage Engines Ltd".into()),
        industry: Some("machinery".into()),
        address: crm_core::Address { country: Some("GB".into()), ..Default::default() },
        ..Default::default()
    };
    assert_eq!(crm.upsert_customer(&same_c2).unwrap().outcome, Outcome::Unchanged);
    // A refund of a version-1 order.
    let w = crm.record_order(&o1(OrderStatus::Refunded)).unwrap();
    assert_eq!((w.outcome, w.record.id), (Outcome::Updated, OrderId(1)));
    check_stats(
        &crm,
        &stats(
            1,
            2,
            Some(noon(2025, 1, 15)),
            Some(noon(2025, 3, 1)),
            &[(1000, "EUR"), (401, "USD")],
            2,
            Some(noon(2025, 3, 5)),
        ),
    );
    let w = crm
        .add_interaction(&NewInteraction {
            external_id: Some("I-4".into()),
            customer_id: Some(CustomerId(3)),
            customer_external_id: None,
            kind: InteractionKind::Visit,
            channel: None,
            direction: None,
            occurred_at: noon(2025, 8, 1),
            subject: None,
            body: None,
            score: None,
            payload: None,
        })
        .unwrap();
    assert_eq!(w.outcome, Outcome::Created);
    let i4 = w.record.id;
    assert!(i4.0 > 3);
    check_stats(&crm, &stats(3, 0, None, None, &[], 2, Some(noon(2025, 8, 1))));
    let w = crm
        .upsert_customer(&NewCustomer { external_id: Some("C-4".into()), name: "Dora".into(), ..Default::default() })
        .unwrap();
    assert_eq!(w.outcome, Outcome::Created);
    let c4 = w.record.id;
    assert!(c4.0 > 3);
    check_stats(&crm, &stats(c4.0, 0, None, None, &[], 0, None));
    let feed: Vec<(Entity, i64, Op)> =
        crm.changes_since(0, 100).unwrap().into_iter().map(|c| (c.entity, c.id, c.op)).collect();
    assert_eq!(
        feed,
        vec![
            (Entity::Order, o8.0, Op::Insert),
            (Entity::Order, 1, Op::Update),
            (Entity::Interaction, i4.0, Op::Insert),
            (Entity::Customer, c4.0, Op::Insert),
        ]
    );
    assert_eq!(crm.counts().unwrap(), crm_core::Counts { customers: 4, orders: 8, interactions: 4 });
}

fn assert_too_new(r: Result<impl std::fmt::Debug, Error>, found: i64) {
    match r {
        Err(Error::SchemaTooNew { found: f, supported }) => {
            assert_eq!((f, supported), (found, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew {{ found: {found}, supported: {SCHEMA_VERSION} }}, got {other:?}"),
    }
}

#[test]
fn a_file_from_a_newer_library_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();

    // A current file with data, stamped one version ahead.
    let path = dir.path().join("newer.sqlite");
    {
        let crm = Crm::open(&path).unwrap();
        crm.upsert_customer(&NewCustomer { external_id: Some("C-1".into()), name: "Ada".into(), ..Default::default() })
            .unwrap();
    }
    let ahead = SCHEMA_VERSION + 1;
    Connection::open(&path).unwrap().pragma_update(None, "user_version", ahead).unwrap();
    let before = snapshot(&path);
    assert_too_new(Crm::open(&path), ahead);
    assert_too_new(SqliteStore::open(&path), ahead);
    assert_eq!(snapshot(&path), before);
    assert_eq!(user_version(&path), ahead);

    // A version-1 file stamped far ahead: no migration may run on it.
    let path = v1_file(dir.path());
    Connection::open(&path).unwrap().pragma_update(None, "user_version", 1000).unwrap();
    let before = snapshot(&path);
    let e = Crm::open(&path).unwrap_err();
    assert!(e.to_string().contains("1000"), "{e}");
    assert_too_new(Err::<(), _>(e), 1000);
    assert_too_new(Crm::open(&path), 1000);
    let after = snapshot(&path);
    assert_eq!(after, before);
    assert_eq!(after.user_version, 1000);
    assert!(!after.rows.contains_key("customer_stats"), "migration 2 must not have run");
}

#[test]
fn opening_an_up_to_date_file_again_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();

    // A new file with some content.
    let path = dir.path().join("current.sqlite");
    {
        let crm = Crm::open(&path).unwrap();
        crm.upsert_customer(&NewCustomer { external_id: Some("C-1".into()), name: "Ada".into(), ..Default::default() })
            .unwrap();
        crm.record_order(&NewOrder {
            external_id: "O-1".into(),
            customer_id: None,
            customer_external_id: Some("C-1".into()),
            occurred_at: noon(2025, 3, 3),
            status: Some(OrderStatus::Completed),
            currency: cur("JPY"),
            total_minor: 5000,
            channel: None,
            items: None,
        })
        .unwrap();
    }
    let first = snapshot(&path);
    assert_eq!(first.user_version, SCHEMA_VERSION);
    drop(Crm::open(&path).unwrap());
    assert_eq!(snapshot(&path), first);
    // Two connections at once, too.
    let (a, b) = (Crm::open(&path).unwrap(), Crm::open(&path).unwrap());
    assert_eq!(a.counts().unwrap(), b.counts().unwrap());
    drop((a, b));
    assert_eq!(snapshot(&path), first);

    // An upgraded version-1 file: the backfill does not run a second time.
    let path = v1_file(dir.path());
    drop(Crm::open(&path).unwrap());
    let upgraded = snapshot(&path);
    assert_eq!(upgraded.user_version, SCHEMA_VERSION);
    for _ in 0..2 {
        let crm = Crm::open(&path).unwrap();
        check_stats(
            &crm,
            &stats(
                1,
                3,
                Some(noon(2025, 1, 15)),
                Some(noon(2025, 3, 1)),
                &[(1000, "EUR"), (3000, "USD")],
                2,
                Some(noon(2025, 3, 5)),
            ),
        );
        drop(crm);
        assert_eq!(snapshot(&path), upgraded);
    }
}

/// "Left unchanged" to the byte: a file in rollback-journal mode stamped with a newer version
/// must not be switched to WAL by the open that refuses it.
#[test]
fn a_refused_file_keeps_its_bytes_and_journal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(dir.path());
    Connection::open(&path).unwrap().pragma_update(None, "user_version", 1000).unwrap();
    let journal_mode = |p: &Path| -> String {
        Connection::open(p).unwrap().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap()
    };
    assert_eq!(journal_mode(&path), "delete");
    let bytes = std::fs::read(&path).unwrap();
    assert_too_new(Crm::open(&path), 1000);
    assert_eq!(journal_mode(&path), "delete", "the refused file was switched to another journal mode");
    assert!(std::fs::read(&path).unwrap() == bytes, "the refused file's bytes changed");
}

/// What one `record_order` commit costs in a WAL file is the pages it writes: one per
/// b-tree it changes (the order, its external id, its customer's index, the items, the
/// statistics, the spend row, the feed) plus the header page when the file grows. Schema 5's
/// covering index on spend changed with every order and made it one more (about a fifth
/// slower per call); this keeps such a change from coming back unnoticed.
#[test]
fn a_single_order_commit_writes_one_page_per_table_it_changes() {
    use crm_core::synth::{Synth, SynthConfig};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pages.sqlite");
    let crm = Crm::open(&path).unwrap();
    let synth = Synth::new(SynthConfig { customers: 2_000, ..Default::default() });
    crm.ingest_customers(synth.customers(), Default::default()).unwrap();
    crm.ingest_orders(synth.orders(), Default::default()).unwrap();
    let raw = Connection::open(&path).unwrap();
    // `wal_checkpoint` returns (busy, frames in the WAL, frames checkpointed); once every
    // frame is checkpointed the next commit starts the WAL again, so the count after one
    // commit is that commit's pages.
    // The store's background checkpointer may hold the checkpoint lock at that moment
    // (busy): then try again.
    let checkpoint = || -> (i64, i64, i64) {
        for _ in 0..1000 {
            let r: (i64, i64, i64) =
                raw.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
            if r.0 == 0 {
                return r;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("the checkpoint stayed busy for 5 s");
    };
    // Customers who already spend in dollars only, as most repeat orders go.
    let buyers: Vec<i64> = raw
        .prepare(
            "SELECT customer_id FROM customer_spend GROUP BY customer_id \
             HAVING count(*) = 1 AND max(currency) = 'USD' ORDER BY customer_id LIMIT 200",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(buyers.len(), 200);
    let mut pages = Vec::new();
    for (n, buyer) in buyers.into_iter().enumerate() {
        let (busy, log, done) = checkpoint();
        assert_eq!((busy, log), (0, done), "the WAL was not fully checkpointed");
        let w = crm
            .record_order(&NewOrder {
                external_id: format!("P-{n}"),
                customer_id: Some(CustomerId(buyer)),
                customer_external_id: None,
                occurred_at: noon(2026, 10, 1),
                status: Some(OrderStatus::Completed),
                currency: cur("USD"),
                total_minor: 500 + n as i64,
                channel: None,
                items: Some(vec![LineItem {
                    sku: "S-1".into(),
                    category: None,
                    quantity: 1,
                    unit_price_minor: 500 + n as i64,
                }]),
            })
            .unwrap();
        assert_eq!(w.outcome, Outcome::Created);
        pages.push(checkpoint().1);
    }
    pages.sort_unstable();
    let median = pages[pages.len() / 2];
    assert!(median <= 7, "a single order commit writes {median} pages (median; all: {pages:?})");
}

#[test]
fn match_keys_are_computed_on_first_use_then_kept_by_writes() {
    use crm_core::identity::{MatchOptions, MatchSettings};
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(dir.path());
    let crm = Crm::open(&path).unwrap();
    let keys = |p: &Path| -> i64 {
        Connection::open(p).unwrap().query_row("SELECT count(*) FROM match_keys", [], |r| r.get(0)).unwrap()
    };
    assert_eq!(keys(&path), 0, "not computed at upgrade");
    for i in 0..20 {
        let c =
            NewCustomer { name: format!("Person {i}"), email: Some(format!("p{i}@example.org")), ..Default::default() };
        crm.create_customer(&c).unwrap();
    }
    assert_eq!(keys(&path), 0, "nor by writes while matching was never used");
    let model = crm.find_duplicates(&MatchSettings::default()).unwrap().model;
    let ada = NewCustomer { name: "Ada Lovelace".into(), email: Some("ada@example.com".into()), ..Default::default() };
    // Any candidate counts (a model trained on data without duplicates gives low odds).
    let options = MatchOptions { model: Some(model), threshold: 0.0, ..Default::default() };
    let found = crm.match_customer(&ada, &options).unwrap();
    assert_eq!(found.first().map(|m| m.customer), Some(CustomerId(1)), "the version 1 customer");
    let built = keys(&path);
    assert!(built >= 21, "every customer's keys: {built}");
    let flag: String = Connection::open(&path)
        .unwrap()
        .query_row("SELECT value FROM settings WHERE key = 'match_keys'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(flag, "\"built\"");
    // From then on, writes keep them.
    crm.create_customer(&NewCustomer {
        name: "Late Comer".into(),
        email: Some("late@example.org".into()),
        ..Default::default()
    })
    .unwrap();
    assert!(keys(&path) > built);
}

/// A file of schema 11 (made by undoing migration 12 on a loaded file) gets its period states
/// from the orders: the same states the writes had kept, and so the same purchase summaries,
/// by day and by week, in every currency.
#[test]
fn a_schema_11_file_gets_period_states_from_its_orders() {
    use crm_core::analytics::{Period, SummaryOptions};
    use crm_core::synth::{Synth, SynthConfig};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v11.sqlite");
    let synth = Synth::new(SynthConfig { customers: 300, ..Default::default() });
    let summaries = |crm: &Crm| {
        [Period::Day, Period::Week].map(|period| {
            let opts = SummaryOptions { period, ..SummaryOptions::new(cur("USD"), synth.config().end) };
            crm.purchase_summaries(&opts).unwrap()
        })
    };
    let kept = {
        let crm = Crm::open(&path).unwrap();
        crm.ingest_customers(synth.customers(), Default::default()).unwrap();
        crm.ingest_orders(synth.orders(), Default::default()).unwrap();
        // A refund and a cancellation, so that some states were recomputed.
        let some: Vec<String> = Connection::open(&path)
            .unwrap()
            .prepare("SELECT external_id FROM orders WHERE status = 'completed' ORDER BY id LIMIT 2")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        crm.set_order_status(&some[0], OrderStatus::Refunded).unwrap();
        crm.set_order_status(&some[1], OrderStatus::Cancelled).unwrap();
        summaries(&crm)
    };
    assert!(kept[0].len() > 1 && kept[0].iter().all(|s| !s.rows.is_empty()));
    let states = |p: &Path| -> Vec<Vec<Value>> {
        let c = Connection::open(p).unwrap();
        let mut st = c
            .prepare(
                "SELECT currency, customer_id, total_minor, orders, first_at, last_at, days, first_day_minor, weeks, \
                 first_week_minor FROM customer_spend WHERE orders > 0 ORDER BY currency, customer_id",
            )
            .unwrap();
        let rows = st.query_map([], |r| (0..10).map(|i| r.get::<_, Value>(i)).collect::<rusqlite::Result<Vec<_>>>());
        rows.unwrap().collect::<rusqlite::Result<_>>().unwrap()
    };
    let kept_states = states(&path);
    assert!(kept_states.len() > 250, "{} states", kept_states.len());
    let raw = Connection::open(&path).unwrap();
    raw.execute_batch(
        "ALTER TABLE customer_spend DROP COLUMN orders; ALTER TABLE customer_spend DROP COLUMN first_at;
         ALTER TABLE customer_spend DROP COLUMN last_at; ALTER TABLE customer_spend DROP COLUMN days;
         ALTER TABLE customer_spend DROP COLUMN first_day_minor; ALTER TABLE customer_spend DROP COLUMN weeks;
         ALTER TABLE customer_spend DROP COLUMN first_week_minor; PRAGMA user_version = 11;",
    )
    .unwrap();
    undo_migration_13(&raw);
    raw.execute_batch("PRAGMA user_version = 11;").unwrap();
    drop(raw);
    let crm = Crm::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert_eq!(states(&path), kept_states);
    assert_eq!(summaries(&crm), kept);
}

/// A file written at schema 12 (tests/fixtures/ledger_v12.sql), whose lots were rows of
/// their own: every lot moves into the entry that formed it, under that entry's id, and
/// every account, entry, lot, tier change and balance reads as before; the ledger then
/// keeps working on the moved lots.
#[test]
fn a_schema_12_ledger_keeps_every_balance_lot_and_entry() {
    use crm_core::loyalty::{Entry, EntryId, EntryKind, Lot};
    const LEDGER_V12: &str = include_str!("fixtures/ledger_v12.sql");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v12.sqlite");
    let raw = Connection::open(&path).unwrap();
    raw.execute_batch(LEDGER_V12).unwrap();
    assert_eq!(user_version(&path), 12);
    let t = |v: i64| Utc.timestamp_micros(v).unwrap();
    let entries: Vec<Entry> = raw
        .prepare(
            "SELECT id, customer_id, kind, points, qualifying, idempotency_key, order_id, amount_minor, at, \
             balance_after, note FROM loyalty_entries ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok(Entry {
                id: EntryId(r.get(0)?),
                customer_id: CustomerId(r.get(1)?),
                kind: {
                    let k: String = r.get(2)?;
                    let all =
                        [EntryKind::Earn, EntryKind::Redeem, EntryKind::Expire, EntryKind::Adjust, EntryKind::Reverse];
                    all.into_iter().find(|x| x.as_str() == k).unwrap()
                },
                points: r.get(3)?,
                qualifying: r.get(4)?,
                key: r.get(5)?,
                order_id: r.get::<_, Option<i64>>(6)?.map(OrderId),
                amount_minor: r.get(7)?,
                at: t(r.get(8)?),
                balance_after: r.get(9)?,
                note: r.get(10)?,
            })
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    // The lots as they were, under the id of their entry: the id a lot has from schema 13 on.
    let lots: Vec<Lot> = raw
        .prepare(
            "SELECT entry_id, customer_id, points, remaining, earned_at, available_at, expires_at, expired \
             FROM loyalty_lots ORDER BY entry_id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok(Lot {
                id: r.get(0)?,
                customer_id: CustomerId(r.get(1)?),
                entry_id: EntryId(r.get(0)?),
                points: r.get(2)?,
                remaining: r.get(3)?,
                earned_at: t(r.get(4)?),
                available_at: t(r.get(5)?),
                expires_at: r.get::<_, Option<i64>>(6)?.map(t),
                expired: r.get(7)?,
            })
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let accounts: Vec<(i64, i64, Option<String>)> = raw
        .prepare("SELECT customer_id, balance, tier FROM loyalty_accounts ORDER BY customer_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    drop(raw);
    // The fixture has what the migration must carry: lots that never expire, expired lots,
    // pending lots, a lot with less left than its points (a debt paid first), a partly drawn
    // lot with points left, entries forming no lot, a negative balance and a tier.
    assert!(lots.iter().any(|l| l.expires_at.is_none()) && lots.iter().any(|l| l.expired));
    assert!(lots.iter().any(|l| l.available_at > l.earned_at));
    assert!(lots.iter().any(|l| l.remaining == 0 && !l.expired));
    assert!(lots.iter().any(|l| l.remaining > 0 && l.remaining < l.points));
    assert!(entries.len() > lots.len() && accounts.iter().any(|a| a.1 < 0) && accounts.iter().any(|a| a.2.is_some()));

    let crm = Crm::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    // Through the ledger port (a merged-away customer's statement is its survivor's).
    let (mut seen_entries, mut seen_lots) = (Vec::new(), Vec::new());
    for &(c, balance, ref tier) in &accounts {
        let c = CustomerId(c);
        let (account, e, l) = crm
            .store()
            .read(|tx| Ok((tx.loyalty_account(c)?.unwrap(), tx.loyalty_entries(c)?, tx.loyalty_lots(c)?)))
            .unwrap();
        assert_eq!((account.balance, &account.tier), (balance, tier), "customer {c:?}");
        assert_eq!(account.balance, e.iter().map(|e| e.points).sum::<i64>());
        seen_entries.extend(e);
        seen_lots.extend(l);
    }
    seen_entries.sort_by_key(|e| e.id.0);
    seen_lots.sort_by_key(|l| l.id);
    assert_eq!(seen_entries, entries, "every entry, field for field");
    assert_eq!(seen_lots, lots, "every lot, field for field, under its entry's id");
    let c = Connection::open(&path).unwrap();
    let tables: i64 =
        c.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'loyalty_lots'", [], |r| r.get(0)).unwrap();
    assert_eq!(tables, 0, "the lots table is gone");
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");

    // The moved lots keep working: customer 1 holds a lot that never expires (50 left) and
    // a due one (130 left, expired on 1 July 2026); expiry takes the due one, and a
    // redemption then draws on the other.
    let a = CustomerId(1);
    let due = lots.iter().find(|l| l.customer_id == a && l.remaining > 0 && l.expires_at.is_some()).unwrap();
    let report = crm.expire_points(Utc::now()).unwrap();
    assert!(report.points >= due.remaining, "{report:?}");
    crm.redeem_points(a, 50, "R-after-13").unwrap();
    let s = crm.points_statement(a).unwrap();
    assert_eq!(s.balance.balance, 0);
    assert!(s.lots.iter().all(|l| l.remaining == 0));
    assert_eq!(s.lots.iter().find(|l| l.id == due.id).map(|l| l.expired), Some(true));
}

/// Undoes migration 13 on a file without a ledger: the lots table of migrations 4 and 5
/// comes back and the lot columns of the entries go.
fn undo_migration_13(c: &Connection) {
    let n: i64 = c.query_row("SELECT count(*) FROM loyalty_entries", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0, "only a file without a ledger");
    c.execute_batch(
        "DROP INDEX loyalty_entries_open;
         ALTER TABLE loyalty_entries DROP COLUMN remaining; ALTER TABLE loyalty_entries DROP COLUMN available_at;
         ALTER TABLE loyalty_entries DROP COLUMN expires_at; ALTER TABLE loyalty_entries DROP COLUMN expired;
         CREATE TABLE loyalty_lots (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, entry_id INTEGER NOT NULL,
             points INTEGER NOT NULL, remaining INTEGER NOT NULL, earned_at INTEGER NOT NULL,
             available_at INTEGER NOT NULL, expires_at INTEGER, expired INTEGER NOT NULL DEFAULT 0);
         CREATE INDEX loyalty_lots_open ON loyalty_lots(customer_id, expires_at) WHERE remaining > 0;
         CREATE INDEX loyalty_lots_entry ON loyalty_lots(entry_id);",
    )
    .unwrap();
}
