//! The SQLite file's write-ahead log stays bounded while readers never stop reading (see
//! `SqliteStore`): without the store's rewind, SQLite's passive checkpoints could not start
//! the log over and it grew with every write (the soak saw 1.1 GB beside a 78 MB database).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Utc;
use crm_core::interaction::InteractionKind;
use crm_core::store::WAL_RESTART_BYTES;
use crm_core::{Crm, NewCustomer, NewInteraction};

#[test]
fn the_wal_stays_bounded_under_constant_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crm.db");
    let crm = Arc::new(Crm::open(&db).unwrap());
    let c = crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() }).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Overlapping readers: at every moment some read transaction is open.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (crm, stop) = (crm.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    crm.counts().unwrap();
                    crm.changes_since(0, 100).unwrap();
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    // Half as much again as the bound, in 60 KB interaction bodies.
    let body = "x".repeat(60_000);
    let wal = dir.path().join("crm.db-wal");
    let mut largest = 0;
    for n in 0..(3 * WAL_RESTART_BYTES / 2 / 60_000) {
        crm.add_interaction(&NewInteraction {
            external_id: Some(format!("I{n}")),
            customer_id: Some(c.id),
            customer_external_id: None,
            kind: InteractionKind::Note,
            channel: None,
            direction: None,
            occurred_at: Utc::now(),
            subject: None,
            body: Some(body.clone()),
            score: None,
            payload: None,
        })
        .unwrap();
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    stop.store(true, Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0);
    // One commit past the bound rewinds the log; a commit's own frames may overshoot it.
    assert!(
        largest <= WAL_RESTART_BYTES + (4 << 20),
        "the WAL reached {} MiB (bound {} MiB) with {reads} reads beside",
        largest >> 20,
        WAL_RESTART_BYTES >> 20
    );
    assert_eq!(crm.counts().unwrap().interactions as u64, 3 * WAL_RESTART_BYTES / 2 / 60_000);
}
