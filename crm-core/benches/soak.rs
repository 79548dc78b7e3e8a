//! Soak (never part of the test suite): `make soak`, or
//! `cargo bench -p crm-core --bench soak -- --minutes 10 --processes 2 --threads 3`.
//!
//! Several processes (this binary run again with `--worker`), each with several threads and
//! a change-feed reader, load one SQLite file with a mixed workload for a set time: bulk
//! ingest of orders (a tenth of each batch repeated), customer upserts, single orders (some
//! repeated with their external id), interactions, earning and redeeming points (some
//! earnings repeated with their key), rule counts and RFM refreshes, all with a loyalty
//! program that earns on every order. Every interval (a minute by default) it prints, per
//! call, the calls made, the rate, latency percentiles (from a log histogram, to within
//! 19%), the errors, and each process's resident memory.
//!
//! It fails (exit status 1) when any call returns an error a host would not expect (a
//! redemption refused for want of points is expected), when a repeated call changed
//! anything, when a process's memory at the end exceeds its memory at half time by more
//! than 10% + 8 MiB (page caches are bounded: 16 MiB a connection here), when the feed a
//! reader sees is not contiguous, or when at the end the invariants of
//! `tests/common/invariants.rs` do not hold, the records stored are not exactly those
//! the callers were told were created, or the write-ahead log ends larger than twice the
//! size at which a commit rewinds it (`SqliteStore`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use crm_core::ingest::IngestOptions;
use crm_core::interaction::InteractionKind;
use crm_core::loyalty::Program;
use crm_core::rule::parse;
use crm_core::segment::rfm::RfmConfig;
use crm_core::store::SqliteOptions;
use crm_core::{Crm, CrmConfig, Error, NewCustomer, NewInteraction, NewOrder, OrderStatus, Outcome};
use serde::{Deserialize, Serialize};

#[path = "../tests/common/mod.rs"]
mod testing;
use testing::SplitMix;

const SEEDED: usize = 2_000;
const PROGRAM: &str = r#"{"name": "Soak", "rates": {"USD": {"points": 1, "per_minor": 100}},
    "rules": [{"name": "base", "kind": "base"}, {"name": "welcome", "kind": "bonus", "event": "first_order", "points": 10}],
    "expiry_days": 365}"#;
const RULE: &str = "total_spent >= 100.00 USD and order_count >= 2";
const BUCKETS: usize = 112;

struct Args {
    minutes: f64,
    interval: f64,
    processes: usize,
    threads: usize,
    dir: PathBuf,
    worker: Option<usize>,
}

fn args() -> Args {
    let mut a = Args {
        minutes: 10.0,
        interval: 60.0,
        processes: 2,
        threads: 3,
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data/soak"),
        worker: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--minutes" => a.minutes = v().parse().expect("--minutes X"),
            "--interval" => a.interval = v().parse().expect("--interval SECONDS"),
            "--processes" => a.processes = v().parse().expect("--processes N"),
            "--threads" => a.threads = v().parse().expect("--threads N"),
            "--dir" => a.dir = PathBuf::from(v()),
            "--worker" => a.worker = Some(v().parse().expect("--worker N")),
            "--bench" => {}
            other => panic!("unknown argument {other}; use --minutes, --interval, --processes, --threads, --dir"),
        }
    }
    assert!(a.processes >= 1 && a.threads >= 1 && a.minutes > 0.0 && a.interval > 0.0);
    a
}

fn config() -> CrmConfig {
    CrmConfig { sqlite: SqliteOptions { cache_kib: 16 * 1024, ..Default::default() }, ..Default::default() }
}

/// Latencies of one call in an interval: a log histogram (four buckets per doubling of
/// microseconds) and the errors.
#[derive(Clone, Serialize, Deserialize)]
struct CallStats {
    buckets: Vec<u64>,
    errors: u64,
}

impl Default for CallStats {
    fn default() -> Self {
        CallStats { buckets: vec![0; BUCKETS], errors: 0 }
    }
}

impl CallStats {
    fn record(&mut self, took: Duration) {
        let us = took.as_micros().max(1) as f64;
        self.buckets[((us.log2() * 4.0) as usize).min(BUCKETS - 1)] += 1;
    }
    fn add(&mut self, o: &CallStats) {
        self.buckets.iter_mut().zip(&o.buckets).for_each(|(a, b)| *a += b);
        self.errors += o.errors;
    }
    fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
    /// The upper edge of the bucket holding quantile `q`, in milliseconds.
    fn quantile_ms(&self, q: f64) -> f64 {
        let n = self.count();
        let want = ((n as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b;
            if seen >= want {
                return 2f64.powf((i + 1) as f64 / 4.0) / 1000.0;
            }
        }
        f64::NAN
    }
}

/// One process's figures of an interval: its number, resident KiB, and calls.
type ProcessInterval = (usize, u64, BTreeMap<String, CallStats>);

/// What a process sends: an interval's figures, or its totals at the end.
#[derive(Serialize, Deserialize)]
enum Msg {
    Interval { process: usize, index: usize, rss_kib: u64, calls: BTreeMap<String, CallStats> },
    Done { process: usize, customers_created: u64, orders_created: u64, problems: Vec<String> },
}

/// State shared by a process's threads.
struct Shared {
    calls: Mutex<BTreeMap<String, CallStats>>,
    problems: Mutex<Vec<String>>,
    customers_created: AtomicU64,
    orders_created: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn problem(&self, p: String) {
        let mut all = self.problems.lock().unwrap();
        if all.len() < 20 {
            all.push(p);
        }
    }

    /// Times `f`, records it under `name`; an error counts and is kept.
    fn call<T>(&self, name: &str, f: impl FnOnce() -> crm_core::Result<T>) -> Option<T> {
        let start = Instant::now();
        let r = f();
        let took = start.elapsed();
        let mut calls = self.calls.lock().unwrap();
        let s = calls.entry(name.to_string()).or_default();
        s.record(took);
        match r {
            Ok(v) => Some(v),
            Err(Error::InsufficientPoints { .. }) if name == "redeem_points" => None,
            Err(e) => {
                s.errors += 1;
                drop(calls);
                self.problem(format!("{name}: {e}"));
                None
            }
        }
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn seeded_ext(i: u64) -> String {
    format!("S{i}")
}

fn order(ext: String, customer: String, rng: &mut SplitMix) -> NewOrder {
    NewOrder {
        external_id: ext,
        customer_id: None,
        customer_external_id: Some(customer),
        occurred_at: Utc::now() - chrono::Duration::days(rng.below(300) as i64),
        status: Some(OrderStatus::Completed),
        currency: "USD".parse().unwrap(),
        total_minor: 500 + rng.below(30_000) as i64,
        channel: None,
        items: None,
    }
}

/// One worker thread: the mixed calls until told to stop.
fn work(crm: &Crm, sh: &Shared, process: usize, thread: usize) {
    let mut rng = SplitMix((process as u64) << 32 | thread as u64);
    let me = format!("{process}-{thread}");
    let rule = parse(RULE).unwrap();
    let mut n = 0u64;
    let mut last_order: Option<NewOrder> = None;
    let mut last_earn: Option<(crm_core::CustomerId, i64, String)> = None;
    let mut ingested: Vec<NewOrder> = Vec::new();
    while !sh.stop.load(Ordering::Relaxed) {
        n += 1;
        let customer = seeded_ext(rng.below(SEEDED as u64));
        let roll = rng.below(1000);
        if roll < 180 {
            let new = rng.below(10) < 3;
            let ext = if new { format!("N{me}-{n}") } else { customer };
            let c = NewCustomer {
                external_id: Some(ext.clone()),
                name: format!("Name {}", rng.below(5)),
                ..Default::default()
            };
            if let Some(w) = sh.call("upsert_customer", || crm.upsert_customer(&c)) {
                if w.outcome == Outcome::Created {
                    if !new {
                        sh.problem(format!("upsert_customer created {ext} again"));
                    }
                    sh.customers_created.fetch_add(1, Ordering::Relaxed);
                }
            }
        } else if roll < 510 {
            // One in twenty repeats the thread's last order: nothing may change.
            let (o, repeat) = match last_order.take() {
                Some(o) if rng.below(20) == 0 => (o, true),
                _ => (order(format!("O{me}-{n}"), customer, &mut rng), false),
            };
            if let Some(w) = sh.call("record_order", || crm.record_order(&o)) {
                match (repeat, w.outcome) {
                    (false, Outcome::Created) => {
                        sh.orders_created.fetch_add(1, Ordering::Relaxed);
                    }
                    (true, Outcome::Unchanged) => {}
                    (_, got) => sh.problem(format!("record_order {} (repeat: {repeat}): {got:?}", o.external_id)),
                }
            }
            last_order = Some(o);
        } else if roll < 680 {
            let i = NewInteraction {
                external_id: Some(format!("I{me}-{n}")),
                customer_id: None,
                customer_external_id: Some(customer),
                kind: [InteractionKind::Call, InteractionKind::Email, InteractionKind::Chat][rng.below(3) as usize],
                channel: None,
                direction: None,
                occurred_at: Utc::now() - chrono::Duration::hours(rng.below(2_000) as i64),
                subject: Some("soak".into()),
                body: None,
                score: None,
                payload: None,
            };
            sh.call("add_interaction", || crm.add_interaction(&i));
        } else if roll < 820 {
            let Some(id) = sh.call("customer_id_by_external_id", || crm.customer_id_by_external_id(&customer)) else {
                continue;
            };
            let (id, points, key, repeat) = match last_earn.take() {
                Some((id, p, k)) if rng.below(20) == 0 => (id, p, k, true),
                _ => (id, 10 + rng.below(90) as i64, format!("E{me}-{n}"), false),
            };
            if let Some(p) = sh.call("earn_points", || crm.earn_points(id, points, &key)) {
                if p.replayed != repeat {
                    sh.problem(format!("earn_points {key}: replayed {} on a repeat: {repeat}", p.replayed));
                }
            }
            last_earn = Some((id, points, key));
        } else if roll < 890 {
            let Some(id) = sh.call("customer_id_by_external_id", || crm.customer_id_by_external_id(&customer)) else {
                continue;
            };
            sh.call("redeem_points", || crm.redeem_points(id, 5 + rng.below(45) as i64, &format!("R{me}-{n}")));
        } else if roll < 990 {
            sh.call("count_matching", || crm.count_matching(&rule, None));
        } else if roll < 995 {
            sh.call("refresh_rfm", || crm.refresh_rfm(&RfmConfig::new("USD".parse().unwrap())));
        } else {
            // A batch of 100 orders, a tenth of them repeats of earlier batches.
            let mut rows: Vec<NewOrder> = (0..90)
                .map(|k| order(format!("B{me}-{n}-{k}"), seeded_ext(rng.below(SEEDED as u64)), &mut rng))
                .collect();
            // Ten distinct earlier rows (a batch may not name one order twice).
            let mut picked = std::collections::BTreeSet::new();
            while picked.len() < 10.min(ingested.len()) {
                picked.insert(rng.below(ingested.len() as u64) as usize);
            }
            let repeats: Vec<NewOrder> = picked.iter().map(|i| ingested[*i].clone()).collect();
            let fresh = rows.clone();
            rows.extend(repeats.iter().cloned());
            let want = fresh.len() as u64;
            if let Some(r) = sh.call("ingest_orders", || {
                crm.ingest_orders(rows, IngestOptions { batch_size: 100, ..Default::default() })
            }) {
                if r.created != want || r.failed != 0 || r.updated != 0 {
                    sh.problem(format!(
                        "ingest_orders: {} created of {want} new, {} updated, {} failed",
                        r.created, r.updated, r.failed
                    ));
                }
                sh.orders_created.fetch_add(r.created, Ordering::Relaxed);
                // A bounded sample of the rows ingested, so that the soak's own memory stays
                // flat: the newest rows replace random older ones once it is full.
                for row in fresh {
                    if ingested.len() < 5_000 {
                        ingested.push(row);
                    } else {
                        let at = rng.below(ingested.len() as u64) as usize;
                        ingested[at] = row;
                    }
                }
            }
        }
    }
}

/// The feed reader: tails the change feed and checks it is contiguous.
fn read_feed(crm: &Crm, sh: &Shared) {
    let mut last = 0i64;
    while !sh.stop.load(Ordering::Relaxed) {
        if let Some(page) = sh.call("changes_since", || crm.changes_since(last, 1_000)) {
            for c in &page {
                if c.seq != last + 1 {
                    sh.problem(format!("the feed skipped from {last} to {}", c.seq));
                }
                last = c.seq;
            }
            if page.len() < 1_000 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Runs one process's threads for `seconds`, sending its figures every interval.
fn run_process(a: &Args, db: &Path, process: usize, send: impl Fn(Msg)) {
    let crm = Arc::new(Crm::open_with(db, config()).unwrap());
    let sh = Arc::new(Shared {
        calls: Mutex::default(),
        problems: Mutex::default(),
        customers_created: AtomicU64::new(0),
        orders_created: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let mut handles = Vec::new();
    for t in 0..a.threads {
        let (crm, sh) = (crm.clone(), sh.clone());
        handles.push(std::thread::spawn(move || work(&crm, &sh, process, t)));
    }
    {
        let (crm, sh) = (crm.clone(), sh.clone());
        handles.push(std::thread::spawn(move || read_feed(&crm, &sh)));
    }
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(a.minutes * 60.0);
    let mut index = 0;
    loop {
        let next = (start + Duration::from_secs_f64(a.interval * (index + 1) as f64)).min(end);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let calls = std::mem::take(&mut *sh.calls.lock().unwrap());
        send(Msg::Interval { process, index, rss_kib: rss_kib(), calls });
        index += 1;
        if next >= end {
            break;
        }
    }
    sh.stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    send(Msg::Done {
        process,
        customers_created: sh.customers_created.load(Ordering::Relaxed),
        orders_created: sh.orders_created.load(Ordering::Relaxed),
        problems: sh.problems.lock().unwrap().clone(),
    });
}

fn main() {
    let a = args();
    let db = a.dir.join("soak.db");
    if let Some(process) = a.worker {
        let out = Mutex::new(std::io::stdout());
        run_process(&a, &db, process, |m| {
            let mut out = out.lock().unwrap();
            writeln!(out, "{}", serde_json::to_string(&m).unwrap()).unwrap();
            out.flush().unwrap();
        });
        return;
    }

    std::fs::create_dir_all(&a.dir).unwrap();
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    {
        let crm = Crm::open_with(&db, config()).unwrap();
        crm.set_loyalty_program(&Program::from_json(PROGRAM).unwrap()).unwrap();
        let seeded = (0..SEEDED as u64).map(|i| NewCustomer {
            external_id: Some(seeded_ext(i)),
            name: format!("Seeded {i}"),
            ..Default::default()
        });
        crm.ingest_customers(seeded, IngestOptions::default()).unwrap();
    }
    println!(
        "soak: {} process(es) x {} thread(s) + a feed reader each, {} min on {}, figures every {} s",
        a.processes,
        a.threads,
        a.minutes,
        db.display(),
        a.interval
    );

    let (tx, rx) = mpsc::channel::<Msg>();
    let mut children = Vec::new();
    for p in 1..a.processes {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--worker", &p.to_string(), "--dir", &a.dir.display().to_string()])
            .args(["--minutes", &a.minutes.to_string(), "--interval", &a.interval.to_string()])
            .args(["--threads", &a.threads.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in out.lines() {
                let line = line.unwrap();
                tx.send(serde_json::from_str(&line).unwrap_or_else(|e| panic!("worker said {line:?}: {e}"))).unwrap();
            }
        });
        children.push(child);
    }
    let local = {
        let tx = tx.clone();
        let (a2, db2) = (Args { worker: None, dir: a.dir.clone(), ..a }, db.clone());
        std::thread::spawn(move || run_process(&a2, &db2, 0, |m| tx.send(m).unwrap()))
    };
    drop(tx);

    let mut problems: Vec<String> = Vec::new();
    let mut intervals: BTreeMap<usize, Vec<ProcessInterval>> = BTreeMap::new();
    let mut rss: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    let (mut customers, mut orders) = (SEEDED as u64, 0u64);
    let mut total = CallStats::default();
    for m in rx {
        match m {
            Msg::Interval { process, index, rss_kib, calls } => {
                rss.entry(process).or_default().push(rss_kib);
                let got = intervals.entry(index).or_default();
                got.push((process, rss_kib, calls));
                if got.len() == a.processes {
                    let got = intervals.remove(&index).unwrap();
                    print_interval(&db, index, a.interval.min(a.minutes * 60.0), &got, &mut total);
                }
            }
            Msg::Done { process, customers_created, orders_created, problems: p } => {
                customers += customers_created;
                orders += orders_created;
                problems.extend(p.into_iter().map(|p| format!("process {process}: {p}")));
            }
        }
    }
    local.join().unwrap();
    for mut c in children {
        let status = c.wait().unwrap();
        if !status.success() {
            problems.push(format!("a worker process exited with {status}"));
        }
    }

    // Memory: what a process holds at the end against what it held at half time.
    for (p, series) in &rss {
        let (mid, last) = (series[series.len() / 2], *series.last().unwrap());
        println!(
            "process {p} RSS MiB per interval: {}",
            series.iter().map(|k| format!("{:.1}", *k as f64 / 1024.0)).collect::<Vec<_>>().join(" ")
        );
        if series.len() >= 3 && last as f64 > mid as f64 * 1.10 + 8.0 * 1024.0 {
            problems.push(format!("process {p}: memory grew from {mid} KiB at half time to {last} KiB"));
        }
    }
    if rss.values().all(|s| s.len() < 3) {
        println!("(fewer than 3 intervals: memory growth not judged)");
    }

    // The write-ahead log stays bounded (SqliteStore's doc).
    let wal = file_mib(&wal_of(&db));
    let bound = (crm_core::store::WAL_HARD_BYTES + (4 << 20)) as f64 / (1024.0 * 1024.0);
    if wal > bound {
        problems.push(format!("the WAL is {wal:.1} MiB at the end, past {bound:.0} MiB"));
    }

    // The invariants, and exactly the records the callers were told were created.
    let crm = Crm::open_with(&db, config()).unwrap();
    let checked = Instant::now();
    match testing::invariants::check_invariants(&crm) {
        Ok(census) => {
            println!(
                "invariants hold: {} customers, {} orders, {} points held, feed at {} ({:.1} s to check)",
                census.customers.len(),
                census.orders,
                census.points,
                census.last_seq,
                checked.elapsed().as_secs_f64()
            );
            if (census.customers.len() as u64, census.orders as u64) != (customers, orders) {
                problems.push(format!(
                    "stored {} customers and {} orders; callers were told of {customers} and {orders}",
                    census.customers.len(),
                    census.orders
                ));
            }
        }
        Err(e) => problems.push(format!("invariant broken: {e}")),
    }
    println!("{} calls in all, {} errors", total.count(), total.errors);
    if problems.is_empty() {
        println!("soak passed");
    } else {
        for p in &problems {
            println!("PROBLEM {p}");
        }
        println!("soak FAILED: {} problem(s)", problems.len());
        std::process::exit(1);
    }
}

fn file_mib(p: &Path) -> f64 {
    std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / (1024.0 * 1024.0))
}

fn wal_of(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}-wal", db.display()))
}

fn print_interval(db: &Path, index: usize, secs: f64, got: &[ProcessInterval], total: &mut CallStats) {
    let mut calls: BTreeMap<&str, CallStats> = BTreeMap::new();
    for (_, _, c) in got {
        for (name, s) in c {
            calls.entry(name).or_default().add(s);
        }
    }
    let all: u64 = calls.values().map(CallStats::count).sum();
    let mem: Vec<String> = got.iter().map(|(p, rss, _)| format!("p{p} {:.1} MiB", *rss as f64 / 1024.0)).collect();
    println!(
        "\ninterval {} ({secs:.0} s): {:.0} calls/s; RSS {}; database {:.1} MiB, WAL {:.1} MiB",
        index + 1,
        all as f64 / secs,
        mem.join(", "),
        file_mib(db),
        file_mib(&wal_of(db))
    );
    println!(
        "| {:<28} | {:>9} | {:>9} | {:>8} | {:>8} | {:>8} | {:>6} |",
        "call", "calls", "calls/s", "p50 ms", "p99 ms", "max ms", "errors"
    );
    println!("|{:-<30}|{:-<11}|{:-<11}|{:-<10}|{:-<10}|{:-<10}|{:-<8}|", "", "", "", "", "", "", "");
    for (name, s) in &calls {
        println!(
            "| {:<28} | {:>9} | {:>9.1} | {:>8.3} | {:>8.3} | {:>8.3} | {:>6} |",
            name,
            s.count(),
            s.count() as f64 / secs,
            s.quantile_ms(0.5),
            s.quantile_ms(0.99),
            s.quantile_ms(1.0),
            s.errors
        );
        total.add(s);
    }
}
