//! RFM: the whole table as native column buffers (numpy and pyarrow wrap them without a
//! Python object per row), the stored model, one customer's score, segment sizes. The rules
//! are crm-core's `segment::rfm`; this module converts arguments and results.

use chrono::{DateTime, Utc};
use crm_core::segment::rfm::{RfmConfig, RfmGrid, RfmScore, RfmTable};
use crm_core::{Currency, CustomerId};
use pyo3::prelude::*;
use pyo3::types::PyByteArray;

use crate::error::{Error, Result};
use crate::handle::PyCrm;
use crate::json;

/// One score as a tuple: `(customer_id, recency_days, frequency, monetary_minor, r, f, m, segment)`.
type ScoreTuple = (i64, i64, i64, i64, u8, u8, u8, String);

fn score_tuple(s: RfmScore) -> ScoreTuple {
    (s.customer_id.0, s.recency_days, s.frequency, s.monetary_minor, s.r, s.f, s.m, s.segment)
}

fn time(us: i64, field: &str) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| Error::Input {
        field: field.to_owned(),
        reason: format!("{us} µs since 1970 is outside the representable range"),
    })
}

/// The configuration from its parts; the core checks the as-of range when it computes.
fn config(currency: &str, as_of_us: Option<i64>, grid: Option<Vec<Vec<String>>>) -> Result<RfmConfig> {
    Ok(RfmConfig {
        currency: Currency::new(currency)?,
        as_of: as_of_us.map(|us| time(us, "as_of")).transpose()?,
        grid: grid.map(RfmGrid::new).transpose()?.unwrap_or_default(),
    })
}

/// The core's standard grid: 5 rows (R = 5 down to 1) of 5 names (FM = 1 to 5).
pub fn default_grid() -> Vec<Vec<String>> {
    RfmGrid::default().into()
}

/// Names of the int64 columns, in order, then the segment codes.
const INT_COLUMNS: [&str; 7] = ["customer_id", "recency_days", "frequency", "monetary_minor", "r", "f", "m"];

/// A table as column buffers: seven int64 columns (native byte order) and int16 codes into
/// the segment names (the grid's names in reading order).
struct Columns {
    ints: [Vec<u8>; 7],
    segment_codes: Vec<u8>,
    segments: Vec<String>,
}

impl Columns {
    fn of(table: RfmTable) -> Columns {
        let n = table.scores.len();
        let mut ints: [Vec<u8>; 7] = std::array::from_fn(|_| Vec::with_capacity(n * 8));
        let mut segment_codes = Vec::with_capacity(n * 2);
        let mut segments: Vec<String> = table.model.config.grid.names().into_iter().map(str::to_owned).collect();
        for s in &table.scores {
            let values =
                [s.customer_id.0, s.recency_days, s.frequency, s.monetary_minor, s.r.into(), s.f.into(), s.m.into()];
            for (col, v) in ints.iter_mut().zip(values) {
                col.extend_from_slice(&v.to_ne_bytes());
            }
            // A grid has at most 25 names: a scan beats hashing. Every name comes from the
            // model's grid; one that did not would still be kept.
            let code = match segments.iter().position(|name| *name == s.segment) {
                Some(i) => i,
                None => {
                    segments.push(s.segment.clone());
                    segments.len() - 1
                }
            };
            segment_codes.extend_from_slice(&(code as i16).to_ne_bytes());
        }
        Columns { ints, segment_codes, segments }
    }
}

/// `compute_rfm`'s result: the model as JSON, `[(name, buffer)]` for the int64 columns and
/// then `("segment", int16 codes)`, and the segment names the codes index.
type FrameParts = (String, Vec<(&'static str, Py<PyByteArray>)>, Vec<String>);

#[pymethods]
impl PyCrm {
    /// Computes RFM for every member of the population without storing anything; returns
    /// the model as JSON and the scores as column buffers (see `FrameParts`).
    #[pyo3(signature = (currency, as_of_us=None, grid=None))]
    fn compute_rfm(
        &self,
        py: Python<'_>,
        currency: String,
        as_of_us: Option<i64>,
        grid: Option<Vec<Vec<String>>>,
    ) -> Result<FrameParts> {
        let (model, cols) = self.run(py, move |crm| {
            let table = crm.compute_rfm(&config(&currency, as_of_us, grid)?)?;
            let model = json::dump(&table.model);
            Ok((model, Columns::of(table)))
        })?;
        let mut out = Vec::with_capacity(INT_COLUMNS.len() + 1);
        for (name, buf) in INT_COLUMNS.into_iter().zip(&cols.ints) {
            out.push((name, PyByteArray::new(py, buf).unbind()));
        }
        out.push(("segment", PyByteArray::new(py, &cols.segment_codes).unbind()));
        Ok((model, out, cols.segments))
    }

    /// Computes and stores RFM; returns the stored model as JSON.
    #[pyo3(signature = (currency, as_of_us=None, grid=None))]
    fn refresh_rfm(
        &self,
        py: Python<'_>,
        currency: String,
        as_of_us: Option<i64>,
        grid: Option<Vec<Vec<String>>>,
    ) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.refresh_rfm(&config(&currency, as_of_us, grid)?)?)))
    }

    /// The stored model as JSON, or None.
    fn rfm_model(&self, py: Python<'_>) -> Result<Option<String>> {
        self.run(py, move |crm| Ok(crm.rfm_model()?.as_ref().map(json::dump)))
    }

    /// A customer's stored score as a tuple, or None.
    fn rfm_of(&self, py: Python<'_>, id: i64) -> Result<Option<ScoreTuple>> {
        self.run(py, move |crm| Ok(crm.rfm_of(CustomerId(id))?.map(score_tuple)))
    }

    /// A customer scored against the stored model, as a tuple, or None.
    #[pyo3(signature = (id, as_of_us=None))]
    fn score_rfm(&self, py: Python<'_>, id: i64, as_of_us: Option<i64>) -> Result<Option<ScoreTuple>> {
        self.run(py, move |crm| {
            let as_of = as_of_us.map(|us| time(us, "as_of")).transpose()?;
            Ok(crm.score_rfm(CustomerId(id), as_of)?.map(score_tuple))
        })
    }

    /// Members per named segment of the stored scores, in the grid's reading order.
    fn rfm_segment_sizes(&self, py: Python<'_>) -> Result<Vec<(String, u64)>> {
        self.run(py, move |crm| Ok(crm.rfm_segment_sizes()?))
    }
}
