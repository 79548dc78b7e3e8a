//! Property test: after any sequence of order and interaction writes (single calls, re-sends,
//! status and total changes, deletes, bulk ingest with duplicates inside a batch), every
//! customer's statistics equal a recomputation from what is stored, every write reports the
//! outcome a model predicts, the change feed holds exactly one entry per mutation, and the
//! purchase summaries (read from the period states every write keeps) equal the summaries
//! the model's completed orders give, by day and by week.

mod common;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::ingest::IngestOptions;
use crm_core::segment::rfm::RfmConfig;
use crm_core::store::prelude::*;
use crm_core::{
    Crm, CustomerId, CustomerStats, Entity, Error, InteractionId, InteractionKind, Money, NewCustomer, NewInteraction,
    NewOrder, Op, OrderId, OrderStatus, Outcome,
};
use proptest::prelude::*;
use proptest::test_runner::Config;

const CUSTOMERS: usize = 3;
const ORDER_POOL: usize = 6;
const INTERACTION_POOL: usize = 4;
const CURRENCIES: [&str; 3] = ["USD", "EUR", "JPY"];
const STATUSES: [OrderStatus; 3] = [OrderStatus::Completed, OrderStatus::Refunded, OrderStatus::Cancelled];
const KINDS: [InteractionKind; 3] = [InteractionKind::Call, InteractionKind::Email, InteractionKind::Note];

fn year_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

/// What the test knows about a stored order.
#[derive(Debug, Clone, PartialEq)]
struct OrderSpec {
    cust: usize,
    at: DateTime<Utc>,
    status: OrderStatus,
    currency: usize,
    total: i64,
}

/// What the test knows about a stored interaction.
#[derive(Debug, Clone, PartialEq)]
struct InterSpec {
    cust: usize,
    at: DateTime<Utc>,
    kind: InteractionKind,
    subject: Option<String>,
}

#[derive(Debug, Clone)]
enum Action {
    /// `record_order` with order external id `O{ext}`.
    Record { ext: usize, spec: OrderSpec },
    /// Re-send a stored order unchanged (picked by index among the stored ones).
    Resend { pick: usize },
    /// Re-send a stored order with another status.
    SetStatus { pick: usize, status: OrderStatus },
    /// Re-send a stored order with another total.
    SetTotal { pick: usize, total: i64 },
    /// Delete a stored order (or a missing id when none is stored).
    DeleteOrder { pick: usize },
    /// `add_interaction`, with external id `I{ext}` or none.
    AddInteraction { ext: Option<usize>, spec: InterSpec },
    /// Re-send a stored interaction's input (an upsert with an external id, a new record without).
    ResendInteraction { pick: usize },
    /// Delete a stored interaction (or a missing id when none is stored).
    DeleteInteraction { pick: usize },
    /// `ingest_orders` of a few rows, by customer external id.
    Ingest { rows: Vec<(usize, OrderSpec)>, batch_size: usize },
}

fn time_strategy() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        // Anywhere in 2025, to the microsecond.
        (0i64..365 * 86_400 * 1_000_000).prop_map(|us| year_start() + Duration::microseconds(us)),
        // A few fixed days, so that equal times (ties for first/last) happen.
        (0i64..4).prop_map(|d| year_start() + Duration::days(d * 90)),
    ]
}

fn order_spec() -> impl Strategy<Value = OrderSpec> {
    (0..CUSTOMERS, time_strategy(), prop::sample::select(STATUSES.to_vec()), 0..CURRENCIES.len(), 0i64..100_000)
        .prop_map(|(cust, at, status, currency, total)| OrderSpec { cust, at, status, currency, total })
}

fn inter_spec() -> impl Strategy<Value = InterSpec> {
    (
        0..CUSTOMERS,
        time_strategy(),
        prop::sample::select(KINDS.to_vec()),
        prop::option::of(prop::sample::select(vec!["hello", "follow-up"])),
    )
        .prop_map(|(cust, at, kind, subject)| InterSpec { cust, at, kind, subject: subject.map(str::to_owned) })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        5 => (0..ORDER_POOL, order_spec()).prop_map(|(ext, spec)| Action::Record { ext, spec }),
        2 => any::<usize>().prop_map(|pick| Action::Resend { pick }),
        2 => (any::<usize>(), prop::sample::select(STATUSES.to_vec()))
            .prop_map(|(pick, status)| Action::SetStatus { pick, status }),
        1 => (any::<usize>(), 0i64..100_000).prop_map(|(pick, total)| Action::SetTotal { pick, total }),
        1 => any::<usize>().prop_map(|pick| Action::DeleteOrder { pick }),
        3 => (prop::option::of(0..INTERACTION_POOL), inter_spec())
            .prop_map(|(ext, spec)| Action::AddInteraction { ext, spec }),
        1 => any::<usize>().prop_map(|pick| Action::ResendInteraction { pick }),
        1 => any::<usize>().prop_map(|pick| Action::DeleteInteraction { pick }),
        2 => (prop::collection::vec((0..ORDER_POOL, order_spec()), 1..5), any::<bool>(), 1usize..4)
            .prop_map(|(mut rows, dup, batch_size)| {
                if dup {
                    // An exact duplicate inside the batch.
                    rows.push(rows[0].clone());
                }
                Action::Ingest { rows, batch_size }
            }),
    ]
}

/// The test's own account of what is stored and of what the change feed must hold.
#[derive(Debug, Default)]
struct Model {
    customers: Vec<CustomerId>,
    orders: BTreeMap<String, (OrderId, OrderSpec)>,
    interactions: BTreeMap<i64, (Option<String>, InterSpec)>,
    inter_by_ext: HashMap<String, i64>,
    feed: Vec<(Entity, i64, Op)>,
}

impl Model {
    fn new_order(&self, ext: &str, s: &OrderSpec, by_external_id: bool) -> NewOrder {
        NewOrder {
            external_id: ext.to_owned(),
            customer_id: (!by_external_id).then(|| self.customers[s.cust]),
            customer_external_id: by_external_id.then(|| format!("C{}", s.cust)),
            occurred_at: s.at,
            status: Some(s.status),
            currency: CURRENCIES[s.currency].parse().unwrap(),
            total_minor: s.total,
            channel: None,
            items: None,
        }
    }

    fn new_interaction(&self, ext: Option<&str>, s: &InterSpec) -> NewInteraction {
        NewInteraction {
            external_id: ext.map(str::to_owned),
            customer_id: Some(self.customers[s.cust]),
            customer_external_id: None,
            kind: s.kind,
            channel: None,
            direction: None,
            occurred_at: s.at,
            subject: s.subject.clone(),
            body: None,
            score: None,
            payload: None,
        }
    }

    fn expected_order_outcome(&self, ext: &str, spec: &OrderSpec) -> Outcome {
        match self.orders.get(ext) {
            None => Outcome::Created,
            Some((_, old)) if old == spec => Outcome::Unchanged,
            Some(_) => Outcome::Updated,
        }
    }

    fn pick_order(&self, pick: usize) -> Option<(String, OrderId, OrderSpec)> {
        if self.orders.is_empty() {
            return None;
        }
        let (ext, (id, spec)) = self.orders.iter().nth(pick % self.orders.len()).unwrap();
        Some((ext.clone(), *id, spec.clone()))
    }

    fn pick_interaction(&self, pick: usize) -> Option<(i64, Option<String>, InterSpec)> {
        if self.interactions.is_empty() {
            return None;
        }
        let (id, (ext, spec)) = self.interactions.iter().nth(pick % self.interactions.len()).unwrap();
        Some((*id, ext.clone(), spec.clone()))
    }

    /// Statistics recomputed from the model: completed orders only; spend per currency,
    /// zero sums left out, sorted by currency code.
    fn expected_stats(&self, cust: usize) -> CustomerStats {
        let mut s = CustomerStats { customer_id: self.customers[cust], ..Default::default() };
        let mut spend: BTreeMap<&str, i64> = BTreeMap::new();
        for (_, o) in self.orders.values().filter(|(_, o)| o.cust == cust && o.status == OrderStatus::Completed) {
            s.order_count += 1;
            s.first_order_at = Some(s.first_order_at.map_or(o.at, |t| t.min(o.at)));
            s.last_order_at = Some(s.last_order_at.map_or(o.at, |t| t.max(o.at)));
            *spend.entry(CURRENCIES[o.currency]).or_default() += o.total;
        }
        s.total_spent =
            spend.into_iter().filter(|(_, m)| *m != 0).map(|(c, m)| Money::new(m, c.parse().unwrap())).collect();
        for (_, i) in self.interactions.values().filter(|(_, i)| i.cust == cust) {
            s.interaction_count += 1;
            s.last_interaction_at = Some(s.last_interaction_at.map_or(i.at, |t| t.max(i.at)));
        }
        s
    }
}

fn record<S: Store>(crm: &Crm<S>, m: &mut Model, ext: &str, spec: OrderSpec, by_external_id: bool) {
    let expect = m.expected_order_outcome(ext, &spec);
    let w = crm.record_order(&m.new_order(ext, &spec, by_external_id)).unwrap();
    assert_eq!(w.outcome, expect, "record_order({ext}, {spec:?}); stored: {:?}", m.orders.get(ext));
    assert_eq!(w.record.external_id, ext);
    assert_eq!(w.record.customer_id, m.customers[spec.cust]);
    assert_eq!(w.record.occurred_at, spec.at);
    assert_eq!(w.record.status, spec.status);
    assert_eq!(w.record.total, Money::new(spec.total, CURRENCIES[spec.currency].parse().unwrap()));
    match expect {
        Outcome::Created => m.feed.push((Entity::Order, w.record.id.0, Op::Insert)),
        Outcome::Updated => {
            assert_eq!(w.record.id, m.orders[ext].0, "an update keeps the order id");
            m.feed.push((Entity::Order, w.record.id.0, Op::Update));
        }
        Outcome::Unchanged => assert_eq!(w.record.id, m.orders[ext].0),
    }
    m.orders.insert(ext.to_owned(), (w.record.id, spec));
}

fn add_interaction<S: Store>(crm: &Crm<S>, m: &mut Model, ext: Option<String>, spec: InterSpec) {
    let stored = ext.as_ref().and_then(|e| m.inter_by_ext.get(e)).copied();
    let expect = match stored {
        None => Outcome::Created,
        Some(id) if m.interactions[&id].1 == spec => Outcome::Unchanged,
        Some(_) => Outcome::Updated,
    };
    let w = crm.add_interaction(&m.new_interaction(ext.as_deref(), &spec)).unwrap();
    assert_eq!(w.outcome, expect, "add_interaction({ext:?}, {spec:?})");
    assert_eq!(w.record.customer_id, m.customers[spec.cust]);
    assert_eq!(w.record.occurred_at, spec.at);
    let id = w.record.id.0;
    match expect {
        Outcome::Created => m.feed.push((Entity::Interaction, id, Op::Insert)),
        Outcome::Updated => {
            assert_eq!(Some(id), stored);
            m.feed.push((Entity::Interaction, id, Op::Update));
        }
        Outcome::Unchanged => assert_eq!(Some(id), stored),
    }
    if let Some(e) = &ext {
        m.inter_by_ext.insert(e.clone(), id);
    }
    m.interactions.insert(id, (ext, spec));
}

fn apply<S: Store>(crm: &Crm<S>, m: &mut Model, a: &Action) {
    match a {
        Action::Record { ext, spec } => record(crm, m, &format!("O{ext}"), spec.clone(), false),
        Action::Resend { pick } => {
            if let Some((ext, _, spec)) = m.pick_order(*pick) {
                record(crm, m, &ext, spec, *pick % 2 == 0);
            }
        }
        Action::SetStatus { pick, status } => {
            if let Some((ext, _, spec)) = m.pick_order(*pick) {
                record(crm, m, &ext, OrderSpec { status: *status, ..spec }, false);
            }
        }
        Action::SetTotal { pick, total } => {
            if let Some((ext, _, spec)) = m.pick_order(*pick) {
                record(crm, m, &ext, OrderSpec { total: *total, ..spec }, false);
            }
        }
        Action::DeleteOrder { pick } => match m.pick_order(*pick) {
            Some((ext, id, _)) => {
                crm.delete_order(id).unwrap();
                m.orders.remove(&ext);
                m.feed.push((Entity::Order, id.0, Op::Delete));
                assert!(matches!(crm.get_order_by_external_id(&ext), Err(Error::NotFound { .. })));
            }
            None => {
                let e = crm.delete_order(OrderId(1_000_000)).unwrap_err();
                assert!(matches!(e, Error::NotFound { entity: Entity::Order, .. }), "{e}");
            }
        },
        Action::AddInteraction { ext, spec } => add_interaction(crm, m, ext.map(|e| format!("I{e}")), spec.clone()),
        Action::ResendInteraction { pick } => {
            if let Some((_, ext, spec)) = m.pick_interaction(*pick) {
                add_interaction(crm, m, ext, spec);
            }
        }
        Action::DeleteInteraction { pick } => match m.pick_interaction(*pick) {
            Some((id, ext, _)) => {
                crm.delete_interaction(InteractionId(id)).unwrap();
                m.interactions.remove(&id);
                if let Some(e) = ext {
                    m.inter_by_ext.remove(&e);
                }
                m.feed.push((Entity::Interaction, id, Op::Delete));
                assert!(matches!(crm.get_interaction(InteractionId(id)), Err(Error::NotFound { .. })));
            }
            None => {
                let e = crm.delete_interaction(InteractionId(1_000_000)).unwrap_err();
                assert!(matches!(e, Error::NotFound { entity: Entity::Interaction, .. }), "{e}");
            }
        },
        Action::Ingest { rows, batch_size } => {
            // Rows apply in order; outcomes and feed entries follow the model row by row. The
            // first row with an external id wins: a later one in the same ingest is refused.
            let (mut created, mut updated, mut unchanged, mut failed) = (0, 0, 0, 0);
            let mut pending: Vec<(String, Op)> = Vec::new();
            let mut inputs = Vec::new();
            let mut applied = std::collections::HashSet::new();
            for (ext, spec) in rows {
                let ext = format!("O{ext}");
                inputs.push(m.new_order(&ext, spec, true));
                if !applied.insert(ext.clone()) {
                    failed += 1;
                    continue;
                }
                match m.expected_order_outcome(&ext, spec) {
                    Outcome::Created => {
                        created += 1;
                        pending.push((ext.clone(), Op::Insert));
                    }
                    Outcome::Updated => {
                        updated += 1;
                        pending.push((ext.clone(), Op::Update));
                    }
                    Outcome::Unchanged => unchanged += 1,
                }
                let id = m.orders.get(&ext).map_or(OrderId(0), |(id, _)| *id);
                m.orders.insert(ext, (id, spec.clone()));
            }
            let report =
                crm.ingest_orders(inputs, IngestOptions { batch_size: *batch_size, ..Default::default() }).unwrap();
            assert_eq!(
                (report.rows, report.created, report.updated, report.unchanged, report.failed),
                (rows.len() as u64, created, updated, unchanged, failed),
                "ingest of {rows:?}: {report:?}"
            );
            // Learn the ids of the orders this batch created.
            for (ext, (id, _)) in m.orders.iter_mut() {
                if id.0 == 0 {
                    *id = crm.get_order_by_external_id(ext).unwrap().id;
                }
            }
            for (ext, op) in pending {
                m.feed.push((Entity::Order, m.orders[&ext].0 .0, op));
            }
        }
    }
}

fn setup<S: Store>(crm: &Crm<S>) -> Model {
    let mut m = Model::default();
    for n in 0..CUSTOMERS {
        let w = crm
            .upsert_customer(&NewCustomer {
                external_id: Some(format!("C{n}")),
                name: format!("Customer {n}"),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(w.outcome, Outcome::Created);
        m.feed.push((Entity::Customer, w.record.id.0, Op::Insert));
        m.customers.push(w.record.id);
    }
    m
}

fn check_stats<S: Store>(crm: &Crm<S>, m: &Model, context: &str) {
    let expected: Vec<CustomerStats> = (0..CUSTOMERS).map(|c| m.expected_stats(c)).collect();
    for (c, want) in expected.iter().enumerate() {
        assert_eq!(&crm.customer_stats(m.customers[c]).unwrap(), want, "customer C{c} {context}");
    }
    // RFM from the statistics reads the spend rows' copies of each customer's order count
    // and last order: they must follow every write too.
    for currency in CURRENCIES {
        let cur = currency.parse().unwrap();
        let table = crm.compute_rfm(&RfmConfig::new(cur)).unwrap();
        let got: Vec<(CustomerId, i64, i64, i64)> =
            table.scores.iter().map(|s| (s.customer_id, s.frequency, s.monetary_minor, s.recency_days)).collect();
        let want: Vec<(CustomerId, i64, i64, i64)> = expected
            .iter()
            .filter_map(|s| {
                let spent = s.total_spent.iter().find(|m| m.currency == cur).map_or(0, |m| m.minor);
                let last = s.last_order_at?;
                (spent > 0).then(|| {
                    let days = (table.model.as_of - last).num_microseconds().unwrap().div_euclid(86_400_000_000);
                    (s.customer_id, s.order_count, spent, days)
                })
            })
            .collect();
        assert_eq!(got, want, "RFM inputs in {currency} {context}");
    }
    check_summaries(crm, m, context);
}

/// The summaries equal a replay of the model's completed orders.
fn check_summaries<S: Store>(crm: &Crm<S>, m: &Model, context: &str) {
    let mut per = common::Purchases::new();
    for (_, s) in m.orders.values().filter(|(_, s)| s.status == OrderStatus::Completed) {
        per.entry((CURRENCIES[s.currency].to_owned(), m.customers[s.cust])).or_default().push((s.at, s.total));
    }
    if let Err(e) = common::check_summaries_of(crm, &per) {
        panic!("{e} {context}");
    }
}

/// Everything the model knows, read back through the facade.
fn check_all<S: Store>(crm: &Crm<S>, m: &Model) {
    check_stats(crm, m, "at the end");
    let counts = crm.counts().unwrap();
    assert_eq!(counts.customers, CUSTOMERS as i64);
    assert_eq!(counts.orders, m.orders.len() as i64);
    assert_eq!(counts.interactions, m.interactions.len() as i64);
    for n in 0..ORDER_POOL {
        let ext = format!("O{n}");
        match (m.orders.get(&ext), crm.get_order_by_external_id(&ext)) {
            (Some((id, s)), Ok(o)) => {
                assert_eq!(o.id, *id);
                assert_eq!(o.customer_id, m.customers[s.cust]);
                assert_eq!((o.occurred_at, o.status), (s.at, s.status));
                assert_eq!(o.total, Money::new(s.total, CURRENCIES[s.currency].parse().unwrap()));
            }
            (None, Err(Error::NotFound { .. })) => {}
            (want, got) => panic!("order {ext}: model {want:?}, store {got:?}"),
        }
    }
    for (id, (ext, s)) in &m.interactions {
        let i = crm.get_interaction(InteractionId(*id)).unwrap();
        assert_eq!(&i.external_id, ext);
        assert_eq!((i.customer_id, i.occurred_at, i.kind), (m.customers[s.cust], s.at, s.kind));
        assert_eq!(i.subject, s.subject);
    }
    // The feed: one entry per Created/Updated outcome and per delete, in order, none for Unchanged.
    let mut feed = Vec::new();
    let mut last = 0;
    loop {
        let page = crm.changes_since(last, 7).unwrap();
        let Some(end) = page.last() else { break };
        last = end.seq;
        feed.extend(page);
    }
    assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq && w[0].at <= w[1].at), "feed order: {feed:?}");
    let got: Vec<(Entity, i64, Op)> = feed.iter().map(|c| (c.entity, c.id, c.op)).collect();
    assert_eq!(got.len(), m.feed.len(), "number of change-feed entries");
    assert_eq!(got, m.feed);
}

fn run<S: Store>(crm: &Crm<S>, actions: &[Action]) -> Model {
    let mut m = setup(crm);
    for (n, a) in actions.iter().enumerate() {
        apply(crm, &mut m, a);
        check_stats(crm, &m, &format!("after action #{n} {a:?}"));
    }
    check_all(crm, &m);
    m
}

proptest! {
    #![proptest_config(Config { cases: 64, failure_persistence: None, ..Config::default() })]

    #[test]
    fn stats_equal_a_recomputation_in_memory(actions in prop::collection::vec(action(), 0..=40)) {
        let crm = common::test_crm();
        run(&crm, &actions);
    }
}

fn at(day: i64, hour: i64) -> DateTime<Utc> {
    year_start() + Duration::days(day) + Duration::hours(hour)
}

fn spec(cust: usize, at: DateTime<Utc>, status: OrderStatus, currency: usize, total: i64) -> OrderSpec {
    OrderSpec { cust, at, status, currency, total }
}

fn inter(cust: usize, at: DateTime<Utc>, subject: Option<&str>) -> InterSpec {
    InterSpec { cust, at, kind: InteractionKind::Call, subject: subject.map(str::to_owned) }
}

/// A fixed sequence touching every kind of action.
fn fixed_sequence() -> Vec<Action> {
    use Action::*;
    use OrderStatus::*;
    vec![
        Record { ext: 0, spec: spec(0, at(10, 0), Completed, 0, 2599) },
        Record { ext: 1, spec: spec(0, at(20, 0), Completed, 1, 1000) },
        Record { ext: 2, spec: spec(1, at(5, 0), Refunded, 2, 500) },
        Resend { pick: 0 },
        SetStatus { pick: 0, status: Refunded },
        SetStatus { pick: 0, status: Completed },
        SetTotal { pick: 1, total: 0 },
        Record { ext: 1, spec: spec(2, at(20, 0), Completed, 1, 0) }, // moves O1 to C2
        SetStatus { pick: 2, status: Completed },
        AddInteraction { ext: None, spec: inter(0, at(3, 0), None) },
        AddInteraction { ext: Some(0), spec: inter(1, at(40, 0), Some("hello")) },
        ResendInteraction { pick: 1 },
        AddInteraction { ext: Some(0), spec: inter(1, at(41, 0), Some("hello")) },
        ResendInteraction { pick: 0 }, // no external id: a second record
        Ingest {
            rows: vec![
                (3, spec(0, at(1, 0), Completed, 0, 100)),
                (3, spec(0, at(1, 0), Completed, 0, 100)),
                (3, spec(0, at(1, 0), Cancelled, 0, 100)),
                (4, spec(1, at(100, 5), Completed, 2, 7)),
                (0, spec(0, at(10, 0), Completed, 0, 2599)),
                (4, spec(2, at(100, 5), Completed, 2, 7)),
            ],
            batch_size: 2,
        },
        Ingest {
            rows: vec![(5, spec(2, at(200, 0), Completed, 0, 99_999)), (5, spec(2, at(200, 0), Completed, 0, 1))],
            batch_size: 10,
        },
        DeleteOrder { pick: 0 },
        DeleteInteraction { pick: 1 },
        DeleteInteraction { pick: 0 },
        DeleteOrder { pick: 100 },
    ]
}

#[test]
fn stats_equal_a_recomputation_on_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.sqlite");
    let m = {
        let crm = Crm::open(&path).unwrap();
        run(&crm, &fixed_sequence())
    };
    // What was committed is what a new connection reads.
    let crm = Crm::open(&path).unwrap();
    check_all(&crm, &m);
}

#[test]
fn fixed_sequence_in_memory() {
    let crm = common::test_crm();
    run(&crm, &fixed_sequence());
}
