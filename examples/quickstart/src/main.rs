//! The quickstart: builds `crm.db` from a generated data set through the bulk path, with a
//! loyalty program that earns as the orders go in, and prints the one-screen picture a CRM
//! user asks for: RFM segment sizes, the customers at risk of churning, the top customers by
//! predicted 12-month value, the loyalty liability and the customers entered twice (the
//! generator adds 2% copies, as a second system would have recorded them; their external
//! id is the original's with `~1`). Each section is headed by the call
//! that produced it, so that a reader can reproduce it. Running it again ingests the same
//! data and changes nothing.
//!
//! `cargo run --release -p quickstart -- [--customers N] [--db PATH] [--seed N]`

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::time::Instant;

use crm_core::analytics::{ChurnOptions, SummaryOptions, ValueOptions};
use crm_core::identity::{MatchField, MatchPair, MatchSettings};
use crm_core::ingest::{IngestOptions, Progress};
use crm_core::loyalty::Program;
use crm_core::segment::rfm::RfmConfig;
use crm_core::synth::{Synth, SynthConfig};
use crm_core::{Crm, Currency, CustomerId};

/// Rows shown in each list.
const TOP: usize = 5;

/// The share of generated customers that another system recorded again.
const DUPLICATES: f64 = 0.02;

/// Look-ahead of the loyalty liability's "expiring soon", in days.
const EXPIRING_WITHIN_DAYS: u32 = 90;

/// The quickstart's loyalty program: about one point per US dollar in every currency the
/// generator sells in, points expiring a year after the order.
const PROGRAM: &str = r#"
name = "Stars"
expiry_days = 365
rules = [{ name = "base", kind = "base" }]
[rates]
USD = { points = 1, per_minor = 100 }
EUR = { points = 1, per_minor = 100 }
GBP = { points = 1, per_minor = 100 }
SGD = { points = 1, per_minor = 135 }
AUD = { points = 1, per_minor = 150 }
CNY = { points = 1, per_minor = 720 }
JPY = { points = 1, per_minor = 150 }
INR = { points = 1, per_minor = 8300 }
BRL = { points = 1, per_minor = 500 }
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut customers = 10_000u64;
    let mut db = String::from("crm.db");
    let mut seed = 42u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--customers" => customers = value()?.parse()?,
            "--db" => db = value()?,
            "--seed" => seed = value()?.parse()?,
            "-h" | "--help" => {
                println!("usage: quickstart [--customers N (10000)] [--db PATH (crm.db)] [--seed N (42)]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}; try --help").into()),
        }
    }

    let crm = Crm::open(&db)?;
    let synth = Synth::new(SynthConfig { seed, customers, duplicates: DUPLICATES, ..Default::default() });
    let end = synth.config().end;
    println!("crm quickstart: {db}, {customers} generated customers (seed {seed}), data up to {}", day(end));

    // The program is in place before the orders go in, so that each order earns in the
    // transaction that writes it (and only once, however often the quickstart runs).
    crm.set_loyalty_program(&Program::from_toml(PROGRAM)?)?;
    let started = Instant::now();
    for (what, report) in [
        ("customers", crm.ingest_customers(synth.customers(), options(&mut bar("customers")))?),
        ("orders", crm.ingest_orders(synth.orders(), options(&mut bar("orders")))?),
        ("interactions", crm.ingest_interactions(synth.interactions(), options(&mut bar("interactions")))?),
    ] {
        if std::io::stderr().is_terminal() {
            eprint!("\r{:60}\r", "");
        }
        println!(
            "{what:>12}: {:>9} rows  {:>9} created  {:>7} updated  {:>9} unchanged  {:>5} failed",
            report.rows, report.created, report.updated, report.unchanged, report.failed
        );
        for e in report.errors.iter().take(3) {
            println!("{:>14} row {}: {} {}", "", e.row, e.field.as_deref().unwrap_or(""), e.reason);
        }
    }
    let counts = crm.counts()?;
    println!(
        "ingest took {:.2} s; in the database: {} customers, {} orders, {} interactions",
        started.elapsed().as_secs_f64(),
        counts.customers,
        counts.orders,
        counts.interactions
    );

    let usd: Currency = "USD".parse()?;
    let summary = SummaryOptions::new(usd, end);
    println!("analytics: completed USD orders, summary = SummaryOptions::new(USD, {})", day(end));

    let mut rfm = RfmConfig::new(usd);
    rfm.as_of = Some(end);
    let table = crm.compute_rfm(&rfm)?;
    println!("\n── RFM segments ── crm.compute_rfm(RfmConfig {{ currency: USD, as_of: {} }})", day(end));
    println!("   {} customers with completed USD orders:", thousands(table.model.population as i64));
    let sizes = table.segment_sizes();
    let half = sizes.len().div_ceil(2);
    for i in 0..half {
        let cell = |j: usize| sizes.get(j).map_or(String::new(), |(name, n)| format!("{name:<22}{n:>6}"));
        println!("   {}      {}", cell(i), cell(i + half));
    }

    let churn = ChurnOptions::new(summary);
    let at_risk = crm.customers_at_risk(&churn)?;
    println!("\n── Churn risk ── crm.customers_at_risk(ChurnOptions::new(summary))");
    println!(
        "   {} customers at risk (risk >= {:.2}); the riskiest:",
        thousands(at_risk.len() as i64),
        churn.threshold
    );
    println!(
        "   {:<26} {:>5} {:>8} {:>7}  {:<10} {:>13}",
        "customer", "risk", "p_alive", "orders", "last order", "spent"
    );
    for r in at_risk.iter().take(TOP) {
        let (name, orders, last, spent) = profile(&crm, r.customer_id, usd)?;
        println!("   {name:<26} {:>5.2} {:>8.2} {orders:>7}  {last:<10} {spent:>13}", r.risk, r.p_alive);
    }

    let mut values = crm.customer_values(&ValueOptions::new(summary))?.rows;
    values.sort_by(|a, b| b.clv_minor.cmp(&a.clv_minor).then(a.customer_id.cmp(&b.customer_id)));
    println!("\n── Predicted value ── crm.customer_values(ValueOptions::new(summary)): BG/NBD + Gamma-Gamma");
    println!("   top customers by predicted 12-month value (USD):");
    println!(
        "   {:<26} {:>14} {:>8} {:>7}  {:<10} {:>13}",
        "customer", "12-month value", "p_alive", "orders", "last order", "spent"
    );
    for v in values.iter().take(TOP) {
        let (name, orders, last, spent) = profile(&crm, v.customer_id, usd)?;
        let value = crm_core::Money::new(v.clv_minor, usd).to_string();
        println!("   {name:<26} {value:>14} {:>8.2} {orders:>7}  {last:<10} {spent:>13}", v.p_alive);
    }

    // The nightly expiry run: lots past their year are taken out of the balances first.
    let expired = crm.expire_points(chrono::Utc::now())?;
    let owed = crm.loyalty_liability(EXPIRING_WITHIN_DAYS)?;
    println!("\n── Loyalty liability ── crm.loyalty_liability({EXPIRING_WITHIN_DAYS}) after crm.expire_points(now)");
    println!("   program \"Stars\": about 1 point per USD spent, points expire after 365 days");
    println!(
        "   {} members hold {} points; {} expire by {} ({} expired on this run)",
        thousands(owed.holders),
        thousands(owed.outstanding),
        thousands(owed.expiring),
        day(owed.expiring_by),
        thousands(expired.points)
    );

    let started = Instant::now();
    let found = crm.find_duplicates(&MatchSettings::default())?;
    let seconds = started.elapsed().as_secs_f64();
    println!("\n── Duplicates ── crm.find_duplicates(&MatchSettings::default())");
    let copies = found
        .clusters
        .iter()
        .filter(|c| {
            let truth: Vec<String> = c.iter().filter_map(|&id| origin(&crm, id)).collect();
            truth.len() == c.len() && truth.windows(2).all(|w| w[0] == w[1])
        })
        .count();
    println!(
        "   {} pairs at probability >= 0.95 in {} clusters ({seconds:.2} s); {} of the {} generated copies found",
        found.pairs.len(),
        found.clusters.len(),
        copies,
        synth.duplicate_count()
    );
    // A few whose names differ, with the evidence that joined them.
    let name_level = |p: &MatchPair| p.evidence.iter().find(|e| e.field == MatchField::Name).and_then(|e| e.level);
    for p in found.pairs.iter().filter(|p| name_level(p) != Some("exact")).take(3) {
        let (a, b) = (crm.get_customer(p.a)?, crm.get_customer(p.b)?);
        let evidence: Vec<String> =
            p.evidence.iter().filter_map(|e| e.level.map(|l| format!("{} {l}", e.field.as_str()))).collect();
        println!("   {:?} = {:?}: {}", a.name, b.name, evidence.join(", "));
    }
    Ok(())
}

/// The generated customer a record stands for: its external id up to the `~`.
fn origin(crm: &Crm, id: CustomerId) -> Option<String> {
    let e = crm.get_customer(id).ok()?.external_id?;
    Some(e.split('~').next().unwrap_or(&e).to_owned())
}

/// A customer's name, completed orders, last order day and completed spend in `currency`.
fn profile(crm: &Crm, id: CustomerId, currency: Currency) -> crm_core::Result<(String, i64, String, String)> {
    let c = crm.get_customer(id)?;
    let s = crm.customer_stats(id)?;
    let spent = s.total_spent.iter().find(|m| m.currency == currency).map_or("-".into(), ToString::to_string);
    let mut name = c.name;
    if name.chars().count() > 26 {
        name = name.chars().take(25).chain(['…']).collect();
    }
    Ok((name, s.order_count, s.last_order_at.map_or("-".into(), day), spent))
}

/// `1234567` as `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut groups: Vec<&str> = digits.as_bytes().rchunks(3).map(|g| std::str::from_utf8(g).unwrap_or("")).collect();
    groups.reverse();
    format!("{}{}", if n < 0 { "-" } else { "" }, groups.join(","))
}

fn day(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn options(progress: &mut dyn FnMut(Progress) -> ControlFlow<()>) -> IngestOptions<'_> {
    IngestOptions { progress: Some(progress), ..Default::default() }
}

/// A one-line progress display on stderr, when stderr is a terminal.
fn bar(what: &'static str) -> impl FnMut(Progress) -> ControlFlow<()> {
    let tty = std::io::stderr().is_terminal();
    move |p: Progress| {
        match p.rows_total {
            _ if !tty => {}
            Some(total) if total > 0 => {
                eprint!("\r  {what}: {}/{} ({:.0}%)   ", p.rows_done, total, 100.0 * p.rows_done as f64 / total as f64)
            }
            _ => eprint!("\r  {what}: {} rows   ", p.rows_done),
        }
        ControlFlow::Continue(())
    }
}
