//! PostgreSQL benchmark (prints a markdown table; never part of the test suite). Needs the
//! `postgres` feature and a server: `--url URL` or `CRM_BENCH_PG` (`make bench-postgres`
//! makes a fresh database with `tests/pg/scratch.sh` when neither is given).
//!
//! Same generator data, same run, two fresh schemas of that database (`--schema-prefix`,
//! followed by the process id and the time, so reruns do not collide; both dropped at the
//! end unless `--keep`):
//!
//! 1. bulk ingest: `Crm::ingest_customers` and `Crm::ingest_orders` into one schema, against
//!    the same rows written with binary `COPY` (`BinaryCopyInWriter`) into the same tables
//!    (customers, orders, order_items) of the other, made by opening a `PostgresStore` on it
//!    (rows generated before timing, in chunks, for both sides, as `benches/ingest.rs` does);
//!    peak RSS of the client;
//! 3. RFM (`Crm::compute_rfm`, the currency with most customers) and a five-condition
//!    segment count (`Crm::count_matching`) on PostgreSQL beside the same on a SQLite file
//!    loaded with the same data in this run (results checked equal);
//! 2. single-order writes (after 3, which needs both stores to hold the same data): 4
//!    threads, each with its own `Crm`, one `record_order` (one transaction) per order to
//!    existing customers, against 4 threads each with its own `postgres::Client` running a
//!    pgbench-style script per order (BEGIN; INSERT the order; INSERT its lines; UPDATE
//!    customer_stats; COMMIT) into the same schema, in alternating rounds.
//!
//! `cargo bench -p crm-core --features postgres --bench postgres -- --customers 100000 --url URL`
//! (`--orders-per-customer 10 --threads 4 --singles 2000 --rounds 2 --runs 5 --dir DIR
//! --schema-prefix crm_bench --keep`)

use std::collections::HashMap;
use std::error::Error as StdError;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use crm_core::ingest::IngestOptions;
use crm_core::rule::parse;
use crm_core::segment::rfm::{RfmConfig, RfmTable};
use crm_core::synth::{Synth, SynthConfig};
use crm_core::{Crm, Currency, CustomerKind, NewCustomer, NewOrder, OrderStatus};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

mod common;
use common::{config, fresh, peak_rss_mib, percentile, rate, reset_peak_rss};

struct Args {
    url: Option<String>,
    customers: u64,
    orders_per_customer: f64,
    threads: usize,
    singles: usize,
    rounds: usize,
    runs: usize,
    dir: PathBuf,
    schema_prefix: String,
    keep: bool,
}

fn args() -> Args {
    let mut a = Args {
        url: std::env::var("CRM_BENCH_PG").ok().filter(|u| !u.is_empty()),
        customers: 100_000,
        orders_per_customer: 10.0,
        threads: 4,
        singles: 2_000,
        rounds: 2,
        runs: 5,
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data"),
        schema_prefix: "crm_bench".into(),
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--url" => a.url = Some(v()),
            "--customers" => a.customers = v().parse().expect("--customers N"),
            "--orders-per-customer" => a.orders_per_customer = v().parse().expect("--orders-per-customer X"),
            "--threads" => a.threads = v().parse().expect("--threads N"),
            "--singles" => a.singles = v().parse().expect("--singles N (per thread)"),
            "--rounds" => a.rounds = v().parse().expect("--rounds N"),
            "--runs" => a.runs = v().parse().expect("--runs N"),
            "--dir" => a.dir = PathBuf::from(v()),
            "--schema-prefix" => a.schema_prefix = v(),
            "--keep" => a.keep = true,
            "--bench" => {}
            other => panic!(
                "unknown argument {other}; use --url, --customers, --orders-per-customer, --threads, --singles, \
                 --rounds, --runs, --dir, --schema-prefix, --keep"
            ),
        }
    }
    assert!(
        !a.schema_prefix.is_empty()
            && a.schema_prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && a.schema_prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "--schema-prefix: a lower-case letter, then lower-case letters, digits and _"
    );
    assert!(a.threads >= 1 && a.rounds >= 1 && a.runs >= 1 && a.singles >= a.rounds, "counts must be positive");
    a
}

/// The table: `| measurement | ours | baseline | ratio | target |`, by section.
#[derive(Default)]
struct Report {
    rows: Vec<(u8, [String; 5])>,
    notes: Vec<String>,
}

impl Report {
    fn add(&mut self, section: u8, what: &str, ours: String, baseline: String, ratio: String, target: &str) {
        eprintln!("[{section}] {what}: ours {ours}, baseline {baseline}, {ratio} (target {target})");
        self.rows.push((section, [what.to_owned(), ours, baseline, ratio, target.to_owned()]));
    }

    fn note(&mut self, n: String) {
        eprintln!("note: {n}");
        self.notes.push(n);
    }

    fn print(&mut self, header: &str) {
        println!("\n{header}\n\n| measurement | ours | baseline | ratio | target |\n|---|---|---|---|---|");
        self.rows.sort_by_key(|r| r.0);
        for (_, [w, o, b, r, t]) in &self.rows {
            println!("| {w} | {o} | {b} | {r} | {t} |");
        }
        println!();
        for n in &self.notes {
            println!("- {n}");
        }
    }
}

/// Throughput ratio, ours / baseline.
fn of(ours: f64, baseline: f64, what: &str) -> String {
    format!("{:.2} ({:.0}% of {what})", ours / baseline, 100.0 * ours / baseline)
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn current_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The URL of `schema` on the server at `base`: every connection's search_path.
fn schema_url(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// The schemas this run made, dropped when it ends (also after a panic) unless `--keep`.
struct Scratch {
    base: String,
    schemas: Vec<String>,
    files: Vec<PathBuf>,
    keep: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept schemas {:?} and files {:?}", self.schemas, self.files);
            return;
        }
        match Client::connect(&self.base, NoTls) {
            Ok(mut c) => {
                for s in &self.schemas {
                    if let Err(e) = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE")) {
                        eprintln!("could not drop schema {s}: {e}");
                    }
                }
            }
            Err(e) => eprintln!("could not connect to drop schemas {:?}: {e}", self.schemas),
        }
        for f in &self.files {
            fresh(f);
        }
    }
}

/// A JSON text bound to a `JSONB` column in binary form (version byte 1, then the text);
/// the driver's own `Json` needs a cargo feature this crate does not enable.
#[derive(Debug)]
struct Jsonb(String);

impl ToSql for Jsonb {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.extend_from_slice(&[1]);
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        if !Self::accepts(ty) {
            return Err(format!("Jsonb cannot be written to a column of type {ty}").into());
        }
        self.to_sql(ty, out)
    }
}

fn json(v: &impl serde::Serialize) -> Jsonb {
    Jsonb(serde_json::to_string(v).unwrap())
}

/// A unit enum's serde name.
fn enum_name(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v).unwrap().as_str().unwrap().to_owned()
}

/// The customer number of a generated external id (`C00000042` is 42).
fn customer_number(external_id: &str) -> i64 {
    external_id[1..].parse().unwrap()
}

/// The raw side's customers: binary COPY, ids given (the customer's number).
fn copy_customers(raw: &mut Client, chunk: &[NewCustomer], now: i64) {
    let sink = raw
        .copy_in(
            "COPY customers (id, external_id, kind, name, email, phone, company, title, industry, country, region, \
             city, postal_code, street, birthday, gender, tags, attributes, consents, lifecycle, created_at, \
             updated_at) FROM STDIN (FORMAT binary)",
        )
        .unwrap();
    let t = Type::TEXT;
    let types = [
        Type::INT8,
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        Type::JSONB,
        Type::JSONB,
        Type::JSONB,
        t,
        Type::INT8,
        Type::INT8,
    ];
    let mut w = BinaryCopyInWriter::new(sink, &types);
    for c in chunk {
        let ext = c.external_id.as_deref().unwrap();
        let id = customer_number(ext);
        let kind = if c.kind == Some(CustomerKind::Company) { "company" } else { "person" };
        let birthday = c.birthday.map(|b| b.to_string());
        let lifecycle = enum_name(&c.lifecycle.unwrap_or_default());
        let created = c.created_at.map_or(now, |t| t.timestamp_micros());
        let a = &c.address;
        w.write(&[
            &id,
            &ext,
            &kind,
            &c.name,
            &c.email,
            &c.phone,
            &c.company,
            &c.title,
            &c.industry,
            &a.country,
            &a.region,
            &a.city,
            &a.postal_code,
            &a.street,
            &birthday,
            &c.gender,
            &json(&c.tags),
            &json(&c.attributes),
            &json(&c.consents),
            &lifecycle,
            &created,
            &now,
        ])
        .unwrap();
    }
    w.finish().unwrap();
}

/// The raw side's orders and their lines: two binary COPYs, order ids given from
/// `*next_id`; returns the number of lines.
fn copy_orders(raw: &mut Client, chunk: &[NewOrder], next_id: &mut i64, now: i64) -> u64 {
    let first = *next_id;
    let sink = raw
        .copy_in(
            "COPY orders (id, external_id, customer_id, occurred_at, status, currency, total_minor, channel, \
             created_at, updated_at) FROM STDIN (FORMAT binary)",
        )
        .unwrap();
    let (i, t) = (Type::INT8, Type::TEXT);
    let types = [i.clone(), t.clone(), i.clone(), i.clone(), t.clone(), t.clone(), i.clone(), t, i.clone(), i];
    let mut w = BinaryCopyInWriter::new(sink, &types);
    for (k, o) in chunk.iter().enumerate() {
        let id = first + k as i64;
        w.write(&[
            &id,
            &o.external_id,
            &customer_number(o.customer_external_id.as_deref().unwrap()),
            &o.occurred_at.timestamp_micros(),
            &o.status.unwrap_or_default().as_str(),
            &o.currency.code(),
            &o.total_minor,
            &o.channel,
            &now,
            &now,
        ])
        .unwrap();
    }
    w.finish().unwrap();
    *next_id += chunk.len() as i64;

    let sink = raw
        .copy_in(
            "COPY order_items (order_id, line_no, sku, category, quantity, unit_price_minor, customer_id) \
             FROM STDIN (FORMAT binary)",
        )
        .unwrap();
    let types = [Type::INT8, Type::INT8, Type::TEXT, Type::TEXT, Type::INT8, Type::INT8, Type::INT8];
    let mut w = BinaryCopyInWriter::new(sink, &types);
    let mut lines = 0u64;
    for (k, o) in chunk.iter().enumerate() {
        let id = first + k as i64;
        let customer = customer_number(o.customer_external_id.as_deref().unwrap());
        for (n, it) in o.items.iter().flatten().enumerate() {
            w.write(&[&id, &(n as i64), &it.sku, &it.category, &it.quantity, &it.unit_price_minor, &customer]).unwrap();
            lines += 1;
        }
    }
    w.finish().unwrap();
    lines
}

/// The ceiling's derived rows of new records: their keys and change-feed entries, one binary
/// COPY each.
fn copy_keys_and_feed(c: &mut Client, kind: &str, rows: &[(String, i64, i64)], now: i64) {
    let sink = c.copy_in("COPY external_keys (kind, key, customer_id) FROM STDIN (FORMAT binary)").unwrap();
    let mut w = BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::TEXT, Type::INT8]);
    for (key, _, customer) in rows {
        w.write(&[&kind, key, customer]).unwrap();
    }
    w.finish().unwrap();
    let sink = c.copy_in("COPY changes (entity, entity_id, op, at) FROM STDIN (FORMAT binary)").unwrap();
    let mut w = BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::INT8, Type::TEXT, Type::INT8]);
    for (_, id, _) in rows {
        w.write(&[&kind, id, &"insert", &now]).unwrap();
    }
    w.finish().unwrap();
}

/// The ceiling's customers: what `copy_customers` writes, plus every row ours writes beside
/// them (an empty statistics row, the key, the feed entry).
fn copy_customers_full(c: &mut Client, chunk: &[NewCustomer], now: i64) {
    copy_customers(c, chunk, now);
    let rows: Vec<(String, i64, i64)> = chunk
        .iter()
        .map(|x| {
            let ext = x.external_id.clone().unwrap();
            let id = customer_number(&ext);
            (ext, id, id)
        })
        .collect();
    let sink = c.copy_in("COPY customer_stats (customer_id) FROM STDIN (FORMAT binary)").unwrap();
    let mut w = BinaryCopyInWriter::new(sink, &[Type::INT8]);
    for (_, id, _) in &rows {
        w.write(&[id]).unwrap();
    }
    w.finish().unwrap();
    copy_keys_and_feed(c, "customer", &rows, now);
}

/// The ceiling's orders: what `copy_orders` writes, plus every row ours writes beside them
/// (keys, feed entries, and the statistics and spend of their customers folded in one
/// statement, as the store does).
fn copy_orders_full(c: &mut Client, chunk: &[NewOrder], next_id: &mut i64, now: i64) {
    let first = *next_id;
    copy_orders(c, chunk, next_id, now);
    let rows: Vec<(String, i64, i64)> = chunk
        .iter()
        .enumerate()
        .map(|(k, o)| {
            (o.external_id.clone(), first + k as i64, customer_number(o.customer_external_id.as_deref().unwrap()))
        })
        .collect();
    copy_keys_and_feed(c, "order", &rows, now);
    // Per customer: orders, first, last, spend (one currency per customer in the generator's
    // data is not assumed: spend per customer and currency).
    let mut stats: HashMap<i64, (i64, i64, i64)> = HashMap::new();
    let mut spend: HashMap<(i64, &str), i64> = HashMap::new();
    for o in chunk.iter().filter(|o| o.status.unwrap_or_default() == OrderStatus::Completed) {
        let id = customer_number(o.customer_external_id.as_deref().unwrap());
        let at = o.occurred_at.timestamp_micros();
        let e = stats.entry(id).or_insert((0, at, at));
        *e = (e.0 + 1, e.1.min(at), e.2.max(at));
        *spend.entry((id, o.currency.code())).or_default() += o.total_minor;
    }
    let ids: Vec<i64> = stats.keys().copied().collect();
    let counts: Vec<i64> = ids.iter().map(|id| stats[id].0).collect();
    let firsts: Vec<i64> = ids.iter().map(|id| stats[id].1).collect();
    let lasts: Vec<i64> = ids.iter().map(|id| stats[id].2).collect();
    let (keys, amounts): (Vec<(i64, &str)>, Vec<i64>) = spend.into_iter().unzip();
    let (spend_ids, currencies): (Vec<i64>, Vec<&str>) = keys.into_iter().unzip();
    c.execute(
        "WITH s AS (INSERT INTO customer_stats (customer_id, order_count, first_order_at, last_order_at) \
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) \
         ON CONFLICT (customer_id) DO UPDATE SET order_count = customer_stats.order_count + EXCLUDED.order_count, \
         first_order_at = least(customer_stats.first_order_at, EXCLUDED.first_order_at), \
         last_order_at = greatest(customer_stats.last_order_at, EXCLUDED.last_order_at) \
         RETURNING customer_id, order_count, last_order_at) \
         INSERT INTO customer_spend (customer_id, currency, total_minor, customer_order_count, customer_last_order_at) \
         SELECT t.id, t.currency, t.amount, s.order_count, s.last_order_at \
         FROM unnest($5::bigint[], $6::text[], $7::bigint[]) AS t(id, currency, amount) JOIN s ON s.customer_id = t.id \
         ON CONFLICT (currency, customer_id) DO UPDATE SET total_minor = customer_spend.total_minor + EXCLUDED.total_minor, \
         customer_order_count = EXCLUDED.customer_order_count, customer_last_order_at = EXCLUDED.customer_last_order_at",
        &[&ids, &counts, &firsts, &lasts, &spend_ids, &currencies, &amounts],
    )
    .unwrap();
}

/// Rows per chunk: generated before timing, then written by both sides.
const CHUNK: usize = 50_000;

struct Loaded {
    customers: u64,
    orders: u64,
    lines: u64,
}

/// Section 1: our ingest against binary COPY, chunk by chunk.
fn ingest_pg(synth: &Synth, ours: &Crm, raw: &mut Client, full: &mut Client, report: &mut Report) -> Loaded {
    let now = Utc::now().timestamp_micros();
    let (mut t_ours_c, mut t_raw_c, mut t_ours_o, mut t_raw_o, mut t_gen) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let rss_before = current_rss_mib();
    reset_peak_rss();
    let (mut t_full_c, mut t_full_o) = (Duration::ZERO, Duration::ZERO);
    raw.batch_execute("BEGIN").unwrap();
    full.batch_execute("BEGIN").unwrap();
    let mut n = Loaded { customers: 0, orders: 0, lines: 0 };
    let mut customers = synth.customers().peekable();
    while customers.peek().is_some() {
        let t = Instant::now();
        let chunk: Vec<_> = customers.by_ref().take(CHUNK).collect();
        t_gen += t.elapsed();
        n.customers += chunk.len() as u64;
        let t = Instant::now();
        copy_customers(raw, &chunk, now);
        t_raw_c += t.elapsed();
        let t = Instant::now();
        copy_customers_full(full, &chunk, now);
        t_full_c += t.elapsed();
        let len = chunk.len() as u64;
        let t = Instant::now();
        let r = ours.ingest_customers(chunk, IngestOptions::default()).unwrap();
        t_ours_c += t.elapsed();
        assert_eq!(r.created, len, "{:?}", &r.errors[..r.errors.len().min(5)]);
    }
    eprintln!("customers: ours {:.1} s, COPY {:.1} s", t_ours_c.as_secs_f64(), t_raw_c.as_secs_f64());
    let (mut next_id, mut next_full_id) = (1, 1);
    let mut orders = synth.orders().peekable();
    while orders.peek().is_some() {
        let t = Instant::now();
        let chunk: Vec<_> = orders.by_ref().take(CHUNK).collect();
        t_gen += t.elapsed();
        n.orders += chunk.len() as u64;
        let t = Instant::now();
        n.lines += copy_orders(raw, &chunk, &mut next_id, now);
        t_raw_o += t.elapsed();
        let t = Instant::now();
        copy_orders_full(full, &chunk, &mut next_full_id, now);
        t_full_o += t.elapsed();
        let len = chunk.len() as u64;
        let t = Instant::now();
        let r = ours.ingest_orders(chunk, IngestOptions::default()).unwrap();
        t_ours_o += t.elapsed();
        assert_eq!(r.created, len, "{:?}", &r.errors[..r.errors.len().min(5)]);
        if n.orders % (10 * CHUNK as u64) == 0 {
            eprintln!("{} orders: ours {:.1} s, COPY {:.1} s", n.orders, t_ours_o.as_secs_f64(), t_raw_o.as_secs_f64());
        }
    }
    let t = Instant::now();
    raw.batch_execute("COMMIT").unwrap();
    t_raw_o += t.elapsed();
    let t = Instant::now();
    full.batch_execute("COMMIT").unwrap();
    t_full_o += t.elapsed();
    let peak = peak_rss_mib();

    let (oc, rc) = (rate(n.customers, t_ours_c), rate(n.customers, t_raw_c));
    let (oo, ro) = (rate(n.orders, t_ours_o), rate(n.orders, t_raw_o));
    let all = n.customers + n.orders;
    let (oa, ra) = (rate(all, t_ours_c + t_ours_o), rate(all, t_raw_c + t_raw_o));
    report.add(
        1,
        "bulk ingest: customers/s",
        format!("{oc:.0}"),
        format!("{rc:.0}"),
        of(oc, rc, "raw"),
        "≥ 50% of raw",
    );
    report.add(
        1,
        "bulk ingest: orders/s (with their lines)",
        format!("{oo:.0}"),
        format!("{ro:.0}"),
        of(oo, ro, "raw"),
        "≥ 50% of raw",
    );
    report.add(
        1,
        "bulk ingest: customers + orders, records/s",
        format!("{oa:.0} ({:.1} s)", (t_ours_c + t_ours_o).as_secs_f64()),
        format!("{ra:.0} ({:.1} s)", (t_raw_c + t_raw_o).as_secs_f64()),
        of(oa, ra, "raw"),
        "≥ 50% of raw",
    );
    let fa = rate(all, t_full_c + t_full_o);
    report.add(
        1,
        "ceiling: raw COPY of every row ours writes, records/s",
        format!("{oa:.0}"),
        format!("{fa:.0} ({:.1} s)", (t_full_c + t_full_o).as_secs_f64()),
        of(oa, fa, "ceiling"),
        "report",
    );
    report.add(
        1,
        "ceiling vs raw: what the derived rows cost",
        format!("{fa:.0}"),
        format!("{ra:.0}"),
        of(fa, ra, "raw"),
        "report",
    );
    report.add(1, "bulk ingest: peak client RSS", format!("{peak:.0} MiB"), "—".into(), "—".into(), "report");
    report.note(format!(
        "Ingest: rows generated in chunks of {CHUNK} before timing ({:.1} s of generation, untimed), each chunk \
         written by binary COPY (baseline: customers, orders, order_items; ids given by the loader; one \
         transaction; no customer_stats, customer_spend or change feed) then by `ingest_customers` / \
         `ingest_orders` (ours: validation, external-id resolution, statistics, change feed; batches of 20,000 \
         in one transaction each). Ceiling: a third schema written by binary COPY with every row ours writes \
         (records, lines, external keys, feed entries, empty statistics rows of new customers) and the \
         statistics and spend of each chunk's customers folded in one statement, in one transaction, no \
         validation: the least any implementation writing the same rows does. Peak RSS is the bench process over the whole phase (both sides, one chunk \
         held, {rss_before:.0} MiB before it).",
        t_gen.as_secs_f64()
    ));
    n
}

/// The same data into a SQLite file for section 3; its ingest rate for context.
fn ingest_sqlite(synth: &Synth, lite: &Crm) -> (Duration, u64) {
    let mut d = Duration::ZERO;
    let mut n = 0;
    let mut customers = synth.customers().peekable();
    while customers.peek().is_some() {
        let chunk: Vec<_> = customers.by_ref().take(CHUNK).collect();
        n += chunk.len() as u64;
        let t = Instant::now();
        let r = lite.ingest_customers(chunk, IngestOptions::default()).unwrap();
        d += t.elapsed();
        assert_eq!(r.failed, 0);
    }
    let mut orders = synth.orders().peekable();
    while orders.peek().is_some() {
        let chunk: Vec<_> = orders.by_ref().take(CHUNK).collect();
        n += chunk.len() as u64;
        let t = Instant::now();
        let r = lite.ingest_orders(chunk, IngestOptions::default()).unwrap();
        d += t.elapsed();
        assert_eq!(r.failed, 0);
    }
    (d, n)
}

/// The benchmark's five-condition segment (the same as `benches/segments.rs`): profile
/// fields (country, tags), statistics (spend, last order) and one order aggregate.
const FIVE: &str = r#"country in ["CN", "SG"] and total_spent >= 1000.00 CNY and last_order_at within 365 days
    and "vip" in tags and count(orders where category = "shoes" within 180 days) >= 1"#;

/// Members, and sums of their values and scores: what both stores must agree on.
fn checksum(t: &RfmTable) -> (usize, i64, i64, i64, i64) {
    t.scores.iter().fold((t.scores.len(), 0, 0, 0, 0), |(n, r, f, m, c), s| {
        (n, r + s.recency_days, f + s.frequency, m + s.monetary_minor, c + s.code())
    })
}

/// Section 3: RFM and the five-condition count on both stores, alternating, medians.
fn analytics(pg: &Crm, lite: &Crm, admin: &mut Client, ours_schema: &str, runs: usize, report: &mut Report) {
    let row = admin
        .query_one(
            &format!(
                "SELECT currency, count(*) FROM {ours_schema}.customer_spend WHERE total_minor > 0 \
                 GROUP BY currency ORDER BY 2 DESC, 1 LIMIT 1"
            ),
            &[],
        )
        .unwrap();
    let currency: Currency = row.get::<_, String>(0).parse().unwrap();
    let as_of: DateTime<Utc> = SynthConfig::default().end;
    let cfg = RfmConfig { as_of: Some(as_of), ..RfmConfig::new(currency) };

    let (a, b) = (pg.compute_rfm(&cfg).unwrap(), lite.compute_rfm(&cfg).unwrap());
    assert_eq!(a.model.source, b.model.source);
    assert_eq!(checksum(&a), checksum(&b), "RFM differs between PostgreSQL and SQLite");
    let members = a.scores.len();
    drop((a, b));
    let (mut tp, mut tl) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        drop(std::hint::black_box(pg.compute_rfm(&cfg).unwrap()));
        tp.push(t.elapsed());
        let t = Instant::now();
        drop(std::hint::black_box(lite.compute_rfm(&cfg).unwrap()));
        tl.push(t.elapsed());
    }
    let (tp, tl) = (median(tp), median(tl));
    report.add(
        3,
        &format!("compute_rfm, {currency} ({members} members)"),
        secs(tp),
        format!("{} (SQLite)", secs(tl)),
        format!("PG/SQLite {:.2}x", tp.as_secs_f64() / tl.as_secs_f64()),
        "beside SQLite",
    );

    let rule = parse(FIVE).unwrap();
    let (np, nl) = (pg.count_matching(&rule, Some(as_of)).unwrap(), lite.count_matching(&rule, Some(as_of)).unwrap());
    assert_eq!(np, nl, "the five-condition count differs between PostgreSQL and SQLite");
    let (mut tp, mut tl) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        pg.count_matching(&rule, Some(as_of)).unwrap();
        tp.push(t.elapsed());
        let t = Instant::now();
        lite.count_matching(&rule, Some(as_of)).unwrap();
        tl.push(t.elapsed());
    }
    let (tp, tl) = (median(tp), median(tl));
    report.add(
        3,
        &format!("count_matching, five conditions ({np} members)"),
        secs(tp),
        format!("{} (SQLite)", secs(tl)),
        format!("PG/SQLite {:.2}x", tp.as_secs_f64() / tl.as_secs_f64()),
        "beside SQLite",
    );
    report.note(format!(
        "RFM and segment: as of {}, medians of {runs} runs alternating PostgreSQL and SQLite (WAL, 256 MiB \
         cache); both stores give the same members and sums. Rule: `{}`.",
        as_of.to_rfc3339(),
        FIVE.split_whitespace().collect::<Vec<_>>().join(" ")
    ));
}

/// One raw single-order transaction, pgbench style: the order, its lines, the customer's
/// statistics.
struct RawOrder {
    external_id: String,
    customer_id: i64,
}

fn raw_prepare(c: &mut Client) -> [Statement; 3] {
    [
        c.prepare(
            "INSERT INTO orders (external_id, customer_id, occurred_at, status, currency, total_minor, channel, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .unwrap(),
        c.prepare(
            "INSERT INTO order_items (order_id, line_no, sku, category, quantity, unit_price_minor, customer_id) \
             SELECT $1, t.n - 1, t.sku, t.category, t.quantity, t.price, $6 \
             FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[]) WITH ORDINALITY AS t(sku, category, quantity, price, n)",
        )
        .unwrap(),
        c.prepare(
            "UPDATE customer_stats SET order_count = order_count + 1, \
             first_order_at = least(first_order_at, $2), last_order_at = greatest(last_order_at, $2) \
             WHERE customer_id = $1",
        )
        .unwrap(),
    ]
}

/// The template order's lines as the columns the raw sides bind, built once.
struct Lines<'a> {
    skus: Vec<&'a str>,
    categories: Vec<Option<&'a str>>,
    quantities: Vec<i64>,
    prices: Vec<i64>,
}

impl<'a> Lines<'a> {
    fn of(template: &'a NewOrder) -> Self {
        let items = template.items.as_deref().unwrap_or_default();
        Lines {
            skus: items.iter().map(|i| i.sku.as_str()).collect(),
            categories: items.iter().map(|i| i.category.as_deref()).collect(),
            quantities: items.iter().map(|i| i.quantity).collect(),
            prices: items.iter().map(|i| i.unit_price_minor).collect(),
        }
    }
}

fn raw_write(c: &mut Client, st: &[Statement; 3], template: &NewOrder, lines: &Lines<'_>, o: &RawOrder) {
    let Lines { skus, categories, quantities, prices } = lines;
    let at = template.occurred_at.timestamp_micros();
    let now = Utc::now().timestamp_micros();
    let mut tx = c.transaction().unwrap();
    let id: i64 = tx
        .query_one(
            &st[0],
            &[
                &o.external_id,
                &o.customer_id,
                &at,
                &OrderStatus::Completed.as_str(),
                &template.currency.code(),
                &template.total_minor,
                &template.channel,
                &now,
            ],
        )
        .unwrap()
        .get(0);
    tx.execute(&st[1], &[&id, &skus, &categories, &quantities, &prices, &o.customer_id]).unwrap();
    tx.execute(&st[2], &[&o.customer_id, &at]).unwrap();
    tx.commit().unwrap();
}

/// The ceiling of single orders: the statements ours runs, from a raw client with prepared
/// statements: the customer by external id; the order's key, the order and its lines in one
/// statement; the customer's statistics and spend in one; the feed entry under the feed's
/// advisory lock, last.
fn full_prepare(c: &mut Client) -> [Statement; 4] {
    [
        c.prepare("SELECT id FROM customers WHERE external_id = $1").unwrap(),
        c.prepare(
            "WITH k AS (INSERT INTO external_keys (kind, key, customer_id) VALUES ('order', $1, $2) \
             ON CONFLICT DO NOTHING RETURNING key), \
             o AS (INSERT INTO orders (external_id, customer_id, occurred_at, status, currency, total_minor, channel, \
             created_at, updated_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $8 FROM k RETURNING id), \
             i AS (INSERT INTO order_items (order_id, line_no, sku, category, quantity, unit_price_minor, customer_id) \
             SELECT o.id, t.n - 1, t.sku, t.category, t.quantity, t.price, $2 FROM o, \
             unnest($9::text[], $10::text[], $11::bigint[], $12::bigint[]) WITH ORDINALITY AS t(sku, category, quantity, price, n)) \
             SELECT id FROM o",
        )
        .unwrap(),
        c.prepare(
            "WITH s AS (UPDATE customer_stats SET order_count = order_count + 1, \
             first_order_at = least(first_order_at, $2), last_order_at = greatest(last_order_at, $2) \
             WHERE customer_id = $1 RETURNING customer_id, order_count, last_order_at) \
             INSERT INTO customer_spend (customer_id, currency, total_minor, customer_order_count, customer_last_order_at) \
             SELECT s.customer_id, $3, $4, s.order_count, s.last_order_at FROM s \
             ON CONFLICT (currency, customer_id) DO UPDATE SET total_minor = customer_spend.total_minor + EXCLUDED.total_minor, \
             customer_order_count = EXCLUDED.customer_order_count, customer_last_order_at = EXCLUDED.customer_last_order_at",
        )
        .unwrap(),
        c.prepare(
            "WITH l AS (SELECT pg_advisory_xact_lock(hashtext('crm bench feed'))) \
             INSERT INTO changes (entity, entity_id, op, at) SELECT 'order', $1, 'insert', $2 FROM l",
        )
        .unwrap(),
    ]
}

fn full_write(c: &mut Client, st: &[Statement; 4], template: &NewOrder, lines: &Lines<'_>, o: &NewOrder) {
    let Lines { skus, categories, quantities, prices } = lines;
    let at = template.occurred_at.timestamp_micros();
    let now = Utc::now().timestamp_micros();
    let mut tx = c.transaction().unwrap();
    let customer: i64 = tx.query_one(&st[0], &[&o.customer_external_id]).unwrap().get(0);
    let id: i64 = tx
        .query_one(
            &st[1],
            &[
                &o.external_id,
                &customer,
                &at,
                &OrderStatus::Completed.as_str(),
                &template.currency.code(),
                &template.total_minor,
                &template.channel,
                &now,
                &skus,
                &categories,
                &quantities,
                &prices,
            ],
        )
        .unwrap()
        .get(0);
    tx.execute(&st[2], &[&customer, &at, &template.currency.code(), &template.total_minor]).unwrap();
    tx.execute(&st[3], &[&id, &now]).unwrap();
    tx.commit().unwrap();
}

/// Runs `work[t]` on thread `t` with `handles[t]`; the wall time and every call's latency.
fn on_threads<H: Send, W: Sync>(
    handles: &mut [H],
    work: &[Vec<W>],
    call: impl Fn(&mut H, &W) + Sync,
) -> (Duration, Vec<Duration>) {
    let call = &call;
    let t = Instant::now();
    let lat: Vec<Vec<Duration>> = std::thread::scope(|s| {
        let threads: Vec<_> = handles
            .iter_mut()
            .zip(work)
            .map(|(h, w)| {
                s.spawn(move || {
                    w.iter()
                        .map(|x| {
                            let t = Instant::now();
                            call(h, x);
                            t.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    (t.elapsed(), lat.into_iter().flatten().collect())
}

/// Section 2: single-order writes from `threads` threads, ours and raw in alternating rounds.
fn singles(a: &Args, synth: &Synth, ours_url: &str, n_customers: u64, report: &mut Report) {
    let template = synth.orders().next().unwrap();
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros();
    let warm = (a.singles / 20).max(10);
    let per_round = a.singles / a.rounds;
    // Customer numbers: a xorshift over the loaded customers, distinct per thread and call.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut pick = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n_customers.max(1) + 1
    };
    let per_thread = warm + per_round * a.rounds;
    let numbers: Vec<Vec<u64>> = (0..a.threads).map(|_| (0..per_thread).map(|_| pick()).collect()).collect();
    let mut handles: Vec<Crm> = (0..a.threads).map(|_| Crm::open_with(ours_url, config()).unwrap()).collect();
    let mut clients: Vec<(Client, [Statement; 3])> = (0..a.threads)
        .map(|_| {
            let mut c = Client::connect(ours_url, NoTls).unwrap();
            let st = raw_prepare(&mut c);
            (c, st)
        })
        .collect();
    // The raw side knows its customers' ids, as a host with its own keys would.
    let ids: HashMap<String, i64> = {
        let ext: Vec<String> = numbers.iter().flatten().map(|n| Synth::customer_external_id(*n)).collect();
        let rows =
            clients[0].0.query("SELECT external_id, id FROM customers WHERE external_id = ANY($1)", &[&ext]).unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    };
    let ours_work = |range: std::ops::Range<usize>, tag: &str| -> Vec<Vec<NewOrder>> {
        numbers
            .iter()
            .enumerate()
            .map(|(t, ns)| {
                ns[range.clone()]
                    .iter()
                    .enumerate()
                    .map(|(i, n)| NewOrder {
                        external_id: format!("S{stamp}-{tag}-o{t}-{i}"),
                        customer_id: None,
                        customer_external_id: Some(Synth::customer_external_id(*n)),
                        status: Some(OrderStatus::Completed),
                        ..template.clone()
                    })
                    .collect()
            })
            .collect()
    };
    let raw_work = |range: std::ops::Range<usize>, tag: &str| -> Vec<Vec<RawOrder>> {
        numbers
            .iter()
            .enumerate()
            .map(|(t, ns)| {
                ns[range.clone()]
                    .iter()
                    .enumerate()
                    .map(|(i, n)| RawOrder {
                        external_id: format!("S{stamp}-{tag}-r{t}-{i}"),
                        customer_id: ids[&Synth::customer_external_id(*n)],
                    })
                    .collect()
            })
            .collect()
    };
    let mut fulls: Vec<(Client, [Statement; 4])> = (0..a.threads)
        .map(|_| {
            let mut c = Client::connect(ours_url, NoTls).unwrap();
            let st = full_prepare(&mut c);
            (c, st)
        })
        .collect();
    let ours_call = |crm: &mut Crm, o: &NewOrder| {
        crm.record_order(o).unwrap();
    };
    let lines = Lines::of(&template);
    let full_call = |(c, st): &mut (Client, [Statement; 4]), o: &NewOrder| full_write(c, st, &template, &lines, o);
    let raw_call = |(c, st): &mut (Client, [Statement; 3]), o: &RawOrder| raw_write(c, st, &template, &lines, o);

    // Untimed warm-up of both (connections, prepared statements, caches).
    on_threads(&mut handles, &ours_work(0..warm, "w"), ours_call);
    on_threads(&mut clients, &raw_work(0..warm, "w"), raw_call);
    on_threads(&mut fulls, &ours_work(0..warm, "wf"), full_call);
    let (mut d_ours, mut d_raw, mut d_full) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut l_ours, mut l_raw) = (Vec::new(), Vec::new());
    for r in 0..a.rounds {
        let range = warm + r * per_round..warm + (r + 1) * per_round;
        let (ow, rw) = (ours_work(range.clone(), &format!("{r}")), raw_work(range, &format!("{r}")));
        let (d, l) = on_threads(&mut handles, &ow, ours_call);
        d_ours += d;
        l_ours.extend(l);
        let (d, l) = on_threads(&mut clients, &rw, raw_call);
        d_raw += d;
        l_raw.extend(l);
        let (d, _) = on_threads(
            &mut fulls,
            &ours_work(warm + r * per_round..warm + (r + 1) * per_round, &format!("f{r}")),
            full_call,
        );
        d_full += d;
        eprintln!("single orders, round {r}: ours {:.1} s, raw {:.1} s", d_ours.as_secs_f64(), d_raw.as_secs_f64());
    }
    l_ours.sort();
    l_raw.sort();
    let n = (a.threads * per_round * a.rounds) as u64;
    let (os, rs) = (rate(n, d_ours), rate(n, d_raw));
    report.add(
        2,
        &format!("single-order writes, {} threads: calls/s vs txns/s", a.threads),
        format!("{os:.0}"),
        format!("{rs:.0}"),
        of(os, rs, "raw"),
        "≥ 50% of raw",
    );
    let fs = rate(n, d_full);
    report.add(
        2,
        "ceiling: ours' statements from a raw client, txns/s",
        format!("{os:.0}"),
        format!("{fs:.0}"),
        of(os, fs, "ceiling"),
        "report",
    );
    report.add(
        2,
        "single-order writes: latency median / p99",
        format!("{} / {}", ms(percentile(&l_ours, 0.5)), ms(percentile(&l_ours, 0.99))),
        format!("{} / {}", ms(percentile(&l_raw, 0.5)), ms(percentile(&l_raw, 0.99))),
        format!("{:.2}x (median)", percentile(&l_ours, 0.5).as_secs_f64() / percentile(&l_raw, 0.5).as_secs_f64()),
        "report",
    );
    report.note(format!(
        "Single orders: {} threads × {} orders each (after {warm} untimed each), {} alternating rounds of ours then \
         raw into the ingested schema, random existing customers, the generator's first order as template ({} \
         lines). Ours: `record_order` with the customer's external id (one transaction: lookup, advisory locks, \
         order, lines, change feed, statistics and spend). Raw: own `postgres::Client` per thread, prepared \
         statements, customer id known: BEGIN; INSERT order RETURNING id; INSERT its lines (one statement); \
         UPDATE customer_stats; COMMIT. Ceiling (third in each round): the statements ours runs for the same \
         rows (customer by external id; key, order and lines in one statement; statistics and spend in one; the \
         feed entry under an advisory lock), prepared, on a raw client: BEGIN, four statements, COMMIT (ours also \
         takes the external id's lock and reads the loyalty program: eight round trips to six).",
        a.threads,
        per_round * a.rounds,
        a.rounds,
        template.items.as_ref().map_or(0, |i| i.len())
    ));
}

fn main() {
    let a = args();
    let base = a.url.clone().expect("no server: pass --url URL or set CRM_BENCH_PG (make bench-postgres makes one)");
    std::fs::create_dir_all(&a.dir).unwrap();
    let mut admin = Client::connect(&base, NoTls).expect("cannot connect to the server at --url / CRM_BENCH_PG");
    let version: String = admin.query_one("SHOW server_version", &[]).unwrap().get(0);
    let settings: Vec<String> = ["shared_buffers", "synchronous_commit", "max_wal_size", "work_mem"]
        .iter()
        .map(|s| format!("{s}={}", admin.query_one(&format!("SHOW {s}"), &[]).unwrap().get::<_, String>(0)))
        .collect();
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let prefix = format!("{}_{}_{stamp}", a.schema_prefix, std::process::id());
    let (ours_schema, raw_schema, full_schema) =
        (format!("{prefix}_ours"), format!("{prefix}_raw"), format!("{prefix}_full"));
    let lite_path: PathBuf = a.dir.join(format!("{prefix}_sqlite.db"));
    let _scratch = Scratch {
        base: base.clone(),
        schemas: vec![ours_schema.clone(), raw_schema.clone(), full_schema.clone()],
        files: vec![lite_path.clone()],
        keep: a.keep,
    };
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {ours_schema}; CREATE SCHEMA {raw_schema}; CREATE SCHEMA {full_schema};"
        ))
        .unwrap();
    let (ours_url, raw_url, full_url) =
        (schema_url(&base, &ours_schema), schema_url(&base, &raw_schema), schema_url(&base, &full_schema));
    // The raw sides' tables are made by the store, so that every side writes the same tables.
    drop(crm_core::store::PostgresStore::open(&raw_url).unwrap());
    drop(crm_core::store::PostgresStore::open(&full_url).unwrap());
    let mut full = Client::connect(&full_url, NoTls).unwrap();
    let ours = Crm::open_with(&ours_url, config()).unwrap();
    let mut raw = Client::connect(&raw_url, NoTls).unwrap();

    let synth = Synth::new(SynthConfig {
        customers: a.customers,
        orders_per_customer: a.orders_per_customer,
        ..Default::default()
    });
    let mut report = Report::default();

    eprintln!("section 1: ingest into {ours_schema} and COPY into {raw_schema}");
    let n = ingest_pg(&synth, &ours, &mut raw, &mut full, &mut report);
    drop(raw);
    drop(full);

    eprintln!("SQLite: ingest into {}", lite_path.display());
    let lite = Crm::open_with(fresh(&lite_path), config()).unwrap();
    let (d_lite, n_lite) = ingest_sqlite(&synth, &lite);
    let n_all = n.customers + n.orders;
    assert_eq!(n_lite, n_all);
    report.note(format!(
        "Same data into SQLite (for section 3): {:.0} records/s ({:.1} s) with the same calls and chunks.",
        rate(n_lite, d_lite),
        d_lite.as_secs_f64()
    ));

    // Statistics for the planner: autovacuum's, if it got there, else ANALYZE now.
    let analyzed: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = $1 \
             AND relname IN ('customers', 'orders', 'order_items', 'customer_stats', 'customer_spend') \
             AND coalesce(last_autoanalyze, last_analyze) IS NOT NULL",
            &[&ours_schema],
        )
        .unwrap()
        .get(0);
    let t = Instant::now();
    admin.batch_execute(&format!("ANALYZE {ours_schema}.customers, {ours_schema}.orders, {ours_schema}.order_items, {ours_schema}.customer_stats, {ours_schema}.customer_spend")).unwrap();
    report.note(format!(
        "Before section 3: ANALYZE of the five tables ({:.1} s); autovacuum had analyzed {analyzed} of them after the ingest.",
        t.elapsed().as_secs_f64()
    ));

    eprintln!("section 3: RFM and segment count");
    analytics(&ours, &lite, &mut admin, &ours_schema, a.runs, &mut report);
    drop(lite);

    eprintln!("section 2: single-order writes");
    singles(&a, &synth, &ours_url, n.customers, &mut report);
    report.add(
        4,
        "peak client RSS, whole run (with the SQLite side's 256 MiB cache)",
        format!("{:.0} MiB", peak_rss_mib()),
        "—".into(),
        "—".into(),
        "report",
    );
    let header = format!(
        "PostgreSQL {version} ({}) on {}; {} customers, {} orders, {} order lines from the generator; client {} cores; \
         baseline: the `postgres` crate, raw.",
        settings.join(", "),
        redact(&base),
        n.customers,
        n.orders,
        n.lines,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    drop(ours);
    report.print(&header);
}

/// The URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
