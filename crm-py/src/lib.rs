//! Native module `crm._crm`: a thin layer over `crm-core`. It converts records (JSON text in
//! the core's serde shape, columns for DataFrames) and errors, releases the GIL around every
//! store call, and holds no business rule. The public API is the pure-Python package `crm`.

mod customers;
mod error;
mod feed;
mod handle;
mod ingest;
mod interactions;
mod json;
mod loyalty;
mod orders;
mod rules;
mod segments;
mod synth;

use pyo3::prelude::*;

#[pymodule]
fn _crm(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<handle::PyCrm>()?;
    m.add("CUSTOMER_COLUMNS", crm_core::ingest::CUSTOMER_COLUMNS.to_vec())?;
    m.add("ORDER_COLUMNS", crm_core::ingest::ORDER_COLUMNS.to_vec())?;
    m.add("INTERACTION_COLUMNS", crm_core::ingest::INTERACTION_COLUMNS.to_vec())?;
    m.add_function(wrap_pyfunction!(ingest::count_rows, m)?)?;
    m.add_function(wrap_pyfunction!(rules::parse_rule, m)?)?;
    m.add_function(wrap_pyfunction!(rules::format_rule, m)?)?;
    m.add_function(wrap_pyfunction!(synth::synth_columns, m)?)?;
    m.add_function(wrap_pyfunction!(synth::synth_write, m)?)?;
    m.add_function(wrap_pyfunction!(synth::synth_ingest, m)?)?;
    Ok(())
}
