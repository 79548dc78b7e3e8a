//! Bulk ingest: files (CSV, JSON Lines), JSON Lines text (lists of dicts) and DataFrame
//! columns. Files and text go straight to the core's readers. Columns are turned into the
//! core's flat CSV rows (`CustomerRow`, `OrderRow`, `InteractionRow`) and converted by the
//! core's own `TryFrom`, so a DataFrame row obeys exactly the rules of a CSV line.

use std::io::Cursor;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;

use chrono::{DateTime, SecondsFormat, Utc};
use crm_core::ingest::{self, Format, IngestOptions, IngestReport, Progress, Record, RecordKind, RowError};
use crm_core::{Crm, NewCustomer, NewInteraction, NewOrder};
use pyo3::prelude::*;
use serde::de::value::{MapDeserializer, StringDeserializer};
use serde::de::{Deserializer, IntoDeserializer, Visitor};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::handle::PyCrm;
use crate::json;

/// `kind` as a `RecordKind`, or a `ValidationError` on `kind` naming the accepted kinds.
pub(crate) fn record_kind(kind: &str) -> Result<RecordKind> {
    RecordKind::from_name(kind).ok_or_else(|| Error::Input {
        field: "kind".into(),
        reason: format!("{kind:?} is not one of {}", RecordKind::names()),
    })
}

/// Calls a Python progress callback `(rows_done, rows_total)` with the GIL re-acquired.
/// The core cannot be interrupted from its callback, so the first exception the callback
/// raises is kept and raised when the ingest returns.
struct Reporter {
    callback: Option<Py<PyAny>>,
    failed: Option<PyErr>,
}

impl Reporter {
    fn report(&mut self, done: u64, total: Option<u64>) {
        if let (Some(cb), None) = (&self.callback, &self.failed) {
            if let Err(e) = Python::attach(|py| cb.call1(py, (done, total)).map(drop)) {
                self.failed = Some(e);
            }
        }
    }

    fn finish(self, report: crm_core::Result<IngestReport>) -> Result<String> {
        let report = report?;
        match self.failed {
            Some(e) => Err(Error::Py(e)),
            None => Ok(json::dump(&report)),
        }
    }
}

/// One DataFrame column, as the Python side prepared it.
enum Column {
    /// Text cells.
    Text(Vec<Option<String>>),
    /// Integer cells.
    Int(Vec<Option<i64>>),
    /// Times as microseconds since the Unix epoch, UTC.
    Time(Vec<Option<i64>>),
}

impl Column {
    fn extract(kind: &str, name: &str, values: &Bound<'_, PyAny>) -> Result<Column> {
        let wrong = |e: PyErr| Error::Input { field: name.to_owned(), reason: format!("column of {kind}: {e}") };
        Ok(match kind {
            "text" => Column::Text(values.extract().map_err(wrong)?),
            "int" => Column::Int(values.extract().map_err(wrong)?),
            "time" => Column::Time(values.extract().map_err(wrong)?),
            other => {
                return Err(Error::Input { field: name.to_owned(), reason: format!("unknown column kind {other:?}") })
            }
        })
    }

    fn len(&self) -> usize {
        match self {
            Column::Text(v) => v.len(),
            Column::Int(v) | Column::Time(v) => v.len(),
        }
    }

    /// The cell as CSV text would hold it.
    fn take(&mut self, i: usize) -> Option<String> {
        match self {
            Column::Text(v) => v[i].take(),
            Column::Int(v) => v[i].map(|x| x.to_string()),
            Column::Time(v) => v[i].map(|us| match DateTime::<Utc>::from_timestamp_micros(us) {
                Some(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                None => format!("{us} microseconds since 1970 (out of range)"),
            }),
        }
    }
}

/// A present cell: deserialises as `Some(text)` into the core's `Option<String>` row fields.
struct Cell(String);

impl<'de> IntoDeserializer<'de, serde::de::value::Error> for Cell {
    type Deserializer = Cell;
    fn into_deserializer(self) -> Cell {
        self
    }
}

impl<'de> Deserializer<'de> for Cell {
    type Error = serde::de::value::Error;
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> std::result::Result<V::Value, Self::Error> {
        v.visit_string(self.0)
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> std::result::Result<V::Value, Self::Error> {
        v.visit_some(StringDeserializer::new(self.0))
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct
        newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// The core's `RowError` for a core error (its own constructor is private).
fn row_error(row: u64, e: crm_core::Error) -> RowError {
    match e {
        crm_core::Error::Validation { field, reason } => RowError { row, field: Some(field), reason },
        other => RowError { row, field: None, reason: other.to_string() },
    }
}

/// Checks the column names as the core checks a CSV header.
fn check_columns<T: Record>(names: &[String]) -> Result<Vec<&'static str>> {
    let mut known = Vec::with_capacity(names.len());
    for n in names {
        match T::COLUMNS.iter().find(|c| **c == n.as_str()) {
            Some(c) => known.push(*c),
            None => {
                return Err(Error::Input {
                    field: "columns".into(),
                    reason: format!("unknown column {n:?}; the columns are {}", T::COLUMNS.join(", ")),
                })
            }
        }
    }
    for req in T::REQUIRED {
        if !known.contains(req) {
            return Err(Error::Input {
                field: "columns".into(),
                reason: format!("required column {req:?} is missing"),
            });
        }
    }
    Ok(known)
}

/// Rows refused while converting, and the input position of each row handed to the core.
#[derive(Default)]
struct Side {
    refused: Vec<RowError>,
    positions: Vec<u64>,
}

/// Rows per hand-over from the converting thread to the writing one.
const CHUNK: usize = 4096;

/// Converts columns to records on a second thread while the core validates and writes on
/// this one (the conversion overlaps the SQLite writes), and feeds them to `sink` (one of
/// the core's ingest calls). Rows that do not convert are counted in the report as the
/// core counts its own refusals, and every row number is the 1-based input position.
#[allow(clippy::too_many_arguments)]
fn ingest_columns_as<T: Record + Send>(
    crm: &Crm,
    names: Vec<&'static str>,
    mut columns: Vec<Column>,
    rows: usize,
    batch_size: usize,
    max_errors: usize,
    reporter: &mut Reporter,
    sink: impl FnOnce(&Crm, &mut dyn Iterator<Item = T>, IngestOptions<'_>) -> crm_core::Result<IngestReport>,
) -> crm_core::Result<IngestReport> {
    let refused_so_far = AtomicU64::new(0);
    let (tx, rx) = sync_channel::<Vec<T>>(8);
    std::thread::scope(|scope| {
        let converter = scope.spawn(|| {
            let tx = tx; // moved in, so the writer sees the end of the rows when this returns
            let mut side = Side::default();
            let mut chunk = Vec::with_capacity(CHUNK);
            for i in 0..rows {
                let cells = names.iter().zip(columns.iter_mut()).filter_map(|(n, c)| c.take(i).map(|v| (*n, Cell(v))));
                let row = T::Row::deserialize(MapDeserializer::new(cells))
                    .map_err(|e| crm_core::Error::validation("row", e.to_string()))
                    .and_then(|r| r.try_into());
                let pos = i as u64 + 1;
                match row {
                    Ok(rec) => {
                        side.positions.push(pos);
                        chunk.push(rec);
                    }
                    Err(e) => {
                        side.refused.push(row_error(pos, e));
                        refused_so_far.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if chunk.len() == CHUNK && tx.send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))).is_err() {
                    return side; // the writer stopped (a storage error); it reports why
                }
            }
            let _ = tx.send(chunk);
            side
        });
        let mut records = rx.iter().flatten();
        let mut progress = |p: Progress| {
            reporter.report(p.rows_done + refused_so_far.load(Ordering::Relaxed), Some(rows as u64));
            ControlFlow::Continue(())
        };
        let opts = IngestOptions { batch_size, max_errors, progress: Some(&mut progress), ..Default::default() };
        let result = sink(crm, &mut records, opts);
        drop(records);
        drop(rx);
        let side = converter.join().expect("the converting thread does not panic");
        let mut report = result?;
        let refused = side.refused.len() as u64;
        report.rows += refused;
        report.failed += refused;
        for e in &mut report.errors {
            e.row = side.positions[e.row as usize - 1];
        }
        report.errors.extend(side.refused);
        report.errors.sort_by_key(|e| e.row);
        report.errors.truncate(max_errors);
        Ok(report)
    })
}

/// Data rows of a CSV or JSON Lines file, counted cheaply (for progress bars).
#[pyfunction]
pub fn count_rows(py: Python<'_>, path: String) -> Result<u64> {
    py.detach(move || Ok(ingest::count_rows(path)?))
}

#[pymethods]
impl PyCrm {
    /// Ingests a CSV or JSON Lines file; returns the report as JSON.
    #[pyo3(signature = (kind, path, batch_size, max_errors, progress=None))]
    fn ingest_file(
        &self,
        py: Python<'_>,
        kind: &str,
        path: String,
        batch_size: usize,
        max_errors: usize,
        progress: Option<Py<PyAny>>,
    ) -> Result<String> {
        let kind = record_kind(kind)?;
        self.run(py, move |crm| {
            let mut reporter = Reporter { callback: progress, failed: None };
            let total = if reporter.callback.is_some() { ingest::count_rows(&path).ok() } else { None };
            let mut cb = |p: Progress| {
                reporter.report(p.rows_done, total);
                ControlFlow::Continue(())
            };
            let opts = IngestOptions { batch_size, max_errors, progress: Some(&mut cb), ..Default::default() };
            let report = crm.ingest_file(kind, &path, opts);
            reporter.finish(report)
        })
    }

    /// Ingests JSON Lines text (one record per line, in the serde shape); returns the report.
    #[pyo3(signature = (kind, text, rows, batch_size, max_errors, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn ingest_jsonl(
        &self,
        py: Python<'_>,
        kind: &str,
        text: String,
        rows: u64,
        batch_size: usize,
        max_errors: usize,
        progress: Option<Py<PyAny>>,
    ) -> Result<String> {
        let kind = record_kind(kind)?;
        self.run(py, move |crm| {
            let mut reporter = Reporter { callback: progress, failed: None };
            let mut cb = |p: Progress| {
                reporter.report(p.rows_done, Some(rows));
                ControlFlow::Continue(())
            };
            let opts = IngestOptions { batch_size, max_errors, progress: Some(&mut cb), ..Default::default() };
            let report = crm.ingest_reader(kind, Cursor::new(text.into_bytes()), Format::JsonLines, opts);
            reporter.finish(report)
        })
    }

    /// Ingests DataFrame columns `[(name, kind, values)]` (kind `text`, `int` or `time`
    /// in microseconds) holding the CSV columns of `kind`; returns the report as JSON.
    #[pyo3(signature = (kind, columns, batch_size, max_errors, progress=None))]
    fn ingest_columns(
        &self,
        py: Python<'_>,
        kind: &str,
        columns: Vec<(String, String, Bound<'_, PyAny>)>,
        batch_size: usize,
        max_errors: usize,
        progress: Option<Py<PyAny>>,
    ) -> Result<String> {
        let kind = record_kind(kind)?;
        let names: Vec<String> = columns.iter().map(|(n, _, _)| n.clone()).collect();
        let names = match kind {
            RecordKind::Customers => check_columns::<NewCustomer>(&names)?,
            RecordKind::Orders => check_columns::<NewOrder>(&names)?,
            RecordKind::Interactions => check_columns::<NewInteraction>(&names)?,
        };
        let cols = columns.iter().map(|(n, k, v)| Column::extract(k, n, v)).collect::<Result<Vec<_>>>()?;
        let rows = cols.first().map_or(0, Column::len);
        if cols.iter().any(|c| c.len() != rows) {
            return Err(Error::Input { field: "columns".into(), reason: "columns differ in length".into() });
        }
        self.run(py, move |crm| {
            let mut reporter = Reporter { callback: progress, failed: None };
            let r = &mut reporter;
            let report = match kind {
                RecordKind::Customers => {
                    ingest_columns_as::<NewCustomer>(crm, names, cols, rows, batch_size, max_errors, r, |c, it, o| {
                        c.ingest_customers(it, o)
                    })
                }
                RecordKind::Orders => {
                    ingest_columns_as::<NewOrder>(crm, names, cols, rows, batch_size, max_errors, r, |c, it, o| {
                        c.ingest_orders(it, o)
                    })
                }
                RecordKind::Interactions => ingest_columns_as::<NewInteraction>(
                    crm,
                    names,
                    cols,
                    rows,
                    batch_size,
                    max_errors,
                    r,
                    |c, it, o| c.ingest_interactions(it, o),
                ),
            };
            reporter.finish(report)
        })
    }
}
