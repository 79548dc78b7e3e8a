//! Segmentation benchmark (prints a markdown table; never part of the test suite).
//!
//! On the 1,000,000-customer / ~10,000,000-order dataset of the ingest benchmark (the same
//! generator, seed and files under `target/bench-data`: `ours-file.db` is reused when present,
//! otherwise generated and ingested the way `benches/ingest.rs` does):
//!
//! 1. RFM scores and names for every member, `Crm::compute_rfm`: for the currency with the
//!    most customers, and for every currency in turn (each customer buys in one currency
//!    in this data, so the sum covers every customer with completed spend);
//! 2. `Crm::refresh_rfm` (compute and store) for that currency;
//! 3. `Crm::score_rfm` for 10,000 random members, one call each (median and p99);
//!
//! against DuckDB and pandas computing the same RFM (same tie rule, same grid) from the same
//! orders, exported from the database to CSV: `benches/rfm_baseline.py`, run from a virtual
//! environment under `target/bench-venv` that this benchmark creates. Each baseline reports
//! its compute time after loading and its total with loading; its results are checked
//! against ours (member count, sum of scores and values, size of every segment).
//!
//! `make bench-segments` or
//! `cargo bench -p crm-core --bench segments -- [--runs 3] [--singles 10000] [--dir DIR] [--no-baselines]`
//!
//! More measurements belong in `main` as further `report.add` calls, each in its section.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crm_core::ingest::{self, IngestOptions, RecordKind};
use crm_core::rule::parse;
use crm_core::segment::rfm::{RfmConfig, RfmGrid, RfmScore, RfmSource, RfmTable};
use crm_core::synth::{Synth, SynthConfig};
use crm_core::{Crm, Currency, CustomerId};
use rusqlite::Connection;

mod common;
use common::{config, export_orders_csv, peak_rss_mib, percentile};

struct Args {
    dir: PathBuf,
    customers: u64,
    orders_per_customer: f64,
    runs: usize,
    singles: usize,
    baselines: bool,
}

fn args() -> Args {
    let mut a = Args {
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data"),
        customers: 1_000_000,
        orders_per_customer: 10.0,
        runs: 3,
        singles: 10_000,
        baselines: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--dir" => a.dir = PathBuf::from(v()),
            "--customers" => a.customers = v().parse().expect("--customers N"),
            "--orders-per-customer" => a.orders_per_customer = v().parse().expect("--orders-per-customer X"),
            "--runs" => a.runs = v().parse().expect("--runs N"),
            "--singles" => a.singles = v().parse().expect("--singles N"),
            "--no-baselines" => a.baselines = false,
            "--bench" => {}
            other => panic!(
                "unknown argument {other}; use --dir, --customers, --orders-per-customer, --runs, --singles, --no-baselines"
            ),
        }
    }
    a
}

/// The printed table: sections of rows, each `| measurement | figure | note |`.
#[derive(Default)]
struct Report {
    sections: Vec<(String, Vec<[String; 3]>)>,
}

impl Report {
    fn add(&mut self, section: &str, measurement: &str, figure: String, note: String) {
        eprintln!("{section} / {measurement}: {figure} {note}");
        let row = [measurement.to_owned(), figure, note];
        match self.sections.iter_mut().find(|(s, _)| s == section) {
            Some((_, rows)) => rows.push(row),
            None => self.sections.push((section.to_owned(), vec![row])),
        }
    }

    fn print(&self) {
        for (section, rows) in &self.sections {
            println!("\n### {section}\n\n| measurement | figure | note |\n|---|---|---|");
            for [m, f, n] in rows {
                println!("| {m} | {f} | {n} |");
            }
        }
    }
}

/// The ingest benchmark's database, reused, or made the same way.
fn dataset(a: &Args, report: &mut Report) -> Crm {
    let db = a.dir.join("ours-file.db");
    if db.exists() {
        return Crm::open_with(&db, config()).unwrap();
    }
    let synth = Synth::new(SynthConfig {
        customers: a.customers,
        orders_per_customer: a.orders_per_customer,
        ..Default::default()
    });
    let customers_csv = a.dir.join("customers.csv");
    let orders_csv = a.dir.join("orders.csv");
    let t = Instant::now();
    ingest::write_file(&customers_csv, synth.customers()).unwrap();
    ingest::write_file(&orders_csv, synth.orders()).unwrap();
    let crm = Crm::open_with(&db, config()).unwrap();
    for (kind, path) in [(RecordKind::Customers, &customers_csv), (RecordKind::Orders, &orders_csv)] {
        let r = crm.ingest_file(kind, path, IngestOptions::default()).unwrap();
        assert_eq!(r.failed, 0, "{:?}", &r.errors[..r.errors.len().min(5)]);
    }
    report.add("dataset", "generate and ingest", secs(t.elapsed()), "first run only; reused afterwards".into());
    crm
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `f` `runs` times; every time and the last result.
fn times<R>(runs: usize, mut f: impl FnMut() -> R) -> (Vec<Duration>, R) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let r = f();
        times.push(t.elapsed());
        // The previous result is dropped here, outside the timed region.
        last = Some(r);
    }
    (times, last.expect("at least one run"))
}

/// Runs `f` `runs` times; the median time and the last result.
fn timed<R>(runs: usize, f: impl FnMut() -> R) -> (Duration, R) {
    let (t, r) = times(runs, f);
    (median(t), r)
}

/// What both sides must agree on: members, sums of values and scores, and segment sizes.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Deserialize)]
struct Checksum {
    members: u64,
    recency_days: i64,
    frequency: i64,
    monetary_minor: i64,
    code: i64,
    segments: BTreeMap<String, u64>,
}

impl Checksum {
    fn add(&mut self, scores: &[RfmScore]) {
        self.members += scores.len() as u64;
        for s in scores {
            self.recency_days += s.recency_days;
            self.frequency += s.frequency;
            self.monetary_minor += s.monetary_minor;
            self.code += s.code();
            *self.segments.entry(s.segment.clone()).or_default() += 1;
        }
    }
}

/// Checksums per currency code.
fn checksums(tables: &[RfmTable]) -> BTreeMap<String, Checksum> {
    tables
        .iter()
        .map(|t| {
            let mut sum = Checksum::default();
            sum.add(&t.scores);
            (t.model.config.currency.code().to_owned(), sum)
        })
        .collect()
}

/// Orders as the baselines read them, exported once per database state.
fn export_orders(dir: &Path, db: &Path) -> PathBuf {
    let csv = dir.join("rfm-orders.csv");
    let stamp_path = dir.join("rfm-orders.stamp");
    let c = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let stamp: String =
        c.query_row("SELECT count(*) || ' ' || coalesce(max(id), 0) FROM orders", [], |r| r.get(0)).unwrap();
    if csv.exists() && std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
        return csv;
    }
    let t = Instant::now();
    export_orders_csv(db, &csv);
    std::fs::write(&stamp_path, stamp).unwrap();
    eprintln!("exported orders to {} in {:.1} s", csv.display(), t.elapsed().as_secs_f64());
    csv
}

/// A virtual environment with duckdb, pandas and pyarrow, made on first use.
fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-venv");
    let py = venv.join("bin/python");
    let ready = py.exists()
        && Command::new(&py).args(["-c", "import duckdb, pandas, pyarrow"]).status().is_ok_and(|s| s.success());
    if !ready {
        let ok = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().is_ok_and(|s| s.success())
            && Command::new(&py)
                .args(["-m", "pip", "install", "--quiet", "duckdb", "pandas", "pyarrow"])
                .status()
                .is_ok_and(|s| s.success());
        assert!(ok, "could not set up {} with duckdb, pandas and pyarrow", venv.display());
    }
    py
}

/// One baseline run: its timings and results.
#[derive(Debug, serde::Deserialize)]
struct Baseline {
    tool: String,
    version: String,
    load_s: f64,
    compute_s: Vec<f64>,
    peak_rss_mib: f64,
    /// Results per currency code.
    checksums: BTreeMap<String, Checksum>,
}

impl Baseline {
    fn compute(&self) -> Duration {
        median(self.compute_s.iter().map(|s| Duration::from_secs_f64(*s)).collect())
    }
}

fn run_baseline(
    py: &Path,
    tool: &str,
    csv: &Path,
    as_of: DateTime<Utc>,
    currency: Option<Currency>,
    runs: usize,
) -> Baseline {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/rfm_baseline.py");
    let grid = serde_json::to_string(&RfmGrid::default()).unwrap();
    let mut cmd = Command::new(py);
    cmd.arg(script)
        .args(["--tool", tool, "--csv"])
        .arg(csv)
        .args(["--as-of-micros", &as_of.timestamp_micros().to_string()])
        .args(["--runs", &runs.to_string(), "--grid", &grid]);
    if let Some(c) = currency {
        cmd.args(["--currency", c.code()]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{tool} printed {:?}: {e}", String::from_utf8_lossy(&out.stdout)))
}

/// The benchmark's five-condition segment: profile fields (country, tags), statistics (spend,
/// last order) and one order aggregate, as of the generator's end.
const FIVE: &str = r#"country in ["CN", "SG"] and total_spent >= 1000.00 CNY and last_order_at within 365 days
    and "vip" in tags and count(orders where category = "shoes" within 180 days) >= 1"#;
/// The same with `order_count >= 3` instead of the tag: the aggregate then runs for ~44,000 customers.
const FIVE_WIDE: &str = r#"country in ["CN", "SG"] and total_spent >= 1000.00 CNY and last_order_at within 365 days
    and order_count >= 3 and count(orders where category = "shoes" within 180 days) >= 1"#;

/// What a developer would write by hand for `FIVE` (constants inline), run with rusqlite on
/// the same file: the baseline for our compiled, fully parameterised query.
fn five_by_hand(as_of: DateTime<Utc>, tag: &str) -> String {
    let now = as_of.timestamp_micros();
    let (d180, d365) = (now - 180 * 86_400_000_000, now - 365 * 86_400_000_000);
    let fourth = if tag == "vip" {
        "EXISTS (SELECT 1 FROM json_each(c.tags) WHERE json_each.value = 'vip')".to_string()
    } else {
        "s.order_count >= 3".to_string()
    };
    let sql = format!(
        "SELECT count(*) FROM customers c JOIN customer_stats s ON s.customer_id = c.id \
         WHERE c.country IN ('CN', 'SG') AND s.last_order_at BETWEEN {d365} AND {now} \
         AND (SELECT total_minor FROM customer_spend sp WHERE sp.customer_id = c.id AND sp.currency = 'CNY') >= 100000 \
         AND {fourth} \
         AND EXISTS (SELECT 1 FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.customer_id = c.id \
         AND o.status = 'completed' AND o.occurred_at BETWEEN {d180} AND {now} AND i.category = 'shoes')"
    );
    sql
}

/// (b) counting a five-condition segment and (c) single-customer membership tests.
fn segments(crm: &Crm, db: &Path, as_of: DateTime<Utc>, singles: usize, report: &mut Report) {
    let section = "Segments (issue 3, benchmarks b and c)";
    let raw = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let customers = crm.counts().unwrap().customers.max(1);
    for (name, text, tag) in [("five conditions", FIVE, "vip"), ("five conditions, wide", FIVE_WIDE, "")] {
        let rule = parse(text).unwrap();
        let n = crm.count_matching(&rule, Some(as_of)).unwrap();
        let sql = five_by_hand(as_of, tag);
        let by_hand = |_: ()| raw.query_row(&sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(by_hand(()), n, "the hand-written query disagrees");
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        // Alternate so both see the same load on a shared machine.
        for _ in 0..5 {
            let t = Instant::now();
            crm.count_matching(&rule, Some(as_of)).unwrap();
            ours.push(t.elapsed());
            let t = Instant::now();
            by_hand(());
            theirs.push(t.elapsed());
        }
        let (ours, theirs) = (median(ours), median(theirs));
        report.add(
            section,
            &format!("ours: count_matching, {name}"),
            secs(ours),
            format!(
                "{n} members of {customers}; hand-written SQL with inline constants {:.3} s ({:.2}x ours; target < 1 s)",
                theirs.as_secs_f64(),
                theirs.as_secs_f64() / ours.as_secs_f64()
            ),
        );
    }

    // (c) One customer, the five-condition rule: end to end (check, load, evaluate in memory)
    // and the evaluator alone on records already in memory.
    let rule = parse(FIVE).unwrap();
    let ids: Vec<CustomerId> = (0..singles as i64).map(|i| CustomerId(1 + (i * 7919) % customers)).collect();
    for id in ids.iter().take(singles / 10) {
        crm.matches_at(*id, &rule, Some(as_of)).unwrap();
    }
    let mut lat = Vec::with_capacity(ids.len());
    let mut hits = 0;
    for id in &ids {
        let t = Instant::now();
        hits += usize::from(crm.matches_at(*id, &rule, Some(as_of)).unwrap());
        lat.push(t.elapsed());
    }
    lat.sort();
    report.add(
        section,
        "ours: matches, one customer (store to answer)",
        format!("median {:.1} µs", percentile(&lat, 0.5).as_secs_f64() * 1e6),
        format!(
            "p99 {:.1} µs; {} customers, {hits} members; reads the customer, stats and its orders of the window (target < 50 µs)",
            percentile(&lat, 0.99).as_secs_f64() * 1e6,
            ids.len()
        ),
    );
    let checked = crm_core::rule::check(&rule, &Default::default(), as_of).unwrap();
    let loaded: Vec<_> = ids
        .iter()
        .take(1000)
        .map(|id| {
            let c = crm.get_customer(*id).unwrap();
            let s = crm.customer_stats(*id).unwrap();
            let mut orders = Vec::new();
            let mut cursor = None;
            loop {
                let page = crm.timeline(*id, 1000, cursor.as_deref()).unwrap();
                orders.extend(page.items.into_iter().filter_map(|e| match e {
                    crm_core::TimelineEntry::Order(o) => Some(o),
                    _ => None,
                }));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            (c, s, orders)
        })
        .collect();
    let mut lat = Vec::new();
    for _ in 0..10 {
        for (c, s, orders) in &loaded {
            let subject = crm_core::rule::Subject {
                customer: c,
                stats: s,
                rfm: None,
                tier: None,
                orders,
                interactions: &[],
                static_segments: &[],
            };
            let t = Instant::now();
            std::hint::black_box(crm_core::rule::matches(&subject, &checked));
            lat.push(t.elapsed());
        }
    }
    lat.sort();
    report.add(
        section,
        "ours: rule::matches, records in memory",
        format!("median {:.2} µs", percentile(&lat, 0.5).as_secs_f64() * 1e6),
        format!(
            "p99 {:.2} µs; the evaluator alone, every order of the customer loaded",
            percentile(&lat, 0.99).as_secs_f64() * 1e6
        ),
    );
}

fn main() {
    let a = args();
    std::fs::create_dir_all(&a.dir).unwrap();
    let a = Args { dir: a.dir.canonicalize().unwrap(), ..a };
    let mut report = Report::default();
    let crm = dataset(&a, &mut report);
    let counts = crm.counts().unwrap();
    let db = a.dir.join("ours-file.db");

    // Population per currency; the largest is the headline currency.
    let populations: Vec<(Currency, u64)> = {
        let c = Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut st = c
            .prepare(
                "SELECT currency, count(*) FROM customer_spend WHERE total_minor > 0 GROUP BY currency ORDER BY 2 DESC",
            )
            .unwrap();
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).unwrap();
        rows.map(|r| r.map(|(c, n)| (c.parse().unwrap(), n as u64))).collect::<Result<_, _>>().unwrap()
    };
    let main_currency = populations[0].0;
    let all_members: u64 = populations.iter().map(|p| p.1).sum();
    // A fixed as-of time, the generator's end: results are comparable between runs and tools.
    let as_of = SynthConfig::default().end;
    let rfm = |c: Currency| RfmConfig { as_of: Some(as_of), ..RfmConfig::new(c) };
    let section = "RFM (issue 3, benchmark a)";

    // 1. compute_rfm: the headline currency, then every currency in turn.
    let table = crm.compute_rfm(&rfm(main_currency)).unwrap();
    assert_eq!(table.model.source, RfmSource::Stats);
    let main_only = [main_currency];
    let every: Vec<Currency> = populations.iter().map(|p| p.0).collect();
    let ours = |currencies: &[Currency]| -> Vec<RfmTable> {
        currencies.iter().map(|c| crm.compute_rfm(&rfm(*c)).unwrap()).collect()
    };
    let (d_main, _) = timed(a.runs, || ours(&main_only));
    let (d_all, tables) = timed(a.runs, || ours(&every));
    assert_eq!(tables.iter().map(|t| t.scores.len() as u64).sum::<u64>(), all_members);
    drop(tables);
    report.add(
        section,
        &format!("ours: compute_rfm, {main_currency}"),
        secs(d_main),
        format!("{} members; scores and names, from the maintained stats", table.model.population),
    );
    report.add(
        section,
        "ours: compute_rfm, every currency in turn",
        secs(d_all),
        format!("{} calls, {all_members} members (every customer with completed spend)", populations.len()),
    );

    // The documented slow path: as of a date before some orders, computed from the orders.
    let earlier = as_of - chrono::Duration::days(180);
    let (d_earlier, t_earlier) = timed(a.runs, || {
        crm.compute_rfm(&RfmConfig { as_of: Some(earlier), ..RfmConfig::new(main_currency) }).unwrap()
    });
    assert_eq!(t_earlier.model.source, RfmSource::Orders);
    report.add(
        section,
        &format!("ours: compute_rfm, {main_currency}, as of 180 days earlier"),
        secs(d_earlier),
        format!("{} members; from the orders (every order read), not the stats", t_earlier.model.population),
    );

    // 2. refresh_rfm: compute and replace the stored scores, one write transaction.
    let (d_refresh, model) = timed(a.runs, || crm.refresh_rfm(&rfm(main_currency)).unwrap());
    report.add(
        section,
        &format!("ours: refresh_rfm, {main_currency}"),
        secs(d_refresh),
        format!("compute + write {} rows + model, one transaction", model.population),
    );

    // 3. score_rfm: random members, one call (one read transaction) each, as of now.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut pick = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        table.scores[(x % table.scores.len() as u64) as usize].customer_id
    };
    let ids: Vec<_> = (0..a.singles).map(|_| pick()).collect();
    for id in ids.iter().take(a.singles / 10) {
        crm.score_rfm(*id, None).unwrap();
    }
    let mut lat = Vec::with_capacity(ids.len());
    for id in &ids {
        let t = Instant::now();
        let s = crm.score_rfm(*id, None).unwrap();
        lat.push(t.elapsed());
        assert!(s.is_some());
    }
    lat.sort();
    report.add(
        section,
        "ours: score_rfm, one member",
        format!("median {:.1} µs", percentile(&lat, 0.5).as_secs_f64() * 1e6),
        format!(
            "p99 {:.1} µs; {} random {main_currency} members against the stored model",
            percentile(&lat, 0.99).as_secs_f64() * 1e6,
            ids.len()
        ),
    );
    report.add(section, "ours: peak RSS", format!("{:.0} MiB", peak_rss_mib()), "whole benchmark process".into());

    segments(&crm, &db, as_of, a.singles, &mut report);

    // Baselines: the same RFM from the same orders.
    if a.baselines {
        let csv = export_orders(&a.dir, &db);
        let py = python();
        for tool in ["duckdb", "pandas"] {
            for (currency, scope) in [(Some(main_currency), &main_only[..]), (None, &every[..])] {
                // Ours again right before and after the baseline, so that both see the same
                // load on a shared machine.
                let (mut d_ours, tables) = times(a.runs, || ours(scope));
                let want = checksums(&tables);
                drop(tables);
                let b = run_baseline(&py, tool, &csv, as_of, currency, a.runs);
                d_ours.extend(times(a.runs, || ours(scope)).0);
                assert_eq!(b.checksums, want, "{tool} and ours disagree");
                let d_ours = median(d_ours);
                let scope = currency.map_or("every currency at once".to_owned(), |c| c.code().to_owned());
                let compute = b.compute();
                report.add(
                    section,
                    &format!("{} {}: {scope}", b.tool, b.version),
                    secs(compute),
                    format!(
                        "{:.1}x ours ({:.3} s around it); {:.3} s with loading the CSV ({:.3} s); \
                         peak RSS {:.0} MiB; same results",
                        compute.as_secs_f64() / d_ours.as_secs_f64(),
                        d_ours.as_secs_f64(),
                        b.load_s + compute.as_secs_f64(),
                        b.load_s,
                        b.peak_rss_mib,
                    ),
                );
            }
        }
    }

    report.print();
    let mut footer = String::new();
    let _ = write!(
        footer,
        "\n{} customers, {} orders in {}; as of {}; medians of {} runs; ours single-threaded, SQLite WAL, \
         256 MiB cache. Baselines: orders exported to CSV, loaded once, then computed {} times \
         (DuckDB with its default threads: {} cores here; its time includes handing the result to Python as \
         Arrow); their results match ours exactly. The machine is shared: compare ratios, not absolute figures.",
        counts.customers,
        counts.orders,
        db.display(),
        as_of.to_rfc3339(),
        a.runs,
        a.runs,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    println!("{footer}");
}
