//! Segmentation: saved segments (dynamic rules or static lists) and their snapshots, scoring
//! plans and scores, lifecycle rules and stages, value tiers. Records and settings leave as
//! JSON in the core's serde shapes; settings holding rules enter the same way.

use crm_core::segment::{LifecycleRules, NewSegment, ScoringPlan, SegmentPatch, TierConfig};
use crm_core::CustomerId;
use pyo3::prelude::*;

use crate::error::Result;
use crate::handle::PyCrm;
use crate::json;
use crate::rules::{as_of, rule_arg};

fn ids(v: Vec<i64>) -> Vec<CustomerId> {
    v.into_iter().map(CustomerId).collect()
}

#[pymethods]
impl PyCrm {
    /// Creates a segment: dynamic with a rule, static (listing `members`) without.
    #[pyo3(signature = (name, rule, description, members))]
    fn create_segment(
        &self,
        py: Python<'_>,
        name: String,
        rule: Option<&Bound<'_, PyAny>>,
        description: Option<String>,
        members: Vec<i64>,
    ) -> Result<String> {
        let new = NewSegment { name, description, rule: rule.map(rule_arg).transpose()?, members: ids(members) };
        self.run(py, move |crm| Ok(json::dump(&crm.create_segment(&new)?)))
    }

    /// Changes a segment; `set_description` says whether `description` (None: clear) applies.
    #[pyo3(signature = (name, new_name, set_description, description, rule))]
    fn update_segment(
        &self,
        py: Python<'_>,
        name: String,
        new_name: Option<String>,
        set_description: bool,
        description: Option<String>,
        rule: Option<&Bound<'_, PyAny>>,
    ) -> Result<String> {
        let patch = SegmentPatch {
            name: new_name,
            description: set_description.then_some(description),
            rule: rule.map(rule_arg).transpose()?,
        };
        self.run(py, move |crm| Ok(json::dump(&crm.update_segment(&name, &patch)?)))
    }

    /// Deletes a segment.
    fn delete_segment(&self, py: Python<'_>, name: String) -> Result<()> {
        self.run(py, move |crm| Ok(crm.delete_segment(&name)?))
    }

    /// A segment by name, as JSON.
    fn segment(&self, py: Python<'_>, name: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.segment(&name)?)))
    }

    /// Every segment, by name, as JSON.
    fn segments(&self, py: Python<'_>) -> Result<String> {
        self.run(py, |crm| Ok(json::dump(&crm.segments()?)))
    }

    /// Number of a segment's members now.
    fn segment_count(&self, py: Python<'_>, name: String) -> Result<i64> {
        self.run(py, move |crm| Ok(crm.segment_count(&name)?))
    }

    /// Ids of a segment's members now, ascending, after `after`, at most `limit`.
    #[pyo3(signature = (name, after, limit))]
    fn segment_members(&self, py: Python<'_>, name: String, after: Option<i64>, limit: usize) -> Result<Vec<i64>> {
        self.run(py, move |crm| {
            Ok(crm.segment_members(&name, after.map(CustomerId), limit)?.into_iter().map(|id| id.0).collect())
        })
    }

    /// Whether a customer is a member of a segment now.
    fn is_member(&self, py: Python<'_>, customer_id: i64, name: String) -> Result<bool> {
        self.run(py, move |crm| Ok(crm.is_member(CustomerId(customer_id), &name)?))
    }

    /// Adds customers to a static segment; returns how many were not members.
    fn add_segment_members(&self, py: Python<'_>, name: String, customers: Vec<i64>) -> Result<usize> {
        self.run(py, move |crm| Ok(crm.add_segment_members(&name, &ids(customers))?))
    }

    /// Removes customers from a static segment; returns how many were members.
    fn remove_segment_members(&self, py: Python<'_>, name: String, customers: Vec<i64>) -> Result<usize> {
        self.run(py, move |crm| Ok(crm.remove_segment_members(&name, &ids(customers))?))
    }

    /// Snapshots a dynamic segment; returns the `Snapshot` as JSON.
    fn snapshot_segment(&self, py: Python<'_>, name: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.snapshot_segment(&name)?)))
    }

    /// Stores a JSON `ScoringPlan`.
    fn put_scoring_plan(&self, py: Python<'_>, plan: String) -> Result<()> {
        self.run(py, move |crm| Ok(crm.put_scoring_plan(&json::parse::<ScoringPlan>(&plan)?)?))
    }

    /// Every scoring plan, by name, as JSON.
    fn scoring_plans(&self, py: Python<'_>) -> Result<String> {
        self.run(py, |crm| Ok(json::dump(&crm.scoring_plans()?)))
    }

    /// Deletes a scoring plan.
    fn delete_scoring_plan(&self, py: Python<'_>, name: String) -> Result<()> {
        self.run(py, move |crm| Ok(crm.delete_scoring_plan(&name)?))
    }

    /// A customer's score under a plan now.
    fn score(&self, py: Python<'_>, customer_id: i64, plan: String) -> Result<i64> {
        self.run(py, move |crm| Ok(crm.score(CustomerId(customer_id), &plan)?))
    }

    /// Every customer's score under a plan now: `(customer_ids, scores)`, ascending by id.
    fn scores(&self, py: Python<'_>, plan: String) -> Result<(Vec<i64>, Vec<i64>)> {
        self.run(py, move |crm| Ok(crm.scores(&plan)?.into_iter().map(|(id, s)| (id.0, s)).unzip()))
    }

    /// Stores JSON `LifecycleRules`.
    fn set_lifecycle_rules(&self, py: Python<'_>, rules: String) -> Result<()> {
        self.run(py, move |crm| Ok(crm.set_lifecycle_rules(&json::parse::<LifecycleRules>(&rules)?)?))
    }

    /// The lifecycle rules (stored, or the defaults) as JSON.
    fn lifecycle_rules(&self, py: Python<'_>) -> Result<String> {
        self.run(py, |crm| Ok(json::dump(&crm.lifecycle_rules()?)))
    }

    /// Re-evaluates every customer's stage; returns the `Refresh` as JSON.
    #[pyo3(signature = (as_of_us=None))]
    fn refresh_lifecycle(&self, py: Python<'_>, as_of_us: Option<i64>) -> Result<String> {
        let as_of = as_of(as_of_us)?;
        self.run(py, move |crm| Ok(json::dump(&crm.refresh_lifecycle(as_of)?)))
    }

    /// A customer's stage history as JSON `[[stage, at], ...]`.
    fn stage_history(&self, py: Python<'_>, customer_id: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.stage_history(CustomerId(customer_id))?)))
    }

    /// Stores a JSON `TierConfig`.
    fn set_tier_config(&self, py: Python<'_>, config: String) -> Result<()> {
        self.run(py, move |crm| Ok(crm.set_tier_config(&json::parse::<TierConfig>(&config)?)?))
    }

    /// The stored `TierConfig` as JSON, or None.
    fn tier_config(&self, py: Python<'_>) -> Result<Option<String>> {
        self.run(py, |crm| Ok(crm.tier_config()?.map(|c| json::dump(&c))))
    }

    /// Re-evaluates every customer's tier; returns the `Refresh` as JSON.
    #[pyo3(signature = (as_of_us=None))]
    fn refresh_tiers(&self, py: Python<'_>, as_of_us: Option<i64>) -> Result<String> {
        let as_of = as_of(as_of_us)?;
        self.run(py, move |crm| Ok(json::dump(&crm.refresh_tiers(as_of)?)))
    }

    /// A customer's value tier, or None.
    fn tier_of(&self, py: Python<'_>, customer_id: i64) -> Result<Option<String>> {
        self.run(py, move |crm| Ok(crm.tier_of(CustomerId(customer_id))?))
    }

    /// A customer's tier history as JSON `[[tier, at], ...]`.
    fn tier_history(&self, py: Python<'_>, customer_id: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.tier_history(CustomerId(customer_id))?)))
    }
}
