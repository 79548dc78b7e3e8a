//! JSON documents in: the one place where serde's errors become crm's, for the bindings
//! (records and options as JSON text), JSON Lines ingest and the JSON forms of settings.
//!
//! A document of the wrong shape is reported at the path of the value at fault
//! (`items[2].quantity`), with serde's reason and nothing else:
//!
//! * no position (`at line 1 column 103`) when a path names the value: the path is what the
//!   reader needs, and the JSON is often not the reader's own (the Python package writes it
//!   from a dict);
//! * no repeat of the value's own error prefix: a currency that refuses `"XYZ"` says
//!   `invalid currency: ...`, which the path `currency` already says.
//!
//! Malformed text (a syntax error, an early end) has no path; its position stays, as the
//! only way to find the fault, given as `at column C` for a one-line document.
//!
//! ```
//! use crm_core::{json, NewOrder};
//! let e = json::parse::<NewOrder>(r#"{"external_id": "O-1", "customer_id": 1,
//!     "occurred_at": "2026-01-01T00:00:00Z", "currency": "XYZ", "total_minor": 5}"#).unwrap_err();
//! assert_eq!(e.path.as_deref(), Some("currency"));
//! assert!(!e.reason.contains("invalid currency") && !e.reason.contains("line"), "{e}");
//! let v = e.into_error("order");
//! assert_eq!(v.field(), Some("currency"));
//!
//! let syntax = json::parse::<NewOrder>(r#"{"external_id": "O-1","#).unwrap_err();
//! assert_eq!(syntax.path, None);
//! assert!(syntax.reason.ends_with("at column 22"), "{syntax}");
//! assert_eq!(syntax.into_error("order").field(), Some("order"));
//! ```

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::Error;

/// Why a JSON document could not be read as the expected type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// The path of the value at fault (`currency`, `items[2].quantity`, `rules[0].when`);
    /// `None` when the document as a whole is at fault (malformed text, not an object).
    pub path: Option<String>,
    /// What is wrong there.
    pub reason: String,
}

impl JsonError {
    /// The error as a [`Error::Validation`] on the path, or on `document` (the name of the
    /// whole document, such as `record` or `program`) when there is no path.
    pub fn into_error(self, document: &str) -> Error {
        // Through the one constructor that cuts a long reason (serde quotes the whole value).
        Error::validation(self.path.unwrap_or_else(|| document.to_owned()), self.reason)
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{p}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for JsonError {}

/// Deepest nesting of JSON arrays and objects read anywhere (serde_json's own limit):
/// deeper input is refused with this limit named, before it is read.
pub const MAX_JSON_DEPTH: usize = 127;

/// Checks that JSON text nests arrays and objects at most [`MAX_JSON_DEPTH`] deep. One pass
/// over the bytes, without recursion, so any input is safe. Text that is not JSON passes: the
/// parser reports it.
///
/// ```
/// use crm_core::json::{check_depth, MAX_JSON_DEPTH};
/// assert!(check_depth(&format!("{}{}", "[".repeat(MAX_JSON_DEPTH), "]".repeat(MAX_JSON_DEPTH))).is_ok());
/// let e = check_depth(&format!("{}{}", "[".repeat(5_000), "]".repeat(5_000))).unwrap_err();
/// assert!(e.reason.contains("127"), "{e}");
/// ```
pub fn check_depth(text: &str) -> Result<(), JsonError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(too_deep());
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The error for JSON nested deeper than [`MAX_JSON_DEPTH`] (also for a binding whose own
/// encoder found it first).
pub fn too_deep() -> JsonError {
    JsonError { path: None, reason: format!("JSON nested deeper than {MAX_JSON_DEPTH} levels") }
}

/// Parses a JSON document into `T`, locating a fault by path (see the module docs); JSON
/// nested deeper than [`MAX_JSON_DEPTH`] is refused first.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    check_depth(text)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| short(located(e)))?;
    // One document: text after it (a second object, garbage) is refused, not ignored.
    de.end().map_err(|e| JsonError {
        path: None,
        reason: format!("text after the JSON document at column {}", e.column()),
    })?;
    Ok(value)
}

/// [`parse`] of a record: the document must be a JSON object (serde would also read a struct
/// from an array of its fields in order, which no caller means).
pub fn parse_object<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    check_depth(text)?;
    match text.trim_start().as_bytes().first() {
        Some(b'{') | None => parse(text),
        Some(_) => Err(JsonError { path: None, reason: "expected a JSON object".to_owned() }),
    }
}

/// A reason cut short: serde quotes a wrong value whole, and it may be a megabyte.
fn short(mut e: JsonError) -> JsonError {
    e.reason = crate::error::clip(&e.reason, crate::error::MAX_PART_BYTES).into_owned();
    e
}

/// The path and reason of serde's error (see the module docs).
fn located(e: serde_path_to_error::Error<serde_json::Error>) -> JsonError {
    {
        let path = e.path().to_string();
        let e = e.into_inner();
        let message = e.to_string();
        let located = format!(" at line {} column {}", e.line(), e.column());
        let bare = message.strip_suffix(&located).unwrap_or(&message);
        match e.classify() {
            Category::Data if path != "." => {
                let (path, reason) = without_own_prefix(&path, bare);
                JsonError { path: Some(path), reason }
            }
            Category::Data | Category::Io => JsonError { path: None, reason: bare.to_owned() },
            Category::Syntax | Category::Eof if e.line() == 1 => {
                JsonError { path: None, reason: format!("{bare} at column {}", e.column()) }
            }
            Category::Syntax | Category::Eof => JsonError { path: None, reason: message },
        }
    }
}

/// The path and reason of a value's own error: a core type that refuses a value says
/// `invalid <field>: <reason>` (its [`Error::Validation`] text); when `<field>` is the path's
/// last part, or refines it (`grid[2]` under `grid`), the prefix would only repeat the path.
fn without_own_prefix(path: &str, message: &str) -> (String, String) {
    let last = path.rsplit('.').next().unwrap_or(path);
    let own = message.strip_prefix("invalid ").and_then(|m| m.split_once(": "));
    match own {
        Some((field, reason))
            if field == last || field.starts_with(&format!("{last}[")) || field.starts_with(&format!("{last}.")) =>
        {
            (format!("{}{field}", &path[..path.len() - last.len()]), reason.to_owned())
        }
        _ => (path.to_owned(), message.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_object_and_nothing_after_it() {
        let ok = r#"{"external_id": "C-1", "name": "Ada"}"#;
        assert!(parse_object::<NewCustomer>(ok).is_ok());
        for bad in [
            format!("{ok} trailing garbage"),
            format!("{ok}{ok}"),
            r#"["C-1", null, "Ada"]"#.to_owned(),
            "42".to_owned(),
        ] {
            let e = parse_object::<NewCustomer>(&bad).unwrap_err();
            assert_eq!(e.path, None, "{bad}: {e}");
            assert!(e.reason.contains("after the JSON document") || e.reason.contains("expected a JSON object"), "{e}");
        }
        assert!(parse::<NewCustomer>(&format!("{ok}  \n")).is_ok(), "white space after it is fine");
    }
    use crate::{NewCustomer, NewOrder};

    /// An order as JSON with `key` set to `value` (JSON text).
    fn order(key: &str, value: &str) -> String {
        let mut o = serde_json::json!({"external_id": "O-1", "customer_id": 1,
            "occurred_at": "2026-01-01T00:00:00Z", "currency": "USD", "total_minor": 5});
        o[key] = serde_json::from_str(value).unwrap();
        o.to_string()
    }

    #[test]
    fn data_errors_name_the_path_once_and_quote_no_position() {
        for (text, path, needle) in [
            (order("currency", r#""XYZ""#), "currency", "XYZ"),
            (order("total_minor", r#""five""#), "total_minor", "invalid type: string \"five\""),
            (order("colour", "1"), "colour", "unknown field `colour`"),
            (
                order("items", r#"[{"sku": "A", "quantity": "x", "unit_price_minor": 1}]"#),
                "items[0].quantity",
                "string",
            ),
            (order("status", r#""lost""#), "status", "unknown variant `lost`"),
        ] {
            let e = parse::<NewOrder>(&text).unwrap_err();
            assert_eq!(e.path.as_deref(), Some(path), "{e}");
            assert!(e.reason.contains(needle), "{e}");
            assert!(!e.reason.contains("line") && !e.reason.contains("column"), "{e}");
            let v = e.into_error("order");
            assert_eq!(v.field(), Some(path));
            let shown = v.to_string();
            assert_eq!(shown.matches(&format!("invalid {path}")).count(), 1, "{shown}");
        }
        let e = parse::<NewOrder>(r#"{"customer_id": 1}"#).unwrap_err();
        assert_eq!((e.path, e.reason.contains("missing field")), (None, true));
        let e = parse::<NewCustomer>("5").unwrap_err();
        assert_eq!(e.path, None, "{}", e.reason);
        assert!(!e.reason.contains("line"), "{}", e.reason);
    }

    #[test]
    fn syntax_errors_keep_their_position() {
        let e = parse::<NewCustomer>(r#"{"name": "A",, }"#).unwrap_err();
        assert_eq!(e.path, None);
        assert!(e.reason.ends_with("at column 14"), "{e}");
        let e = parse::<NewCustomer>("{\n\"name\": \"A\",\n}").unwrap_err();
        assert!(e.reason.ends_with("at line 3 column 1"), "{e}");
        assert_eq!(e.clone().into_error("record").field(), Some("record"));
    }

    #[test]
    fn a_prefix_is_dropped_only_when_it_repeats_the_path() {
        let same = |p: &str, m: &str| without_own_prefix(p, m);
        assert_eq!(same("currency", "invalid currency: bad"), ("currency".into(), "bad".into()));
        assert_eq!(same("total.currency", "invalid currency: bad"), ("total.currency".into(), "bad".into()));
        assert_eq!(same("config.grid", "invalid grid[2]: bad"), ("config.grid[2]".into(), "bad".into()));
        assert_eq!(same("name", "invalid type: integer `5`"), ("name".into(), "invalid type: integer `5`".into()));
        assert_eq!(same("as_of", "invalid currency: x"), ("as_of".into(), "invalid currency: x".into()));
    }

    #[test]
    fn json_lines_ingest_names_the_field() {
        let lines = format!("{}\n{}\n{{\"external_id\": \n", order("currency", r#""XYZ""#), order("colour", "1"));
        let rows: Vec<_> =
            crate::ingest::read::<NewOrder>(std::io::Cursor::new(lines), crate::ingest::Format::JsonLines, false)
                .unwrap()
                .map(|(_, r)| r.unwrap_err())
                .collect();
        assert_eq!((rows[0].row, rows[0].field.as_deref()), (1, Some("currency")));
        assert!(!rows[0].reason.contains("invalid currency") && !rows[0].reason.contains("line"), "{:?}", rows[0]);
        assert_eq!((rows[1].row, rows[1].field.as_deref()), (2, Some("colour")));
        assert_eq!((rows[2].row, rows[2].field.as_deref()), (3, None));
        assert!(
            rows[2].reason.starts_with("invalid JSON record: ") && rows[2].reason.contains("at column"),
            "{:?}",
            rows[2]
        );
    }
}
