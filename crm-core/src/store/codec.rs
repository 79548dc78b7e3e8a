//! How every store writes the model's values into columns, engine-neutral: times as integer
//! microseconds since the epoch (UTC), unit enums as their serde names, JSON values as text.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A time as stored: microseconds since the epoch, UTC.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A stored time.
pub(crate) fn time(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(v).unwrap_or_default()
}

/// A stored optional time.
pub(crate) fn opt_time(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.map(time)
}

/// A unit enum variant as stored: its serde name.
pub(crate) fn enum_str<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => unreachable!("unit enum variants serialise as strings"),
    }
}

/// A unit enum variant from its stored serde name.
pub(crate) fn enum_parse<T: DeserializeOwned>(s: String) -> serde_json::Result<T> {
    serde_json::from_value(serde_json::Value::String(s))
}

/// A value as stored JSON text.
pub(crate) fn json(v: &impl Serialize) -> String {
    serde_json::to_string(v).expect("in-memory values serialise")
}

/// The lot columns of a ledger entry's row (`remaining, available_at, expires_at`): all
/// NULL for an entry that forms no lot.
pub(crate) fn lot_columns(lot: Option<&crate::loyalty::LotTerms>) -> (Option<i64>, Option<i64>, Option<i64>) {
    match lot {
        Some(l) => (Some(l.remaining), Some(micros(l.available_at)), l.expires_at.map(micros)),
        None => (None, None, None),
    }
}
