//! Orders: record (idempotent by external id), update, refund, read and delete.

use crm_core::{NewOrder, OrderId, OrderPatch, OrderStatus, Refund};
use pyo3::prelude::*;

use crate::error::{Error, Result};
use crate::handle::PyCrm;
use crate::json;

fn order_status(name: &str) -> Result<OrderStatus> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| Error::Input {
        field: "status".into(),
        reason: format!("{name:?}: one of completed, refunded, cancelled"),
    })
}

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

    /// Applies a JSON `OrderPatch` to the order with this id; returns `{"record", "outcome"}`.
    fn update_order(&self, py: Python<'_>, id: i64, patch: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.update_order(OrderId(id), &json::parse::<OrderPatch>(&patch)?)?)))
    }

    /// Applies a JSON `OrderPatch` to the order with this external id.
    fn update_order_by_external_id(&self, py: Python<'_>, external_id: String, patch: String) -> Result<String> {
        self.run(py, move |crm| {
            Ok(json::dump(&crm.update_order_by_external_id(&external_id, &json::parse::<OrderPatch>(&patch)?)?))
        })
    }

    /// Sets the status (`"completed"`, `"refunded"`, `"cancelled"`) of the order with this
    /// external id and nothing else.
    fn set_order_status(&self, py: Python<'_>, external_id: String, status: String) -> Result<String> {
        self.run(py, move |crm| {
            let status = order_status(&status)?;
            Ok(json::dump(&crm.set_order_status(&external_id, status)?))
        })
    }

    /// Refunds part or all of the order with this external id (a JSON `Refund`).
    fn refund_order(&self, py: Python<'_>, external_id: String, refund: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.refund_order(&external_id, &json::parse::<Refund>(&refund)?)?)))
    }

    /// An order's refunds as a JSON array.
    fn order_refunds(&self, py: Python<'_>, id: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.order_refunds(OrderId(id))?)))
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
