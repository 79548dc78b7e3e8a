//! Reading across records: a customer's timeline, the change feed and row counts.

use crm_core::CustomerId;
use pyo3::prelude::*;

use crate::error::Result;
use crate::handle::PyCrm;
use crate::json;

#[pymethods]
impl PyCrm {
    /// One page of a customer's timeline (orders and interactions, newest first) as JSON.
    #[pyo3(signature = (id, limit, cursor=None))]
    fn timeline(&self, py: Python<'_>, id: i64, limit: usize, cursor: Option<String>) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.timeline(CustomerId(id), limit, cursor.as_deref())?)))
    }

    /// Change-feed entries after `seq`, oldest first, as JSON.
    fn changes_since(&self, py: Python<'_>, seq: i64, limit: usize) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.changes_since(seq, limit)?)))
    }

    /// Row counts `(customers, orders, interactions)`.
    fn counts(&self, py: Python<'_>) -> Result<(i64, i64, i64)> {
        self.run(py, |crm| {
            let c = crm.counts()?;
            Ok((c.customers, c.orders, c.interactions))
        })
    }
}
