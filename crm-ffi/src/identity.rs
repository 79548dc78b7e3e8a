//! Identity resolution: the duplicate finder (pairs with their per-field evidence,
//! clusters, the model) as JSON. The rules are crm-core's `identity`; this module converts
//! the argument, the result and errors.

use std::ffi::c_char;

use crm_core::identity::{
    MatchModel, MatchOptions, MatchPolicy, MatchSettings, MergeRequest, SuggestionStatus, UnmergeRequest,
};
use crm_core::{CustomerId, NewCustomer, UpsertMode};

use crate::convert::{clear_out, json_arg, opt_json_arg, opt_str_arg, out_ptr, text, write_json_opt, CRM_MAX_JSON_LEN};
use crate::customers::crm_outcome;
use crate::error::{crm_status, crm_status::*, ffi_call, FfiError, FfiResult};
use crate::handle::{crm_arg, crm_t};

/// The settings argument: NULL for the defaults. Text that is not JSON or not of the
/// settings' shape is `CRM_ERR_INVALID_JSON` on `settings_json`; a bound or a model value
/// out of range is the core's `CRM_ERR_VALIDATION` naming its field.
///
/// # Safety
/// As for [`opt_str_arg`].
unsafe fn settings_arg(p: *const c_char) -> FfiResult<MatchSettings> {
    let Some(text) = opt_str_arg(p, CRM_MAX_JSON_LEN, "settings_json")? else {
        return Ok(MatchSettings::default());
    };
    MatchSettings::from_json(text).map_err(|e| match e {
        crm_core::Error::Validation { field, reason } if field == "match_settings" => {
            FfiError::new(CRM_ERR_INVALID_JSON, format!("settings_json: {reason}"), Some("settings_json"))
        }
        other => other.into(),
    })
}

/// Finds the customers that are likely one person or company entered more than once:
/// candidate pairs by blocking keys (mailbox, phone, name, name token with birthday or
/// postcode, ...), each scored by a Fellegi-Sunter model estimated from the data (or
/// given), the pairs at or above the threshold with per-field evidence, and their
/// clusters. Reads every customer not merged away in one read transaction; writes nothing.
///
/// - `settings_json`: NULL for the defaults, or UTF-8 JSON of at most `CRM_MAX_JSON_LEN`
///   bytes, borrowed for the call; any key may be left out:
///   `{"threshold":0.95,"max_block_size":500,"max_iterations":50,"u_pairs":1000000,
///   "seed":0,"model":null}`. `threshold` is a match probability in 0..1; `model` is a
///   model as returned in `"model"` (to score with it instead of estimating one), or one
///   the host writes: `{"prior":0.01,"fields":[{"field":"email","levels":[{"level":"exact",
///   "m":0.9,"u":0.0001},...]}]}` with every level of each field it names, in order.
/// - `out_json`: required; receives the report (NULL on failure):
///   `{"model":{...},"threshold":0.95,"pairs":[{"a":1,"b":7,"probability":0.999,
///   "weight":14.2,"evidence":[{"field":"name","level":"same_parts","weight":6.1},
///   {"field":"email","level":null,"weight":0.0},...]}],"clusters":[[1,7],[3,9,12]],
///   "stats":{"customers":N,"candidate_pairs":N,"skipped_blocks":N,
///   "largest_skipped_block":N}}`, pairs by probability (highest first). Free it with
///   `crm_string_free`.
///
/// The fields and their levels (most similar first): `name` (exact, same_parts, similar,
/// partial, different), `email` (exact, same_mailbox, same_local, similar, different),
/// `phone` (exact, same_national, one_digit, different), `birthday` (exact, typo,
/// different), `address` (same_postcode_street, same_street_city, same_postcode,
/// same_city, different), `company` (exact, similar, different); crm-core's
/// `MatchField::levels` says what each means. A level of `null` means a side had no value:
/// no evidence either way.
///
/// JSON Schema of `settings_json`: `include/schema/match_settings.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT` (`out_json`), `CRM_ERR_INVALID_HANDLE`,
/// `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (not JSON, an unknown
/// key or a value of the wrong type; field `settings_json`), `CRM_ERR_VALIDATION` (field
/// `threshold` outside 0..1, `max_block_size` outside 2..100000, `max_iterations` outside
/// 1..1000, `u_pairs` outside 1..100000000, `model.prior` outside (0, 1),
/// `model.fields[i].field` twice, `model.fields[i].levels` not the field's levels,
/// `model.fields[i].levels[j].m` or `.u` outside (0, 1]), `CRM_ERR_STORAGE`. Memory: about
/// 300 bytes a customer while it runs. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_find_duplicates(
    crm: *const crm_t,
    settings_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let settings = settings_arg(settings_json)?;
        write_json_opt(out, &crm.find_duplicates(&settings)?)
    })
}

/// Merges customer `merged_id` into customer `survivor_id` in one transaction: the
/// survivor's profile takes fields from the merged customer by the survivorship rules
/// (never a value replaced by nothing; tags united; consents the most restrictive answer
/// per purpose); the merged customer's orders and interactions move to the survivor with
/// their statistics and loyalty points; its unspent points move as lots with their own
/// dates; the survivor joins the static segments it was in. The merged customer stays,
/// marked `merged_into`: its id and external id resolve to the survivor from then on (reads,
/// upserts, orders, interactions, points), and it is left out of queries, counts, segments
/// and `crm_find_duplicates`. The merge is logged (`crm_customer_merge_history`);
/// `crm_customer_unmerge` undoes it. Repeating a merge that stands writes nothing and
/// reports `"replayed":true`.
///
/// - `request_json`: NULL for the defaults, or UTF-8 JSON (at most `CRM_MAX_JSON_LEN` bytes,
///   borrowed for the call): `{"actor":"ops","reason":"same email","evidence":{...},
///   "survivorship":{"default":"survivor","fields":{"email":"most_recent"}}}`; every key may
///   be left out. `actor` and `reason`: 1 to 2,000 characters; `evidence`: any JSON (for
///   example a pair from `crm_find_duplicates`) of at most 65,536 bytes; a rule is one of
///   `survivor`, `merged`, `most_recent`, `most_complete`, `source_priority` (the side known
///   to the source listed first in `"survivorship":{"source_priority":["pos","primary"]}`,
///   `primary` naming the host's own external ids), for the fields `name`, `email`,
///   `phone`, `company`, `title`, `industry`, `address`, `birthday`, `gender`, `attributes`,
///   `kind`. JSON Schema: `include/schema/merge_request.json`.
/// - `out_json`: required; receives `{"merge":{...},"survivor":{customer},"merged":{customer},
///   "orders_moved":N,"interactions_moved":N,"points_moved":N,"replayed":false}` (NULL on
///   failure). `merge` holds `id`, `survivor`, `merged`, `actor`, `reason`, `evidence`,
///   `survivorship`, `merged_at`, the profiles `survivor_before`, `merged_before`,
///   `survivor_after`, and `unmerged_at`, `unmerged_by`, `unmerge_reason` (null while the
///   merge stands). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT` (`out_json`), `CRM_ERR_INVALID_HANDLE`,
/// `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (`request_json`),
/// `CRM_ERR_VALIDATION` (`actor`, `reason`, `evidence`, `survivorship.fields.<name>`),
/// `CRM_ERR_NOT_FOUND`, `CRM_ERR_MERGE` (the field names why: `self_merge`, `merged_away`,
/// `cycle`, `too_deep`), `CRM_ERR_STORAGE`; nothing is written on any error. Thread
/// safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_merge(
    crm: *const crm_t,
    survivor_id: i64,
    merged_id: i64,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let request: MergeRequest = opt_json_arg(request_json, "request_json")?;
        write_json_opt(out, &crm.merge_customers(CustomerId(survivor_id), CustomerId(merged_id), &request)?)
    })
}

/// Undoes the standing merge of customer `merged_id` (see `crm_customer_merge`). Each side
/// gets back what is its own: the records the merge moved and those written through the
/// merged customer's id or external id since, in their current state, go back to it with
/// their statistics and points; what the survivor has not spent of the points the merge
/// moved goes back; the static segments are as before; every profile field the merge set
/// and nobody changed since goes back to the survivor's own value. Repeating an unmerge
/// writes nothing and reports `"replayed":true`.
///
/// - `request_json`: NULL, or UTF-8 JSON `{"actor":"ops","reason":"two people"}` (either
///   key may be left out; 1 to 2,000 characters each). JSON Schema:
///   `include/schema/unmerge_request.json`.
/// - `out_json`: required; receives the result as for `crm_customer_merge`, the merge with
///   its `unmerged_at` (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT` (`out_json`), `CRM_ERR_INVALID_HANDLE`,
/// `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (`request_json`),
/// `CRM_ERR_VALIDATION` (`actor`, `reason`), `CRM_ERR_NOT_FOUND`, `CRM_ERR_MERGE` (the field
/// names why: `not_merged` for a customer never merged, `order` when its survivor was since
/// merged into another: unmerge that first), `CRM_ERR_STORAGE`; nothing is written on any
/// error. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_unmerge(
    crm: *const crm_t,
    merged_id: i64,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let request: UnmergeRequest = opt_json_arg(request_json, "request_json")?;
        write_json_opt(out, &crm.unmerge_customer(CustomerId(merged_id), &request)?)
    })
}

/// The merges a customer took part in, as survivor or merged customer, oldest first,
/// standing and undone.
///
/// - `out_json`: required; receives a JSON array of merges, each as `"merge"` in
///   `crm_customer_merge`'s result (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_merge_history(
    crm: *const crm_t,
    customer_id: i64,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.merge_history(CustomerId(customer_id))?)
    })
}

/// The stored customers that may be the person or company `record_json` describes, the
/// most likely first: those sharing a blocking key with it (mailbox, phone, name and
/// street, a name token with the birthday or postcode, company or birthday with the
/// postcode; keys every customer write keeps), scored with the stored model
/// (`crm_match_model_set`, `crm_match_model_train`) or the options' own. Reads only the
/// candidates: milliseconds against millions of customers. The record is validated as
/// `crm_customer_create` validates it and is not stored. Customers merged away are never
/// candidates; people are compared with people, companies with companies.
///
/// - `record_json`: UTF-8 JSON of a customer as for `crm_customer_create` (at most
///   `CRM_MAX_JSON_LEN` bytes, borrowed for the call). JSON Schema:
///   `include/schema/customer.json`.
/// - `options_json`: NULL for the defaults, or `{"threshold":0.5,"limit":10,
///   "max_block_size":500,"model":null}` (any key may be left out): candidates at or above
///   `threshold` (0 to 1), at most `limit` (1 to 1000); a blocking key shared by more than
///   `max_block_size` (2 to 100000) customers gives none; `model` as in
///   `crm_find_duplicates`. JSON Schema: `include/schema/match_options.json`.
/// - `out_json`: required; receives `[{"customer":7,"probability":0.999,"weight":14.2,
///   "evidence":[{"field":"name","level":"exact","weight":6.1},...]},...]` (NULL on
///   failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (`record_json`, `options_json`),
/// `CRM_ERR_VALIDATION` (the record's fields; `threshold`, `limit`, `max_block_size`,
/// `model.*`; `model` when none is stored and none is given), `CRM_ERR_STORAGE`. Thread
/// safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_match(
    crm: *const crm_t,
    record_json: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let record: NewCustomer = json_arg(record_json, "record_json")?;
        let options: MatchOptions = opt_json_arg(options_json, "options_json")?;
        write_json_opt(out, &crm.match_customer(&record, &options)?)
    })
}

/// Stores the model `crm_customer_match` and the match policy score with.
///
/// - `model_json`: UTF-8 JSON of a model as `crm_find_duplicates` returns it in `"model"`,
///   or as the host writes it (see `crm_find_duplicates`); borrowed. JSON Schema:
///   `include/schema/match_model.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (`model_json`), `CRM_ERR_VALIDATION`
/// (`model.prior`, `model.fields[i]...`), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_match_model_set(crm: *const crm_t, model_json: *const c_char) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let model: MatchModel = json_arg(model_json, "model_json")?;
        crm.set_match_model(&model)?;
        Ok(())
    })
}

/// The stored match model as JSON, or `null` when none was stored.
///
/// - `out_json`: required; receives the JSON (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_STORAGE`. Thread
/// safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_match_model_get(crm: *const crm_t, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.match_model()?)
    })
}

/// Estimates a model from the stored customers as `crm_find_duplicates` does under
/// `settings_json` (NULL for the defaults; its `model` must be absent; JSON Schema:
/// `include/schema/match_settings.json`), stores it and returns it.
///
/// - `out_json`: required; receives the model (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: as `crm_find_duplicates`, and `CRM_ERR_VALIDATION` on `model` when the settings
/// give one. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_match_model_train(
    crm: *const crm_t,
    settings_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let settings = settings_arg(settings_json)?;
        write_json_opt(out, &crm.train_match_model(&settings)?)
    })
}

/// Stores the match policy of customer writes: from then on every customer created (by
/// `crm_customer_create`, an upsert or bulk ingest) is matched against the stored
/// customers in the same transaction, and the policy acts: `off` (the default) nothing;
/// `suggest` records a suggestion per stored customer at or above the threshold
/// (`crm_match_suggestions`); `auto_merge` merges the new customer into the most likely
/// stored one at or above it (the stored one survives; logged with actor `auto-match` and
/// the evidence) and suggests the others.
///
/// - `policy_json`: UTF-8 JSON `{"mode":"suggest","threshold":0.95,"max_block_size":500}`
///   (any key may be left out). JSON Schema: `include/schema/match_policy.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (`policy_json`, an unknown mode),
/// `CRM_ERR_VALIDATION` (`threshold`, `max_block_size`; `model` when the mode is not `off`
/// and no model is stored), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_match_policy_set(crm: *const crm_t, policy_json: *const c_char) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let policy: MatchPolicy = json_arg(policy_json, "policy_json")?;
        crm.set_match_policy(&policy)?;
        Ok(())
    })
}

/// The stored match policy as JSON (`{"mode":"off",...}` when none was stored).
///
/// - `out_json`: required; receives the JSON (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_STORAGE`. Thread
/// safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_match_policy_get(crm: *const crm_t, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.match_policy()?)
    })
}

/// The status argument of the suggestion calls.
///
/// # Safety
/// As for [`text`].
unsafe fn status_arg(p: *const c_char, arg: &str) -> FfiResult<SuggestionStatus> {
    let t = text(p, arg)?;
    SuggestionStatus::parse(t).ok_or_else(|| {
        FfiError::argument(arg, format!("{arg}: {t:?} is not a status; use \"open\", \"dismissed\" or \"merged\""))
    })
}

/// The suggestions the match policy made, by id after `after_id` (0 for the first), at
/// most `limit` (1 to 10000).
///
/// - `status`: NULL for all, or `"open"`, `"dismissed"` or `"merged"`; borrowed.
/// - `out_json`: required; receives `[{"id":1,"customer":12,"candidate":7,
///   "probability":0.98,"evidence":[...],"status":"open","created_at":"..."},...]` (NULL on
///   failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_INVALID_ARGUMENT` (`status`), `CRM_ERR_VALIDATION` (`limit`),
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_match_suggestions(
    crm: *const crm_t,
    status: *const c_char,
    after_id: i64,
    limit: usize,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let status = if status.is_null() { None } else { Some(status_arg(status, "status")?) };
        write_json_opt(out, &crm.match_suggestions(status, after_id, limit)?)
    })
}

/// Marks a suggestion decided: `"dismissed"` (the two are different) or `"merged"` (the
/// host merged them with `crm_customer_merge`).
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_INVALID_ARGUMENT` (`status` not a status), `CRM_ERR_VALIDATION` (`id`: no such
/// suggestion; `status`: `"open"`), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_match_suggestion_resolve(crm: *const crm_t, id: i64, status: *const c_char) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let status = status_arg(status, "status")?;
        crm.resolve_suggestion(id, status)?;
        Ok(())
    })
}

/// Computes the match keys of customers stored before this library's schema 10, once (a
/// write that reads every customer; the matching calls do it themselves on first use).
///
/// Errors: `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_BUSY`, `CRM_ERR_STORAGE`. Thread safety: see
/// `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_match_keys_ensure(crm: *const crm_t) -> crm_status {
    ffi_call(|| {
        crm_arg(crm)?.ensure_match_keys()?;
        Ok(())
    })
}

/// `crm_customer_upsert` addressed by an identity: the JSON's `external_id` is the
/// customer's key in system `source`. The customer that identity names takes the changes
/// (keeping its own primary external id; a customer merged away: its survivor); without
/// one, a new customer is created, with no primary external id, and the identity names it.
/// Sending the same input twice changes nothing the second time.
///
/// - `source`: the system, 1 to 64 letters, digits, `_`, `-`, `.` or `:`; UTF-8, borrowed.
/// - `customer_json`, `out_id`, `out_outcome`, `out_json`: as for `crm_customer_upsert`.
///
/// JSON Schema of `customer_json`: `include/schema/customer_patch.json`.
///
/// Errors: as for `crm_customer_upsert`, and `CRM_ERR_VALIDATION` on `source`. Thread
/// safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_upsert_from(
    crm: *const crm_t,
    source: *const c_char,
    customer_json: *const c_char,
    out_id: *mut i64,
    out_outcome: *mut crm_outcome,
    out_json: *mut *mut c_char,
) -> crm_status {
    crate::customers::upsert_json(crm, Some(source), customer_json, UpsertMode::Merge, out_id, out_outcome, out_json)
}

/// Reads the customer that system `source` knows as `external_id` (its survivor when it was
/// merged into another).
///
/// - `out_json`: required; receives the customer (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (`source`, `external_id`), `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_get_by_identity(
    crm: *const crm_t,
    source: *const c_char,
    external_id: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let c = crm.customer_by_identity(text(source, "source")?, text(external_id, "external_id")?)?;
        write_json_opt(out, &c)
    })
}

/// Links an identity (system `source`'s key `external_id`) to a customer (its survivor when
/// it was merged away). Linking it again to the same customer changes nothing.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (`source`, `external_id`), `CRM_ERR_NOT_FOUND`
/// (the customer), `CRM_ERR_CONFLICT` (the identity names another customer: unlink it
/// first, or merge the two), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_identity_add(
    crm: *const crm_t,
    customer_id: i64,
    source: *const c_char,
    external_id: *const c_char,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        crm.add_identity(CustomerId(customer_id), text(source, "source")?, text(external_id, "external_id")?)?;
        Ok(())
    })
}

/// Unlinks an identity.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (`source`, `external_id`), `CRM_ERR_NOT_FOUND`
/// (it names no customer), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_identity_remove(
    crm: *const crm_t,
    source: *const c_char,
    external_id: *const c_char,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        crm.remove_identity(text(source, "source")?, text(external_id, "external_id")?)?;
        Ok(())
    })
}

/// A customer's identities, with those of the customers merged into it, by source and
/// external id.
///
/// - `out_json`: required; receives `[{"source":"pos","external_id":"P-77","customer":3,
///   "created_at":"..."},...]` (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_identities(
    crm: *const crm_t,
    customer_id: i64,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.identities(CustomerId(customer_id))?)
    })
}
