//! Incremental matching: one record against the store, in milliseconds, through the
//! blocking keys every customer write keeps ([`match_keys`](super::match_keys)); and the
//! policy that customer writes follow with what it finds (off, suggest, merge
//! automatically above a threshold).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::compare::Pattern;
use super::model::MatchModel;
use super::{FieldEvidence, Standard, MAX_BLOCK_SIZE};
use crate::customer::{CustomerId, IdentityFields};
use crate::error::{Error, Result};

/// Largest [`MatchOptions::limit`].
pub const MAX_MATCHES: usize = 1_000;

/// How [`Crm::match_customer`](crate::Crm::match_customer) looks. Every field has a
/// default; JSON may leave any out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct MatchOptions {
    /// Candidates with a match probability at or above this are returned; `0.0 ..= 1.0`,
    /// default 0.5.
    pub threshold: f64,
    /// At most this many, the most likely first; `1 ..=` [`MAX_MATCHES`], default 10.
    pub limit: usize,
    /// A blocking key shared by more customers than this gives no candidates (as in
    /// [`MatchSettings::max_block_size`](super::MatchSettings::max_block_size)); `2 ..=`
    /// [`MAX_BLOCK_SIZE`], default 500.
    pub max_block_size: u32,
    /// The model to score with; `None` (the default) uses the stored one
    /// ([`Crm::set_match_model`](crate::Crm::set_match_model)).
    pub model: Option<MatchModel>,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions { threshold: 0.5, limit: 10, max_block_size: 500, model: None }
    }
}

impl MatchOptions {
    /// Checks every bound (see the fields) and a given model.
    pub fn validate(&self) -> Result<()> {
        check_threshold(self.threshold)?;
        if !(1..=MAX_MATCHES).contains(&self.limit) {
            return Err(Error::validation("limit", format!("{} is outside 1 ..= {MAX_MATCHES}", self.limit)));
        }
        check_block(self.max_block_size)?;
        if let Some(m) = &self.model {
            m.validate()?;
        }
        Ok(())
    }
}

fn check_threshold(t: f64) -> Result<()> {
    if (0.0..=1.0).contains(&t) {
        Ok(())
    } else {
        Err(Error::validation("threshold", format!("{t} is outside 0 ..= 1")))
    }
}

fn check_block(b: u32) -> Result<()> {
    if (2..=MAX_BLOCK_SIZE).contains(&b) {
        Ok(())
    } else {
        Err(Error::validation("max_block_size", format!("{b} is outside 2 ..= {MAX_BLOCK_SIZE}")))
    }
}

/// A stored customer that may be the record asked about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchCandidate {
    /// The stored customer.
    pub customer: CustomerId,
    /// Match probability, `0 ..= 1`.
    pub probability: f64,
    /// Match weight: the prior's and every field's weight summed.
    pub weight: f64,
    /// Per compared field, in [`FIELDS`](super::FIELDS) order.
    pub evidence: Vec<FieldEvidence>,
}

/// What customer writes do with the likely duplicates of a customer they create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PolicyMode {
    /// Nothing (the default).
    #[default]
    Off,
    /// Record a suggestion ([`Crm::match_suggestions`](crate::Crm::match_suggestions)) for
    /// each stored customer at or above the threshold.
    Suggest,
    /// Merge the new customer into the most likely stored one at or above the threshold
    /// (the stored one survives), logged with actor `auto-match` and the evidence; record
    /// suggestions for the others at or above it.
    AutoMerge,
}

/// The match policy of customer writes: what creating a customer (create, upsert, bulk
/// ingest) does with the stored customers it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct MatchPolicy {
    /// What to do.
    pub mode: PolicyMode,
    /// The match probability from which a stored customer counts; `0.0 ..= 1.0`, default 0.95.
    pub threshold: f64,
    /// As [`MatchOptions::max_block_size`]; default 500.
    pub max_block_size: u32,
}

impl Default for MatchPolicy {
    fn default() -> Self {
        MatchPolicy { mode: PolicyMode::Off, threshold: 0.95, max_block_size: 500 }
    }
}

impl MatchPolicy {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<()> {
        check_threshold(self.threshold)?;
        check_block(self.max_block_size)
    }
}

/// Whether a suggestion is still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionStatus {
    /// Not yet decided.
    Open,
    /// The host said the two are different.
    Dismissed,
    /// The two were merged.
    Merged,
}

impl SuggestionStatus {
    /// The snake-case name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionStatus::Open => "open",
            SuggestionStatus::Dismissed => "dismissed",
            SuggestionStatus::Merged => "merged",
        }
    }

    /// The status of a stored name.
    pub fn parse(s: &str) -> Option<SuggestionStatus> {
        [SuggestionStatus::Open, SuggestionStatus::Dismissed, SuggestionStatus::Merged]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A likely duplicate the match policy found when a customer was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchSuggestion {
    /// Its id.
    pub id: i64,
    /// The customer created.
    pub customer: CustomerId,
    /// The stored customer it matched.
    pub candidate: CustomerId,
    /// Match probability.
    pub probability: f64,
    /// Per compared field: `{"field", "level", "weight"}`.
    pub evidence: serde_json::Value,
    /// Open, dismissed or merged.
    pub status: SuggestionStatus,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// The storage port of incremental matching: what the domain reads.
pub trait MatchStore {
    /// The customers with a blocking key, by id, at most `limit`.
    fn match_candidates(&mut self, key: i64, limit: usize) -> Result<Vec<CustomerId>>;
    /// The fields identity resolution compares of these customers, those not merged away.
    fn identity_fields_of(&mut self, ids: &[CustomerId]) -> Result<Vec<IdentityFields>>;
    /// Suggestions by id after `after`, of one status or all, at most `limit`.
    fn match_suggestions(
        &mut self,
        status: Option<SuggestionStatus>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<MatchSuggestion>>;
}

/// The storage port of incremental matching: what the domain writes.
pub trait MatchStoreMut: MatchStore {
    /// Adds `(key, customer)` rows (a row already there is kept).
    fn add_match_keys(&mut self, rows: &[(i64, CustomerId)]) -> Result<()>;
    /// Removes `(key, customer)` rows.
    fn remove_match_keys(&mut self, rows: &[(i64, CustomerId)]) -> Result<()>;
    /// Stores a suggestion; `None` when one for the same pair is stored (nothing written).
    fn insert_match_suggestion(&mut self, s: &MatchSuggestion) -> Result<Option<i64>>;
    /// Sets a suggestion's status; whether it exists.
    fn set_suggestion_status(&mut self, id: i64, status: SuggestionStatus) -> Result<bool>;
    /// Removes the suggestions naming a customer (it is being deleted).
    fn delete_suggestions_of(&mut self, customer: CustomerId) -> Result<()>;
}

/// Scores `candidates` against `query` with `model`: those at or above `threshold`, the
/// most likely first (then by id), at most `limit`. Pure; the engine of
/// [`Crm::match_customer`](crate::Crm::match_customer).
pub fn score_candidates(
    query: &Standard,
    candidates: &[(CustomerId, Standard)],
    model: &MatchModel,
    threshold: f64,
    limit: usize,
) -> Vec<MatchCandidate> {
    let compared = model.compared();
    let weights = model.weights();
    let mut out: Vec<MatchCandidate> = candidates
        .iter()
        .filter(|(_, s)| s.kind() == query.kind())
        .filter_map(|(id, s)| {
            let p = Pattern::of(query, s, &compared);
            let (weight, probability) = weights.score(p);
            (probability >= threshold).then(|| MatchCandidate {
                customer: *id,
                probability,
                weight,
                evidence: super::evidence(p, &compared, &weights),
            })
        })
        .collect();
    out.sort_by(|x, y| y.probability.total_cmp(&x.probability).then(x.customer.cmp(&y.customer)));
    out.truncate(limit);
    out
}
