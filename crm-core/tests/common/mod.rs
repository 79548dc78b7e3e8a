//! Helpers shared by the integration tests, and the store they run on.
//!
//! The suites that go through [`test_crm`] are the conformance suite of the facade: they run
//! on the store `CRM_TEST_STORE` names, `memory` (SQLite in memory, the default), `file`
//! (a SQLite file in a temporary directory), `postgres` (a fresh schema of the server at
//! `CRM_TEST_PG`, a URL; needs the `postgres` feature) or `postgres-partitioned` (the same,
//! with the customer-owned tables hash-partitioned by customer as a distributed PostgreSQL
//! lays them out: [`pg_partitioned_url`]). `make test` runs them on all of them.
#![allow(dead_code)]

pub mod invariants;

use std::collections::BTreeMap;

use crm_core::store::prelude::*;
use crm_core::{Crm, CustomerId, CustomerStats, Money, OrderStatus, TimelineEntry};

/// Statistics recomputed from the customer's stored orders and interactions (read through
/// the timeline, which does not look at the statistics tables).
pub fn recomputed_stats<S: Store>(crm: &Crm<S>, id: CustomerId) -> CustomerStats {
    let mut s = CustomerStats { customer_id: id, ..Default::default() };
    let mut spend: BTreeMap<&str, i64> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = crm.timeline(id, 500, cursor.as_deref()).unwrap();
        for e in &page.items {
            match e {
                TimelineEntry::Order(o) if o.status == OrderStatus::Completed => {
                    s.order_count += 1;
                    s.first_order_at = Some(s.first_order_at.map_or(o.occurred_at, |t| t.min(o.occurred_at)));
                    s.last_order_at = Some(s.last_order_at.map_or(o.occurred_at, |t| t.max(o.occurred_at)));
                    *spend.entry(o.total.currency.code()).or_default() += o.total.minor;
                }
                TimelineEntry::Order(_) => {}
                TimelineEntry::Interaction(i) => {
                    s.interaction_count += 1;
                    s.last_interaction_at = Some(s.last_interaction_at.map_or(i.occurred_at, |t| t.max(i.occurred_at)));
                }
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    s.total_spent =
        spend.into_iter().filter(|(_, m)| *m != 0).map(|(k, m)| Money::new(m, k.parse().unwrap())).collect();
    s
}

/// Completed purchases (time, total) per currency code and customer.
pub type Purchases = BTreeMap<(String, CustomerId), Vec<(chrono::DateTime<chrono::Utc>, i64)>>;

/// Checks that the purchase summaries (read from the period states the writes keep, as of
/// the last completed order) equal the summaries replayed here from every customer's
/// completed orders (read through the timeline), by day and by week; `Err` names the first
/// difference. Nothing to compare without completed orders.
pub fn check_summaries_replay<S: Store>(crm: &Crm<S>) -> Result<(), String> {
    let mut per = Purchases::new();
    let mut q = crm_core::CustomerQuery { limit: 10_000, ..Default::default() };
    loop {
        let page = crm.query_customers(&q).map_err(|e| e.to_string())?;
        for c in &page.items {
            let mut cursor: Option<String> = None;
            loop {
                let t = crm.timeline(c.id, 500, cursor.as_deref()).map_err(|e| e.to_string())?;
                for e in &t.items {
                    if let TimelineEntry::Order(o) = e {
                        if o.status == OrderStatus::Completed {
                            per.entry((o.total.currency.code().to_owned(), c.id))
                                .or_default()
                                .push((o.occurred_at, o.total.minor));
                        }
                    }
                }
                match t.next_cursor {
                    Some(n) => cursor = Some(n),
                    None => break,
                }
            }
        }
        match page.next_cursor {
            Some(n) => q.cursor = Some(n),
            None => break,
        }
    }
    check_summaries_of(crm, &per)
}

/// Checks that the purchase summaries as of the last of `per`'s purchases equal the
/// summaries replayed here from `per` (the store's completed orders, as the caller knows
/// them), by day and by week, without warnings; `Err` names the first difference. With no
/// purchases, the summaries must fail on field `orders`.
pub fn check_summaries_of<S: Store>(crm: &Crm<S>, per: &Purchases) -> Result<(), String> {
    use crm_core::analytics::{Period, SummaryOptions};
    use std::collections::BTreeSet;
    /// Customer, frequency, recency, T, repeat spend; per currency code.
    type Rows = Vec<(String, Vec<(CustomerId, u32, f64, f64, i64)>)>;
    let Some(end) = per.values().flatten().map(|p| p.0).max() else {
        let opts = SummaryOptions::new("USD".parse().unwrap(), chrono::Utc::now());
        return match crm.purchase_summaries(&opts) {
            Err(e) if e.field() == Some("orders") => Ok(()),
            other => Err(format!("summaries without completed orders: {other:?}")),
        };
    };
    for period in [Period::Day, Period::Week] {
        let mut want: Rows = Vec::new();
        for ((code, customer), purchases) in per {
            let periods: BTreeSet<i64> = purchases.iter().map(|p| period.index(p.0)).collect();
            let (first, last) = (*periods.first().unwrap(), *periods.last().unwrap());
            let repeat: i64 = purchases.iter().filter(|p| period.index(p.0) != first).map(|p| p.1).sum();
            let row = (
                *customer,
                periods.len() as u32 - 1,
                (last - first) as f64,
                (period.index(end) - first) as f64,
                repeat,
            );
            match want.last_mut() {
                Some((c, rows)) if c == code => rows.push(row),
                _ => want.push((code.clone(), vec![row])),
            }
        }
        let opts = SummaryOptions { period, ..SummaryOptions::new("USD".parse().unwrap(), end) };
        let mut got: Rows = Vec::new();
        for s in crm.purchase_summaries(&opts).map_err(|e| e.to_string())? {
            if !s.warnings.is_empty() {
                return Err(format!("summary in {} warns: {:?}", s.currency, s.warnings));
            }
            let rows = s.rows.iter().map(|r| (r.customer_id, r.frequency, r.recency, r.t, r.repeat_spend_minor));
            got.push((s.currency.code().to_owned(), rows.collect()));
        }
        if got != want {
            return Err(format!("summaries by {period:?}: stored {got:?}, replayed {want:?}"));
        }
    }
    Ok(())
}

/// A facade with default settings on the store under test (see the module doc).
pub fn test_crm() -> Crm {
    test_crm_with(crm_core::CrmConfig::default())
}

/// A facade with `config` on the store under test.
pub fn test_crm_with(config: crm_core::CrmConfig) -> Crm {
    match std::env::var("CRM_TEST_STORE").as_deref() {
        Err(_) | Ok("memory") => Crm::in_memory_with(config).unwrap(),
        Ok("file") => {
            // Kept for the life of the test process.
            let dir = tempfile::tempdir().unwrap().keep();
            Crm::open_with(dir.join("crm.db"), config).unwrap()
        }
        #[cfg(feature = "postgres")]
        Ok("postgres") => {
            let url = pg_scratch_url().expect("CRM_TEST_STORE=postgres needs CRM_TEST_PG, the URL of a server");
            Crm::open_with(url, config).unwrap()
        }
        #[cfg(feature = "postgres")]
        Ok("postgres-partitioned") => {
            let url = pg_partitioned_url()
                .expect("CRM_TEST_STORE=postgres-partitioned needs CRM_TEST_PG, the URL of a server");
            Crm::open_with(url, config).unwrap()
        }
        Ok(other) => panic!(
            "CRM_TEST_STORE={other:?}: expected memory, file, postgres or postgres-partitioned (with the feature)"
        ),
    }
}

/// The URL of a new, empty schema on the server at `CRM_TEST_PG` (`None` when unset), so
/// that each test has a database of its own.
#[cfg(feature = "postgres")]
pub fn pg_scratch_url() -> Option<String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = std::env::var("CRM_TEST_PG").ok()?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let schema = format!("t_{}_{}_{}", std::process::id(), nanos, NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("CRM_TEST_PG: cannot connect");
    admin.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-csearch_path%3D{schema}"))
}

/// The customer-owned tables and the column each is distributed by (docs/scale-out.md):
/// customers by their id, the records of a customer (and their children) by `customer_id`,
/// the key table by the key.
#[cfg(feature = "postgres")]
pub const DISTRIBUTED: [(&str, &str); 16] = [
    ("customers", "id"),
    ("interactions", "customer_id"),
    ("orders", "customer_id"),
    ("order_items", "customer_id"),
    ("order_refunds", "customer_id"),
    ("customer_stats", "customer_id"),
    ("customer_spend", "customer_id"),
    ("customer_rfm", "customer_id"),
    ("customer_tiers", "customer_id"),
    ("stage_history", "customer_id"),
    ("segment_members", "customer_id"),
    ("loyalty_accounts", "customer_id"),
    ("loyalty_entries", "customer_id"),
    ("loyalty_rule_usage", "customer_id"),
    ("loyalty_tier_history", "customer_id"),
    ("external_keys", "key"),
];

/// The URL of a new schema at `CRM_TEST_PG` laid out as a distributed PostgreSQL (Citus) lays
/// out crm's tables, with vanilla PostgreSQL's hash partitioning standing in: crm creates its
/// tables, then each of [`DISTRIBUTED`] becomes a table `PARTITION BY HASH` on its column
/// with four partitions. A partitioned table keeps a primary key or unique index only over
/// columns that include the partition column, so primary keys get it in front and no
/// record's external id is unique by itself (the key table keeps them unique); identity
/// columns become sequence defaults (PostgreSQL before 17 has no identity on partitioned
/// tables). The global tables (segments, plans, settings, programs, the feed) stay as they are.
#[cfg(feature = "postgres")]
pub fn pg_partitioned_url() -> Option<String> {
    let url = pg_scratch_url()?;
    drop(Crm::open(&url).unwrap());
    let schema = url.rsplit("search_path%3D").next().unwrap().to_string();
    let mut admin = postgres::Client::connect(&std::env::var("CRM_TEST_PG").unwrap(), postgres::NoTls).unwrap();
    let mut tx = admin.transaction().unwrap();
    tx.batch_execute(&format!("SET LOCAL search_path = {schema}")).unwrap();
    for (table, key) in DISTRIBUTED {
        let flat = format!("{table}_flat");
        tx.batch_execute(&format!("ALTER TABLE {table} RENAME TO {flat}")).unwrap();
        // The indexes: (is primary, is unique, columns, definition).
        let indexes: Vec<(bool, bool, Vec<String>, String)> = tx
            .query(
                "SELECT i.indisprimary, i.indisunique, \
                 ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(n, o) \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o), \
                 pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = $1::text::regclass",
                &[&flat],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        let identity: Vec<String> = tx
            .query(
                "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass AND attidentity <> ''",
                &[&flat],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        tx.batch_execute(&format!(
            "CREATE TABLE {table} (LIKE {flat} INCLUDING DEFAULTS) PARTITION BY HASH ({key}); DROP TABLE {flat};"
        ))
        .unwrap();
        for n in 0..4 {
            tx.batch_execute(&format!(
                "CREATE TABLE {table}_p{n} PARTITION OF {table} FOR VALUES WITH (MODULUS 4, REMAINDER {n})"
            ))
            .unwrap();
        }
        for col in identity {
            let seq = format!("{table}_{col}_seq");
            tx.batch_execute(&format!(
                "CREATE SEQUENCE {seq} OWNED BY {table}.{col}; \
                 ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT nextval('{seq}')"
            ))
            .unwrap();
        }
        for (primary, unique, cols, def) in indexes {
            let keyed =
                if cols.iter().any(|c| c == key) { cols.clone() } else { [vec![key.to_string()], cols].concat() };
            if primary {
                tx.batch_execute(&format!("ALTER TABLE {table} ADD PRIMARY KEY ({})", keyed.join(", "))).unwrap();
            } else if unique {
                panic!("{table}: a unique index without {key} cannot be partitioned: {def}");
            } else {
                // The definition names the old table: `CREATE INDEX name ON [schema.]table_flat USING ...`.
                let (head, tail) = def.split_once(" ON ").unwrap();
                let rest = tail.split_once(" USING ").unwrap().1;
                tx.batch_execute(&format!("{head} ON {table} USING {rest}")).unwrap();
            }
        }
    }
    tx.commit().unwrap();
    Some(url)
}

/// A PostgreSQL store on a new schema, or `None` when `CRM_TEST_PG` is unset.
#[cfg(feature = "postgres")]
pub fn pg_store() -> Option<crm_core::store::PostgresStore> {
    if std::env::var_os("CRM_TEST_PG").is_none() {
        eprintln!("CRM_TEST_PG is not set: PostgreSQL case skipped (make test sets it)");
        return None;
    }
    Some(crm_core::store::PostgresStore::open(&pg_scratch_url()?).unwrap())
}

/// A small seeded generator (splitmix64) for the tests and the soak that pick at random
/// without a crate: the same seed gives the same picks.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
