//! Native module `crm._crm`. For now it exposes the version; the full API is built in the
//! Python issue.

use pyo3::prelude::*;

#[pymodule]
fn _crm(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
