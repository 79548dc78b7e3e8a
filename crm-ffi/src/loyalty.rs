//! Loyalty: the program as JSON (or TOML), typed hot paths for earning, redeeming,
//! adjusting, event bonuses and the balance, tiers, the statement and tier history as
//! JSON, and the simulator (JSON in and out).

use std::ffi::c_char;

use crm_core::loyalty::{Event, Posted, Program, SimulationOptions};
use crm_core::CustomerId;

use crate::convert::{
    as_of, clear_out, opt_json_arg, opt_str_arg, out_ptr, text, write_json_opt, write_opt, CRM_MAX_JSON_LEN,
    CRM_MAX_STRING_LEN, CRM_NO_TIME,
};
use crate::error::{crm_status, ffi_call, FfiError};
use crate::handle::{crm_arg, crm_t};

/// Sets (or replaces) the loyalty program, validated first; from then on recorded orders
/// earn points in the transaction that writes them.
///
/// - `program`: UTF-8, NUL-terminated, borrowed for the call: JSON, or TOML when
///   `is_toml` is true (crm-core's `loyalty::Program`).
///
/// JSON Schema of `program`: `include/schema/loyalty_program.json`.
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
/// - `at_us`: when it takes effect, microseconds since the epoch, or `CRM_NO_TIME` for now;
///   an event time, within the validation settings' bounds (`min_time` to `max_future_secs`
///   ahead of now; `CRM_ERR_VALIDATION` on field `at` otherwise).
/// - `out_balance`: may be NULL; receives the balance right after the entry.
/// - `out_replayed`: may be NULL; receives whether the key was already in the ledger.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (`points`, `idempotency_key`, `at`),
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
    crm_points_redeem_at(crm, customer_id, points, idempotency_key, CRM_NO_TIME, out_balance)
}

/// `crm_points_redeem` effective at `at_us` (microseconds since the epoch, or
/// `CRM_NO_TIME` for now): back-office corrections, imports of past redemptions. Lots
/// pending or expired at `at_us` do not count; no lot is expired before its expiry by the
/// real clock.
///
/// Errors: as for `crm_points_redeem`, and `CRM_ERR_VALIDATION` (`at`) for a time outside the
/// validation settings' bounds (`min_time` to `max_future_secs` ahead of now). Nothing is
/// written on failure. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_points_redeem_at(
    crm: *const crm_t,
    customer_id: i64,
    points: i64,
    idempotency_key: *const c_char,
    at_us: i64,
    out_balance: *mut i64,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let key = text(idempotency_key, "idempotency_key")?;
        let c = CustomerId(customer_id);
        let p = match as_of(at_us)? {
            Some(at) => crm.redeem_points_at(c, points, key, at)?,
            None => crm.redeem_points(c, points, key)?,
        };
        write_opt(out_balance, p.entry.balance_after);
        Ok(())
    })
}

/// A manual correction: `points` up (a new lot, expiring as the program says) or down
/// (taken from the lots, never below zero), with a reason shown in the statement. The
/// `idempotency_key` makes retries harmless: the same key again returns the original
/// result and writes nothing.
///
/// - `points`: not 0; negative takes points away.
/// - `idempotency_key`: UTF-8, NUL-terminated, 1 to 256 bytes; borrowed for the call.
/// - `reason`: UTF-8, NUL-terminated, 1 to 2,000 characters; borrowed for the call.
/// - `out_balance`: may be NULL; receives the balance right after the entry.
/// - `out_replayed`: may be NULL; receives whether the key was already in the ledger.
///
/// Errors: `CRM_ERR_INSUFFICIENT_POINTS` (a correction down by more than the lots hold),
/// `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (`points`, `idempotency_key`, `reason`),
/// `CRM_ERR_NOT_FOUND` (customer), `CRM_ERR_CONFLICT` (the key was used for another
/// request), `CRM_ERR_STORAGE`. Nothing is written on failure. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_points_adjust(
    crm: *const crm_t,
    customer_id: i64,
    points: i64,
    idempotency_key: *const c_char,
    reason: *const c_char,
    out_balance: *mut i64,
    out_replayed: *mut bool,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let key = text(idempotency_key, "idempotency_key")?;
        let reason = text(reason, "reason")?;
        let p = crm.adjust_points(CustomerId(customer_id), points, key, reason)?;
        posted(p, out_balance, out_replayed);
        Ok(())
    })
}

/// Awards the program's bonuses for an event at `at_us`. Use a key per occasion
/// (`birthday:C-1:2026`): the same key again returns the original result and writes
/// nothing.
///
/// - `event`: UTF-8, NUL-terminated: `sign_up`, `birthday`, `first_order`,
///   `survey_answered` or `referral`.
/// - `idempotency_key`: UTF-8, NUL-terminated, 1 to 256 bytes; borrowed for the call.
/// - `at_us`: when it takes effect, microseconds since the epoch, or `CRM_NO_TIME` for now;
///   an event time, within the validation settings' bounds (`min_time` to `max_future_secs`
///   ahead of now; `CRM_ERR_VALIDATION` on field `at` otherwise).
/// - `out_awarded`: may be NULL; receives whether points were posted (false when no
///   active bonus rule applies: nothing is written, and `out_balance` and `out_replayed`
///   are left as they were).
/// - `out_balance`: may be NULL; receives the balance right after the entry.
/// - `out_replayed`: may be NULL; receives whether the key was already in the ledger.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (`event` unknown, `idempotency_key`, `at`,
/// `program` when none is set), `CRM_ERR_NOT_FOUND` (customer), `CRM_ERR_CONFLICT` (the
/// key was used for another request), `CRM_ERR_STORAGE`. Nothing is written on failure.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn crm_points_award_event(
    crm: *const crm_t,
    customer_id: i64,
    event: *const c_char,
    idempotency_key: *const c_char,
    at_us: i64,
    out_awarded: *mut bool,
    out_balance: *mut i64,
    out_replayed: *mut bool,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let name = text(event, "event")?;
        let ev: Event = serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| {
            crm_core::Error::validation(
                "event",
                format!("{name:?}: one of sign_up, birthday, first_order, survey_answered, referral"),
            )
        })?;
        let key = text(idempotency_key, "idempotency_key")?;
        let at = as_of(at_us)?.unwrap_or_else(chrono::Utc::now);
        let p = crm.award_event(CustomerId(customer_id), ev, key, at)?;
        write_opt(out_awarded, p.is_some());
        if let Some(p) = p {
            posted(p, out_balance, out_replayed);
        }
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

/// A customer's balance as of `at_us` (microseconds since the epoch, or `CRM_NO_TIME` for
/// now): the sum of the ledger entries effective at or before it.
///
/// - `out_balance`: required; receives the balance.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_VALIDATION`
/// (`as_of`), `CRM_ERR_NOT_FOUND` (customer), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_points_balance_as_of(
    crm: *const crm_t,
    customer_id: i64,
    at_us: i64,
    out_balance: *mut i64,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_balance, "out_balance")?;
        let crm = crm_arg(crm)?;
        let at = as_of(at_us)?.unwrap_or_else(chrono::Utc::now);
        write_opt(out, crm.points_balance_as_of(CustomerId(customer_id), at)?);
        Ok(())
    })
}

/// Expires every lot due at `as_of_us` (`CRM_NO_TIME` for now), each exactly once. `as_of_us`
/// is an event time (between the validation settings' `min_time` and `max_future_secs`
/// ahead of now); no lot is expired before its expiry by the real clock, whatever `as_of_us`
/// says (a forecast is `crm_points_expire_dry_run`).
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

/// What `crm_points_expire` would expire if it ran at `as_of_us` (microseconds since the
/// epoch; may lie ahead by up to the `max_forecast_days` of the validation settings): a
/// forecast of the points that will lapse by then, as the ledger stands. Writes nothing.
///
/// - `out_lots`, `out_points`: may be NULL; receive the lots and points that would expire.
///
/// Errors: `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_VALIDATION`
/// (`as_of`: `CRM_NO_TIME` or outside the bounds), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_points_expire_dry_run(
    crm: *const crm_t,
    as_of_us: i64,
    out_lots: *mut i64,
    out_points: *mut i64,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let at = as_of(as_of_us)?
            .ok_or_else(|| FfiError::from(crm_core::Error::validation("as_of", "a forecast needs a time")))?;
        let r = crm.expire_points_dry_run(at)?;
        write_opt(out_lots, r.lots);
        write_opt(out_points, r.points);
        Ok(())
    })
}

/// What the program owes now, across every account, as JSON (crm-core's
/// `loyalty::Liability`): `{"as_of":"2026-03-01T12:00:00Z","accounts":2,"holders":2,
/// "outstanding":190,"debt":0,"expiring":140,"expiring_by":"2026-03-08T12:00:00Z"}`:
/// accounts, those holding points, the sum of positive balances (`outstanding`), of negative
/// ones as a positive number (`debt`), and the points in lots expiring by `expiring_by` (now
/// plus `expiring_within_days`), lots already due but not yet expired included.
///
/// - `expiring_within_days`: the look-ahead, 0 to the validation settings' `max_forecast_days`
///   (3650 by default).
/// - `out_json`: required; receives the liability (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_VALIDATION` (field
/// `expiring_within_days` over `max_forecast_days`), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_loyalty_liability(
    crm: *const crm_t,
    expiring_within_days: u32,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.loyalty_liability(expiring_within_days)?)
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

/// Sets a customer's loyalty tier by hand, recorded in the tier history as `manual`.
///
/// - `tier`: UTF-8, NUL-terminated, borrowed for the call: a tier of the program, or NULL
///   to remove the customer's tier.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (`tier` unknown or the program has no tiers,
/// `program` when none is set), `CRM_ERR_NOT_FOUND` (customer), `CRM_ERR_STORAGE`.
/// Nothing is written on failure. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_loyalty_tier_set(crm: *const crm_t, customer_id: i64, tier: *const c_char) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let tier = opt_str_arg(tier, CRM_MAX_STRING_LEN, "tier")?;
        Ok(crm.set_loyalty_tier(CustomerId(customer_id), tier)?)
    })
}

/// Reviews every account's tier at a period end `as_of_us` (`CRM_NO_TIME` for now): up
/// when the window earns a higher tier, down when it earns a lower one and the tier has
/// been held for a whole window plus the grace period.
///
/// - `out_accounts`, `out_upgraded`, `out_downgraded`: may be NULL; receive the accounts
///   reviewed, moved up and moved down.
///
/// Errors: `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_VALIDATION`
/// (`as_of`, `program` when none is set), `CRM_ERR_STORAGE`. Nothing is written on
/// failure. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_loyalty_tiers_review(
    crm: *const crm_t,
    as_of_us: i64,
    out_accounts: *mut i64,
    out_upgraded: *mut i64,
    out_downgraded: *mut i64,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let at = as_of(as_of_us)?.unwrap_or_else(chrono::Utc::now);
        let r = crm.review_tiers(at)?;
        write_opt(out_accounts, r.accounts);
        write_opt(out_upgraded, r.upgraded);
        write_opt(out_downgraded, r.downgraded);
        Ok(())
    })
}

/// A customer's tier changes as JSON, oldest first: `[{"tier": "gold"|null,
/// "at": "2026-03-01T12:00:00Z", "reason": "upgrade"|"downgrade"|"manual"}, ...]`
/// (crm-core's `loyalty::TierChange`).
///
/// - `out_json`: required; receives the history (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`
/// (customer), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_loyalty_tier_history(
    crm: *const crm_t,
    customer_id: i64,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.loyalty_tier_history(CustomerId(customer_id))?)
    })
}

/// Simulates a loyalty program over the orders already recorded, as a dry run: points
/// issued, redeemed, expired and outstanding per month, per-rule totals and tiers at the
/// end. Reads in one transaction and writes nothing; a candidate program is never stored.
///
/// - `program_json`: NULL for the stored program, or a candidate as JSON (as for
///   `crm_loyalty_program_set`), validated first. UTF-8, NUL-terminated, at most
///   `CRM_MAX_JSON_LEN` bytes; borrowed for the call.
/// - `options_json`: NULL for the defaults, or crm-core's `loyalty::SimulationOptions`:
///   `{"from": "2025-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z", "redemption":
///   "none" | {"rate": {"permille": 150}} | "actual", "customers": [1, 2]}`, every field
///   optional (orders at or after `from` earn, earlier ones are history; the run ends at
///   `until`, default now; `actual` replays the ledger's redemptions, capped to what the
///   simulated accounts hold). UTF-8, NUL-terminated, at most `CRM_MAX_JSON_LEN` bytes;
///   borrowed for the call.
/// - `out_json`: required; receives `{"program", "from", "until", "months": [{"month":
///   "2025-01", "orders", "earning_orders", "customers_earning", "issued", "redeemed",
///   "expired", "outstanding", "accounts_with_balance"}, ...], "totals": {...}, "rules":
///   [{"rule", "points", "orders"}, ...], "tiers": [{"tier", "accounts"}, ...] | null}`
///   (crm-core's `loyalty::Simulation`; every month from the first order to `until`), NULL
///   on failure. Free it with `crm_string_free`.
///
/// JSON Schema of `program_json`: `include/schema/loyalty_program.json`.
/// JSON Schema of `options_json`: `include/schema/loyalty_simulation_options.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT` (`out_json`), `CRM_ERR_INVALID_HANDLE`,
/// `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (`options_json`
/// malformed or with an unknown field), `CRM_ERR_VALIDATION` (field `program` for a malformed
/// candidate or when none is stored, otherwise the candidate's offending field as for
/// `crm_loyalty_program_set`; `from` not before `until`, `until` more than 100 years ahead,
/// `redemption.rate.permille` outside 0 to 1,000, `customers` empty or longer than 100,000),
/// `CRM_ERR_NOT_FOUND` (a listed customer), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_loyalty_simulate(
    crm: *const crm_t,
    program_json: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let program =
            opt_str_arg(program_json, CRM_MAX_JSON_LEN, "program_json")?.map(Program::from_json).transpose()?;
        let options: SimulationOptions = opt_json_arg(options_json, "options_json")?;
        write_json_opt(out, &crm.simulate_loyalty(program.as_ref(), &options)?)
    })
}
