//! Bulk-ingest benchmark (prints a table; never part of the test suite).
//!
//! On fresh SQLite files, from the synthetic generator:
//! 1. our bulk ingest of customers and orders from CSV files (streaming; peak RSS measured);
//! 2. our bulk ingest from iterators against raw rusqlite inserting the same rows into the
//!    same tables in one transaction through prepared statements (rows generated before
//!    timing, in chunks, for both);
//! 3. single-order writes the way a host makes them (one call, one transaction each, WAL,
//!    synchronous=NORMAL) into the loaded file, against raw single-row transactions.
//!
//! `cargo bench -p crm-core --bench ingest -- --customers 1000000 --orders-per-customer 10`;
//! `--match-keys` uses matching on the iterator's store before loading, so that its
//! customers are loaded with their match keys (as on a store that matches).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crm_core::ingest::{self, IngestOptions, RecordKind};
use crm_core::synth::{Synth, SynthConfig};
use crm_core::{Crm, NewOrder, OrderStatus};
use rusqlite::{params, Connection};

mod common;
use common::{config, fresh, peak_rss_mib, percentile, rate, raw_insert_order, reset_peak_rss};

struct Args {
    customers: u64,
    orders_per_customer: f64,
    single: usize,
    dir: PathBuf,
    /// Skip generation and bulk ingest; run the single-order phase on the files of an earlier run.
    reuse: bool,
    /// Use matching before loading, so that every customer write keeps its match keys.
    match_keys: bool,
}

fn args() -> Args {
    let mut a = Args {
        customers: 1_000_000,
        orders_per_customer: 10.0,
        single: 20_000,
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data"),
        reuse: false,
        match_keys: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--customers" => a.customers = v().parse().expect("--customers N"),
            "--orders-per-customer" => a.orders_per_customer = v().parse().expect("--orders-per-customer X"),
            "--single" => a.single = v().parse().expect("--single N"),
            "--dir" => a.dir = PathBuf::from(v()),
            "--reuse" => a.reuse = true,
            "--match-keys" => a.match_keys = true,
            "--bench" => {}
            other => {
                panic!(
                    "unknown argument {other}; use --customers, --orders-per-customer, --single, --dir, --reuse, --match-keys"
                )
            }
        }
    }
    a
}

fn raw_connection(path: &Path) -> Connection {
    // The schema comes from our store; the raw side then writes with plain rusqlite.
    drop(Crm::open_with(path, config()).unwrap());
    let c = Connection::open(path).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "NORMAL").unwrap();
    c.pragma_update(None, "cache_size", -256 * 1024).unwrap();
    c.pragma_update(None, "foreign_keys", false).unwrap();
    c
}

/// Phases 0 to 2: data files, file ingest, iterator ingest against raw rusqlite.
fn bulk_phases(a: &Args, synth: &Synth, row: &mut impl FnMut(&str, String, String)) -> (Crm, Connection, u64) {
    // 0. Data files.
    let customers_csv = a.dir.join("customers.csv");
    let orders_csv = a.dir.join("orders.csv");
    let t = Instant::now();
    let n_customers = ingest::write_file(&customers_csv, synth.customers()).unwrap();
    let n_orders = ingest::write_file(&orders_csv, synth.orders()).unwrap();
    row(
        "generate CSV",
        format!("{:.1} s", t.elapsed().as_secs_f64()),
        format!("{n_customers} customers, {n_orders} orders"),
    );

    // 1. Our ingest from the CSV files, streaming.
    reset_peak_rss();
    let ours_file = fresh(&a.dir.join("ours-file.db"));
    let crm = Crm::open_with(&ours_file, config()).unwrap();
    let t = Instant::now();
    let r = crm.ingest_file(RecordKind::Customers, &customers_csv, IngestOptions::default()).unwrap();
    let d_c = t.elapsed();
    assert_eq!(r.created, n_customers, "{:?}", &r.errors[..r.errors.len().min(5)]);
    let t = Instant::now();
    let r = crm.ingest_file(RecordKind::Orders, &orders_csv, IngestOptions::default()).unwrap();
    let d_o = t.elapsed();
    assert_eq!(r.created, n_orders, "{:?}", &r.errors[..r.errors.len().min(5)]);
    let file_rss = peak_rss_mib();
    row("ours, CSV file: customers/s", format!("{:.0}", rate(n_customers, d_c)), format!("{:.1} s", d_c.as_secs_f64()));
    row(
        "ours, CSV file: orders/s",
        format!("{:.0}", rate(n_orders, d_o)),
        format!("{:.1} s (parse, validate, stats, feed)", d_o.as_secs_f64()),
    );
    row("ours, CSV file: peak RSS", format!("{file_rss:.0} MiB"), "target < 1024 MiB".into());

    // 2. Iterator ingest against raw rusqlite, same rows, same tables, rows generated before timing.
    const CHUNK: usize = 100_000;
    let ours_iter = fresh(&a.dir.join("ours-iter.db"));
    let raw_path = fresh(&a.dir.join("raw.db"));
    let ours = Crm::open_with(&ours_iter, config()).unwrap();
    if a.match_keys {
        ours.ensure_match_keys().unwrap();
    }
    let raw = raw_connection(&raw_path);
    let now = chrono::Utc::now().timestamp_micros();
    let (mut t_ours_c, mut t_raw_c, mut t_ours_o, mut t_raw_o) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    raw.execute_batch("BEGIN").unwrap();
    let mut customers = synth.customers().peekable();
    while customers.peek().is_some() {
        let chunk: Vec<_> = customers.by_ref().take(CHUNK).collect();
        let t = Instant::now();
        {
            let mut st = raw
                .prepare_cached(
                    "INSERT INTO customers (external_id, kind, name, email, phone, company, title, industry, country, region, city, \
                     birthday, gender, tags, attributes, lifecycle, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'prospect', ?16, ?17)",
                )
                .unwrap();
            for c in &chunk {
                st.execute(params![
                    c.external_id,
                    "person",
                    c.name,
                    c.email,
                    c.phone,
                    c.company,
                    c.title,
                    c.industry,
                    c.address.country,
                    c.address.region,
                    c.address.city,
                    c.birthday.map(|b| b.to_string()),
                    c.gender,
                    serde_json::to_string(&c.tags).unwrap(),
                    serde_json::to_string(&c.attributes).unwrap(),
                    c.created_at.map_or(now, |t| t.timestamp_micros()),
                    now
                ])
                .unwrap();
            }
        }
        t_raw_c += t.elapsed();
        let t = Instant::now();
        ours.ingest_customers(chunk, IngestOptions::default()).unwrap();
        t_ours_c += t.elapsed();
    }
    let mut orders = synth.orders().peekable();
    while orders.peek().is_some() {
        let chunk: Vec<_> = orders.by_ref().take(CHUNK).collect();
        let t = Instant::now();
        for o in &chunk {
            raw_insert_order(&raw, o, now);
        }
        t_raw_o += t.elapsed();
        let t = Instant::now();
        let r = ours.ingest_orders(chunk, IngestOptions::default()).unwrap();
        t_ours_o += t.elapsed();
        assert_eq!(r.failed, 0);
    }
    let t = Instant::now();
    raw.execute_batch("COMMIT").unwrap();
    t_raw_o += t.elapsed();
    let (rc, oc) = (rate(n_customers, t_raw_c), rate(n_customers, t_ours_c));
    let (ro, oo) = (rate(n_orders, t_raw_o), rate(n_orders, t_ours_o));
    row("raw rusqlite: customers/s", format!("{rc:.0}"), "one transaction, prepared statement".into());
    row(
        "ours, iterator: customers/s",
        format!("{oc:.0}"),
        format!(
            "{:.0}% of raw (validation incl. E.164{})",
            100.0 * oc / rc,
            if a.match_keys { "; match keys kept" } else { "" }
        ),
    );
    row("raw rusqlite: orders/s", format!("{ro:.0}"), "orders + line items, one transaction".into());
    row("ours, iterator: orders/s", format!("{oo:.0}"), format!("{:.0}% of raw (target >= 50%)", 100.0 * oo / ro));

    (crm, raw, n_customers)
}

fn main() {
    let a = args();
    std::fs::create_dir_all(&a.dir).unwrap();
    let synth = Synth::new(SynthConfig {
        customers: a.customers,
        orders_per_customer: a.orders_per_customer,
        ..Default::default()
    });
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut row = |what: &str, figure: String, note: String| {
        eprintln!("{what}: {figure} {note}");
        rows.push((what.to_owned(), figure, note));
    };

    let (crm, raw, n_customers) = if a.reuse {
        let crm = Crm::open_with(a.dir.join("ours-file.db"), config()).unwrap();
        let raw = raw_connection(&a.dir.join("raw.db"));
        let n = crm.counts().unwrap().customers as u64;
        row("reused files", format!("{n} customers"), format!("{} orders", crm.counts().unwrap().orders));
        (crm, raw, n)
    } else {
        bulk_phases(&a, &synth, &mut row)
    };
    let now = chrono::Utc::now().timestamp_micros();

    // 3. Single-order writes, one call = one transaction, into the loaded files.
    let customers_n = n_customers.max(1);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next_customer = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % customers_n + 1
    };
    let template = synth.orders().next().unwrap();
    let mk = |n: usize, c: u64| NewOrder {
        external_id: format!("S{now}-{n:09}"),
        customer_id: None,
        customer_external_id: Some(Synth::customer_external_id(c)),
        status: Some(OrderStatus::Completed),
        ..template.clone()
    };
    let singles: Vec<NewOrder> = (0..a.single).map(|n| mk(n, next_customer())).collect();
    // Both sides write into large files whose pages the OS may have evicted; alternating
    // blocks of calls (after an untimed warm-up) gives both the same cache conditions.
    let raw_write = |o: &NewOrder| {
        raw.execute_batch("BEGIN IMMEDIATE").unwrap();
        raw_insert_order(&raw, o, now);
        raw.execute_batch("COMMIT").unwrap();
    };
    let warm = a.single / 10;
    for o in &singles[..warm] {
        crm.record_order(&NewOrder { external_id: format!("W{}", o.external_id), ..o.clone() }).unwrap();
        raw_write(&NewOrder { external_id: format!("W{}", o.external_id), ..o.clone() });
    }
    let (mut lat, mut raw_lat) = (Vec::with_capacity(a.single), Vec::with_capacity(a.single));
    let (mut d_ours, mut d_raw) = (Duration::ZERO, Duration::ZERO);
    for block in singles.chunks(1_000) {
        let t = Instant::now();
        for o in block {
            let s = Instant::now();
            crm.record_order(o).unwrap();
            lat.push(s.elapsed());
        }
        d_ours += t.elapsed();
        let t = Instant::now();
        for o in block {
            let s = Instant::now();
            raw_write(o);
            raw_lat.push(s.elapsed());
        }
        d_raw += t.elapsed();
    }
    lat.sort();
    raw_lat.sort();
    let (os, rs) = (rate(a.single as u64, d_ours), rate(a.single as u64, d_raw));
    row(
        "raw rusqlite: single-order tx/s",
        format!("{rs:.0}"),
        format!("median {:?}, p99 {:?}", percentile(&raw_lat, 0.5), percentile(&raw_lat, 0.99)),
    );
    row(
        "ours: record_order calls/s",
        format!("{os:.0}"),
        format!(
            "{:.0}% of raw; median {:?}, p99 {:?} (target >= 5000/s)",
            100.0 * os / rs,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        ),
    );

    println!("\n| measurement | figure | note |\n|---|---|---|");
    for (w, f, n) in &rows {
        println!("| {w} | {f} | {n} |");
    }
    println!(
        "\n{n_customers} customers; SQLite WAL, synchronous=NORMAL, 256 MiB cache, no SQL foreign keys; data in {}",
        a.dir.display()
    );
}
