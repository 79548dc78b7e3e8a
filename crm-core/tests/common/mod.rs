//! Helpers shared by the integration tests, and the store they run on.
//!
//! The suites that go through [`test_crm`] are the conformance suite of the facade: they run
//! on the store `CRM_TEST_STORE` names, `memory` (SQLite in memory, the default), `file`
//! (a SQLite file in a temporary directory) or `postgres` (a fresh schema of the server at
//! `CRM_TEST_PG`, a URL; needs the `postgres` feature). `make test` runs them on all three.
#![allow(dead_code)]

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
        Ok(other) => panic!("CRM_TEST_STORE={other:?}: expected memory, file or postgres (with the feature)"),
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

/// A PostgreSQL store on a new schema, or `None` when `CRM_TEST_PG` is unset.
#[cfg(feature = "postgres")]
pub fn pg_store() -> Option<crm_core::store::PostgresStore> {
    if std::env::var_os("CRM_TEST_PG").is_none() {
        eprintln!("CRM_TEST_PG is not set: PostgreSQL case skipped (make test sets it)");
        return None;
    }
    Some(crm_core::store::PostgresStore::open(&pg_scratch_url()?).unwrap())
}
