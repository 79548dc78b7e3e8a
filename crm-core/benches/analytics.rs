//! Analytics benchmark (prints a table; never part of the test suite).
//!
//! On a SQLite file loaded once from the synthetic generator through the bulk-ingest path
//! (cached in `target/bench-data/analytics.db` and reused while it holds the same data):
//! 1. purchase summaries in every currency: as of the end from the maintained period states,
//!    as of 180 days earlier and with a calibration split from the orders (peak RSS measured);
//! 2. BG/NBD on the summaries of every customer plus Gamma-Gamma per currency on the repeat
//!    buyers (the synthetic customers each buy in their country's currency; money is never
//!    mixed across currencies);
//! 3. the same fits with the Python package `lifetimes` 0.11.3 on the same summary, written to
//!    CSV and run by `benches/analytics_lifetimes.py` in a virtualenv under `target/`, and the
//!    summary of step 1 computed by DuckDB from the same orders (`benches/summary_duckdb.py`);
//!
//! 4. BG/NBD on 2,000,000 poorly identified customers (nearly every history one purchase),
//!    generated without a store: the time to converge or to report that it did not.
//!
//! `cargo bench -p crm-core --bench analytics -- --customers 1000000` (`make bench-analytics`);
//! `--no-python` skips the baseline; `--poorly-identified N` sizes step 4 (0 skips it).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crm_core::analytics::{histories, BgNbd, FitOptions, GammaGamma, Rfm, Spend, Summary, SummaryOptions};
use crm_core::ingest::IngestOptions;
use crm_core::synth::{Synth, SynthConfig};
use crm_core::Crm;

mod common;
use common::{config, export_orders_csv, peak_rss_mib, reset_peak_rss, venv};

struct Args {
    customers: u64,
    orders_per_customer: f64,
    dir: PathBuf,
    python: bool,
    /// Customers in the poorly identified BG/NBD fit (0 skips it).
    poorly_identified: u64,
}

fn args() -> Args {
    let mut a = Args {
        customers: 1_000_000,
        orders_per_customer: 10.0,
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data"),
        python: true,
        poorly_identified: 2_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--customers" => a.customers = v().parse().expect("--customers N"),
            "--orders-per-customer" => a.orders_per_customer = v().parse().expect("--orders-per-customer X"),
            "--dir" => a.dir = PathBuf::from(v()),
            "--no-python" => a.python = false,
            "--poorly-identified" => a.poorly_identified = v().parse().expect("--poorly-identified N"),
            "--bench" => {}
            other => panic!("unknown argument {other}; use --customers, --orders-per-customer, --dir, --no-python"),
        }
    }
    a
}

/// The database for `synth`, loaded through bulk ingest unless an earlier run left the same one.
fn database(a: &Args, synth: &Synth, row: &mut impl FnMut(&str, String, String)) -> Crm {
    let path = a.dir.join("analytics.db");
    let stamp = a.dir.join("analytics.db.config.json");
    let want = serde_json::to_string(synth.config()).unwrap();
    if path.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        let crm = Crm::open_with(&path, config()).unwrap();
        let c = crm.counts().unwrap();
        row(
            "reused database",
            format!("{} customers", c.customers),
            format!("{} orders, {}", c.orders, path.display()),
        );
        return crm;
    }
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    let _ = std::fs::remove_file(&stamp);
    let crm = Crm::open_with(&path, config()).unwrap();
    let t = Instant::now();
    crm.ingest_customers(synth.customers(), IngestOptions::default()).unwrap();
    let r = crm.ingest_orders(synth.orders(), IngestOptions::default()).unwrap();
    assert_eq!(r.failed, 0);
    row("load (bulk ingest, once)", format!("{:.1} s", t.elapsed().as_secs_f64()), format!("{} orders", r.created));
    std::fs::write(&stamp, want).unwrap();
    crm
}

fn write_csv(path: &Path, summaries: &[Summary]) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(w, "customer_id,currency,frequency,recency,T,monetary_value").unwrap();
    for s in summaries {
        for r in &s.rows {
            writeln!(w, "{},{},{},{},{},{}", r.customer_id, s.currency, r.frequency, r.recency, r.t, r.monetary_value)
                .unwrap();
        }
    }
}

/// `target/analytics-venv` with lifetimes and the versions it was checked against:
/// lifetimes 0.11.3 (2020) runs on these current releases; pinned to what was measured.
fn python() -> PathBuf {
    venv("analytics-venv", "lifetimes", &["lifetimes==0.11.3", "numpy==2.4.6", "scipy==1.17.1", "pandas==3.1.1"])
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

    let crm = database(&a, &synth, &mut row);
    let orders = crm.counts().unwrap().orders;
    let end = synth.config().end - chrono::Duration::seconds(1);
    let usd = "USD".parse().unwrap();
    let opts = SummaryOptions::new(usd, end);

    // 1. Summaries: as of the end from the maintained period states (one row per customer);
    //    as of an earlier date and with a calibration split from the orders.
    reset_peak_rss();
    let t = Instant::now();
    let summaries = crm.purchase_summaries(&opts).unwrap();
    let d_sum = t.elapsed();
    let rss = peak_rss_mib();
    let customers: usize = summaries.iter().map(|s| s.rows.len()).sum();
    row(
        "summary, all currencies, as of the end",
        format!("{:.3} s", d_sum.as_secs_f64()),
        format!(
            "{customers} customers of {orders} orders, {} currencies, from the maintained state (target <= 0.5 s); \
             peak RSS {rss:.0} MiB",
            summaries.len()
        ),
    );
    let t = Instant::now();
    let one = crm.purchase_summary(&opts).unwrap();
    row(
        "summary, USD only, as of the end",
        format!("{:.3} s", t.elapsed().as_secs_f64()),
        format!("{} customers, from the maintained state", one.rows.len()),
    );
    let earlier = SummaryOptions::new(usd, end - chrono::Duration::days(180));
    let t = Instant::now();
    let past = crm.purchase_summaries(&earlier).unwrap();
    let d_past = t.elapsed();
    row(
        "summary, all currencies, as of 180 days earlier",
        format!("{:.2} s", d_past.as_secs_f64()),
        format!(
            "{} customers; every order read: {:.1} M orders/s (target >= 3)",
            past.iter().map(|s| s.rows.len()).sum::<usize>(),
            orders as f64 / d_past.as_secs_f64() / 1e6
        ),
    );
    let split = SummaryOptions { calibration_end: Some(end - chrono::Duration::days(180)), ..opts };
    let t = Instant::now();
    let cal = crm.purchase_summaries(&split).unwrap();
    let d_cal = t.elapsed();
    row(
        "summary, all currencies, calibration and holdout",
        format!("{:.2} s", d_cal.as_secs_f64()),
        format!(
            "{} customers, holdout of 180 days; every order read: {:.1} M orders/s (target >= 3)",
            cal.iter().map(|s| s.rows.len()).sum::<usize>(),
            orders as f64 / d_cal.as_secs_f64() / 1e6
        ),
    );
    drop((past, cal));
    if a.python {
        duckdb_summary(&a.dir, &summaries, end, d_sum, &mut row);
    }

    // 2. Fits.
    let all: Vec<_> = summaries.iter().flat_map(histories).collect();
    let fit = FitOptions::default();
    let t = Instant::now();
    let bg = BgNbd::fit(&all, None, &fit).unwrap();
    let d_bg = t.elapsed();
    let t = Instant::now();
    let mut gg = Vec::new();
    for s in &summaries {
        let spend: Vec<Spend> = s
            .rows
            .iter()
            .filter(|r| r.frequency > 0)
            .map(|r| Spend { frequency: r.frequency, monetary_value: r.monetary_value })
            .collect();
        if spend.len() > 1 {
            gg.push((s.currency, GammaGamma::fit(&spend, None, &fit).unwrap()));
        }
    }
    let d_gg = t.elapsed();
    let ours = (d_bg + d_gg).as_secs_f64();
    let p = bg.params;
    row(
        "ours: BG/NBD fit",
        format!("{:.2} s", d_bg.as_secs_f64()),
        format!(
            "{} customers, {} iterations; r {:.4} alpha {:.3} a {:.4} b {:.4}",
            all.len(),
            bg.iterations,
            p.r,
            p.alpha,
            p.a,
            p.b
        ),
    );
    row(
        "ours: Gamma-Gamma fits",
        format!("{:.2} s", d_gg.as_secs_f64()),
        format!("{} currencies, {} repeat buyers", gg.len(), gg.iter().map(|g| g.1.customers).sum::<f64>()),
    );
    row("ours: both fits", format!("{ours:.2} s"), "target < 2 s".into());
    poorly_identified(a.poorly_identified, &mut row);

    // 3. lifetimes on the same summary.
    if a.python {
        let csv = a.dir.join("analytics-summary.csv");
        write_csv(&csv, &summaries);
        let py = python();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/analytics_lifetimes.py");
        let out = Command::new(py).arg(script).arg(&csv).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (lt_bg, lt_gg) = (v["bgnbd_s"].as_f64().unwrap(), v["gamma_gamma_s"].as_f64().unwrap());
        let lp = &v["bgnbd"];
        let rel = |ours: f64, key: &str| (ours / lp[key].as_f64().unwrap() - 1.0).abs();
        let worst = rel(p.r, "r").max(rel(p.alpha, "alpha")).max(rel(p.a, "a")).max(rel(p.b, "b"));
        row(
            "lifetimes: BG/NBD fit",
            format!("{lt_bg:.2} s"),
            format!("{:.0}x ours; estimates within {:.2e} (relative) of ours", lt_bg / d_bg.as_secs_f64(), worst),
        );
        row("lifetimes: Gamma-Gamma fits", format!("{lt_gg:.2} s"), format!("{:.0}x ours", lt_gg / d_gg.as_secs_f64()));
        row(
            "lifetimes: both fits",
            format!("{:.2} s", lt_bg + lt_gg),
            format!("ratio lifetimes / ours: {:.0}x", (lt_bg + lt_gg) / ours),
        );
    }

    println!("\n| measurement | figure | note |\n|---|---|---|");
    for (w, f, n) in &rows {
        println!("| {w} | {f} | {n} |");
    }
    println!(
        "\n{} customers, {orders} orders (completed orders count); SQLite WAL, 256 MiB cache; data in {}",
        a.customers,
        a.dir.display()
    );
}

/// BG/NBD on `n` poorly identified customers: every purchase of a returning buyer landed on
/// a new id but for one in twenty, so nearly every history is one purchase (frequency 0),
/// the data barely identify the model and a fit must stop at the iteration cap or report
/// that it did not converge, in seconds, not minutes. The histories come from a seeded
/// generator without a store; the table shows the time, the likelihood evaluations the
/// progress callback counted, and the outcome.
fn poorly_identified(n: u64, row: &mut impl FnMut(&str, String, String)) {
    if n == 0 {
        return;
    }
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let data: Vec<Rfm> = (0..n)
        .map(|_| {
            let t = 1.0 + (next() % 1_000) as f64;
            if next() % 20 == 0 {
                let frequency = 1 + (next() % 3) as u32;
                Rfm::new(frequency, (1 + next() % t as u64) as f64, t)
            } else {
                Rfm::new(0, 0.0, t)
            }
        })
        .collect();
    let mut evaluations = 0u64;
    let t = Instant::now();
    let fitted = BgNbd::fit_with_progress(&data, None, &FitOptions::default(), &mut |p| {
        evaluations = evaluations.max(p.done);
        std::ops::ControlFlow::Continue(())
    });
    let d = t.elapsed();
    let outcome = match fitted {
        Ok(f) => format!(
            "converged in {} iterations: r {:.4} alpha {:.3} a {:.4} b {:.4}",
            f.iterations, f.params.r, f.params.alpha, f.params.a, f.params.b
        ),
        Err(e) => format!("reported: {e}"),
    };
    row(
        "ours: BG/NBD fit, poorly identified customers",
        format!("{:.2} s", d.as_secs_f64()),
        format!("{n} customers, 95% with one purchase; {evaluations} likelihood evaluations; {outcome}"),
    );
}

/// DuckDB's summary of the same orders (exported to CSV, loaded once, then queried three
/// times, the result fetched as Arrow), checked against ours per currency.
fn duckdb_summary(
    dir: &Path,
    ours: &[Summary],
    end: chrono::DateTime<chrono::Utc>,
    d_ours: std::time::Duration,
    row: &mut impl FnMut(&str, String, String),
) {
    let csv = dir.join("analytics-orders.csv");
    export_orders_csv(&dir.join("analytics.db"), &csv);
    let py = venv("bench-venv", "duckdb, pandas, pyarrow", &["duckdb", "pandas", "pyarrow"]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/summary_duckdb.py");
    let out = Command::new(py)
        .arg(script)
        .arg("--csv")
        .arg(&csv)
        .args(["--end-micros", &end.timestamp_micros().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for s in ours {
        let want = &v["checksums"][s.currency.code()];
        let sum = |f: &dyn Fn(&crm_core::analytics::CustomerSummary) -> i64| s.rows.iter().map(f).sum::<i64>();
        let got = serde_json::json!({
            "rows": s.rows.len(),
            "frequency": sum(&|r| i64::from(r.frequency)),
            "recency": sum(&|r| r.recency as i64),
            "t": sum(&|r| r.t as i64),
            "repeat_spend": sum(&|r| r.repeat_spend_minor),
        });
        assert_eq!(&got, want, "DuckDB's summary in {} differs from ours", s.currency);
    }
    let mut times: Vec<f64> = v["compute_s"].as_array().unwrap().iter().map(|t| t.as_f64().unwrap()).collect();
    times.sort_by(f64::total_cmp);
    let duck = times[times.len() / 2];
    row(
        "DuckDB: summary, all currencies, as of the end",
        format!("{duck:.3} s"),
        format!(
            "DuckDB {}, median of 3, result as Arrow; load {:.1} s not counted; ours {:.1}x faster (target >= 3x); \
             same rows and sums",
            v["version"].as_str().unwrap_or("?"),
            v["load_s"].as_f64().unwrap_or(0.0),
            duck / d_ours.as_secs_f64()
        ),
    );
}
