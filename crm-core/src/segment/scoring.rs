//! Scoring plans: a named list of (condition, points); a customer's score is the sum of the
//! points of the conditions it meets, readable in rules as `score.<plan>` (lead scoring,
//! engagement scoring).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rule::Expr;

/// One condition of a plan and the points it gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScoringRule {
    /// The condition (text or JSON tree in JSON).
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::segment::rule_schema"))]
    #[serde(deserialize_with = "super::required_rule")]
    pub when: Expr,
    /// Points given when it holds (may be negative; at most 1,000,000 in size).
    pub points: i64,
}

/// A named scoring plan.
///
/// ```
/// let plan: crm_core::segment::ScoringPlan = serde_json::from_str(r#"{"name": "lead",
///     "rules": [{"when": "email is not null", "points": 10},
///               {"when": "count(interactions where kind = \"meeting\" within 30 days) > 0", "points": 25}]}"#)
///     .unwrap();
/// assert_eq!(plan.rules.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScoringPlan {
    /// Unique name: `score.<name>` in rules (letters, digits and underscores).
    pub name: String,
    /// The conditions and their points (at most 1,000).
    pub rules: Vec<ScoringRule>,
}

/// Largest number of rules in a plan.
pub const MAX_PLAN_RULES: usize = 1_000;
/// Largest number of points one rule gives or takes.
pub const MAX_POINTS: i64 = 1_000_000;

impl ScoringPlan {
    /// Checks the name, the number of rules and their points (the conditions are checked
    /// against the stored segments and plans by the facade).
    pub fn validate(&self) -> Result<()> {
        let ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self.name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(Error::validation(
                "name",
                format!(
                    "{:?}: a plan name is 1 to 64 letters, digits and underscores, not starting with a digit",
                    self.name
                ),
            ));
        }
        if self.rules.len() > MAX_PLAN_RULES {
            return Err(Error::validation(
                "rules",
                format!("at most {MAX_PLAN_RULES} rules, got {}", self.rules.len()),
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            if r.points.abs() > MAX_POINTS {
                return Err(Error::validation(
                    format!("rules[{i}].points"),
                    format!("{} is beyond ±{MAX_POINTS}", r.points),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn as_pairs(&self) -> Vec<(Expr, i64)> {
        self.rules.iter().map(|r| (r.when.clone(), r.points)).collect()
    }
}
