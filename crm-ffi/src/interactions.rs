//! Interactions: add (JSON), get, delete.

use std::ffi::c_char;

use crm_core::{InteractionId, NewInteraction};

use crate::convert::{clear_out, json_arg, out_ptr, text, write_json_opt, write_opt};
use crate::customers::crm_outcome;
use crate::error::{crm_status, ffi_call};
use crate::handle::{crm_arg, crm_t};

/// Records an interaction given as JSON in the shape of crm-core's `NewInteraction`
/// (`{"external_id":"I-1","customer_external_id":"C-1","kind":"call","direction":"inbound",
/// "occurred_at":"2026-03-01T12:00:00Z","subject":"...","score":{"csat":5}}`). With an
/// external id, recording it again changes nothing (or updates it if the content differs).
///
/// - `interaction_json`: UTF-8 JSON, at most `CRM_MAX_JSON_LEN` bytes; borrowed for the call.
/// - `out_id`, `out_outcome`: may be NULL. `out_json`: may be NULL; receives the stored
///   interaction (NULL on failure); free it with `crm_string_free`.
///
/// JSON Schema of `interaction_json`: `include/schema/interaction.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON`, `CRM_ERR_VALIDATION` (with the field),
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_interaction_add(
    crm: *const crm_t,
    interaction_json: *const c_char,
    out_id: *mut i64,
    out_outcome: *mut crm_outcome,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        let input: NewInteraction = json_arg(interaction_json, "interaction_json")?;
        let w = crm.add_interaction(&input)?;
        write_opt(out_id, w.record.id.0);
        write_opt(out_outcome, w.outcome.into());
        write_json_opt(out_json, &w.record)
    })
}

/// Reads an interaction.
///
/// - `out_json`: required; receives the interaction as JSON (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_interaction_get(crm: *const crm_t, id: i64, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.get_interaction(InteractionId(id))?)
    })
}

/// The store id of the interaction with this external id (normalised as on the way in).
///
/// - `external_id`: UTF-8, NUL-terminated; borrowed for the call.
/// - `out_id`: required; written on success only.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (an id that is empty once normalised, or holds a
/// control character), `CRM_ERR_NOT_FOUND` (no such interaction), `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_interaction_id_by_external_id(
    crm: *const crm_t,
    external_id: *const c_char,
    out_id: *mut i64,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_id, "out_id")?;
        let crm = crm_arg(crm)?;
        out.write(crm.interaction_id_by_external_id(text(external_id, "external_id")?)?.0);
        Ok(())
    })
}

/// Deletes an interaction and updates its customer's statistics.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// `crm` is NULL or a handle value.
#[no_mangle]
pub unsafe extern "C" fn crm_interaction_delete(crm: *const crm_t, id: i64) -> crm_status {
    ffi_call(|| Ok(crm_arg(crm)?.delete_interaction(InteractionId(id))?))
}
