//! Identity resolution: the duplicate finder's report as JSON (crm.identity builds the
//! frames). The rules are crm-core's `identity`; this module converts the argument and
//! the result.

use crm_core::identity::MatchSettings;
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
}
