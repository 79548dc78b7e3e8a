//! Identity resolution: the duplicate finder's report, merges, unmerges and the merge log
//! as JSON (crm.identity builds the frames and records). The rules are crm-core's
//! `identity`; this module converts the arguments and the results.

use crm_core::identity::{MatchSettings, MergeRequest, UnmergeRequest};
use crm_core::CustomerId;
use pyo3::prelude::*;

use crate::error::Result;
use crate::handle::PyCrm;
use crate::json;

#[pymethods]
impl PyCrm {
    /// Finds likely duplicates under JSON `MatchSettings` with `threshold` in place of its
    /// own (a float, so that NaN reaches the core's check rather than failing as JSON);
    /// returns the `DuplicateReport` as JSON. Runs with the GIL released.
    fn find_duplicates(&self, py: Python<'_>, settings: String, threshold: f64) -> Result<String> {
        self.run(py, move |crm| {
            let mut settings = MatchSettings::parse(&settings)?;
            settings.threshold = threshold;
            Ok(json::dump(&crm.find_duplicates(&settings)?))
        })
    }

    /// Merges customer `merged` into `survivor` with the `MergeRequest` JSON; returns the
    /// `MergeOutcome` as JSON. Runs with the GIL released.
    fn merge_customers(&self, py: Python<'_>, survivor: i64, merged: i64, request: String) -> Result<String> {
        self.run(py, move |crm| {
            let request: MergeRequest = json::parse(&request)?;
            Ok(json::dump(&crm.merge_customers(CustomerId(survivor), CustomerId(merged), &request)?))
        })
    }

    /// Undoes the merge of customer `merged` with the `UnmergeRequest` JSON; returns the
    /// `MergeOutcome` as JSON. Runs with the GIL released.
    fn unmerge_customer(&self, py: Python<'_>, merged: i64, request: String) -> Result<String> {
        self.run(py, move |crm| {
            let request: UnmergeRequest = json::parse(&request)?;
            Ok(json::dump(&crm.unmerge_customer(CustomerId(merged), &request)?))
        })
    }

    /// The merges a customer took part in, as a JSON array of `MergeRecord`s.
    fn merge_history(&self, py: Python<'_>, customer: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.merge_history(CustomerId(customer))?)))
    }
}
