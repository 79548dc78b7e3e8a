//! Segmentation: saved segments (dynamic rules or static lists) and their snapshots, scoring
//! plans and scores, lifecycle rules and stages, value tiers. Records and settings travel as
//! JSON in crm-core's serde shapes, rules inside them as text or tree; membership tests,
//! counts, scores and pages of member ids are typed.

use std::ffi::c_char;

use chrono::{DateTime, Utc};
use crm_core::segment::{LifecycleRules, NewSegment, ScoringPlan, SegmentPatch, TierConfig};
use crm_core::{CustomerId, LifecycleStage};
use serde::Serialize;

use crate::convert::{
    as_of, clear_out, ids_arg, into_c_string, json_arg, out_ptr, text, write_ids, write_json_opt, write_opt,
};
use crate::error::{crm_status, ffi_call};
use crate::handle::{crm_arg, crm_t};
use crate::rules::page_out;

/// Creates a saved segment from JSON in the shape of crm-core's `segment::NewSegment`: with a
/// `rule` (text, or its JSON tree) it is dynamic, its members the customers meeting the rule;
/// without one it is static, listing `members` (customer ids). For example
/// `{"name":"big spenders","rule":"total_spent >= 1000.00 USD","description":"..."}` or
/// `{"name":"pilot","members":[1,2,3]}`.
///
/// - `segment_json`: UTF-8 JSON, at most `CRM_MAX_JSON_LEN` bytes; borrowed for the call.
/// - `out_json`: may be NULL; receives the stored segment (its `rule` as a tree; NULL on
///   failure). Free it with `crm_string_free`.
///
/// JSON Schema of `segment_json`: `include/schema/segment.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (also for rule text inside the JSON that does not
/// parse: the message gives its line and column), `CRM_ERR_VALIDATION` (`name`,
/// `description`, `members`, a field the rule misuses, `rule` for a cyclic reference),
/// `CRM_ERR_NOT_FOUND` (a segment or plan the rule names, a listed customer),
/// `CRM_ERR_CONFLICT` (the name is taken), `CRM_ERR_STORAGE`. Nothing is written on failure.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_segment_create(
    crm: *const crm_t,
    segment_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        let input: NewSegment = json_arg(segment_json, "segment_json")?;
        write_json_opt(out_json, &crm.create_segment(&input)?)
    })
}

/// Changes a segment's name, description or rule with JSON in the shape of crm-core's
/// `segment::SegmentPatch` (`{"name":"new name","description":null,"rule":"order_count > 2"}`:
/// absent keys stay, a `null` description clears it; only a dynamic segment has a rule).
///
/// - `name`: the segment's current name; UTF-8, NUL-terminated; borrowed.
/// - `patch_json`: UTF-8 JSON, at most `CRM_MAX_JSON_LEN` bytes; borrowed.
/// - `out_json`: may be NULL; receives the segment as stored (NULL on failure). Free it with
///   `crm_string_free`.
///
/// JSON Schema of `patch_json`: `include/schema/segment_patch.json`.
///
/// Errors: as for `crm_segment_create` (with `patch_json`); `CRM_ERR_NOT_FOUND` for an unknown
/// segment; `CRM_ERR_VALIDATION` (`rule`) for a rule on a static segment or a cycle;
/// `CRM_ERR_CONFLICT` for a new name that is taken or a rename of a segment other rules use.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_segment_update(
    crm: *const crm_t,
    name: *const c_char,
    patch_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        let name = text(name, "name")?;
        let patch: SegmentPatch = json_arg(patch_json, "patch_json")?;
        write_json_opt(out_json, &crm.update_segment(name, &patch)?)
    })
}

/// Deletes a segment and its stored members.
///
/// - `name`: UTF-8, NUL-terminated; borrowed.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND`, `CRM_ERR_CONFLICT` (a stored rule uses the
/// segment; the message names it), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_segment_delete(crm: *const crm_t, name: *const c_char) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        Ok(crm.delete_segment(text(name, "name")?)?)
    })
}

/// Reads a saved segment by name: `{"id":1,"name":"...","kind":"dynamic"|"static",
/// "rule":{tree}|null,"description":...,"created_at":"...","updated_at":"...",
/// "snapshot_at":"..."|null}`. `crm_rule_format` prints its rule as text.
///
/// - `name`: UTF-8, NUL-terminated; borrowed.
/// - `out_json`: required; receives the segment (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND`, `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_segment_get(
    crm: *const crm_t,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        write_json_opt(out, &crm.segment(text(name, "name")?)?)
    })
}

/// Every saved segment, by name, as a JSON array of segments (as for `crm_segment_get`).
///
/// - `out_json`: required; receives the array (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_segment_list(crm: *const crm_t, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.segments()?)
    })
}

/// The number of a segment's members now: a dynamic segment's rule is evaluated in the
/// store, a static segment's list is counted.
///
/// - `name`: UTF-8, NUL-terminated; borrowed.
/// - `out_count`: required; written on success only.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND`, `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_segment_count(crm: *const crm_t, name: *const c_char, out_count: *mut i64) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_count, "out_count")?;
        let crm = crm_arg(crm)?;
        out.write(crm.segment_count(text(name, "name")?)?);
        Ok(())
    })
}

/// One page of a segment's members now: their ids, ascending, strictly after `after_id` (0
/// for the first page), at most `limit`. Fewer than `limit` means the last page; pass the
/// last id back as `after_id` for the next one.
///
/// - `name`: UTF-8, NUL-terminated; borrowed.
/// - `out_ids`: required; the caller's buffer with room for `limit` ids (1 to
///   `CRM_MAX_MEMBERS_PAGE`); nothing to free.
/// - `out_len`: required; receives the number of ids written (0 on failure).
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND`, `CRM_ERR_VALIDATION` (`limit`), `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use; `out_ids` has room for `limit` ids.
#[no_mangle]
pub unsafe extern "C" fn crm_segment_members(
    crm: *const crm_t,
    name: *const c_char,
    after_id: i64,
    out_ids: *mut i64,
    limit: usize,
    out_len: *mut usize,
) -> crm_status {
    ffi_call(|| {
        let (out_ids, out_len) = page_out(out_ids, out_len)?;
        let crm = crm_arg(crm)?;
        let after = (after_id != 0).then_some(CustomerId(after_id));
        write_ids(&crm.segment_members(text(name, "name")?, after, limit)?, out_ids, limit, out_len)
    })
}

/// Whether a customer is a member of a segment now (the hot path: a dynamic segment's rule
/// is evaluated in memory for this customer alone).
///
/// - `name`: UTF-8, NUL-terminated; borrowed.
/// - `out_is_member`: required; written on success only.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND` (segment or customer), `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_segment_is_member(
    crm: *const crm_t,
    customer_id: i64,
    name: *const c_char,
    out_is_member: *mut bool,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_is_member, "out_is_member")?;
        let crm = crm_arg(crm)?;
        out.write(crm.is_member(CustomerId(customer_id), text(name, "name")?)?);
        Ok(())
    })
}

/// Adds customers to a static segment; each one not yet a member appends an `enter` entry to
/// the change feed. All or nothing: an unknown customer refuses the whole call.
///
/// - `name`: UTF-8, NUL-terminated; borrowed.
/// - `ids`: `n_ids` customer ids (at most `CRM_MAX_MEMBERS_PAGE`; duplicates count once),
///   borrowed; may be NULL when `n_ids` is 0.
/// - `out_added`: may be NULL; receives how many were not members yet.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND` (segment or customer), `CRM_ERR_VALIDATION`
/// (`segment` for a dynamic segment, `customers` for too many ids), `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use; `ids` points to `n_ids` elements.
#[no_mangle]
pub unsafe extern "C" fn crm_segment_add_members(
    crm: *const crm_t,
    name: *const c_char,
    ids: *const i64,
    n_ids: usize,
    out_added: *mut usize,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let name = text(name, "name")?;
        let n = crm.add_segment_members(name, &ids_arg(ids, n_ids, "ids")?)?;
        write_opt(out_added, n);
        Ok(())
    })
}

/// Removes customers from a static segment; each one that was a member appends a `leave`
/// entry to the change feed. Ids that are not members are ignored.
///
/// - `name`, `ids`, `n_ids`: as for `crm_segment_add_members`.
/// - `out_removed`: may be NULL; receives how many were members.
///
/// Errors: as for `crm_segment_add_members` (`CRM_ERR_NOT_FOUND` for the segment only).
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use; `ids` points to `n_ids` elements.
#[no_mangle]
pub unsafe extern "C" fn crm_segment_remove_members(
    crm: *const crm_t,
    name: *const c_char,
    ids: *const i64,
    n_ids: usize,
    out_removed: *mut usize,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let name = text(name, "name")?;
        let n = crm.remove_segment_members(name, &ids_arg(ids, n_ids, "ids")?)?;
        write_opt(out_removed, n);
        Ok(())
    })
}

/// Evaluates a dynamic segment now and stores its members; each customer who entered or
/// left since the last snapshot appends an `enter` or `leave` entry (`ref_id` the customer)
/// to the change feed.
///
/// - `name`: UTF-8, NUL-terminated; borrowed.
/// - `out_json`: may be NULL; receives `{"segment":1,"at":"...","members":n,
///   "entered":[ids],"left":[ids]}` (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND`, `CRM_ERR_VALIDATION` (`segment` for a static
/// segment), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_segment_snapshot(
    crm: *const crm_t,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        write_json_opt(out_json, &crm.snapshot_segment(text(name, "name")?)?)
    })
}

/// Stores a scoring plan, replacing one of the same name, from JSON in the shape of crm-core's
/// `segment::ScoringPlan`: `{"name":"lead","rules":[{"when":"email is not null","points":10},
/// {"when":"count(interactions within 30 days) > 0","points":25}]}` (each `when` text or
/// tree). A customer's score is the sum of the points of the rules it meets, readable in
/// rules as `score.<name>`.
///
/// - `plan_json`: UTF-8 JSON, at most `CRM_MAX_JSON_LEN` bytes; borrowed.
///
/// JSON Schema of `plan_json`: `include/schema/scoring_plan.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (also for rule text that does not parse),
/// `CRM_ERR_VALIDATION` (`name`, `rules`, `rules[2].points`, a field a rule misuses, `rule`
/// for a cyclic reference), `CRM_ERR_NOT_FOUND` (a segment or plan a rule names),
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_scoring_plan_put(crm: *const crm_t, plan_json: *const c_char) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let plan: ScoringPlan = json_arg(plan_json, "plan_json")?;
        Ok(crm.put_scoring_plan(&plan)?)
    })
}

/// Every scoring plan, by name, as a JSON array of plans (rules as trees).
///
/// - `out_json`: required; receives the array (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_scoring_plan_list(crm: *const crm_t, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.scoring_plans()?)
    })
}

/// Deletes a scoring plan.
///
/// - `name`: UTF-8, NUL-terminated; borrowed.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND`, `CRM_ERR_CONFLICT` (a stored rule uses
/// `score.<name>`), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_scoring_plan_delete(crm: *const crm_t, name: *const c_char) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        Ok(crm.delete_scoring_plan(text(name, "name")?)?)
    })
}

/// A customer's score under a plan now.
///
/// - `plan`: the plan's name; UTF-8, NUL-terminated; borrowed.
/// - `out_score`: required; written on success only.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND` (plan or customer), `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_score_get(
    crm: *const crm_t,
    customer_id: i64,
    plan: *const c_char,
    out_score: *mut i64,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_score, "out_score")?;
        let crm = crm_arg(crm)?;
        out.write(crm.score(CustomerId(customer_id), text(plan, "plan")?)?);
        Ok(())
    })
}

#[derive(Serialize)]
struct Scored {
    customer_id: CustomerId,
    score: i64,
}

/// Every customer's score under a plan now, computed in the store, ascending by customer id.
///
/// - `plan`: the plan's name; UTF-8, NUL-terminated; borrowed.
/// - `out_json`: required; receives `[{"customer_id":1,"score":30}, ...]` (NULL on failure).
///   Free it with `crm_string_free`.
///
/// Errors: as for `crm_score_get` (`CRM_ERR_NOT_FOUND` for the plan only).
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_score_all(
    crm: *const crm_t,
    plan: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let scores: Vec<Scored> = crm
            .scores(text(plan, "plan")?)?
            .into_iter()
            .map(|(customer_id, score)| Scored { customer_id, score })
            .collect();
        write_json_opt(out, &scores)
    })
}

/// Stores the lifecycle rules from JSON in the shape of crm-core's `segment::LifecycleRules`:
/// `{"rules":[{"stage":"churned","when":"last_order_at before now() - 365 days"}, ...]}`
/// (1 to 100 rules, first match wins, each `when` text or tree).
///
/// - `rules_json`: UTF-8 JSON, at most `CRM_MAX_JSON_LEN` bytes; borrowed.
///
/// JSON Schema of `rules_json`: `include/schema/lifecycle_rules.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (also for an unknown stage or rule text that
/// does not parse), `CRM_ERR_VALIDATION` (`rules`, `rules[3].when.<field>` for a field a rule
/// misuses), `CRM_ERR_NOT_FOUND` (a segment or plan a rule names), `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_lifecycle_rules_set(crm: *const crm_t, rules_json: *const c_char) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let rules: LifecycleRules = json_arg(rules_json, "rules_json")?;
        Ok(crm.set_lifecycle_rules(&rules)?)
    })
}

/// The stored lifecycle rules, or the built-in defaults when none were stored, as JSON
/// (`{"rules":[{"stage":"won_back","when":{tree}}, ...]}`).
///
/// - `out_json`: required; receives the rules (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_lifecycle_rules_get(crm: *const crm_t, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.lifecycle_rules()?)
    })
}

/// Re-evaluates every customer's lifecycle stage as of a time with the stored rules (the
/// first rule met gives the stage; customers meeting none keep theirs). Each change updates
/// the customer, is recorded in its stage history and appends a customer `update` entry to
/// the change feed. One transaction.
///
/// - `as_of_us`: microseconds since the Unix epoch, or `CRM_NO_TIME` for now.
/// - `out_json`: may be NULL; receives `{"as_of":"...","customers":n,"changed":n,
///   "counts":{"active":n, ...}}` (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_VALIDATION` (`as_of`,
/// or a stored rule no longer valid), `CRM_ERR_NOT_FOUND` (a segment or plan a stored rule
/// names), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_lifecycle_refresh(
    crm: *const crm_t,
    as_of_us: i64,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        write_json_opt(out_json, &crm.refresh_lifecycle(as_of(as_of_us)?)?)
    })
}

#[derive(Serialize)]
struct StageSince {
    stage: LifecycleStage,
    at: DateTime<Utc>,
}

/// When each lifecycle stage of a customer began, oldest first:
/// `[{"stage":"prospect","at":"..."}, ...]`; `[]` when its stage never changed.
///
/// - `out_json`: required; receives the history (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_lifecycle_history(
    crm: *const crm_t,
    customer_id: i64,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let history: Vec<StageSince> = crm_arg(crm)?
            .stage_history(CustomerId(customer_id))?
            .into_iter()
            .map(|(stage, at)| StageSince { stage, at })
            .collect();
        write_json_opt(out, &history)
    })
}

/// Stores the value-tier settings from JSON in the shape of crm-core's `segment::TierConfig`:
/// `{"basis":{"by":"spend","currency":"USD","tiers":[{"name":"high","min_minor":100000}]},
/// "default":"low"}`; `"by"` is also `"percentile"` (`"top_percent"` per tier) or `"rules"`
/// (`"when"` per tier, text or tree).
///
/// - `config_json`: UTF-8 JSON, at most `CRM_MAX_JSON_LEN` bytes; borrowed.
///
/// JSON Schema of `config_json`: `include/schema/tier_config.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (also for an unknown currency or rule text that
/// does not parse), `CRM_ERR_VALIDATION` (`default`, `basis.tiers`, `basis.tiers[1].min_minor`,
/// ..., `basis.tiers[0].when.<field>` for a field a rule misuses), `CRM_ERR_NOT_FOUND` (a segment or
/// plan a rule names), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_tier_config_set(crm: *const crm_t, config_json: *const c_char) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let config: TierConfig = json_arg(config_json, "config_json")?;
        Ok(crm.set_tier_config(&config)?)
    })
}

/// The stored value-tier settings as JSON (as given to `crm_tier_config_set`, rules as
/// trees), or NULL in `*out_json` (with `CRM_OK`) when none are stored.
///
/// - `out_json`: required; free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_tier_config_get(crm: *const crm_t, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        match crm_arg(crm)?.tier_config()? {
            Some(config) => write_json_opt(out, &config),
            None => Ok(()),
        }
    })
}

/// Re-evaluates every customer's value tier as of a time with the stored settings; changes
/// are stored, recorded in the tier history and appended to the change feed as customer
/// updates. One transaction.
///
/// - `as_of_us`: microseconds since the Unix epoch, or `CRM_NO_TIME` for now.
/// - `out_json`: may be NULL; receives `{"as_of":"...","customers":n,"changed":n,
///   "counts":{"high":n, ...}}` (customers without a tier are not counted; NULL on failure).
///   Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_VALIDATION` (`as_of`;
/// `tiers` when no settings are stored), `CRM_ERR_NOT_FOUND` (a segment or plan a stored rule
/// names), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_tier_refresh(crm: *const crm_t, as_of_us: i64, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        write_json_opt(out_json, &crm.refresh_tiers(as_of(as_of_us)?)?)
    })
}

/// A customer's value tier as of the last refresh.
///
/// - `out_tier`: required; receives the tier's name (UTF-8), or NULL (with `CRM_OK`) when the
///   customer has none. Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_tier_get(crm: *const crm_t, customer_id: i64, out_tier: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_tier, "out_tier")?;
        clear_out(out);
        if let Some(tier) = crm_arg(crm)?.tier_of(CustomerId(customer_id))? {
            out.write(into_c_string(tier)?);
        }
        Ok(())
    })
}

#[derive(Serialize)]
struct TierSince {
    tier: String,
    at: DateTime<Utc>,
}

/// When each value tier of a customer began, oldest first: `[{"tier":"high","at":"..."}, ...]`.
///
/// - `out_json`: required; receives the history (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_tier_history(
    crm: *const crm_t,
    customer_id: i64,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let history: Vec<TierSince> = crm_arg(crm)?
            .tier_history(CustomerId(customer_id))?
            .into_iter()
            .map(|(tier, at)| TierSince { tier, at })
            .collect();
        write_json_opt(out, &history)
    })
}
