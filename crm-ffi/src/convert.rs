//! Conversions at the boundary: C strings in (NULL, length and UTF-8 checks), JSON in and
//! out, times, id arrays, and writes through out-parameters.

use std::ffi::{c_char, CString};

use chrono::{DateTime, Utc};
use crm_core::CustomerId;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{crm_status::*, FfiError, FfiResult};

/// Longest JSON input accepted, in bytes (64 MiB), not counting the terminating NUL.
pub const CRM_MAX_JSON_LEN: usize = 64 * 1024 * 1024;

/// Longest non-JSON string input accepted (ids, paths, currency codes, search text), in bytes
/// (1 MiB), not counting the terminating NUL. The core applies its own, tighter, field limits.
pub const CRM_MAX_STRING_LEN: usize = 1024 * 1024;

/// "No time" in the typed structs: `INT64_MIN`.
pub const CRM_NO_TIME: i64 = i64::MIN;

/// Reads a NUL-terminated UTF-8 string of at most `max` bytes. The scan stops after `max`
/// bytes, so an unterminated buffer is reported as too long instead of read without end.
///
/// # Safety
/// `p` is NULL or points to readable memory up to its NUL or `max + 1` bytes, whichever is first.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, max: usize, arg: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(FfiError::null(arg));
    }
    let bytes = p.cast::<u8>();
    let mut len = 0usize;
    while *bytes.add(len) != 0 {
        if len == max {
            return Err(FfiError::new(
                CRM_ERR_TOO_LONG,
                format!("{arg} is longer than {max} bytes (or not NUL-terminated)"),
                Some(arg),
            ));
        }
        len += 1;
    }
    let slice = std::slice::from_raw_parts(bytes, len);
    std::str::from_utf8(slice)
        .map_err(|e| FfiError::new(CRM_ERR_INVALID_UTF8, format!("{arg} is not valid UTF-8 ({e})"), Some(arg)))
}

/// Like [`str_arg`], but NULL means `None`.
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, max: usize, arg: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        str_arg(p, max, arg).map(Some)
    }
}

/// Like [`opt_str_arg`] with [`CRM_MAX_STRING_LEN`], copied.
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn owned_opt(p: *const c_char, arg: &str) -> FfiResult<Option<String>> {
    opt_str_arg(p, CRM_MAX_STRING_LEN, arg).map(|s| s.map(str::to_owned))
}

/// A short string argument (at most [`CRM_MAX_STRING_LEN`]).
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn text<'a>(p: *const c_char, arg: &str) -> FfiResult<&'a str> {
    str_arg(p, CRM_MAX_STRING_LEN, arg)
}

/// Parses a JSON argument (at most [`CRM_MAX_JSON_LEN`]) into `T`, with the core's
/// messages: the path of the value at fault, no position unless the text is malformed.
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn json_arg<T: DeserializeOwned>(p: *const c_char, arg: &str) -> FfiResult<T> {
    let s = str_arg(p, CRM_MAX_JSON_LEN, arg)?;
    // Nesting beyond the limit is the core's validation error, naming it.
    crm_core::rule::check_json_depth(s, arg)?;
    crm_core::json::parse_object(s).map_err(|e| FfiError::json(arg, &e))
}

/// An optional JSON argument: NULL is `T`'s default, anything else as [`json_arg`].
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn opt_json_arg<T: DeserializeOwned + Default>(p: *const c_char, arg: &str) -> FfiResult<T> {
    if p.is_null() {
        Ok(T::default())
    } else {
        json_arg(p, arg)
    }
}

/// Checks that a required out-parameter is not NULL.
pub(crate) fn out_ptr<T>(p: *mut T, arg: &str) -> FfiResult<*mut T> {
    if p.is_null() {
        Err(FfiError::null(arg))
    } else {
        Ok(p)
    }
}

/// Writes `v` through an optional out-parameter (NULL: the caller does not want it).
///
/// # Safety
/// `p` is NULL or valid for a write of `T`.
pub(crate) unsafe fn write_opt<T>(p: *mut T, v: T) {
    if !p.is_null() {
        p.write(v);
    }
}

/// Hands a Rust string to C; freed with `crm_string_free`.
pub(crate) fn into_c_string(s: String) -> FfiResult<*mut c_char> {
    CString::new(s)
        .map(CString::into_raw)
        .map_err(|_| FfiError::new(CRM_ERR_INTERNAL, "output contained a NUL byte", None))
}

/// Serialises `v` as JSON and hands it to C; freed with `crm_string_free`.
pub(crate) fn to_c_json<T: Serialize + ?Sized>(v: &T) -> FfiResult<*mut c_char> {
    let s = serde_json::to_string(v)
        .map_err(|e| FfiError::new(CRM_ERR_INTERNAL, format!("cannot serialise the result: {e}"), None))?;
    into_c_string(s)
}

/// Serialises `v` into an optional `char **` out-parameter.
///
/// # Safety
/// `out` is NULL or valid for a write of a pointer.
pub(crate) unsafe fn write_json_opt<T: Serialize + ?Sized>(out: *mut *mut c_char, v: &T) -> FfiResult<()> {
    if !out.is_null() {
        out.write(to_c_json(v)?);
    }
    Ok(())
}

/// Clears an optional `char **` out-parameter, so that it never holds garbage after a failure.
///
/// # Safety
/// `out` is NULL or valid for a write of a pointer.
pub(crate) unsafe fn clear_out(out: *mut *mut c_char) {
    write_opt(out, std::ptr::null_mut());
}

/// Microseconds since the epoch to a time; `field` names the input for the error.
pub(crate) fn time_from_micros(us: i64, field: &str) -> FfiResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| {
        FfiError::new(
            CRM_ERR_VALIDATION,
            format!("invalid {field}: {us} µs is outside the representable range"),
            Some(field),
        )
    })
}

/// An optional evaluation time: `CRM_NO_TIME` means now (`None`), anything else microseconds
/// since the epoch, checked as for [`time_from_micros`] on field `as_of`.
pub(crate) fn as_of(us: i64) -> FfiResult<Option<DateTime<Utc>>> {
    if us == CRM_NO_TIME {
        Ok(None)
    } else {
        time_from_micros(us, "as_of").map(Some)
    }
}

/// `n` customer ids from a caller's array (which may be NULL when `n` is 0).
///
/// # Safety
/// `p` is NULL or points to `n` readable `int64_t`.
pub(crate) unsafe fn ids_arg(p: *const i64, n: usize, arg: &str) -> FfiResult<Vec<CustomerId>> {
    match (p.is_null(), n) {
        (_, 0) => Ok(Vec::new()),
        (true, _) => Err(FfiError::null(arg)),
        (false, n) => Ok(std::slice::from_raw_parts(p, n).iter().map(|id| CustomerId(*id)).collect()),
    }
}

/// A page of ids into a caller's buffer of room `limit` (the core never returns more than
/// the limit it was given), and the count into `out_len`.
///
/// # Safety
/// `out` is valid for writes of `limit` `int64_t`; `out_len` is valid for a write.
pub(crate) unsafe fn write_ids(ids: &[CustomerId], out: *mut i64, limit: usize, out_len: *mut usize) -> FfiResult<()> {
    if ids.len() > limit {
        return Err(FfiError::new(CRM_ERR_INTERNAL, format!("{} ids for a buffer of {limit}", ids.len()), None));
    }
    for (i, id) in ids.iter().enumerate() {
        out.add(i).write(id.0);
    }
    out_len.write(ids.len());
    Ok(())
}

/// A time to microseconds since the epoch, `CRM_NO_TIME` for none.
pub(crate) fn micros(t: Option<DateTime<Utc>>) -> i64 {
    t.map_or(CRM_NO_TIME, |t| t.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_arguments_are_checked() {
        unsafe {
            assert_eq!(str_arg(std::ptr::null(), 10, "x").unwrap_err().status, CRM_ERR_NULL_ARGUMENT);
            assert_eq!(str_arg(c"héllo".as_ptr(), 10, "x").unwrap(), "héllo");
            assert_eq!(str_arg(c"hello".as_ptr(), 5, "x").unwrap(), "hello");
            assert_eq!(str_arg(c"hello!".as_ptr(), 5, "x").unwrap_err().status, CRM_ERR_TOO_LONG);
            let bad = [0xffu8, 0xfe, 0];
            let e = str_arg(bad.as_ptr().cast(), 10, "name").unwrap_err();
            assert_eq!((e.status, e.field.as_deref()), (CRM_ERR_INVALID_UTF8, Some("name")));
            assert_eq!(opt_str_arg(std::ptr::null(), 10, "x").unwrap(), None);
        }
    }

    #[test]
    fn times_convert_both_ways() {
        let t = time_from_micros(1_700_000_000_123_456, "at").unwrap();
        assert_eq!(micros(Some(t)), 1_700_000_000_123_456);
        assert_eq!(micros(None), i64::MIN);
        assert_eq!(time_from_micros(i64::MAX, "at").unwrap_err().status, CRM_ERR_VALIDATION);
    }
}
