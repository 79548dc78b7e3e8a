//! The quickstart: builds `crm.db` from a generated data set through the bulk path and
//! prints a short report. Running it again ingests the same data and changes nothing.
//!
//! `cargo run --release -p quickstart -- [--customers N] [--db PATH] [--seed N]`

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::time::Instant;

use crm_core::ingest::{IngestOptions, Progress};
use crm_core::synth::{Synth, SynthConfig};
use crm_core::{Crm, Currency, TimelineEntry};

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
    let synth = Synth::new(SynthConfig { seed, customers, ..Default::default() });
    println!("crm quickstart: {db}, {customers} generated customers (seed {seed})\n");

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
    println!("ingest took {:.2} s\n", started.elapsed().as_secs_f64());

    let counts = crm.counts()?;
    println!(
        "in the database: {} customers, {} orders, {} interactions\n",
        counts.customers, counts.orders, counts.interactions
    );

    let usd: Currency = "USD".parse()?;
    let top = crm.top_customers_by_spend(usd, 5)?;
    println!("top customers by spend ({usd}, completed orders):");
    for (c, spent) in &top {
        let stats = crm.customer_stats(c.id)?;
        println!(
            "  {:<28} {:>16}  {:>4} orders  last {}",
            c.name,
            spent.to_string(),
            stats.order_count,
            stats.last_order_at.map_or("-".into(), |t| t.format("%Y-%m-%d").to_string())
        );
    }

    if let Some((c, _)) = top.first() {
        println!("\ntimeline of {} ({}), newest first:", c.name, c.email.as_deref().unwrap_or("no email"));
        for e in crm.timeline(c.id, 8, None)?.items {
            match e {
                TimelineEntry::Order(o) => println!(
                    "  {}  order {:<12} {:>14}  {:<9} {} item(s)",
                    o.occurred_at.format("%Y-%m-%d %H:%M"),
                    o.external_id,
                    o.total.to_string(),
                    o.status.as_str(),
                    o.items.len()
                ),
                TimelineEntry::Interaction(i) => println!(
                    "  {}  {:<18} {}",
                    i.occurred_at.format("%Y-%m-%d %H:%M"),
                    format!("{:?}", i.kind).to_lowercase(),
                    i.subject.as_deref().unwrap_or("")
                ),
            }
        }
    }
    let last = crm.changes_since(0, 1)?;
    println!("\nchange feed starts at seq {}", last.first().map_or(0, |c| c.seq));
    Ok(())
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
