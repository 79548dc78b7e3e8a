//! Customers: create, upsert, read, update, delete, statistics, queries and search.

use crm_core::{Currency, CustomerId, CustomerPatch, CustomerQuery, NewCustomer, UpsertMode};
use pyo3::prelude::*;

use crate::error::Result;
use crate::handle::PyCrm;
use crate::json;

#[pymethods]
impl PyCrm {
    /// Creates a customer from a JSON `NewCustomer`; returns the stored customer as JSON.
    fn create_customer(&self, py: Python<'_>, record: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.create_customer(&json::parse::<NewCustomer>(&record)?)?)))
    }

    /// Upserts a JSON `CustomerPatch` by external id, merged into the stored customer (or,
    /// with `replace`, replacing the profile); returns `{"record": ..., "outcome": ...}`.
    /// With `source`, the external id is that system's key (an identity).
    #[pyo3(signature = (record, replace=false, source=None))]
    fn upsert_customer(&self, py: Python<'_>, record: String, replace: bool, source: Option<String>) -> Result<String> {
        let mode = if replace { UpsertMode::Replace } else { UpsertMode::Merge };
        self.run(py, move |crm| {
            let patch = json::parse::<CustomerPatch>(&record)?;
            Ok(json::dump(&match &source {
                None => crm.upsert_customer_patch(&patch, mode)?,
                Some(s) => crm.upsert_customer_patch_from(s, &patch, mode)?,
            }))
        })
    }

    /// The customer an identity names, as JSON.
    fn customer_by_identity(&self, py: Python<'_>, source: String, external_id: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.customer_by_identity(&source, &external_id)?)))
    }

    /// Links an identity; returns it as JSON.
    fn add_identity(&self, py: Python<'_>, customer: i64, source: String, external_id: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.add_identity(CustomerId(customer), &source, &external_id)?)))
    }

    /// Unlinks an identity.
    fn remove_identity(&self, py: Python<'_>, source: String, external_id: String) -> Result<()> {
        self.run(py, move |crm| Ok(crm.remove_identity(&source, &external_id)?))
    }

    /// A customer's identities as a JSON array.
    fn identities(&self, py: Python<'_>, customer: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.identities(CustomerId(customer))?)))
    }

    /// The store id of the customer with this external id.
    fn customer_id_by_external_id(&self, py: Python<'_>, external_id: String) -> Result<i64> {
        self.run(py, move |crm| Ok(crm.customer_id_by_external_id(&external_id)?.0))
    }

    /// Reads a customer by id.
    fn get_customer(&self, py: Python<'_>, id: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.get_customer(CustomerId(id))?)))
    }

    /// Reads a customer by the host's external id.
    fn get_customer_by_external_id(&self, py: Python<'_>, external_id: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.get_customer_by_external_id(&external_id)?)))
    }

    /// Applies a JSON `CustomerPatch`; returns the stored customer.
    fn update_customer(&self, py: Python<'_>, id: i64, patch: String) -> Result<String> {
        self.run(py, move |crm| {
            Ok(json::dump(&crm.update_customer(CustomerId(id), &json::parse::<CustomerPatch>(&patch)?)?))
        })
    }

    /// Deletes a customer with their orders and interactions.
    fn delete_customer(&self, py: Python<'_>, id: i64) -> Result<()> {
        self.run(py, move |crm| Ok(crm.delete_customer(CustomerId(id))?))
    }

    /// A customer's statistics as JSON.
    fn customer_stats(&self, py: Python<'_>, id: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.customer_stats(CustomerId(id))?)))
    }

    /// `[[customer, money], ...]` as JSON: the largest spenders in `currency`.
    fn top_customers_by_spend(&self, py: Python<'_>, currency: String, limit: usize) -> Result<String> {
        self.run(py, move |crm| {
            let currency: Currency = currency.parse()?;
            Ok(json::dump(&crm.top_customers_by_spend(currency, limit)?))
        })
    }

    /// One page of a JSON `CustomerQuery`: `{"items": [...], "next_cursor": ...}`.
    fn query_customers(&self, py: Python<'_>, query: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.query_customers(&json::parse::<CustomerQuery>(&query)?)?)))
    }

    /// Customers matching `text` (see the core's `search_customers`).
    fn search_customers(&self, py: Python<'_>, text: String, limit: usize) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.search_customers(&text, limit)?)))
    }
}
