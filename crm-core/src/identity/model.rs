//! The Fellegi-Sunter model: for each field and level, `m` (the probability of the level
//! among true matches) and `u` (among non-matches); a pair's match weight is the sum of
//! `log2(m / u)` over the fields it has values for, plus the prior's `log2(λ / (1 - λ))`,
//! and its match probability is `2^w / (1 + 2^w)`.
//!
//! Estimated from the data as splink does: `u` from pairs drawn at random from all
//! customers (nearly all of which are non-matches), then `λ` and `m` by
//! expectation-maximisation over the candidate pairs, with `u` held fixed. EM runs over
//! distinct comparison patterns with their counts, so an iteration costs the number of
//! patterns (a few thousand at most), not the number of pairs.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::compare::{MatchField, Pattern, FIELDS};
use super::standardize::Standard;
use crate::error::{Error, Result};

/// `m` and `u` are kept inside `[PROB_FLOOR, 1 - PROB_FLOOR]` so that no weight is infinite.
pub const PROB_FLOOR: f64 = 1e-6;

/// One level's probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LevelModel {
    /// The level's name (see [`MatchField::levels`]).
    pub level: String,
    /// Probability of this level among true matches, in `(0, 1]`.
    pub m: f64,
    /// Probability of this level among non-matches, in `(0, 1]`.
    pub u: f64,
}

impl LevelModel {
    /// The level's match weight, `log2(m / u)`.
    pub fn weight(&self) -> f64 {
        (self.m / self.u).log2()
    }
}

/// One field's levels, in the order of [`MatchField::levels`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FieldModel {
    /// The field.
    pub field: MatchField,
    /// Every level of the field, in order.
    pub levels: Vec<LevelModel>,
}

/// How a model was estimated (absent for a model the host set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Estimation {
    /// Random pairs that `u` was counted on.
    pub u_pairs: u64,
    /// Candidate pairs that EM ran on.
    pub candidate_pairs: u64,
    /// EM iterations run.
    pub iterations: u32,
    /// Whether EM stopped because no probability moved by more than 1e-5.
    pub converged: bool,
}

/// A Fellegi-Sunter model (see the [module documentation](self)). Returned by every
/// duplicate search, and accepted back (or written by the host) in
/// [`MatchSettings::model`](super::MatchSettings::model) to skip estimation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MatchModel {
    /// `λ`: the share of true matches among candidate pairs, in `(0, 1)`.
    pub prior: f64,
    /// The compared fields, each at most once; a field left out is not compared.
    pub fields: Vec<FieldModel>,
    /// How the model was estimated; `None` when the host set it.
    #[serde(default)]
    pub estimation: Option<Estimation>,
}

impl MatchModel {
    /// Checks a host's model: `prior` in `(0, 1)`, at least one field, each field once with
    /// exactly its levels in order, every `m` and `u` in `(0, 1]`. Errors name the path
    /// (`model.fields[1].levels[0].m`).
    pub fn validate(&self) -> Result<()> {
        let finite_in = |v: f64, lo_open: f64, hi: f64, hi_open: bool| {
            v.is_finite() && v > lo_open && if hi_open { v < hi } else { v <= hi }
        };
        if !finite_in(self.prior, 0.0, 1.0, true) {
            return Err(Error::validation("model.prior", format!("{} is outside (0, 1)", self.prior)));
        }
        if self.fields.is_empty() {
            return Err(Error::validation("model.fields", "a model compares at least one field"));
        }
        for (i, f) in self.fields.iter().enumerate() {
            if self.fields[..i].iter().any(|g| g.field == f.field) {
                return Err(Error::validation(
                    format!("model.fields[{i}].field"),
                    format!("{} appears twice", f.field.as_str()),
                ));
            }
            let names = f.field.levels();
            let given: Vec<&str> = f.levels.iter().map(|l| l.level.as_str()).collect();
            if given != names {
                return Err(Error::validation(
                    format!("model.fields[{i}].levels"),
                    format!("the levels of {} are {names:?} in this order, not {given:?}", f.field.as_str()),
                ));
            }
            for (j, l) in f.levels.iter().enumerate() {
                for (name, v) in [("m", l.m), ("u", l.u)] {
                    if !finite_in(v, 0.0, 1.0, false) {
                        return Err(Error::validation(
                            format!("model.fields[{i}].levels[{j}].{name}"),
                            format!("{v} is outside (0, 1]"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The compared fields.
    pub fn compared(&self) -> Vec<MatchField> {
        self.fields.iter().map(|f| f.field).collect()
    }

    /// Weights by field (in [`FIELDS`] order) and level, for fast scoring.
    pub(crate) fn weights(&self) -> Weights {
        let mut w: [Vec<f64>; 6] = Default::default();
        for f in &self.fields {
            let i = FIELDS.iter().position(|g| *g == f.field).expect("every field is in FIELDS");
            w[i] = f.levels.iter().map(LevelModel::weight).collect();
        }
        Weights { prior: (self.prior / (1.0 - self.prior)).log2(), by_field: w }
    }
}

/// A model's weights, indexed by field (in [`FIELDS`] order) and level.
pub(crate) struct Weights {
    pub prior: f64,
    pub by_field: [Vec<f64>; 6],
}

impl Weights {
    /// The match weight of a pattern, and its match probability.
    pub fn score(&self, p: Pattern) -> (f64, f64) {
        let mut w = self.prior;
        for (i, levels) in self.by_field.iter().enumerate() {
            if let (Some(l), false) = (p.level(i), levels.is_empty()) {
                w += levels[l as usize];
            }
        }
        (w, probability(w))
    }
}

/// `2^w / (1 + 2^w)`, computed without overflow.
pub fn probability(w: f64) -> f64 {
    if w >= 0.0 {
        1.0 / (1.0 + (-w).exp2())
    } else {
        let e = w.exp2();
        e / (1.0 + e)
    }
}

fn clamp(p: f64) -> f64 {
    p.clamp(PROB_FLOOR, 1.0 - PROB_FLOOR)
}

/// `u` by field and level from up to `pairs` pairs drawn at random (seeded) from `records`,
/// and the number of pairs drawn. A level never seen gets half a count, so that its `u`
/// is small but not zero.
pub(crate) fn estimate_u(records: &[Standard], pairs: u64, seed: u64) -> ([Vec<f64>; 6], u64) {
    let n = records.len() as u64;
    let mut counts: [Vec<f64>; 6] = std::array::from_fn(|i| vec![0.0; FIELDS[i].levels().len()]);
    let mut drawn = 0;
    if n >= 2 {
        let all_pairs = n.saturating_mul(n - 1) / 2;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let draws = pairs.min(all_pairs);
        while drawn < draws {
            let a = rng.gen_range(0..n) as usize;
            let b = rng.gen_range(0..n) as usize;
            if a == b {
                continue;
            }
            let p = Pattern::of(&records[a], &records[b], &FIELDS);
            for (i, c) in counts.iter_mut().enumerate() {
                if let Some(l) = p.level(i) {
                    c[l as usize] += 1.0;
                }
            }
            drawn += 1;
        }
    }
    let u = counts.map(|c| {
        let total: f64 = c.iter().map(|v| v + 0.5).sum();
        c.iter().map(|v| clamp((v + 0.5) / total)).collect()
    });
    (u, drawn)
}

/// Starting `m` of a field with `k` levels: most mass on the first level, halving after.
fn initial_m(k: usize) -> Vec<f64> {
    let raw: Vec<f64> = (0..k).map(|j| if j + 1 == k { 0.05 } else { 0.9 / 2f64.powi(j as i32) }).collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|v| v / total).collect()
}

/// Fits `λ` and `m` by EM over the distinct patterns of the candidate pairs, `u` fixed.
pub(crate) fn estimate(
    patterns: &HashMap<Pattern, u64>,
    u: [Vec<f64>; 6],
    u_pairs: u64,
    max_iterations: u32,
) -> MatchModel {
    let mut m: [Vec<f64>; 6] = std::array::from_fn(|i| initial_m(FIELDS[i].levels().len()));
    let mut prior = 0.1f64;
    let total: u64 = patterns.values().sum();
    let mut iterations = 0;
    let mut converged = false;
    if total > 0 {
        while iterations < max_iterations {
            iterations += 1;
            let mut matched = 0.0;
            let mut m_counts: [Vec<f64>; 6] = std::array::from_fn(|i| vec![0.0; FIELDS[i].levels().len()]);
            for (&p, &count) in patterns {
                let (mut lm, mut lu) = (prior.ln(), (1.0 - prior).ln());
                for i in 0..FIELDS.len() {
                    if let Some(l) = p.level(i) {
                        lm += m[i][l as usize].ln();
                        lu += u[i][l as usize].ln();
                    }
                }
                let posterior = 1.0 / (1.0 + (lu - lm).exp());
                let weight = posterior * count as f64;
                matched += weight;
                for (i, c) in m_counts.iter_mut().enumerate() {
                    if let Some(l) = p.level(i) {
                        c[l as usize] += weight;
                    }
                }
            }
            let mut moved = 0f64;
            let new_prior = clamp(matched / total as f64);
            moved = moved.max((new_prior - prior).abs());
            prior = new_prior;
            for (mi, ci) in m.iter_mut().zip(&m_counts) {
                let sum: f64 = ci.iter().sum();
                if sum <= 0.0 {
                    continue;
                }
                for (mv, cv) in mi.iter_mut().zip(ci) {
                    let new = clamp(cv / sum);
                    moved = moved.max((new - *mv).abs());
                    *mv = new;
                }
            }
            if moved < 1e-5 {
                converged = true;
                break;
            }
        }
    }
    MatchModel {
        prior,
        fields: FIELDS
            .iter()
            .enumerate()
            .map(|(i, &field)| FieldModel {
                field,
                levels: field
                    .levels()
                    .iter()
                    .enumerate()
                    .map(|(j, name)| LevelModel { level: (*name).to_owned(), m: m[i][j], u: u[i][j] })
                    .collect(),
            })
            .collect(),
        estimation: Some(Estimation { u_pairs, candidate_pairs: total, iterations, converged }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_is_logistic_in_base_two() {
        assert_eq!(probability(0.0), 0.5);
        assert!((probability(1.0) - 2.0 / 3.0).abs() < 1e-12);
        assert!((probability(-1.0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(probability(5000.0), 1.0);
        assert_eq!(probability(-5000.0), 0.0);
    }

    #[test]
    fn em_separates_agreeing_from_disagreeing_patterns() {
        // 100 pairs agree on every field, 10,000 disagree on every field: EM must find a
        // prior near 1 % and put the matches' mass on the first levels.
        let agree = Pattern(0);
        let disagree = Pattern(
            FIELDS.iter().enumerate().fold(0, |bits, (i, f)| bits | ((f.levels().len() as u32 - 1) << (3 * i as u32))),
        );
        let patterns = HashMap::from([(agree, 100), (disagree, 10_000)]);
        let u: [Vec<f64>; 6] = std::array::from_fn(|i| {
            let k = FIELDS[i].levels().len();
            (0..k).map(|j| if j + 1 == k { 0.99 } else { 0.01 / (k - 1) as f64 }).collect()
        });
        let model = estimate(&patterns, u, 1000, 100);
        assert!((model.prior - 100.0 / 10_100.0).abs() < 1e-3, "{}", model.prior);
        for f in &model.fields {
            assert!(f.levels[0].m > 0.99, "{f:?}");
        }
        model.validate().unwrap();
        let w = model.weights();
        assert!(w.score(agree).1 > 0.999);
        assert!(w.score(disagree).1 < 0.001);
    }
}
