//! Customer statistics: the one place that says how writes change them (only `completed`
//! orders count; single writes and bulk ingest both go through one accumulator), and the
//! statistics port ([`StatsStore`], [`StatsStoreMut`]) with the additive [`StatsDelta`].

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::customer::{CustomerId, CustomerStats};
use crate::error::Result;
use crate::interaction::Interaction;
use crate::interaction::InteractionStore;
use crate::money::{Currency, Money};
use crate::order::OrderStore;
use crate::order::{Order, OrderStatus};

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
    pub(crate) fn settle(
        &mut self,
        tx: &mut (impl StatsStoreMut + OrderStore + InteractionStore + ?Sized),
        c: CustomerId,
    ) -> Result<()> {
        match self.deltas.remove(&c) {
            Some(d) => tx.add_stats(&d),
            None => Ok(()),
        }
    }

    /// Writes everything gathered, once per customer.
    pub fn flush(self, tx: &mut (impl StatsStoreMut + OrderStore + InteractionStore + ?Sized)) -> Result<()> {
        for c in self.refresh {
            recompute(tx, c)?;
        }
        // In customer order, so that concurrent writers lock customers in one order.
        let mut deltas: Vec<StatsDelta> = self.deltas.into_values().collect();
        deltas.sort_unstable_by_key(|d| d.customer_id);
        tx.add_stats_many(&deltas)
    }
}

/// Recomputes a customer's statistics from their stored orders and interactions.
pub(crate) fn recompute(
    tx: &mut (impl StatsStoreMut + OrderStore + InteractionStore + ?Sized),
    c: CustomerId,
) -> Result<()> {
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
    })
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
}

/// The storage port of stats records: what the domain writes. Only a write
/// transaction has it.
pub trait StatsStoreMut: StatsStore {
    /// Overwrites a customer's statistics.
    fn put_stats(&mut self, s: &CustomerStats) -> Result<()>;
    /// Folds a delta into a customer's statistics.
    fn add_stats(&mut self, d: &StatsDelta) -> Result<()>;
    /// Folds deltas of distinct customers into their statistics (the default folds them one
    /// by one).
    fn add_stats_many(&mut self, deltas: &[StatsDelta]) -> Result<()> {
        deltas.iter().try_for_each(|d| self.add_stats(d))
    }
}
