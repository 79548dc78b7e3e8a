//! Loyalty simulator benchmark (prints a table; never part of the test suite).
//!
//! On the ingest benchmark's database (`target/bench-data/ours-file.db`, 1,000,000 customers
//! and about 10,000,000 orders) when it exists, else on `target/bench-data/loyalty-sim-<N>.db`,
//! generated once by the synthetic generator through bulk ingest and reused (`--customers N`,
//! default 100,000, about 1,000,000 orders); `--db PATH` names another file. The file is
//! only read. Three candidate programs, one run each, timed with peak memory:
//!
//! 1. base rate and first-order bonus, no redemption: the orders alone, no line items;
//! 2. a category multiplier with caps, tier multipliers, expiry, pending points, and 15 %
//!    redeemed at each month end: orders with their line items;
//! 3. (2) plus a condition on the customer and its recent orders: records loaded per customer.
//!
//! `cargo bench -p crm-core --bench loyalty_sim -- [--customers N] [--db PATH] [--only 1|2|3]`

use std::path::PathBuf;
use std::time::Instant;

use crm_core::ingest::IngestOptions;
use crm_core::loyalty::{Program, Redemption, Simulation, SimulationOptions};
use crm_core::synth::{Synth, SynthConfig};
use crm_core::Crm;

mod common;
use common::{config, peak_rss_mib, reset_peak_rss};

fn database(customers: u64, db: Option<PathBuf>) -> Crm {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
    let shared = dir.join("ours-file.db");
    let path =
        db.unwrap_or_else(|| if shared.exists() { shared } else { dir.join(format!("loyalty-sim-{customers}.db")) });
    if path.exists() {
        eprintln!("reusing {}", path.display());
        return Crm::open_with(&path, config()).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    let crm = Crm::open_with(&path, config()).unwrap();
    let t = Instant::now();
    let synth = Synth::new(SynthConfig { customers, ..Default::default() });
    crm.ingest_customers(synth.customers(), IngestOptions::default()).unwrap();
    let r = crm.ingest_orders(synth.orders(), IngestOptions::default()).unwrap();
    assert_eq!(r.failed, 0);
    eprintln!("loaded {} orders into {} in {:.1} s", r.created, path.display(), t.elapsed().as_secs_f64());
    crm
}

/// Rates of one point per 100 minor units in every currency of the synthetic data.
fn rates() -> String {
    let rates: Vec<String> = ["USD", "EUR", "GBP", "SGD", "CNY", "JPY", "AUD", "INR", "BRL"]
        .iter()
        .map(|c| format!(r#""{c}": {{"points": 1, "per_minor": 100}}"#))
        .collect();
    rates.join(", ")
}

fn programs() -> Vec<(&'static str, Program, Redemption)> {
    let simple = format!(
        r#"{{"name": "Simple", "rates": {{{}}}, "rules": [{{"name": "base", "kind": "base"}},
            {{"name": "welcome", "kind": "bonus", "event": "first_order", "points": 50}}]}}"#,
        rates()
    );
    let rules = r#"{"name": "base", "kind": "base"},
        {"name": "shoes", "kind": "multiplier", "by": "category", "value": "shoes", "multiplier": 2.0,
         "caps": {"per_order": 200, "per_month": 500}},
        {"name": "silver", "kind": "multiplier", "by": "tier", "value": "silver", "multiplier": 1.25},
        {"name": "gold", "kind": "multiplier", "by": "tier", "value": "gold", "multiplier": 1.5},
        {"name": "welcome", "kind": "bonus", "event": "first_order", "points": 50}"#;
    let tail = r#""tiers": {"basis": {"by": "orders"}, "levels": [{"name": "silver", "min": 4}, {"name": "gold", "min": 10}]},
        "expiry_days": 365, "pending_days": 30"#;
    let rich = format!(r#"{{"name": "Rich", "rates": {{{}}}, "rules": [{rules}], {tail}}}"#, rates());
    let condition = r#", {"name": "regulars", "kind": "multiplier", "by": "category", "value": "books", "multiplier": 3.0,
        "when": "country in [\"US\", \"GB\"] and count(orders within 90 days) >= 2"}"#;
    let conditional =
        format!(r#"{{"name": "Conditional", "rates": {{{}}}, "rules": [{rules}{condition}], {tail}}}"#, rates());
    let rate = Redemption::Rate { permille: 150 };
    vec![
        ("1. base + first order, no redemption", Program::from_json(&simple).unwrap(), Redemption::None),
        ("2. + category caps, tiers, expiry, pending, 15 % redeemed monthly", Program::from_json(&rich).unwrap(), rate),
        ("3. + a condition on the customer and its orders", Program::from_json(&conditional).unwrap(), rate),
    ]
}

fn main() {
    let mut customers = 100_000;
    let mut db = None;
    let mut only: Option<usize> = None;
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--customers" => customers = v().parse().expect("--customers N"),
            "--db" => db = Some(PathBuf::from(v())),
            "--only" => only = Some(v().parse().expect("--only 1, 2 or 3")),
            "--bench" => {}
            other => panic!("unknown argument {other}; use --customers, --db, --only"),
        }
    }
    let crm = database(customers, db);
    let counts = crm.counts().unwrap();
    println!("\n{} customers, {} orders\n", counts.customers, counts.orders);
    println!("| program | time | orders/s | peak RSS | issued | redeemed | expired | outstanding | months |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (i, (name, p, redemption)) in programs().into_iter().enumerate() {
        if only.is_some_and(|n| n != i + 1) {
            continue;
        }
        let opts = SimulationOptions { redemption, ..Default::default() };
        reset_peak_rss();
        let t = Instant::now();
        let s: Simulation = crm.simulate_loyalty(Some(&p), &opts).unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "| {name} | {secs:.2} s | {:.2} M | {:.0} MiB | {} | {} | {} | {} | {} |",
            counts.orders as f64 / secs / 1e6,
            peak_rss_mib(),
            s.totals.issued,
            s.totals.redeemed,
            s.totals.expired,
            s.totals.outstanding,
            s.months.len()
        );
    }
}
