//! Checkpoints of the write-ahead log, off the callers' path.
//!
//! SQLite's own automatic checkpoint runs inside the commit that crosses its threshold: that
//! caller copies about 4 MB into the database file and syncs it (single writes had a p99 of
//! 1.7 ms beside a median of 51 µs in `make bench`). Instead, the writer connection's WAL
//! hook (`sqlite3_wal_hook`, called after each commit with the log's length) only records
//! the length and wakes a background thread, which checkpoints on a connection of its own:
//!
//! - from [`CHECKPOINT_PAGES`] pages, `PASSIVE`: it waits for nobody and blocks nobody, and
//!   once it has copied everything the next writer starts the log over;
//! - past [`WAL_RESTART_BYTES`] (readers that never stop keep the log from starting over),
//!   `RESTART`: it waits up to [`RESTART_WAIT`] for the readers of that moment to finish, so
//!   that the log starts over; new writers wait while it is pending;
//! - and should the log still reach [`WAL_HARD_BYTES`] (the thread starved of a core), the
//!   committing caller rewinds it itself, as every commit did before, so that the bound
//!   holds whatever the scheduler does.
//!
//! A checkpoint that cannot finish is retried after a later commit: a commit has happened
//! whatever its checkpoint does. The thread ends when the store is dropped.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// Pages in the log from which the background thread checkpoints (SQLite's default
/// automatic checkpoint threshold).
pub(super) const CHECKPOINT_PAGES: u64 = 1000;

/// The size of the write-ahead log past which it is rewound (see [`SqliteStore`](super::SqliteStore)).
pub const WAL_RESTART_BYTES: u64 = 64 << 20;

/// The size of the write-ahead log past which the committing caller rewinds it itself
/// because the background checkpointer has not (see [`SqliteStore`](super::SqliteStore)).
pub const WAL_HARD_BYTES: u64 = 2 * WAL_RESTART_BYTES;

/// The size SQLite truncates a rewound write-ahead log file to (`journal_size_limit`): the
/// hard bound, so that a log rewound at [`WAL_RESTART_BYTES`] keeps its disk blocks and the
/// commits after it overwrite them. At 16 MiB, every rewind truncated the file and the next
/// 48 MiB of commits extended it again, allocating blocks (`ftruncate` and ext4's block
/// allocation took a tenth of `record_order`'s time; the ingest bench at 100,000 customers
/// measured `record_order` at 64-67% of the schema's raw ceiling with 16 MiB, 71-75% with
/// 128 MiB).
pub const WAL_KEEP_BYTES: u64 = WAL_HARD_BYTES;

/// How long a background `RESTART` waits for readers (and holds off new writers) before it
/// gives up until a later commit.
pub(super) const RESTART_WAIT: Duration = Duration::from_millis(250);

/// The background thread and what the writer's hook tells it.
pub(super) struct Checkpointer {
    /// Bytes in the log after the latest commit, as the hook reported it.
    log_bytes: Arc<AtomicU64>,
    /// In a mutex so that the store stays `RefUnwindSafe` (the C boundary catches panics).
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Installs the hook on `writer` and starts the thread on a new connection to `path`.
    /// `None` (SQLite's automatic checkpoints stay) when that connection cannot be opened.
    pub(super) fn start(writer: &mut Connection, path: &Path) -> Option<Checkpointer> {
        let conn = Connection::open(path).ok()?;
        conn.busy_timeout(RESTART_WAIT).ok()?;
        conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES as i64).ok()?;
        let page_size: i64 = writer.query_row("PRAGMA page_size", [], |r| r.get(0)).ok()?;
        // A frame is a page and its 24-byte header.
        let frame = page_size.max(512) as u64 + 24;
        let log_bytes = Arc::new(AtomicU64::new(0));
        let (wake, wakes) = sync_channel::<()>(1);
        let seen = log_bytes.clone();
        writer
            .wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
                let pages = pages.max(0) as u64;
                seen.store(pages * frame, Ordering::Relaxed);
                if pages >= CHECKPOINT_PAGES {
                    // Full: the thread has a wake-up pending already.
                    let _ = wake.try_send(());
                }
                Ok(())
            }))
            .ok()?;
        let latest = log_bytes.clone();
        let thread =
            std::thread::Builder::new().name("crm-checkpoint".into()).spawn(move || run(&conn, &wakes, &latest)).ok();
        if thread.is_none() {
            // No thread: give the checkpoints back to SQLite.
            writer.wal_hook(None::<fn(&mut rusqlite::hooks::Wal, std::ffi::c_int) -> rusqlite::Result<()>>).ok()?;
            writer.pragma_update(None, "wal_autocheckpoint", CHECKPOINT_PAGES as i64).ok()?;
            return None;
        }
        Some(Checkpointer { log_bytes, thread: Mutex::new(thread) })
    }

    /// Whether the log is past [`WAL_HARD_BYTES`], after the caller's commit.
    pub(super) fn over_hard_bound(&self) -> bool {
        self.log_bytes.load(Ordering::Relaxed) > WAL_HARD_BYTES
    }

    /// Removes the hook from `writer` (which ends the thread's channel) and waits for the thread.
    pub(super) fn stop(&mut self, writer: &mut Connection) {
        let _ = writer.wal_hook(None::<fn(&mut rusqlite::hooks::Wal, std::ffi::c_int) -> rusqlite::Result<()>>);
        if let Some(t) = self.thread.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

fn run(conn: &Connection, wakes: &Receiver<()>, log_bytes: &AtomicU64) {
    while wakes.recv().is_ok() {
        let mode = if log_bytes.load(Ordering::Relaxed) > WAL_RESTART_BYTES { "RESTART" } else { "PASSIVE" };
        // Best effort: a busy or failed checkpoint is retried after a later commit.
        let _ = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()));
    }
}
