//! The default store: one embedded SQLite file (or an in-memory database), in WAL mode,
//! with a busy timeout so that writers in other threads and processes wait instead of failing.

mod analytics;
mod checkpoint;
mod config;
mod customer;
mod error;
mod feed;
mod interaction;
mod loyalty;
mod matching;
mod merge;
mod order;
mod rfm;
pub(crate) mod schema;
mod segments;
mod sources;
mod stats;
mod timeline;

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::{Type, Value};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::de::DeserializeOwned;

use super::codec::{enum_parse, enum_str, json, micros, opt_time, time};
use crate::changes::{Change, Entity, Op};
use crate::customer::{Address, Customer, CustomerId, CustomerStats};
use crate::error::{Error, Result, StorageErrorKind};
use crate::interaction::{Interaction, InteractionId};
use crate::money::{Currency, Money};
use crate::order::{
    LineItem, Order, OrderAggregate, OrderId, OrderRefund, OrderScan, OrderStatus, ScannedItem, ScannedOrder,
};
use crate::query::{Cursor, CustomerFilter, SortKey, SortValue};
use crate::segment::{Classified, HistoryEntry};
use crate::stats::{PeriodState, StatsDelta};
use crate::store::prelude::*;
use crate::timeline::TimelineEntry;
use error::{db_error, own, Db};

pub use checkpoint::{WAL_HARD_BYTES, WAL_KEEP_BYTES, WAL_RESTART_BYTES};
pub use schema::SCHEMA_VERSION;

use checkpoint::Checkpointer;

/// How durable each commit is (SQLite's `synchronous` setting, in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Synchronous {
    /// A commit survives an application crash; a power loss may undo the latest commits.
    #[default]
    Normal,
    /// A commit survives a power loss too, at about twice the cost per transaction.
    Full,
}

/// Connection settings of a [`SqliteStore`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SqliteOptions {
    /// How long a writer waits for another writer (thread or process) before giving up.
    /// In JSON: `busy_timeout_ms`, whole milliseconds.
    #[serde(rename = "busy_timeout_ms", with = "millis")]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub busy_timeout: Duration,
    /// Page cache size in KiB.
    pub cache_kib: i64,
    /// Commit durability.
    pub synchronous: Synchronous,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { busy_timeout: Duration::from_secs(30), cache_kib: 64 * 1024, synchronous: Synchronous::Normal }
    }
}

pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// A [`Store`] on SQLite. Writes go through one connection, serialised by a mutex, and
/// SQLite's locking (with the busy timeout) serialises writers across processes. On a file,
/// reads use a small pool of read-only connections, so readers run beside a writer (WAL).
///
/// ```
/// use crm_core::store::prelude::*;
/// use crm_core::store::SqliteStore;
/// let store = SqliteStore::in_memory().unwrap();
/// assert_eq!(store.read(|tx| tx.count_customers()).unwrap(), 0);
/// ```
///
/// A read transaction has only the reading half of each port: a write does not compile.
///
/// ```compile_fail
/// use crm_core::store::prelude::*;
/// use crm_core::store::SqliteStore;
/// let store = SqliteStore::in_memory().unwrap();
/// store.read(|tx| tx.delete_customer(crm_core::CustomerId(1))).unwrap();
/// ```
///
/// On a file, commits never checkpoint the write-ahead log themselves: a background thread
/// does, on its own connection, after the commits that leave the log at 1,000 pages or more
/// (see `checkpoint.rs`). SQLite's passive checkpoint cannot start the log over while
/// readers keep reading it, and under a steady mix of readers and writers (the soak: `make
/// soak`) it grew to 1.1 GB beside a 78 MB database within a minute, slowing every read. So
/// past [`WAL_RESTART_BYTES`] the thread checkpoints in `RESTART` mode, waiting up to 250 ms
/// for the readers of that moment to finish (new writers wait meanwhile), and the log starts
/// over; SQLite truncates the file only past [`WAL_KEEP_BYTES`] (the hard bound, so that
/// commits reuse the file's blocks). Should the log still pass
/// [`WAL_HARD_BYTES`], the committing caller rewinds it itself. A commit has happened
/// whatever its checkpoint does: a checkpoint that cannot finish is retried later.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    path: Option<PathBuf>,
    /// The background checkpointer (`None` in memory).
    checkpointer: Option<Checkpointer>,
    opts: SqliteOptions,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(c) = &mut self.checkpointer {
            c.stop(self.conn.get_mut().unwrap_or_else(|e| e.into_inner()));
        }
    }
}

/// Idle read connections kept per store.
const MAX_IDLE_READERS: usize = 8;

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Setup every connection gets, writer and readers alike.
///
/// Plans do not depend on bound values (the query planner stability guarantee). Without it
/// SQLite re-prepared a cached statement on every run whose parameters it had compared with
/// a partial index's condition (the ledger's lot queries: a redemption's median was 302 µs
/// re-preparing, 109 µs with stable plans, in the loyalty benchmark).
///
/// `rarray` is registered: a rule's `in` list is bound through it as one parameter (see
/// `rule_sql`).
fn configure(conn: &Connection) -> Result<()> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).db()?;
    rusqlite::vtab::array::load_module(conn).db()?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) a database file with default options, upgrading its schema.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        SqliteStore::open_with(path, &SqliteOptions::default())
    }

    /// Opens a database file with the given options.
    /// The path `:memory:` gives a private in-memory database, as in SQLite.
    pub fn open_with(path: impl AsRef<Path>, opts: &SqliteOptions) -> Result<SqliteStore> {
        let path = path.as_ref();
        if path.as_os_str() == ":memory:" {
            return SqliteStore::setup(Connection::open_in_memory().db()?, opts, None);
        }
        let conn = Connection::open(path).db()?;
        conn.busy_timeout(opts.busy_timeout).db()?;
        // Refuse a newer file before changing anything in it (the journal mode included);
        // `migrate` checks again under the write lock.
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).db()?;
        if found > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew { found, supported: SCHEMA_VERSION });
        }
        enable_wal(&conn, opts.busy_timeout)?;
        SqliteStore::setup(conn, opts, Some(path.to_path_buf()))
    }

    /// A private in-memory database (gone when dropped).
    pub fn in_memory() -> Result<SqliteStore> {
        SqliteStore::open_with(":memory:", &SqliteOptions::default())
    }

    fn setup(mut conn: Connection, opts: &SqliteOptions, path: Option<PathBuf>) -> Result<SqliteStore> {
        let sync = match opts.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync).db()?;
        conn.pragma_update(None, "cache_size", -opts.cache_kib.max(1)).db()?;
        // No SQL foreign keys are declared; the facade checks references itself.
        conn.pragma_update(None, "foreign_keys", false).db()?;
        conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES as i64).db()?;
        configure(&conn)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn)?;
        let checkpointer = path.as_deref().and_then(|p| Checkpointer::start(&mut conn, p));
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            path,
            checkpointer,
            opts: opts.clone(),
        })
    }

    /// The file behind the store (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn open_reader(&self, path: &Path) -> Result<Connection> {
        use rusqlite::OpenFlags;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )
        .db()?;
        conn.busy_timeout(self.opts.busy_timeout).db()?;
        conn.pragma_update(None, "cache_size", -(self.opts.cache_kib / 4).max(1)).db()?;
        configure(&conn)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic inside a transaction rolls it back when the transaction drops, so the
        // connection is still sound after poisoning.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Switches the file to WAL. SQLite does not apply the busy timeout to this switch, so when
/// several connections open a new file at once it is retried here until the timeout.
fn enable_wal(conn: &Connection, timeout: Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        let attempt = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0));
        match attempt {
            // `:memory:` databases report "memory" and have no journal file to switch.
            Ok(mode) if mode.eq_ignore_ascii_case("wal") || mode.eq_ignore_ascii_case("memory") => return Ok(()),
            Ok(mode) => {
                return Err(own(
                    StorageErrorKind::Unavailable,
                    format!("the file stays in journal mode {mode:?}; WAL is required"),
                ))
            }
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(db_error(e)),
        }
    }
}

/// Applies the missing migrations in one immediate transaction, so that two processes
/// opening a new file at once do not both migrate.
fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).db()?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql).db()?;
        tx.pragma_update(None, "user_version", i as i64 + 1).db()?;
    }
    tx.commit().db()?;
    Ok(())
}

impl Store for SqliteStore {
    type Read<'a> = SqliteTx<'a, Reading>;
    type Write<'a> = SqliteTx<'a, Writing>;

    fn write<R>(&self, f: impl FnOnce(&mut SqliteTx<'_, Writing>) -> Result<R>) -> Result<R> {
        let mut conn = self.lock();
        let r = {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
            let mut t = SqliteTx::new(tx);
            let r = f(&mut t)?;
            t.tx.commit().db()?;
            r
        };
        if self.checkpointer.as_ref().is_some_and(Checkpointer::over_hard_bound) {
            // Best effort (see the type's doc): a busy checkpoint is retried next commit.
            let _ = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
        }
        Ok(r)
    }

    fn read<R>(&self, f: impl FnOnce(&mut SqliteTx<'_, Reading>) -> Result<R>) -> Result<R> {
        let Some(path) = &self.path else {
            // An in-memory database has one connection.
            let mut conn = self.lock();
            return run_read(&mut conn, f);
        };
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.open_reader(path)?,
        };
        let r = run_read(&mut conn, f);
        let mut idle = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        r
    }
}

fn run_read<R>(conn: &mut Connection, f: impl FnOnce(&mut SqliteTx<'_, Reading>) -> Result<R>) -> Result<R> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred).db()?;
    let mut t = SqliteTx::new(tx);
    let r = f(&mut t)?;
    t.tx.commit().db()?;
    Ok(r)
}

/// A transaction on a [`SqliteStore`]: [`Reading`] (from [`Store::read`]) has the reading
/// half of every port, [`Writing`] (from [`Store::write`]) has every port.
pub struct SqliteTx<'a, M = Writing> {
    tx: rusqlite::Transaction<'a>,
    mode: PhantomData<M>,
}

pub use super::{Reading, Writing};

impl<'a, M> SqliteTx<'a, M> {
    fn new(tx: rusqlite::Transaction<'a>) -> Self {
        SqliteTx { tx, mode: PhantomData }
    }
}

fn conversion(col: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e))
}

fn enum_col<T: DeserializeOwned>(row: &Row<'_>, col: usize) -> rusqlite::Result<T> {
    enum_parse(row.get(col)?).map_err(|e| conversion(col, e))
}

const REFUND_COLS: &str = "order_id, refund_key, amount_minor, lines, at, created_at";

fn refund_row(r: &Row<'_>) -> rusqlite::Result<OrderRefund> {
    Ok(OrderRefund {
        order_id: OrderId(r.get(0)?),
        key: r.get(1)?,
        amount_minor: r.get(2)?,
        lines: json_col(r, 3)?,
        at: time(r.get(4)?),
        created_at: time(r.get(5)?),
    })
}

fn json_col<T: DeserializeOwned>(row: &Row<'_>, col: usize) -> rusqlite::Result<T> {
    let s: String = row.get(col)?;
    serde_json::from_str(&s).map_err(|e| conversion(col, e))
}

fn opt_json_col<T: DeserializeOwned>(row: &Row<'_>, col: usize) -> rusqlite::Result<Option<T>> {
    let s: Option<String> = row.get(col)?;
    s.map(|s| serde_json::from_str(&s).map_err(|e| conversion(col, e))).transpose()
}

fn currency_col(row: &Row<'_>, col: usize) -> rusqlite::Result<Currency> {
    let s: String = row.get(col)?;
    Currency::new(&s).map_err(|e| conversion(col, e))
}

const CUSTOMER_COLS: &str = "c.id, c.external_id, c.kind, c.name, c.email, c.phone, c.company, c.title, c.industry, \
     c.country, c.region, c.city, c.postal_code, c.street, c.birthday, c.gender, c.tags, c.attributes, c.consents, \
     c.lifecycle, c.created_at, c.updated_at, c.merged_into";
const CUSTOMER_NCOLS: usize = 23;

fn customer_row(r: &Row<'_>) -> rusqlite::Result<Customer> {
    let birthday: Option<String> = r.get(14)?;
    Ok(Customer {
        id: CustomerId(r.get(0)?),
        external_id: r.get(1)?,
        kind: enum_col(r, 2)?,
        name: r.get(3)?,
        email: r.get(4)?,
        phone: r.get(5)?,
        company: r.get(6)?,
        title: r.get(7)?,
        industry: r.get(8)?,
        address: Address {
            country: r.get(9)?,
            region: r.get(10)?,
            city: r.get(11)?,
            postal_code: r.get(12)?,
            street: r.get(13)?,
        },
        birthday: birthday.map(|b| b.parse::<NaiveDate>().map_err(|e| conversion(14, e))).transpose()?,
        gender: r.get(15)?,
        tags: json_col(r, 16)?,
        attributes: json_col(r, 17)?,
        consents: json_col(r, 18)?,
        lifecycle: enum_col(r, 19)?,
        created_at: time(r.get(20)?),
        updated_at: time(r.get(21)?),
        merged_into: r.get::<_, Option<i64>>(22)?.map(CustomerId),
    })
}

fn customer_values(c: &Customer) -> [Value; CUSTOMER_NCOLS - 1] {
    let t = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Text);
    [
        t(&c.external_id),
        Value::Text(enum_str(&c.kind)),
        Value::Text(c.name.clone()),
        t(&c.email),
        t(&c.phone),
        t(&c.company),
        t(&c.title),
        t(&c.industry),
        t(&c.address.country),
        t(&c.address.region),
        t(&c.address.city),
        t(&c.address.postal_code),
        t(&c.address.street),
        c.birthday.map_or(Value::Null, |b| Value::Text(b.to_string())),
        t(&c.gender),
        Value::Text(json(&c.tags)),
        Value::Text(json(&c.attributes)),
        Value::Text(json(&c.consents)),
        Value::Text(enum_str(&c.lifecycle)),
        Value::Integer(micros(c.created_at)),
        Value::Integer(micros(c.updated_at)),
        c.merged_into.map_or(Value::Null, |m| Value::Integer(m.0)),
    ]
}

const INTERACTION_COLS: &str =
    "id, external_id, customer_id, kind, channel, direction, occurred_at, subject, body, score, payload, created_at";

fn interaction_row(r: &Row<'_>) -> rusqlite::Result<Interaction> {
    let direction: Option<String> = r.get(5)?;
    Ok(Interaction {
        id: InteractionId(r.get(0)?),
        external_id: r.get(1)?,
        customer_id: CustomerId(r.get(2)?),
        kind: enum_col(r, 3)?,
        channel: r.get(4)?,
        direction: direction
            .map(|d| serde_json::from_value(serde_json::Value::String(d)).map_err(|e| conversion(5, e)))
            .transpose()?,
        occurred_at: time(r.get(6)?),
        subject: r.get(7)?,
        body: r.get(8)?,
        score: opt_json_col(r, 9)?,
        payload: opt_json_col(r, 10)?,
        created_at: time(r.get(11)?),
    })
}

const ORDER_COLS: &str =
    "id, external_id, customer_id, occurred_at, status, currency, total_minor, channel, created_at, updated_at";

fn order_row(r: &Row<'_>) -> rusqlite::Result<Order> {
    let status: String = r.get(4)?;
    Ok(Order {
        id: OrderId(r.get(0)?),
        external_id: r.get(1)?,
        customer_id: CustomerId(r.get(2)?),
        occurred_at: time(r.get(3)?),
        status: OrderStatus::parse(&status)
            .ok_or_else(|| conversion(4, Error::validation("status", format!("unknown order status {status:?}"))))?,
        total: Money::new(r.get(6)?, currency_col(r, 5)?),
        channel: r.get(7)?,
        items: Vec::new(),
        created_at: time(r.get(8)?),
        updated_at: time(r.get(9)?),
    })
}

impl<M> SqliteTx<'_, M> {
    fn load_items(&self, mut o: Order) -> Result<Order> {
        let mut st = self.tx.prepare_cached(
            "SELECT sku, category, quantity, unit_price_minor FROM order_items WHERE order_id = ?1 ORDER BY line_no",
        ).db()?;
        o.items = st
            .query_map([o.id.0], |r| {
                Ok(LineItem { sku: r.get(0)?, category: r.get(1)?, quantity: r.get(2)?, unit_price_minor: r.get(3)? })
            })
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(o)
    }

    /// Stores the lines of order `id` of `customer`, numbered from 0 in their order.
    fn insert_items(&self, id: OrderId, customer: CustomerId, items: &[LineItem]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut st = self
            .tx
            .prepare_cached(
                "INSERT INTO order_items (order_id, line_no, sku, category, quantity, unit_price_minor, customer_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .db()?;
        for (n, it) in items.iter().enumerate() {
            st.execute(params![id.0, n as i64, it.sku, it.category, it.quantity, it.unit_price_minor, customer.0])
                .db()?;
        }
        Ok(())
    }

    fn one_customer(&self, sql_where: &str, p: impl rusqlite::Params) -> Result<Option<Customer>> {
        let sql = format!("SELECT {CUSTOMER_COLS} FROM customers c WHERE {sql_where}");
        self.tx.prepare_cached(&sql).db()?.query_row(p, customer_row).optional().db()
    }

    fn ids(&self, sql: &str, id: i64) -> Result<Vec<i64>> {
        let mut st = self.tx.prepare_cached(sql).db()?;
        let ids = st.query_map([id], |r| r.get(0)).db()?.collect::<rusqlite::Result<_>>().db()?;
        Ok(ids)
    }

    fn count(&self, sql: &str) -> Result<i64> {
        self.tx.prepare_cached(sql).db()?.query_row([], |r| r.get(0)).db()
    }
}

fn sort_expr(sort: SortKey) -> &'static str {
    match sort {
        SortKey::Id => "c.id",
        SortKey::Name => "c.name",
        SortKey::CreatedAt => "c.created_at",
        SortKey::UpdatedAt => "c.updated_at",
        SortKey::LastOrderAt => "coalesce(s.last_order_at, -9223372036854775808)",
        SortKey::OrderCount => "coalesce(s.order_count, 0)",
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}
