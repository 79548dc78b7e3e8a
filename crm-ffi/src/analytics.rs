//! Analytics from C, JSON in and JSON out: purchase summaries, BG/NBD and Gamma-Gamma fits and
//! predictions, lifetime value, churn risk, co-purchase recommendations, category affinity and
//! reports. Options and results are crm-core's `crm_core::analytics` types in their serde
//! shape. Every `out_json` is required, is NULL after a failure, and is freed with
//! `crm_string_free`.
//!
//! A fitted model is plain data (its parameters as JSON): the prediction functions take the
//! parameters of an earlier fit, so there is no model handle, and asking for predictions
//! without parameters is `CRM_ERR_INVALID_JSON` (missing field) or, with parameters that are
//! not finite and positive, `CRM_ERR_VALIDATION`.
//!
//! The long calls (summaries, fits, scoring every customer) also come as
//! `*_with_progress`, which report to a `crm_analytics_progress_fn` that can stop them.

use std::ffi::{c_char, c_void, CStr};
use std::ops::ControlFlow;

use crm_core::analytics::{
    BgNbd, BgNbdParams, ChurnOptions, CoPurchaseOptions, FitOptions, FittedBgNbd, FittedGammaGamma, GammaGamma,
    GammaGammaParams, Period, Progress, ReportOptions, Rfm, Spend, Step, SummaryOptions, ValueOptions,
};
use crm_core::{Crm, Currency, CustomerId};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::convert::{clear_out, json_arg, out_ptr, to_c_json};
use crate::error::{crm_status, ffi_call, FfiResult};
use crate::handle::{crm_arg, crm_t};

/// Parses `input_json`, runs `f`, and writes its result as JSON to `out_json`.
unsafe fn json_in_out<I: DeserializeOwned, O: Serialize>(
    input_json: *const c_char,
    out_json: *mut *mut c_char,
    f: impl FnOnce(I) -> FfiResult<O>,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let input: I = json_arg(input_json, "input_json")?;
        let result = f(input)?;
        out.write(to_c_json(&result)?);
        Ok(())
    })
}

/// As [`json_in_out`], with the store handle.
unsafe fn with_crm<I: DeserializeOwned, O: Serialize>(
    crm: *const crm_t,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
    f: impl FnOnce(&Crm, I) -> FfiResult<O>,
) -> crm_status {
    json_in_out(input_json, out_json, |input: I| {
        let crm = crm_arg(crm)?;
        f(&crm, input)
    })
}

/// Per-customer purchase summary (frequency, recency, T, monetary value; optional holdout).
///
/// - `input_json`: crm-core's `SummaryOptions`: `{"currency":"USD","period":"day",
///   "observation_end":"2026-06-30T00:00:00Z","calibration_end":null,"freq_multiplier":1}`
///   (`period` `"day"` or `"week"`, default day; with `calibration_end`, holdout columns are
///   added; `freq_multiplier` 1 to 366, default 1, divides recency, T and the holdout's
///   duration as `lifetimes`' does: 7 with days gives weeks). Only completed orders in
///   `currency` count.
/// - `out_json`: receives `{"currency","period","freq_multiplier","duration_holdout","rows":
///   [{"customer_id","frequency","recency","t","repeat_spend_minor","monetary_value",
///   "frequency_holdout","monetary_value_holdout"}],"warnings":[{"field","orders","message"}]}`
///   (`warnings` only when orders after `observation_end` or `calibration_end` were counted,
///   because the period holding it reaches past it); free it with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_summary.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON`, `CRM_ERR_VALIDATION` (field `orders`: no
/// completed order in the currency; `observation_end` or `calibration_end`: before every
/// such order; `freq_multiplier`), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_summary(
    crm: *const crm_t,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, o: SummaryOptions| Ok(crm.purchase_summary(&o)?))
}

/// Purchase summaries of every currency with completed orders, in one pass; `input_json` as
/// for `crm_analytics_summary` (its `currency` is ignored). `out_json` receives an array of
/// summaries by currency code; free it with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_summary.json`.
///
/// Errors: as for `crm_analytics_summary`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_summaries(
    crm: *const crm_t,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, o: SummaryOptions| Ok(crm.purchase_summaries(&o)?))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreFit {
    summary: SummaryOptions,
    #[serde(default)]
    fit: FitOptions,
}

#[derive(Serialize)]
struct Models {
    bgnbd: FittedBgNbd,
    gamma_gamma: FittedGammaGamma,
}

/// Summarises the store and fits BG/NBD (every customer) and Gamma-Gamma (repeat buyers).
///
/// - `input_json`: `{"summary": <SummaryOptions>, "fit": {"penalizer":0.0,
///   "max_iterations":500,"tolerance":1e-7}}` (`fit` optional).
/// - `out_json`: receives `{"bgnbd":{"params":{"r","alpha","a","b"},"standard_errors":{...},
///   "log_likelihood","customers","iterations"},"gamma_gamma":{"params":{"p","q","gamma"},...}}`;
///   free it with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_fit.json`.
///
/// Errors: as for `crm_analytics_summary`, and `CRM_ERR_VALIDATION` on field `model` for a
/// fit that does not converge (with the reason), `data` without repeat buyers,
/// `monetary_value` for a repeat buyer whose mean spend is not positive, or an option out of
/// range (`penalizer`, `max_iterations`, `tolerance`). Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_fit(
    crm: *const crm_t,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, i: StoreFit| {
        let m = crm.fit_purchase_models(&i.summary, &i.fit)?;
        Ok(Models { bgnbd: m.bgnbd, gamma_gamma: m.gamma_gamma })
    })
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataFit<T> {
    data: Vec<T>,
    #[serde(default)]
    weights: Option<Vec<f64>>,
    #[serde(default)]
    fit: FitOptions,
}

/// Fits BG/NBD on given histories (no store needed).
///
/// - `input_json`: `{"data":[{"frequency":2,"recency":30.43,"t":38.86},...],
///   "weights":[...] (optional, one per row), "fit":{...} (optional)}`.
/// - `out_json`: receives the fitted model as in `crm_analytics_fit`'s `bgnbd`; free it with
///   `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_bgnbd_fit.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`,
/// `CRM_ERR_INVALID_JSON`, `CRM_ERR_VALIDATION` (`data` empty, `recency` or `weights` wrong,
/// `model` not converged). Thread safety: needs no handle; safe from any thread.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_bgnbd_fit(input_json: *const c_char, out_json: *mut *mut c_char) -> crm_status {
    json_in_out(input_json, out_json, |i: DataFit<Rfm>| Ok(BgNbd::fit(&i.data, i.weights.as_deref(), &i.fit)?))
}

/// Fits Gamma-Gamma on given repeat buyers (no store needed).
///
/// - `input_json`: `{"data":[{"frequency":2,"monetary_value":2235.0},...], "weights":[...]
///   (optional), "fit":{...} (optional)}`; every frequency > 0 and monetary value > 0.
/// - `out_json`: receives the fitted model as in `crm_analytics_fit`'s `gamma_gamma`; free it
///   with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_gamma_gamma_fit.json`.
///
/// Errors: as for `crm_analytics_bgnbd_fit`, with fields `frequency` and `monetary_value`.
/// Thread safety: needs no handle; safe from any thread.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_gamma_gamma_fit(
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    json_in_out(input_json, out_json, |i: DataFit<Spend>| Ok(GammaGamma::fit(&i.data, i.weights.as_deref(), &i.fit)?))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Predict {
    params: BgNbdParams,
    t: f64,
    #[serde(default)]
    histories: Vec<Rfm>,
}

#[derive(Serialize)]
struct Prediction {
    p_alive: f64,
    expected_purchases: f64,
}

#[derive(Serialize)]
struct Predictions {
    expected_purchases_new_customer: f64,
    rows: Vec<Prediction>,
}

/// BG/NBD predictions from fitted parameters.
///
/// - `input_json`: `{"params":{"r","alpha","a","b"},"t":30.0,"histories":[{"frequency",
///   "recency","t"},...]}` (`histories` optional).
/// - `out_json`: receives `{"expected_purchases_new_customer": E[X(t)],"rows":[{"p_alive",
///   "expected_purchases"},...]}`, one row per history, expected purchases over the next `t`
///   periods; free it with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_bgnbd_predict.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`,
/// `CRM_ERR_INVALID_JSON` (missing `params`: no fitted model), `CRM_ERR_VALIDATION` (a
/// parameter not finite and positive, `t`, `recency`, `model`). Thread safety: needs no
/// handle; safe from any thread.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_bgnbd_predict(
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    json_in_out(input_json, out_json, |i: Predict| {
        let m = FittedBgNbd::from_params(i.params)?;
        let rows = i
            .histories
            .iter()
            .map(|h| {
                Ok(Prediction {
                    p_alive: m.probability_alive(h)?,
                    expected_purchases: m.conditional_expected_purchases(i.t, h)?,
                })
            })
            .collect::<crm_core::Result<Vec<_>>>()?;
        Ok(Predictions { expected_purchases_new_customer: m.expected_purchases(i.t)?, rows })
    })
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClvRow {
    frequency: u32,
    recency: f64,
    t: f64,
    monetary_value: f64,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Clv {
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    rows: Vec<ClvRow>,
    #[serde(default)]
    period: Period,
    #[serde(default = "twelve")]
    months: u32,
    #[serde(default = "one_percent")]
    discount_rate: f64,
}

fn twelve() -> u32 {
    12
}
fn one_percent() -> f64 {
    0.01
}

#[derive(Serialize)]
struct ClvOut {
    expected_average_value: f64,
    clv_expected: f64,
    clv_minor: i64,
}

/// Customer lifetime value from fitted parameters of both models.
///
/// - `input_json`: `{"bgnbd":{"r","alpha","a","b"},"gamma_gamma":{"p","q","gamma"},
///   "rows":[{"frequency","recency","t","monetary_value"}],"period":"day","months":12,
///   "discount_rate":0.01}` (`period`, `months`, `discount_rate` optional with these defaults).
/// - `out_json`: receives `[{"expected_average_value","clv_expected","clv_minor"}]`, one per
///   row: expectations in minor units, and the value rounded half to even; free it with
///   `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_clv.json`.
///
/// Errors: as for `crm_analytics_bgnbd_predict`, plus fields `q` (<= 1), `months`,
/// `discount_rate`, `monetary_value`. Thread safety: needs no handle; safe from any thread.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_clv(input_json: *const c_char, out_json: *mut *mut c_char) -> crm_status {
    json_in_out(input_json, out_json, |i: Clv| {
        let bg = FittedBgNbd::from_params(i.bgnbd)?;
        let gg = FittedGammaGamma::from_params(i.gamma_gamma)?;
        let rows = i
            .rows
            .iter()
            .map(|r| {
                let h = Rfm::new(r.frequency, r.recency, r.t);
                let clv = gg.customer_lifetime_value(&bg, &h, r.monetary_value, i.period, i.months, i.discount_rate)?;
                Ok(ClvOut {
                    expected_average_value: gg.conditional_expected_average_value(r.frequency, r.monetary_value)?,
                    clv_expected: clv,
                    clv_minor: crm_core::analytics::round_minor(clv)?,
                })
            })
            .collect::<crm_core::Result<Vec<_>>>()?;
        Ok(rows)
    })
}

/// Summarises the store, fits both models, and predicts every customer's probability alive,
/// expected purchases, expected purchase value and lifetime value.
///
/// - `input_json`: `{"summary":<SummaryOptions>,"fit":{...},"horizon":30.0,"months":12,
///   "discount_rate":0.01}` (all but `summary` optional, with these defaults).
/// - `out_json`: receives `{"currency","bgnbd","gamma_gamma","rows":[{"customer_id",
///   "history","p_alive","expected_purchases","expected_average_value","clv_expected",
///   "clv_minor"}]}`; free it with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_customer_values.json`.
///
/// Errors: as for `crm_analytics_fit`, plus `horizon`, `months`, `discount_rate`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_customer_values(
    crm: *const crm_t,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, o: ValueOptions| Ok(crm.customer_values(&o)?))
}

/// Churn risk of every customer of a summary, in customer order.
///
/// - `input_json`: `{"summary":<SummaryOptions>,"fit":{...},"params":{"r","alpha","a","b"},
///   "threshold":0.7}` (`fit`, `params` and `threshold` optional; with `params` no fit is made).
/// - `out_json`: receives `[{"customer_id","p_alive","gap","rhythm","overdue","risk",
///   "at_risk"}]`; free it with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_churn.json`.
///
/// Errors: as for `crm_analytics_fit`, plus `threshold` outside 0..=1. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_churn_risk(
    crm: *const crm_t,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, o: ChurnOptions| Ok(crm.churn_risk(&o)?))
}

/// As `crm_analytics_churn_risk`, only the customers at risk, riskiest first; free `out_json`
/// with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_churn.json`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_customers_at_risk(
    crm: *const crm_t,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, o: ChurnOptions| Ok(crm.customers_at_risk(&o)?))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlivePath {
    params: BgNbdParams,
    customer_id: CustomerId,
    summary: SummaryOptions,
}

/// Probability alive of one customer over their history, period by period.
///
/// - `input_json`: `{"params":{"r","alpha","a","b"},"customer_id":1,"summary":<SummaryOptions>}`.
/// - `out_json`: receives `[{"period_start":"2026-01-01","periods":0,"p_alive":1.0},...]`; free
///   it with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_alive_path.json`.
///
/// Errors: as for `crm_analytics_bgnbd_predict`, plus `CRM_ERR_NOT_FOUND` (customer),
/// `CRM_ERR_VALIDATION` on `customer` (no completed order in the currency). Thread safety:
/// see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_alive_path(
    crm: *const crm_t,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, i: AlivePath| {
        let m = FittedBgNbd::from_params(i.params)?;
        Ok(crm.probability_alive_path(&m, i.customer_id, &i.summary)?)
    })
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Similar {
    sku: String,
    #[serde(default = "ten")]
    k: usize,
    #[serde(default)]
    options: CoPurchaseOptions,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Recommend {
    customer_id: CustomerId,
    #[serde(default = "ten")]
    k: usize,
    #[serde(default)]
    options: CoPurchaseOptions,
}

fn ten() -> usize {
    10
}

/// "Customers who bought this also bought": the `k` SKUs most similar to `sku` by co-purchase
/// cosine over the completed orders of the store. Each call learns the similarities from
/// every order line again (one scan): a host asking many questions should cache the answers.
///
/// - `input_json`: `{"sku":"SHO-1001","k":10,"options":{"max_items_per_customer":50,
///   "neighbors":50,"min_customers":1}}` (`k`, `options` optional).
/// - `out_json`: receives `[{"sku","similarity","customers"}]`; free it with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_similar_items.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON`, `CRM_ERR_VALIDATION` (`sku` in no completed
/// order, `k`, an option out of range, `orders` without line items), `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_similar_items(
    crm: *const crm_t,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, i: Similar| {
        Ok(crm.co_purchase_model(&i.options)?.similar_items(&i.sku, i.k)?)
    })
}

/// The `k` SKUs to recommend to a customer from co-purchases, leaving out what they bought
/// (one scan of every order line per call, as `crm_analytics_similar_items`).
///
/// - `input_json`: `{"customer_id":1,"k":10,"options":{...}}` (`k`, `options` optional).
/// - `out_json`: receives `[{"sku","score"}]`; free it with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_recommend.json`.
///
/// Errors: as for `crm_analytics_similar_items`, plus `CRM_ERR_NOT_FOUND` (customer).
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_recommend(
    crm: *const crm_t,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, i: Recommend| {
        let model = crm.co_purchase_model(&i.options)?;
        Ok(crm.recommend_for_customer(&model, i.customer_id, i.k)?)
    })
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Affinity {
    currency: Currency,
    #[serde(default)]
    customer_id: Option<CustomerId>,
}

/// Share of units and of spend per category, per customer (or one customer), over completed
/// orders in one currency.
///
/// - `input_json`: `{"currency":"USD","customer_id":1}` (`customer_id` optional: all customers).
/// - `out_json`: receives `[{"customer_id","category","items","spend_minor","currency",
///   "item_share","spend_share"}]`; free it with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_category_affinity.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON` (also an unknown currency), `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_category_affinity(
    crm: *const crm_t,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, i: Affinity| Ok(crm.category_affinity(i.currency, i.customer_id)?))
}

/// Descriptive reports over completed orders in one currency: revenue, orders, average order
/// value and new versus returning customers per period; revenue per channel; monthly cohort
/// retention; orders-per-customer distribution; revenue of saved segments' current members.
///
/// - `input_json`: crm-core's `ReportOptions`: `{"currency":"USD","period":"month",
///   "before":null,"segments":["vips"]}` (`period` `"month"` or `"week"`; `before` an
///   exclusive end, optional; `segments` saved segment names, optional, at most 100).
/// - `out_json`: receives `{"currency","period","revenue":[...],"channels":[...],
///   "cohorts":[...],"frequency":[...],"segments":[...]}`; amounts are integer minor units;
///   free it with `crm_string_free`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_reports.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON`, `CRM_ERR_VALIDATION` (more than 100 segments),
/// `CRM_ERR_NOT_FOUND` (an unknown segment), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_reports(
    crm: *const crm_t,
    input_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, o: ReportOptions| Ok(crm.reports(&o)?))
}

/// Progress of a long analytics call, called on the calling thread between units of work
/// (every few thousand orders or customers read, every likelihood evaluation of a fit, every few hundred
/// customers scored):
///
/// - `step`: what the call is doing, a static string (never free it): `"summary"` (`done`
///   orders summarised; `total` known only at the step's end), `"fit_bgnbd"` and
///   `"fit_gamma_gamma"` (`done` likelihood evaluations; `total` -1), `"score"` (`done` of
///   `total` customers). `done` starts from 0 at each step. Other steps may be added.
/// - `total`: the units of the step in all, or -1 when unknown.
/// - `user`: the pointer given to the call.
///
/// Return `true` to go on, `false` to stop: the call then fails with `CRM_ERR_CANCELLED`,
/// writes nothing and hands nothing out. It must not call `longjmp` or throw a C++ exception
/// through the library; it may call other crm functions.
pub type crm_analytics_progress_fn =
    Option<unsafe extern "C" fn(step: *const c_char, done: u64, total: i64, user: *mut c_void) -> bool>;

fn step_name(step: Step) -> &'static CStr {
    match step {
        Step::Summary => c"summary",
        Step::FitBgNbd => c"fit_bgnbd",
        Step::FitGammaGamma => c"fit_gamma_gamma",
        Step::Score => c"score",
        _ => c"other",
    }
}

/// The core's progress callback for a C one (NULL: never stops).
fn hook(progress: crm_analytics_progress_fn, user: *mut c_void) -> impl FnMut(Progress) -> ControlFlow<()> {
    move |p| {
        let total = p.total.and_then(|n| i64::try_from(n).ok()).unwrap_or(-1);
        match progress {
            Some(f) if !unsafe { f(step_name(p.step).as_ptr(), p.done, total, user) } => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        }
    }
}

/// `crm_analytics_summary`, reporting to `progress` (step `"summary"`; NULL for none) with
/// `user`. Errors: as for `crm_analytics_summary`, and `CRM_ERR_CANCELLED` when `progress`
/// returns `false`. Free `out_json` with `crm_string_free`. Thread safety: see `crm_t`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_summary.json`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use; `progress` is NULL or a function of
/// the documented signature.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_summary_with_progress(
    crm: *const crm_t,
    input_json: *const c_char,
    progress: crm_analytics_progress_fn,
    user: *mut c_void,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, o: SummaryOptions| {
        Ok(crm.purchase_summary_with_progress(&o, &mut hook(progress, user))?)
    })
}

/// `crm_analytics_summaries`, reporting to `progress` (step `"summary"`; NULL for none) with
/// `user`. Errors: as for `crm_analytics_summaries`, and `CRM_ERR_CANCELLED` when `progress`
/// returns `false`. Free `out_json` with `crm_string_free`. Thread safety: see `crm_t`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_summary.json`.
///
/// # Safety
/// As for `crm_analytics_summary_with_progress`.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_summaries_with_progress(
    crm: *const crm_t,
    input_json: *const c_char,
    progress: crm_analytics_progress_fn,
    user: *mut c_void,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, o: SummaryOptions| {
        Ok(crm.purchase_summaries_with_progress(&o, &mut hook(progress, user))?)
    })
}

/// `crm_analytics_fit`, reporting to `progress` (steps `"summary"`, `"fit_bgnbd"`,
/// `"fit_gamma_gamma"`; NULL for none) with `user`. Errors: as for `crm_analytics_fit`, and
/// `CRM_ERR_CANCELLED` when `progress` returns `false`. Free `out_json` with
/// `crm_string_free`. Thread safety: see `crm_t`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_fit.json`.
///
/// # Safety
/// As for `crm_analytics_summary_with_progress`.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_fit_with_progress(
    crm: *const crm_t,
    input_json: *const c_char,
    progress: crm_analytics_progress_fn,
    user: *mut c_void,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, i: StoreFit| {
        let m = crm.fit_purchase_models_with_progress(&i.summary, &i.fit, &mut hook(progress, user))?;
        Ok(Models { bgnbd: m.bgnbd, gamma_gamma: m.gamma_gamma })
    })
}

/// `crm_analytics_bgnbd_fit`, reporting to `progress` (step `"fit_bgnbd"`; NULL for none)
/// with `user`. Errors: as for `crm_analytics_bgnbd_fit`, and `CRM_ERR_CANCELLED` when
/// `progress` returns `false`. Free `out_json` with `crm_string_free`. Thread safety: needs
/// no handle; safe from any thread.
///
/// JSON Schema of `input_json`: `include/schema/analytics_bgnbd_fit.json`.
///
/// # Safety
/// As for `crm_analytics_summary_with_progress`.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_bgnbd_fit_with_progress(
    input_json: *const c_char,
    progress: crm_analytics_progress_fn,
    user: *mut c_void,
    out_json: *mut *mut c_char,
) -> crm_status {
    json_in_out(input_json, out_json, |i: DataFit<Rfm>| {
        Ok(BgNbd::fit_with_progress(&i.data, i.weights.as_deref(), &i.fit, &mut hook(progress, user))?)
    })
}

/// `crm_analytics_gamma_gamma_fit`, reporting to `progress` (step `"fit_gamma_gamma"`; NULL
/// for none) with `user`. Errors: as for `crm_analytics_gamma_gamma_fit`, and
/// `CRM_ERR_CANCELLED` when `progress` returns `false`. Free `out_json` with
/// `crm_string_free`. Thread safety: needs no handle; safe from any thread.
///
/// JSON Schema of `input_json`: `include/schema/analytics_gamma_gamma_fit.json`.
///
/// # Safety
/// As for `crm_analytics_summary_with_progress`.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_gamma_gamma_fit_with_progress(
    input_json: *const c_char,
    progress: crm_analytics_progress_fn,
    user: *mut c_void,
    out_json: *mut *mut c_char,
) -> crm_status {
    json_in_out(input_json, out_json, |i: DataFit<Spend>| {
        Ok(GammaGamma::fit_with_progress(&i.data, i.weights.as_deref(), &i.fit, &mut hook(progress, user))?)
    })
}

/// `crm_analytics_customer_values`, reporting to `progress` (steps `"summary"`,
/// `"fit_bgnbd"`, `"fit_gamma_gamma"`, `"score"`; NULL for none) with `user`. Errors: as for
/// `crm_analytics_customer_values`, and `CRM_ERR_CANCELLED` when `progress` returns `false`.
/// Free `out_json` with `crm_string_free`. Thread safety: see `crm_t`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_customer_values.json`.
///
/// # Safety
/// As for `crm_analytics_summary_with_progress`.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_customer_values_with_progress(
    crm: *const crm_t,
    input_json: *const c_char,
    progress: crm_analytics_progress_fn,
    user: *mut c_void,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, o: ValueOptions| {
        Ok(crm.customer_values_with_progress(&o, &mut hook(progress, user))?)
    })
}

/// `crm_analytics_churn_risk`, reporting to `progress` (steps `"summary"`, `"fit_bgnbd"`
/// unless `params` are given, `"score"`; NULL for none) with `user`. Errors: as for
/// `crm_analytics_churn_risk`, and `CRM_ERR_CANCELLED` when `progress` returns `false`. Free
/// `out_json` with `crm_string_free`. Thread safety: see `crm_t`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_churn.json`.
///
/// # Safety
/// As for `crm_analytics_summary_with_progress`.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_churn_risk_with_progress(
    crm: *const crm_t,
    input_json: *const c_char,
    progress: crm_analytics_progress_fn,
    user: *mut c_void,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, o: ChurnOptions| {
        Ok(crm.churn_risk_with_progress(&o, &mut hook(progress, user))?)
    })
}

/// `crm_analytics_customers_at_risk`, reporting to `progress` as
/// `crm_analytics_churn_risk_with_progress` does. Errors: as for
/// `crm_analytics_churn_risk`, and `CRM_ERR_CANCELLED` when `progress` returns `false`. Free
/// `out_json` with `crm_string_free`. Thread safety: see `crm_t`.
///
/// JSON Schema of `input_json`: `include/schema/analytics_churn.json`.
///
/// # Safety
/// As for `crm_analytics_summary_with_progress`.
#[no_mangle]
pub unsafe extern "C" fn crm_analytics_customers_at_risk_with_progress(
    crm: *const crm_t,
    input_json: *const c_char,
    progress: crm_analytics_progress_fn,
    user: *mut c_void,
    out_json: *mut *mut c_char,
) -> crm_status {
    with_crm(crm, input_json, out_json, |crm, o: ChurnOptions| {
        Ok(crm.customers_at_risk_with_progress(&o, &mut hook(progress, user))?)
    })
}
