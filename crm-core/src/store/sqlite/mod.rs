//! The default store: one embedded SQLite file (or an in-memory database), in WAL mode,
//! with a busy timeout so that writers in other threads and processes wait instead of failing.

mod analytics;
mod error;
mod loyalty;
mod rfm;
mod rule_sql;
mod schema;
mod segments;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::{Type, Value};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::changes::{Change, Entity, Op};
use crate::customer::{Address, Customer, CustomerId, CustomerStats, LifecycleStage};
use crate::error::{Error, Result, StorageErrorKind};
use crate::interaction::{Interaction, InteractionId};
use crate::loyalty::{Account, Entry, EntryId, Lot, TierChange};
use crate::money::{Currency, Money};
use crate::order::{LineItem, Order, OrderId, OrderRefund, OrderStatus};
use crate::query::{Cursor, CustomerFilter, SortKey, SortValue};
use crate::rule::Cond;
use crate::segment::{ScoringPlan, Segment, SegmentId};
use crate::store::{Classified, HistoryEntry, OrderAggregate, StatsDelta, Store, StoreTx, TimelineEntry};
use crate::store::{OrderScan, ScannedItem, ScannedOrder};
use error::{db_error, own, Db};

pub use schema::SCHEMA_VERSION;

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

mod millis {
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
/// use crm_core::store::{SqliteStore, Store, StoreTx};
/// let store = SqliteStore::in_memory().unwrap();
/// assert_eq!(store.read(|tx| tx.count_customers()).unwrap(), 0);
/// ```
pub struct SqliteStore {
    conn: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    path: Option<PathBuf>,
    opts: SqliteOptions,
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
        configure(&conn)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn)?;
        Ok(SqliteStore { conn: Mutex::new(conn), readers: Mutex::new(Vec::new()), path, opts: opts.clone() })
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
    type Tx<'a> = SqliteTx<'a>;

    fn write<R>(&self, f: impl FnOnce(&mut SqliteTx<'_>) -> Result<R>) -> Result<R> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        let mut t = SqliteTx { tx };
        let r = f(&mut t)?;
        t.tx.commit().db()?;
        Ok(r)
    }

    fn read<R>(&self, f: impl FnOnce(&mut SqliteTx<'_>) -> Result<R>) -> Result<R> {
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

fn run_read<R>(conn: &mut Connection, f: impl FnOnce(&mut SqliteTx<'_>) -> Result<R>) -> Result<R> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred).db()?;
    let mut t = SqliteTx { tx };
    let r = f(&mut t)?;
    t.tx.commit().db()?;
    Ok(r)
}

/// A transaction on a [`SqliteStore`].
pub struct SqliteTx<'a> {
    tx: rusqlite::Transaction<'a>,
}

impl SqliteTx<'_> {
    /// The underlying connection, for store-internal bulk paths and tests.
    pub fn connection(&self) -> &Connection {
        &self.tx
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(v).unwrap_or_default()
}

fn opt_time(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.map(time)
}

fn enum_str<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => unreachable!("unit enum variants serialise as strings"),
    }
}

fn conversion(col: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e))
}

fn enum_col<T: DeserializeOwned>(row: &Row<'_>, col: usize) -> rusqlite::Result<T> {
    let s: String = row.get(col)?;
    serde_json::from_value(serde_json::Value::String(s)).map_err(|e| conversion(col, e))
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

fn json(v: &impl Serialize) -> String {
    serde_json::to_string(v).expect("in-memory values serialise")
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

impl SqliteTx<'_> {
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

    fn insert_items(&self, id: OrderId, items: &[LineItem]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut st = self.tx.prepare_cached(
            "INSERT INTO order_items (order_id, line_no, sku, category, quantity, unit_price_minor) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        ).db()?;
        for (n, it) in items.iter().enumerate() {
            st.execute(params![id.0, n as i64, it.sku, it.category, it.quantity, it.unit_price_minor]).db()?;
        }
        Ok(())
    }

    fn one_customer(&self, sql_where: &str, p: impl rusqlite::Params) -> Result<Option<Customer>> {
        let sql = format!("SELECT {CUSTOMER_COLS} FROM customers c WHERE {sql_where}");
        Ok(self.tx.prepare_cached(&sql).db()?.query_row(p, customer_row).optional().db()?)
    }

    fn ids(&self, sql: &str, id: i64) -> Result<Vec<i64>> {
        let mut st = self.tx.prepare_cached(sql).db()?;
        let ids = st.query_map([id], |r| r.get(0)).db()?.collect::<rusqlite::Result<_>>().db()?;
        Ok(ids)
    }

    fn count(&self, sql: &str) -> Result<i64> {
        Ok(self.tx.prepare_cached(sql).db()?.query_row([], |r| r.get(0)).db()?)
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

impl StoreTx for SqliteTx<'_> {
    fn insert_customer(&mut self, c: &Customer) -> Result<CustomerId> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO customers (external_id, kind, name, email, phone, company, title, industry, country, region, city, \
             postal_code, street, birthday, gender, tags, attributes, consents, lifecycle, created_at, updated_at, merged_into) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
        ).db()?;
        st.execute(rusqlite::params_from_iter(customer_values(c))).db()?;
        let id = self.tx.last_insert_rowid();
        self.tx.prepare_cached("INSERT INTO customer_stats (customer_id) VALUES (?1)").db()?.execute([id]).db()?;
        Ok(CustomerId(id))
    }

    fn update_customer(&mut self, c: &Customer) -> Result<()> {
        let mut st = self.tx.prepare_cached(
            "UPDATE customers SET external_id = ?1, kind = ?2, name = ?3, email = ?4, phone = ?5, company = ?6, title = ?7, \
             industry = ?8, country = ?9, region = ?10, city = ?11, postal_code = ?12, street = ?13, birthday = ?14, \
             gender = ?15, tags = ?16, attributes = ?17, consents = ?18, lifecycle = ?19, created_at = ?20, \
             updated_at = ?21, merged_into = ?22 WHERE id = ?23",
        ).db()?;
        let mut values = customer_values(c).to_vec();
        values.push(Value::Integer(c.id.0));
        let n = st.execute(rusqlite::params_from_iter(values)).db()?;
        if n == 0 {
            return Err(Error::not_found(Entity::Customer, c.id));
        }
        Ok(())
    }

    fn get_customer(&mut self, id: CustomerId) -> Result<Option<Customer>> {
        self.one_customer("c.id = ?1", [id.0])
    }

    fn customer_by_external_id(&mut self, external_id: &str) -> Result<Option<Customer>> {
        self.one_customer("c.external_id = ?1", [external_id])
    }

    fn customer_id_by_external_id(&mut self, external_id: &str) -> Result<Option<CustomerId>> {
        let mut st = self.tx.prepare_cached("SELECT id FROM customers WHERE external_id = ?1").db()?;
        Ok(st.query_row([external_id], |r| r.get(0)).optional().db()?.map(CustomerId))
    }

    fn order_id_by_external_id(&mut self, external_id: &str) -> Result<Option<OrderId>> {
        let mut st = self.tx.prepare_cached("SELECT id FROM orders WHERE external_id = ?1").db()?;
        Ok(st.query_row([external_id], |r| r.get(0)).optional().db()?.map(OrderId))
    }

    fn interaction_id_by_external_id(&mut self, external_id: &str) -> Result<Option<InteractionId>> {
        let mut st = self.tx.prepare_cached("SELECT id FROM interactions WHERE external_id = ?1").db()?;
        Ok(st.query_row([external_id], |r| r.get(0)).optional().db()?.map(InteractionId))
    }

    fn customer_exists(&mut self, id: CustomerId) -> Result<bool> {
        let mut st = self.tx.prepare_cached("SELECT 1 FROM customers WHERE id = ?1").db()?;
        Ok(st.query_row([id.0], |_| Ok(())).optional().db()?.is_some())
    }

    fn delete_customer(&mut self, id: CustomerId) -> Result<()> {
        self.tx.prepare_cached("DELETE FROM customer_spend WHERE customer_id = ?1").db()?.execute([id.0]).db()?;
        self.tx.prepare_cached("DELETE FROM customer_stats WHERE customer_id = ?1").db()?.execute([id.0]).db()?;
        for table in ["customer_rfm", "customer_tiers", "stage_history", "segment_members"] {
            self.tx
                .prepare_cached(&format!("DELETE FROM {table} WHERE customer_id = ?1"))
                .db()?
                .execute([id.0])
                .db()?;
        }
        self.tx.prepare_cached("DELETE FROM customers WHERE id = ?1").db()?.execute([id.0]).db()?;
        Ok(())
    }

    fn query_customers(
        &mut self,
        filter: &CustomerFilter,
        sort: SortKey,
        descending: bool,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<(Customer, SortValue)>> {
        let key = sort_expr(sort);
        let mut sql = format!(
            "SELECT {CUSTOMER_COLS}, {key} FROM customers c LEFT JOIN customer_stats s ON s.customer_id = c.id WHERE 1 = 1"
        );
        let mut p: Vec<Value> = Vec::new();
        let mut cond = |sql: &mut String, clause: &str, v: Value| {
            p.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", p.len())));
        };
        if let Some(k) = filter.kind {
            cond(&mut sql, " AND c.kind = ?", Value::Text(enum_str(&k)));
        }
        if let Some(c) = &filter.country {
            cond(&mut sql, " AND c.country = ?", Value::Text(c.trim().to_ascii_uppercase()));
        }
        if let Some(c) = &filter.city {
            cond(&mut sql, " AND c.city = ?", Value::Text(c.clone()));
        }
        if let Some(l) = filter.lifecycle {
            cond(&mut sql, " AND c.lifecycle = ?", Value::Text(enum_str(&l)));
        }
        for t in &filter.tags {
            cond(
                &mut sql,
                " AND EXISTS (SELECT 1 FROM json_each(c.tags) WHERE json_each.value = ?)",
                Value::Text(t.clone()),
            );
        }
        if let Some(t) = filter.created_from {
            cond(&mut sql, " AND c.created_at >= ?", Value::Integer(micros(t)));
        }
        if let Some(t) = filter.created_to {
            cond(&mut sql, " AND c.created_at < ?", Value::Integer(micros(t)));
        }
        if let Some(n) = filter.min_orders {
            cond(&mut sql, " AND coalesce(s.order_count, 0) >= ?", Value::Integer(n));
        }
        if let Some(n) = filter.max_orders {
            cond(&mut sql, " AND coalesce(s.order_count, 0) <= ?", Value::Integer(n));
        }
        if let Some(t) = filter.last_order_from {
            cond(&mut sql, " AND s.last_order_at >= ?", Value::Integer(micros(t)));
        }
        if let Some(t) = filter.last_order_to {
            cond(&mut sql, " AND s.last_order_at < ?", Value::Integer(micros(t)));
        }
        let (cmp, dir) = if descending { ("<", "DESC") } else { (">", "ASC") };
        if let Some(c) = after {
            let v = match &c.value {
                SortValue::Int(i) => Value::Integer(*i),
                SortValue::Text(s) => Value::Text(s.clone()),
            };
            p.push(v);
            p.push(Value::Integer(c.id));
            let (a, b) = (p.len() - 1, p.len());
            sql.push_str(&format!(" AND ({key} {cmp} ?{a} OR ({key} = ?{a} AND c.id {cmp} ?{b}))"));
        }
        p.push(Value::Integer(limit as i64));
        sql.push_str(&format!(" ORDER BY {key} {dir}, c.id {dir} LIMIT ?{}", p.len()));
        let mut st = self.tx.prepare_cached(&sql).db()?;
        let rows = st
            .query_map(rusqlite::params_from_iter(p), |r| {
                let c = customer_row(r)?;
                let v = match sort {
                    SortKey::Name => SortValue::Text(r.get(CUSTOMER_NCOLS)?),
                    _ => SortValue::Int(r.get(CUSTOMER_NCOLS)?),
                };
                Ok((c, v))
            })
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }

    fn search_customers(&mut self, text: &str, limit: usize) -> Result<Vec<Customer>> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Vec::new());
        }
        let lower = t.to_lowercase();
        let upper_bound = format!("{lower}\u{10FFFF}");
        let like = format!("%{}%", like_escape(t));
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        let phone_like = if digits.len() >= 3 { format!("%{digits}%") } else { String::from("\u{0}") };
        let sql = format!(
            "SELECT {CUSTOMER_COLS} FROM customers c WHERE c.id IN ( \
               SELECT id FROM customers WHERE email >= ?1 AND email < ?2 \
               UNION SELECT id FROM customers WHERE name LIKE ?3 ESCAPE '\\' OR company LIKE ?3 ESCAPE '\\' OR phone LIKE ?4) \
             ORDER BY c.id LIMIT ?5"
        );
        let mut st = self.tx.prepare_cached(&sql).db()?;
        let rows = st
            .query_map(params![lower, upper_bound, like, phone_like, limit as i64], customer_row)
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }

    fn count_customers(&mut self) -> Result<i64> {
        self.count("SELECT count(*) FROM customers")
    }

    fn insert_interaction(&mut self, i: &Interaction) -> Result<Option<InteractionId>> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO interactions (external_id, customer_id, kind, channel, direction, occurred_at, subject, body, score, payload, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT(external_id) DO NOTHING",
        ).db()?;
        let n = st
            .execute(params![
                i.external_id,
                i.customer_id.0,
                enum_str(&i.kind),
                i.channel,
                i.direction.map(|d| enum_str(&d)),
                micros(i.occurred_at),
                i.subject,
                i.body,
                i.score.map(|s| json(&s)),
                i.payload.as_ref().map(json),
                micros(i.created_at),
            ])
            .db()?;
        Ok((n == 1).then(|| InteractionId(self.tx.last_insert_rowid())))
    }

    fn update_interaction(&mut self, i: &Interaction) -> Result<()> {
        let mut st = self
            .tx
            .prepare_cached(
                "UPDATE interactions SET external_id = ?1, customer_id = ?2, kind = ?3, channel = ?4, direction = ?5, \
             occurred_at = ?6, subject = ?7, body = ?8, score = ?9, payload = ?10, created_at = ?11 WHERE id = ?12",
            )
            .db()?;
        let n = st
            .execute(params![
                i.external_id,
                i.customer_id.0,
                enum_str(&i.kind),
                i.channel,
                i.direction.map(|d| enum_str(&d)),
                micros(i.occurred_at),
                i.subject,
                i.body,
                i.score.map(|s| json(&s)),
                i.payload.as_ref().map(json),
                micros(i.created_at),
                i.id.0,
            ])
            .db()?;
        if n == 0 {
            return Err(Error::not_found(Entity::Interaction, i.id));
        }
        Ok(())
    }

    fn get_interaction(&mut self, id: InteractionId) -> Result<Option<Interaction>> {
        let sql = format!("SELECT {INTERACTION_COLS} FROM interactions WHERE id = ?1");
        Ok(self.tx.prepare_cached(&sql).db()?.query_row([id.0], interaction_row).optional().db()?)
    }

    fn interaction_by_external_id(&mut self, external_id: &str) -> Result<Option<Interaction>> {
        let sql = format!("SELECT {INTERACTION_COLS} FROM interactions WHERE external_id = ?1");
        Ok(self.tx.prepare_cached(&sql).db()?.query_row([external_id], interaction_row).optional().db()?)
    }

    fn delete_interaction(&mut self, id: InteractionId) -> Result<()> {
        self.tx.prepare_cached("DELETE FROM interactions WHERE id = ?1").db()?.execute([id.0]).db()?;
        Ok(())
    }

    fn interaction_ids_of(&mut self, customer: CustomerId) -> Result<Vec<InteractionId>> {
        Ok(self
            .ids("SELECT id FROM interactions WHERE customer_id = ?1 ORDER BY id", customer.0)?
            .into_iter()
            .map(InteractionId)
            .collect())
    }

    fn count_interactions(&mut self) -> Result<i64> {
        self.count("SELECT count(*) FROM interactions")
    }

    fn aggregate_interactions(&mut self, customer: CustomerId) -> Result<(i64, Option<DateTime<Utc>>)> {
        let mut st = self
            .tx
            .prepare_cached("SELECT count(*), max(occurred_at) FROM interactions WHERE customer_id = ?1")
            .db()?;
        let (n, last): (i64, Option<i64>) = st.query_row([customer.0], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
        Ok((n, opt_time(last)))
    }

    fn insert_order(&mut self, o: &Order) -> Result<Option<OrderId>> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO orders (external_id, customer_id, occurred_at, status, currency, total_minor, channel, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(external_id) DO NOTHING",
        ).db()?;
        let n = st
            .execute(params![
                o.external_id,
                o.customer_id.0,
                micros(o.occurred_at),
                o.status.as_str(),
                o.total.currency.code(),
                o.total.minor,
                o.channel,
                micros(o.created_at),
                micros(o.updated_at),
            ])
            .db()?;
        if n == 0 {
            return Ok(None);
        }
        let id = OrderId(self.tx.last_insert_rowid());
        self.insert_items(id, &o.items)?;
        Ok(Some(id))
    }

    fn update_order(&mut self, o: &Order) -> Result<()> {
        let mut st = self
            .tx
            .prepare_cached(
                "UPDATE orders SET external_id = ?1, customer_id = ?2, occurred_at = ?3, status = ?4, currency = ?5, \
             total_minor = ?6, channel = ?7, created_at = ?8, updated_at = ?9 WHERE id = ?10",
            )
            .db()?;
        let n = st
            .execute(params![
                o.external_id,
                o.customer_id.0,
                micros(o.occurred_at),
                o.status.as_str(),
                o.total.currency.code(),
                o.total.minor,
                o.channel,
                micros(o.created_at),
                micros(o.updated_at),
                o.id.0,
            ])
            .db()?;
        if n == 0 {
            return Err(Error::not_found(Entity::Order, o.id));
        }
        self.tx.prepare_cached("DELETE FROM order_items WHERE order_id = ?1").db()?.execute([o.id.0]).db()?;
        self.insert_items(o.id, &o.items)
    }

    fn get_order(&mut self, id: OrderId) -> Result<Option<Order>> {
        let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE id = ?1");
        let o = self.tx.prepare_cached(&sql).db()?.query_row([id.0], order_row).optional().db()?;
        o.map(|o| self.load_items(o)).transpose()
    }

    fn order_by_external_id(&mut self, external_id: &str) -> Result<Option<Order>> {
        let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE external_id = ?1");
        let o = self.tx.prepare_cached(&sql).db()?.query_row([external_id], order_row).optional().db()?;
        o.map(|o| self.load_items(o)).transpose()
    }

    fn delete_order(&mut self, id: OrderId) -> Result<()> {
        self.tx.prepare_cached("DELETE FROM order_items WHERE order_id = ?1").db()?.execute([id.0]).db()?;
        self.tx.prepare_cached("DELETE FROM order_refunds WHERE order_id = ?1").db()?.execute([id.0]).db()?;
        self.tx.prepare_cached("DELETE FROM orders WHERE id = ?1").db()?.execute([id.0]).db()?;
        Ok(())
    }

    fn insert_refund(&mut self, r: &OrderRefund) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO order_refunds (order_id, refund_key, amount_minor, lines, at, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .db()?
            .execute(params![r.order_id.0, r.key, r.amount_minor, json(&r.lines), micros(r.at), micros(r.created_at)])
            .db()?;
        Ok(())
    }

    fn refund_by_key(&mut self, key: &str) -> Result<Option<OrderRefund>> {
        let sql = format!("SELECT {REFUND_COLS} FROM order_refunds WHERE refund_key = ?1");
        Ok(self.tx.prepare_cached(&sql).db()?.query_row([key], refund_row).optional().db()?)
    }

    fn refunds_of_order(&mut self, order: OrderId) -> Result<Vec<OrderRefund>> {
        let sql = format!("SELECT {REFUND_COLS} FROM order_refunds WHERE order_id = ?1 ORDER BY id");
        let rows = self
            .tx
            .prepare_cached(&sql)
            .db()?
            .query_map([order.0], refund_row)
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }

    fn order_ids_of(&mut self, customer: CustomerId) -> Result<Vec<OrderId>> {
        Ok(self
            .ids("SELECT id FROM orders WHERE customer_id = ?1 ORDER BY id", customer.0)?
            .into_iter()
            .map(OrderId)
            .collect())
    }

    fn count_orders(&mut self) -> Result<i64> {
        self.count("SELECT count(*) FROM orders")
    }

    fn aggregate_orders(&mut self, customer: CustomerId, status: OrderStatus) -> Result<OrderAggregate> {
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT currency, count(*), min(occurred_at), max(occurred_at), sum(total_minor) FROM orders \
             WHERE customer_id = ?1 AND status = ?2 GROUP BY currency ORDER BY currency",
            )
            .db()?;
        let mut agg = OrderAggregate::default();
        let mut rows = st.query(params![customer.0, status.as_str()]).db()?;
        while let Some(r) = rows.next().db()? {
            let n: i64 = r.get(1).db()?;
            let (first, last) = (time(r.get(2).db()?), time(r.get(3).db()?));
            agg.count += n;
            agg.first_at = Some(agg.first_at.map_or(first, |f| f.min(first)));
            agg.last_at = Some(agg.last_at.map_or(last, |l| l.max(last)));
            agg.spend.push((currency_col(r, 0).db()?, r.get(4).db()?));
        }
        Ok(agg)
    }

    fn get_stats(&mut self, customer: CustomerId) -> Result<CustomerStats> {
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT order_count, first_order_at, last_order_at, interaction_count, last_interaction_at \
             FROM customer_stats WHERE customer_id = ?1",
            )
            .db()?;
        let mut s = st
            .query_row([customer.0], |r| {
                Ok(CustomerStats {
                    customer_id: customer,
                    order_count: r.get(0)?,
                    first_order_at: opt_time(r.get(1)?),
                    last_order_at: opt_time(r.get(2)?),
                    total_spent: Vec::new(),
                    interaction_count: r.get(3)?,
                    last_interaction_at: opt_time(r.get(4)?),
                })
            })
            .optional()
            .db()?
            .unwrap_or(CustomerStats { customer_id: customer, ..CustomerStats::default() });
        let mut st = self.tx.prepare_cached(
            "SELECT currency, total_minor FROM customer_spend WHERE customer_id = ?1 AND total_minor != 0 ORDER BY currency",
        ).db()?;
        s.total_spent = st
            .query_map([customer.0], |r| Ok(Money::new(r.get(1)?, currency_col(r, 0)?)))
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(s)
    }

    fn put_stats(&mut self, s: &CustomerStats) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO customer_stats (customer_id, order_count, first_order_at, last_order_at, interaction_count, last_interaction_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            ).db()?
            .execute(params![
                s.customer_id.0,
                s.order_count,
                s.first_order_at.map(micros),
                s.last_order_at.map(micros),
                s.interaction_count,
                s.last_interaction_at.map(micros),
            ]).db()?;
        self.tx
            .prepare_cached("DELETE FROM customer_spend WHERE customer_id = ?1")
            .db()?
            .execute([s.customer_id.0])
            .db()?;
        let mut st = self.tx.prepare_cached(
            "INSERT INTO customer_spend (customer_id, currency, total_minor, customer_order_count, customer_last_order_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        ).db()?;
        for m in &s.total_spent {
            st.execute(params![
                s.customer_id.0,
                m.currency.code(),
                m.minor,
                s.order_count,
                s.last_order_at.map(micros)
            ])
            .db()?;
        }
        Ok(())
    }

    fn add_stats(&mut self, d: &StatsDelta) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO customer_stats (customer_id, order_count, first_order_at, last_order_at, interaction_count, last_interaction_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(customer_id) DO UPDATE SET \
                 order_count = order_count + excluded.order_count, \
                 first_order_at = min(coalesce(first_order_at, excluded.first_order_at), coalesce(excluded.first_order_at, first_order_at)), \
                 last_order_at = max(coalesce(last_order_at, excluded.last_order_at), coalesce(excluded.last_order_at, last_order_at)), \
                 interaction_count = interaction_count + excluded.interaction_count, \
                 last_interaction_at = max(coalesce(last_interaction_at, excluded.last_interaction_at), coalesce(excluded.last_interaction_at, last_interaction_at))",
            ).db()?
            .execute(params![
                d.customer_id.0,
                d.orders,
                d.first_order_at.map(micros),
                d.last_order_at.map(micros),
                d.interactions,
                d.last_interaction_at.map(micros),
            ]).db()?;
        let mut st = self
            .tx
            .prepare_cached(
                "INSERT INTO customer_spend (customer_id, currency, total_minor) VALUES (?1, ?2, ?3) \
             ON CONFLICT(currency, customer_id) DO UPDATE SET total_minor = total_minor + excluded.total_minor",
            )
            .db()?;
        for (c, minor) in &d.spend {
            st.execute(params![d.customer_id.0, c.code(), minor]).db()?;
        }
        if d.orders != 0 || !d.spend.is_empty() {
            // The spend rows' copy of the customer's order count and last order (schema 5;
            // found through `customer_spend_customer`, which these columns are not in).
            self.tx
                .prepare_cached(
                    "UPDATE customer_spend SET (customer_order_count, customer_last_order_at) = \
                     (SELECT order_count, last_order_at FROM customer_stats WHERE customer_id = ?1) \
                     WHERE customer_id = ?1",
                )
                .db()?
                .execute([d.customer_id.0])
                .db()?;
        }
        Ok(())
    }

    fn top_spenders(&mut self, currency: Currency, limit: usize) -> Result<Vec<(CustomerId, i64)>> {
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT customer_id, total_minor FROM customer_spend WHERE currency = ?1 AND total_minor > 0 \
             ORDER BY total_minor DESC, customer_id LIMIT ?2",
            )
            .db()?;
        let rows = st
            .query_map(params![currency.code(), limit as i64], |r| Ok((CustomerId(r.get(0)?), r.get(1)?)))
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }

    fn timeline(
        &mut self,
        customer: CustomerId,
        before: Option<(i64, u8, i64)>,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>> {
        // Keys sort as (time, 0 = order / 1 = interaction, id), newest first.
        let (t0, k0, id0) = before.unwrap_or((i64::MAX, u8::MAX, i64::MAX));
        let (order_id_bound, inter_id_bound, inter_t_bound) = match k0 {
            0 => (id0, i64::MIN, t0),
            1 => (i64::MAX, id0, t0),
            _ => (i64::MAX, i64::MAX, t0),
        };
        let sql = format!(
            "SELECT {ORDER_COLS} FROM orders WHERE customer_id = ?1 AND (occurred_at < ?2 OR (occurred_at = ?2 AND id < ?3)) \
             ORDER BY occurred_at DESC, id DESC LIMIT ?4"
        );
        let orders: Vec<Order> = self
            .tx
            .prepare_cached(&sql)
            .db()?
            .query_map(params![customer.0, t0, order_id_bound, limit as i64], order_row)
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        let sql = format!(
            "SELECT {INTERACTION_COLS} FROM interactions WHERE customer_id = ?1 AND (occurred_at < ?2 OR (occurred_at = ?2 AND id < ?3)) \
             ORDER BY occurred_at DESC, id DESC LIMIT ?4"
        );
        let inters: Vec<Interaction> = self
            .tx
            .prepare_cached(&sql)
            .db()?
            .query_map(params![customer.0, inter_t_bound, inter_id_bound, limit as i64], interaction_row)
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        let mut all: Vec<TimelineEntry> = orders
            .into_iter()
            .map(|o| self.load_items(o).map(TimelineEntry::Order))
            .chain(inters.into_iter().map(|i| Ok(TimelineEntry::Interaction(i))))
            .collect::<Result<_>>()?;
        all.sort_by_key(|e| std::cmp::Reverse(e.key()));
        all.truncate(limit);
        Ok(all)
    }

    fn append_change(&mut self, entity: Entity, id: i64, op: Op, at: DateTime<Utc>) -> Result<i64> {
        self.tx
            .prepare_cached("INSERT INTO changes (entity, entity_id, op, at) VALUES (?1, ?2, ?3, ?4)")
            .db()?
            .execute(params![entity.as_str(), id, op.as_str(), micros(at)])
            .db()?;
        Ok(self.tx.last_insert_rowid())
    }

    fn changes_since(&mut self, after: i64, limit: usize) -> Result<Vec<Change>> {
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT seq, entity, entity_id, op, at, ref_id FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .db()?;
        let rows = st
            .query_map(params![after, limit as i64], |r| {
                let e: String = r.get(1)?;
                let o: String = r.get(3)?;
                Ok(Change {
                    seq: r.get(0)?,
                    entity: Entity::parse(&e).ok_or_else(|| conversion(1, Error::validation("entity", e.clone())))?,
                    id: r.get(2)?,
                    op: Op::parse(&o).ok_or_else(|| conversion(3, Error::validation("op", o.clone())))?,
                    at: time(r.get(4)?),
                    ref_id: r.get(5)?,
                })
            })
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }

    // Segmentation: RFM (segment::rfm).
    fn rfm_inputs(
        &mut self,
        currency: Currency,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<crate::segment::rfm::RfmInput>> {
        rfm::inputs(&self.tx, currency, until)
    }

    fn rfm_input_of(
        &mut self,
        customer: CustomerId,
        currency: Currency,
        until: Option<DateTime<Utc>>,
    ) -> Result<Option<crate::segment::rfm::RfmInput>> {
        rfm::input_of(&self.tx, customer, currency, until)
    }

    fn replace_rfm(&mut self, scores: &[crate::segment::rfm::RfmScore]) -> Result<()> {
        rfm::replace(&self.tx, scores)
    }

    fn get_rfm(&mut self, customer: CustomerId) -> Result<Option<crate::segment::rfm::RfmScore>> {
        rfm::get(&self.tx, customer)
    }

    fn rfm_segment_counts(&mut self) -> Result<Vec<(String, i64)>> {
        rfm::segment_counts(&self.tx)
    }

    fn put_rfm_model(&mut self, json: &str, computed_at: DateTime<Utc>) -> Result<()> {
        rfm::put_model(&self.tx, json, computed_at)
    }

    fn get_rfm_model(&mut self) -> Result<Option<String>> {
        rfm::get_model(&self.tx)
    }

    // Segmentation: rules, segments, scoring plans, tiers and lifecycle (rule, segment).

    fn rule_members(&mut self, rule: &Cond, after: Option<CustomerId>, limit: usize) -> Result<Vec<CustomerId>> {
        segments::rule_members(&self.tx, rule, after, limit)
    }

    fn rule_count(&mut self, rule: &Cond) -> Result<i64> {
        segments::rule_count(&self.tx, rule)
    }

    fn classify(&mut self, rules: &[Cond]) -> Result<Vec<Classified>> {
        segments::classify(&self.tx, rules)
    }

    fn score_all(&mut self, plan: &[(Cond, i64)]) -> Result<Vec<(CustomerId, i64)>> {
        segments::score_all(&self.tx, plan)
    }

    fn orders_of(&mut self, customer: CustomerId, since: Option<DateTime<Utc>>) -> Result<Vec<Order>> {
        segments::orders_of(&self.tx, customer, since.map(micros))
    }

    fn interactions_of(&mut self, customer: CustomerId, since: Option<DateTime<Utc>>) -> Result<Vec<Interaction>> {
        segments::interactions_of(&self.tx, customer, since.map(micros))
    }

    fn tier_of(&mut self, customer: CustomerId) -> Result<Option<String>> {
        segments::tier_of(&self.tx, customer)
    }

    fn static_segments_of(&mut self, customer: CustomerId) -> Result<Vec<i64>> {
        segments::static_segments_of(&self.tx, customer)
    }

    fn insert_segment(&mut self, s: &Segment) -> Result<SegmentId> {
        segments::insert_segment(&self.tx, s)
    }

    fn update_segment(&mut self, s: &Segment) -> Result<()> {
        segments::update_segment(&self.tx, s)
    }

    fn segment_by_name(&mut self, name: &str) -> Result<Option<Segment>> {
        segments::segment_by_name(&self.tx, name)
    }

    fn list_segments(&mut self) -> Result<Vec<Segment>> {
        segments::list_segments(&self.tx)
    }

    fn delete_segment(&mut self, id: SegmentId) -> Result<()> {
        segments::delete_segment(&self.tx, id)
    }

    fn stored_members(&mut self, id: SegmentId, after: Option<CustomerId>, limit: usize) -> Result<Vec<CustomerId>> {
        segments::stored_members(&self.tx, id, after, limit)
    }

    fn count_stored_members(&mut self, id: SegmentId) -> Result<i64> {
        segments::count_stored_members(&self.tx, id)
    }

    fn change_members(
        &mut self,
        id: SegmentId,
        entered: &[CustomerId],
        left: &[CustomerId],
        at: DateTime<Utc>,
    ) -> Result<()> {
        segments::change_members(&self.tx, id, entered, left, at)
    }

    fn put_plan(&mut self, plan: &ScoringPlan, at: DateTime<Utc>) -> Result<(i64, bool)> {
        segments::put_plan(&self.tx, plan, at)
    }

    fn list_plans(&mut self) -> Result<Vec<ScoringPlan>> {
        segments::list_plans(&self.tx)
    }

    fn delete_plan(&mut self, name: &str) -> Result<Option<i64>> {
        segments::delete_plan(&self.tx, name)
    }

    fn get_setting(&mut self, key: &str) -> Result<Option<String>> {
        segments::get_setting(&self.tx, key)
    }

    fn put_setting(&mut self, key: &str, value: &str) -> Result<()> {
        segments::put_setting(&self.tx, key, value)
    }

    fn set_stages(&mut self, changes: &[(CustomerId, LifecycleStage)], at: DateTime<Utc>) -> Result<()> {
        segments::set_stages(&self.tx, changes, at)
    }

    fn all_tiers(&mut self) -> Result<Vec<(CustomerId, String)>> {
        segments::all_tiers(&self.tx)
    }

    fn set_tiers(&mut self, changes: &[(CustomerId, Option<String>)], at: DateTime<Utc>) -> Result<()> {
        segments::set_tiers(&self.tx, changes, at)
    }

    fn append_history(&mut self, kind: &str, entries: &[HistoryEntry]) -> Result<()> {
        segments::append_history(&self.tx, kind, entries)
    }

    fn history(&mut self, customer: CustomerId, kind: &str) -> Result<Vec<(String, DateTime<Utc>)>> {
        segments::history(&self.tx, customer, kind)
    }

    fn spend_values(&mut self, currency: Currency) -> Result<Vec<i64>> {
        segments::spend_values(&self.tx, currency)
    }

    // Analytics (analytics).

    fn scan_orders(&mut self, scan: &OrderScan, f: &mut dyn FnMut(&ScannedOrder<'_>) -> Result<()>) -> Result<()> {
        self.scan_orders_impl(scan, f)
    }

    fn scan_order_items(&mut self, scan: &OrderScan, f: &mut dyn FnMut(&ScannedItem<'_>) -> Result<()>) -> Result<()> {
        self.scan_order_items_impl(scan, f)
    }

    fn scan_order_records(
        &mut self,
        scan: &OrderScan,
        items: bool,
        f: &mut dyn FnMut(&Order) -> Result<()>,
    ) -> Result<()> {
        self.scan_order_records_impl(scan, items, f)
    }

    // Loyalty (loyalty).

    fn get_loyalty_program(&mut self) -> Result<Option<String>> {
        loyalty::get_program(&self.tx)
    }

    fn put_loyalty_program(&mut self, json: &str, at: DateTime<Utc>) -> Result<()> {
        loyalty::put_program(&self.tx, json, at)
    }

    fn loyalty_account(&mut self, customer: CustomerId) -> Result<Option<Account>> {
        loyalty::account(&self.tx, customer)
    }

    fn put_loyalty_account(&mut self, a: &Account) -> Result<()> {
        loyalty::put_account(&self.tx, a)
    }

    fn loyalty_accounts(&mut self) -> Result<Vec<Account>> {
        loyalty::accounts(&self.tx)
    }

    fn loyalty_entry_by_key(&mut self, key: &str) -> Result<Option<Entry>> {
        loyalty::entry_by_key(&self.tx, key)
    }

    fn insert_loyalty_entry(&mut self, e: &Entry, created_at: DateTime<Utc>) -> Result<EntryId> {
        loyalty::insert_entry(&self.tx, e, created_at)
    }

    fn loyalty_entries_of_order(&mut self, order: OrderId) -> Result<Vec<Entry>> {
        loyalty::entries_of_order(&self.tx, order)
    }

    fn loyalty_entries(&mut self, customer: CustomerId) -> Result<Vec<Entry>> {
        loyalty::entries(&self.tx, customer)
    }

    fn detach_loyalty_entry(&mut self, entry: EntryId, key: &str) -> Result<()> {
        loyalty::detach_entry(&self.tx, entry, key)
    }

    fn delete_loyalty(&mut self, customer: CustomerId) -> Result<Vec<EntryId>> {
        loyalty::delete_customer(&self.tx, customer)
    }

    fn loyalty_points_as_of(&mut self, customer: CustomerId, at: DateTime<Utc>) -> Result<i64> {
        loyalty::points_as_of(&self.tx, customer, at)
    }

    fn loyalty_qualifying_between(
        &mut self,
        customer: CustomerId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<i64> {
        loyalty::qualifying_between(&self.tx, customer, since, until)
    }

    fn completed_between(
        &mut self,
        customer: CustomerId,
        currency: Option<Currency>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<i64> {
        loyalty::completed_between(&self.tx, customer, currency, since, until)
    }

    fn insert_lot(&mut self, l: &Lot) -> Result<i64> {
        loyalty::insert_lot(&self.tx, l)
    }

    fn open_lots(&mut self, customer: CustomerId) -> Result<Vec<Lot>> {
        loyalty::open_lots(&self.tx, customer)
    }

    fn loyalty_lots(&mut self, customer: CustomerId) -> Result<Vec<Lot>> {
        loyalty::lots(&self.tx, customer)
    }

    fn update_lot(&mut self, id: i64, remaining: i64, expired: bool) -> Result<()> {
        loyalty::update_lot(&self.tx, id, remaining, expired)
    }

    fn due_lots(&mut self, customer: Option<CustomerId>, as_of: DateTime<Utc>) -> Result<Vec<Lot>> {
        loyalty::due_lots(&self.tx, customer, as_of)
    }

    fn lot_of_entry(&mut self, entry: EntryId) -> Result<Option<Lot>> {
        loyalty::lot_of_entry(&self.tx, entry)
    }

    fn loyalty_rule_usage(&mut self, customer: CustomerId, rule: &str, period: &str) -> Result<i64> {
        loyalty::rule_usage(&self.tx, customer, rule, period)
    }

    fn add_loyalty_rule_usage(&mut self, customer: CustomerId, rule: &str, period: &str, points: i64) -> Result<()> {
        loyalty::add_rule_usage(&self.tx, customer, rule, period, points)
    }

    fn append_loyalty_tier(
        &mut self,
        customer: CustomerId,
        tier: Option<&str>,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<()> {
        loyalty::append_tier(&self.tx, customer, tier, at, reason)
    }

    fn loyalty_tier_history(&mut self, customer: CustomerId) -> Result<Vec<TierChange>> {
        loyalty::tier_history(&self.tx, customer)
    }
}
