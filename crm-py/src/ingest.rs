//! Bulk ingest: files (CSV, JSON Lines), JSON Lines text (lists of dicts) and DataFrame or
//! Arrow columns. Files and text go straight to the core's readers. Columns arrive as raw
//! buffers (UTF-8 text with offsets, 64-bit integers, times in microseconds), so no Python
//! object is made or read per cell; the core's `Record::from_cells` turns each row into a
//! record by the rules of a CSV line, and `Crm::ingest_rows` stores them.

use std::io::Cursor;
use std::ops::ControlFlow;
use std::sync::mpsc::sync_channel;

use crm_core::ingest::{
    self, column_positions, Cell, Format, IngestOptions, IngestReport, Progress, Record, RecordKind, RowError, RowItem,
};
use crm_core::{Crm, CustomerPatch, NewInteraction, NewOrder};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes};

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

/// The core's progress calls, seen from Python: after each committed batch it takes the
/// GIL, runs pending signal handlers (so Ctrl-C stops a long ingest) and calls the
/// callback `(rows_done, rows_total)`. The callback returning `False`, or raising (as does
/// a `KeyboardInterrupt`), cancels the ingest; the exception is raised when it returns.
struct Reporter {
    callback: Option<Py<PyAny>>,
    failed: Option<PyErr>,
}

impl Reporter {
    fn new(callback: Option<Py<PyAny>>) -> Reporter {
        Reporter { callback, failed: None }
    }

    fn report(&mut self, p: Progress) -> ControlFlow<()> {
        let stop = Python::attach(|py| -> PyResult<bool> {
            py.check_signals()?;
            match &self.callback {
                Some(cb) => {
                    let said = cb.call1(py, (p.rows_done, p.rows_total))?;
                    Ok(said.bind(py).cast::<PyBool>().is_ok_and(|b| !b.is_true()))
                }
                None => Ok(false),
            }
        });
        match stop {
            Ok(false) => ControlFlow::Continue(()),
            Ok(true) => ControlFlow::Break(()),
            Err(e) => {
                self.failed = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    /// Runs `ingest` with this reporter as its progress callback; returns the report as
    /// JSON, or the callback's exception.
    fn run(
        mut self,
        batch_size: usize,
        max_errors: usize,
        rows_total: Option<u64>,
        ignore_unknown_columns: bool,
        source: Option<&str>,
        ingest: impl FnOnce(IngestOptions<'_>) -> Result<IngestReport>,
    ) -> Result<String> {
        let mut progress = |p: Progress| self.report(p);
        let opts = IngestOptions {
            batch_size,
            max_errors,
            rows_total,
            progress: Some(&mut progress),
            ignore_unknown_columns,
            source,
        };
        let report = ingest(opts)?;
        match self.failed {
            Some(e) => Err(Error::Py(e)),
            None => Ok(json::dump(&report)),
        }
    }
}

/// Where a column's cells come from.
enum Source {
    /// A Python callable `(start, stop) -> (data, offsets, valid)` giving rows
    /// `start..stop` as UTF-8 `data`, the `stop - start + 1` little-endian int64 `offsets`
    /// of the cells in it, and `None` or one byte per row, 0 where a cell is missing. It
    /// is called on the converting thread, so turning Python strings into bytes overlaps
    /// the writes instead of preceding them.
    Text(Py<PyAny>),
    /// 64-bit integers.
    Int(Vec<i64>),
    /// Times in microseconds since 1970-01-01 UTC.
    Time(Vec<i64>),
}

/// One column of a DataFrame or Arrow table.
struct Column {
    name: String,
    /// Where the column sits in the record kind's `COLUMNS`.
    position: usize,
    source: Source,
    /// For integers and times: one byte per row, 0 for a missing cell; `None` when no
    /// cell is missing.
    valid: Option<Vec<u8>>,
}

/// Little-endian 64-bit integers, `n` of them, from `bytes`.
fn int64s(name: &str, bytes: &[u8], n: usize) -> Result<Vec<i64>> {
    if bytes.len() != n * 8 {
        return Err(Error::Input {
            field: name.to_owned(),
            reason: format!("{} bytes of 64-bit values for {n} entries", bytes.len()),
        });
    }
    Ok(bytes.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))).collect())
}

/// A validity mask of `n` rows, or an error on the column `name`.
fn mask(name: &str, valid: Option<&Bound<'_, PyBytes>>, n: usize) -> Result<Option<Vec<u8>>> {
    match valid.map(|v| v.as_bytes()) {
        Some(v) if v.len() != n => {
            Err(Error::Input { field: name.to_owned(), reason: format!("the validity mask does not have {n} entries") })
        }
        v => Ok(v.map(<[u8]>::to_vec)),
    }
}

impl Column {
    /// A column from `(name, kind, data, valid)` as `crm.frames` sends it; malformed input
    /// is an error on the column's name.
    fn new(
        name: String,
        position: usize,
        kind: &str,
        data: &Bound<'_, PyAny>,
        valid: Option<&Bound<'_, PyBytes>>,
        rows: usize,
    ) -> Result<Column> {
        let bad = |reason: String| Error::Input { field: name.clone(), reason };
        let bytes = || data.cast::<PyBytes>().map(|b| b.as_bytes()).map_err(|e| bad(e.to_string()));
        let source = match kind {
            "text" if data.is_callable() => Source::Text(data.clone().unbind()),
            "text" => return Err(bad("a text column needs a callable source of blocks".into())),
            "int" => Source::Int(int64s(&name, bytes()?, rows)?),
            "time" => Source::Time(int64s(&name, bytes()?, rows)?),
            other => return Err(bad(format!("unknown column kind {other:?}"))),
        };
        let valid = mask(&name, valid, rows)?;
        Ok(Column { name, position, source, valid })
    }
}

/// Rows `start..stop` of a text column.
struct TextBlock {
    data: Vec<u8>,
    offsets: Vec<usize>,
    valid: Option<Vec<u8>>,
}

impl TextBlock {
    /// Calls the column's source for rows `start..stop` and checks what it returns.
    fn fetch(py: Python<'_>, name: &str, source: &Py<PyAny>, start: usize, stop: usize) -> Result<TextBlock> {
        let n = stop - start;
        let (data, offsets, valid): (Bound<'_, PyBytes>, Bound<'_, PyBytes>, Option<Bound<'_, PyBytes>>) =
            source.call1(py, (start, stop))?.extract(py)?;
        let data = data.as_bytes().to_vec();
        let offsets = int64s(name, offsets.as_bytes(), n + 1)?;
        let ascending = offsets.first() == Some(&0)
            && offsets.windows(2).all(|w| w[0] <= w[1])
            && offsets.last().is_some_and(|&end| end as u64 == data.len() as u64);
        if !ascending {
            return Err(Error::Input { field: name.to_owned(), reason: "text offsets are not ascending".into() });
        }
        let offsets = offsets.into_iter().map(|o| o as usize).collect();
        Ok(TextBlock { data, offsets, valid: mask(name, valid.as_ref(), n)? })
    }

    /// Cell `i` of the block; text that is not UTF-8 is an error on the row.
    fn cell(&self, name: &str, i: usize, row: u64) -> std::result::Result<Option<Cell<'_>>, RowError> {
        if self.valid.as_ref().is_some_and(|v| v[i] == 0) {
            return Ok(Some(Cell::Null));
        }
        match std::str::from_utf8(&self.data[self.offsets[i]..self.offsets[i + 1]]) {
            Ok(s) => Ok(Some(Cell::Text(s))),
            Err(e) => Err(RowError { row, field: Some(name.to_owned()), reason: format!("is not text: {e}") }),
        }
    }
}

/// Rows per block the converting thread fetches and hands over at a time.
const BLOCK: usize = 16_384;

/// The records of rows `start..stop`, each numbered by its 1-based position.
fn convert_block<T: Record>(columns: &[Column], start: usize, stop: usize) -> Result<Vec<RowItem<T>>> {
    let texts = Python::attach(|py| {
        columns
            .iter()
            .map(|c| match &c.source {
                Source::Text(f) => TextBlock::fetch(py, &c.name, f, start, stop).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let mut cells: Vec<Option<Cell<'_>>> = vec![None; T::COLUMNS.len()];
    let mut out = Vec::with_capacity(stop - start);
    for i in start..stop {
        let n = i as u64 + 1;
        cells.fill(None);
        let built = columns.iter().zip(&texts).try_for_each(|(c, text)| {
            let missing = c.valid.as_ref().is_some_and(|v| v[i] == 0);
            cells[c.position] = match (&c.source, text) {
                (_, Some(t)) => t.cell(&c.name, i - start, n)?,
                _ if missing => Some(Cell::Null),
                (Source::Int(v), _) => Some(Cell::Int(v[i])),
                (Source::Time(v), _) => Some(Cell::Time(v[i])),
                (Source::Text(_), None) => unreachable!("text blocks are fetched for text columns"),
            };
            Ok(())
        });
        out.push((n, built.and_then(|()| T::from_cells(&mut cells).map_err(|e| RowError::from_error(n, e)))));
    }
    Ok(out)
}

/// Ingests `rows` rows of `columns` as `T` records. A second thread fetches and converts
/// blocks of rows while this one validates and writes them, so the conversion overlaps
/// the SQLite writes. When the ingest stops early (cancelled, or a storage error) the
/// converter stops at its next hand-over; when the converter fails (a text source
/// raised), the rows before stay ingested and its error is returned.
fn ingest_columns_as<T: Record + Send>(
    crm: &Crm,
    columns: &[Column],
    rows: usize,
    opts: IngestOptions<'_>,
) -> Result<IngestReport> {
    let (tx, rx) = sync_channel::<Result<Vec<RowItem<T>>>>(4);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for start in (0..rows).step_by(BLOCK) {
                let block = convert_block(columns, start, rows.min(start + BLOCK));
                let failed = block.is_err();
                if tx.send(block).is_err() || failed {
                    return;
                }
            }
        });
        let mut failed = None;
        let records = rx.into_iter().map_while(|b| b.map_err(|e| failed = Some(e)).ok()).flatten();
        let report = crm.ingest_rows(records, opts)?;
        failed.map_or(Ok(report), Err)
    })
}

/// Data rows of a CSV or JSON Lines file, counted cheaply (for progress bars).
#[pyfunction]
pub fn count_rows(py: Python<'_>, path: String) -> Result<u64> {
    py.detach(move || Ok(ingest::count_rows(path)?))
}

/// One column as Python sends it: name, kind, data (bytes, or a text source), validity.
type PyColumn<'py> = (String, String, Bound<'py, PyAny>, Option<Bound<'py, PyBytes>>);

#[pymethods]
impl PyCrm {
    /// Ingests a CSV or JSON Lines file; returns the report as JSON.
    #[pyo3(signature = (kind, path, batch_size, max_errors, progress=None, ignore_unknown_columns=false, source=None))]
    #[allow(clippy::too_many_arguments)]
    fn ingest_file(
        &self,
        py: Python<'_>,
        kind: &str,
        path: String,
        batch_size: usize,
        max_errors: usize,
        progress: Option<Py<PyAny>>,
        ignore_unknown_columns: bool,
        source: Option<String>,
    ) -> Result<String> {
        let kind = record_kind(kind)?;
        self.run(py, move |crm| {
            Reporter::new(progress).run(
                batch_size,
                max_errors,
                None,
                ignore_unknown_columns,
                source.as_deref(),
                |opts| Ok(crm.ingest_file(kind, &path, opts)?),
            )
        })
    }

    /// Ingests JSON Lines text (one record per line, in the serde shape); returns the report.
    #[pyo3(signature = (kind, text, rows, batch_size, max_errors, progress=None, source=None))]
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
        source: Option<String>,
    ) -> Result<String> {
        let kind = record_kind(kind)?;
        self.run(py, move |crm| {
            Reporter::new(progress).run(batch_size, max_errors, Some(rows), false, source.as_deref(), |opts| {
                Ok(crm.ingest_reader(kind, Cursor::new(text.into_bytes()), Format::JsonLines, opts)?)
            })
        })
    }

    /// Ingests `rows` rows of columns `[(name, kind, data, valid)]` holding the CSV
    /// columns of `kind`; returns the report as JSON. Kinds: `int` and `time` (`data`:
    /// `rows` little-endian int64, times in microseconds since 1970 UTC; `valid`: `None` or
    /// one byte per row, 0 where the cell is missing) and `text` (`data`: a callable
    /// `(start, stop) -> (utf8, offsets, valid)` for a block of rows; `valid` unused). A
    /// missing cell is a null one (it clears a customer's field); a column that is not
    /// there changes nothing. With `ignore_unknown_columns`, columns that are not columns of
    /// `kind` are skipped and listed in the report.
    #[pyo3(signature = (kind, columns, rows, batch_size, max_errors, progress=None, ignore_unknown_columns=false, source=None))]
    #[allow(clippy::too_many_arguments)]
    fn ingest_columns(
        &self,
        py: Python<'_>,
        kind: &str,
        columns: Vec<PyColumn<'_>>,
        rows: usize,
        batch_size: usize,
        max_errors: usize,
        progress: Option<Py<PyAny>>,
        ignore_unknown_columns: bool,
        source: Option<String>,
    ) -> Result<String> {
        let kind = record_kind(kind)?;
        let names: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
        let positions = match kind {
            RecordKind::Customers => column_positions::<CustomerPatch>("columns", &names, ignore_unknown_columns)?,
            RecordKind::Orders => column_positions::<NewOrder>("columns", &names, ignore_unknown_columns)?,
            RecordKind::Interactions => column_positions::<NewInteraction>("columns", &names, ignore_unknown_columns)?,
        };
        let ignored = ingest::ignored_columns(&names, &positions);
        let columns = columns
            .into_iter()
            .zip(positions)
            .filter_map(|(c, at)| at.map(|at| (c, at)))
            .map(|((name, k, data, valid), at)| Column::new(name, at, &k, &data, valid.as_ref(), rows))
            .collect::<Result<Vec<_>>>()?;
        self.run(py, move |crm| {
            let source = source.as_deref();
            Reporter::new(progress).run(
                batch_size,
                max_errors,
                Some(rows as u64),
                ignore_unknown_columns,
                source,
                |opts| {
                    let mut report = match kind {
                        RecordKind::Customers => ingest_columns_as::<CustomerPatch>(crm, &columns, rows, opts),
                        RecordKind::Orders => ingest_columns_as::<NewOrder>(crm, &columns, rows, opts),
                        RecordKind::Interactions => ingest_columns_as::<NewInteraction>(crm, &columns, rows, opts),
                    }?;
                    report.ignored_columns = ignored;
                    Ok(report)
                },
            )
        })
    }
}
