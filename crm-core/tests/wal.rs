//! The SQLite file's write-ahead log is checkpointed off the callers' path and stays bounded
//! while readers never stop reading (see `SqliteStore`): without the rewind, passive
//! checkpoints could not start the log over and it grew with every write (the soak saw
//! 1.1 GB beside a 78 MB database).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Utc;
use crm_core::interaction::InteractionKind;
use crm_core::store::{WAL_HARD_BYTES, WAL_RESTART_BYTES};
use crm_core::{Crm, NewCustomer, NewInteraction};

/// Interaction `I{n}` of `customer`: a note with this body.
fn note(n: u64, customer: crm_core::CustomerId, body: &str) -> NewInteraction {
    NewInteraction {
        external_id: Some(format!("I{n}")),
        customer_id: Some(customer),
        customer_external_id: None,
        kind: InteractionKind::Note,
        channel: None,
        direction: None,
        occurred_at: Utc::now(),
        subject: None,
        body: Some(body.to_owned()),
        score: None,
        payload: None,
    }
}

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
        crm.add_interaction(&note(n, c.id, &body)).unwrap();
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    stop.store(true, Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0);
    // The background thread rewinds the log past WAL_RESTART_BYTES; should it lag, the
    // committing caller does past WAL_HARD_BYTES. A commit's own frames may overshoot either.
    assert!(
        largest <= WAL_HARD_BYTES + (4 << 20),
        "the WAL reached {} MiB (bound {} MiB) with {reads} reads beside",
        largest >> 20,
        WAL_HARD_BYTES >> 20
    );
    assert_eq!(crm.counts().unwrap().interactions as u64, 3 * WAL_RESTART_BYTES / 2 / 60_000);
}

/// Commits leave checkpoints to the background thread: the log is copied into the database
/// file while the store stays open (SQLite's own automatic checkpoint is off), it starts over
/// instead of growing, and dropping the store ends the thread.
#[test]
fn checkpoints_run_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crm.db");
    let wal = dir.path().join("crm.db-wal");
    let crm = Crm::open(&db).unwrap();
    let c = crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() }).unwrap();
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let before = size(&db);
    // 24 MiB in 60 KB bodies: six times SQLite's 1,000-page threshold.
    let body = "x".repeat(60_000);
    let mut largest = 0;
    for n in 0..400 {
        crm.add_interaction(&note(n, c.id, &body)).unwrap();
        largest = largest.max(size(&wal));
    }
    // The thread works beside the writer: give it a moment to catch up with the last commits.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while size(&db) < before + (20 << 20) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(size(&db) >= before + (20 << 20), "the database file holds {} bytes: nothing was checkpointed", size(&db));
    assert!(largest < 24 << 20, "the log reached {} MiB: it never started over", largest >> 20);
    #[cfg(target_os = "linux")]
    {
        let named = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).ok())
            .filter(|name| name.trim() == "crm-checkpoint")
            .count();
        assert!(named >= 1, "no checkpoint thread is running");
    }
    drop(crm);
    // Dropping the last connection checkpoints and removes the log; the thread is gone.
    assert!(!wal.exists());
    let crm = Crm::open(&db).unwrap();
    assert_eq!(crm.counts().unwrap().interactions, 400);
}
