//! The loyalty port: accounts, the ledger, lots, rule usage and tier history.

use chrono::{DateTime, Utc};

use crate::customer::CustomerId;
use crate::error::Result;
use crate::loyalty::{Account, Entry, EntryId, Lot, LotTerms, TierChange};
use crate::order::OrderId;

/// The storage port of ledger records: what the domain reads. Each store implements
/// it (in its own file); a read transaction has it, so does a write transaction.
pub trait LedgerStore {
    /// A customer's loyalty account.
    fn loyalty_account(&mut self, customer: CustomerId) -> Result<Option<Account>>;
    /// Every loyalty account, by customer.
    fn loyalty_accounts(&mut self) -> Result<Vec<Account>>;
    /// The ledger entry with this idempotency key.
    fn loyalty_entry_by_key(&mut self, key: &str) -> Result<Option<Entry>>;
    /// The ledger entries of an order, oldest first.
    fn loyalty_entries_of_order(&mut self, order: OrderId) -> Result<Vec<Entry>>;
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
    /// A customer's lots with points left, soonest expiry first (no expiry last), then by id.
    fn open_lots(&mut self, customer: CustomerId) -> Result<Vec<Lot>>;
    /// Every lot of a customer, by id.
    fn loyalty_lots(&mut self, customer: CustomerId) -> Result<Vec<Lot>>;
    /// Lots with points left whose expiry is at or before `as_of` (of one customer, or
    /// all), by customer then expiry then id.
    fn due_lots(&mut self, customer: Option<CustomerId>, as_of: DateTime<Utc>) -> Result<Vec<Lot>>;
    /// The lot an entry formed.
    fn lot_of_entry(&mut self, entry: EntryId) -> Result<Option<Lot>>;
    /// Points an earning rule gave a customer in a period.
    fn loyalty_rule_usage(&mut self, customer: CustomerId, rule: &str, period: &str) -> Result<i64>;
    /// A customer's loyalty tier changes, oldest first.
    fn loyalty_tier_history(&mut self, customer: CustomerId) -> Result<Vec<TierChange>>;
}

/// The storage port of ledger records: what the domain writes. Only a write
/// transaction has it.
pub trait LedgerStoreMut: LedgerStore {
    /// Stores (creates or overwrites) a loyalty account.
    fn put_loyalty_account(&mut self, a: &Account) -> Result<()>;
    /// Appends a ledger entry, with the lot it forms when it is a credit (the lot's id is
    /// the entry's); returns its id. A taken key is a storage error (the caller looks the
    /// key up first).
    fn insert_loyalty_entry(&mut self, e: &Entry, lot: Option<&LotTerms>, created_at: DateTime<Utc>)
        -> Result<EntryId>;
    /// Unlinks a ledger entry from its order and gives it a new key (the order is being
    /// deleted: a new order may take its id and external id).
    fn detach_loyalty_entry(&mut self, entry: EntryId, key: &str) -> Result<()>;
    /// Removes a customer's loyalty account, ledger entries, lots, rule usage and tier
    /// history (the customer is being deleted; their id may be given to a new customer);
    /// returns the ids of the entries removed.
    fn delete_loyalty(&mut self, customer: CustomerId) -> Result<Vec<EntryId>>;
    /// Sets what is left of a lot and whether it expired.
    fn update_lot(&mut self, id: i64, remaining: i64, expired: bool) -> Result<()>;
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
}

/// What loyalty reads: what segmentation reads (earning conditions are rules), the ledger,
/// and order scans (the simulator). Implemented for every type with those ports.
pub trait LoyaltyRead:
    crate::segment::SegmentRead + LedgerStore + crate::order::OrderScanStore + crate::identity::MergeStore
{
}

impl<T: ?Sized> LoyaltyRead for T where
    T: crate::segment::SegmentRead + LedgerStore + crate::order::OrderScanStore + crate::identity::MergeStore
{
}

/// What loyalty writes: the ledger, statistics (settled before a condition reads them) and
/// the change feed. Implemented for every type with those ports.
pub trait LoyaltyWrite:
    LoyaltyRead + LedgerStoreMut + crate::stats::StatsStoreMut + crate::changes::FeedStoreMut
{
}

impl<T: ?Sized> LoyaltyWrite for T where
    T: LoyaltyRead + LedgerStoreMut + crate::stats::StatsStoreMut + crate::changes::FeedStoreMut
{
}
