//! Native module `crm._crm`: a thin layer over `crm-core`. It converts records (JSON text in
//! the core's serde shape, columns for DataFrames) and errors, releases the GIL around every
//! store call, and holds no business rule. The public API is the pure-Python package `crm`.

mod analytics;
mod customers;
mod error;
mod feed;
mod handle;
mod identity;
mod ingest;
mod interactions;
mod json;
mod loyalty;
mod orders;
mod rfm;
mod rules;
mod segments;
mod synth;

use pyo3::prelude::*;

/// mimalloc rather than the system allocator: bulk ingest builds records on one thread and
/// frees them on another, which glibc's per-thread arenas make slow (lock, consolidate).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule]
fn _crm(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<handle::PyCrm>()?;
    m.add_class::<analytics::PyCoPurchaseModel>()?;
    m.add_function(wrap_pyfunction!(analytics::bgnbd_fit, m)?)?;
    m.add_function(wrap_pyfunction!(analytics::bgnbd_predict, m)?)?;
    m.add_function(wrap_pyfunction!(analytics::bgnbd_expected_new, m)?)?;
    m.add_function(wrap_pyfunction!(analytics::bgnbd_alive_path, m)?)?;
    m.add_function(wrap_pyfunction!(analytics::gamma_gamma_fit, m)?)?;
    m.add_function(wrap_pyfunction!(analytics::gamma_gamma_expected_value, m)?)?;
    m.add_function(wrap_pyfunction!(analytics::customer_lifetime_value, m)?)?;
    m.add("CUSTOMER_COLUMNS", crm_core::ingest::CUSTOMER_COLUMNS.to_vec())?;
    m.add("ORDER_COLUMNS", crm_core::ingest::ORDER_COLUMNS.to_vec())?;
    m.add("INTERACTION_COLUMNS", crm_core::ingest::INTERACTION_COLUMNS.to_vec())?;
    m.add_function(wrap_pyfunction!(ingest::count_rows, m)?)?;
    m.add_function(wrap_pyfunction!(rules::parse_rule, m)?)?;
    m.add_function(wrap_pyfunction!(rules::format_rule, m)?)?;
    m.add_function(wrap_pyfunction!(rules::json_too_deep_error, m)?)?;
    m.add_function(wrap_pyfunction!(synth::synth_columns, m)?)?;
    m.add_function(wrap_pyfunction!(synth::synth_write, m)?)?;
    m.add_function(wrap_pyfunction!(synth::synth_ingest, m)?)?;
    m.add("RFM_DEFAULT_GRID", rfm::default_grid())?;
    Ok(())
}
