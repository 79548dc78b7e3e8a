//! The unit of work of one public call: what a write changes beyond its own rows. It owns
//! the statistics deltas and the loyalty cache (program and accounts read once per
//! transaction) and runs the hooks every order write goes through, in one order: the
//! ledger first (its conditions see the statistics without the order), then the
//! statistics. The order paths of [`Crm`](crate::Crm) and bulk ingest call the unit of
//! work and name no domain; a new derived record adds its hook here.

use chrono::{DateTime, Utc};

use crate::customer::CustomerId;
use crate::error::Result;
use crate::interaction::Interaction;
use crate::loyalty::{self, OrderLoyalty};
use crate::order::Order;
use crate::stats::StatsAcc;
use crate::store::StoreTx;

/// What one transaction changes beyond its own rows; [`flush`](Self::flush) writes it.
#[derive(Debug, Default)]
pub struct UnitOfWork {
    stats: StatsAcc,
    loyalty: OrderLoyalty,
}

impl UnitOfWork {
    /// Whether the order hooks read the store (a loyalty program runs: its conditions read
    /// the customer's orders and statistics). When they do not, a batch may store its new
    /// orders first and run [`order_added`](Self::order_added) for each afterwards, with
    /// the same result as one by one.
    pub fn order_hooks_read_store(&mut self, tx: &mut (impl StoreTx + ?Sized)) -> Result<bool> {
        self.loyalty.active(tx)
    }

    /// A new order was stored.
    pub fn order_added(&mut self, tx: &mut (impl StoreTx + ?Sized), o: &Order, now: DateTime<Utc>) -> Result<()> {
        loyalty::order_changed(tx, &mut self.loyalty, &mut self.stats, None, Some(o), now)?;
        self.stats.order_added(o);
        Ok(())
    }

    /// A stored order was corrected from `old` to `new` (amended, moved, status changed,
    /// refunded in part).
    pub fn order_corrected(
        &mut self,
        tx: &mut (impl StoreTx + ?Sized),
        old: &Order,
        new: &Order,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.stats.recompute(old.customer_id);
        self.stats.recompute(new.customer_id);
        loyalty::order_changed(tx, &mut self.loyalty, &mut self.stats, Some(old), Some(new), now)
    }

    /// An order is about to be deleted (it is still stored).
    pub fn order_deleting(&mut self, tx: &mut (impl StoreTx + ?Sized), o: &Order, now: DateTime<Utc>) -> Result<()> {
        loyalty::order_deleted(tx, &mut self.loyalty, &mut self.stats, o, now)?;
        self.stats.recompute(o.customer_id);
        Ok(())
    }

    /// A customer is about to be deleted with their `orders` (still stored).
    pub fn customer_deleting(
        &mut self,
        tx: &mut (impl StoreTx + ?Sized),
        c: CustomerId,
        orders: &[Order],
        now: DateTime<Utc>,
    ) -> Result<()> {
        loyalty::customer_deleted(tx, &mut self.loyalty, &mut self.stats, c, orders, now)
    }

    /// A new interaction was stored.
    pub fn interaction_added(&mut self, i: &Interaction) {
        self.stats.interaction_added(i);
    }

    /// Something changed that only a recomputation of `c`'s statistics expresses.
    pub fn recompute(&mut self, c: CustomerId) {
        self.stats.recompute(c);
    }

    /// Writes what was gathered: the loyalty accounts, then the statistics.
    pub fn flush(self, tx: &mut (impl StoreTx + ?Sized)) -> Result<()> {
        self.loyalty.flush(tx)?;
        self.stats.flush(tx)
    }
}
