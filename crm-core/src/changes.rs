//! The change feed: every committed mutation appends `(seq, entity, id, op, at, ref_id)`,
//! so a host can sync an ERP, a search index or a warehouse with `changes_since`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;

pub use crate::error::Entity;

/// What happened to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Created.
    Insert,
    /// Changed.
    Update,
    /// Removed.
    Delete,
    /// A customer entered a segment (`ref_id` names the customer).
    Enter,
    /// A customer left a segment (`ref_id` names the customer).
    Leave,
}

impl Op {
    /// The lower-case name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::Enter => "enter",
            Op::Leave => "leave",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Op> {
        match s {
            "insert" => Some(Op::Insert),
            "update" => Some(Op::Update),
            "delete" => Some(Op::Delete),
            "enter" => Some(Op::Enter),
            "leave" => Some(Op::Leave),
            _ => None,
        }
    }
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Position in the feed; strictly increasing, never reused.
    pub seq: i64,
    /// Kind of record.
    pub entity: Entity,
    /// Store id of the record.
    pub id: i64,
    /// What happened.
    pub op: Op,
    /// When the transaction that made the change ran.
    pub at: DateTime<Utc>,
    /// The related record, where there is one: the customer who entered or left a segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<i64>,
}

/// The storage port of feed records: what the domain reads. Each store implements
/// it (in its own file); a read transaction has it, so does a write transaction.
pub trait FeedStore {
    /// Feed entries with `seq > after`, oldest first, at most `limit`.
    fn changes_since(&mut self, after: i64, limit: usize) -> Result<Vec<Change>>;
}

/// The storage port of feed records: what the domain writes. Only a write
/// transaction has it.
pub trait FeedStoreMut: FeedStore {
    /// Appends to the change feed. The entry takes its sequence number when the store
    /// writes it, at the latest when the transaction commits; entries keep the order in
    /// which they were appended.
    fn append_change(&mut self, entity: Entity, id: i64, op: Op, at: DateTime<Utc>) -> Result<()>;
    /// Appends one entry per id, in order (for ingest batches; the default appends them
    /// one by one).
    fn append_changes(&mut self, entity: Entity, ids: &[i64], op: Op, at: DateTime<Utc>) -> Result<()> {
        for id in ids {
            self.append_change(entity, *id, op, at)?;
        }
        Ok(())
    }
}
