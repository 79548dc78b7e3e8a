//! The segmentation port: rule evaluation in the store, saved segments and their members,
//! scoring plans, value tiers, lifecycle stages and their history.

use chrono::{DateTime, Utc};

use crate::customer::{CustomerId, LifecycleStage};
use crate::error::Result;
use crate::rule::Cond;
use crate::segment::{ScoringPlan, Segment, SegmentId};

/// A customer and the first of a list of rules it meets, from [`SegmentStore::classify`].
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

/// One change of a customer's stage or tier, for [`SegmentStoreMut::append_history`].
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

/// The storage port of segment records: what the domain reads. Each store implements
/// it (in its own file); a read transaction has it, so does a write transaction.
pub trait SegmentStore {
    /// Ids of the customers meeting `rule`, ascending, strictly after `after`, at most `limit`.
    fn rule_members(&mut self, rule: &Cond, after: Option<CustomerId>, limit: usize) -> Result<Vec<CustomerId>>;
    /// Number of customers meeting `rule`.
    fn rule_count(&mut self, rule: &Cond) -> Result<i64>;
    /// For every customer (ascending id), the index of the first of `rules` it meets, if any.
    fn classify(&mut self, rules: &[Cond]) -> Result<Vec<Classified>>;
    /// For every customer (ascending id), the sum of the points of the conditions it meets.
    fn score_all(&mut self, plan: &[(Cond, i64)]) -> Result<Vec<(CustomerId, i64)>>;
    /// The stored value tier of a customer.
    fn tier_of(&mut self, customer: CustomerId) -> Result<Option<String>>;
    /// Ids of the static segments listing a customer, ascending.
    fn static_segments_of(&mut self, customer: CustomerId) -> Result<Vec<i64>>;
    /// Reads a segment by name.
    fn segment_by_name(&mut self, name: &str) -> Result<Option<Segment>>;
    /// Every segment, by name.
    fn list_segments(&mut self) -> Result<Vec<Segment>>;
    /// Stored members (the list of a static segment, the last snapshot of a dynamic one),
    /// ascending, strictly after `after`, at most `limit`.
    fn stored_members(&mut self, id: SegmentId, after: Option<CustomerId>, limit: usize) -> Result<Vec<CustomerId>>;
    /// Number of stored members.
    fn count_stored_members(&mut self, id: SegmentId) -> Result<i64>;
    /// Every scoring plan, by name.
    fn list_plans(&mut self) -> Result<Vec<ScoringPlan>>;
    /// Every customer's value tier, ascending by customer.
    fn all_tiers(&mut self) -> Result<Vec<(CustomerId, String)>>;
    /// A customer's history of `kind`, oldest first.
    fn history(&mut self, customer: CustomerId, kind: &str) -> Result<Vec<(String, DateTime<Utc>)>>;
}

/// The storage port of segment records: what the domain writes. Only a write
/// transaction has it.
pub trait SegmentStoreMut: SegmentStore {
    /// Stores a new segment; returns its id.
    fn insert_segment(&mut self, s: &Segment) -> Result<SegmentId>;
    /// Overwrites a stored segment.
    fn update_segment(&mut self, s: &Segment) -> Result<()>;
    /// Removes a segment and its stored members.
    fn delete_segment(&mut self, id: SegmentId) -> Result<()>;
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
    /// Removes a scoring plan; returns its id if it existed.
    fn delete_plan(&mut self, name: &str) -> Result<Option<i64>>;
    /// Sets customers' lifecycle stages (and `updated_at`).
    fn set_stages(&mut self, changes: &[(CustomerId, LifecycleStage)], at: DateTime<Utc>) -> Result<()>;
    /// Sets (or with `None` removes) customers' value tiers.
    fn set_tiers(&mut self, changes: &[(CustomerId, Option<String>)], at: DateTime<Utc>) -> Result<()>;
    /// Appends to the history of stages (`kind` is `lifecycle` or `tier`); a customer without
    /// history first gets `first` (the value held since `since`).
    fn append_history(&mut self, kind: &str, entries: &[HistoryEntry]) -> Result<()>;
}

/// What segmentation reads: customers, their interactions, orders and statistics, the
/// segments, RFM scores and configuration. Implemented for every type with those ports.
pub trait SegmentRead:
    crate::customer::CustomerStore
    + crate::interaction::InteractionStore
    + crate::order::OrderStore
    + crate::stats::StatsStore
    + SegmentStore
    + crate::segment::rfm::RfmStore
    + crate::config::ConfigStore
{
}

impl<T: ?Sized> SegmentRead for T where
    T: crate::customer::CustomerStore
        + crate::interaction::InteractionStore
        + crate::order::OrderStore
        + crate::stats::StatsStore
        + SegmentStore
        + crate::segment::rfm::RfmStore
        + crate::config::ConfigStore
{
}
