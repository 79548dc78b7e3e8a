//! Every JSON input of the C API (include/schema/, crm-ffi/src/schema.rs), through the
//! C entry points that take it: the first byte picks the function, the rest is the JSON (or
//! TOML, or rule text) argument. Whatever the text, the call returns a status that is not a
//! caught panic, not a storage-engine error, and comes with a message; every string the
//! library hands out is freed with `crm_string_free`.
#![no_main]

use std::ffi::c_char;
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use crm::analytics::*;
use crm::customers::*;
use crm::error::crm_status;
use crm::handle::{crm_close, crm_open_with, crm_t};
use crm::identity::*;
use crm::interactions::*;
use crm::loyalty::*;
use crm::orders::*;
use crm::rfm::*;
use crm::rules::*;
use crm::segments::*;
use crm_fuzz::c::{check, cstr, open_fixture, take};
use libfuzzer_sys::fuzz_target;

/// The handle as a token (a `*mut crm_t` is not `Sync`).
static DB: OnceLock<usize> = OnceLock::new();

/// One call with a `char **` out-parameter: runs `f` with it, frees what it got.
fn out_json(what: &str, f: impl FnOnce(*mut *mut c_char) -> crm_status) {
    let mut out = null_mut();
    check(f(&mut out), what);
    take(out);
}

/// The functions, in the order the selector byte picks them.
const NAMES: &[&str] = &[
    "crm_open_with",
    "crm_customer_create",
    "crm_customer_upsert",
    "crm_customer_upsert_replace",
    "crm_customer_update",
    "crm_customer_query",
    "crm_customer_cursor_open",
    "crm_order_record_json",
    "crm_order_update",
    "crm_order_update_by_external_id",
    "crm_order_refund",
    "crm_interaction_add",
    "crm_segment_create",
    "crm_segment_update",
    "crm_scoring_plan_put",
    "crm_lifecycle_rules_set",
    "crm_tier_config_set",
    "crm_rule_format",
    "crm_rule_parse",
    "crm_rule_check",
    "crm_loyalty_program_set(json)",
    "crm_loyalty_program_set(toml)",
    "crm_loyalty_simulate(program)",
    "crm_loyalty_simulate(options)",
    "crm_rfm_compute",
    "crm_rfm_refresh",
    "crm_find_duplicates",
    "crm_match_model_train",
    "crm_customer_merge",
    "crm_customer_unmerge",
    "crm_customer_match(record)",
    "crm_customer_match(options)",
    "crm_match_policy_set",
    "crm_match_model_set",
    "crm_analytics_summary",
    "crm_analytics_summaries",
    "crm_analytics_fit",
    "crm_analytics_bgnbd_fit",
    "crm_analytics_gamma_gamma_fit",
    "crm_analytics_bgnbd_predict",
    "crm_analytics_clv",
    "crm_analytics_customer_values",
    "crm_analytics_churn_risk",
    "crm_analytics_customers_at_risk",
    "crm_analytics_alive_path",
    "crm_analytics_similar_items",
    "crm_analytics_recommend",
    "crm_analytics_category_affinity",
    "crm_analytics_reports",
    "crm_customer_upsert_from",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let db = *DB.get_or_init(|| open_fixture() as usize) as *const crm_t;
    let which = usize::from(sel) % NAMES.len();
    let what = NAMES[which];
    let arg = cstr(rest);
    let j = arg.as_ptr();
    let record = cstr(crm_fuzz::CUSTOMERS[0].as_bytes());
    unsafe {
        match which {
            0 => {
                let mut h = null_mut();
                if check(crm_open_with(c":memory:".as_ptr(), j, &mut h), what) == crm_status::CRM_OK {
                    assert_eq!(crm_close(h), crm_status::CRM_OK);
                }
            }
            1 => out_json(what, |o| crm_customer_create(db, j, null_mut(), o)),
            2 => out_json(what, |o| crm_customer_upsert(db, j, null_mut(), null_mut(), o)),
            3 => out_json(what, |o| crm_customer_upsert_replace(db, j, null_mut(), null_mut(), o)),
            4 => out_json(what, |o| crm_customer_update(db, 1, j, o)),
            5 => out_json(what, |o| crm_customer_query(db, j, o)),
            6 => {
                let mut cur = null_mut();
                if check(crm_customer_cursor_open(db, j, &mut cur), what) == crm_status::CRM_OK {
                    for _ in 0..3 {
                        out_json("crm_customer_cursor_next", |o| crm_customer_cursor_next(cur, o));
                    }
                    assert_eq!(crm_customer_cursor_free(cur), crm_status::CRM_OK);
                }
            }
            7 => out_json(what, |o| crm_order_record_json(db, j, null_mut(), null_mut(), o)),
            8 => out_json(what, |o| crm_order_update(db, 1, j, null_mut(), o)),
            9 => out_json(what, |o| crm_order_update_by_external_id(db, c"O3".as_ptr(), j, null_mut(), o)),
            10 => out_json(what, |o| crm_order_refund(db, c"O1".as_ptr(), j, null_mut(), o)),
            11 => out_json(what, |o| crm_interaction_add(db, j, null_mut(), null_mut(), o)),
            12 => out_json(what, |o| crm_segment_create(db, j, o)),
            13 => out_json(what, |o| crm_segment_update(db, c"buyers".as_ptr(), j, o)),
            14 => drop(check(crm_scoring_plan_put(db, j), what)),
            15 => drop(check(crm_lifecycle_rules_set(db, j), what)),
            16 => drop(check(crm_tier_config_set(db, j), what)),
            17 => out_json(what, |o| crm_rule_format(j, o)),
            18 => out_json(what, |o| crm_rule_parse(j, o)),
            19 => drop(check(crm_rule_check(db, j), what)),
            20 => drop(check(crm_loyalty_program_set(db, j, false), what)),
            21 => drop(check(crm_loyalty_program_set(db, j, true), what)),
            22 => out_json(what, |o| crm_loyalty_simulate(db, j, null(), o)),
            23 => out_json(what, |o| crm_loyalty_simulate(db, null(), j, o)),
            24 => out_json(what, |o| crm_rfm_compute(db, j, o)),
            25 => out_json(what, |o| crm_rfm_refresh(db, j, o)),
            26 => out_json(what, |o| crm_find_duplicates(db, j, o)),
            27 => out_json(what, |o| crm_match_model_train(db, j, o)),
            28 => out_json(what, |o| crm_customer_merge(db, 3, 4, j, o)),
            29 => out_json(what, |o| crm_customer_unmerge(db, 4, j, o)),
            30 => out_json(what, |o| crm_customer_match(db, j, null(), o)),
            31 => out_json(what, |o| crm_customer_match(db, record.as_ptr(), j, o)),
            32 => drop(check(crm_match_policy_set(db, j), what)),
            33 => drop(check(crm_match_model_set(db, j), what)),
            34 => out_json(what, |o| crm_analytics_summary(db, j, o)),
            35 => out_json(what, |o| crm_analytics_summaries(db, j, o)),
            36 => out_json(what, |o| crm_analytics_fit(db, j, o)),
            37 => out_json(what, |o| crm_analytics_bgnbd_fit(j, o)),
            38 => out_json(what, |o| crm_analytics_gamma_gamma_fit(j, o)),
            39 => out_json(what, |o| crm_analytics_bgnbd_predict(j, o)),
            40 => out_json(what, |o| crm_analytics_clv(j, o)),
            41 => out_json(what, |o| crm_analytics_customer_values(db, j, o)),
            42 => out_json(what, |o| crm_analytics_churn_risk(db, j, o)),
            43 => out_json(what, |o| crm_analytics_customers_at_risk(db, j, o)),
            44 => out_json(what, |o| crm_analytics_alive_path(db, j, o)),
            45 => out_json(what, |o| crm_analytics_similar_items(db, j, o)),
            46 => out_json(what, |o| crm_analytics_recommend(db, j, o)),
            47 => out_json(what, |o| crm_analytics_category_affinity(db, j, o)),
            48 => out_json(what, |o| crm_analytics_reports(db, j, o)),
            49 => out_json(what, |o| crm_customer_upsert_from(db, c"shop".as_ptr(), j, null_mut(), null_mut(), o)),
            _ => unreachable!(),
        }
    }
});
