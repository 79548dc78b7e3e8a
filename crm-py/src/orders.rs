//! Orders: record (idempotent by external id), read and delete.

use crm_core::{NewOrder, OrderId};
use pyo3::prelude::*;

use crate::error::Result;
use crate::handle::PyCrm;
use crate::json;

#[pymethods]
impl PyCrm {
    /// Records a JSON `NewOrder`; returns `{"record": ..., "outcome": ...}`.
    fn record_order(&self, py: Python<'_>, record: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.record_order(&json::parse::<NewOrder>(&record)?)?)))
    }

    /// Reads an order by id.
    fn get_order(&self, py: Python<'_>, id: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.get_order(OrderId(id))?)))
    }

    /// Reads an order by the host's external id.
    fn get_order_by_external_id(&self, py: Python<'_>, external_id: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.get_order_by_external_id(&external_id)?)))
    }

    /// The store id of the order with this external id.
    fn order_id_by_external_id(&self, py: Python<'_>, external_id: String) -> Result<i64> {
        self.run(py, move |crm| Ok(crm.order_id_by_external_id(&external_id)?.0))
    }

    /// Deletes an order.
    fn delete_order(&self, py: Python<'_>, id: i64) -> Result<()> {
        self.run(py, move |crm| Ok(crm.delete_order(OrderId(id))?))
    }
}
