//! The rule language: text to JSON tree and back, and ad-hoc rules checked, counted, listed
//! and tested for one customer. A rule argument is a `str` (the text form, parsed by the
//! core, so bad text raises `crm.ParseError`) or a dict (the JSON tree).

use chrono::{DateTime, Utc};
use crm_core::rule::{check_json_depth, json_too_deep, parse, Expr};
use crm_core::CustomerId;
use pyo3::exceptions::{PyRecursionError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyMapping, PyModule, PyString};

use crate::error::{Error, Result};
use crate::handle::PyCrm;
use crate::json;

static JSON: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// A rule argument as the core's tree: text is parsed; a mapping is dumped by Python's `json`
/// module and read as the tree, shape errors naming `rule.<path>`; anything else is a TypeError.
pub(crate) fn rule_arg(rule: &Bound<'_, PyAny>) -> Result<Expr> {
    if rule.is_instance_of::<PyString>() {
        return Ok(parse(&rule.extract::<String>()?)?);
    }
    if rule.cast::<PyMapping>().is_err() {
        let kind = rule.get_type().name()?;
        return Err(Error::Py(PyTypeError::new_err(format!("a rule is text (str) or a tree (dict), not {kind}"))));
    }
    let py = rule.py();
    let module = JSON.get_or_try_init(py, || py.import("json").map(Bound::unbind))?;
    // Python's encoder recurses: a tree nested thousands deep is the core's nesting error,
    // not a RecursionError (which only such depth raises: cycles are a ValueError).
    let text: String = match module.bind(py).call_method1("dumps", (rule,)) {
        Err(e) if e.is_instance_of::<PyRecursionError>(py) => return Err(json_too_deep("rule").into()),
        r => r?.extract()?,
    };
    check_json_depth(&text, "rule")?;
    crm_core::json::parse(&text).map_err(|e| Error::Input {
        field: e.path.map_or_else(|| "rule".to_owned(), |p| format!("rule.{p}")),
        reason: e.reason,
    })
}

/// An optional evaluation time in microseconds since the Unix epoch (None: now).
pub(crate) fn as_of(us: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    us.map(|us| {
        DateTime::from_timestamp_micros(us).ok_or_else(|| Error::Input {
            field: "as_of".into(),
            reason: format!("{us} µs is outside the representable range"),
        })
    })
    .transpose()
}

/// Raises the core's error for JSON nested deeper than its limit, on `field`: for the
/// Python side, whose `json.dumps` of such a record raised RecursionError.
#[pyfunction]
pub fn json_too_deep_error(field: &str) -> Result<()> {
    Err(json_too_deep(field).into())
}

/// Parses rule text; returns its JSON tree as JSON text.
#[pyfunction]
pub fn parse_rule(text: &str) -> Result<String> {
    Ok(json::dump(&parse(text)?))
}

/// Prints a rule (text or tree) as canonical text.
#[pyfunction]
pub fn format_rule(rule: &Bound<'_, PyAny>) -> Result<String> {
    Ok(rule_arg(rule)?.to_string())
}

#[pymethods]
impl PyCrm {
    /// Checks a rule against the stored segments and scoring plans without evaluating it.
    fn check_rule(&self, py: Python<'_>, rule: &Bound<'_, PyAny>) -> Result<()> {
        let rule = rule_arg(rule)?;
        self.run(py, move |crm| Ok(crm.check_rule(&rule)?))
    }

    /// Number of customers meeting a rule as of a time (None: now).
    #[pyo3(signature = (rule, as_of_us=None))]
    fn count_matching(&self, py: Python<'_>, rule: &Bound<'_, PyAny>, as_of_us: Option<i64>) -> Result<i64> {
        let (rule, as_of) = (rule_arg(rule)?, as_of(as_of_us)?);
        self.run(py, move |crm| Ok(crm.count_matching(&rule, as_of)?))
    }

    /// Ids of the customers meeting a rule, ascending, after `after`, at most `limit`.
    #[pyo3(signature = (rule, as_of_us, after, limit))]
    fn members_matching(
        &self,
        py: Python<'_>,
        rule: &Bound<'_, PyAny>,
        as_of_us: Option<i64>,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<i64>> {
        let (rule, as_of) = (rule_arg(rule)?, as_of(as_of_us)?);
        self.run(py, move |crm| {
            let ids = crm.members_matching(&rule, as_of, after.map(CustomerId), limit)?;
            Ok(ids.into_iter().map(|id| id.0).collect())
        })
    }

    /// Whether one customer meets a rule, now or as of a time.
    #[pyo3(signature = (customer_id, rule, as_of_us=None))]
    fn matches(
        &self,
        py: Python<'_>,
        customer_id: i64,
        rule: &Bound<'_, PyAny>,
        as_of_us: Option<i64>,
    ) -> Result<bool> {
        let (rule, as_of) = (rule_arg(rule)?, as_of(as_of_us)?);
        self.run(py, move |crm| match as_of {
            None => Ok(crm.matches(CustomerId(customer_id), &rule)?),
            Some(_) => Ok(crm.matches_at(CustomerId(customer_id), &rule, as_of)?),
        })
    }
}
