//! The storage trait. A store stores and queries; it holds no business rule. The
//! [`Crm`](crate::Crm) facade decides what to write, the store writes it, all inside one
//! transaction per public call.

pub mod sqlite;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::changes::{Change, Entity, Op};
use crate::customer::{Customer, CustomerId, CustomerStats};
use crate::error::Result;
use crate::interaction::{Interaction, InteractionId};
use crate::money::Currency;
use crate::order::{Order, OrderId, OrderStatus};
use crate::query::{Cursor, CustomerFilter, SortKey, SortValue};

pub use sqlite::{SqliteOptions, SqliteStore};

/// A store: hands out transactions. Implementations must be safe to share between threads.
pub trait Store: Send + Sync {
    /// A transaction of this store.
    type Tx<'a>: StoreTx
    where
        Self: 'a;

    /// Runs `f` in a write transaction: committed if `f` returns `Ok`, rolled back otherwise
    /// (including when `f` panics). Writers from other threads and processes wait their turn.
    fn write<R>(&self, f: impl FnOnce(&mut Self::Tx<'_>) -> Result<R>) -> Result<R>;

    /// Runs `f` in a read transaction that sees one consistent snapshot. `f` must not write.
    fn read<R>(&self, f: impl FnOnce(&mut Self::Tx<'_>) -> Result<R>) -> Result<R>;
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

/// One entry of a customer's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "record", rename_all = "snake_case")]
pub enum TimelineEntry {
    /// An order.
    Order(Order),
    /// An interaction.
    Interaction(Interaction),
}

impl TimelineEntry {
    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            TimelineEntry::Order(o) => o.occurred_at,
            TimelineEntry::Interaction(i) => i.occurred_at,
        }
    }

    /// `(time in microseconds, 0 for orders or 1 for interactions, id)`: the timeline's sort key.
    pub fn key(&self) -> (i64, u8, i64) {
        match self {
            TimelineEntry::Order(o) => (o.occurred_at.timestamp_micros(), 0, o.id.0),
            TimelineEntry::Interaction(i) => (i.occurred_at.timestamp_micros(), 1, i.id.0),
        }
    }
}

/// Operations of one transaction. Ids in records passed to `insert_*` are ignored; the
/// store assigns them.
pub trait StoreTx {
    /// Stores a new customer with an empty statistics row.
    fn insert_customer(&mut self, c: &Customer) -> Result<CustomerId>;
    /// Overwrites a stored customer.
    fn update_customer(&mut self, c: &Customer) -> Result<()>;
    /// Reads a customer.
    fn get_customer(&mut self, id: CustomerId) -> Result<Option<Customer>>;
    /// Reads a customer by external id.
    fn customer_by_external_id(&mut self, external_id: &str) -> Result<Option<Customer>>;
    /// Resolves an external id to a store id.
    fn customer_id_by_external_id(&mut self, external_id: &str) -> Result<Option<CustomerId>>;
    /// Whether the id exists.
    fn customer_exists(&mut self, id: CustomerId) -> Result<bool>;
    /// Removes a customer and its statistics (the caller removes orders and interactions first).
    fn delete_customer(&mut self, id: CustomerId) -> Result<()>;
    /// Customers matching `filter`, in `sort` order, strictly after `after`, at most `limit`,
    /// each with its sort value.
    fn query_customers(
        &mut self,
        filter: &CustomerFilter,
        sort: SortKey,
        descending: bool,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<(Customer, SortValue)>>;
    /// Customers whose email or phone starts with, or whose name or company contains, `text`.
    fn search_customers(&mut self, text: &str, limit: usize) -> Result<Vec<Customer>>;
    /// Number of customers.
    fn count_customers(&mut self) -> Result<i64>;

    /// Stores an interaction; `None` (and nothing written) when its external id is taken.
    fn insert_interaction(&mut self, i: &Interaction) -> Result<Option<InteractionId>>;
    /// Overwrites a stored interaction.
    fn update_interaction(&mut self, i: &Interaction) -> Result<()>;
    /// Reads an interaction.
    fn get_interaction(&mut self, id: InteractionId) -> Result<Option<Interaction>>;
    /// Reads an interaction by external id.
    fn interaction_by_external_id(&mut self, external_id: &str) -> Result<Option<Interaction>>;
    /// Removes an interaction.
    fn delete_interaction(&mut self, id: InteractionId) -> Result<()>;
    /// Ids of a customer's interactions.
    fn interaction_ids_of(&mut self, customer: CustomerId) -> Result<Vec<InteractionId>>;
    /// Number of interactions.
    fn count_interactions(&mut self) -> Result<i64>;
    /// Number of a customer's interactions and the latest time.
    fn aggregate_interactions(&mut self, customer: CustomerId) -> Result<(i64, Option<DateTime<Utc>>)>;

    /// Stores an order with its items; `None` (and nothing written) when its external id is taken.
    fn insert_order(&mut self, o: &Order) -> Result<Option<OrderId>>;
    /// Overwrites a stored order and its items.
    fn update_order(&mut self, o: &Order) -> Result<()>;
    /// Reads an order with its items.
    fn get_order(&mut self, id: OrderId) -> Result<Option<Order>>;
    /// Reads an order by external id.
    fn order_by_external_id(&mut self, external_id: &str) -> Result<Option<Order>>;
    /// Removes an order and its items.
    fn delete_order(&mut self, id: OrderId) -> Result<()>;
    /// Ids of a customer's orders.
    fn order_ids_of(&mut self, customer: CustomerId) -> Result<Vec<OrderId>>;
    /// Number of orders.
    fn count_orders(&mut self) -> Result<i64>;
    /// Aggregate of a customer's orders with the given status.
    fn aggregate_orders(&mut self, customer: CustomerId, status: OrderStatus) -> Result<OrderAggregate>;

    /// A customer's statistics (zeroes when none are stored).
    fn get_stats(&mut self, customer: CustomerId) -> Result<CustomerStats>;
    /// Overwrites a customer's statistics.
    fn put_stats(&mut self, s: &CustomerStats) -> Result<()>;
    /// Folds a delta into a customer's statistics.
    fn add_stats(&mut self, d: &StatsDelta) -> Result<()>;
    /// The customers with the largest spend in `currency`, largest first (ties by id), at most `limit`.
    fn top_spenders(&mut self, currency: Currency, limit: usize) -> Result<Vec<(CustomerId, i64)>>;

    /// A customer's orders and interactions, newest first, strictly before `before`.
    fn timeline(
        &mut self,
        customer: CustomerId,
        before: Option<(i64, u8, i64)>,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>>;

    /// Appends to the change feed; returns the new sequence number.
    fn append_change(&mut self, entity: Entity, id: i64, op: Op, at: DateTime<Utc>) -> Result<i64>;
    /// Feed entries with `seq > after`, oldest first, at most `limit`.
    fn changes_since(&mut self, after: i64, limit: usize) -> Result<Vec<Change>>;

    /// Hands the orders that `scan` selects to `f` one at a time (streamed, never collected),
    /// ordered by customer id, then time, then order id. Stops at the first error of `f`.
    fn scan_orders(&mut self, scan: &OrderScan, f: &mut dyn FnMut(&ScannedOrder<'_>) -> Result<()>) -> Result<()>;
    /// Hands the line items of the orders that `scan` selects to `f` one at a time, in the
    /// order of [`StoreTx::scan_orders`] and then by line number.
    fn scan_order_items(&mut self, scan: &OrderScan, f: &mut dyn FnMut(&ScannedItem<'_>) -> Result<()>) -> Result<()>;
}

mod scan;
pub use scan::{OrderScan, ScannedItem, ScannedOrder};
