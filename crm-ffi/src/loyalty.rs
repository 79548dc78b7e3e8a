//! Loyalty: the program as JSON (or TOML), typed hot paths for earning, redeeming and the
//! balance, and the statement as JSON.

use std::ffi::c_char;

use crm_core::loyalty::{Posted, Program};
use crm_core::CustomerId;

use crate::convert::{as_of, clear_out, out_ptr, text, write_json_opt, write_opt};
use crate::error::{crm_status, ffi_call};
use crate::handle::{crm_arg, crm_t};

/// Sets (or replaces) the loyalty program, validated first; from then on recorded orders
/// earn points in the transaction that writes them.
///
/// - `program`: UTF-8, NUL-terminated, borrowed for the call: JSON, or TOML when
///   `is_toml` is true (crm-core's `loyalty::Program`).
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (field `program` for a malformed document,
/// otherwise the offending field: `rates.USD.points`, `rules[1].caps.per_day`,
/// `rules[0].when.shoe_size`, `tiers.levels[1].min`, ...), `CRM_ERR_STORAGE`. Nothing is
/// written on failure. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_loyalty_program_set(
    crm: *const crm_t,
    program: *const c_char,
    is_toml: bool,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let doc = text(program, "program")?;
        let p = if is_toml { Program::from_toml(doc)? } else { Program::from_json(doc)? };
        Ok(crm.set_loyalty_program(&p)?)
    })
}

/// The loyalty program as JSON.
///
/// - `out_json`: required; receives the program, or NULL when none is set. Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_loyalty_program_get(crm: *const crm_t, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        match crm_arg(crm)?.loyalty_program()? {
            Some(p) => write_json_opt(out, &p),
            None => Ok(()),
        }
    })
}

unsafe fn posted(p: Posted, out_balance: *mut i64, out_replayed: *mut bool) {
    write_opt(out_balance, p.entry.balance_after);
    write_opt(out_replayed, p.replayed);
}

/// Credits `points` (more than 0) to a customer as an earn entry forming a lot. The
/// `idempotency_key` makes retries harmless: the same key again returns the original
/// result and writes nothing.
///
/// - `idempotency_key`: UTF-8, NUL-terminated, 1 to 256 bytes; borrowed for the call.
/// - `at_us`: when it takes effect, microseconds since the epoch, or `CRM_NO_TIME` for now.
/// - `out_balance`: may be NULL; receives the balance right after the entry.
/// - `out_replayed`: may be NULL; receives whether the key was already in the ledger.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (`points`, `idempotency_key`, `as_of`),
/// `CRM_ERR_NOT_FOUND` (customer), `CRM_ERR_CONFLICT` (the key was used for another
/// request), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_points_earn(
    crm: *const crm_t,
    customer_id: i64,
    points: i64,
    idempotency_key: *const c_char,
    at_us: i64,
    out_balance: *mut i64,
    out_replayed: *mut bool,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let key = text(idempotency_key, "idempotency_key")?;
        let c = CustomerId(customer_id);
        let p = match as_of(at_us)? {
            Some(at) => crm.earn_points_at(c, points, key, at)?,
            None => crm.earn_points(c, points, key)?,
        };
        posted(p, out_balance, out_replayed);
        Ok(())
    })
}

/// Redeems `points` (more than 0) from the customer's lots that expire soonest. The
/// `idempotency_key` makes retries harmless: the same key again returns the original
/// result and writes nothing.
///
/// - `idempotency_key`: UTF-8, NUL-terminated, 1 to 256 bytes; borrowed for the call.
/// - `out_balance`: may be NULL; receives the balance right after the redemption.
///
/// Errors: `CRM_ERR_INSUFFICIENT_POINTS` (fewer points available: pending and expired
/// points do not count; the message names both numbers), `CRM_ERR_NULL_ARGUMENT`,
/// `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`,
/// `CRM_ERR_VALIDATION` (`points` zero or negative, `idempotency_key`), `CRM_ERR_NOT_FOUND`
/// (customer), `CRM_ERR_CONFLICT` (the key was used for another request),
/// `CRM_ERR_STORAGE`. Nothing is written on failure. Thread safety: see `crm_t`; threads
/// redeeming from one account at once never overspend it.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_points_redeem(
    crm: *const crm_t,
    customer_id: i64,
    points: i64,
    idempotency_key: *const c_char,
    out_balance: *mut i64,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let key = text(idempotency_key, "idempotency_key")?;
        let p = crm.redeem_points(CustomerId(customer_id), points, key)?;
        write_opt(out_balance, p.entry.balance_after);
        Ok(())
    })
}

/// A customer's points now.
///
/// - `out_balance`: required; the sum of the ledger entries (negative only as a debt the
///   program's debt policy allows).
/// - `out_available`: may be NULL; the points that can be redeemed now.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_points_balance(
    crm: *const crm_t,
    customer_id: i64,
    out_balance: *mut i64,
    out_available: *mut i64,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_balance, "out_balance")?;
        let b = crm_arg(crm)?.points_balance(CustomerId(customer_id))?;
        write_opt(out, b.balance);
        write_opt(out_available, b.available);
        Ok(())
    })
}

/// Expires every lot due at `as_of_us` (`CRM_NO_TIME` for now), each exactly once.
///
/// - `out_lots`, `out_points`: may be NULL; receive the lots and points expired.
///
/// Errors: `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_VALIDATION`
/// (`as_of`), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_points_expire(
    crm: *const crm_t,
    as_of_us: i64,
    out_lots: *mut i64,
    out_points: *mut i64,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let at = as_of(as_of_us)?.unwrap_or_else(chrono::Utc::now);
        let r = crm.expire_points(at)?;
        write_opt(out_lots, r.lots);
        write_opt(out_points, r.points);
        Ok(())
    })
}

/// A customer's statement as JSON: `{"balance": {...}, "entries": [...], "lots": [...],
/// "tiers": [...]}` (crm-core's `loyalty::Statement`).
///
/// - `out_json`: required; receives the statement (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_points_statement(
    crm: *const crm_t,
    customer_id: i64,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.points_statement(CustomerId(customer_id))?)
    })
}
