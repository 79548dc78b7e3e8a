//! The core's deterministic data generator, for examples, tests and benchmarks: rows as
//! DataFrame columns (the CSV columns of each record kind), files, or straight into a store.

use std::time::Instant;

use crm_core::ingest::{IngestOptions, Record, RecordKind};
use crm_core::synth::{Synth, SynthConfig};
use pyo3::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::handle::PyCrm;
use crate::ingest::record_kind;
use crate::json;

/// Generator settings from Python; absent ones keep the core's defaults.
/// The generator for a JSON `SynthConfig` (absent fields take their defaults).
fn synth(config: &str) -> Result<Synth> {
    Ok(Synth::new(json::parse::<SynthConfig>(config)?))
}

type Columns = Vec<(&'static str, Vec<Option<String>>)>;

/// The records as the core's flat CSV rows, column by column.
fn columns<T: Record>(records: impl Iterator<Item = T>) -> Columns
where
    for<'a> T::Row: From<&'a T>,
{
    let mut cols: Columns = T::COLUMNS.iter().map(|c| (*c, Vec::new())).collect();
    for r in records {
        let serde_json::Value::Object(mut row) = serde_json::to_value(T::Row::from(&r)).expect("rows serialise") else {
            unreachable!("CSV rows are structs")
        };
        for (name, col) in &mut cols {
            col.push(match row.remove(*name) {
                Some(serde_json::Value::String(s)) => Some(s),
                _ => None,
            });
        }
    }
    cols
}

/// Generated `kind` rows as `[(column, [text or None])]`, in the CSV columns of that kind.
#[pyfunction]
pub fn synth_columns(py: Python<'_>, kind: String, config: String) -> Result<Columns> {
    py.detach(move || {
        let s = synth(&config)?;
        Ok(match record_kind(&kind)? {
            RecordKind::Customers => columns(s.customers()),
            RecordKind::Orders => columns(s.orders()),
            RecordKind::Interactions => columns(s.interactions()),
        })
    })
}

/// Writes generated `kind` rows to a `.csv` or `.jsonl` file; returns the row count.
#[pyfunction]
pub fn synth_write(py: Python<'_>, kind: String, config: String, path: String) -> Result<u64> {
    py.detach(move || Ok(synth(&config)?.write_file(record_kind(&kind)?, &path)?))
}

fn timed<T: Serialize>(f: impl FnOnce() -> crm_core::Result<T>) -> Result<(String, f64)> {
    let t = Instant::now();
    let report = f()?;
    Ok((json::dump(&report), t.elapsed().as_secs_f64()))
}

/// Generates `kind` rows in memory, then ingests them with the core's iterator ingest;
/// returns the report as JSON and the seconds the ingest call took (generation excluded).
/// This is the Rust bulk rate the Python benchmark compares against.
#[pyfunction]
pub fn synth_ingest(
    py: Python<'_>,
    db: &PyCrm,
    kind: String,
    config: String,
    batch_size: usize,
) -> Result<(String, f64)> {
    db.run(py, move |crm| {
        let s = synth(&config)?;
        let opts = || IngestOptions { batch_size, ..Default::default() };
        match record_kind(&kind)? {
            RecordKind::Customers => {
                let rows: Vec<_> = s.customers().collect();
                timed(|| crm.ingest_customers(rows, opts()))
            }
            RecordKind::Orders => {
                let rows: Vec<_> = s.orders().collect();
                timed(|| crm.ingest_orders(rows, opts()))
            }
            RecordKind::Interactions => {
                let rows: Vec<_> = s.interactions().collect();
                timed(|| crm.ingest_interactions(rows, opts()))
            }
        }
    })
}
