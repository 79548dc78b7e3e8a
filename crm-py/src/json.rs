//! Records cross the boundary as JSON text in the core's serde shape: one format for every
//! record type, decoded on the Python side by the C-accelerated `json` module.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Result;

/// Parses a record with the core's errors: a `ValidationError` on the path of the value at
/// fault (`record` when the document as a whole is, or nests deeper than the core's limit),
/// without JSON positions, since the package wrote the JSON, not its user.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T> {
    crm_core::rule::check_json_depth(text, "record")?;
    crm_core::json::parse_object(text).map_err(|e| e.into_error("record").into())
}

/// Serialises a record.
pub fn dump<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("core records serialise to JSON")
}
