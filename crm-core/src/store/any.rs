//! [`AnyStore`]: the store [`Crm::open`](crate::Crm::open) picks from its target, a SQLite
//! file (or `:memory:`) or a `postgresql://` URL. Its transactions are the ports as trait
//! objects (`dyn StoreTx`), so one facade type serves every engine; the cost is one
//! indirect call per port call, beside a statement's microseconds.

use crate::error::Result;
#[cfg(feature = "postgres")]
use crate::store::PostgresStore;
use crate::store::{ReadTx, SqliteStore, Store, StoreTx};

/// One of the stores, chosen when opening.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyStore {
    /// An embedded SQLite file or in-memory database.
    Sqlite(SqliteStore),
    /// A PostgreSQL database (cargo feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(PostgresStore),
}

impl AnyStore {
    /// The SQLite store, if this is one.
    pub fn as_sqlite(&self) -> Option<&SqliteStore> {
        match self {
            AnyStore::Sqlite(s) => Some(s),
            #[cfg(feature = "postgres")]
            _ => None,
        }
    }

    /// The PostgreSQL store, if this is one.
    #[cfg(feature = "postgres")]
    pub fn as_postgres(&self) -> Option<&PostgresStore> {
        match self {
            AnyStore::Postgres(s) => Some(s),
            _ => None,
        }
    }

    /// The engine's name: `"sqlite"` or `"postgres"`.
    pub fn engine(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(_) => "postgres",
        }
    }
}

impl From<SqliteStore> for AnyStore {
    fn from(s: SqliteStore) -> Self {
        AnyStore::Sqlite(s)
    }
}

#[cfg(feature = "postgres")]
impl From<PostgresStore> for AnyStore {
    fn from(s: PostgresStore) -> Self {
        AnyStore::Postgres(s)
    }
}

impl Store for AnyStore {
    type Read<'a> = dyn ReadTx + 'a;
    type Write<'a> = dyn StoreTx + 'a;

    fn write<R>(&self, f: impl FnOnce(&mut (dyn StoreTx + '_)) -> Result<R>) -> Result<R> {
        match self {
            AnyStore::Sqlite(s) => s.write(|tx| f(tx)),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.write(|tx| f(tx)),
        }
    }

    fn write_alone<R>(&self, f: impl FnOnce(&mut (dyn StoreTx + '_)) -> Result<R>) -> Result<R> {
        match self {
            AnyStore::Sqlite(s) => s.write_alone(|tx| f(tx)),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.write_alone(|tx| f(tx)),
        }
    }

    fn read<R>(&self, f: impl FnOnce(&mut (dyn ReadTx + '_)) -> Result<R>) -> Result<R> {
        match self {
            AnyStore::Sqlite(s) => s.read(|tx| f(tx)),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.read(|tx| f(tx)),
        }
    }
}
