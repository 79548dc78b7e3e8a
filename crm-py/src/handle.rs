//! The native `Crm` handle: an `Arc<crm_core::Crm>` that `close()` releases. Frozen and
//! shareable between Python threads; every store call runs with the GIL released, because
//! any of them may wait for the writer lock (up to the busy timeout) and must not stall
//! other Python threads meanwhile.

use std::sync::{Arc, RwLock};

use crm_core::{Crm, CrmConfig};
use pyo3::prelude::*;

use crate::error::{Error, Result};
use crate::json;

/// An open customer database (native half of `crm.Crm`).
#[pyclass(frozen, module = "crm._crm", name = "Crm")]
pub struct PyCrm {
    inner: RwLock<Option<Arc<Crm>>>,
    path: String,
}

impl PyCrm {
    /// The core handle, or `Error::Closed`. Callers keep the `Arc` for the duration of a
    /// call, so `close()` during a call on another thread waits for nothing and frees the
    /// store when the last call returns.
    pub fn core(&self) -> Result<Arc<Crm>> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).clone().ok_or(Error::Closed)
    }

    /// Runs `f` on the core handle with the GIL released.
    pub fn run<T, F>(&self, py: Python<'_>, f: F) -> Result<T>
    where
        F: FnOnce(&Crm) -> Result<T> + Send,
        T: Send,
    {
        let crm = self.core()?;
        py.detach(move || f(&crm))
    }
}

#[pymethods]
impl PyCrm {
    /// Opens (or creates) a database file; `":memory:"` opens a private in-memory one, a
    /// `postgresql://` URL a PostgreSQL database.
    #[new]
    #[pyo3(signature = (path, config_json=None))]
    fn new(py: Python<'_>, path: String, config_json: Option<String>) -> Result<Self> {
        let config: CrmConfig = config_json.as_deref().map(json::parse).transpose()?.unwrap_or_default();
        let crm = py.detach(move || -> Result<Crm> { Ok(Crm::open_with(&path, config)?) })?;
        // A URL is kept without its password.
        let path = match crm.store().as_postgres() {
            Some(pg) => pg.target().to_string(),
            None => {
                crm.store().as_sqlite().and_then(|s| s.path()).map_or(":memory:".into(), |p| p.display().to_string())
            }
        };
        Ok(PyCrm { inner: RwLock::new(Some(Arc::new(crm))), path })
    }

    /// Releases the store (once the calls running on other threads return). Idempotent.
    fn close(&self, py: Python<'_>) {
        let taken = self.inner.write().unwrap_or_else(|p| p.into_inner()).take();
        py.detach(move || drop(taken));
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).is_none()
    }

    /// The path the handle was opened with.
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }
}
