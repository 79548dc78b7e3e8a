//! Bulk ingest of customers, orders and interactions from CSV files, JSON Lines files, Rust
//! iterators and the typed columns of a binding's DataFrame. Rows stream through (a file is
//! never held in memory whole), are validated outside the write lock, and are written in
//! batched transactions. Rows that fail are reported with their row number, field and
//! reason; every valid row is stored. Records carry external ids, so ingesting the same
//! file again changes nothing.
//!
//! Every source ends in one engine, [`Crm::ingest_rows`], which takes numbered rows that
//! are either records or the reason the caller could not build one: files, iterators and
//! bindings share its batching, validation, statistics, change feed and report.
//!
//! Customers are merged into the stored ones (see [`CustomerPatch`]): a CSV column that is
//! absent, or a JSON key that is absent, keeps the stored value; an empty cell or a `null`
//! clears it. Within one ingest the first row with an external id wins: a later row with the
//! same (normalised) external id is refused, naming the row that was applied, so that an
//! import with duplicates reads the same every time it is run.

mod batch;
mod rows;

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::ops::ControlFlow;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::crm::UnitOfWork;
use crate::crm::{checked_upsert, now, Crm, CustomerUpsert, Outcome};
use crate::customer::{CustomerPatch, NewCustomer, UpsertMode};
use crate::error::{Error, Result};
use crate::interaction::NewInteraction;
use crate::order::NewOrder;
use crate::store::prelude::*;
use crate::validate::Validator;
use batch::Batch;

pub use rows::{Cell, CustomerRow, InteractionRow, OrderRow, CUSTOMER_COLUMNS, INTERACTION_COLUMNS, ORDER_COLUMNS};

/// File formats for bulk ingest and export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Comma-separated values with a header row (see [`CUSTOMER_COLUMNS`] and friends).
    Csv,
    /// One JSON object per line, in the serde shape of the input type.
    JsonLines,
}

impl Format {
    /// Picks the format from a file name: `.csv`, or `.jsonl` / `.ndjson`.
    pub fn from_path(path: &Path) -> Result<Format> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("jsonl" | "ndjson") => Ok(Format::JsonLines),
            _ => Err(Error::validation("path", format!("{}: expected a .csv, .jsonl or .ndjson file", path.display()))),
        }
    }
}

/// Which kind of record a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// [`NewCustomer`] rows.
    Customers,
    /// [`NewOrder`] rows.
    Orders,
    /// [`NewInteraction`] rows.
    Interactions,
}

impl RecordKind {
    /// Every kind, in the order names are listed.
    pub const ALL: [RecordKind; 3] = [RecordKind::Customers, RecordKind::Orders, RecordKind::Interactions];

    /// The name used in files, bindings and messages: `customers`, `orders`, `interactions`.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Customers => "customers",
            RecordKind::Orders => "orders",
            RecordKind::Interactions => "interactions",
        }
    }

    /// The kind with this name; bindings turn `None` into their own argument error,
    /// naming [`RecordKind::ALL`].
    ///
    /// ```
    /// use crm_core::ingest::RecordKind;
    /// assert_eq!(RecordKind::from_name("orders"), Some(RecordKind::Orders));
    /// assert_eq!(RecordKind::from_name("invoices"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// `"customers", "orders", "interactions"`, for error messages.
    pub fn names() -> String {
        RecordKind::ALL.map(|k| format!("{:?}", k.name())).join(", ")
    }
}

/// A row that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// For files, the 1-based line the row starts on (the CSV header is line 1); for
    /// iterators, the 1-based position; for [`Crm::ingest_rows`], the caller's number.
    pub row: u64,
    /// The offending field, where known.
    pub field: Option<String>,
    /// What was wrong.
    pub reason: String,
}

impl RowError {
    /// The row error for `e`: a validation error gives its field and reason, any other
    /// error its message.
    ///
    /// ```
    /// use crm_core::{ingest::RowError, Error};
    /// let e = RowError::from_error(3, Error::validation("email", "is not an address"));
    /// assert_eq!((e.row, e.field.as_deref()), (3, Some("email")));
    /// ```
    pub fn from_error(row: u64, e: Error) -> RowError {
        match e {
            Error::Validation { field, reason } => RowError { row, field: Some(field), reason },
            other => RowError { row, field: None, reason: other.to_string() },
        }
    }
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IngestReport {
    /// Rows read.
    pub rows: u64,
    /// Rows stored as new records.
    pub created: u64,
    /// Rows that changed an existing record (same external id).
    pub updated: u64,
    /// Rows identical to what was stored.
    pub unchanged: u64,
    /// Rows refused.
    pub failed: u64,
    /// The refused rows, in order, up to [`IngestOptions::max_errors`].
    pub errors: Vec<RowError>,
    /// Whether the progress callback stopped the ingest while rows were left: the rows
    /// counted here were read and their batches committed; no later row was stored.
    #[serde(default)]
    pub cancelled: bool,
    /// Columns of the CSV header or the DataFrame that were ignored because they are not
    /// columns of the record kind ([`IngestOptions::ignore_unknown_columns`]), as written.
    #[serde(default)]
    pub ignored_columns: Vec<String>,
}

/// Progress of a running ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Rows processed so far (committed).
    pub rows_done: u64,
    /// Rows in all, when known in advance.
    pub rows_total: Option<u64>,
}

/// Fewest rows in a batch for its validation to be spread over the cores (records whose
/// validation costs about as much as their writing: customers); below it, starting threads
/// and building each lane's phone metadata once would cost more than they save.
const SPREAD_MIN_ROWS: usize = 4_096;

/// Most validation lanes beside the calling thread (each holds about 2 MB of phone
/// metadata for the life of the handle).
const MAX_LANES: usize = 7;

/// Threads that validate a batch of customers while the previous one is written: one per
/// core but the writer's, at least one. On two cores, validation and writing already keep
/// both busy, and a third thread only adds switching (measured: 58k customers/s with one
/// validating thread, 50k with two; `benches/ingest.rs` prints the ceiling).
fn validation_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).saturating_sub(1).max(1)
}

/// Largest [`IngestOptions::batch_size`]: a million rows in one transaction.
pub const MAX_BATCH_SIZE: usize = 1_000_000;

/// Settings of one ingest.
pub struct IngestOptions<'a> {
    /// Rows per transaction (default 20,000; 1 to [`MAX_BATCH_SIZE`]).
    pub batch_size: usize,
    /// Row errors kept in the report (default 10,000); all are counted in `failed`.
    pub max_errors: usize,
    /// Rows in all, for [`Progress::rows_total`], when the caller knows. When `None`, an
    /// iterator of known length gives its length, and [`Crm::ingest_file`] counts the
    /// file's lines if there is a progress callback.
    pub rows_total: Option<u64>,
    /// Called after each committed batch. Returning [`ControlFlow::Break`] cancels the
    /// ingest: the batches committed so far stay committed (each batch is one
    /// transaction, so the store holds the valid rows among the first `rows_done` and no
    /// later row), and the report says [`IngestReport::cancelled`] if rows were left. Orders
    /// and interactions are read no further (at most one more row, to learn whether any was
    /// left). Customers' next batch is read and validated while the previous one is written,
    /// so a stop finds up to one batch (`batch_size` rows) read ahead from the source: those
    /// rows are dropped, neither stored nor counted, and the source is read no further. A
    /// `Break` after the last batch cancels nothing.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// use crm_core::{Crm, NewCustomer, ingest::{IngestOptions, Progress}};
    /// let crm = Crm::in_memory().unwrap();
    /// let rows = (1..=10).map(|n| NewCustomer { external_id: Some(format!("C{n}")), name: format!("N{n}"), ..Default::default() });
    /// let mut stop_after_4 = |p: Progress| if p.rows_done >= 4 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) };
    /// let opts = IngestOptions { batch_size: 2, progress: Some(&mut stop_after_4), ..Default::default() };
    /// let report = crm.ingest_customers(rows, opts).unwrap();
    /// assert!(report.cancelled);
    /// assert_eq!((report.rows, report.created, crm.counts().unwrap().customers), (4, 4, 4));
    /// ```
    pub progress: Option<&'a mut dyn FnMut(Progress) -> ControlFlow<()>>,
    /// Whether columns that are not columns of the record kind are ignored (and listed in
    /// [`IngestReport::ignored_columns`]) instead of refusing the file (default `false`).
    /// Applies to CSV headers and to the columns a binding passes; keys of JSON Lines
    /// records are always checked.
    pub ignore_unknown_columns: bool,
    /// The system the rows come from (1 to 64 letters, digits, `_`, `-`, `.` or `:`), or
    /// `None` (the default) for the host's own keys. With a source, the customer external
    /// ids of the rows (a customer row's `external_id`, an order's or interaction's
    /// `customer_external_id`) are that system's keys: a row addresses the customer that
    /// identity names ([`Crm::add_identity`]), and a customer row without one creates a
    /// customer, without a primary external id, named by the identity (see
    /// [`Crm::upsert_customer_from`]).
    pub source: Option<&'a str>,
}

impl Default for IngestOptions<'_> {
    fn default() -> Self {
        IngestOptions {
            batch_size: 20_000,
            max_errors: 10_000,
            rows_total: None,
            progress: None,
            ignore_unknown_columns: false,
            source: None,
        }
    }
}

impl std::fmt::Debug for IngestOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestOptions")
            .field("batch_size", &self.batch_size)
            .field("max_errors", &self.max_errors)
            .field("rows_total", &self.rows_total)
            .field("progress", &self.progress.is_some())
            .field("ignore_unknown_columns", &self.ignore_unknown_columns)
            .finish()
    }
}

/// A record type that bulk ingest reads (and, for the record types, the generator writes).
pub trait Record: Sized + Serialize + DeserializeOwned + private::Sealed {
    /// The flat CSV row of this record.
    type Row: Serialize + DeserializeOwned;
    /// Accepted CSV columns.
    const COLUMNS: &'static [&'static str];
    /// CSV columns that must be present.
    const REQUIRED: &'static [&'static str];

    /// Builds a record from one row of typed columns by the rules of a CSV row:
    /// `cells[i]` is the cell of column `COLUMNS[i]`, `None` where the column is absent
    /// (see [`column_positions`]) and [`Cell::Null`] where the column is present and the
    /// cell null. The cells are taken, leaving `None`. Hand the result to
    /// [`Crm::ingest_rows`] with the row's number.
    ///
    /// ```
    /// use crm_core::{NewOrder, ingest::{Cell, Record}};
    /// let mut cells = vec![None; NewOrder::COLUMNS.len()];
    /// for (name, cell) in [("external_id", Cell::Text("O-1")), ("customer_external_id", Cell::Text("C-1")),
    ///     ("occurred_at", Cell::Time(1_767_225_600_000_000)), ("currency", Cell::Text("EUR")),
    ///     ("total_minor", Cell::Int(1250)), ("channel", Cell::Null)] {
    ///     cells[NewOrder::COLUMNS.iter().position(|c| *c == name).unwrap()] = Some(cell);
    /// }
    /// let order = NewOrder::from_cells(&mut cells).unwrap();
    /// assert_eq!((order.total_minor, order.occurred_at.to_rfc3339()), (1250, "2026-01-01T00:00:00+00:00".into()));
    /// ```
    ///
    /// # Panics
    /// When `cells` has fewer than `COLUMNS.len()` cells.
    fn from_cells(cells: &mut [Option<Cell<'_>>]) -> Result<Self>;
}

/// Where each of `names` sits in `T::COLUMNS`, after checking them as a CSV header is
/// checked: names match whatever their case, once surrounding spaces and a byte order mark
/// are removed; none twice; every required column present; an unknown name is an error,
/// or (with `ignore_unknown`) `None`. Errors are validation errors on the field `what`
/// (`"header"` for files).
///
/// ```
/// use crm_core::{NewOrder, ingest::column_positions};
/// let names = ["External_ID", "customer_external_id", " occurred_at", "currency", "total_minor"];
/// assert_eq!(column_positions::<NewOrder>("columns", &names, false).unwrap(),
///     [Some(0), Some(1), Some(3), Some(5), Some(6)]);
/// assert!(column_positions::<NewOrder>("columns", &["external_id", "colour"], false).is_err());
/// let names = ["external_id", "colour", "occurred_at", "currency", "total_minor"];
/// assert_eq!(column_positions::<NewOrder>("columns", &names, true).unwrap()[1], None);
/// ```
pub fn column_positions<T: Record>(
    what: &str,
    names: &[impl AsRef<str>],
    ignore_unknown: bool,
) -> Result<Vec<Option<usize>>> {
    let key = |name: &str| name.trim_start_matches('\u{feff}').trim().to_ascii_lowercase();
    let mut positions = Vec::with_capacity(names.len());
    for name in names {
        let name = name.as_ref();
        let at = T::COLUMNS.iter().position(|c| *c == key(name));
        if at.is_none() && !ignore_unknown {
            return Err(Error::validation(
                what,
                format!("unknown column {name:?}; the columns are {}", T::COLUMNS.join(", ")),
            ));
        }
        if at.is_some() && positions.contains(&at) {
            return Err(Error::validation(what, format!("column {name:?} appears twice")));
        }
        positions.push(at);
    }
    for req in T::REQUIRED {
        if !names.iter().any(|n| key(n.as_ref()) == *req) {
            return Err(Error::validation(what, format!("required column {req:?} is missing")));
        }
    }
    Ok(positions)
}

/// The names among `names` that `positions` (from [`column_positions`]) ignores.
pub fn ignored_columns(names: &[impl AsRef<str>], positions: &[Option<usize>]) -> Vec<String> {
    names.iter().zip(positions).filter(|(_, p)| p.is_none()).map(|(n, _)| n.as_ref().to_owned()).collect()
}

mod private {
    use super::*;

    /// How each record kind is validated and written; crate-internal.
    pub trait Sealed: Sized + Send {
        /// A record that passed validation, ready to be written (on the writer thread).
        type Valid: Send;
        /// Whether validating the next batch overlaps writing the previous one (on two
        /// threads): for records whose validation costs about as much as their writing.
        const OVERLAP: bool;
        fn validate(self, v: &Validator) -> Result<Self::Valid>;
        /// The normalised external id a valid record is stored under, if any.
        fn key(valid: &Self::Valid) -> Option<&str>;
        /// Looks up in `batch` what writing these rows will read.
        fn prefetch(
            rows: &[(usize, u64, Self::Valid)],
            tx: &mut (impl StoreTx + ?Sized),
            acc: &mut UnitOfWork,
            batch: &mut Batch,
        ) -> Result<()>;
        /// Writes one row of the batch (see [`Batch`]).
        fn write(
            valid: Self::Valid,
            tx: &mut (impl StoreTx + ?Sized),
            v: &Validator,
            now: DateTime<Utc>,
            acc: &mut UnitOfWork,
            batch: &mut Batch,
        ) -> Result<Outcome>;
    }
}
use private::Sealed;

const BULK_KEY: &str = "is required in bulk ingest (it makes re-ingest idempotent)";

/// Customers from iterators are merged as [`Crm::upsert_customer`] merges them: `None` and
/// empty collections keep what is stored.
impl Record for NewCustomer {
    type Row = CustomerRow;
    const COLUMNS: &'static [&'static str] = CUSTOMER_COLUMNS;
    const REQUIRED: &'static [&'static str] = &["external_id", "name"];
    fn from_cells(cells: &mut [Option<Cell<'_>>]) -> Result<Self> {
        rows::customer(CustomerRow::from_cells(cells))
    }
}

impl Sealed for NewCustomer {
    type Valid = CustomerUpsert;
    // E.164, email and name normalisation: `make bench` ingests customers 20% faster with
    // the overlap (and orders 10% slower, which is why they do not).
    const OVERLAP: bool = true;
    fn validate(self, v: &Validator) -> Result<CustomerUpsert> {
        checked_upsert(v, &CustomerPatch::from(self), UpsertMode::Merge, BULK_KEY)
    }
    fn key(valid: &CustomerUpsert) -> Option<&str> {
        Some(&valid.key)
    }
    fn prefetch(
        rows: &[(usize, u64, CustomerUpsert)],
        tx: &mut (impl StoreTx + ?Sized),
        _: &mut UnitOfWork,
        batch: &mut Batch,
    ) -> Result<()> {
        prefetch_customers(rows, tx, batch)
    }
    fn write(
        valid: CustomerUpsert,
        tx: &mut (impl StoreTx + ?Sized),
        v: &Validator,
        now: DateTime<Utc>,
        acc: &mut UnitOfWork,
        batch: &mut Batch,
    ) -> Result<Outcome> {
        batch.customer(tx, v, valid, now, acc)
    }
}

/// Customers of every source are merged by one path, [`Batch::customer`] (which decides as
/// [`Crm::upsert_customer`] does); it reads the stored customers of a batch in one query.
fn prefetch_customers(
    rows: &[(usize, u64, CustomerUpsert)],
    tx: &mut (impl StoreTx + ?Sized),
    batch: &mut Batch,
) -> Result<()> {
    let keys: Vec<&str> = rows.iter().map(|(_, _, u)| u.key.as_str()).collect();
    batch.prefetch_customers(tx, &keys)
}

/// What customers CSV files, JSON Lines files and DataFrames hold: changes merged into the
/// customer with the row's external id (created when there is none, with a `name`).
impl Record for CustomerPatch {
    type Row = CustomerRow;
    const COLUMNS: &'static [&'static str] = CUSTOMER_COLUMNS;
    const REQUIRED: &'static [&'static str] = &["external_id"];
    fn from_cells(cells: &mut [Option<Cell<'_>>]) -> Result<Self> {
        rows::customer_patch(CustomerRow::from_cells(cells))
    }
}

impl Sealed for CustomerPatch {
    type Valid = CustomerUpsert;
    const OVERLAP: bool = true;
    fn validate(self, v: &Validator) -> Result<CustomerUpsert> {
        checked_upsert(v, &self, UpsertMode::Merge, BULK_KEY)
    }
    fn key(valid: &CustomerUpsert) -> Option<&str> {
        Some(&valid.key)
    }
    fn prefetch(
        rows: &[(usize, u64, CustomerUpsert)],
        tx: &mut (impl StoreTx + ?Sized),
        _: &mut UnitOfWork,
        batch: &mut Batch,
    ) -> Result<()> {
        prefetch_customers(rows, tx, batch)
    }
    fn write(
        valid: CustomerUpsert,
        tx: &mut (impl StoreTx + ?Sized),
        v: &Validator,
        now: DateTime<Utc>,
        acc: &mut UnitOfWork,
        batch: &mut Batch,
    ) -> Result<Outcome> {
        batch.customer(tx, v, valid, now, acc)
    }
}

impl Record for NewOrder {
    type Row = OrderRow;
    const COLUMNS: &'static [&'static str] = ORDER_COLUMNS;
    const REQUIRED: &'static [&'static str] = &["external_id", "occurred_at", "currency", "total_minor"];
    fn from_cells(cells: &mut [Option<Cell<'_>>]) -> Result<Self> {
        rows::order(OrderRow::from_cells(cells))
    }
}

impl Sealed for NewOrder {
    type Valid = NewOrder;
    const OVERLAP: bool = false;
    fn validate(self, v: &Validator) -> Result<Self> {
        v.order(&self)
    }
    fn key(valid: &NewOrder) -> Option<&str> {
        Some(&valid.external_id)
    }
    fn prefetch(
        rows: &[(usize, u64, NewOrder)],
        tx: &mut (impl StoreTx + ?Sized),
        acc: &mut UnitOfWork,
        batch: &mut Batch,
    ) -> Result<()> {
        batch.prefetch_orders(tx, acc, rows.iter().map(|(_, _, o)| o))
    }
    fn write(
        valid: Self,
        tx: &mut (impl StoreTx + ?Sized),
        _: &Validator,
        now: DateTime<Utc>,
        acc: &mut UnitOfWork,
        batch: &mut Batch,
    ) -> Result<Outcome> {
        batch.order(tx, valid, now, acc)
    }
}

impl Record for NewInteraction {
    type Row = InteractionRow;
    const COLUMNS: &'static [&'static str] = INTERACTION_COLUMNS;
    const REQUIRED: &'static [&'static str] = &["external_id", "kind", "occurred_at"];
    fn from_cells(cells: &mut [Option<Cell<'_>>]) -> Result<Self> {
        rows::interaction(InteractionRow::from_cells(cells))
    }
}

impl Sealed for NewInteraction {
    type Valid = NewInteraction;
    const OVERLAP: bool = false;
    fn validate(self, v: &Validator) -> Result<Self> {
        if self.external_id.is_none() {
            return Err(Error::validation("external_id", BULK_KEY));
        }
        v.interaction(&self)
    }
    fn key(valid: &NewInteraction) -> Option<&str> {
        valid.external_id.as_deref()
    }
    fn prefetch(
        rows: &[(usize, u64, NewInteraction)],
        tx: &mut (impl StoreTx + ?Sized),
        _: &mut UnitOfWork,
        batch: &mut Batch,
    ) -> Result<()> {
        batch.prefetch_interactions(tx, rows.iter().map(|(_, _, i)| i))
    }
    fn write(
        valid: Self,
        tx: &mut (impl StoreTx + ?Sized),
        _: &Validator,
        now: DateTime<Utc>,
        acc: &mut UnitOfWork,
        batch: &mut Batch,
    ) -> Result<Outcome> {
        batch.interaction(tx, valid, now, acc)
    }
}

/// The external ids applied so far in one ingest, and the row of each, to refuse later
/// rows with the same id. An ingest may run to tens of millions of rows, so an id is kept
/// as a 128-bit hash (16 bytes, where the string and its allocation take 40 and more):
/// two SipHash-1-3 digests under independent random keys. Two different ids of one ingest
/// collide with a probability below n²/2¹²⁹ (under 10⁻²⁴ for 10⁸ rows), against about
/// 3·10⁻⁶ for a single 64-bit hash over 10⁷ rows, which would wrongly refuse a row.
struct SeenIds {
    keys: [std::hash::RandomState; 2],
    rows: std::collections::HashMap<IdHash, u64, std::hash::BuildHasherDefault<FirstWord>>,
}

/// A 128-bit id hash; hashed for the table by its first half, which is already uniform.
#[derive(Clone, Copy, PartialEq, Eq)]
struct IdHash(u64, u64);

impl std::hash::Hash for IdHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

/// The hasher of [`SeenIds`]' table: the value it is given (a SipHash digest) as it is.
#[derive(Default)]
struct FirstWord(u64);

impl std::hash::Hasher for FirstWord {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl SeenIds {
    fn new() -> SeenIds {
        SeenIds { keys: [Default::default(), Default::default()], rows: Default::default() }
    }

    fn hash(&self, id: &str) -> IdHash {
        use std::hash::BuildHasher;
        IdHash(self.keys[0].hash_one(id), self.keys[1].hash_one(id))
    }

    /// The row that applied the id with hash `h` earlier in this ingest, if one did.
    fn winner(&self, h: IdHash) -> Option<u64> {
        self.rows.get(&h).copied()
    }

    /// Records that row `row` applied the id with hash `h`.
    fn applied(&mut self, h: IdHash, row: u64) {
        self.rows.entry(h).or_insert(row);
    }
}

/// One numbered row for [`Crm::ingest_rows`]: the record, or why the caller could not
/// build one (it is reported and counted as failed, like a row the core refuses).
pub type RowItem<T> = (u64, std::result::Result<T, RowError>);

/// Records read from a CSV or JSON Lines stream, one at a time (see [`read`]); an
/// iterator of numbered rows for [`Crm::ingest_rows`].
pub struct Rows<T> {
    ignored_columns: Vec<String>,
    rows: Box<dyn Iterator<Item = RowItem<T>>>,
}

impl<T> Rows<T> {
    /// The header's columns that were ignored (see [`IngestOptions::ignore_unknown_columns`]).
    pub fn ignored_columns(&self) -> &[String] {
        &self.ignored_columns
    }
}

impl<T> Iterator for Rows<T> {
    type Item = RowItem<T>;
    fn next(&mut self) -> Option<RowItem<T>> {
        self.rows.next()
    }
}

/// Reads records from a CSV or JSON Lines stream, one at a time. A malformed row is an
/// item carrying a [`RowError`]; a wrong CSV header is an error before any row is read.
/// CSV header names match the columns whatever their case (see [`column_positions`]);
/// with `ignore_unknown_columns`, other columns are skipped and listed by
/// [`Rows::ignored_columns`]. Each row is read by [`Record::from_cells`], an empty cell
/// being a null one.
pub fn read<T: Record>(reader: impl Read + 'static, format: Format, ignore_unknown_columns: bool) -> Result<Rows<T>> {
    match format {
        Format::Csv => {
            let mut r = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(reader);
            let headers = r.headers().map_err(|e| Error::validation("header", e.to_string()))?.clone();
            let names: Vec<&str> = headers.iter().collect();
            let positions = column_positions::<T>("header", &names, ignore_unknown_columns)?;
            let ignored_columns = ignored_columns(&names, &positions);
            let mut it = r.into_records();
            let mut n = 1;
            let rows = std::iter::from_fn(move || {
                let rec = it.next()?;
                n += 1;
                Some(match rec {
                    Err(e) => {
                        let line = e.position().map_or(n, |p| p.line());
                        (line, Err(RowError { row: line, field: None, reason: e.to_string() }))
                    }
                    Ok(rec) => {
                        let line = rec.position().map_or(n, |p| p.line());
                        let mut cells: Vec<Option<Cell<'_>>> = vec![None; T::COLUMNS.len()];
                        for (at, cell) in positions.iter().zip(rec.iter()) {
                            if let Some(at) = at {
                                cells[*at] = Some(Cell::Text(cell));
                            }
                        }
                        (line, T::from_cells(&mut cells).map_err(|e| RowError::from_error(line, e)))
                    }
                })
            });
            Ok(Rows { ignored_columns, rows: Box::new(rows) })
        }
        Format::JsonLines => {
            let mut lines = BufReader::with_capacity(1 << 16, reader).lines();
            let mut n = 0u64;
            let rows = std::iter::from_fn(move || loop {
                let line = lines.next()?;
                n += 1;
                match line {
                    Err(e) => return Some((n, Err(RowError { row: n, field: None, reason: e.to_string() }))),
                    Ok(l) if l.trim().is_empty() => continue,
                    Ok(l) => {
                        let parsed = crate::json::parse_object::<T>(&l).map_err(|e| match e.path {
                            Some(path) => RowError { row: n, field: Some(path), reason: e.reason },
                            None => {
                                RowError { row: n, field: None, reason: format!("invalid JSON record: {}", e.reason) }
                            }
                        });
                        return Some((n, parsed));
                    }
                }
            });
            Ok(Rows { ignored_columns: Vec::new(), rows: Box::new(rows) })
        }
    }
}

/// Writes records as CSV (header plus one row each) or JSON Lines; returns the count.
pub fn write<T: Record>(writer: impl Write, format: Format, records: impl IntoIterator<Item = T>) -> Result<u64>
where
    for<'a> T::Row: From<&'a T>,
{
    let mut n = 0;
    match format {
        Format::Csv => {
            // The header is written by hand so that an empty file still has one; the row
            // structs declare their fields in COLUMNS order (tested in rows.rs).
            let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(writer);
            w.write_record(T::COLUMNS).map_err(csv_io)?;
            for r in records {
                w.serialize(T::Row::from(&r)).map_err(csv_io)?;
                n += 1;
            }
            w.flush()?;
        }
        Format::JsonLines => {
            let mut w = BufWriter::with_capacity(1 << 16, writer);
            for r in records {
                serde_json::to_writer(&mut w, &r).map_err(std::io::Error::from)?;
                w.write_all(b"\n")?;
                n += 1;
            }
            w.flush()?;
        }
    }
    Ok(n)
}

/// Writes records to a file whose format follows its extension; returns the count.
pub fn write_file<T: Record>(path: impl AsRef<Path>, records: impl IntoIterator<Item = T>) -> Result<u64>
where
    for<'a> T::Row: From<&'a T>,
{
    let path = path.as_ref();
    let format = Format::from_path(path)?;
    write(BufWriter::with_capacity(1 << 20, File::create(path)?), format, records)
}

fn csv_io(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::Io(io),
        other => Error::Io(std::io::Error::other(format!("{other:?}"))),
    }
}

impl<S: Store> Crm<S> {
    /// Ingests customers from an iterator (each needs an `external_id`).
    ///
    /// ```
    /// use crm_core::{Crm, NewCustomer, ingest::IngestOptions};
    /// let crm = Crm::in_memory().unwrap();
    /// let rows = (1..=3).map(|n| NewCustomer { external_id: Some(format!("C{n}")), name: format!("N{n}"), ..Default::default() });
    /// let report = crm.ingest_customers(rows.clone(), IngestOptions::default()).unwrap();
    /// assert_eq!(report.created, 3);
    /// let again = crm.ingest_customers(rows, IngestOptions::default()).unwrap();
    /// assert_eq!(again.unchanged, 3);
    /// ```
    pub fn ingest_customers(
        &self,
        rows: impl IntoIterator<Item = NewCustomer>,
        opts: IngestOptions<'_>,
    ) -> Result<IngestReport> {
        self.ingest_iter(rows, opts)
    }

    /// Ingests orders from an iterator.
    pub fn ingest_orders(
        &self,
        rows: impl IntoIterator<Item = NewOrder>,
        opts: IngestOptions<'_>,
    ) -> Result<IngestReport> {
        self.ingest_iter(rows, opts)
    }

    /// Ingests interactions from an iterator (each needs an `external_id`).
    pub fn ingest_interactions(
        &self,
        rows: impl IntoIterator<Item = NewInteraction>,
        opts: IngestOptions<'_>,
    ) -> Result<IngestReport> {
        self.ingest_iter(rows, opts)
    }

    /// Ingests a CSV or JSON Lines file (format from the extension) of the given kind.
    /// With a progress callback and no `rows_total`, the file's lines are counted first
    /// for [`Progress::rows_total`] (an estimate when CSV cells hold line breaks).
    pub fn ingest_file(
        &self,
        kind: RecordKind,
        path: impl AsRef<Path>,
        mut opts: IngestOptions<'_>,
    ) -> Result<IngestReport> {
        let path = path.as_ref();
        let format = Format::from_path(path)?;
        let file = File::open(path)
            .map_err(|e| Error::Io(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))))?;
        if opts.progress.is_some() && opts.rows_total.is_none() {
            opts.rows_total = count_rows(path).ok();
        }
        self.ingest_reader(kind, file, format, opts)
    }

    /// Ingests a CSV or JSON Lines stream of the given kind. Customers are read as
    /// [`CustomerPatch`]es: what a row leaves out is kept, what it sends empty is cleared.
    pub fn ingest_reader(
        &self,
        kind: RecordKind,
        reader: impl Read + 'static,
        format: Format,
        opts: IngestOptions<'_>,
    ) -> Result<IngestReport> {
        fn go<S: Store, T: Record>(
            crm: &Crm<S>,
            reader: impl Read + 'static,
            format: Format,
            opts: IngestOptions<'_>,
        ) -> Result<IngestReport> {
            let rows = read::<T>(reader, format, opts.ignore_unknown_columns)?;
            let ignored = rows.ignored_columns().to_vec();
            let mut report = crm.ingest_rows(rows, opts)?;
            report.ignored_columns = ignored;
            Ok(report)
        }
        match kind {
            RecordKind::Customers => go::<S, CustomerPatch>(self, reader, format, opts),
            RecordKind::Orders => go::<S, NewOrder>(self, reader, format, opts),
            RecordKind::Interactions => go::<S, NewInteraction>(self, reader, format, opts),
        }
    }

    fn ingest_iter<T: Record>(
        &self,
        rows: impl IntoIterator<Item = T>,
        opts: IngestOptions<'_>,
    ) -> Result<IngestReport> {
        self.ingest_rows(rows.into_iter().zip(1u64..).map(|(r, n)| (n, Ok(r))), opts)
    }

    /// The engine behind every ingest: takes numbered rows, each a record or the reason
    /// the caller could not build one, and stores them batch by batch. Each batch is
    /// validated outside the write lock, then written in one transaction (records,
    /// customer statistics and change feed together). Refused rows, the caller's and the
    /// core's, are counted in `failed` and listed with their number; re-ingesting the same
    /// records changes nothing. `rows_total` defaults to the iterator's exact length.
    ///
    /// A binding with typed columns builds the records with [`Record::from_cells`] and
    /// passes the rows that do not convert as errors, so its report matches a file's:
    ///
    /// ```
    /// use crm_core::{Crm, NewCustomer, Error, ingest::{IngestOptions, RowError}};
    /// let crm = Crm::in_memory().unwrap();
    /// let rows = vec![
    ///     (1, Ok(NewCustomer { external_id: Some("C1".into()), name: "Ada".into(), ..Default::default() })),
    ///     (2, Err(RowError::from_error(2, Error::validation("birthday", "is not a date")))),
    ///     (3, Ok(NewCustomer { external_id: Some("C3".into()), name: "".into(), ..Default::default() })),
    /// ];
    /// let report = crm.ingest_rows(rows, IngestOptions::default()).unwrap();
    /// assert_eq!((report.rows, report.created, report.failed), (3, 1, 2));
    /// let refused: Vec<_> = report.errors.iter().map(|e| (e.row, e.field.as_deref().unwrap())).collect();
    /// assert_eq!(refused, [(2, "birthday"), (3, "name")]);
    /// ```
    pub fn ingest_rows<T: Record>(
        &self,
        rows: impl IntoIterator<Item = RowItem<T>>,
        mut opts: IngestOptions<'_>,
    ) -> Result<IngestReport> {
        let rows = rows.into_iter();
        let total = opts.rows_total.or(match rows.size_hint() {
            (lo, Some(hi)) if lo == hi => Some(lo as u64),
            _ => None,
        });
        if !(1..=MAX_BATCH_SIZE).contains(&opts.batch_size) {
            return Err(Error::validation(
                "batch_size",
                format!("{} is outside 1 ..= {MAX_BATCH_SIZE}", opts.batch_size),
            ));
        }
        let source = opts.source.map(crate::identity::sources::check_source).transpose()?.map(str::to_owned);
        let batch_size = opts.batch_size;
        let mut report = IngestReport::default();
        let mut rows = rows.peekable();
        let mut seen = SeenIds::new();
        // Where validation costs about as much as writing (`OVERLAP`: customers), two stages
        // on two threads: this one reads and validates batch k + 1 while a scoped thread
        // writes batch k, one write transaction at a time and in order, so the store sees
        // exactly the transactions of the sequential loop. A batch is accounted (rows,
        // outcomes, refusals, progress) once its write is done; a stop asked after batch k
        // discards batch k + 1 unwritten. Other records are written by this thread, batch by
        // batch, and a stop reads at most one row further.
        // Validation lanes for the other cores, taken on the first large batch and given
        // back when the call ends.
        let mut lanes: Vec<Validator> = Vec::new();
        let threads = if T::OVERLAP { validation_threads() } else { 1 };
        let r = std::thread::scope(|scope| {
            let mut writing: Option<(std::thread::ScopedJoinHandle<'_, Written>, Pending)> = None;
            loop {
                let mut next = Pending::default();
                let batch = match threads > 1 {
                    true => {
                        let rows = rows.by_ref().take(batch_size).collect();
                        self.validate_spread(rows, &mut next, &mut lanes, threads)
                    }
                    false => self.validate_here(rows.by_ref().take(batch_size), &mut next),
                };
                if let Some((handle, done)) = writing.take() {
                    let (outcomes, back) = handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                    seen = back;
                    if account(&mut report, done, outcomes?, &mut opts, total, || next.rows > 0) {
                        return Ok(report);
                    }
                }
                if next.rows == 0 {
                    return Ok(report);
                }
                if !T::OVERLAP {
                    let outcomes = self.write_batch::<T>(batch, &mut seen, source.clone())?;
                    if account(&mut report, next, outcomes, &mut opts, total, || rows.peek().is_some()) {
                        return Ok(report);
                    }
                    continue;
                }
                // With the writer until it is done (a placeholder meanwhile).
                let mut owned = std::mem::replace(&mut seen, SeenIds::new());
                let source = source.clone();
                let handle = scope.spawn(move || {
                    let r = self.write_batch::<T>(batch, &mut owned, source);
                    (r, owned)
                });
                writing = Some((handle, next));
            }
        });
        self.validator().give_lanes(lanes);
        r
    }

    /// Validates one batch on this thread: the valid rows by position, the refused ones
    /// into `next`.
    fn validate_here<T: Record>(
        &self,
        rows: impl Iterator<Item = RowItem<T>>,
        next: &mut Pending,
    ) -> Vec<(usize, u64, T::Valid)> {
        next.sort(rows.map(|row| check(self.validator(), row)))
    }

    /// Validates one batch on up to `threads` threads: in contiguous parts, the first on
    /// this thread, each other part on a thread of its own with a validation lane (a
    /// validator with phone metadata of its own: threads sharing one take turns, see
    /// `Phones::own`); the parts are joined in order, so the result is
    /// [`validate_here`](Self::validate_here)'s. A batch below [`SPREAD_MIN_ROWS`] rows
    /// validates here.
    fn validate_spread<T: Record>(
        &self,
        rows: Vec<RowItem<T>>,
        next: &mut Pending,
        lanes: &mut Vec<Validator>,
        threads: usize,
    ) -> Vec<(usize, u64, T::Valid)> {
        let parts = threads.min(MAX_LANES + 1).min(rows.len() / SPREAD_MIN_ROWS.div_ceil(2)).max(1);
        if rows.len() < SPREAD_MIN_ROWS || parts < 2 {
            return self.validate_here(rows.into_iter(), next);
        }
        if lanes.len() < parts - 1 {
            let more = self.validator().take_lanes(parts - 1 - lanes.len());
            lanes.extend(more);
        }
        let size = rows.len().div_ceil(parts);
        let mut rows = rows.into_iter();
        let here: Vec<RowItem<T>> = rows.by_ref().take(size).collect();
        let checked = std::thread::scope(|scope| {
            let handles: Vec<_> = lanes[..parts - 1]
                .iter()
                .map(|v| {
                    let part: Vec<RowItem<T>> = rows.by_ref().take(size).collect();
                    scope.spawn(move || part.into_iter().map(|row| check(v, row)).collect::<Vec<_>>())
                })
                .collect();
            let mut checked: Vec<_> = here.into_iter().map(|row| check(self.validator(), row)).collect();
            for h in handles {
                checked.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            checked
        });
        next.sort(checked.into_iter())
    }

    /// Writes one validated batch of an ingest in one transaction (see
    /// [`ingest_rows`](Self::ingest_rows)): each row's outcome, or its refusal by position.
    fn write_batch<T: Record>(
        &self,
        mut batch: Vec<(usize, u64, T::Valid)>,
        seen: &mut SeenIds,
        source: Option<String>,
    ) -> Result<Vec<std::result::Result<Outcome, (usize, RowError)>>> {
        self.store().write_alone(|tx| {
            let now = now();
            let mut acc = UnitOfWork::default();
            let mut bulk = Batch::from_source(source);
            T::prefetch(&batch, tx, &mut acc, &mut bulk)?;
            let mut outcomes = Vec::with_capacity(batch.len());
            for (i, n, rec) in batch.drain(..) {
                // The first row with an external id wins; a row refused before it
                // wrote anything claims nothing.
                let key = T::key(&rec).map(|k| seen.hash(k));
                if let Some(won) = key.and_then(|k| seen.winner(k)) {
                    let id = T::key(&rec).unwrap_or_default();
                    let reason = format!("duplicate external_id {id:?}: row {won} was applied");
                    outcomes.push(Err((i, RowError { row: n, field: Some("external_id".into()), reason })));
                    continue;
                }
                match T::write(rec, tx, self.validator(), now, &mut acc, &mut bulk) {
                    Ok(o) => {
                        if let Some(k) = key {
                            seen.applied(k, n);
                        }
                        outcomes.push(Ok(o))
                    }
                    // Row-level refusals happen before the row writes anything.
                    Err(e @ (Error::Validation { .. } | Error::NotFound { .. } | Error::Conflict(_))) => {
                        outcomes.push(Err((i, RowError::from_error(n, e))))
                    }
                    Err(e) => return Err(e),
                }
            }
            bulk.flush(tx, &mut acc, now)?;
            acc.flush(tx)?;
            Ok(outcomes)
        })
    }
}

/// What the writer thread hands back: the batch's outcomes and the ids seen so far.
type Written = (Result<Vec<std::result::Result<Outcome, (usize, RowError)>>>, SeenIds);

/// A batch read and validated, waiting for its write to be accounted.
#[derive(Default)]
struct Pending {
    /// Rows read into it.
    rows: u64,
    /// Rows refused by validation, by position in the batch.
    refused: Vec<(usize, RowError)>,
}

impl Pending {
    /// Takes a batch's checked rows in input order: counts them, keeps the refusals by
    /// position and returns the valid rows with theirs.
    fn sort<V>(&mut self, checked: impl Iterator<Item = (u64, RowResult<V>)>) -> Vec<(usize, u64, V)> {
        let mut batch = Vec::with_capacity(checked.size_hint().0);
        for (i, (n, r)) in checked.enumerate() {
            self.rows += 1;
            match r {
                Ok(v) => batch.push((i, n, v)),
                Err(e) => self.refused.push((i, e)),
            }
        }
        batch
    }
}

/// A row's validation: the record ready to write, or why it is refused.
type RowResult<V> = std::result::Result<V, RowError>;

/// Validates one numbered row (or passes on the caller's reason it has none).
fn check<T: Record>(v: &Validator, (n, r): RowItem<T>) -> (u64, RowResult<T::Valid>) {
    (n, r.and_then(|r| r.validate(v).map_err(|e| RowError::from_error(n, e))))
}

/// Adds a written batch to the report (its outcomes, and its refusals, validation's and the
/// store's, in input order), then tells the progress callback. `true` when the callback
/// stopped the ingest with rows left (`more`, asked only then): the report says so.
fn account(
    report: &mut IngestReport,
    mut done: Pending,
    outcomes: Vec<std::result::Result<Outcome, (usize, RowError)>>,
    opts: &mut IngestOptions<'_>,
    total: Option<u64>,
    more: impl FnOnce() -> bool,
) -> bool {
    report.rows += done.rows;
    for o in outcomes {
        match o {
            Ok(Outcome::Created) => report.created += 1,
            Ok(Outcome::Updated) => report.updated += 1,
            Ok(Outcome::Unchanged) => report.unchanged += 1,
            Err(e) => done.refused.push(e),
        }
    }
    done.refused.sort_by_key(|(i, _)| *i);
    for (_, e) in done.refused {
        report.failed += 1;
        if report.errors.len() < opts.max_errors {
            report.errors.push(e);
        }
    }
    let stop =
        opts.progress.as_mut().is_some_and(|p| p(Progress { rows_done: report.rows, rows_total: total }).is_break());
    report.cancelled = stop && more();
    report.cancelled
}

/// Counts the data rows of a file cheaply (lines, less the CSV header), for progress bars.
pub fn count_rows(path: impl AsRef<Path>) -> Result<u64> {
    let path = path.as_ref();
    let format = Format::from_path(path)?;
    let mut r = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut n = 0u64;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        n += buf.iter().filter(|b| **b == b'\n').count() as u64;
        let len = buf.len();
        r.consume(len);
    }
    Ok(if format == Format::Csv { n.saturating_sub(1) } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::NewCustomer;

    /// Validation spread over threads gives what validation on one thread gives: the same
    /// valid rows with their numbers and positions, the same refusals, in the same order;
    /// and the lanes are kept for the next batch.
    #[test]
    fn spread_validation_equals_validation_on_one_thread() {
        let crm = Crm::in_memory().unwrap();
        let n = SPREAD_MIN_ROWS as u64 * 2 + 17;
        let rows = || -> Vec<RowItem<NewCustomer>> {
            (1..=n)
                .map(|i| {
                    let c = NewCustomer {
                        external_id: Some(format!("C{}", i % (n - 5))),
                        name: if i % 97 == 0 { String::new() } else { format!("N{i}") },
                        phone: Some(match i % 3 {
                            0 => format!("+1 415 555 {:04}", i % 10_000),
                            1 => format!("+44 20 7946 {:04}", i % 10_000),
                            _ => "+1 123".into(),
                        }),
                        ..Default::default()
                    };
                    let r =
                        if i % 101 == 0 { Err(RowError::from_error(i, Error::validation("x", "bad"))) } else { Ok(c) };
                    (i, r)
                })
                .collect()
        };
        let (mut one, mut lanes) = (Pending::default(), Vec::new());
        let here = crm.validate_here(rows().into_iter(), &mut one);
        for threads in [2, 3, 8] {
            let mut spread = Pending::default();
            let got = crm.validate_spread(rows(), &mut spread, &mut lanes, threads);
            let parts = threads.min(n as usize / SPREAD_MIN_ROWS.div_ceil(2));
            assert_eq!(lanes.len(), parts - 1, "lanes kept for the next batch");
            let view = |b: &[(usize, u64, CustomerUpsert)]| -> Vec<String> {
                b.iter().map(|(i, n, v)| format!("{i} {n} {v:?}")).collect()
            };
            assert_eq!(view(&got), view(&here), "{threads} threads");
            let refused =
                |p: &Pending| -> Vec<String> { p.refused.iter().map(|(i, e)| format!("{i} {e:?}")).collect() };
            assert_eq!((spread.rows, refused(&spread)), (one.rows, refused(&one)), "{threads} threads");
        }
        assert!(
            one.refused.len() > 100 && here.len() > SPREAD_MIN_ROWS,
            "both kinds of row: {} {}",
            one.refused.len(),
            here.len()
        );
        let mut small = Pending::default();
        crm.validate_spread(rows().into_iter().take(10).collect(), &mut small, &mut lanes, 8);
        assert_eq!(small.rows, 10);
    }
}
