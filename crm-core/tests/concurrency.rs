//! Concurrent writers on one database file: threads sharing one `Crm`, threads each with
//! their own connection, several connections opening a brand-new file at once, and
//! separate processes (this test binary re-run as a child). Every write must reach the
//! file exactly once, no caller may see "database is locked", and statistics must equal a
//! recomputation from the stored orders and interactions.

mod common;
use common::recomputed_stats;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::store::prelude::*;
use crm_core::store::sqlite::SCHEMA_VERSION;
use crm_core::{
    Crm, CustomerId, CustomerStats, Entity, InteractionKind, Money, NewCustomer, NewInteraction, NewOrder, Op,
    OrderStatus, Outcome,
};

const CURRENCIES: [&str; 3] = ["USD", "EUR", "JPY"];

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

/// The deterministic content every writer (thread or process) writes under its tag.
#[derive(Debug, Clone, Copy)]
struct Plan {
    customers: usize,
    orders: usize,
    interactions: usize,
}

fn customer_ext(tag: &str, c: usize) -> String {
    format!("{tag}-C{c}")
}

fn order_ext(tag: &str, o: usize) -> String {
    format!("{tag}-O{o}")
}

/// Status an order ends with: the writer first records every order as completed, then
/// changes some of them with a second `record_order` (an update).
fn final_status(o: usize) -> OrderStatus {
    match o % 7 {
        0 => OrderStatus::Refunded,
        3 => OrderStatus::Cancelled,
        _ => OrderStatus::Completed,
    }
}

fn order_input(tag: &str, plan: Plan, o: usize, status: OrderStatus) -> NewOrder {
    NewOrder {
        external_id: order_ext(tag, o),
        customer_id: None,
        customer_external_id: Some(customer_ext(tag, o % plan.customers)),
        occurred_at: t0() + Duration::minutes(o as i64 * 37) + Duration::microseconds(tag.len() as i64),
        status: Some(status),
        currency: CURRENCIES[o % 3].parse().unwrap(),
        total_minor: (o as i64 * 131) % 10_000 + tag.len() as i64,
        channel: Some("web".into()),
        items: None,
    }
}

fn interaction_input(tag: &str, plan: Plan, i: usize) -> NewInteraction {
    NewInteraction {
        // Every fourth interaction has no external id.
        external_id: (i % 4 != 3).then(|| format!("{tag}-I{i}")),
        customer_id: None,
        customer_external_id: Some(customer_ext(tag, (i * 3) % plan.customers)),
        kind: InteractionKind::Call,
        channel: None,
        direction: None,
        occurred_at: t0() + Duration::hours(i as i64 * 5),
        subject: Some(format!("call {i}")),
        body: None,
        score: None,
        payload: None,
    }
}

/// What one writer's calls reported.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    created: usize,
    updated: usize,
    unchanged: usize,
}

impl Tally {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    /// Change-feed entries the writes must have appended.
    fn changes(&self) -> usize {
        self.created + self.updated
    }

    fn plus(self, o: Tally) -> Tally {
        Tally {
            created: self.created + o.created,
            updated: self.updated + o.updated,
            unchanged: self.unchanged + o.unchanged,
        }
    }
}

/// Writes a plan's content, interleaving customers, orders, re-sends, status changes and
/// interactions, each call its own transaction. Any error is returned to the caller.
fn write_plan<S: Store>(crm: &Crm<S>, tag: &str, plan: Plan) -> crm_core::Result<Tally> {
    let mut t = Tally::default();
    for c in 0..plan.customers {
        let input = NewCustomer {
            external_id: Some(customer_ext(tag, c)),
            name: format!("{tag} customer {c}"),
            ..Default::default()
        };
        t.add(crm.upsert_customer(&input)?.outcome);
        if c % 10 == 0 {
            // A retry changes nothing; a new name is an update.
            t.add(crm.upsert_customer(&input)?.outcome);
            let renamed = NewCustomer { name: format!("{tag} customer {c} (renamed)"), ..input };
            t.add(crm.upsert_customer(&renamed)?.outcome);
        }
    }
    for o in 0..plan.orders {
        let input = order_input(tag, plan, o, OrderStatus::Completed);
        t.add(crm.record_order(&input)?.outcome);
        if o % 5 == 0 {
            t.add(crm.record_order(&input)?.outcome);
        }
        if o % 10 == 0 {
            // Interleave reads with the other writers' writes.
            crm.customer_stats(crm.get_customer_by_external_id(&customer_ext(tag, o % plan.customers))?.id)?;
        }
    }
    for o in (0..plan.orders).filter(|o| final_status(*o) != OrderStatus::Completed) {
        t.add(crm.record_order(&order_input(tag, plan, o, final_status(o)))?.outcome);
    }
    for i in 0..plan.interactions {
        let input = interaction_input(tag, plan, i);
        t.add(crm.add_interaction(&input)?.outcome);
        if i % 4 == 0 {
            t.add(crm.add_interaction(&input)?.outcome);
        }
    }
    Ok(t)
}

/// The tally a plan must produce.
fn expected_tally(plan: Plan) -> Tally {
    let mut t = Tally::default();
    for c in 0..plan.customers {
        t.created += 1;
        if c % 10 == 0 {
            t.unchanged += 1;
            t.updated += 1;
        }
    }
    for o in 0..plan.orders {
        t.created += 1;
        if o % 5 == 0 {
            t.unchanged += 1;
        }
        if final_status(o) != OrderStatus::Completed {
            t.updated += 1;
        }
    }
    for i in 0..plan.interactions {
        t.created += 1;
        if i % 4 == 0 {
            t.unchanged += 1;
        }
    }
    t
}

/// Statistics recomputed from the plan alone.
fn planned_stats(tag: &str, plan: Plan, c: usize, id: CustomerId) -> CustomerStats {
    let mut s = CustomerStats { customer_id: id, ..Default::default() };
    let mut spend: BTreeMap<&str, i64> = BTreeMap::new();
    for o in (0..plan.orders).filter(|o| o % plan.customers == c && final_status(*o) == OrderStatus::Completed) {
        let input = order_input(tag, plan, o, OrderStatus::Completed);
        s.order_count += 1;
        s.first_order_at = Some(s.first_order_at.map_or(input.occurred_at, |t| t.min(input.occurred_at)));
        s.last_order_at = Some(s.last_order_at.map_or(input.occurred_at, |t| t.max(input.occurred_at)));
        *spend.entry(input.currency.code()).or_default() += input.total_minor;
    }
    s.total_spent =
        spend.into_iter().filter(|(_, m)| *m != 0).map(|(k, m)| Money::new(m, k.parse().unwrap())).collect();
    for i in (0..plan.interactions).filter(|i| (i * 3) % plan.customers == c) {
        let at = interaction_input(tag, plan, i).occurred_at;
        s.interaction_count += 1;
        s.last_interaction_at = Some(s.last_interaction_at.map_or(at, |t| t.max(at)));
    }
    s
}

fn all_changes<S: Store>(crm: &Crm<S>) -> Vec<crm_core::Change> {
    let mut out: Vec<crm_core::Change> = Vec::new();
    loop {
        let page = crm.changes_since(out.last().map_or(0, |c| c.seq), 10_000).unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Checks that every writer's content is stored exactly once, that counts are exact, that
/// statistics equal both recomputations, and that the change feed has one entry per
/// Created/Updated write.
fn verify<S: Store>(crm: &Crm<S>, writers: &[(&str, Plan)], tally: Tally) {
    let want = writers.iter().fold(Tally::default(), |t, (_, p)| t.plus(expected_tally(*p)));
    assert_eq!(tally, want, "outcomes reported to the callers");
    let counts = crm.counts().unwrap();
    assert_eq!(counts.customers, writers.iter().map(|(_, p)| p.customers as i64).sum::<i64>());
    assert_eq!(counts.orders, writers.iter().map(|(_, p)| p.orders as i64).sum::<i64>());
    assert_eq!(counts.interactions, writers.iter().map(|(_, p)| p.interactions as i64).sum::<i64>());
    for (tag, plan) in writers {
        let ids: Vec<CustomerId> = (0..plan.customers)
            .map(|c| {
                let cust = crm.get_customer_by_external_id(&customer_ext(tag, c)).unwrap();
                let name =
                    if c % 10 == 0 { format!("{tag} customer {c} (renamed)") } else { format!("{tag} customer {c}") };
                assert_eq!(cust.name, name, "last write wins for {tag}-C{c}");
                cust.id
            })
            .collect();
        for o in 0..plan.orders {
            let stored = crm.get_order_by_external_id(&order_ext(tag, o)).unwrap();
            let input = order_input(tag, *plan, o, final_status(o));
            assert_eq!(stored.customer_id, ids[o % plan.customers], "{tag}-O{o}");
            assert_eq!(Some(stored.status), input.status, "{tag}-O{o}");
            assert_eq!(stored.total, Money::new(input.total_minor, input.currency), "{tag}-O{o}");
            assert_eq!(stored.occurred_at, input.occurred_at, "{tag}-O{o}");
        }
        for (c, id) in ids.iter().enumerate() {
            let stats = crm.customer_stats(*id).unwrap();
            assert_eq!(stats, planned_stats(tag, *plan, c, *id), "{tag}-C{c} against the plan");
            assert_eq!(stats, recomputed_stats(crm, *id), "{tag}-C{c} against the stored rows");
        }
    }
    let changes = all_changes(crm);
    assert_eq!(changes.len(), tally.changes(), "change-feed entries");
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
    let by_kind = |e: Entity, op: Op| changes.iter().filter(|c| c.entity == e && c.op == op).count();
    assert_eq!(by_kind(Entity::Customer, Op::Insert) as i64, counts.customers);
    assert_eq!(by_kind(Entity::Order, Op::Insert) as i64, counts.orders);
    assert_eq!(by_kind(Entity::Interaction, Op::Insert) as i64, counts.interactions);
}

fn user_version(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
}

#[test]
fn threads_share_one_crm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.sqlite");
    let crm = Arc::new(Crm::open(&path).unwrap());
    let plan = Plan { customers: 100, orders: 300, interactions: 12 };
    let tags = ["t0", "t1", "t2", "t3"];
    let start = Arc::new(Barrier::new(tags.len()));
    let handles: Vec<_> = tags
        .iter()
        .map(|tag| {
            let (crm, start, tag) = (Arc::clone(&crm), Arc::clone(&start), tag.to_string());
            thread::spawn(move || {
                start.wait();
                write_plan(&*crm, &tag, plan)
            })
        })
        .collect();
    let mut tally = Tally::default();
    for (tag, h) in tags.iter().zip(handles) {
        match h.join().expect("writer thread panicked") {
            Ok(t) => tally = tally.plus(t),
            Err(e) => panic!("writer {tag} got an error: {e}"),
        }
    }
    let writers: Vec<(&str, Plan)> = tags.iter().map(|t| (*t, plan)).collect();
    verify(&*crm, &writers, tally);
    drop(crm);
    // And the same again through a fresh connection: it was all committed.
    verify(&Crm::open(&path).unwrap(), &writers, tally);
}

#[test]
fn threads_with_their_own_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.sqlite");
    Crm::open(&path).unwrap();
    let plan = Plan { customers: 60, orders: 250, interactions: 20 };
    let tags = ["a", "bb"];
    let start = Arc::new(Barrier::new(tags.len()));
    let handles: Vec<_> = tags
        .iter()
        .map(|tag| {
            let (path, start, tag) = (path.clone(), Arc::clone(&start), tag.to_string());
            thread::spawn(move || {
                let crm = Crm::open(&path)?;
                start.wait();
                write_plan(&crm, &tag, plan)
            })
        })
        .collect();
    let mut tally = Tally::default();
    for (tag, h) in tags.iter().zip(handles) {
        match h.join().expect("writer thread panicked") {
            Ok(t) => tally = tally.plus(t),
            Err(e) => panic!("writer {tag} (own connection) got an error: {e}"),
        }
    }
    let writers: Vec<(&str, Plan)> = tags.iter().map(|t| (*t, plan)).collect();
    verify(&Crm::open(&path).unwrap(), &writers, tally);
}

/// Several connections open (and so migrate) a file that does not exist yet, all at once,
/// as two processes starting together would. Opening must wait like any writer does, never
/// fail with "database is locked". The race is narrow, so it is run on many new files.
#[test]
fn connections_open_a_new_file_at_once() {
    const ROUNDS: usize = 150;
    const OPENERS: usize = 8;
    const PLAN: Plan = Plan { customers: 2, orders: 3, interactions: 1 };
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let path = dir.path().join(format!("new-{round}.sqlite"));
        let start = Arc::new(Barrier::new(OPENERS));
        let handles: Vec<_> = (0..OPENERS)
            .map(|k| {
                let (path, start) = (path.clone(), Arc::clone(&start));
                thread::spawn(move || {
                    start.wait();
                    let crm = Crm::open(&path).map_err(|e| format!("open: {e}"))?;
                    if round % 10 == 0 {
                        write_plan(&crm, &format!("r{k}"), PLAN).map_err(|e| format!("write: {e}"))
                    } else {
                        crm.counts().map(|_| Tally::default()).map_err(|e| format!("read: {e}"))
                    }
                })
            })
            .collect();
        let mut tally = Tally::default();
        let mut ok = true;
        for (k, h) in handles.into_iter().enumerate() {
            match h.join().expect("opener thread panicked") {
                Ok(t) => tally = tally.plus(t),
                Err(e) => {
                    ok = false;
                    failures.push(format!("file {round}, connection {k}: {e}"));
                }
            }
        }
        if ok {
            assert_eq!(user_version(&path), SCHEMA_VERSION);
        }
        if ok && round % 10 == 0 {
            let tags: Vec<String> = (0..OPENERS).map(|k| format!("r{k}")).collect();
            let writers: Vec<(&str, Plan)> = tags.iter().map(|t| (t.as_str(), PLAN)).collect();
            verify(&Crm::open(&path).unwrap(), &writers, tally);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} concurrent opens of a new file failed (in {:?}):\n{}",
        failures.len(),
        ROUNDS * OPENERS,
        started.elapsed(),
        failures.join("\n")
    );
}

// ---- processes -----------------------------------------------------------------------

const CHILD_DB: &str = "CRM_CHILD_DB";
const CHILD_TAG: &str = "CRM_CHILD_TAG";
/// Unix time in milliseconds at which every writer starts, so that the processes overlap.
const CHILD_START: &str = "CRM_CHILD_START_MS";

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

fn sleep_until_ms(at: u64) {
    let now = unix_ms();
    if at > now {
        thread::sleep(StdDuration::from_millis(at - now));
    }
}
const PROCESS_PLAN: Plan = Plan { customers: 50, orders: 150, interactions: 12 };

/// Not a test of its own: the body of a child process started by
/// `processes_write_one_file`. Without the environment variables it does nothing.
#[test]
fn child_writer() {
    let (Some(db), Some(tag)) = (std::env::var_os(CHILD_DB), std::env::var(CHILD_TAG).ok()) else { return };
    let crm = Crm::open(&db).unwrap_or_else(|e| panic!("child {tag}: open failed: {e}"));
    sleep_until_ms(std::env::var(CHILD_START).ok().and_then(|s| s.parse().ok()).unwrap_or(0));
    let t = write_plan(&crm, &tag, PROCESS_PLAN).unwrap_or_else(|e| panic!("child {tag}: write failed: {e}"));
    println!("CHILD_DONE {tag} {} {} {}", t.created, t.updated, t.unchanged);
}

#[test]
fn processes_write_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite");
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    // The file exists before the children start (racing to create a new file is
    // `connections_open_a_new_file_at_once`); then all three processes write at once.
    let parent = Crm::open(&path).unwrap();
    let start_at = unix_ms() + 400;
    let children: Vec<_> = ["pa", "pbb"]
        .iter()
        .map(|tag| {
            let child = Command::new(&exe)
                .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
                .env(CHILD_DB, &path)
                .env(CHILD_TAG, tag)
                .env(CHILD_START, start_at.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (*tag, child)
        })
        .collect();
    sleep_until_ms(start_at);
    let parent_tally = write_plan(&parent, "parent", PROCESS_PLAN);
    let mut tally = Tally::default();
    for (tag, child) in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child {tag} failed ({}):\n{stdout}\n{stderr}", out.status);
        // The harness prints "test child_writer ... " on the same line, so look inside lines.
        let marker = format!("CHILD_DONE {tag} ");
        let line = stdout
            .lines()
            .find_map(|l| l.split_once(marker.as_str()).map(|(_, rest)| rest.trim()))
            .unwrap_or_else(|| panic!("child {tag} did not run the writer:\n{stdout}\n{stderr}"));
        let n: Vec<usize> = line.split(' ').map(|x| x.parse().unwrap()).collect();
        tally = tally.plus(Tally { created: n[0], updated: n[1], unchanged: n[2] });
    }
    tally = tally.plus(parent_tally.unwrap_or_else(|e| panic!("the parent's writes failed: {e}")));
    let writers = [("parent", PROCESS_PLAN), ("pa", PROCESS_PLAN), ("pbb", PROCESS_PLAN)];
    verify(&parent, &writers, tally);
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert!(started.elapsed() < StdDuration::from_secs(60), "took {:?}", started.elapsed());
}

/// On a file, reads use their own connections: they see the last committed state while a
/// write transaction is open in another thread, instead of waiting for it.
#[test]
fn reads_run_beside_an_open_write_transaction() {
    use crm_core::store::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let crm = Arc::new(Crm::open(dir.path().join("crm.db")).unwrap());
    crm.create_customer(&NewCustomer { name: "first".into(), ..Default::default() }).unwrap();
    let (inside_tx, inside_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let writer = {
        let crm = Arc::clone(&crm);
        std::thread::spawn(move || {
            crm.store()
                .write(|tx| {
                    let c = tx.get_customer(CustomerId(1))?.unwrap();
                    tx.insert_customer(&crm_core::Customer { name: "second".into(), external_id: None, ..c })?;
                    inside_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    Ok(())
                })
                .unwrap()
        })
    };
    inside_rx.recv().unwrap();
    // The write transaction is open and holds the writer connection: reads still answer,
    // from the last committed snapshot.
    assert_eq!(crm.counts().unwrap().customers, 1);
    assert_eq!(crm.get_customer(CustomerId(1)).unwrap().name, "first");
    release_tx.send(()).unwrap();
    writer.join().unwrap();
    assert_eq!(crm.counts().unwrap().customers, 2);
}
