//! The order port: how the domain reads and writes orders, their items and refunds.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::money::Currency;
use crate::order::{Order, OrderId, OrderRefund, OrderStatus};

/// Aggregate of a customer's orders of one status, computed by the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderAggregate {
    /// Number of orders.
    pub count: i64,
    /// Earliest.
    pub first_at: Option<DateTime<Utc>>,
    /// Latest.
    pub last_at: Option<DateTime<Utc>>,
    /// Sum of totals per currency, sorted by currency.
    pub spend: Vec<(Currency, i64)>,
}

/// The storage port of order records: what the domain reads. Each store implements
/// it (in its own file); a read transaction has it, so does a write transaction.
pub trait OrderStore {
    /// Resolves an order's external id to its store id.
    fn order_id_by_external_id(&mut self, external_id: &str) -> Result<Option<OrderId>>;
    /// Reads an order with its items.
    fn get_order(&mut self, id: OrderId) -> Result<Option<Order>>;
    /// Reads an order by external id.
    fn order_by_external_id(&mut self, external_id: &str) -> Result<Option<Order>>;
    /// Ids of a customer's orders.
    fn order_ids_of(&mut self, customer: CustomerId) -> Result<Vec<OrderId>>;
    /// Number of orders.
    fn count_orders(&mut self) -> Result<i64>;
    /// The refund with this key.
    fn refund_by_key(&mut self, key: &str) -> Result<Option<OrderRefund>>;
    /// An order's refunds, oldest first.
    fn refunds_of_order(&mut self, order: OrderId) -> Result<Vec<OrderRefund>>;
    /// Aggregate of a customer's orders with the given status.
    fn aggregate_orders(&mut self, customer: CustomerId, status: OrderStatus) -> Result<OrderAggregate>;
    /// A customer's orders of every status (at or after `since`) with their line items, oldest first.
    fn orders_of(&mut self, customer: CustomerId, since: Option<DateTime<Utc>>) -> Result<Vec<Order>>;
    /// A customer's completed orders in `(since, until]`: the spend in `currency`, or with
    /// `None` their number.
    fn completed_between(
        &mut self,
        customer: CustomerId,
        currency: Option<Currency>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<i64>;
}

/// The storage port of order records: what the domain writes. Only a write
/// transaction has it.
pub trait OrderStoreMut: OrderStore {
    /// Stores an order with its items; `None` (and nothing written) when its external id is taken.
    fn insert_order(&mut self, o: &Order) -> Result<Option<OrderId>>;
    /// Overwrites a stored order and its items.
    fn update_order(&mut self, o: &Order) -> Result<()>;
    /// Removes an order, its items and its refunds.
    fn delete_order(&mut self, id: OrderId) -> Result<()>;
    /// Stores a refund of an order (its key is unused: the caller looked it up).
    fn insert_refund(&mut self, r: &OrderRefund) -> Result<()>;

    // Bulk methods, for ingest batches: each default does the single-record method once per
    // record; a store where a statement costs a round trip overrides them with set-based ones.

    /// The ids of the stored orders with these external ids, by external id (as a writer
    /// reads them: on a store whose writers run side by side, no other writer runs beside
    /// this transaction from then on).
    fn order_ids_by_external_ids(&mut self, external_ids: &[&str]) -> Result<HashMap<String, OrderId>> {
        let mut found = HashMap::with_capacity(external_ids.len());
        for ext in external_ids {
            if let Some(id) = self.order_id_by_external_id(ext)? {
                found.insert((*ext).to_owned(), id);
            }
        }
        Ok(found)
    }
    /// Stores new orders with their items, in order, and sets their ids. None of their
    /// external ids may be stored (the caller looked them up in this transaction): one
    /// that is fails the call.
    fn insert_new_orders(&mut self, orders: &mut [Order]) -> Result<()> {
        for o in orders {
            o.id = self
                .insert_order(o)?
                .ok_or_else(|| Error::Conflict(format!("an order with external_id {:?} exists", o.external_id)))?;
        }
        Ok(())
    }
}
