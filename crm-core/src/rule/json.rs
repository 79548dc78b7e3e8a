//! Reading the JSON form of a rule, or of a record holding rules, within the crate's limits:
//! nesting deeper than [`MAX_JSON_DEPTH`] is refused with the crate's error naming the limit,
//! before serde_json (whose own limit is the same) or a binding's encoder sees it.

use super::ast::{Expr, MAX_DEPTH, MAX_JSON_DEPTH};
use crate::error::{Error, Result};

/// Checks that JSON text nests arrays and objects at most [`MAX_JSON_DEPTH`] deep; `field`
/// names the argument in the error. One pass over the bytes, without recursion, so any input
/// is safe. Text that is not JSON passes: the parser reports it.
///
/// ```
/// use crm_core::rule::{check_json_depth, MAX_JSON_DEPTH};
/// assert!(check_json_depth(&format!("{}{}", "[".repeat(MAX_JSON_DEPTH), "]".repeat(MAX_JSON_DEPTH)), "rule").is_ok());
/// let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
/// let e = check_json_depth(&deep, "rule").unwrap_err();
/// assert_eq!(e.field(), Some("rule"));
/// ```
pub fn check_json_depth(text: &str, field: &str) -> Result<()> {
    crate::json::check_depth(text).map_err(|_| too_deep(field))
}

/// The error for JSON nested deeper than [`MAX_JSON_DEPTH`] (also for a binding whose own
/// encoder found it first).
pub fn json_too_deep(field: &str) -> Error {
    too_deep(field)
}

fn too_deep(field: &str) -> Error {
    Error::validation(
        field,
        format!(
            "JSON nested deeper than {MAX_JSON_DEPTH} levels (a rule nests at most {MAX_DEPTH} levels of conditions \
             and values)"
        ),
    )
}

impl Expr {
    /// Reads a rule's JSON tree: [`Error::Validation`] on `rule` for nesting deeper than
    /// [`MAX_JSON_DEPTH`] or a wrong shape. Meaning (fields, types, limits) is checked later
    /// by [`check`](super::check).
    ///
    /// ```
    /// use crm_core::rule::{parse, Expr};
    /// let e = parse(r#"country = "SG""#)?;
    /// assert_eq!(Expr::from_json(&serde_json::to_string(&e).unwrap())?, e);
    /// let deep = format!("{}true{}", r#"{"op": "not", "arg": "#.repeat(5_000), "}".repeat(5_000));
    /// assert_eq!(Expr::from_json(&deep).unwrap_err().field(), Some("rule"));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Expr> {
        check_json_depth(text, "rule")?;
        crate::json::parse(text).map_err(|e| e.into_error("rule"))
    }
}
