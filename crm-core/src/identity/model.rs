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

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::compare::{MatchField, Pattern, FIELDS};
use super::standardize::Standard;
use crate::error::{Error, Result};

/// `m` and `u` are kept inside `[PROB_FLOOR, 1 - PROB_FLOOR]` so that no weight is infinite.
pub const PROB_FLOOR: f64 = 1e-9;

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
    /// `λ`: the probability that two customers drawn at random are one, in `(0, 1)`.
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

/// `u` from random pairs (see [`estimate_u`]).
pub(crate) struct URandom {
    /// By field (in [`FIELDS`] order) and level.
    pub u: [Vec<f64>; 6],
    /// Pairs drawn.
    pub pairs: u64,
    /// By field, the share of drawn pairs with a value on both sides.
    pub both_present: [f64; 6],
}

/// `u` by field and level, as splink estimates it: the customers of a random (seeded)
/// sample just large enough to form `pairs` pairs, each compared with each (row by row,
/// the first `pairs` of them; every pair when there are fewer). Nearly all are
/// non-matches. A level never seen gets half a count, so that its `u` is small but not
/// zero. The sample's records are copied together, so the comparisons run in cache, on
/// every core.
pub(crate) fn estimate_u(records: &[Standard], pairs: u64, seed: u64) -> URandom {
    let n = records.len();
    // The smallest k with k(k-1)/2 >= pairs, at most n.
    let mut k = ((2.0 * pairs as f64).sqrt().ceil() as usize + 1).min(n);
    while k > 2 && (k as u64 - 1) * (k as u64 - 2) / 2 >= pairs {
        k -= 1;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sample: Vec<Standard> =
        rand::seq::index::sample(&mut rng, n, k).into_iter().map(|i| records[i].clone()).collect();
    // Rows i with their number of pairs (i, j > i), up to `pairs` in all.
    let mut rows: Vec<(usize, u64)> = Vec::with_capacity(k);
    let mut left = pairs;
    for i in 0..k {
        let here = ((k - 1 - i) as u64).min(left);
        if here == 0 {
            break;
        }
        rows.push((i, here));
        left -= here;
    }
    // Rows interleaved over the workers so that each gets long and short rows alike.
    let workers = if pairs < 100_000 { 1 } else { super::workers() };
    let mut dealt: Vec<Vec<(usize, u64)>> = vec![Vec::new(); workers];
    for (n, row) in rows.iter().enumerate() {
        dealt[n % workers].push(*row);
    }
    let partial: Vec<[Vec<u64>; 6]> = super::in_parallel(&dealt, 1, |mine| {
        let mut counts: [Vec<u64>; 6] = std::array::from_fn(|f| vec![0; FIELDS[f].levels().len()]);
        for &(i, len) in mine.iter().flatten() {
            for b in &sample[i + 1..i + 1 + len as usize] {
                let p = Pattern::of(&sample[i], b, &FIELDS);
                for (f, c) in counts.iter_mut().enumerate() {
                    if let Some(l) = p.level(f) {
                        c[l as usize] += 1;
                    }
                }
            }
        }
        counts
    });
    let drawn: u64 = rows.iter().map(|r| r.1).sum();
    let counts: [Vec<f64>; 6] = std::array::from_fn(|f| {
        (0..FIELDS[f].levels().len()).map(|l| partial.iter().map(|c| c[f][l]).sum::<u64>() as f64).collect()
    });
    let both_present = std::array::from_fn(|i| counts[i].iter().sum::<f64>() / drawn.max(1) as f64);
    let u = counts.map(|c| {
        let total: f64 = c.iter().map(|v| v + 0.5).sum();
        c.iter().map(|v| clamp((v + 0.5) / total)).collect()
    });
    URandom { u, pairs: drawn, both_present }
}

/// Starting `m` of a field with `k` levels: most mass on the first level, halving after.
/// Also the pseudo-counts (one pair's worth) that keep a small session's `m` away from 0.
fn initial_m(k: usize) -> Vec<f64> {
    let raw: Vec<f64> = (0..k).map(|j| if j + 1 == k { 0.05 } else { 0.9 / 2f64.powi(j as i32) }).collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|v| v / total).collect()
}

/// One EM training session: the candidate pairs that one blocking rule formed, by pattern,
/// and the fields the rule blocks on. Those fields take no part in the session (within its
/// blocks they agree because of the block, not because the pairs match); the session
/// estimates `m` of the others, and the share of matches among its pairs.
pub(crate) struct Session {
    /// The fields the rule blocks on, each with the levels at which a pair shares the
    /// rule's key: the share of all true matches that the rule catches is the product over
    /// these fields of the share of pairs with both values times the `m` of these levels.
    pub key_levels: &'static [(MatchField, &'static [u8])],
    pub patterns: HashMap<Pattern, u64>,
}

/// The smallest prior an estimate gives (a trillion customers each entered twice would
/// still be above it).
const PRIOR_FLOOR: f64 = 1e-15;

/// What one EM run found.
struct Fit {
    prior: f64,
    m: [Vec<f64>; 6],
    /// Fields with at least one pair that has a level on them.
    observed: [bool; 6],
    iterations: u32,
    converged: bool,
}

/// EM over `patterns` with `u` fixed, on the `active` fields only: `λ` always, `m` when
/// `fit_m` (each field's counts smoothed by one pair's worth of [`initial_m`]).
fn em(
    patterns: &[(Pattern, u64)],
    u: &[Vec<f64>; 6],
    mut m: [Vec<f64>; 6],
    active: [bool; 6],
    fit_m: bool,
    max_iterations: u32,
) -> Fit {
    let mut prior = 0.1f64;
    let total: u64 = patterns.iter().map(|p| p.1).sum();
    let mut fit = Fit { prior, m: Default::default(), observed: [false; 6], iterations: 0, converged: false };
    if total == 0 {
        fit.m = m;
        return fit;
    }
    while fit.iterations < max_iterations {
        fit.iterations += 1;
        let mut matched = 0.0;
        let mut m_counts: [Vec<f64>; 6] = std::array::from_fn(|i| vec![0.0; FIELDS[i].levels().len()]);
        for &(p, count) in patterns {
            let (mut lm, mut lu) = (prior.ln(), (1.0 - prior).ln());
            for i in (0..FIELDS.len()).filter(|&i| active[i]) {
                if let Some(l) = p.level(i) {
                    lm += m[i][l as usize].ln();
                    lu += u[i][l as usize].ln();
                }
            }
            let posterior = 1.0 / (1.0 + (lu - lm).exp());
            let weight = posterior * count as f64;
            matched += weight;
            for i in (0..FIELDS.len()).filter(|&i| active[i]) {
                if let Some(l) = p.level(i) {
                    m_counts[i][l as usize] += weight;
                    fit.observed[i] = true;
                }
            }
        }
        let new_prior = clamp(matched / total as f64);
        let mut moved = (new_prior - prior).abs();
        prior = new_prior;
        if fit_m {
            for i in (0..FIELDS.len()).filter(|&i| active[i] && fit.observed[i]) {
                let sum: f64 = m_counts[i].iter().sum::<f64>() + 1.0;
                let pseudo = initial_m(m[i].len());
                for (j, mv) in m[i].iter_mut().enumerate() {
                    let new = clamp((m_counts[i][j] + pseudo[j]) / sum);
                    moved = moved.max((new - *mv).abs());
                    *mv = new;
                }
            }
        }
        if moved < 1e-5 {
            fit.converged = true;
            break;
        }
    }
    fit.prior = prior;
    fit.m = m;
    fit
}

/// Fits `m` and `λ` with `u` fixed, as splink trains: one EM session per training blocking
/// rule, each estimating `m` of the fields its rule does not block on and the share of
/// matches among its pairs; a field's `m` is the mean over the sessions that saw it (the
/// starting guess when none did).
///
/// `λ`, the probability that two customers drawn at random are one, follows from the
/// sessions as splink derives it: the matches a session found, divided by the share of
/// all matches its rule catches (from the `m` of its key levels), over all `total_pairs`
/// pairs. When no training rule formed a pair, all candidate pairs form one session and
/// `λ` is the matches EM finds among them over `total_pairs`.
pub(crate) fn estimate(
    sessions: &[Session],
    all: &HashMap<Pattern, u64>,
    random: URandom,
    total_pairs: u64,
    max_iterations: u32,
) -> MatchModel {
    let u = random.u;
    let start: [Vec<f64>; 6] = std::array::from_fn(|i| initial_m(FIELDS[i].levels().len()));
    let mut sums: [Vec<f64>; 6] = std::array::from_fn(|i| vec![0.0; FIELDS[i].levels().len()]);
    let mut seen = [0u32; 6];
    let (mut iterations, mut converged) = (0, true);
    // Patterns in order, so that the sums (and so the model) are the same on every run.
    let sorted = |p: &HashMap<Pattern, u64>| {
        let mut v: Vec<(Pattern, u64)> = p.iter().map(|(k, v)| (*k, *v)).collect();
        v.sort_unstable();
        v
    };
    let all = sorted(all);
    let whole = Session { key_levels: &[], patterns: HashMap::new() };
    let mut runs: Vec<(&Session, Vec<(Pattern, u64)>)> =
        sessions.iter().filter(|s| !s.patterns.is_empty()).map(|s| (s, sorted(&s.patterns))).collect();
    if runs.is_empty() {
        runs.push((&whole, all.clone()));
    }
    // Per session: the matches it found.
    let mut found: Vec<f64> = Vec::with_capacity(runs.len());
    for (session, patterns) in &runs {
        let active = FIELDS.map(|f| !session.key_levels.iter().any(|(blocked, _)| *blocked == f));
        let fit = em(patterns, &u, start.clone(), active, true, max_iterations);
        iterations += fit.iterations;
        converged &= fit.converged;
        found.push(fit.prior * patterns.iter().map(|p| p.1).sum::<u64>() as f64);
        for i in (0..FIELDS.len()).filter(|&i| active[i] && fit.observed[i]) {
            seen[i] += 1;
            for (sum, v) in sums[i].iter_mut().zip(&fit.m[i]) {
                *sum += v;
            }
        }
    }
    let m: [Vec<f64>; 6] = std::array::from_fn(|i| {
        if seen[i] == 0 {
            start[i].clone()
        } else {
            sums[i].iter().map(|v| clamp(v / f64::from(seen[i]))).collect()
        }
    });
    // The share of all matches each session's rule catches.
    let caught: Vec<f64> = runs
        .iter()
        .map(|(session, _)| {
            session.key_levels.iter().fold(1.0, |share, (field, levels)| {
                let i = field.index();
                share * random.both_present[i] * levels.iter().map(|&l| m[i][l as usize]).sum::<f64>()
            })
        })
        .collect();
    let caught_total: f64 = caught.iter().sum();
    let matches: f64 = found.iter().sum();
    let prior = if total_pairs == 0 || caught_total <= 0.0 {
        0.5
    } else {
        (matches / caught_total / total_pairs as f64).clamp(PRIOR_FLOOR, 1.0 - PROB_FLOOR)
    };
    let total = all.iter().map(|p| p.1).sum();
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
        estimation: Some(Estimation { u_pairs: random.pairs, candidate_pairs: total, iterations, converged }),
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
        let sessions = [Session { key_levels: &[], patterns: patterns.clone() }];
        let u: [Vec<f64>; 6] = std::array::from_fn(|i| {
            let k = FIELDS[i].levels().len();
            (0..k).map(|j| if j + 1 == k { 0.99 } else { 0.01 / (k - 1) as f64 }).collect()
        });
        let random = URandom { u, pairs: 1000, both_present: [1.0; 6] };
        let model = estimate(&sessions, &patterns, random, 10_100, 100);
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
