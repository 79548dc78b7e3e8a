//! Identity resolution: the duplicate finder's report, merges, unmerges and the merge log
//! as JSON (crm.identity builds the frames and records). The rules are crm-core's
//! `identity`; this module converts the arguments and the results.

use crm_core::identity::{
    MatchModel, MatchOptions, MatchPolicy, MatchSettings, MergeRequest, SuggestionStatus, UnmergeRequest,
};
use crm_core::{CustomerId, NewCustomer};
use pyo3::prelude::*;

use crate::error::Result;
use crate::handle::PyCrm;
use crate::json;

#[pymethods]
impl PyCrm {
    /// Finds likely duplicates under JSON `MatchSettings` with `threshold` in place of its
    /// own (a float, so that NaN reaches the core's check rather than failing as JSON);
    /// returns the `DuplicateReport` as JSON. Runs with the GIL released.
    fn find_duplicates(&self, py: Python<'_>, settings: String, threshold: f64) -> Result<String> {
        self.run(py, move |crm| {
            let mut settings = MatchSettings::parse(&settings)?;
            settings.threshold = threshold;
            Ok(json::dump(&crm.find_duplicates(&settings)?))
        })
    }

    /// Merges customer `merged` into `survivor` with the `MergeRequest` JSON; returns the
    /// `MergeOutcome` as JSON. Runs with the GIL released.
    fn merge_customers(&self, py: Python<'_>, survivor: i64, merged: i64, request: String) -> Result<String> {
        self.run(py, move |crm| {
            let request: MergeRequest = json::parse(&request)?;
            Ok(json::dump(&crm.merge_customers(CustomerId(survivor), CustomerId(merged), &request)?))
        })
    }

    /// Undoes the merge of customer `merged` with the `UnmergeRequest` JSON; returns the
    /// `MergeOutcome` as JSON. Runs with the GIL released.
    fn unmerge_customer(&self, py: Python<'_>, merged: i64, request: String) -> Result<String> {
        self.run(py, move |crm| {
            let request: UnmergeRequest = json::parse(&request)?;
            Ok(json::dump(&crm.unmerge_customer(CustomerId(merged), &request)?))
        })
    }

    /// The merges a customer took part in, as a JSON array of `MergeRecord`s.
    fn merge_history(&self, py: Python<'_>, customer: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.merge_history(CustomerId(customer))?)))
    }

    /// The stored customers a JSON `NewCustomer` may be, under JSON `MatchOptions` with
    /// `threshold` in place of its own (a float, so that NaN reaches the core's check);
    /// returns the candidates as JSON. Runs with the GIL released.
    fn match_customer(&self, py: Python<'_>, record: String, options: String, threshold: f64) -> Result<String> {
        self.run(py, move |crm| {
            let record: NewCustomer = json::parse(&record)?;
            let mut options: MatchOptions = json::parse(&options)?;
            options.threshold = threshold;
            Ok(json::dump(&crm.match_customer(&record, &options)?))
        })
    }

    /// Stores a JSON `MatchModel`.
    fn set_match_model(&self, py: Python<'_>, model: String) -> Result<()> {
        self.run(py, move |crm| Ok(crm.set_match_model(&json::parse::<MatchModel>(&model)?)?))
    }

    /// The stored model as JSON, or `None`.
    fn match_model(&self, py: Python<'_>) -> Result<Option<String>> {
        self.run(py, move |crm| Ok(crm.match_model()?.map(|m| json::dump(&m))))
    }

    /// Estimates, stores and returns (JSON) a model under JSON `MatchSettings`. Runs with the
    /// GIL released.
    fn train_match_model(&self, py: Python<'_>, settings: String) -> Result<String> {
        self.run(py, move |crm| {
            let settings = MatchSettings::parse(&settings)?;
            Ok(json::dump(&crm.train_match_model(&settings)?))
        })
    }

    /// Stores a JSON `MatchPolicy` with `threshold` in place of its own.
    fn set_match_policy(&self, py: Python<'_>, policy: String, threshold: f64) -> Result<()> {
        self.run(py, move |crm| {
            let mut policy: MatchPolicy = json::parse(&policy)?;
            policy.threshold = threshold;
            Ok(crm.set_match_policy(&policy)?)
        })
    }

    /// The stored policy as JSON.
    fn match_policy(&self, py: Python<'_>) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.match_policy()?)))
    }

    /// Suggestions (JSON) of one status (`None`: all) after id `after`, at most `limit`.
    #[pyo3(signature = (status, after, limit))]
    fn match_suggestions(&self, py: Python<'_>, status: Option<String>, after: i64, limit: usize) -> Result<String> {
        self.run(py, move |crm| {
            let status = status.map(|s| parse_status(&s)).transpose()?;
            Ok(json::dump(&crm.match_suggestions(status, after, limit)?))
        })
    }

    /// Marks a suggestion `dismissed` or `merged`.
    fn resolve_suggestion(&self, py: Python<'_>, id: i64, status: String) -> Result<()> {
        self.run(py, move |crm| Ok(crm.resolve_suggestion(id, parse_status(&status)?)?))
    }

    /// Computes the match keys of customers stored before schema 10 (once).
    fn ensure_match_keys(&self, py: Python<'_>) -> Result<()> {
        self.run(py, move |crm| Ok(crm.ensure_match_keys()?))
    }
}

/// A suggestion status by name; an unknown one is a validation error on `status`.
fn parse_status(s: &str) -> Result<SuggestionStatus> {
    SuggestionStatus::parse(s).ok_or_else(|| {
        crm_core::Error::validation(
            "status",
            format!("{s:?} is not a status; use \"open\", \"dismissed\" or \"merged\""),
        )
        .into()
    })
}
