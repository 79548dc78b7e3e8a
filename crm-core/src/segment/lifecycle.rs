//! Lifecycle stages assigned by rules: an ordered list of (stage, condition); the first
//! condition a customer meets gives its stage, and a customer meeting none keeps its stage.
//! Every change is recorded with its time, so a customer's history shows when each stage began.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::{CustomerId, LifecycleStage};
use crate::error::{Error, Result};
use crate::rule::{parse, Expr};

/// One rule: customers meeting `when` are in `stage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StageRule {
    /// The stage given.
    pub stage: LifecycleStage,
    /// The condition (text or JSON tree in JSON).
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::segment::rule_schema"))]
    #[serde(deserialize_with = "super::required_rule")]
    pub when: Expr,
}

/// Ordered lifecycle rules, evaluated first match wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LifecycleRules {
    /// The rules, in order (at most 100).
    pub rules: Vec<StageRule>,
}

impl Default for LifecycleRules {
    /// The default rules, in order:
    ///
    /// | stage | when |
    /// |---|---|
    /// | won_back | `lifecycle in ["churned", "won_back"] and last_order_at within 90 days` |
    /// | prospect | `order_count = 0` |
    /// | churned | `last_order_at before now() - 365 days` |
    /// | at_risk | `last_order_at before now() - 180 days` |
    /// | new | `first_order_at within 90 days` |
    /// | loyal | `order_count >= 5 and last_order_at within 180 days` |
    /// | active | `true` |
    fn default() -> Self {
        let rule = |stage, text: &str| StageRule { stage, when: parse(text).unwrap_or(Expr::Bool { value: false }) };
        LifecycleRules {
            rules: vec![
                rule(
                    LifecycleStage::WonBack,
                    r#"lifecycle in ["churned", "won_back"] and last_order_at within 90 days"#,
                ),
                rule(LifecycleStage::Prospect, "order_count = 0"),
                rule(LifecycleStage::Churned, "last_order_at before now() - 365 days"),
                rule(LifecycleStage::AtRisk, "last_order_at before now() - 180 days"),
                rule(LifecycleStage::New, "first_order_at within 90 days"),
                rule(LifecycleStage::Loyal, "order_count >= 5 and last_order_at within 180 days"),
                rule(LifecycleStage::Active, "true"),
            ],
        }
    }
}

impl LifecycleRules {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.rules.is_empty() || self.rules.len() > 100 {
            return Err(Error::validation("rules", format!("1 to 100 rules, got {}", self.rules.len())));
        }
        Ok(())
    }
}

/// A stage change made by a refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageChange {
    /// The customer.
    pub customer_id: CustomerId,
    /// The stage before.
    pub from: LifecycleStage,
    /// The stage after.
    pub to: LifecycleStage,
    /// When (the refresh's as-of time).
    pub at: DateTime<Utc>,
}
