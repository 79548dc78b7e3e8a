//! Storage: a [`Store`] hands out transactions, and a transaction is the union of the
//! ports the domains own ([`customer::CustomerStore`](crate::customer::CustomerStore),
//! [`order::OrderStore`](crate::order::OrderStore), [`loyalty::LedgerStore`](crate::loyalty::LedgerStore), ...).
//! A store stores and queries; it holds no business rule. The [`Crm`](crate::Crm) facade
//! decides what to write, the store writes it, all inside one transaction per public call.
//!
//! A read transaction ([`ReadTx`]) has only the reading half of each port, so a read cannot
//! write; a write transaction ([`StoreTx`]) has both. Each store implements each port in a
//! file of its own (see [`sqlite`]).

mod any;
mod codec;
#[cfg(feature = "postgres")]
pub mod postgres;
pub(crate) mod rule_sql;
pub mod sqlite;

use crate::changes::{FeedStore, FeedStoreMut};
use crate::config::{ConfigStore, ConfigStoreMut};
use crate::customer::{CustomerStore, CustomerStoreMut};
use crate::error::Result;
use crate::identity::{IdentityStore, IdentityStoreMut, MatchStore, MatchStoreMut, MergeStore, MergeStoreMut};
use crate::interaction::{InteractionStore, InteractionStoreMut};
use crate::loyalty::{LedgerStore, LedgerStoreMut};
use crate::order::{OrderScanStore, OrderStore, OrderStoreMut};
use crate::segment::rfm::{RfmStore, RfmStoreMut};
use crate::segment::{SegmentStore, SegmentStoreMut};
use crate::stats::{StatsStore, StatsStoreMut};
use crate::timeline::TimelineStore;

pub use any::AnyStore;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::{SqliteOptions, SqliteStore, WAL_HARD_BYTES, WAL_KEEP_BYTES, WAL_RESTART_BYTES};

/// Every port trait, for code that calls port methods on a concrete transaction type.
pub mod prelude {
    pub use super::{ReadTx, Store, StoreTx};
    pub use crate::changes::{FeedStore, FeedStoreMut};
    pub use crate::config::{ConfigStore, ConfigStoreMut};
    pub use crate::customer::{CustomerStore, CustomerStoreMut};
    pub use crate::identity::{IdentityStore, IdentityStoreMut, MatchStore, MatchStoreMut, MergeStore, MergeStoreMut};
    pub use crate::interaction::{InteractionStore, InteractionStoreMut};
    pub use crate::loyalty::{LedgerStore, LedgerStoreMut};
    pub use crate::order::{OrderScanStore, OrderStore, OrderStoreMut};
    pub use crate::segment::rfm::{RfmStore, RfmStoreMut};
    pub use crate::segment::{SegmentStore, SegmentStoreMut};
    pub use crate::stats::{StatsStore, StatsStoreMut};
    pub use crate::timeline::TimelineStore;
}

/// The mode of a store's transaction type that can only read (from [`Store::read`]).
#[derive(Debug)]
pub enum Reading {}

/// The mode of a store's transaction type that can read and write (from [`Store::write`]).
#[derive(Debug)]
pub enum Writing {}

/// A store: hands out transactions. Implementations must be safe to share between threads.
pub trait Store: Send + Sync {
    /// A read transaction of this store: one consistent snapshot, and no way to write.
    type Read<'a>: ReadTx + ?Sized
    where
        Self: 'a;
    /// A write transaction of this store.
    type Write<'a>: StoreTx + ?Sized
    where
        Self: 'a;

    /// Runs `f` in a write transaction: committed if `f` returns `Ok`, rolled back otherwise
    /// (including when `f` panics). Writers from other threads and processes wait their turn.
    fn write<R>(&self, f: impl FnOnce(&mut Self::Write<'_>) -> Result<R>) -> Result<R>;

    /// Runs `f` in a write transaction that no other writer runs beside, for writes of many
    /// customers at once (ingest batches). A store whose writers run side by side
    /// (PostgreSQL) makes this one wait for the others and keeps them waiting, rather than
    /// locking each customer it touches; on SQLite every write is like this.
    fn write_alone<R>(&self, f: impl FnOnce(&mut Self::Write<'_>) -> Result<R>) -> Result<R> {
        self.write(f)
    }

    /// Runs `f` in a read transaction that sees one consistent snapshot.
    fn read<R>(&self, f: impl FnOnce(&mut Self::Read<'_>) -> Result<R>) -> Result<R>;
}

/// A read transaction: the reading half of every port. Implemented for every type that has
/// them all.
pub trait ReadTx:
    CustomerStore
    + InteractionStore
    + OrderStore
    + OrderScanStore
    + StatsStore
    + TimelineStore
    + FeedStore
    + SegmentStore
    + RfmStore
    + LedgerStore
    + ConfigStore
    + MergeStore
    + MatchStore
    + IdentityStore
{
}

impl<T: ?Sized> ReadTx for T where
    T: CustomerStore
        + InteractionStore
        + OrderStore
        + OrderScanStore
        + StatsStore
        + TimelineStore
        + FeedStore
        + SegmentStore
        + RfmStore
        + LedgerStore
        + ConfigStore
        + MergeStore
        + MatchStore
        + IdentityStore
{
}

/// A write transaction: every port, reading and writing. Implemented for every type that
/// has them all. Ids in records passed to `insert_*` are ignored; the store assigns them.
pub trait StoreTx:
    ReadTx
    + CustomerStoreMut
    + InteractionStoreMut
    + OrderStoreMut
    + StatsStoreMut
    + FeedStoreMut
    + SegmentStoreMut
    + RfmStoreMut
    + LedgerStoreMut
    + ConfigStoreMut
    + MergeStoreMut
    + MatchStoreMut
    + IdentityStoreMut
{
}

impl<T: ?Sized> StoreTx for T where
    T: ReadTx
        + CustomerStoreMut
        + InteractionStoreMut
        + OrderStoreMut
        + StatsStoreMut
        + FeedStoreMut
        + SegmentStoreMut
        + RfmStoreMut
        + LedgerStoreMut
        + ConfigStoreMut
        + MergeStoreMut
        + MatchStoreMut
        + IdentityStoreMut
{
}
