//! The rule language: text to JSON tree and back, and ad-hoc rules checked, counted, listed
//! and tested for one customer. Rules given as a `rule` argument are text; records that hold
//! rules (segments, scoring plans, lifecycle and tier settings) take text or tree in JSON.

use std::ffi::c_char;

use crm_core::rule::{parse, Expr};
use crm_core::CustomerId;

use crate::convert::{as_of, clear_out, into_c_string, json_arg, out_ptr, text, write_ids, write_json_opt};
use crate::error::{crm_status, ffi_call, FfiResult};
use crate::handle::{crm_arg, crm_t};

/// Most customer ids one page call returns (the largest `limit` of `crm_rule_members` and
/// `crm_segment_members`).
pub const CRM_MAX_MEMBERS_PAGE: usize = 100_000;

/// Reads rule text (UTF-8, at most `CRM_MAX_STRING_LEN` bytes) and parses it; the argument
/// is always named `rule`, which is also the field of a parse error.
///
/// # Safety
/// As for [`text`].
pub(crate) unsafe fn rule_arg(p: *const c_char) -> FfiResult<Expr> {
    Ok(parse(text(p, "rule")?)?)
}

/// Checks the out-parameters of a page of ids; clears the count so that it never holds
/// garbage after a failure.
///
/// # Safety
/// `out_len` is NULL or valid for a write.
pub(crate) unsafe fn page_out(out_ids: *mut i64, out_len: *mut usize) -> FfiResult<(*mut i64, *mut usize)> {
    let out_len = out_ptr(out_len, "out_len")?;
    out_len.write(0);
    Ok((out_ptr(out_ids, "out_ids")?, out_len))
}

/// Parses rule text into its JSON tree (crm-core's `rule::Expr`), for example
/// `country = "SG"` to `{"op":"compare","left":{"kind":"field","name":"country"},"cmp":"=",
/// "right":{"kind":"literal","value":{"type":"text","value":"SG"}}}`. Only the syntax is
/// checked: fields, types and references are checked by `crm_rule_check`.
///
/// - `rule`: UTF-8 rule text, NUL-terminated, at most `CRM_MAX_STRING_LEN` bytes; borrowed.
/// - `out_json`: required; receives the tree (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`,
/// `CRM_ERR_PARSE` (line and column in `crm_last_error_position()`).
/// Thread safety: needs no handle; safe from any thread.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rule_parse(rule: *const c_char, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &rule_arg(rule)?)
    })
}

/// Prints a rule's JSON tree as canonical text; parsing that text gives the same tree back.
///
/// - `rule_json`: UTF-8 JSON of a tree, at most `CRM_MAX_JSON_LEN` bytes; borrowed.
/// - `out_text`: required; receives the text (NULL on failure). Free it with `crm_string_free`.
///
/// JSON Schema of `rule_json`: `include/schema/rule.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`,
/// `CRM_ERR_INVALID_JSON` (not a tree; field `rule_json`).
/// Thread safety: needs no handle; safe from any thread.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rule_format(rule_json: *const c_char, out_text: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_text, "out_text")?;
        clear_out(out);
        let tree: Expr = json_arg(rule_json, "rule_json")?;
        out.write(into_c_string(tree.to_string())?);
        Ok(())
    })
}

/// Checks a rule against the stored segments and scoring plans without evaluating it:
/// known fields, like compared with like, one currency per comparison, existing segments
/// and plans, no cycles.
///
/// - `rule`: UTF-8 rule text, NUL-terminated, at most `CRM_MAX_STRING_LEN` bytes; borrowed.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_PARSE`, `CRM_ERR_VALIDATION` (the field the rule misuses, or
/// `rule`), `CRM_ERR_NOT_FOUND` (an unknown segment or scoring plan), `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rule_check(crm: *const crm_t, rule: *const c_char) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        Ok(crm.check_rule(&rule_arg(rule)?)?)
    })
}

/// The number of customers meeting a rule, evaluated for every customer at once in the store.
///
/// - `rule`: as for `crm_rule_check`.
/// - `as_of_us`: the evaluation time (`now()` in the rule), microseconds since the Unix
///   epoch, or `CRM_NO_TIME` for now.
/// - `out_count`: required; written on success only.
///
/// Errors: those of `crm_rule_check`, and `CRM_ERR_VALIDATION` (field `as_of`) for a time out
/// of range. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rule_count(
    crm: *const crm_t,
    rule: *const c_char,
    as_of_us: i64,
    out_count: *mut i64,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_count, "out_count")?;
        let crm = crm_arg(crm)?;
        let rule = rule_arg(rule)?;
        out.write(crm.count_matching(&rule, as_of(as_of_us)?)?);
        Ok(())
    })
}

/// One page of the customers meeting a rule: their ids, ascending, strictly after `after_id`
/// (0 for the first page), at most `limit`. Fewer than `limit` means the last page; pass the
/// last id back as `after_id` for the next one.
///
/// - `rule`, `as_of_us`: as for `crm_rule_count`. For pages that agree with each other, pass
///   one fixed time rather than `CRM_NO_TIME`.
/// - `out_ids`: required; the caller's buffer with room for `limit` ids (1 to
///   `CRM_MAX_MEMBERS_PAGE`); nothing to free.
/// - `out_len`: required; receives the number of ids written (0 on failure).
///
/// Errors: those of `crm_rule_count`, and `CRM_ERR_VALIDATION` (field `limit`).
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use; `out_ids` has room for `limit` ids.
#[no_mangle]
pub unsafe extern "C" fn crm_rule_members(
    crm: *const crm_t,
    rule: *const c_char,
    as_of_us: i64,
    after_id: i64,
    out_ids: *mut i64,
    limit: usize,
    out_len: *mut usize,
) -> crm_status {
    ffi_call(|| {
        let (out_ids, out_len) = page_out(out_ids, out_len)?;
        let crm = crm_arg(crm)?;
        let rule = rule_arg(rule)?;
        let after = (after_id != 0).then_some(CustomerId(after_id));
        write_ids(&crm.members_matching(&rule, as_of(as_of_us)?, after, limit)?, out_ids, limit, out_len)
    })
}

/// Whether one customer meets a rule now, evaluated in memory for that customer alone (the
/// real-time check).
///
/// - `rule`: as for `crm_rule_check`.
/// - `out_matches`: required; written on success only.
///
/// Errors: those of `crm_rule_check`; `CRM_ERR_NOT_FOUND` for an unknown customer.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rule_matches(
    crm: *const crm_t,
    customer_id: i64,
    rule: *const c_char,
    out_matches: *mut bool,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_matches, "out_matches")?;
        let crm = crm_arg(crm)?;
        out.write(crm.matches(CustomerId(customer_id), &rule_arg(rule)?)?);
        Ok(())
    })
}

/// `crm_rule_matches` as of a time: `now()` in the rule is `as_of_us` (microseconds since the
/// Unix epoch, or `CRM_NO_TIME` for now).
///
/// Errors: those of `crm_rule_matches`, and `CRM_ERR_VALIDATION` (field `as_of`).
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_rule_matches_at(
    crm: *const crm_t,
    customer_id: i64,
    rule: *const c_char,
    as_of_us: i64,
    out_matches: *mut bool,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_matches, "out_matches")?;
        let crm = crm_arg(crm)?;
        let rule = rule_arg(rule)?;
        out.write(crm.matches_at(CustomerId(customer_id), &rule, as_of(as_of_us)?)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::crm_status::*;

    #[test]
    fn the_page_limit_is_the_cores() {
        assert_eq!(CRM_MAX_MEMBERS_PAGE, crm_core::segment::MAX_MEMBERS_PAGE);
    }

    #[test]
    fn text_and_tree_round_trip() {
        unsafe {
            let mut json = std::ptr::null_mut();
            assert_eq!(crm_rule_parse(c"country  =  \"SG\"".as_ptr(), &mut json), CRM_OK);
            let mut text = std::ptr::null_mut();
            assert_eq!(crm_rule_format(json, &mut text), CRM_OK);
            assert_eq!(std::ffi::CStr::from_ptr(text).to_str().unwrap(), "country = \"SG\"");
            crate::memory::crm_string_free(json);
            crate::memory::crm_string_free(text);
            assert_eq!(crm_rule_parse(c"country =".as_ptr(), &mut json), CRM_ERR_PARSE);
            assert!(json.is_null());
        }
    }
}
