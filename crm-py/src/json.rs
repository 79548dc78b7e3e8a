//! Records cross the boundary as JSON text in the core's serde shape: one format for every
//! record type, decoded on the Python side by the C-accelerated `json` module.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Result;

/// Parses a record, naming the offending field path when the shape is wrong (and the
/// nesting limit, the core's, when it nests too deep).
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T> {
    crm_core::rule::check_json_depth(text, "record")?;
    let de = &mut serde_json::Deserializer::from_str(text);
    Ok(serde_path_to_error::deserialize(de)?)
}

/// Serialises a record.
pub fn dump<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("core records serialise to JSON")
}
