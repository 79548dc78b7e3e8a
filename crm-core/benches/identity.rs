//! Identity-resolution benchmark (prints a table; never part of the test suite).
//!
//! On a SQLite file of generated customers with labelled duplicates (cached in
//! `target/bench-data/identity.db` and reused while it holds the same data; the true
//! identity of a record is its external id up to the `~`):
//! 1. `find_duplicates` over the whole store, the model estimated from the data (time, peak
//!    RSS, pairwise precision, recall and F1 of its clusters and of its pairs);
//! 2. `match_customer` of one record (1,000 stored duplicates, one at a time) through the
//!    stored blocking keys with the estimated model: median and p99 latency and how often
//!    the original comes first, beside a lookup by external id in the same run;
//! 3. splink 5.0.0 on DuckDB with a comparable model (`benches/identity_splink.py`, in a
//!    virtualenv under `target/`), on a CSV of the same customers' standardised keys, so
//!    that both sides match the same clean values.
//!
//! `cargo bench -p crm-core --bench identity -- --customers 1000000` (`make bench-identity`);
//! `--duplicates 0.05` the share of labelled duplicates, `--threshold 0.95`,
//! `--u-pairs 10000000` random pairs for the u estimates (both sides), `--no-python` skips
//! the baseline.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crm_core::identity::{MatchSettings, Standard};
use crm_core::ingest::IngestOptions;
use crm_core::synth::{Synth, SynthConfig};
use crm_core::{Crm, Customer, CustomerId, CustomerQuery};

mod common;
use common::{config, peak_rss_mib, reset_peak_rss, venv};

struct Args {
    customers: u64,
    duplicates: f64,
    threshold: f64,
    u_pairs: u64,
    dir: PathBuf,
    python: bool,
}

fn args() -> Args {
    let mut a = Args {
        customers: 1_000_000,
        duplicates: 0.05,
        threshold: 0.95,
        u_pairs: 10_000_000,
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data"),
        python: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--customers" => a.customers = v().parse().expect("--customers N"),
            "--duplicates" => a.duplicates = v().parse().expect("--duplicates X"),
            "--threshold" => a.threshold = v().parse().expect("--threshold P"),
            "--u-pairs" => a.u_pairs = v().parse().expect("--u-pairs N"),
            "--dir" => a.dir = PathBuf::from(v()),
            "--no-python" => a.python = false,
            "--bench" => {}
            other => panic!(
                "unknown argument {other}; use --customers, --duplicates, --threshold, --u-pairs, --dir, --no-python"
            ),
        }
    }
    a
}

/// The database for `synth`, loaded through bulk ingest unless an earlier run left the same one.
fn database(a: &Args, synth: &Synth, row: &mut impl FnMut(&str, String, String)) -> Crm {
    let path = a.dir.join("identity.db");
    let stamp = a.dir.join("identity.db.config.json");
    let want = serde_json::to_string(synth.config()).unwrap();
    if path.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        let crm = Crm::open_with(&path, config()).unwrap();
        row("reused database", format!("{} customers", crm.counts().unwrap().customers), path.display().to_string());
        return crm;
    }
    common::fresh(&path);
    let _ = std::fs::remove_file(&stamp);
    let crm = Crm::open_with(&path, config()).unwrap();
    let t = Instant::now();
    let r = crm.ingest_customers(synth.customers(), IngestOptions::default()).unwrap();
    assert_eq!(r.failed, 0);
    row(
        "load (bulk ingest, once)",
        format!("{:.1} s", t.elapsed().as_secs_f64()),
        format!("{} customers, {} of them duplicates", r.created, synth.duplicate_count()),
    );
    std::fs::write(&stamp, want).unwrap();
    crm
}

/// Every stored customer, by id.
fn all_customers(crm: &Crm) -> Vec<Customer> {
    let mut q = CustomerQuery { limit: 10_000, ..Default::default() };
    let mut out = Vec::new();
    loop {
        let page = crm.query_customers(&q).unwrap();
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
}

/// The true identity of a generated customer: its external id up to the `~`.
fn truth(c: &Customer) -> &str {
    let e = c.external_id.as_deref().expect("generated customers have external ids");
    e.split_once('~').map_or(e, |(original, _)| original)
}

/// Pairwise precision, recall and F1 of `groups` (sets of customers said to be one)
/// against the truth, counted without listing the pairs: a group of `n` holds `n(n-1)/2`
/// pairs, of which those within one true identity are right.
struct Scores {
    found: u64,
    truth: u64,
    right: u64,
}

impl Scores {
    fn of<'a>(groups: impl Iterator<Item = &'a [CustomerId]>, identity: &HashMap<CustomerId, &str>) -> Scores {
        let pairs = |n: u64| n * n.saturating_sub(1) / 2;
        let mut true_sizes: HashMap<&str, u64> = HashMap::new();
        for t in identity.values() {
            *true_sizes.entry(t).or_default() += 1;
        }
        let mut s = Scores { found: 0, truth: true_sizes.values().map(|&n| pairs(n)).sum(), right: 0 };
        for g in groups {
            s.found += pairs(g.len() as u64);
            let mut within: HashMap<&str, u64> = HashMap::new();
            for id in g {
                *within.entry(identity[id]).or_default() += 1;
            }
            s.right += within.values().map(|&n| pairs(n)).sum::<u64>();
        }
        s
    }
    fn precision(&self) -> f64 {
        self.right as f64 / self.found.max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.right as f64 / self.truth.max(1) as f64
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    fn describe(&self) -> String {
        format!(
            "precision {:.4}, recall {:.4} ({} of {} true pairs; {} pairs said)",
            self.precision(),
            self.recall(),
            self.right,
            self.truth,
            self.found
        )
    }
}

/// One CSV field: empty for none, else quoted.
fn field(w: &mut impl std::io::Write, v: Option<&str>, last: bool) {
    if let Some(v) = v.filter(|v| !v.is_empty()) {
        write!(w, "\"{}\"", v.replace('"', "\"\"")).unwrap();
    }
    w.write_all(if last { b"\n" } else { b"," }).unwrap();
}

/// The splink input: every customer's standardised keys and true identity.
fn write_csv(path: &Path, customers: &[Customer]) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(w, "unique_id,truth,first_name,surname,name_key,email,phone,dob,postcode,street,company").unwrap();
    for c in customers {
        let s = Standard::of(c);
        let dob = s.birthday().map(|d| d.to_string());
        let name: Vec<&str> = s.name_tokens().collect();
        write!(w, "{},", c.id.0).unwrap();
        field(&mut w, Some(truth(c)), false);
        field(&mut w, name.first().copied(), false);
        field(&mut w, name.last().copied().filter(|_| name.len() > 1), false);
        field(&mut w, Some(s.name_key()), false);
        field(&mut w, s.email_key(), false);
        field(&mut w, s.phone(), false);
        field(&mut w, dob.as_deref(), false);
        field(&mut w, s.postal(), false);
        field(&mut w, s.street(), false);
        field(&mut w, s.company(), true);
    }
}

/// `target/identity-venv` with splink and the versions it was measured with.
fn python() -> PathBuf {
    venv("identity-venv", "splink, duckdb", &["splink==5.0.0", "duckdb==1.5.6", "pandas==3.1.1"])
}

/// `match_customer` of 1,000 stored duplicates (as their systems would send them, without
/// the external id) with the model `find_duplicates` estimated: latency percentiles, and
/// how often the original is the top candidate other than the record itself. Beside it, a
/// lookup by external id (one index probe) in the same run, as the floor of any read call.
fn incremental(
    crm: &Crm,
    customers: &[Customer],
    identity: &HashMap<CustomerId, &str>,
    model: &crm_core::identity::MatchModel,
    row: &mut impl FnMut(&str, String, String),
) {
    use crm_core::identity::MatchOptions;
    use crm_core::NewCustomer;
    let t = Instant::now();
    crm.ensure_match_keys().unwrap();
    row("match keys (computed once if missing)", format!("{:.2} s", t.elapsed().as_secs_f64()), String::new());
    crm.set_match_model(model).unwrap();
    let dups: Vec<&Customer> =
        customers.iter().filter(|c| c.external_id.as_deref().is_some_and(|e| e.contains('~'))).take(1_000).collect();
    let options = MatchOptions::default();
    let (mut times, mut top) = (Vec::with_capacity(dups.len()), 0usize);
    for c in &dups {
        let record = NewCustomer {
            kind: Some(c.kind),
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            company: c.company.clone(),
            address: c.address.clone(),
            birthday: c.birthday,
            ..Default::default()
        };
        let t = Instant::now();
        let found = crm.match_customer(&record, &options).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        let best = found.iter().find(|m| m.customer != c.id);
        if best.is_some_and(|m| identity.get(&m.customer) == Some(&truth(c))) {
            top += 1;
        }
    }
    let pct = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q).round() as usize]
    };
    let (p50, p99) = (pct(&mut times, 0.5), pct(&mut times, 0.99));
    row(
        "ours: match_customer median",
        format!("{p50:.3} ms"),
        format!(
            "p99 {p99:.3} ms over {} stored duplicates; the original is the top other candidate for {top} ({:.1}%); target median < 5 ms ({})",
            dups.len(),
            100.0 * top as f64 / dups.len().max(1) as f64,
            if p50 < 5.0 { "met" } else { "NOT met" }
        ),
    );
    let mut probes = Vec::with_capacity(dups.len());
    for c in &dups {
        let ext = c.external_id.as_deref().unwrap();
        let t = Instant::now();
        crm.get_customer_by_external_id(ext).unwrap();
        probes.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let floor = pct(&mut probes, 0.5);
    row(
        "baseline: get_customer_by_external_id median",
        format!("{floor:.3} ms"),
        format!("one index probe, same run; match_customer / probe = {:.1}", p50 / floor),
    );
}

fn main() {
    let a = args();
    std::fs::create_dir_all(&a.dir).unwrap();
    let synth = Synth::new(SynthConfig {
        customers: a.customers,
        duplicates: a.duplicates,
        orders_per_customer: 0.0,
        interactions_per_customer: 0.0,
        ..Default::default()
    });
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut row = |what: &str, figure: String, note: String| {
        eprintln!("{what}: {figure} {note}");
        rows.push((what.to_owned(), figure, note));
    };

    let crm = database(&a, &synth, &mut row);

    // 1. Ours (before the benchmark reads the truth, so that the peak is the call's).
    let settings = MatchSettings { threshold: a.threshold, u_pairs: a.u_pairs, ..Default::default() };
    reset_peak_rss();
    let before = peak_rss_mib();
    let t = Instant::now();
    let report = crm.find_duplicates(&settings).unwrap();
    let ours = t.elapsed().as_secs_f64();
    let rss = peak_rss_mib();
    let customers = all_customers(&crm);
    let identity: HashMap<CustomerId, &str> = customers.iter().map(|c| (c.id, truth(c))).collect();
    eprintln!("model: prior {:.3e}, {:?}", report.model.prior, report.model.estimation);
    for f in &report.model.fields {
        let levels: Vec<String> =
            f.levels.iter().map(|l| format!("{} m {:.4} u {:.2e} w {:+.1}", l.level, l.m, l.u, l.weight())).collect();
        eprintln!("  {:?}: {}", f.field, levels.join("; "));
    }
    let by_cluster = Scores::of(report.clusters.iter().map(Vec::as_slice), &identity);
    let pair_groups: Vec<[CustomerId; 2]> = report.pairs.iter().map(|p| [p.a, p.b]).collect();
    let by_pair = Scores::of(pair_groups.iter().map(|g| g.as_slice()), &identity);
    row(
        "ours: find_duplicates",
        format!("{ours:.2} s"),
        format!(
            "{} customers, {} candidate pairs, {} pairs >= {}, {} clusters; peak RSS {rss:.0} MiB ({before:.0} MiB before the call)",
            report.stats.customers,
            report.stats.candidate_pairs,
            report.pairs.len(),
            a.threshold,
            report.clusters.len()
        ),
    );
    row("ours: F1 of clusters", format!("{:.4}", by_cluster.f1()), by_cluster.describe());
    row("ours: F1 of pairs", format!("{:.4}", by_pair.f1()), by_pair.describe());
    if report.stats.skipped_blocks > 0 {
        row(
            "ours: blocks skipped",
            report.stats.skipped_blocks.to_string(),
            format!("largest {} (max_block_size {})", report.stats.largest_skipped_block, settings.max_block_size),
        );
    }

    // 2. Incremental: one record against the store, through the stored keys.
    incremental(&crm, &customers, &identity, &report.model, &mut row);

    // 3. splink.
    if a.python {
        let csv = std::fs::canonicalize(&a.dir).unwrap().join("identity_splink.csv");
        write_csv(&csv, &customers);
        let py = python();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/identity_splink.py");
        let t = Instant::now();
        // In the scratch directory: DuckDB spills its temporary files into the working one.
        let out = Command::new(py)
            .current_dir(&a.dir)
            .arg(&script)
            .arg(&csv)
            .arg(a.threshold.to_string())
            .arg(a.u_pairs.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "splink failed: {}", String::from_utf8_lossy(&out.stderr));
        let wall = t.elapsed().as_secs_f64();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let f = |k: &str| v[k].as_f64().unwrap();
        let theirs = f("train_s") + f("predict_cluster_s");
        row(
            "splink: train + predict + cluster",
            format!("{theirs:.2} s"),
            format!(
                "train {:.2} s, predict and cluster {:.2} s ({wall:.1} s with process start and CSV load); {} pairs >= {}",
                f("train_s"),
                f("predict_cluster_s"),
                v["pairs_above_threshold"],
                a.threshold
            ),
        );
        row(
            "splink: F1 of clusters",
            format!("{:.4}", f("f1")),
            format!(
                "precision {:.4}, recall {:.4} ({} of {} true pairs; {} pairs said)",
                f("precision"),
                f("recall"),
                v["true_positives"],
                v["true_pairs"],
                v["cluster_pairs"]
            ),
        );
        row(
            "ratio: time ours / splink",
            format!("{:.3}", ours / theirs),
            format!("target <= 0.25 ({})", if ours / theirs <= 0.25 { "met" } else { "NOT met" }),
        );
        let d = by_cluster.f1() - f("f1");
        row(
            "difference: F1 ours - splink",
            format!("{d:+.4}"),
            format!("target >= 0 ({})", if d >= 0.0 { "met" } else { "NOT met" }),
        );
    }

    println!();
    println!("identity resolution, {} generated customers + {} duplicates", a.customers, synth.duplicate_count());
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    for (what, figure, note) in &rows {
        println!("{what:<w0$}  {figure:>w1$}  {note}");
    }
}
