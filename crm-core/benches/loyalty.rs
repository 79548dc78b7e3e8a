//! Loyalty benchmark (prints a table; never part of the test suite).
//!
//! 1. Bulk earning: the generator's orders go through bulk ingest twice, chunk by chunk in
//!    turn, into two copies of one file of customers: one without a loyalty program (the
//!    baseline) and one with a program (base rate per currency, a category multiplier, a
//!    tier multiplier, a first-order bonus, lot expiry, tiers on qualifying points), so
//!    every completed order writes its ledger entry (with its lot), account and feed row in the
//!    ingest transaction. Rows are generated before timing, in chunks, for both. A third
//!    copy takes the same chunks from raw rusqlite (prepared statements, one transaction per
//!    chunk): the order, its items, a ledger entry with its lot and a feed row per completed
//!    order, the accounts once per chunk; the ceiling this schema allows on this machine.
//!    A fourth takes only the orders and their items the same way: what the orders alone
//!    cost before anything earns. A fifth writes the third's rows with the ledger entries and
//!    feed rows in multi-row statements: whether batching statements pays in SQLite.
//! 2. Single calls the way a host makes them (one call, one transaction, WAL,
//!    synchronous=NORMAL) on the loaded file: `earn_points`, `redeem_points` and
//!    `record_order` with the program, against a raw rusqlite single-row transaction.
//!
//! `cargo bench -p crm-core --bench loyalty -- --customers 1000000 --orders-per-customer 10`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crm_core::ingest::IngestOptions;
use crm_core::loyalty::Program;
use crm_core::synth::{Synth, SynthConfig};
use crm_core::{Crm, CustomerId, NewOrder, OrderStatus};
use rusqlite::{params, Connection, OptionalExtension};

mod common;
use common::{config, fresh, percentile, rate, raw_insert_order};

struct Args {
    customers: u64,
    orders_per_customer: f64,
    single: usize,
    dir: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        customers: 1_000_000,
        orders_per_customer: 10.0,
        single: 20_000,
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data/loyalty"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--customers" => a.customers = v().parse().expect("--customers N"),
            "--orders-per-customer" => a.orders_per_customer = v().parse().expect("--orders-per-customer X"),
            "--single" => a.single = v().parse().expect("--single N"),
            "--dir" => a.dir = PathBuf::from(v()),
            "--bench" => {}
            other => panic!("unknown argument {other}; use --customers, --orders-per-customer, --single, --dir"),
        }
    }
    a
}

/// The program the benchmark earns under: what a retailer with the generator's ten
/// countries would set up.
const PROGRAM: &str = r#"{
  "name": "Stars",
  "rates": {
    "USD": {"points": 1, "per_minor": 100}, "GBP": {"points": 1, "per_minor": 100},
    "EUR": {"points": 1, "per_minor": 100}, "SGD": {"points": 1, "per_minor": 100},
    "CNY": {"points": 1, "per_minor": 700}, "JPY": {"points": 1, "per_minor": 150},
    "AUD": {"points": 1, "per_minor": 150}, "INR": {"points": 1, "per_minor": 8300},
    "BRL": {"points": 1, "per_minor": 500}
  },
  "rules": [
    {"name": "base", "kind": "base"},
    {"name": "shoes x2", "kind": "multiplier", "by": "category", "value": "shoes", "multiplier": 2.0},
    {"name": "gold x1.5", "kind": "multiplier", "by": "tier", "value": "gold", "multiplier": 1.5},
    {"name": "welcome", "kind": "bonus", "event": "first_order", "points": 100}
  ],
  "expiry_days": 730,
  "tiers": {"basis": {"by": "points"}, "window_days": 365,
            "levels": [{"name": "silver", "min": 500}, {"name": "gold", "min": 2000}]}
}"#;

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn count(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The same chunk written by hand in one transaction: each order with its items and, with
/// `ledger`, when completed, one ledger entry (its lot in its row) and one feed row (points: one per
/// 100 minor units), then each account touched once. What the schema costs with nothing
/// else around it.
/// How a raw chunk writes: the orders only, with ledger rows one statement each, or with
/// ledger rows in multi-row statements.
#[derive(Clone, Copy, PartialEq)]
enum Raw {
    Orders,
    Ledger,
    MultiRow,
}

/// Rows per multi-row statement (`Raw::MultiRow`): 50 entries of 15 values each.
const MULTI: usize = 50;

/// Values of one ledger entry row of the raw side (`id, customer_id, points, key, order_id,
/// amount_minor, at, balance_after, created_at, expires_at`).
type EntryValues = (i64, i64, i64, String, i64, i64, i64, i64, i64, i64);

/// Writes buffered ledger entries and their feed rows: full groups of [`MULTI`] in one
/// statement each, the rest one by one.
fn flush_multi(c: &Connection, rows: &mut Vec<EntryValues>) {
    use rusqlite::types::Value;
    let one_entry = "(?, ?, 'earn', ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)";
    let cols = "INSERT INTO loyalty_entries (id, customer_id, kind, points, qualifying, idempotency_key, order_id, \
                amount_minor, at, balance_after, note, created_at, remaining, available_at, expires_at) VALUES ";
    let one_feed = "('loyalty_entry', ?, 'insert', ?)";
    let feed_cols = "INSERT INTO changes (entity, entity_id, op, at) VALUES ";
    let sql = |n: usize, one: &str, head: &str| format!("{head}{}", vec![one; n].join(", "));
    for group in rows.chunks(MULTI) {
        let (mut ev, mut fv): (Vec<Value>, Vec<Value>) = (Vec::new(), Vec::new());
        for (id, customer, points, key, order, amount, at, balance, now, expires) in group {
            let key = Value::Text(key.clone());
            ev.extend([*id, *customer, *points, *points].map(Value::Integer));
            ev.push(key);
            ev.extend([*order, *amount, *at, *balance, *now, *points, *at, *expires].map(Value::Integer));
            fv.extend([*id, *now].map(Value::Integer));
        }
        c.prepare_cached(&sql(group.len(), one_entry, cols)).unwrap().execute(rusqlite::params_from_iter(ev)).unwrap();
        c.prepare_cached(&sql(group.len(), one_feed, feed_cols))
            .unwrap()
            .execute(rusqlite::params_from_iter(fv))
            .unwrap();
    }
    rows.clear();
}

fn raw_chunk(c: &Connection, chunk: &[NewOrder], mode: Raw) -> Duration {
    let t = Instant::now();
    let now = chrono::Utc::now().timestamp_micros();
    c.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut accounts: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    {
        let mut entry = c
            .prepare_cached(
                "INSERT INTO loyalty_entries (customer_id, kind, points, qualifying, idempotency_key, order_id, amount_minor, \
                 at, balance_after, note, created_at, remaining, available_at, expires_at) \
                 VALUES (?1, 'earn', ?2, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?2, ?6, ?9)",
            )
            .unwrap();
        let mut feed = c
            .prepare_cached(
                "INSERT INTO changes (entity, entity_id, op, at) VALUES ('loyalty_entry', ?1, 'insert', ?2)",
            )
            .unwrap();
        let mut next_id: i64 =
            c.query_row("SELECT coalesce(max(id), 0) + 1 FROM loyalty_entries", [], |r| r.get(0)).unwrap();
        let mut buffered: Vec<EntryValues> = Vec::with_capacity(MULTI);
        for o in chunk {
            let at = o.occurred_at.timestamp_micros();
            let (id, customer) = raw_insert_order(c, o, now);
            if mode == Raw::Orders || o.status.unwrap_or_default() != OrderStatus::Completed {
                continue;
            }
            let points = o.total_minor / 100;
            let balance = accounts.entry(customer).or_default();
            *balance += points;
            if mode == Raw::MultiRow {
                let expires = at + 730 * 86_400_000_000;
                let key = format!("order:{}", o.external_id);
                buffered.push((next_id, customer, points, key, id, o.total_minor, at, *balance, now, expires));
                next_id += 1;
                if buffered.len() == MULTI {
                    flush_multi(c, &mut buffered);
                }
                continue;
            }
            entry
                .execute(params![
                    customer,
                    points,
                    format!("order:{}", o.external_id),
                    id,
                    o.total_minor,
                    at,
                    *balance,
                    now,
                    at + 730 * 86_400_000_000
                ])
                .unwrap();
            let e = c.last_insert_rowid();
            feed.execute(params![e, now]).unwrap();
        }
        flush_multi(c, &mut buffered);
        let mut acct = c
            .prepare_cached(
                "INSERT INTO loyalty_accounts (customer_id, balance, orders, qualifying_total, created_at, updated_at) \
                 VALUES (?1, ?2, 1, ?2, ?3, ?3) ON CONFLICT(customer_id) DO UPDATE SET balance = balance + excluded.balance",
            )
            .unwrap();
        for (customer, points) in accounts {
            acct.execute(params![customer, points, now]).unwrap();
        }
    }
    c.execute_batch("COMMIT").unwrap();
    t.elapsed()
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

    // 0. One file of customers, copied for both sides.
    let base = fresh(&a.dir.join("customers.db"));
    let t = Instant::now();
    {
        let crm = Crm::open_with(&base, config()).unwrap();
        let r = crm.ingest_customers(synth.customers(), IngestOptions::default()).unwrap();
        assert_eq!(r.failed, 0);
    }
    {
        let c = Connection::open(&base).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    }
    row(
        "customers",
        format!("{}", a.customers),
        format!("loaded in {:.1} s (untimed below)", t.elapsed().as_secs_f64()),
    );
    let plain_path = fresh(&a.dir.join("plain.db"));
    let loyal_path = fresh(&a.dir.join("loyal.db"));
    let raw_path = fresh(&a.dir.join("raw.db"));
    let raw_orders_path = fresh(&a.dir.join("raw-orders.db"));
    let raw_multi_path = fresh(&a.dir.join("raw-multi.db"));
    for p in [&plain_path, &loyal_path, &raw_path, &raw_orders_path, &raw_multi_path] {
        std::fs::copy(&base, p).unwrap();
    }
    let _ = std::fs::remove_file(&base);
    let raw_file = |p: &PathBuf| {
        let c = Connection::open(p).unwrap();
        c.pragma_update(None, "synchronous", "NORMAL").unwrap();
        c.pragma_update(None, "cache_size", -256 * 1024).unwrap();
        c
    };
    let (raw_bulk, raw_orders, raw_multi) =
        (raw_file(&raw_path), raw_file(&raw_orders_path), raw_file(&raw_multi_path));
    let plain = Crm::open_with(&plain_path, config()).unwrap();
    let loyal = Crm::open_with(&loyal_path, config()).unwrap();
    let program = Program::from_json(PROGRAM).unwrap();
    loyal.set_loyalty_program(&program).unwrap();

    // 1. Bulk ingest of the same chunks into both files, in turn.
    const CHUNK: usize = 100_000;
    let mut t_raw_multi = Duration::ZERO;
    let (mut t_plain, mut t_loyal, mut t_raw, mut t_raw_orders) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut n_orders = 0u64;
    let mut orders = synth.orders().peekable();
    let mut turn = false;
    while orders.peek().is_some() {
        let chunk: Vec<NewOrder> = orders.by_ref().take(CHUNK).collect();
        n_orders += chunk.len() as u64;
        let copy = chunk.clone();
        let run = |crm: &Crm, rows: Vec<NewOrder>| {
            let t = Instant::now();
            let r = crm.ingest_orders(rows, IngestOptions::default()).unwrap();
            assert_eq!(r.failed, 0, "{:?}", &r.errors[..r.errors.len().min(3)]);
            t.elapsed()
        };
        t_raw += raw_chunk(&raw_bulk, &chunk, Raw::Ledger);
        t_raw_orders += raw_chunk(&raw_orders, &chunk, Raw::Orders);
        t_raw_multi += raw_chunk(&raw_multi, &chunk, Raw::MultiRow);
        // Alternate which side goes first, so neither always meets a cold cache.
        if turn {
            t_plain += run(&plain, chunk);
            t_loyal += run(&loyal, copy);
        } else {
            t_loyal += run(&loyal, copy);
            t_plain += run(&plain, chunk);
        }
        turn = !turn;
    }
    let check = Connection::open(&loyal_path).unwrap();
    let entries = count(&check, "SELECT count(*) FROM loyalty_entries WHERE kind = 'earn'");
    let earning = count(&check, "SELECT count(*) FROM orders WHERE status = 'completed'");
    let lots = count(&check, "SELECT count(*) FROM loyalty_entries WHERE remaining IS NOT NULL");
    let points = count(&check, "SELECT coalesce(sum(points), 0) FROM loyalty_entries");
    let balances = count(&check, "SELECT coalesce(sum(balance), 0) FROM loyalty_accounts");
    let tiered = count(&check, "SELECT count(*) FROM loyalty_accounts WHERE tier IS NOT NULL");
    assert_eq!(points, balances, "balances are the sums of the entries");
    let (rp, rl, rr) = (rate(n_orders, t_plain), rate(n_orders, t_loyal), rate(n_orders, t_raw));
    row(
        "raw rusqlite, orders and items only: orders/s",
        format!("{:.0}", rate(n_orders, t_raw_orders)),
        format!(
            "{:.1} s; the same chunks without ledger rows: what the orders alone cost in this schema",
            t_raw_orders.as_secs_f64()
        ),
    );
    row(
        "raw rusqlite, orders with ledger rows: orders/s",
        format!("{rr:.0}"),
        format!(
            "{:.1} s; per order: the order, its items, an entry with its lot and a feed row; accounts once per chunk; no validation, no stats (the ceiling for this schema)",
            t_raw.as_secs_f64()
        ),
    );
    row(
        "raw rusqlite, ledger rows in multi-row statements: orders/s",
        format!("{:.0}", rate(n_orders, t_raw_multi)),
        format!(
            "{:.1} s; the same rows, entries and feed rows {MULTI} to a statement (ids assigned by the writer): {:.0}% of one statement per row",
            t_raw_multi.as_secs_f64(),
            100.0 * t_raw.as_secs_f64() / t_raw_multi.as_secs_f64()
        ),
    );
    row(
        "ours, bulk ingest, no program: orders/s",
        format!("{rp:.0}"),
        format!("{n_orders} orders, {:.1} s", t_plain.as_secs_f64()),
    );
    row(
        "ours, bulk ingest earning: orders/s",
        format!("{rl:.0}"),
        format!(
            "{:.0}% of no program (target >= 85%), {:.0}% of the raw ceiling; {:.1} s; {entries} earn entries for {earning} completed orders, {lots} lots, {tiered} tiered",
            100.0 * rl / rp,
            100.0 * rl / rr,
            t_loyal.as_secs_f64()
        ),
    );
    let extra = t_loyal.saturating_sub(t_plain);
    row(
        "earning's own cost: orders/s",
        format!("{:.0}", rate(n_orders, extra)),
        format!("{:.2} µs per order over ingest without a program", extra.as_secs_f64() * 1e6 / n_orders as f64),
    );
    // What the ledger rows cost raw rusqlite (the difference of its two runs), added to our
    // ingest without a program: the most earning can reach with this schema on this machine.
    let raw_ledger = t_raw.saturating_sub(t_raw_orders);
    let ceiling = rate(n_orders, t_plain + raw_ledger);
    row(
        "ceiling: no program + raw ledger rows: orders/s",
        format!("{ceiling:.0}"),
        format!(
            "{:.0}% of no program; the ledger rows alone cost raw rusqlite {:.2} µs per order, earning costs ours {:.2}",
            100.0 * ceiling / rp,
            raw_ledger.as_secs_f64() * 1e6 / n_orders as f64,
            extra.as_secs_f64() * 1e6 / n_orders as f64
        ),
    );
    drop(plain);

    // 2. Single calls, one transaction each, on the loaded WAL file.
    let rich: Vec<CustomerId> = {
        let mut st = check
            .prepare("SELECT customer_id FROM loyalty_accounts WHERE balance >= 1000 ORDER BY customer_id")
            .unwrap();
        st.query_map([], |r| Ok(CustomerId(r.get(0)?))).unwrap().collect::<rusqlite::Result<_>>().unwrap()
    };
    assert!(!rich.is_empty(), "no account holds 1000 points");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut pick = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        rich[(x % rich.len() as u64) as usize]
    };
    let targets: Vec<CustomerId> = (0..a.single).map(|_| pick()).collect();
    let stamp = chrono::Utc::now().timestamp_micros();
    let raw = Connection::open(&loyal_path).unwrap();
    raw.pragma_update(None, "synchronous", "NORMAL").unwrap();
    raw.busy_timeout(Duration::from_secs(30)).unwrap();
    raw.execute_batch(
        "CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, \
         points INTEGER NOT NULL, key TEXT NOT NULL UNIQUE)",
    )
    .unwrap();
    let raw_write = |c: CustomerId, key: &str| {
        raw.execute_batch("BEGIN IMMEDIATE").unwrap();
        raw.prepare_cached("INSERT INTO bench_raw (customer_id, points, key) VALUES (?1, ?2, ?3)")
            .unwrap()
            .execute(params![c.0, 1, key])
            .unwrap();
        raw.execute_batch("COMMIT").unwrap();
    };
    // The ceilings: what a correct earning and a correct redemption need in this schema,
    // written raw in one transaction each: the key looked up (a retry must not duplicate),
    // the account read, for a redemption the open lots read and the first drawn on, the
    // entry (an earning's with its lot), the account written back, a feed row.
    let raw_ledger = |c: CustomerId, key: &str, points: i64| {
        raw.execute_batch("BEGIN IMMEDIATE").unwrap();
        let taken: Option<i64> = raw
            .prepare_cached("SELECT id FROM loyalty_entries WHERE idempotency_key = ?1")
            .unwrap()
            .query_row([key], |r| r.get(0))
            .optional()
            .unwrap();
        assert!(taken.is_none());
        let balance: i64 = raw
            .prepare_cached("SELECT balance FROM loyalty_accounts WHERE customer_id = ?1")
            .unwrap()
            .query_row([c.0], |r| r.get(0))
            .unwrap();
        let now = chrono::Utc::now().timestamp_micros();
        if points < 0 {
            let lot: (i64, i64) = raw
                .prepare_cached(
                    "SELECT id, remaining FROM loyalty_entries INDEXED BY loyalty_entries_open \
                     WHERE customer_id = ?1 AND remaining > 0 ORDER BY expires_at IS NULL, expires_at, id LIMIT 1",
                )
                .unwrap()
                .query_row([c.0], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            raw.prepare_cached("UPDATE loyalty_entries SET remaining = ?2 WHERE id = ?1")
                .unwrap()
                .execute(params![lot.0, lot.1 + points])
                .unwrap();
        }
        let (kind, remaining) = if points > 0 { ("earn", Some(points)) } else { ("redeem", None) };
        raw.prepare_cached(
            "INSERT INTO loyalty_entries (customer_id, kind, points, qualifying, idempotency_key, at, balance_after, \
             created_at, remaining, available_at, expires_at) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?5, ?7, ?5, ?8)",
        )
        .unwrap()
        .execute(params![c.0, kind, points, key, now, balance + points, remaining, remaining.map(|_| now + 1)])
        .unwrap();
        let e = raw.last_insert_rowid();
        raw.prepare_cached("UPDATE loyalty_accounts SET balance = ?2, updated_at = ?3 WHERE customer_id = ?1")
            .unwrap()
            .execute(params![c.0, balance + points, now])
            .unwrap();
        raw.prepare_cached(
            "INSERT INTO changes (entity, entity_id, op, at) VALUES ('loyalty_entry', ?1, 'insert', ?2)",
        )
        .unwrap()
        .execute(params![e, now])
        .unwrap();
        raw.execute_batch("COMMIT").unwrap();
    };
    let template = synth.orders().next().unwrap();
    let warm = (a.single / 10).max(1);
    for (n, &c) in targets[..warm].iter().enumerate() {
        loyal.earn_points(c, 10, &format!("W{stamp}-e{n}")).unwrap();
        loyal.redeem_points(c, 1, &format!("W{stamp}-r{n}")).unwrap();
        raw_write(c, &format!("W{stamp}-{n}"));
        raw_ledger(c, &format!("W{stamp}-xe{n}"), 10);
        raw_ledger(c, &format!("W{stamp}-xr{n}"), -1);
    }
    let (mut earn, mut redeem, mut order, mut rawl) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut raw_earn, mut raw_redeem) = (Vec::new(), Vec::new());
    for (b, block) in targets.chunks(1_000).enumerate() {
        for (n, &c) in block.iter().enumerate() {
            let s = Instant::now();
            loyal.earn_points(c, 10, &format!("B{stamp}-e{b}-{n}")).unwrap();
            earn.push(s.elapsed());
        }
        for (n, &c) in block.iter().enumerate() {
            let s = Instant::now();
            loyal.redeem_points(c, 1, &format!("B{stamp}-r{b}-{n}")).unwrap();
            redeem.push(s.elapsed());
        }
        for (n, &c) in block.iter().enumerate().take(250) {
            let o = NewOrder {
                external_id: format!("B{stamp}-o{b}-{n}"),
                customer_id: Some(c),
                customer_external_id: None,
                status: Some(OrderStatus::Completed),
                ..template.clone()
            };
            let s = Instant::now();
            loyal.record_order(&o).unwrap();
            order.push(s.elapsed());
        }
        for (n, &c) in block.iter().enumerate() {
            let s = Instant::now();
            raw_write(c, &format!("B{stamp}-{b}-{n}"));
            rawl.push(s.elapsed());
        }
        for (n, &c) in block.iter().enumerate() {
            let s = Instant::now();
            raw_ledger(c, &format!("B{stamp}-xe{b}-{n}"), 10);
            raw_earn.push(s.elapsed());
        }
        for (n, &c) in block.iter().enumerate() {
            let s = Instant::now();
            raw_ledger(c, &format!("B{stamp}-xr{b}-{n}"), -1);
            raw_redeem.push(s.elapsed());
        }
    }
    for v in [&mut earn, &mut redeem, &mut order, &mut rawl, &mut raw_earn, &mut raw_redeem] {
        v.sort();
    }
    let median_raw = percentile(&rawl, 0.5);
    let mut single = |what: &str, v: &[Duration], note: &str| {
        let m = percentile(v, 0.5);
        row(
            what,
            format!("median {}", us(m)),
            format!(
                "p99 {}; {:.1}x raw; {} calls{note}",
                us(percentile(v, 0.99)),
                m.as_secs_f64() / median_raw.as_secs_f64(),
                v.len()
            ),
        );
    };
    single("raw rusqlite: one-row transaction", &rawl, "; the baseline");
    let ceiling = |what: &str| {
        format!("; the ceiling for a correct call in this schema (key lookup, account read and write, entry, feed row, {what})")
    };
    single("raw rusqlite: an earning's reads and rows", &raw_earn, &ceiling("its lot in its row"));
    single("raw rusqlite: a redemption's reads and rows", &raw_redeem, &ceiling("open lots read, one drawn on"));
    let of = |v: &[Duration], c: &[Duration]| {
        format!(
            " ({:.0}% of raw, target >= 70%; {:.0}% of its ceiling)",
            100.0 * median_raw.as_secs_f64() / percentile(v, 0.5).as_secs_f64(),
            100.0 * percentile(c, 0.5).as_secs_f64() / percentile(v, 0.5).as_secs_f64()
        )
    };
    single("ours: earn_points", &earn, &of(&earn, &raw_earn));
    single("ours: redeem_points", &redeem, &of(&redeem, &raw_redeem));
    single("ours: record_order earning", &order, "");
    let after = count(&check, "SELECT coalesce(sum(points), 0) FROM loyalty_entries");
    let after_bal = count(&check, "SELECT coalesce(sum(balance), 0) FROM loyalty_accounts");
    assert_eq!(after, after_bal, "balances are the sums of the entries");

    println!();
    println!("| measurement | figure | note |");
    println!("|---|---|---|");
    for (w, f, n) in rows {
        println!("| {w} | {f} | {n} |");
    }
}
