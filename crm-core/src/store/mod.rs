//! The storage trait. A store stores and queries; it holds no business rule. The
//! [`Crm`](crate::Crm) facade decides what to write, the store writes it, all inside one
//! transaction per public call.

pub mod sqlite;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::changes::{Change, Entity, Op};
use crate::customer::{Customer, CustomerId, CustomerStats, LifecycleStage};
use crate::error::Result;
use crate::interaction::{Interaction, InteractionId};
use crate::loyalty::{Account, Entry, EntryId, Lot, TierChange};
use crate::money::Currency;
use crate::order::{Order, OrderId, OrderRefund, OrderStatus};
use crate::query::{Cursor, CustomerFilter, SortKey, SortValue};
use crate::rule::Cond;
use crate::segment::{ScoringPlan, Segment, SegmentId};

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
    /// Resolves an order's external id to its store id.
    fn order_id_by_external_id(&mut self, external_id: &str) -> Result<Option<OrderId>>;
    /// Resolves an interaction's external id to its store id.
    fn interaction_id_by_external_id(&mut self, external_id: &str) -> Result<Option<InteractionId>>;
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
    /// Removes an order, its items and its refunds.
    fn delete_order(&mut self, id: OrderId) -> Result<()>;
    /// Ids of a customer's orders.
    fn order_ids_of(&mut self, customer: CustomerId) -> Result<Vec<OrderId>>;
    /// Number of orders.
    fn count_orders(&mut self) -> Result<i64>;
    /// Stores a refund of an order (its key is unused: the caller looked it up).
    fn insert_refund(&mut self, r: &OrderRefund) -> Result<()>;
    /// The refund with this key.
    fn refund_by_key(&mut self, key: &str) -> Result<Option<OrderRefund>>;
    /// An order's refunds, oldest first.
    fn refunds_of_order(&mut self, order: OrderId) -> Result<Vec<OrderRefund>>;
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

    // Segmentation: RFM (segment::rfm).
    /// The RFM population of `currency`, by customer id: every customer with positive
    /// completed spend in it, with the time of its last completed order, its number of
    /// completed orders (both in any currency) and that spend. With `until: None`, read from
    /// the statistics; with `Some(t)`, computed from the completed orders with `occurred_at <= t`.
    fn rfm_inputs(
        &mut self,
        currency: Currency,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<crate::segment::rfm::RfmInput>>;
    /// One customer's RFM inputs as [`rfm_inputs`](Self::rfm_inputs) defines them; `None`
    /// when it is not in the population.
    fn rfm_input_of(
        &mut self,
        customer: CustomerId,
        currency: Currency,
        until: Option<DateTime<Utc>>,
    ) -> Result<Option<crate::segment::rfm::RfmInput>>;
    /// Replaces every stored RFM score with `scores`.
    fn replace_rfm(&mut self, scores: &[crate::segment::rfm::RfmScore]) -> Result<()>;
    /// A customer's stored RFM score.
    fn get_rfm(&mut self, customer: CustomerId) -> Result<Option<crate::segment::rfm::RfmScore>>;
    /// Stored RFM scores per segment name.
    fn rfm_segment_counts(&mut self) -> Result<Vec<(String, i64)>>;
    /// Stores the RFM model (JSON), replacing the previous one.
    fn put_rfm_model(&mut self, json: &str, computed_at: DateTime<Utc>) -> Result<()>;
    /// The stored RFM model (JSON).
    fn get_rfm_model(&mut self) -> Result<Option<String>>;

    // Segmentation: rules, segments, scoring plans, tiers and lifecycle (rule, segment).

    /// Ids of the customers meeting `rule`, ascending, strictly after `after`, at most `limit`.
    fn rule_members(&mut self, rule: &Cond, after: Option<CustomerId>, limit: usize) -> Result<Vec<CustomerId>>;
    /// Number of customers meeting `rule`.
    fn rule_count(&mut self, rule: &Cond) -> Result<i64>;
    /// For every customer (ascending id), the index of the first of `rules` it meets, if any.
    fn classify(&mut self, rules: &[Cond]) -> Result<Vec<Classified>>;
    /// For every customer (ascending id), the sum of the points of the conditions it meets.
    fn score_all(&mut self, plan: &[(Cond, i64)]) -> Result<Vec<(CustomerId, i64)>>;
    /// A customer's orders of every status (at or after `since`) with their line items, oldest first.
    fn orders_of(&mut self, customer: CustomerId, since: Option<DateTime<Utc>>) -> Result<Vec<Order>>;
    /// A customer's interactions (at or after `since`), oldest first.
    fn interactions_of(&mut self, customer: CustomerId, since: Option<DateTime<Utc>>) -> Result<Vec<Interaction>>;
    /// The stored value tier of a customer.
    fn tier_of(&mut self, customer: CustomerId) -> Result<Option<String>>;
    /// Ids of the static segments listing a customer, ascending.
    fn static_segments_of(&mut self, customer: CustomerId) -> Result<Vec<i64>>;

    /// Stores a new segment; returns its id.
    fn insert_segment(&mut self, s: &Segment) -> Result<SegmentId>;
    /// Overwrites a stored segment.
    fn update_segment(&mut self, s: &Segment) -> Result<()>;
    /// Reads a segment by name.
    fn segment_by_name(&mut self, name: &str) -> Result<Option<Segment>>;
    /// Every segment, by name.
    fn list_segments(&mut self) -> Result<Vec<Segment>>;
    /// Removes a segment and its stored members.
    fn delete_segment(&mut self, id: SegmentId) -> Result<()>;
    /// Stored members (the list of a static segment, the last snapshot of a dynamic one),
    /// ascending, strictly after `after`, at most `limit`.
    fn stored_members(&mut self, id: SegmentId, after: Option<CustomerId>, limit: usize) -> Result<Vec<CustomerId>>;
    /// Number of stored members.
    fn count_stored_members(&mut self, id: SegmentId) -> Result<i64>;
    /// Adds and removes stored members, appending an `enter` or `leave` feed entry for each.
    fn change_members(
        &mut self,
        id: SegmentId,
        entered: &[CustomerId],
        left: &[CustomerId],
        at: DateTime<Utc>,
    ) -> Result<()>;

    /// Stores or replaces a scoring plan (by name).
    fn put_plan(&mut self, plan: &ScoringPlan, at: DateTime<Utc>) -> Result<(i64, bool)>;
    /// Every scoring plan, by name.
    fn list_plans(&mut self) -> Result<Vec<ScoringPlan>>;
    /// Removes a scoring plan; returns its id if it existed.
    fn delete_plan(&mut self, name: &str) -> Result<Option<i64>>;

    /// Reads a named setting (JSON).
    fn get_setting(&mut self, key: &str) -> Result<Option<String>>;
    /// Writes a named setting (JSON).
    fn put_setting(&mut self, key: &str, value: &str) -> Result<()>;
    /// Sets customers' lifecycle stages (and `updated_at`).
    fn set_stages(&mut self, changes: &[(CustomerId, LifecycleStage)], at: DateTime<Utc>) -> Result<()>;
    /// Every customer's value tier, ascending by customer.
    fn all_tiers(&mut self) -> Result<Vec<(CustomerId, String)>>;
    /// Sets (or with `None` removes) customers' value tiers.
    fn set_tiers(&mut self, changes: &[(CustomerId, Option<String>)], at: DateTime<Utc>) -> Result<()>;
    /// Appends to the history of stages (`kind` is `lifecycle` or `tier`); a customer without
    /// history first gets `first` (the value held since `since`).
    fn append_history(&mut self, kind: &str, entries: &[HistoryEntry]) -> Result<()>;
    /// A customer's history of `kind`, oldest first.
    fn history(&mut self, customer: CustomerId, kind: &str) -> Result<Vec<(String, DateTime<Utc>)>>;
    /// Spend in `currency` of every customer with some, ascending.
    fn spend_values(&mut self, currency: Currency) -> Result<Vec<i64>>;

    // Analytics (analytics).
    /// Hands the orders that `scan` selects to `f` one at a time (streamed, never collected),
    /// ordered by customer id, then time, then order id. Stops at the first error of `f`.
    fn scan_orders(&mut self, scan: &OrderScan, f: &mut dyn FnMut(&ScannedOrder<'_>) -> Result<()>) -> Result<()>;
    /// Hands the line items of the orders that `scan` selects to `f` one at a time, in the
    /// order of [`StoreTx::scan_orders`] and then by line number.
    fn scan_order_items(&mut self, scan: &OrderScan, f: &mut dyn FnMut(&ScannedItem<'_>) -> Result<()>) -> Result<()>;
    /// Hands the orders that `scan` selects to `f` as whole records (every status the scan
    /// lets through, with their line items by line number when `items` is true, else with
    /// none), one at a time in the order of [`StoreTx::scan_orders`]. Stops at the first error of `f`.
    fn scan_order_records(
        &mut self,
        scan: &OrderScan,
        items: bool,
        f: &mut dyn FnMut(&Order) -> Result<()>,
    ) -> Result<()>;

    // Loyalty (loyalty).

    /// The stored loyalty program (JSON).
    fn get_loyalty_program(&mut self) -> Result<Option<String>>;
    /// Stores the loyalty program (JSON), replacing the previous one.
    fn put_loyalty_program(&mut self, json: &str, at: DateTime<Utc>) -> Result<()>;
    /// A customer's loyalty account.
    fn loyalty_account(&mut self, customer: CustomerId) -> Result<Option<Account>>;
    /// Stores (creates or overwrites) a loyalty account.
    fn put_loyalty_account(&mut self, a: &Account) -> Result<()>;
    /// Every loyalty account, by customer.
    fn loyalty_accounts(&mut self) -> Result<Vec<Account>>;
    /// The ledger entry with this idempotency key.
    fn loyalty_entry_by_key(&mut self, key: &str) -> Result<Option<Entry>>;
    /// Appends a ledger entry; returns its id. A taken key is a storage error (the caller
    /// looks the key up first).
    fn insert_loyalty_entry(&mut self, e: &Entry, created_at: DateTime<Utc>) -> Result<EntryId>;
    /// The ledger entries of an order, oldest first.
    fn loyalty_entries_of_order(&mut self, order: OrderId) -> Result<Vec<Entry>>;
    /// Unlinks a ledger entry from its order and gives it a new key (the order is being
    /// deleted: a new order may take its id and external id).
    fn detach_loyalty_entry(&mut self, entry: EntryId, key: &str) -> Result<()>;
    /// Removes a customer's loyalty account, ledger entries, lots, rule usage and tier
    /// history (the customer is being deleted; their id may be given to a new customer);
    /// returns the ids of the entries removed.
    fn delete_loyalty(&mut self, customer: CustomerId) -> Result<Vec<EntryId>>;
    /// A customer's ledger entries by effective time, then id.
    fn loyalty_entries(&mut self, customer: CustomerId) -> Result<Vec<Entry>>;
    /// Sum of a customer's entries effective at or before `at`.
    fn loyalty_points_as_of(&mut self, customer: CustomerId, at: DateTime<Utc>) -> Result<i64>;
    /// Sum of a customer's qualifying points effective in `(since, until]`.
    fn loyalty_qualifying_between(
        &mut self,
        customer: CustomerId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<i64>;
    /// A customer's completed orders in `(since, until]`: the spend in `currency`, or with
    /// `None` their number.
    fn completed_between(
        &mut self,
        customer: CustomerId,
        currency: Option<Currency>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<i64>;
    /// Stores a lot; returns its id.
    fn insert_lot(&mut self, l: &Lot) -> Result<i64>;
    /// A customer's lots with points left, soonest expiry first (no expiry last), then by id.
    fn open_lots(&mut self, customer: CustomerId) -> Result<Vec<Lot>>;
    /// Every lot of a customer, by id.
    fn loyalty_lots(&mut self, customer: CustomerId) -> Result<Vec<Lot>>;
    /// Sets what is left of a lot and whether it expired.
    fn update_lot(&mut self, id: i64, remaining: i64, expired: bool) -> Result<()>;
    /// Lots with points left whose expiry is at or before `as_of` (of one customer, or
    /// all), by customer then expiry then id.
    fn due_lots(&mut self, customer: Option<CustomerId>, as_of: DateTime<Utc>) -> Result<Vec<Lot>>;
    /// The lot an entry formed.
    fn lot_of_entry(&mut self, entry: EntryId) -> Result<Option<Lot>>;
    /// Points an earning rule gave a customer in a period.
    fn loyalty_rule_usage(&mut self, customer: CustomerId, rule: &str, period: &str) -> Result<i64>;
    /// Adds to what an earning rule gave a customer in a period.
    fn add_loyalty_rule_usage(&mut self, customer: CustomerId, rule: &str, period: &str, points: i64) -> Result<()>;
    /// Appends a change of a customer's loyalty tier.
    fn append_loyalty_tier(
        &mut self,
        customer: CustomerId,
        tier: Option<&str>,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<()>;
    /// A customer's loyalty tier changes, oldest first.
    fn loyalty_tier_history(&mut self, customer: CustomerId) -> Result<Vec<TierChange>>;
}

/// A customer and the first of a list of rules it meets, from [`StoreTx::classify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// The customer.
    pub customer_id: CustomerId,
    /// Its lifecycle stage now.
    pub stage: LifecycleStage,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Index of the first rule met, if any.
    pub rule: Option<usize>,
}

/// One change of a customer's stage or tier, for [`StoreTx::append_history`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The customer.
    pub customer_id: CustomerId,
    /// The value held before, if any, and since when (written first when the customer has
    /// no history yet, so the history shows when it began).
    pub previous: Option<(String, DateTime<Utc>)>,
    /// The new value.
    pub value: String,
    /// When it changed.
    pub at: DateTime<Utc>,
}

mod scan;
pub use scan::{OrderScan, ScannedItem, ScannedOrder};
