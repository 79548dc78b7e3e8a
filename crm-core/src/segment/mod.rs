//! Segmentation: saved segments (dynamic rules or static lists) with membership snapshots,
//! RFM scores, value tiers, lifecycle stages and scoring plans, all written in the
//! [rule language](crate::rule).

pub(crate) mod api;
pub mod lifecycle;
pub mod rfm;
pub mod scoring;
mod store;
pub mod tiers;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::rule::{parse, Expr};

pub(crate) use api::{evaluate_one, members_now, record_stage_change};
pub use api::{Refresh, Snapshot, MAX_MEMBERS_PAGE};
pub use lifecycle::{LifecycleRules, StageChange, StageRule};
pub use rfm::{RfmBoundaries, RfmConfig, RfmGrid, RfmInput, RfmModel, RfmScore, RfmTable};
pub use scoring::{ScoringPlan, ScoringRule};
pub use store::{Classified, HistoryEntry, SegmentRead, SegmentStore, SegmentStoreMut};
pub use tiers::{TierBasis, TierConfig, TierRule, TierShare, TierThreshold};

/// Store id of a saved segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SegmentId(pub i64);

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a segment's members are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    /// Members are the customers meeting the rule, re-evaluated on every read.
    Dynamic,
    /// Members are a stored list, changed only by adding and removing customers.
    Static,
}

/// A saved segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Store id.
    pub id: SegmentId,
    /// Unique name, used by `in segment "name"`.
    pub name: String,
    /// Dynamic or static.
    pub kind: SegmentKind,
    /// The rule of a dynamic segment (its text form is `rule.to_string()`).
    pub rule: Option<Expr>,
    /// Free text.
    pub description: Option<String>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// When the members of a dynamic segment were last snapshotted.
    pub snapshot_at: Option<DateTime<Utc>>,
}

/// A segment to create. A `rule` makes it dynamic; without one it is static, listing
/// `members`. In JSON the rule is either its text or its tree.
///
/// ```
/// let s: crm_core::segment::NewSegment = serde_json::from_str(
///     r#"{"name": "big spenders", "rule": "total_spent >= 1000.00 USD"}"#).unwrap();
/// assert!(s.rule.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSegment {
    /// Unique name (1 to 128 characters).
    pub name: String,
    /// Free text (up to 2,000 characters).
    #[serde(default)]
    pub description: Option<String>,
    /// The rule of a dynamic segment.
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::segment::optional_rule_schema"))]
    #[serde(default, deserialize_with = "rule_or_text")]
    pub rule: Option<Expr>,
    /// The first members of a static segment.
    #[serde(default)]
    pub members: Vec<CustomerId>,
}

/// Changes to a saved segment; absent fields stay as they are.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SegmentPatch {
    /// A new name (references by name in other rules must then be updated by the caller).
    #[serde(default)]
    pub name: Option<String>,
    /// A new description (`Some(None)` clears it).
    #[serde(default, deserialize_with = "crate::customer::double_option", skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<String>>,
    /// A new rule (dynamic segments only).
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::segment::optional_rule_schema"))]
    #[serde(default, deserialize_with = "rule_or_text")]
    pub rule: Option<Expr>,
}

/// Reads a rule given as text (parsed) or as its JSON tree.
pub(crate) fn rule_or_text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Expr>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Tree(Expr),
    }
    match Option::<Either>::deserialize(d)? {
        None => Ok(None),
        Some(Either::Tree(e)) => Ok(Some(e)),
        Some(Either::Text(t)) => parse(&t).map(Some).map_err(serde::de::Error::custom),
    }
}

/// The JSON Schema of a rule as [`required_rule`] reads it: its text form or its JSON tree.
#[cfg(feature = "schema")]
pub(crate) fn rule_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let tree = g.subschema_for::<Expr>();
    schemars::json_schema!({
        "anyOf": [{"type": "string", "description": "The rule in its text form."}, tree]
    })
}

/// The JSON Schema of a rule as [`rule_or_text`] reads it: text, tree or null (none).
#[cfg(feature = "schema")]
pub(crate) fn optional_rule_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let tree = g.subschema_for::<Expr>();
    schemars::json_schema!({
        "anyOf": [{"type": "string", "description": "The rule in its text form."}, tree, {"type": "null"}]
    })
}

/// Reads a required rule given as text or as its JSON tree.
pub(crate) fn required_rule<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Expr, D::Error> {
    rule_or_text(d)?.ok_or_else(|| serde::de::Error::custom("a rule is required"))
}

pub(crate) fn check_name(field: &str, name: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || n > 128 || name.trim() != name || name.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            format!("{name:?}: a name is 1 to 128 characters, without control characters or outer spaces"),
        ));
    }
    Ok(())
}
