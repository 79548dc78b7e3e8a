//! Value tiers (for example high / medium / low): by rules in the rule language, by spend
//! thresholds, or by percentiles of spend; stored per customer and readable as `tier`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::money::{Currency, MAX_MINOR};
use crate::rule::Expr;

/// A tier given by a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TierRule {
    /// The tier's name.
    pub name: String,
    /// The condition (text or JSON tree in JSON).
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::segment::rule_schema"))]
    #[serde(deserialize_with = "super::required_rule")]
    pub when: Expr,
}

/// A tier given by a spend threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TierThreshold {
    /// The tier's name.
    pub name: String,
    /// The least spend, minor units.
    pub min_minor: i64,
}

/// A tier given by rank of spend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TierShare {
    /// The tier's name.
    pub name: String,
    /// The share of spenders (percent, above 0 and at most 100) in this tier and those
    /// above it: `high` at 10 and `medium` at 40 give the top 10% `high` and the next 30%
    /// `medium`.
    pub top_percent: f64,
}

/// How tiers are decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
pub enum TierBasis {
    /// Ordered rules, first match wins.
    Rules {
        /// The rules.
        tiers: Vec<TierRule>,
    },
    /// Spend in a currency at or above each threshold, highest first.
    Spend {
        /// The currency.
        currency: Currency,
        /// Thresholds, highest first.
        tiers: Vec<TierThreshold>,
    },
    /// Rank by spend in a currency: the top `at_least` percent, highest tier first. Ties
    /// at a boundary all go to the higher tier.
    Percentile {
        /// The currency.
        currency: Currency,
        /// Shares, highest tier first, increasing.
        tiers: Vec<TierShare>,
    },
}

/// Value-tier settings: how tiers are decided and the tier of customers meeting none
/// (`None`: no tier).
///
/// ```
/// let t: crm_core::segment::TierConfig = serde_json::from_str(r#"{"basis": {"by": "percentile",
///     "currency": "USD", "tiers": [{"name": "high", "top_percent": 10}, {"name": "medium", "top_percent": 40}]},
///     "default": "low"}"#).unwrap();
/// assert_eq!(t.default.as_deref(), Some("low"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// How tiers are decided.
    pub basis: TierBasis,
    /// Tier of the rest.
    #[serde(default)]
    pub default: Option<String>,
}

fn check_tier_name(field: String, name: &str) -> Result<()> {
    super::check_name(&field, name)
}

impl TierConfig {
    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(d) = &self.default {
            check_tier_name("default".into(), d)?;
        }
        match &self.basis {
            TierBasis::Rules { tiers } => {
                if tiers.is_empty() || tiers.len() > 100 {
                    return Err(Error::validation("basis.tiers", "1 to 100 tiers"));
                }
                for (i, t) in tiers.iter().enumerate() {
                    check_tier_name(format!("basis.tiers[{i}].name"), &t.name)?;
                }
            }
            TierBasis::Spend { tiers, .. } => {
                let values: Vec<(&str, f64)> = tiers.iter().map(|t| (t.name.as_str(), t.min_minor as f64)).collect();
                check_ordered(&values, false)?;
            }
            TierBasis::Percentile { tiers, .. } => {
                let values: Vec<(&str, f64)> = tiers.iter().map(|t| (t.name.as_str(), t.top_percent)).collect();
                check_ordered(&values, true)?;
            }
        }
        Ok(())
    }
}

/// Names valid; thresholds in range and strictly ordered from the top tier down.
fn check_ordered(tiers: &[(&str, f64)], percent: bool) -> Result<()> {
    if tiers.is_empty() || tiers.len() > 100 {
        return Err(Error::validation("basis.tiers", "1 to 100 tiers"));
    }
    let mut prev: Option<f64> = None;
    for (i, (name, v)) in tiers.iter().enumerate() {
        check_tier_name(format!("basis.tiers[{i}].name"), name)?;
        let field =
            if percent { format!("basis.tiers[{i}].top_percent") } else { format!("basis.tiers[{i}].min_minor") };
        let in_range =
            if percent { v.is_finite() && *v > 0.0 && *v <= 100.0 } else { *v >= 0.0 && *v <= MAX_MINOR as f64 };
        if !in_range {
            let what =
                if percent { "a percentage above 0 and at most 100" } else { "an amount from 0 to 10^15 minor units" };
            return Err(Error::validation(field, format!("{v} is not {what}")));
        }
        if let Some(p) = prev {
            if (percent && *v <= p) || (!percent && *v >= p) {
                let how = if percent { "increase" } else { "decrease" };
                return Err(Error::validation(
                    field,
                    format!("tiers overlap: thresholds must {how} from the top tier down"),
                ));
            }
        }
        prev = Some(*v);
    }
    Ok(())
}
