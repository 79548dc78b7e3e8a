//! A customer's timeline: orders and interactions, newest first, and its storage port.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::CustomerId;
use crate::error::Result;
use crate::interaction::Interaction;
use crate::order::Order;

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

/// The storage port of timeline records: what the domain reads. Each store implements
/// it (in its own file); a read transaction has it, so does a write transaction.
pub trait TimelineStore {
    /// A customer's orders and interactions, newest first, strictly before `before`.
    fn timeline(
        &mut self,
        customer: CustomerId,
        before: Option<(i64, u8, i64)>,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>>;
}
