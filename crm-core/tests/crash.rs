//! Crash consistency of the SQLite file store.
//!
//! A child process (this test binary run again with `CRM_CRASH_CHILD` set) opens a copy of a
//! prepared database and runs one call: a bulk ingest (customers then orders, earning points),
//! a loyalty expiry run, a segment snapshot or an RFM refresh. The parent kills it with
//! SIGKILL after a random delay, reopens the file, and checks every invariant:
//!
//! - each customer's statistics equal a recomputation from its orders and interactions;
//! - each ledger's balance is the sum of its entries, and its unexpired lots hold exactly the
//!   spendable part;
//! - the change feed is contiguous (sequence 1, 2, 3, ...) and matches the rows: one insert
//!   entry per stored customer and order, a segment's members equal the replay of its
//!   enter and leave entries;
//! - no half-written batch or call: the customers and orders present are whole batches of the
//!   file in order; an expiry run, a snapshot or a refresh is there whole or not at all.
//!
//! Then it repeats the interrupted call, which must complete it (everything present once, all
//! due lots expired, the snapshot or the model current). Round 0 of each call runs it without
//! a kill and times it; the kills of the later rounds fall uniformly within that time.
//!
//! The seed is printed (run with `--nocapture` to see it); `CRM_CRASH_SEED=<n>` replays a
//! run, `CRM_CRASH_ROUNDS=<n>` sets the kills per call (default 3).
#![cfg(unix)]

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use crm_core::changes::Entity;
use crm_core::ingest::{IngestOptions, RecordKind};
use crm_core::loyalty::Program;
use crm_core::rule::parse;
use crm_core::segment::rfm::RfmConfig;
use crm_core::segment::NewSegment;
use crm_core::{Crm, CustomerId};

const CHILD: &str = "CRM_CRASH_CHILD";
const CUSTOMERS: usize = 1_200;
const BATCH: usize = 100;
/// One point per dollar, lots expire 30 days after the order (so every lot of the data,
/// all from 2025, is due now).
const PROGRAM: &str = r#"{"name": "P", "rates": {"USD": {"points": 1, "per_minor": 100}},
    "rules": [{"name": "base", "kind": "base"}], "expiry_days": 30}"#;
const SEGMENT: &str = "regulars";
const SEGMENT_RULE: &str = "order_count >= 2 and order_count <= 4";

fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

/// The RFM model the template holds, and the one the interrupted call computes.
fn rfm_config(second: bool) -> RfmConfig {
    RfmConfig {
        as_of: Some(if second { t(2026, 2, 1) } else { t(2026, 1, 1) }),
        ..RfmConfig::new("USD".parse().unwrap())
    }
}

fn customer_ext(i: usize) -> String {
    format!("C{i:05}")
}

/// Orders of customer `i`: 1 to 6, spread over 2025. `part` 0 is the first half of the
/// orders of every customer, part 1 the rest.
fn orders_of(i: usize, part: usize) -> Vec<(String, DateTime<Utc>, i64)> {
    let n = 1 + (i * 7 + 3) % 6;
    (0..n)
        .filter(|j| (*j < n.div_ceil(2)) == (part == 0))
        .map(|j| {
            let at = t(2025, 1, 1) + chrono::Duration::hours(((i * 131 + j * 977) % 8_000) as i64);
            (format!("O{i:05}-{j}"), at, 1_000 + ((i * 37 + j * 101) % 20_000) as i64)
        })
        .collect()
}

/// Writes `customers.jsonl`, `orders.jsonl` (every order) and, split in two,
/// `orders_a.jsonl` and `orders_b.jsonl` into `dir`.
fn write_data(dir: &Path) {
    let mut customers = String::new();
    for i in 0..CUSTOMERS {
        let country = ["SG", "CN", "DE", "US"][i % 4];
        writeln!(
            customers,
            r#"{{"external_id":"{}","name":"Customer {i}","email":"c{i}@example.com","address":{{"country":"{country}"}}}}"#,
            customer_ext(i)
        )
        .unwrap();
    }
    std::fs::write(dir.join("customers.jsonl"), customers).unwrap();
    let mut parts = [String::new(), String::new()];
    for i in 0..CUSTOMERS {
        for (part, text) in parts.iter_mut().enumerate() {
            for (ext, at, total) in orders_of(i, part) {
                writeln!(
                    text,
                    r#"{{"external_id":"{ext}","customer_external_id":"{}","occurred_at":"{}","currency":"USD","total_minor":{total}}}"#,
                    customer_ext(i),
                    at.to_rfc3339()
                )
                .unwrap();
            }
        }
    }
    std::fs::write(dir.join("orders.jsonl"), format!("{}{}", parts[0], parts[1])).unwrap();
    std::fs::write(dir.join("orders_a.jsonl"), &parts[0]).unwrap();
    std::fs::write(dir.join("orders_b.jsonl"), &parts[1]).unwrap();
}

fn opts() -> IngestOptions<'static> {
    IngestOptions { batch_size: BATCH, ..Default::default() }
}

fn ingest(crm: &Crm, kind: RecordKind, dir: &Path, file: &str) {
    let report = crm.ingest_file(kind, dir.join(file), opts()).unwrap();
    assert_eq!(report.failed, 0, "{file}: {:?}", report.errors.first());
}

/// The calls a child runs (and the parent repeats).
#[derive(Clone, Copy, Debug)]
enum Call {
    Ingest,
    Expire,
    Snapshot,
    Refresh,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Ingest => "ingest",
            Call::Expire => "expire",
            Call::Snapshot => "snapshot",
            Call::Refresh => "refresh",
        }
    }

    fn from_name(s: &str) -> Call {
        [Call::Ingest, Call::Expire, Call::Snapshot, Call::Refresh].into_iter().find(|c| c.name() == s).unwrap()
    }

    /// Builds the database the call starts from in `dir` (closed when this returns).
    fn prepare(self, dir: &Path) {
        write_data(dir);
        let crm = Crm::open(dir.join("crm.db")).unwrap();
        crm.set_loyalty_program(&Program::from_json(PROGRAM).unwrap()).unwrap();
        if let Call::Ingest = self {
            return;
        }
        ingest(&crm, RecordKind::Customers, dir, "customers.jsonl");
        ingest(&crm, RecordKind::Orders, dir, "orders_a.jsonl");
        match self {
            Call::Ingest => unreachable!(),
            Call::Expire | Call::Refresh => {
                ingest(&crm, RecordKind::Orders, dir, "orders_b.jsonl");
                crm.refresh_rfm(&rfm_config(false)).unwrap();
            }
            Call::Snapshot => {
                // Members after the first half of the orders; the second half moves
                // customers in and out, which the interrupted snapshot records.
                crm.create_segment(&NewSegment {
                    name: SEGMENT.into(),
                    rule: Some(parse(SEGMENT_RULE).unwrap()),
                    ..Default::default()
                })
                .unwrap();
                crm.snapshot_segment(SEGMENT).unwrap();
                ingest(&crm, RecordKind::Orders, dir, "orders_b.jsonl");
            }
        }
    }

    fn run(self, crm: &Crm, dir: &Path) {
        match self {
            Call::Ingest => {
                ingest(crm, RecordKind::Customers, dir, "customers.jsonl");
                ingest(crm, RecordKind::Orders, dir, "orders.jsonl");
            }
            Call::Expire => {
                crm.expire_points(Utc::now()).unwrap();
            }
            Call::Snapshot => {
                crm.snapshot_segment(SEGMENT).unwrap();
            }
            Call::Refresh => {
                crm.refresh_rfm(&rfm_config(true)).unwrap();
            }
        }
    }
}

/// The child's side: does nothing in a normal test run.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD) else { return };
    let (call, dir) = spec.split_once('\t').unwrap();
    let dir = PathBuf::from(dir);
    let crm = Crm::open(dir.join("crm.db")).unwrap();
    let mut out = std::io::stdout();
    writeln!(out, "crash-ready").unwrap();
    out.flush().unwrap();
    let started = Instant::now();
    Call::from_name(call).run(&crm, &dir);
    writeln!(out, "crash-done {}", started.elapsed().as_millis()).unwrap();
    out.flush().unwrap();
}

fn copy_db(from: &Path, to: &Path) {
    for f in ["customers.jsonl", "orders.jsonl", "orders_a.jsonl", "orders_b.jsonl", "crm.db", "crm.db-wal"] {
        if from.join(f).exists() {
            std::fs::copy(from.join(f), to.join(f)).unwrap();
        }
    }
}

/// Runs `call` in a child on `dir`, kills it `delay` after it is ready (never, if `None`)
/// and says how long it took when it finished first.
fn child(call: Call, dir: &Path, delay: Option<Duration>) -> Option<u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, format!("{}\t{}", call.name(), dir.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the child ended before it was ready");
        // libtest prints the test's name on the same line.
        if line.trim_end().ends_with("crash-ready") {
            break;
        }
    }
    if let Some(delay) = delay {
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
    }
    let status = child.wait().unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let done =
        rest.lines().find_map(|l| l.split_once("crash-done ").map(|(_, ms)| ms)).map(|ms| ms.trim().parse().unwrap());
    if delay.is_none() {
        assert!(status.success() && done.is_some(), "the child failed: {status}\n{rest}");
    }
    done
}

/// Kills a child running `call` at random moments and checks what each kill leaves.
fn trials(call: Call) {
    let seed = std::env::var("CRM_CRASH_SEED").ok().map_or_else(
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64,
        |s| s.parse().expect("CRM_CRASH_SEED is a number"),
    );
    let rounds: usize = std::env::var("CRM_CRASH_ROUNDS").map_or(3, |s| s.parse().unwrap());
    eprintln!("crash {}: CRM_CRASH_SEED={seed}", call.name());
    let mut rng = common::SplitMix(seed); // the kill delays
    let template = tempfile::tempdir().unwrap();
    call.prepare(template.path());
    let mut took = 0;
    for round in 0..=rounds {
        let dir = tempfile::tempdir().unwrap();
        copy_db(template.path(), dir.path());
        let delay = (round > 0).then(|| Duration::from_millis(rng.next() % (took * 9 / 10 + 1)));
        let done = child(call, dir.path(), delay);
        if round == 0 {
            took = done.unwrap();
        }
        eprintln!(
            "crash {} (seed {seed}) round {round}: {}",
            call.name(),
            match (delay, done) {
                (None, _) => format!("ran whole in {took} ms"),
                (Some(d), None) => format!("killed after {} ms", d.as_millis()),
                (Some(d), Some(_)) => format!("finished before the kill at {} ms", d.as_millis()),
            }
        );
        let context = format!("{} round {round} (CRM_CRASH_SEED={seed})", call.name());
        let crm = Crm::open(dir.path().join("crm.db")).unwrap();
        check(call, &crm, dir.path(), done.is_some(), &context);
        if done.is_none() {
            call.run(&crm, dir.path());
            check(call, &crm, dir.path(), true, &format!("{context}, repeated"));
        }
    }
}

/// Every invariant, and when `complete`, that the call's work is all there.
fn check(call: Call, crm: &Crm, dir: &Path, complete: bool, context: &str) {
    // Which customers and orders are present: whole batches of the files, in order.
    let customers: Vec<Option<CustomerId>> =
        (0..CUSTOMERS).map(|i| crm.customer_id_by_external_id(&customer_ext(i)).ok()).collect();
    let present = customers.iter().take_while(|c| c.is_some()).count();
    assert!(customers[present..].iter().all(Option::is_none), "{context}: customers present out of order");
    assert!(present % BATCH == 0 || present == CUSTOMERS, "{context}: {present} customers, not whole batches");
    let files: &[&str] = match call {
        Call::Ingest => &["orders.jsonl"],
        _ => &["orders_a.jsonl", "orders_b.jsonl"],
    };
    let mut orders = 0;
    for file in files {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let exts: Vec<&str> = text.lines().map(|l| l.split('"').nth(3).unwrap()).collect();
        let there: Vec<bool> = exts.iter().map(|e| crm.order_id_by_external_id(e).is_ok()).collect();
        let n = there.iter().take_while(|b| **b).count();
        assert!(there[n..].iter().all(|b| !b), "{context}: orders of {file} present out of order");
        assert!(n % BATCH == 0 || n == exts.len(), "{context}: {n} orders of {file}, not whole batches");
        assert!(n == 0 || present == CUSTOMERS, "{context}: orders before all their customers");
        orders += n;
    }
    let mut census = common::invariants::check_invariants(crm).unwrap_or_else(|e| panic!("{context}: {e}"));
    assert_eq!((census.customers.len(), census.orders), (present, orders), "{context}: what is stored");
    let points = census.points;
    if let Call::Ingest = call {
        // Nothing has expired yet: one point per whole dollar of each order present.
        for (i, id) in customers.iter().enumerate() {
            let Some(id) = id else { continue };
            let want: i64 = (0..2)
                .flat_map(|p| orders_of(i, p))
                .filter(|(e, _, _)| crm.order_id_by_external_id(e).is_ok())
                .map(|(_, _, m)| m / 100)
                .sum();
            assert_eq!(crm.points_balance(*id).unwrap().balance, want, "{context}: points of {id}");
        }
    }
    let members = &mut census.members;

    match call {
        Call::Ingest => {
            if complete {
                assert_eq!(
                    (present, orders),
                    (CUSTOMERS, (0..CUSTOMERS).map(|i| orders_of(i, 0).len() + orders_of(i, 1).len()).sum())
                );
            }
        }
        Call::Expire => {
            // One transaction: every due lot expired, or none.
            let due = crm.expire_points_dry_run(Utc::now()).unwrap();
            assert!(due.lots == 0 || points == due.points, "{context}: {due:?} due with {points} points held");
            if complete {
                assert_eq!((due.lots, points), (0, 0), "{context}: after the expiry run");
            }
        }
        Call::Snapshot => {
            // Dynamic members are evaluated live; the feed's enter and leave entries replay
            // the last snapshot: the template's (before the second half of the orders) or the
            // new one, whole.
            let seg = crm.segment(SEGMENT).unwrap();
            let replayed = members.remove(&(Entity::Segment, seg.id.0)).unwrap_or_default();
            let now: BTreeSet<i64> = page_all(|after| crm.segment_members(SEGMENT, after, 10_000));
            let before: BTreeSet<i64> = customers
                .iter()
                .enumerate()
                .filter(|(i, _)| (2..=4).contains(&orders_of(*i, 0).len()))
                .map(|(_, c)| c.unwrap().0)
                .collect();
            assert_ne!(before, now, "the second half of the orders changes the members");
            if complete {
                assert_eq!(replayed, now, "{context}: the feed after the snapshot");
                // The stored snapshot is the one the feed says: another finds nothing new.
                let again = crm.snapshot_segment(SEGMENT).unwrap();
                assert!(again.entered.is_empty() && again.left.is_empty(), "{context}: {again:?}");
            } else {
                assert!(replayed == before || replayed == now, "{context}: the feed holds neither snapshot");
            }
        }
        Call::Refresh => {
            let model = crm.rfm_model().unwrap().unwrap();
            let second = model.as_of == rfm_config(true).as_of.unwrap();
            assert!(
                second || model.as_of == rfm_config(false).as_of.unwrap(),
                "{context}: model as of {}",
                model.as_of
            );
            assert!(second || !complete, "{context}: the refresh is not there");
            // The scores stored are those of the model stored, all of them.
            let table = crm.compute_rfm(&rfm_config(second)).unwrap();
            assert_eq!(table.model.population, model.population, "{context}: population");
            let scored: BTreeSet<CustomerId> = table.scores.iter().map(|s| s.customer_id).collect();
            for s in &table.scores {
                assert_eq!(crm.rfm_of(s.customer_id).unwrap().as_ref(), Some(s), "{context}: RFM of {}", s.customer_id);
            }
            for id in customers.iter().flatten().filter(|c| !scored.contains(c)) {
                assert_eq!(crm.rfm_of(*id).unwrap(), None, "{context}: RFM of {id}");
            }
        }
    }
}

/// Every id of a paged listing.
fn page_all(mut page: impl FnMut(Option<CustomerId>) -> crm_core::Result<Vec<CustomerId>>) -> BTreeSet<i64> {
    let mut all = BTreeSet::new();
    let mut after = None;
    loop {
        let ids = page(after).unwrap();
        let Some(last) = ids.last() else { break };
        after = Some(*last);
        all.extend(ids.iter().map(|c| c.0));
    }
    all
}

#[test]
fn killed_during_bulk_ingest() {
    trials(Call::Ingest);
}

#[test]
fn killed_during_an_expiry_run() {
    trials(Call::Expire);
}

#[test]
fn killed_during_a_segment_snapshot() {
    trials(Call::Snapshot);
}

#[test]
fn killed_during_an_rfm_refresh() {
    trials(Call::Refresh);
}
