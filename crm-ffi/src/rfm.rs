//! RFM: compute (the whole table as JSON), refresh and read the stored model, read or score
//! one customer (JSON and typed), and segment sizes. The rules (population, tie rule, grid)
//! are crm-core's `segment::rfm`; this module converts arguments, results and errors.

use std::ffi::c_char;

use crm_core::segment::rfm::{RfmConfig, RfmScore};
use crm_core::CustomerId;
use serde::Serialize;

use crate::convert::{clear_out, out_ptr, str_arg, time_from_micros, write_json_opt, CRM_MAX_JSON_LEN, CRM_NO_TIME};
use crate::error::{crm_status, crm_status::*, ffi_call, FfiError, FfiResult};
use crate::handle::{crm_arg, crm_t};

/// Size of `crm_rfm_customer.segment` in bytes: a segment name is at most 64 characters of
/// UTF-8 (at most 4 bytes each), plus the terminating NUL.
pub const CRM_RFM_SEGMENT_SIZE: usize = 257;

/// One customer's RFM values, scores and segment, typed (filled by `crm_rfm_of_typed` and
/// `crm_rfm_score_typed`). Plain data: nothing in it needs freeing.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct crm_rfm_customer {
    /// The customer.
    pub customer_id: i64,
    /// Whole days from the last completed order to the as-of time.
    pub recency_days: i64,
    /// Completed orders (any currency) up to the as-of time.
    pub frequency: i64,
    /// Completed spend in the model's currency, minor units.
    pub monetary_minor: i64,
    /// Recency score, 1 (longest ago) to 5 (most recent).
    pub r: u8,
    /// Frequency score, 1 to 5.
    pub f: u8,
    /// Monetary score, 1 to 5.
    pub m: u8,
    /// The named segment (`"Champions"`, `"At Risk"`, ...): UTF-8, NUL-terminated.
    pub segment: [c_char; CRM_RFM_SEGMENT_SIZE],
}

impl From<&RfmScore> for crm_rfm_customer {
    fn from(s: &RfmScore) -> crm_rfm_customer {
        let mut segment = [0 as c_char; CRM_RFM_SEGMENT_SIZE];
        // The core caps names at 64 characters, so this always fits; cut at a character
        // boundary all the same rather than write past the array.
        let name = s.segment.as_str();
        let mut n = name.len().min(CRM_RFM_SEGMENT_SIZE - 1);
        while !name.is_char_boundary(n) {
            n -= 1;
        }
        for (dst, src) in segment.iter_mut().zip(&name.as_bytes()[..n]) {
            *dst = *src as c_char;
        }
        crm_rfm_customer {
            customer_id: s.customer_id.0,
            recency_days: s.recency_days,
            frequency: s.frequency,
            monetary_minor: s.monetary_minor,
            r: s.r,
            f: s.f,
            m: s.m,
            segment,
        }
    }
}

/// The RFM configuration argument, read by the core so that a bad value names its field
/// (`currency`, `as_of`, `grid`, `grid[2][4]`). Text that is not JSON or does not have the
/// configuration's shape (the core's field `rfm_config`) is `CRM_ERR_INVALID_JSON` on the
/// argument, as for every other JSON argument.
///
/// # Safety
/// As for [`str_arg`].
unsafe fn config_arg(p: *const c_char) -> FfiResult<RfmConfig> {
    let text = str_arg(p, CRM_MAX_JSON_LEN, "config_json")?;
    RfmConfig::from_json(text).map_err(|e| match e {
        crm_core::Error::Validation { field, reason } if field == "rfm_config" => {
            FfiError::new(CRM_ERR_INVALID_JSON, format!("config_json: {reason}"), Some("config_json"))
        }
        other => other.into(),
    })
}

/// An as-of argument: `CRM_NO_TIME` (`INT64_MIN`) for now.
fn as_of_arg(us: i64) -> FfiResult<Option<chrono::DateTime<chrono::Utc>>> {
    (us != CRM_NO_TIME).then(|| time_from_micros(us, "as_of")).transpose()
}

/// Computes RFM values, scores and segment names for every member of the population (the
/// customers with completed spend in the configured currency) without storing anything.
///
/// - `config_json`: required; UTF-8 JSON, at most `CRM_MAX_JSON_LEN` bytes, borrowed for the
///   call: `{"currency":"USD","as_of":"2026-06-01T00:00:00Z","grid":[[...5 names...] x 5]}`;
///   `as_of` (RFC 3339; default now) and `grid` (5 rows from R = 5 down to R = 1 of 5 names
///   for FM = 1 to 5; default the standard grid) may be omitted. Unknown keys are an error.
/// - `out_json`: required; receives the table (NULL on failure):
///   `{"model":{"config":{...},"as_of":"...","source":"stats"|"orders","population":N,
///   "boundaries":{"recency_days":[4 values or null],"frequency":[...],"monetary_minor":[...]},
///   "computed_at":"..."},"scores":[{"customer_id":1,"recency_days":3,"frequency":9,
///   "monetary_minor":90000,"r":5,"f":4,"m":5,"segment":"Champions"},...]}`, scores by
///   customer id. For a large population this string is large (about 120 bytes a member).
///   Free it with `crm_string_free`.
///
/// JSON Schema of `config_json`: `include/schema/rfm_config.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (not JSON, a missing `currency`, an unknown
/// key or a value of the wrong type; field `config_json`), `CRM_ERR_VALIDATION` (field
/// `currency` for an unknown code, `as_of` before 1970 or more than 366 days ahead, `grid`,
/// `grid[i]` or `grid[i][j]` for a grid of the wrong size or a blank or over-long name),
/// `CRM_ERR_STORAGE`. Reads only. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rfm_compute(
    crm: *const crm_t,
    config_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let config = config_arg(config_json)?;
        write_json_opt(out, &crm.compute_rfm(&config)?)
    })
}

/// Computes RFM as `crm_rfm_compute` does and stores it in one transaction: every stored
/// score is replaced (customers no longer in the population lose theirs) and the model is
/// kept for `crm_rfm_score`, `crm_rfm_of` and the rule language's `rfm.*` fields.
///
/// - `config_json`: required; as for `crm_rfm_compute`.
/// - `out_model_json`: may be NULL; receives the stored model, the `"model"` object of
///   `crm_rfm_compute` (NULL on failure). Free it with `crm_string_free`.
///
/// JSON Schema of `config_json`: `include/schema/rfm_config.json`.
///
/// Errors: as for `crm_rfm_compute`. Nothing is written on failure. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rfm_refresh(
    crm: *const crm_t,
    config_json: *const c_char,
    out_model_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_model_json);
        let crm = crm_arg(crm)?;
        let config = config_arg(config_json)?;
        write_json_opt(out_model_json, &crm.refresh_rfm(&config)?)
    })
}

/// The model stored by the last `crm_rfm_refresh`.
///
/// - `out_json`: required; receives the model as in `crm_rfm_refresh`, or the JSON text
///   `null` when no model was stored yet (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_VALIDATION` (field
/// `rfm_model`: the stored model cannot be read), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rfm_model(crm: *const crm_t, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.rfm_model()?)
    })
}

/// A customer's score as stored by the last `crm_rfm_refresh`.
///
/// - `out_json`: required; receives one score as in `crm_rfm_compute`'s `"scores"`, or the
///   JSON text `null` when the customer was not in the stored model's population (or no model
///   was stored) (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND` (no such
/// customer), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rfm_of(crm: *const crm_t, customer_id: i64, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.rfm_of(CustomerId(customer_id))?)
    })
}

/// `crm_rfm_of`, typed: the hot path for a host reading a customer's stored score.
///
/// - `out`: required; written when `*out_found` is true, left alone otherwise.
/// - `out_found`: required; true when the customer has a stored score, false when the
///   customer exists but was not in the stored model's population (or no model was stored).
///
/// Errors: as for `crm_rfm_of`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rfm_of_typed(
    crm: *const crm_t,
    customer_id: i64,
    out: *mut crm_rfm_customer,
    out_found: *mut bool,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out, "out")?;
        let found = out_ptr(out_found, "out_found")?;
        found.write(false);
        write_typed(out, found, crm_arg(crm)?.rfm_of(CustomerId(customer_id))?);
        Ok(())
    })
}

/// Scores one customer against the stored model's boundaries and grid, from the customer's
/// own statistics (its orders, when `as_of_us` is earlier than its last completed order),
/// without reading anyone else: in the model's currency, with recency counted to `as_of_us`.
/// For a member of the stored population, scoring as of the model's as-of time gives exactly
/// its stored score.
///
/// - `as_of_us`: microseconds since the Unix epoch (UTC), or `INT64_MIN` for now.
/// - `out_json`: required; receives one score as in `crm_rfm_compute`'s `"scores"`, or the
///   JSON text `null` when the customer has no completed spend in the model's currency (NULL
///   on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND` (no such
/// customer), `CRM_ERR_VALIDATION` (field `rfm_model` when no model was stored yet: call
/// `crm_rfm_refresh` first; field `as_of` for a time before 1970 or more than 366 days ahead),
/// `CRM_ERR_STORAGE`. Reads only. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rfm_score(
    crm: *const crm_t,
    customer_id: i64,
    as_of_us: i64,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        write_json_opt(out, &crm.score_rfm(CustomerId(customer_id), as_of_arg(as_of_us)?)?)
    })
}

/// `crm_rfm_score`, typed: the hot path for a host scoring a customer as orders arrive.
///
/// - `out`: required; written when `*out_found` is true, left alone otherwise.
/// - `out_found`: required; true when the customer was scored, false when it has no
///   completed spend in the model's currency.
///
/// Errors: as for `crm_rfm_score`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rfm_score_typed(
    crm: *const crm_t,
    customer_id: i64,
    as_of_us: i64,
    out: *mut crm_rfm_customer,
    out_found: *mut bool,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out, "out")?;
        let found = out_ptr(out_found, "out_found")?;
        found.write(false);
        let crm = crm_arg(crm)?;
        write_typed(out, found, crm.score_rfm(CustomerId(customer_id), as_of_arg(as_of_us)?)?);
        Ok(())
    })
}

/// Writes a typed score, if any, and whether there was one.
///
/// # Safety
/// Both pointers are valid for writes.
unsafe fn write_typed(out: *mut crm_rfm_customer, found: *mut bool, score: Option<RfmScore>) {
    if let Some(s) = score {
        out.write((&s).into());
        found.write(true);
    }
}

#[derive(Serialize)]
struct SegmentSize {
    segment: String,
    members: u64,
}

/// Members per named segment of the stored scores.
///
/// - `out_json`: required; receives `[{"segment":"New Customers","members":0},...]`: every
///   name of the stored model's grid in reading order (from R = 5, FM = 1), zero where nobody
///   falls, then any other stored name; `[]` when no model was stored yet (NULL on failure).
///   Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_VALIDATION` (field
/// `rfm_model`: the stored model cannot be read), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rfm_segment_sizes(crm: *const crm_t, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let sizes: Vec<SegmentSize> = crm_arg(crm)?
            .rfm_segment_sizes()?
            .into_iter()
            .map(|(segment, members)| SegmentSize { segment, members })
            .collect();
        write_json_opt(out, &sizes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::segment::rfm::MAX_SEGMENT_NAME_CHARS;
    use std::ffi::CStr;

    #[test]
    fn the_segment_array_holds_the_longest_name() {
        assert_eq!(CRM_RFM_SEGMENT_SIZE, MAX_SEGMENT_NAME_CHARS * 4 + 1);
        let longest = "\u{1F600}".repeat(MAX_SEGMENT_NAME_CHARS);
        let s = RfmScore {
            customer_id: CustomerId(1),
            recency_days: 0,
            frequency: 1,
            monetary_minor: 1,
            r: 1,
            f: 1,
            m: 1,
            segment: longest.clone(),
        };
        let typed = crm_rfm_customer::from(&s);
        let back = unsafe { CStr::from_ptr(typed.segment.as_ptr()) };
        assert_eq!(back.to_str().unwrap(), longest);
    }

    #[test]
    fn config_errors_name_the_argument_or_the_field() {
        let e = unsafe { config_arg(c"{\"currency\":".as_ptr()) }.unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (CRM_ERR_INVALID_JSON, Some("config_json")));
        let e = unsafe { config_arg(c"{\"currency\":\"USD\",\"colour\":1}".as_ptr()) }.unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (CRM_ERR_INVALID_JSON, Some("config_json")));
        let e = unsafe { config_arg(c"{\"currency\":\"XYZ\"}".as_ptr()) }.unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (CRM_ERR_VALIDATION, Some("currency")));
        let e = unsafe { config_arg(c"{\"currency\":\"USD\",\"grid\":[]}".as_ptr()) }.unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (CRM_ERR_VALIDATION, Some("grid")));
        assert_eq!(as_of_arg(CRM_NO_TIME).unwrap(), None);
        assert_eq!(as_of_arg(i64::MAX).unwrap_err().field.as_deref(), Some("as_of"));
    }
}
