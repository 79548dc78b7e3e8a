//! Interactions: add (idempotent by external id when given), read and delete.

use crm_core::{InteractionId, NewInteraction};
use pyo3::prelude::*;

use crate::error::Result;
use crate::handle::PyCrm;
use crate::json;

#[pymethods]
impl PyCrm {
    /// Adds a JSON `NewInteraction`; returns `{"record": ..., "outcome": ...}`.
    fn add_interaction(&self, py: Python<'_>, record: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.add_interaction(&json::parse::<NewInteraction>(&record)?)?)))
    }

    /// Reads an interaction by id.
    fn get_interaction(&self, py: Python<'_>, id: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.get_interaction(InteractionId(id))?)))
    }

    /// The store id of the interaction with this external id.
    fn interaction_id_by_external_id(&self, py: Python<'_>, external_id: String) -> Result<i64> {
        self.run(py, move |crm| Ok(crm.interaction_id_by_external_id(&external_id)?.0))
    }

    /// Deletes an interaction.
    fn delete_interaction(&self, py: Python<'_>, id: i64) -> Result<()> {
        self.run(py, move |crm| Ok(crm.delete_interaction(InteractionId(id))?))
    }
}
