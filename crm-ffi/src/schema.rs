//! The JSON Schema (draft 2020-12) of every JSON input of the C API, derived with `schemars`
//! from the very serde types that read the input, so that a schema says what the parser
//! accepts: field names, required fields, `deny_unknown_fields`, enum names, tagged unions.
//! What serde cannot express (an ISO 4217 code that does not exist, a time out of range, a
//! rule that does not check) is refused later with `CRM_ERR_VALIDATION`.
//!
//! `tests/schemas.rs` writes them to `include/schema/<file>` and fails when a checked-in file
//! differs; the header names each function's file. After changing an input type:
//!
//! ```text
//! UPDATE_SCHEMAS=1 cargo test -p crm-ffi --test schemas
//! ```

use crm_core::analytics::{ChurnOptions, ReportOptions, Rfm, Spend, SummaryOptions, ValueOptions};
use crm_core::loyalty::{Program, SimulationOptions};
use crm_core::rule::Expr;
use crm_core::segment::rfm::RfmConfig;
use crm_core::segment::{LifecycleRules, NewSegment, ScoringPlan, SegmentPatch, TierConfig};
use crm_core::synth::SynthConfig;
use crm_core::{CrmConfig, CustomerPatch, CustomerQuery, NewCustomer, NewInteraction, NewOrder, OrderPatch, Refund};
use schemars::{JsonSchema, Schema};

use crate::analytics::{Affinity, AlivePath, Clv, DataFit, Predict, Recommend, Similar, StoreFit};

/// Each JSON input: its schema's file name under `include/schema/`, the functions that take
/// it (`function:parameter` where a function takes several JSON inputs), and the schema.
pub fn input_schemas() -> Vec<(&'static str, &'static [&'static str], Schema)> {
    vec![
        entry::<NewCustomer>("customer.json", &["crm_customer_create", "crm_customer_match:record_json"]),
        entry::<CustomerPatch>(
            "customer_patch.json",
            &["crm_customer_update", "crm_customer_upsert", "crm_customer_upsert_replace", "crm_customer_upsert_from"],
        ),
        entry::<CustomerQuery>("customer_query.json", &["crm_customer_query", "crm_customer_cursor_open"]),
        entry::<NewOrder>("order.json", &["crm_order_record_json"]),
        entry::<OrderPatch>("order_patch.json", &["crm_order_update", "crm_order_update_by_external_id"]),
        entry::<Refund>("refund.json", &["crm_order_refund"]),
        entry::<NewInteraction>("interaction.json", &["crm_interaction_add"]),
        entry::<NewSegment>("segment.json", &["crm_segment_create"]),
        entry::<SegmentPatch>("segment_patch.json", &["crm_segment_update"]),
        entry::<ScoringPlan>("scoring_plan.json", &["crm_scoring_plan_put"]),
        entry::<LifecycleRules>("lifecycle_rules.json", &["crm_lifecycle_rules_set"]),
        entry::<TierConfig>("tier_config.json", &["crm_tier_config_set"]),
        entry::<Expr>("rule.json", &["crm_rule_format"]),
        entry::<Program>("loyalty_program.json", &["crm_loyalty_program_set", "crm_loyalty_simulate:program_json"]),
        entry::<SimulationOptions>("loyalty_simulation_options.json", &["crm_loyalty_simulate:options_json"]),
        entry::<RfmConfig>("rfm_config.json", &["crm_rfm_compute", "crm_rfm_refresh"]),
        entry::<CrmConfig>("config.json", &["crm_open_with"]),
        entry::<crm_core::identity::MatchSettings>(
            "match_settings.json",
            &["crm_find_duplicates", "crm_match_model_train"],
        ),
        entry::<crm_core::identity::MergeRequest>("merge_request.json", &["crm_customer_merge"]),
        entry::<crm_core::identity::UnmergeRequest>("unmerge_request.json", &["crm_customer_unmerge"]),
        entry::<crm_core::identity::MatchOptions>("match_options.json", &["crm_customer_match:options_json"]),
        entry::<crm_core::identity::MatchPolicy>("match_policy.json", &["crm_match_policy_set"]),
        entry::<crm_core::identity::MatchModel>("match_model.json", &["crm_match_model_set"]),
        entry::<crate::ingest::Options>("ingest_options.json", &["crm_ingest_file"]),
        entry::<SynthConfig>("synth_config.json", &["crm_synth_write"]),
        entry::<SummaryOptions>(
            "analytics_summary.json",
            &[
                "crm_analytics_summary",
                "crm_analytics_summaries",
                "crm_analytics_summary_with_progress",
                "crm_analytics_summaries_with_progress",
            ],
        ),
        entry::<StoreFit>("analytics_fit.json", &["crm_analytics_fit", "crm_analytics_fit_with_progress"]),
        entry::<DataFit<Rfm>>(
            "analytics_bgnbd_fit.json",
            &["crm_analytics_bgnbd_fit", "crm_analytics_bgnbd_fit_with_progress"],
        ),
        entry::<DataFit<Spend>>(
            "analytics_gamma_gamma_fit.json",
            &["crm_analytics_gamma_gamma_fit", "crm_analytics_gamma_gamma_fit_with_progress"],
        ),
        entry::<Predict>("analytics_bgnbd_predict.json", &["crm_analytics_bgnbd_predict"]),
        entry::<Clv>("analytics_clv.json", &["crm_analytics_clv"]),
        entry::<ValueOptions>(
            "analytics_customer_values.json",
            &["crm_analytics_customer_values", "crm_analytics_customer_values_with_progress"],
        ),
        entry::<ChurnOptions>(
            "analytics_churn.json",
            &[
                "crm_analytics_churn_risk",
                "crm_analytics_customers_at_risk",
                "crm_analytics_churn_risk_with_progress",
                "crm_analytics_customers_at_risk_with_progress",
            ],
        ),
        entry::<AlivePath>("analytics_alive_path.json", &["crm_analytics_alive_path"]),
        entry::<Similar>("analytics_similar_items.json", &["crm_analytics_similar_items"]),
        entry::<Recommend>("analytics_recommend.json", &["crm_analytics_recommend"]),
        entry::<Affinity>("analytics_category_affinity.json", &["crm_analytics_category_affinity"]),
        entry::<ReportOptions>("analytics_reports.json", &["crm_analytics_reports"]),
    ]
}

fn entry<T: JsonSchema>(
    file: &'static str,
    functions: &'static [&'static str],
) -> (&'static str, &'static [&'static str], Schema) {
    let mut schema = schemars::schema_for!(T);
    schema.insert(
        "$comment".into(),
        format!(
            "The JSON input of {} (include/crm.h). Generated from the Rust types that parse it; \
             regenerate with: UPDATE_SCHEMAS=1 cargo test -p crm-ffi --test schemas",
            functions.join(", ")
        )
        .into(),
    );
    (file, functions, schema)
}
