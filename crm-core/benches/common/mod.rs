//! What the benchmarks share: the store configuration they all measure with, scratch files,
//! peak memory and the small arithmetic of rates and percentiles. Each benchmark uses a
//! part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crm_core::store::SqliteOptions;
use crm_core::{CrmConfig, NewOrder};
use rusqlite::{params, Connection};

/// A 256 MiB page cache: the same for every side of a comparison, and it keeps the peak of
/// a 10-million-order load well under 1 GiB.
pub fn config() -> CrmConfig {
    CrmConfig { sqlite: SqliteOptions { cache_kib: 256 * 1024, ..Default::default() }, ..Default::default() }
}

/// Removes a database file and its WAL and shared-memory files; returns the path.
pub fn fresh(path: &Path) -> PathBuf {
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    path.to_path_buf()
}

/// Peak resident set size of this process in MiB since the last [`reset_peak_rss`].
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets the peak that [`peak_rss_mib`] reports (Linux `clear_refs`).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The Python of `target/<name>`, a virtualenv holding `packages` (pinned `name==version`
/// specs), created when it is missing or `import <imports>` fails in it. For the baselines
/// that run in Python.
pub fn venv(name: &str, imports: &str, packages: &[&str]) -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target").join(name);
    let py = venv.join("bin/python");
    let ok = py.exists()
        && Command::new(&py).args(["-c", &format!("import {imports}")]).status().map(|s| s.success()).unwrap_or(false);
    if !ok {
        eprintln!("creating {} ({}) ...", venv.display(), packages.join(", "));
        assert!(Command::new("python3").arg("-m").arg("venv").arg(&venv).status().unwrap().success());
        let st = Command::new(venv.join("bin/pip")).args(["install", "-q"]).args(packages).status().unwrap();
        assert!(st.success(), "pip install failed");
    }
    py
}

/// Items per second.
pub fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// The `p` quantile (0 to 1) of sorted durations, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Writes a generated order and its items the raw way (prepared statements, no validation,
/// no statistics), its customer read from the generator's external id; returns the order's
/// id and the customer's.
pub fn raw_insert_order(c: &Connection, o: &NewOrder, now: i64) -> (i64, i64) {
    let customer: i64 = o.customer_external_id.as_deref().unwrap()[1..].parse().unwrap();
    c.prepare_cached(
        "INSERT INTO orders (external_id, customer_id, occurred_at, status, currency, total_minor, channel, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )
    .unwrap()
    .execute(params![
        o.external_id,
        customer,
        o.occurred_at.timestamp_micros(),
        o.status.unwrap_or_default().as_str(),
        o.currency.code(),
        o.total_minor,
        o.channel,
        now
    ])
    .unwrap();
    let id = c.last_insert_rowid();
    let mut st = c
        .prepare_cached(
            "INSERT INTO order_items (order_id, line_no, sku, category, quantity, unit_price_minor) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .unwrap();
    for (n, it) in o.items.iter().flatten().enumerate() {
        st.execute(params![id, n as i64, it.sku, it.category, it.quantity, it.unit_price_minor]).unwrap();
    }
    (id, customer)
}

/// The raw baseline's checkpoints moved off its callers' path the way the store moves its
/// own (`store/sqlite/checkpoint.rs`): a WAL hook wakes a thread that checkpoints
/// (`PASSIVE`) on a second connection from 1,000 pages. Without it the raw side pays
/// SQLite's automatic checkpoint inside its commits and the store is compared with a
/// baseline slower than it needs to be. The thread ends when `conn` drops its hook.
#[allow(dead_code)]
pub fn raw_background_checkpoints(conn: &mut Connection, path: &Path) -> std::thread::JoinHandle<()> {
    let (wake, wakes) = std::sync::mpsc::sync_channel::<()>(1);
    conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
        if pages >= 1000 {
            let _ = wake.try_send(());
        }
        Ok(())
    }))
    .unwrap();
    let ck = Connection::open(path).unwrap();
    std::thread::spawn(move || {
        while wakes.recv().is_ok() {
            let _ = ck.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
    })
}

/// Writes every order of the SQLite file `db` to `csv` as the Python baselines read them:
/// `customer_id,occurred_at,status,currency,total_minor` (times in microseconds).
#[allow(dead_code)]
pub fn export_orders_csv(db: &Path, csv: &Path) {
    use std::io::Write as _;
    let c = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(csv).unwrap());
    writeln!(out, "customer_id,occurred_at,status,currency,total_minor").unwrap();
    let mut st = c.prepare("SELECT customer_id, occurred_at, status, currency, total_minor FROM orders").unwrap();
    let mut rows = st.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let (id, at, total): (i64, i64, i64) = (r.get(0).unwrap(), r.get(1).unwrap(), r.get(4).unwrap());
        let status = r.get_ref(2).unwrap().as_str().unwrap();
        let currency = r.get_ref(3).unwrap().as_str().unwrap();
        writeln!(out, "{id},{at},{status},{currency},{total}").unwrap();
    }
    out.flush().unwrap();
}
