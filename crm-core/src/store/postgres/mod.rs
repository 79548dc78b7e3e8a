//! PostgreSQL as a store (cargo feature `postgres`): many application servers share one
//! database. The same schema versions as SQLite (`schema.rs`), the same ports, proved by the
//! same conformance suite.
//!
//! # Transactions and isolation
//!
//! A read ([`Store::read`]) is one `REPEATABLE READ READ ONLY` transaction: one snapshot, no
//! writes. A write ([`Store::write`]) is one `READ COMMITTED` transaction in which the store
//! takes transaction-scoped advisory locks before the facade reads what it will decide on:
//! - every read or write of one customer's records (orders, statistics, loyalty account and
//!   lots, ...) first locks that customer, so two writers of one customer run one after the
//!   other (no overspent points, no lost statistics) while writers of different customers
//!   run side by side;
//! - every lookup by an external id or an idempotency key locks that key, so two hosts
//!   sending the same new record at once write it once; the `external_keys` table (schema
//!   8) keeps those keys unique, claimed in the statement that stores the record, so that
//!   the record tables need no unique index of their own and can be distributed by
//!   customer (`docs/scale-out.md`);
//! - writes of global records (segments, scoring plans, RFM scores, tiers, settings) lock
//!   one global key, so they run one at a time;
//! - a transaction's change-feed entries are written last, in one statement that takes
//!   the feed's lock (held to the commit), so entries commit in the order of their
//!   sequence numbers.
//!
//! A lock is taken once per transaction and released at its end. Every writer also holds a
//! writers' lock shared; a bulk write ([`Store::write_alone`], used by ingest batches) holds
//! it exclusively instead of one lock per customer and key, and so does a transaction that
//! would take more than 256 key locks (the server's lock table is small): such a write runs
//! alone, as every write does on SQLite. Two writers that lock two customers in opposite
//! orders are a deadlock the server breaks: one gets a [`StorageErrorKind::Busy`] error, and
//! the call retried completes.
//!
//! # Connections
//!
//! Connections come from a pool of at most [`PostgresOptions::max_connections`], each with
//! its own cache of prepared statements. A call takes an idle connection or opens one in its
//! own thread (so what went wrong, refused credentials or no server, is its typed error, and
//! a library linked into a host starts no threads of its own); when all are busy it waits
//! up to [`PostgresOptions::connect_timeout`] for one. A connection that broke is dropped on
//! its way back; the call that saw it break gets [`StorageErrorKind::Unavailable`] and wrote
//! nothing (its transaction never committed), and the next call opens a new one.

mod analytics;
mod config;
mod copy;
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

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, NoTls, Row, Statement};

use crate::customer::{Address, Customer, CustomerId};
use crate::error::{Error, Result, StorageErrorKind};
use crate::store::codec::{enum_parse, enum_str, json, micros, time};
use crate::store::Store;
pub(crate) use error::{own, pg_error, Pg};

/// The oldest PostgreSQL server crm supports (13); older servers are refused when opening.
pub const MIN_SERVER_VERSION: i32 = 130_000;

/// The schema version this build writes (the same as SQLite's).
pub const SCHEMA_VERSION: i64 = schema::MIGRATIONS.len() as i64;

/// Key of the advisory lock that serialises migrations (any fixed 64-bit number; this one
/// is "crm-migr" in ASCII).
const MIGRATION_LOCK: i64 = 0x63_72_6d_2d_6d_69_67_72;

/// Most key locks (customers, external ids) one transaction takes; a transaction that needs
/// more holds the writers' lock exclusively instead (PostgreSQL's lock table has room for
/// `max_locks_per_transaction` (64 by default) times the connections, for all of them).
const MAX_KEY_LOCKS: usize = 256;

/// Connection settings of a [`PostgresStore`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct PostgresOptions {
    /// Most connections the pool opens (1 to 1000).
    pub max_connections: u32,
    /// How long opening a connection, or waiting for a free one, may take. In JSON:
    /// `connect_timeout_ms`, whole milliseconds (1 to 3,600,000).
    #[serde(rename = "connect_timeout_ms", with = "crate::store::sqlite::millis")]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub connect_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions { max_connections: 16, connect_timeout: Duration::from_secs(10) }
    }
}

impl PostgresOptions {
    fn check(&self) -> Result<()> {
        if !(1..=1000).contains(&self.max_connections) {
            return Err(Error::validation("max_connections", "must be 1 to 1000"));
        }
        let ms = self.connect_timeout.as_millis();
        if !(1..=3_600_000).contains(&ms) {
            return Err(Error::validation("connect_timeout_ms", "must be 1 to 3600000 milliseconds"));
        }
        Ok(())
    }
}

/// A [`Store`] on a PostgreSQL server (13 or newer), opened by URL.
///
/// ```no_run
/// use crm_core::store::prelude::*;
/// use crm_core::store::PostgresStore;
/// let store = PostgresStore::open("postgresql://crm:secret@db.example/crm").unwrap();
/// let n = store.read(|tx| tx.count_customers()).unwrap();
/// # let _ = n;
/// ```
pub struct PostgresStore {
    pool: Pool,
    target: String,
    /// Mixed into every advisory lock key: advisory locks are per database, and each schema
    /// holding crm's tables is a store of its own.
    salt: u64,
}

// A panic inside `write` or `read` drops the transaction (rolled back) and returns its
// connection to the pool as any early return does, so the store stays sound.
impl std::panic::RefUnwindSafe for PostgresStore {}
impl std::panic::UnwindSafe for PostgresStore {}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("target", &self.target).finish_non_exhaustive()
    }
}

/// Whether `target` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_url(target: &str) -> bool {
    let t = target.trim_start();
    ["postgres://", "postgresql://"].iter().any(|p| t.len() >= p.len() && t[..p.len()].eq_ignore_ascii_case(p))
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    // scheme://user:password@host...: drop what lies between the first ':' after the scheme
    // and the last '@' before the path.
    let Some(rest_at) = url.find("://").map(|i| i + 3) else { return "<url>".into() };
    let rest = &url[rest_at..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let user = authority[..at].split(':').next().unwrap_or("");
            format!("{}{user}:***@{}{}", &url[..rest_at], &authority[at + 1..], &rest[authority_end..])
        }
        None => url.to_string(),
    }
}

/// Longest URL accepted.
pub const MAX_URL_BYTES: usize = 4096;

impl PostgresStore {
    /// Connects with default options, creating or upgrading crm's tables in the database.
    ///
    /// Errors: a malformed URL ([`Error::Validation`] on `url`); refused credentials
    /// ([`StorageErrorKind::Auth`]); no server, no such database or a timeout
    /// ([`StorageErrorKind::Unavailable`]); a server older than PostgreSQL 13
    /// ([`StorageErrorKind::Unsupported`]); a database written by a newer crm
    /// ([`Error::SchemaTooNew`]). Nothing is created in the database when opening fails.
    pub fn open(url: &str) -> Result<PostgresStore> {
        PostgresStore::open_with(url, &PostgresOptions::default())
    }

    /// Connects with the given options.
    pub fn open_with(url: &str, opts: &PostgresOptions) -> Result<PostgresStore> {
        opts.check()?;
        if url.len() > MAX_URL_BYTES {
            return Err(Error::validation("url", format!("longer than {MAX_URL_BYTES} bytes")));
        }
        if !is_url(url) {
            return Err(Error::validation("url", "must start with postgresql:// or postgres://"));
        }
        let target = redact(url);
        let mut config = postgres::Config::from_str(url.trim())
            .map_err(|e| Error::validation("url", format!("{target} is not a PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(opts.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("crm");
        }
        let pool = Pool {
            config,
            max: opts.max_connections as usize,
            wait: opts.connect_timeout,
            state: Mutex::new(PoolState { idle: Vec::new(), open: 0 }),
            freed: Condvar::new(),
        };
        // The first connection is made here, so that what is wrong (credentials, server,
        // version, schema) is a typed error now.
        let mut first = pool.connect()?;
        check_server(&mut first.client)?;
        let salt = schema_salt(&mut first.client)?;
        migrate(&mut first.client)?;
        pool.state.lock().unwrap_or_else(|e| e.into_inner()).open = 1;
        let store = PostgresStore { pool, target, salt };
        store.pool.give_back(first);
        Ok(store)
    }

    /// The URL the store was opened with, without its password.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn conn(&self) -> Result<Pooled<'_>> {
        self.pool.get().map_err(|e| match e {
            Error::Storage { kind: StorageErrorKind::Busy, .. } => own(
                StorageErrorKind::Busy,
                format!("all {} connections to {} stayed busy for the timeout", self.pool.max, self.target),
            ),
            e => e,
        })
    }
}

/// The connections of a store: idle ones, and how many are open in all.
struct Pool {
    config: postgres::Config,
    max: usize,
    wait: Duration,
    state: Mutex<PoolState>,
    freed: Condvar,
}

struct PoolState {
    idle: Vec<Conn>,
    /// Connections open, idle or in use (or being opened).
    open: usize,
}

/// A connection taken from the pool, given back when dropped (unless it broke).
struct Pooled<'p> {
    conn: Option<Conn>,
    pool: &'p Pool,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Pooled<'_> {
    /// After a call: a connection whose call failed as `Unavailable` (the server closed it,
    /// or said it is shutting down) is closed instead of kept, even when the client has not
    /// noticed yet (a server's `57P01` arrives before the socket closes), so that the next
    /// call opens a new one.
    fn keep_if_usable<R>(&mut self, r: &Result<R>) {
        let unavailable = matches!(r, Err(e) if e.storage_kind() == Some(StorageErrorKind::Unavailable));
        if unavailable && self.conn.take().is_some() {
            self.pool.lock().open -= 1;
            self.pool.freed.notify_one();
        }
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.pool.give_back(c);
        }
    }
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn connect(&self) -> Result<Conn> {
        let client = self.config.connect(NoTls).map_err(pg_error)?;
        Ok(Conn { client, statements: HashMap::new() })
    }

    /// An idle connection, or a new one if fewer than `max` are open, or the first freed
    /// within `wait`.
    fn get(&self) -> Result<Pooled<'_>> {
        let deadline = std::time::Instant::now() + self.wait;
        let mut st = self.lock();
        loop {
            if let Some(c) = st.idle.pop() {
                return Ok(Pooled { conn: Some(c), pool: self });
            }
            if st.open < self.max {
                st.open += 1;
                drop(st);
                return match self.connect() {
                    Ok(c) => Ok(Pooled { conn: Some(c), pool: self }),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(own(StorageErrorKind::Busy, "every connection stayed busy"));
            }
            st = self.freed.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Keeps `conn` for the next call, or closes it if it broke.
    fn give_back(&self, conn: Conn) {
        let mut st = self.lock();
        if conn.client.is_closed() {
            st.open -= 1;
        } else {
            st.idle.push(conn);
        }
        drop(st);
        self.freed.notify_one();
    }
}

/// Refuses a server older than [`MIN_SERVER_VERSION`].
fn check_server(client: &mut Client) -> Result<()> {
    let row = client.query_one("SELECT current_setting('server_version_num')::int", &[]).pg()?;
    supported_version(row.get(0))
}

/// `Ok` for a `server_version_num` crm supports.
fn supported_version(version: i32) -> Result<()> {
    if version < MIN_SERVER_VERSION {
        return Err(own(
            StorageErrorKind::Unsupported,
            format!("PostgreSQL {}.{} is too old: crm needs 13 or newer", version / 10_000, version % 10_000 / 100),
        ));
    }
    Ok(())
}

/// The lock-key salt of the schema crm's tables are in (the first of the search path).
fn schema_salt(client: &mut Client) -> Result<u64> {
    let schema: Option<String> = client.query_one("SELECT current_schema()::text", &[]).pg()?.get(0);
    let Some(schema) = schema else {
        return Err(Error::validation("url", "no schema of the search path exists to hold crm's tables"));
    };
    Ok(fnv(&[schema.as_bytes()]))
}

/// The schema version of the database (0 when crm's tables are not there), read without
/// creating anything.
fn schema_version(client: &mut impl postgres::GenericClient) -> Result<i64> {
    let exists: bool = client.query_one("SELECT to_regclass('crm_schema') IS NOT NULL", &[]).pg()?.get(0);
    if !exists {
        return Ok(0);
    }
    let row = client.query_opt("SELECT version FROM crm_schema", &[]).pg()?;
    Ok(row.map_or(0, |r| r.get(0)))
}

/// Applies the missing migrations in one transaction under an advisory lock.
fn migrate(client: &mut Client) -> Result<()> {
    // Refuse a newer database before taking any lock or creating anything.
    let found = schema_version(client)?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let mut tx = client.transaction().pg()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).pg()?;
    let found = schema_version(&mut tx)?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    if found == 0 {
        tx.batch_execute("CREATE TABLE crm_schema (version BIGINT NOT NULL); INSERT INTO crm_schema VALUES (0);")
            .pg()?;
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql).pg()?;
        tx.execute("UPDATE crm_schema SET version = $1", &[&(i as i64 + 1)]).pg()?;
    }
    tx.commit().pg()
}

/// A pooled connection: the client and its prepared statements.
pub(crate) struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Store for PostgresStore {
    type Read<'a> = PgTx<'a, Reading>;
    type Write<'a> = PgTx<'a, Writing>;

    fn write<R>(&self, f: impl FnOnce(&mut PgTx<'_, Writing>) -> Result<R>) -> Result<R> {
        self.write_as(false, f)
    }

    fn write_alone<R>(&self, f: impl FnOnce(&mut PgTx<'_, Writing>) -> Result<R>) -> Result<R> {
        self.write_as(true, f)
    }

    fn read<R>(&self, f: impl FnOnce(&mut PgTx<'_, Reading>) -> Result<R>) -> Result<R> {
        let mut conn = self.conn()?;
        let r = (|| {
            let Conn { client, statements } = &mut *conn;
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .pg()?;
            let mut t = PgTx::new(tx, statements, self.salt);
            let r = f(&mut t)?;
            t.tx.commit().pg()?;
            Ok(r)
        })();
        conn.keep_if_usable(&r);
        r
    }
}

impl PostgresStore {
    fn write_as<R>(&self, alone: bool, f: impl FnOnce(&mut PgTx<'_, Writing>) -> Result<R>) -> Result<R> {
        let mut conn = self.conn()?;
        let r = (|| {
            let Conn { client, statements } = &mut *conn;
            let tx = client.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start().pg()?;
            let mut t = PgTx::new(tx, statements, self.salt);
            if alone {
                t.go_alone()?;
            }
            let r = f(&mut t)?;
            t.flush_feed()?;
            t.tx.commit().pg()?;
            Ok(r)
        })();
        conn.keep_if_usable(&r);
        r
    }
}

/// A transaction on a [`PostgresStore`]: [`Reading`] has the reading half of every port,
/// [`Writing`] has every port.
pub struct PgTx<'a, M = Writing> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
    /// Advisory lock keys this transaction holds.
    locked: HashSet<i64>,
    /// Whether it holds the writers' lock exclusively (and so needs no other lock).
    alone: bool,
    /// The store's lock-key salt.
    salt: u64,
    /// Change-feed entries not yet written: they are written last, just before the commit,
    /// so the feed's lock is held only for that statement and the commit (see the feed port).
    feed: Vec<FeedRow>,
    mode: PhantomData<M>,
}

/// A change-feed entry waiting for [`PgTx::flush_feed`].
#[derive(Debug)]
pub(crate) struct FeedRow {
    pub entity: &'static str,
    pub id: i64,
    pub op: &'static str,
    pub at: i64,
    pub ref_id: Option<i64>,
}

/// A statement's first part that takes the advisory locks [`PgTx::statement_locks`] gives
/// (`$1`: shared, `$2`: exclusive, in that order); the statement reads `FROM locked` (one
/// row), so that what it does comes after the locks.
pub(crate) const LOCKS_CTE: &str =
    "WITH shared AS (SELECT count(pg_advisory_xact_lock_shared(k)) FROM unnest($1::bigint[]) k), \
     locked AS (SELECT count(pg_advisory_xact_lock(k)) FROM shared, unnest($2::bigint[]) k)";

pub use crate::store::{Reading, Writing};

/// Whether a transaction mode writes (and so takes locks before it reads).
pub trait Mode {
    /// `true` for [`Writing`].
    const WRITES: bool;
}

impl Mode for Reading {
    const WRITES: bool = false;
}

impl Mode for Writing {
    const WRITES: bool = true;
}

/// A bound parameter.
pub(crate) type Param<'p> = &'p (dyn ToSql + Sync);

impl<'a, M: Mode> PgTx<'a, M> {
    fn new(tx: postgres::Transaction<'a>, statements: &'a mut HashMap<String, Statement>, salt: u64) -> Self {
        PgTx { tx, statements, locked: HashSet::new(), alone: false, salt, feed: Vec::new(), mode: PhantomData }
    }

    /// The prepared statement for `sql`, from this connection's cache.
    pub(crate) fn prepare(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let st = self.tx.prepare(sql).pg()?;
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    /// Every row of `sql`.
    pub(crate) fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let st = self.prepare(sql)?;
        self.tx.query(&st, params).pg()
    }

    /// The row of `sql`, if any (an error if several).
    pub(crate) fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        let st = self.prepare(sql)?;
        self.tx.query_opt(&st, params).pg()
    }

    /// The one row of `sql`.
    pub(crate) fn query_one(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Row> {
        let st = self.prepare(sql)?;
        self.tx.query_one(&st, params).pg()
    }

    /// Runs `sql`; the number of rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let st = self.prepare(sql)?;
        self.tx.execute(&st, params).pg()
    }

    /// Runs `sql` without preparing it (for statements built per call, such as compiled
    /// rules, which would only fill the cache).
    pub(crate) fn query_unprepared(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        self.tx.query(sql, params).pg()
    }

    /// The driver's transaction, for what the helpers above do not cover (COPY).
    pub(crate) fn raw(&mut self) -> &mut postgres::Transaction<'a> {
        &mut self.tx
    }

    /// Takes the lock `key` unless held; whether this call took a lock (so that what the
    /// transaction read before may have changed until now and must be read again).
    fn lock(&mut self, key: i64) -> Result<bool> {
        let was_alone = self.alone;
        let (shared, exclusive) = self.statement_locks(&[key])?;
        if !exclusive.is_empty() {
            self.execute(&format!("{LOCKS_CTE} SELECT 1 FROM locked"), &[&shared, &exclusive])?;
        }
        Ok(!exclusive.is_empty() || self.alone != was_alone)
    }

    /// For a statement that takes locks itself (see [`LOCKS_CTE`]): the shared and the
    /// exclusive keys it must take for `keys` (the writers' lock shared first when this
    /// transaction holds no lock yet; none held already), recorded as held. Locks taken in
    /// the statement do not make it read anew: use this only where the statement's reads do
    /// not depend on what the lock keeps out (an insert whose conflicts are checked anyway).
    pub(crate) fn statement_locks(&mut self, keys: &[i64]) -> Result<(Vec<i64>, Vec<i64>)> {
        let mut take: Vec<i64> = Vec::new();
        if M::WRITES && !self.alone {
            take = keys.iter().copied().filter(|k| !self.locked.contains(k)).collect();
            take.dedup();
        }
        if take.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        if self.locked.len() + take.len() > MAX_KEY_LOCKS {
            self.go_alone()?;
            return Ok((Vec::new(), Vec::new()));
        }
        let shared = if self.locked.is_empty() { vec![self.key("writers", b"")] } else { Vec::new() };
        self.locked.extend(&take);
        Ok((shared, take))
    }

    /// The lock key of one customer's records.
    pub(crate) fn customer_key(&self, id: CustomerId) -> i64 {
        self.key("customer", &id.0.to_le_bytes())
    }

    /// The lock key of an external id or idempotency key in a namespace.
    pub(crate) fn key_of(&self, namespace: &str, key: &str) -> i64 {
        self.key(namespace, key.as_bytes())
    }

    /// Holds the writers' lock exclusively: waits for the other writers to end, and keeps
    /// new ones waiting until this transaction ends.
    fn go_alone(&mut self) -> Result<()> {
        if M::WRITES && !self.alone {
            let writers = self.key("writers", b"");
            self.execute("SELECT pg_advisory_xact_lock($1)", &[&writers])?;
            self.alone = true;
        }
        Ok(())
    }

    /// In a write transaction: waits for, then holds until the end, the lock of one
    /// customer's records. Call before reading what a write will depend on. Whether this
    /// call took the lock: rows of the customer read before it must then be read again.
    /// A no-op (`false`) when reading or when held.
    pub(crate) fn lock_customer(&mut self, id: CustomerId) -> Result<bool> {
        self.lock(self.customer_key(id))
    }

    /// The advisory lock key of `key` in `namespace`, for this store.
    fn key(&self, namespace: &str, key: &[u8]) -> i64 {
        fnv(&[&self.salt.to_le_bytes(), namespace.as_bytes(), &[0], key]) as i64
    }

    /// In a write transaction: the lock of an external id or idempotency key in a namespace
    /// (`"order"`, `"customer"`, `"loyalty"`, ...). A no-op when reading.
    pub(crate) fn lock_key(&mut self, namespace: &str, key: &str) -> Result<()> {
        self.lock(self.key_of(namespace, key)).map(drop)
    }

    /// In a write transaction: the lock of global records (segments, plans, RFM scores,
    /// tiers, settings). A no-op when reading.
    pub(crate) fn lock_global(&mut self) -> Result<()> {
        self.lock(self.key("global", b"")).map(drop)
    }
}

/// FNV-1a over `parts`: stable across processes and builds (which std's hasher is not), so
/// every process computes the same advisory lock keys. A collision only makes two writers
/// wait for each other.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A value read from a column that does not convert to the model: the database was edited
/// by hand or is not a crm database.
pub(crate) fn corrupt(column: &str, e: impl std::fmt::Display) -> Error {
    own(StorageErrorKind::Corrupt, format!("column {column}: {e}"))
}

/// Column `i` of `r`, converted.
pub(crate) fn col<'r, T: postgres::types::FromSql<'r>>(r: &'r Row, i: usize) -> Result<T> {
    r.try_get(i).map_err(pg_error)
}

/// A stored unit enum (its serde name) in column `i`.
pub(crate) fn enum_col<T: serde::de::DeserializeOwned>(r: &Row, i: usize) -> Result<T> {
    enum_parse(col(r, i)?).map_err(|e| corrupt(r.columns()[i].name(), e))
}

/// A JSON text in column `i`.
pub(crate) fn json_col<T: serde::de::DeserializeOwned>(r: &Row, i: usize) -> Result<T> {
    let s: String = col(r, i)?;
    serde_json::from_str(&s).map_err(|e| corrupt(r.columns()[i].name(), e))
}

/// An optional JSON text in column `i`.
pub(crate) fn opt_json_col<T: serde::de::DeserializeOwned>(r: &Row, i: usize) -> Result<Option<T>> {
    let s: Option<String> = col(r, i)?;
    s.map(|s| serde_json::from_str(&s).map_err(|e| corrupt(r.columns()[i].name(), e))).transpose()
}

/// The columns of a customer, for [`customer_row`]; JSONB columns are read as text.
pub(crate) const CUSTOMER_COLS: &str = "c.id, c.external_id, c.kind, c.name, c.email, c.phone, c.company, c.title, \
     c.industry, c.country, c.region, c.city, c.postal_code, c.street, c.birthday, c.gender, c.tags::text, \
     c.attributes::text, c.consents::text, c.lifecycle, c.created_at, c.updated_at, c.merged_into";

/// A customer from a row of [`CUSTOMER_COLS`].
pub(crate) fn customer_row(r: &Row) -> Result<Customer> {
    let birthday: Option<String> = col(r, 14)?;
    Ok(Customer {
        id: CustomerId(col(r, 0)?),
        external_id: col(r, 1)?,
        kind: enum_col(r, 2)?,
        name: col(r, 3)?,
        email: col(r, 4)?,
        phone: col(r, 5)?,
        company: col(r, 6)?,
        title: col(r, 7)?,
        industry: col(r, 8)?,
        address: Address {
            country: col(r, 9)?,
            region: col(r, 10)?,
            city: col(r, 11)?,
            postal_code: col(r, 12)?,
            street: col(r, 13)?,
        },
        birthday: birthday.map(|b| b.parse().map_err(|e| corrupt("birthday", e))).transpose()?,
        gender: col(r, 15)?,
        tags: json_col(r, 16)?,
        attributes: json_col(r, 17)?,
        consents: json_col(r, 18)?,
        lifecycle: enum_col(r, 19)?,
        created_at: time(col(r, 20)?),
        updated_at: time(col(r, 21)?),
        merged_into: col::<Option<i64>>(r, 22)?.map(CustomerId),
    })
}

/// The values of a customer's columns after `id`, in [`CUSTOMER_COLS`] order, to bind as
/// `$1..$22` (`tags`, `attributes` and `consents` as text: write `$16::text::jsonb`,
/// `$17::text::jsonb`, `$18::text::jsonb`). Bind them with [`params`].
pub(crate) fn customer_values(c: &Customer) -> Vec<Box<dyn ToSql + Sync>> {
    vec![
        Box::new(c.external_id.clone()),
        Box::new(enum_str(&c.kind)),
        Box::new(c.name.clone()),
        Box::new(c.email.clone()),
        Box::new(c.phone.clone()),
        Box::new(c.company.clone()),
        Box::new(c.title.clone()),
        Box::new(c.industry.clone()),
        Box::new(c.address.country.clone()),
        Box::new(c.address.region.clone()),
        Box::new(c.address.city.clone()),
        Box::new(c.address.postal_code.clone()),
        Box::new(c.address.street.clone()),
        Box::new(c.birthday.map(|b| b.to_string())),
        Box::new(c.gender.clone()),
        Box::new(json(&c.tags)),
        Box::new(json(&c.attributes)),
        Box::new(json(&c.consents)),
        Box::new(enum_str(&c.lifecycle)),
        Box::new(micros(c.created_at)),
        Box::new(micros(c.updated_at)),
        Box::new(c.merged_into.map(|m| m.0)),
    ]
}

/// Owned parameters as the borrowed list the query helpers take.
pub(crate) fn params(values: &[Box<dyn ToSql + Sync>]) -> Vec<Param<'_>> {
    values.iter().map(|v| v.as_ref() as Param<'_>).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_older_than_13_are_unsupported() {
        let e = supported_version(120_017).unwrap_err();
        assert_eq!(e.storage_kind(), Some(StorageErrorKind::Unsupported));
        assert!(e.to_string().contains("PostgreSQL 12.0 is too old"), "{e}");
        assert!(supported_version(130_000).is_ok() && supported_version(170_002).is_ok());
    }

    #[test]
    fn urls_lose_their_password_in_messages() {
        assert_eq!(
            redact("postgresql://crm:secret@db:5432/x?sslmode=disable"),
            "postgresql://crm:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(redact("postgresql://db/x"), "postgresql://db/x");
        assert!(is_url("PostgreSQL://db/x") && is_url("postgres://db") && !is_url("/tmp/postgres://x"));
    }
}
