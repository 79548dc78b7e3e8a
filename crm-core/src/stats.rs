//! Customer statistics: the one place that says how writes change them (only `completed`
//! orders count; single writes and bulk ingest both go through one accumulator), and the
//! statistics port ([`StatsStore`], [`StatsStoreMut`]) with the additive [`StatsDelta`].

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::analytics::Period;
use crate::customer::{CustomerId, CustomerStats};
use crate::error::Result;
use crate::interaction::Interaction;
use crate::interaction::InteractionStore;
use crate::money::{Currency, Money};
use crate::order::{Order, OrderScan, OrderStatus};
use crate::order::{OrderScanStore, OrderStore};

/// What [`StatsAcc::flush`] and the correction paths need of a write transaction.
pub(crate) trait StatsTx: StatsStoreMut + OrderStore + OrderScanStore + InteractionStore {}
impl<T: StatsStoreMut + OrderStore + OrderScanStore + InteractionStore + ?Sized> StatsTx for T {}

/// Statistics changes gathered during one transaction and written once per customer at the end.
#[derive(Debug, Default)]
pub(crate) struct StatsAcc {
    deltas: HashMap<CustomerId, StatsDelta>,
    refresh: HashSet<CustomerId>,
}

impl StatsAcc {
    fn delta(&mut self, c: CustomerId) -> &mut StatsDelta {
        self.deltas.entry(c).or_insert_with(|| StatsDelta { customer_id: c, ..StatsDelta::default() })
    }

    /// A new order was stored.
    pub fn order_added(&mut self, o: &Order) {
        if o.status != OrderStatus::Completed || self.refresh.contains(&o.customer_id) {
            return;
        }
        let d = self.delta(o.customer_id);
        d.orders += 1;
        d.first_order_at = Some(d.first_order_at.map_or(o.occurred_at, |t| t.min(o.occurred_at)));
        d.last_order_at = Some(d.last_order_at.map_or(o.occurred_at, |t| t.max(o.occurred_at)));
        match d.spend.iter_mut().find(|(c, _)| *c == o.total.currency) {
            Some((_, m)) => *m += o.total.minor,
            None => d.spend.push((o.total.currency, o.total.minor)),
        }
        d.purchases.push((o.total.currency, o.occurred_at, o.total.minor));
    }

    /// A new interaction was stored.
    pub fn interaction_added(&mut self, i: &Interaction) {
        if self.refresh.contains(&i.customer_id) {
            return;
        }
        let d = self.delta(i.customer_id);
        d.interactions += 1;
        d.last_interaction_at = Some(d.last_interaction_at.map_or(i.occurred_at, |t| t.max(i.occurred_at)));
    }

    /// Something was changed or removed that an additive delta cannot express: recompute
    /// this customer's statistics from the stored rows at flush time.
    pub fn recompute(&mut self, c: CustomerId) {
        self.deltas.remove(&c);
        self.refresh.insert(c);
    }

    /// Writes what was gathered for one customer so far, so that what reads their
    /// statistics next in this transaction (a loyalty condition) sees its earlier writes.
    pub(crate) fn settle(&mut self, tx: &mut (impl StatsTx + ?Sized), c: CustomerId) -> Result<()> {
        match self.deltas.remove(&c) {
            Some(d) => {
                tx.add_stats(&d)?;
                add_periods(tx, std::slice::from_ref(&d))
            }
            None => Ok(()),
        }
    }

    /// Writes everything gathered, once per customer.
    pub fn flush(self, tx: &mut (impl StatsTx + ?Sized)) -> Result<()> {
        for c in self.refresh {
            recompute(tx, c)?;
        }
        // In customer order, so that concurrent writers lock customers in one order.
        let mut deltas: Vec<StatsDelta> = self.deltas.into_values().collect();
        deltas.sort_unstable_by_key(|d| d.customer_id);
        tx.add_stats_many(&deltas)?;
        add_periods(tx, &deltas)
    }
}

/// Folds the deltas' purchases into their customers' period states: one read and one write
/// for them all. A customer with a purchase the states cannot place (see
/// [`PeriodState::add`]) has them recomputed from the stored orders instead.
fn add_periods(tx: &mut (impl StatsTx + ?Sized), deltas: &[StatsDelta]) -> Result<()> {
    let buyers: Vec<CustomerId> = deltas.iter().filter(|d| !d.purchases.is_empty()).map(|d| d.customer_id).collect();
    if buyers.is_empty() {
        return Ok(());
    }
    let mut stored: HashMap<CustomerId, Vec<PeriodState>> = HashMap::with_capacity(buyers.len());
    for (c, s) in tx.period_states_of(&buyers)? {
        stored.entry(c).or_default().push(s);
    }
    let mut out: Vec<(CustomerId, PeriodState)> = Vec::with_capacity(buyers.len());
    let mut redo: Vec<CustomerId> = Vec::new();
    for d in deltas.iter().filter(|d| !d.purchases.is_empty()) {
        match fold_purchases(stored.remove(&d.customer_id).unwrap_or_default(), &d.purchases) {
            Some(states) => out.extend(states.into_iter().map(|s| (d.customer_id, s))),
            None => redo.push(d.customer_id),
        }
    }
    tx.put_period_states(&out)?;
    redo.into_iter().try_for_each(|c| recompute_periods(tx, c))
}

/// The states `states` become with `purchases` (only those of the currencies bought in);
/// `None` when a purchase cannot be placed.
fn fold_purchases(
    mut states: Vec<PeriodState>,
    purchases: &[(Currency, DateTime<Utc>, i64)],
) -> Option<Vec<PeriodState>> {
    let mut purchases = purchases.to_vec();
    purchases.sort_unstable_by_key(|p| (p.0, p.1));
    let mut changed: Vec<PeriodState> = Vec::new();
    for (currency, at, minor) in purchases {
        if let Some(s) = changed.iter_mut().find(|s| s.currency == currency) {
            if !s.add(at, minor) {
                return None;
            }
            continue;
        }
        let mut s = match states.iter().position(|s| s.currency == currency) {
            Some(i) => states.swap_remove(i),
            None => {
                changed.push(PeriodState::first(currency, at, minor));
                continue;
            }
        };
        if !s.add(at, minor) {
            return None;
        }
        changed.push(s);
    }
    Some(changed)
}

/// Recomputes a customer's statistics from their stored orders and interactions.
pub(crate) fn recompute(tx: &mut (impl StatsTx + ?Sized), c: CustomerId) -> Result<()> {
    let agg = tx.aggregate_orders(c, OrderStatus::Completed)?;
    let (interaction_count, last_interaction_at): (i64, Option<DateTime<Utc>>) = tx.aggregate_interactions(c)?;
    tx.put_stats(&CustomerStats {
        customer_id: c,
        order_count: agg.count,
        first_order_at: agg.first_at,
        last_order_at: agg.last_at,
        total_spent: agg.spend.into_iter().filter(|(_, m)| *m != 0).map(|(cur, m)| Money::new(m, cur)).collect(),
        interaction_count,
        last_interaction_at,
    })?;
    recompute_periods(tx, c)
}

/// Recomputes a customer's period states from their completed orders (the spend rows of
/// currencies without any are gone already, or stay with zero orders).
fn recompute_periods(tx: &mut (impl StatsTx + ?Sized), c: CustomerId) -> Result<()> {
    let scan = OrderScan { status: Some(OrderStatus::Completed), customer: Some(c), ..OrderScan::default() };
    let mut purchases = Vec::new();
    tx.scan_orders(&scan, &mut |o| {
        purchases.push((o.currency, o.occurred_at, o.total_minor));
        Ok(())
    })?;
    // From no state, in time order, every purchase is placed.
    let mut states = fold_purchases(Vec::new(), &purchases).expect("purchases in time order are placed");
    let mut old: Vec<PeriodState> = tx.period_states_of(&[c])?.into_iter().map(|(_, s)| s).collect();
    old.retain(|o| !states.iter().any(|s| s.currency == o.currency));
    // Currencies whose last completed order went: no purchases left in them.
    states.extend(old.into_iter().map(|o| PeriodState { orders: 0, ..o }));
    let states: Vec<(CustomerId, PeriodState)> = states.into_iter().map(|s| (c, s)).collect();
    tx.put_period_states(&states)
}

/// A customer's completed purchases in one currency counted as a purchase summary counts
/// them (see [`Summary`](crate::analytics::Summary)): kept beside the spend by every write,
/// so that a summary as of now reads one row per customer instead of every order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodState {
    /// The currency.
    pub currency: Currency,
    /// Completed orders in the currency (0: none any more; the state is not read).
    pub orders: i64,
    /// The first completed order.
    pub first_at: DateTime<Utc>,
    /// The last completed order.
    pub last_at: DateTime<Utc>,
    /// UTC days with a completed order.
    pub days: i64,
    /// Spend on the first of those days.
    pub first_day_minor: i64,
    /// Weeks (Monday to Sunday, UTC) with a completed order.
    pub weeks: i64,
    /// Spend in the first of those weeks.
    pub first_week_minor: i64,
}

impl PeriodState {
    /// The state of one purchase.
    pub(crate) fn first(currency: Currency, at: DateTime<Utc>, minor: i64) -> PeriodState {
        PeriodState {
            currency,
            orders: 1,
            first_at: at,
            last_at: at,
            days: 1,
            first_day_minor: minor,
            weeks: 1,
            first_week_minor: minor,
        }
    }

    /// Counts one more purchase. `false` when it falls in a period strictly between the first
    /// and the last without being either, since whether that period had a purchase already
    /// is not known from the state: it must then be recomputed from the orders (the state is
    /// left half changed). Purchases in time order are always counted.
    pub(crate) fn add(&mut self, at: DateTime<Utc>, minor: i64) -> bool {
        if self.orders == 0 {
            *self = PeriodState::first(self.currency, at, minor);
            return true;
        }
        let (first, last) = (self.first_at, self.last_at);
        let counted = count(Period::Day, first, last, at, minor, &mut self.days, &mut self.first_day_minor)
            && count(Period::Week, first, last, at, minor, &mut self.weeks, &mut self.first_week_minor);
        if counted {
            self.orders += 1;
            self.first_at = first.min(at);
            self.last_at = last.max(at);
        }
        counted
    }

    /// `(periods with a purchase, spend in the first)` in `period`.
    pub(crate) fn periods(&self, period: Period) -> (i64, i64) {
        match period {
            Period::Day => (self.days, self.first_day_minor),
            Period::Week => (self.weeks, self.first_week_minor),
        }
    }
}

fn count(
    p: Period,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    at: DateTime<Utc>,
    minor: i64,
    periods: &mut i64,
    first_minor: &mut i64,
) -> bool {
    let (f, l, x) = (p.index(first), p.index(last), p.index(at));
    if x < f {
        *periods += 1;
        *first_minor = minor;
    } else if x == f {
        *first_minor += minor;
    } else if x > l {
        *periods += 1;
    } else if x != l {
        return false;
    }
    true
}

/// Additive change to a customer's statistics, used where many writes are folded into one:
/// counts add up, first times take the minimum, last times the maximum, spend adds per currency.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatsDelta {
    /// The customer.
    pub customer_id: CustomerId,
    /// Completed orders to add.
    pub orders: i64,
    /// Earliest completed order among those added.
    pub first_order_at: Option<DateTime<Utc>>,
    /// Latest completed order among those added.
    pub last_order_at: Option<DateTime<Utc>>,
    /// Spend to add, per currency.
    pub spend: Vec<(Currency, i64)>,
    /// Interactions to add.
    pub interactions: i64,
    /// Latest interaction among those added.
    pub last_interaction_at: Option<DateTime<Utc>>,
    /// The completed orders added, for the period states (currency, time, total); stores
    /// leave these to the domain, which writes the states through
    /// [`StatsStoreMut::put_period_states`].
    pub purchases: Vec<(Currency, DateTime<Utc>, i64)>,
}

/// The storage port of stats records: what the domain reads. Each store implements
/// it (in its own file); a read transaction has it, so does a write transaction.
pub trait StatsStore {
    /// A customer's statistics (zeroes when none are stored).
    fn get_stats(&mut self, customer: CustomerId) -> Result<CustomerStats>;
    /// The customers with the largest spend in `currency`, largest first (ties by id), at most `limit`.
    fn top_spenders(&mut self, currency: Currency, limit: usize) -> Result<Vec<(CustomerId, i64)>>;
    /// Spend in `currency` of every customer with some, ascending.
    fn spend_values(&mut self, currency: Currency) -> Result<Vec<i64>>;
    /// The period states of these customers (at most [`MAX_BATCH_SIZE`](crate::ingest::MAX_BATCH_SIZE)
    /// of them), one per customer and currency with a state (with zero orders too), by
    /// customer, then currency.
    fn period_states_of(&mut self, customers: &[CustomerId]) -> Result<Vec<(CustomerId, PeriodState)>>;
    /// Hands every period state with orders in `currency` (every currency when `None`) to
    /// `f` with its customer and the spend total in that currency, by currency, then
    /// customer. Stops at the first error of `f`.
    fn scan_period_states(
        &mut self,
        currency: Option<Currency>,
        f: &mut dyn FnMut(CustomerId, &PeriodState, i64) -> Result<()>,
    ) -> Result<()>;
}

/// The storage port of stats records: what the domain writes. Only a write
/// transaction has it.
pub trait StatsStoreMut: StatsStore {
    /// Overwrites a customer's statistics.
    fn put_stats(&mut self, s: &CustomerStats) -> Result<()>;
    /// Folds a delta into a customer's statistics (all but its purchases).
    fn add_stats(&mut self, d: &StatsDelta) -> Result<()>;
    /// Overwrites these customers' period states in these currencies (each pair once); a
    /// currency without a spend row gets one with a total of 0.
    fn put_period_states(&mut self, states: &[(CustomerId, PeriodState)]) -> Result<()>;
    /// Folds deltas of distinct customers into their statistics (the default folds them one
    /// by one).
    fn add_stats_many(&mut self, deltas: &[StatsDelta]) -> Result<()> {
        deltas.iter().try_for_each(|d| self.add_stats(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn period_states_count_days_and_weeks_and_know_what_they_cannot_place() {
        let usd = Currency::new("USD").unwrap();
        // Wednesday 4 March 2026.
        let mut s = PeriodState::first(usd, t("2026-03-04T10:00:00Z"), 100);
        assert!(s.add(t("2026-03-04T23:00:00Z"), 50)); // same day
        assert!(s.add(t("2026-03-06T09:00:00Z"), 10)); // later day, same week
        assert!(s.add(t("2026-03-10T09:00:00Z"), 1)); // the next week
        assert_eq!((s.orders, s.days, s.first_day_minor, s.weeks, s.first_week_minor), (4, 3, 150, 2, 160));
        // Earlier than everything: a new first day and week.
        assert!(s.add(t("2026-02-20T09:00:00Z"), 7));
        assert_eq!((s.days, s.first_day_minor, s.weeks, s.first_week_minor), (4, 7, 3, 7));
        assert_eq!((s.first_at, s.last_at), (t("2026-02-20T09:00:00Z"), t("2026-03-10T09:00:00Z")));
        // On the last day but earlier than the last order: known.
        assert!(s.add(t("2026-03-10T08:00:00Z"), 1));
        assert_eq!((s.orders, s.days, s.weeks), (6, 4, 3));
        // Between the first and the last day, on neither: the orders must tell.
        assert!(!s.clone().add(t("2026-03-05T12:00:00Z"), 1));
        // A state with no orders left starts again.
        let mut gone = PeriodState { orders: 0, ..s };
        assert!(gone.add(t("2026-03-05T12:00:00Z"), 9));
        assert_eq!(gone, PeriodState::first(usd, t("2026-03-05T12:00:00Z"), 9));
    }
}
