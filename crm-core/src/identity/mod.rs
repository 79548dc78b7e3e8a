//! Identity resolution: finding the customers that are one person or company, entered
//! more than once (a web shop, a point of sale and a call centre each keep their own
//! record).
//!
//! The pipeline, as splink and the record-linkage literature lay it out:
//!
//! 1. **Standardise** every customer once ([`standardize`]): names, emails, phones,
//!    addresses and companies become comparison keys.
//! 2. **Block**: only pairs that share a blocking key are compared, so the work grows
//!    with the number of customers, not its square. The keys: the mailbox, the phone
//!    number, the order-free name key with the street, each name token with the date of
//!    birth, each name token with the postal key, the company key with the postal key,
//!    and the date of birth with the postal key. A key shared by more than
//!    [`MatchSettings::max_block_size`] customers (a common surname in one postcode, a
//!    shared switchboard number) forms no pairs; the report counts such blocks.
//! 3. **Compare** each candidate pair field by field into agreement levels ([`compare`]),
//!    on every core.
//! 4. **Score** with a Fellegi-Sunter model ([`model`]), estimated from the data as
//!    splink trains one (u from random pairs; m by EM, one session per blocking rule on
//!    the mailbox, the phone, and a name token with the birthday or postal key; λ from
//!    what the sessions found) or set by the host.
//! 5. **Cluster**: pairs at or above the threshold join their customers; clusters are the
//!    connected components.
//!
//! People are only compared with people and companies with companies. Customers merged
//! away ([`Customer::merged_into`](crate::Customer::merged_into) set) take
//! no part.
//!
//! Memory: every customer's keys are held at once, about 300 bytes a customer, plus about
//! 30 bytes a candidate pair while the pairs are formed (16 for each rule that forms it),
//! 13 after. On 1,050,000 generated customers: 7,000,000 candidate pairs, a peak of 550 MB
//! (with SQLite's page cache).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::customer::CustomerId;
use crate::error::{Error, Result};

pub mod compare;
pub mod matching;
pub mod merge;
pub mod model;
pub mod sources;
pub mod standardize;

pub use compare::{MatchField, Pattern, FIELDS};
pub use matching::{
    MatchCandidate, MatchOptions, MatchPolicy, MatchStore, MatchStoreMut, MatchSuggestion, PolicyMode,
    SuggestionStatus, MAX_MATCHES,
};
pub use merge::{
    MergeErrorKind, MergeId, MergeOutcome, MergeRecord, MergeRequest, MergeStore, MergeStoreMut, Prefer, Survivorship,
    UnmergeRequest, MAX_EVIDENCE_BYTES, MAX_MERGE_DEPTH, MAX_MERGE_TEXT, SURVIVORSHIP_FIELDS,
};
pub use model::{Estimation, FieldModel, LevelModel, MatchModel};
pub use sources::{Identity, IdentityStore, IdentityStoreMut, MAX_SOURCE_LEN};
pub use standardize::{Keys, Standard};

/// Largest allowed [`MatchSettings::max_block_size`].
pub const MAX_BLOCK_SIZE: u32 = 100_000;
/// Largest allowed [`MatchSettings::max_iterations`].
pub const MAX_ITERATIONS: u32 = 1_000;
/// Largest allowed [`MatchSettings::u_pairs`].
pub const MAX_U_PAIRS: u64 = 100_000_000;

/// How to look for duplicates. Every field has a default; JSON may leave any out.
///
/// ```
/// let s: crm_core::identity::MatchSettings = serde_json::from_str(r#"{"threshold":0.99}"#)?;
/// assert_eq!(s.max_block_size, 500);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct MatchSettings {
    /// Pairs with a match probability at or above this are reported and clustered;
    /// `0.0 ..= 1.0`, default 0.95.
    pub threshold: f64,
    /// A model to score with (as returned in [`DuplicateReport::model`], or written by the
    /// host); `None` (the default) estimates one from the data.
    pub model: Option<MatchModel>,
    /// A blocking key shared by more customers than this forms no pairs; `2 ..=`
    /// [`MAX_BLOCK_SIZE`], default 500.
    pub max_block_size: u32,
    /// EM iterations at most; `1 ..=` [`MAX_ITERATIONS`], default 50.
    pub max_iterations: u32,
    /// Random pairs to estimate `u` on; `1 ..=` [`MAX_U_PAIRS`], default 1,000,000.
    pub u_pairs: u64,
    /// Seed of the random pairs (default 0): the same data and settings give the same model.
    pub seed: u64,
}

impl Default for MatchSettings {
    fn default() -> Self {
        MatchSettings {
            threshold: 0.95,
            model: None,
            max_block_size: 500,
            max_iterations: 50,
            u_pairs: 1_000_000,
            seed: 0,
        }
    }
}

impl MatchSettings {
    /// Checks every bound (see the fields) and a host's model ([`MatchModel::validate`]).
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(Error::validation("threshold", format!("{} is outside 0 ..= 1", self.threshold)));
        }
        if !(2..=MAX_BLOCK_SIZE).contains(&self.max_block_size) {
            return Err(Error::validation(
                "max_block_size",
                format!("{} is outside 2 ..= {MAX_BLOCK_SIZE}", self.max_block_size),
            ));
        }
        if !(1..=MAX_ITERATIONS).contains(&self.max_iterations) {
            return Err(Error::validation(
                "max_iterations",
                format!("{} is outside 1 ..= {MAX_ITERATIONS}", self.max_iterations),
            ));
        }
        if !(1..=MAX_U_PAIRS).contains(&self.u_pairs) {
            return Err(Error::validation("u_pairs", format!("{} is outside 1 ..= {MAX_U_PAIRS}", self.u_pairs)));
        }
        if let Some(m) = &self.model {
            m.validate()?;
        }
        Ok(())
    }

    /// Settings from JSON, the bounds checked ([`validate`](Self::validate)); text that is
    /// not JSON or not of this shape is a validation error on field `match_settings`
    /// whose reason names the path at fault.
    pub fn from_json(text: &str) -> Result<MatchSettings> {
        let s = MatchSettings::parse(text)?;
        s.validate()?;
        Ok(s)
    }

    /// [`from_json`](Self::from_json) without the bounds check (for a binding that sets a
    /// value after reading; [`Crm::find_duplicates`](crate::Crm::find_duplicates) checks).
    pub fn parse(text: &str) -> Result<MatchSettings> {
        crate::json::parse_object(text).map_err(|e| Error::validation("match_settings", e.to_string()))
    }
}

/// One field's part in a pair's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldEvidence {
    /// The field.
    pub field: MatchField,
    /// The pair's level on it; `None` when a side has no value (no evidence).
    pub level: Option<&'static str>,
    /// The level's match weight, `log2(m / u)` (0 without a level).
    pub weight: f64,
}

/// A candidate pair at or above the threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchPair {
    /// The customer with the smaller id.
    pub a: CustomerId,
    /// The other customer.
    pub b: CustomerId,
    /// Match probability, `0 ..= 1`.
    pub probability: f64,
    /// Match weight: the prior's and every field's weight summed.
    pub weight: f64,
    /// Per compared field, in [`FIELDS`] order.
    pub evidence: Vec<FieldEvidence>,
}

/// What a search looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MatchStats {
    /// Customers compared (merged-away ones excluded).
    pub customers: u64,
    /// Distinct candidate pairs scored.
    pub candidate_pairs: u64,
    /// Blocking keys shared by more than `max_block_size` customers, which formed no pairs.
    pub skipped_blocks: u64,
    /// The size of the largest such key's block (0 when none was skipped).
    pub largest_skipped_block: u64,
}

/// The result of [`find_duplicates`](crate::Crm::find_duplicates).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateReport {
    /// The model the pairs were scored with (estimated, or the settings' own).
    pub model: MatchModel,
    /// The threshold applied.
    pub threshold: f64,
    /// Pairs at or above the threshold, by probability (highest first), then ids.
    pub pairs: Vec<MatchPair>,
    /// Connected components of the pairs: each cluster's ids ascending, clusters by their
    /// first id. Every cluster has at least two customers.
    pub clusters: Vec<Vec<CustomerId>>,
    /// What was looked at.
    pub stats: MatchStats,
}

/// A blocking rule: the pairs that share one kind of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Block {
    Email = 0,
    Phone = 1,
    NameStreet = 2,
    TokenBirthday = 3,
    TokenPostal = 4,
    CompanyPostal = 5,
    BirthdayPostal = 6,
}

impl Block {
    const ALL: [Block; 7] = [
        Block::Email,
        Block::Phone,
        Block::NameStreet,
        Block::TokenBirthday,
        Block::TokenPostal,
        Block::CompanyPostal,
        Block::BirthdayPostal,
    ];

    /// The rules whose pairs train `m` (see [`model`]): each leaves the fields it blocks on
    /// out of its own training, so that agreement forced by the block is not learnt as
    /// evidence.
    const TRAINING: [Block; 4] = [Block::Email, Block::Phone, Block::TokenBirthday, Block::TokenPostal];

    /// The fields this rule's keys are made of, each with the levels at which a pair shares
    /// the key (for the prior; see [`model`]). Names sharing a token are taken as those at
    /// `similar` or above.
    fn key_levels(self) -> &'static [(MatchField, &'static [u8])] {
        use MatchField::*;
        const NAME: (MatchField, &[u8]) = (Name, &[0, 1, 2]);
        match self {
            Block::Email => &[(Email, &[0, 1])],
            Block::Phone => &[(Phone, &[0])],
            Block::NameStreet => &[(Name, &[0, 1]), (Address, &[0, 1])],
            Block::TokenBirthday => &[NAME, (Birthday, &[0])],
            Block::TokenPostal => &[NAME, (Address, &[0, 2])],
            Block::CompanyPostal => &[(Company, &[0]), (Address, &[0, 2])],
            Block::BirthdayPostal => &[(Birthday, &[0]), (Address, &[0, 2])],
        }
    }

    /// A key of this rule: a hash of `parts` with the rule in its top three bits. The hash
    /// is stable (FNV-1a, then a SplitMix64 finaliser to spread it) because stores keep the
    /// keys ([`match_keys`]): the same parts give the same key in every build.
    fn key(self, parts: &[&str]) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: u8| {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        };
        eat(self as u8);
        for p in parts {
            p.bytes().for_each(&mut eat);
            eat(0xff);
        }
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 3) | ((self as u64) << 61)
    }

    fn of_key(key: u64) -> Block {
        Block::ALL[(key >> 61) as usize]
    }
}

/// The blocking keys of one customer (see the [module documentation](self)).
fn blocking_keys(s: &Standard, out: &mut Vec<u64>) {
    if let Some(e) = s.email_key() {
        out.push(Block::Email.key(&[e]));
    }
    if let Some(p) = s.phone() {
        out.push(Block::Phone.key(&[p]));
    }
    if let (false, Some(street)) = (s.name_key().is_empty(), s.street()) {
        out.push(Block::NameStreet.key(&[s.name_key(), street]));
    }
    let birthday = s.birthday().map(|d| d.to_string());
    for t in s.name_tokens().filter(|t| t.chars().count() >= 2) {
        if let Some(b) = &birthday {
            out.push(Block::TokenBirthday.key(&[t, b]));
        }
        if let Some(p) = s.postal() {
            out.push(Block::TokenPostal.key(&[t, p]));
        }
    }
    if let (Some(c), Some(p)) = (s.company(), s.postal()) {
        out.push(Block::CompanyPostal.key(&[c, p]));
    }
    if let (Some(b), Some(p)) = (&birthday, s.postal()) {
        out.push(Block::BirthdayPostal.key(&[b, p]));
    }
}

/// The blocking keys a store keeps for a customer, for
/// [`Crm::match_customer`](crate::Crm::match_customer): distinct, ascending, as `i64`
/// (the bits of the `u64`).
pub fn match_keys(s: &Standard) -> Vec<i64> {
    let mut out = Vec::with_capacity(8);
    blocking_keys(s, &mut out);
    out.sort_unstable();
    out.dedup();
    out.into_iter().map(|k| k as i64).collect()
}

/// A scored pattern's evidence: per compared field, in [`FIELDS`] order, its level and weight.
pub(crate) fn evidence(p: Pattern, compared: &[MatchField], weights: &model::Weights) -> Vec<FieldEvidence> {
    FIELDS
        .iter()
        .enumerate()
        .filter(|(_, f)| compared.contains(f))
        .map(|(i, &field)| {
            let level = p.level(i);
            FieldEvidence {
                field,
                level: level.map(|l| field.levels()[l as usize]),
                weight: level.map_or(0.0, |l| weights.by_field[i][l as usize]),
            }
        })
        .collect()
}

/// Candidate pairs of a search.
struct Candidates {
    /// `(i, j)`, `i < j`, indexes into the records, each once, in order.
    pairs: Vec<(u32, u32)>,
    /// For each pair, the rules that formed it (bit `Block as u8`).
    rules: Vec<u8>,
    skipped_blocks: u64,
    largest_skipped_block: u64,
}

/// The candidate pairs of `records`: pairs of the same kind sharing a key in a block of at
/// most `max_block` customers.
fn candidate_pairs(records: &[Standard], max_block: usize) -> Candidates {
    let mut keys: Vec<(u64, u32)> = Vec::with_capacity(records.len() * 6);
    let mut own = Vec::new();
    for (i, s) in records.iter().enumerate() {
        own.clear();
        blocking_keys(s, &mut own);
        own.sort_unstable();
        own.dedup();
        keys.extend(own.iter().map(|&k| (k, i as u32)));
    }
    keys.sort_unstable();
    let (mut skipped, mut largest) = (0u64, 0u64);
    let mut formed: Vec<(u64, u8)> = Vec::new();
    for block in keys.chunk_by(|x, y| x.0 == y.0) {
        if block.len() < 2 {
            continue;
        }
        if block.len() > max_block {
            skipped += 1;
            largest = largest.max(block.len() as u64);
            continue;
        }
        let rule = 1u8 << Block::of_key(block[0].0) as u8;
        for (n, &(_, a)) in block.iter().enumerate() {
            for &(_, b) in &block[n + 1..] {
                // People are compared with people, companies with companies.
                if records[a as usize].kind() != records[b as usize].kind() {
                    continue;
                }
                formed.push((((a as u64) << 32) | b as u64, rule));
            }
        }
    }
    drop(keys);
    formed.sort_unstable_by_key(|p| p.0);
    let mut c =
        Candidates { pairs: Vec::new(), rules: Vec::new(), skipped_blocks: skipped, largest_skipped_block: largest };
    for same in formed.chunk_by(|x, y| x.0 == y.0) {
        c.pairs.push(((same[0].0 >> 32) as u32, same[0].0 as u32));
        c.rules.push(same.iter().fold(0, |r, p| r | p.1));
    }
    c
}

/// The threads [`in_parallel`] uses at most: the machine's cores, up to 16.
pub(crate) fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16)
}

/// Work split over the machine's cores: `f` applied to contiguous chunks of `items` (one
/// per [`workers`], none shorter than `min_chunk`) on scoped threads, or to all of `items`
/// on the caller's thread when they make one chunk; the results in chunk order.
pub(crate) fn in_parallel<T: Sync, R: Send>(items: &[T], min_chunk: usize, f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let parts = workers().min(items.len() / min_chunk.max(1)).max(1);
    if parts == 1 {
        return vec![f(items)];
    }
    let size = items.len().div_ceil(parts);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items.chunks(size).map(|c| scope.spawn(move || f(c))).collect();
        handles.into_iter().map(|h| h.join().expect("identity workers do not panic")).collect()
    })
}

/// Disjoint sets over `0..n` (union by size, path halving).
struct Components {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl Components {
    fn new(n: usize) -> Components {
        Components { parent: (0..n as u32).collect(), size: vec![1; n] }
    }
    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }
    fn union(&mut self, a: u32, b: u32) {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        if self.size[ra as usize] < self.size[rb as usize] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb as usize] = ra;
        self.size[ra as usize] += self.size[rb as usize];
    }
}

/// Finds duplicates among `records` (ids and standardised fields, ids ascending) under
/// `settings` (already validated). The engine behind
/// [`Crm::find_duplicates`](crate::Crm::find_duplicates); pure, reads no store.
pub fn find_duplicates_in(ids: &[CustomerId], records: &[Standard], settings: &MatchSettings) -> DuplicateReport {
    debug_assert_eq!(ids.len(), records.len());
    let Candidates { pairs, rules, skipped_blocks, largest_skipped_block } =
        candidate_pairs(records, settings.max_block_size as usize);
    let compared = settings.model.as_ref().map_or_else(|| FIELDS.to_vec(), MatchModel::compared);
    let patterns: Vec<Pattern> = in_parallel(&pairs, 4096, |chunk| {
        chunk
            .iter()
            .map(|&(a, b)| Pattern::of(&records[a as usize], &records[b as usize], &compared))
            .collect::<Vec<_>>()
    })
    .concat();
    let model = match &settings.model {
        Some(m) => m.clone(),
        None => {
            let mut all: HashMap<Pattern, u64> = HashMap::new();
            let mut sessions: Vec<model::Session> = Block::TRAINING
                .iter()
                .map(|b| model::Session { key_levels: b.key_levels(), patterns: HashMap::new() })
                .collect();
            for (p, r) in patterns.iter().zip(&rules) {
                *all.entry(*p).or_default() += 1;
                for (s, b) in sessions.iter_mut().zip(Block::TRAINING) {
                    if r & (1 << b as u8) != 0 {
                        *s.patterns.entry(*p).or_default() += 1;
                    }
                }
            }
            let random = model::estimate_u(records, settings.u_pairs, settings.seed);
            let n = records.len() as u64;
            model::estimate(&sessions, &all, random, n * n.saturating_sub(1) / 2, settings.max_iterations)
        }
    };
    let weights = model.weights();
    let mut scored: HashMap<Pattern, (f64, f64)> = HashMap::new();
    let mut found: Vec<MatchPair> = Vec::new();
    let mut components = Components::new(records.len());
    for (&(a, b), &p) in pairs.iter().zip(&patterns) {
        let (weight, probability) = *scored.entry(p).or_insert_with(|| weights.score(p));
        if probability < settings.threshold {
            continue;
        }
        components.union(a, b);
        let evidence = evidence(p, &compared, &weights);
        found.push(MatchPair { a: ids[a as usize], b: ids[b as usize], probability, weight, evidence });
    }
    found.sort_by(|x, y| y.probability.total_cmp(&x.probability).then(x.a.cmp(&y.a)).then(x.b.cmp(&y.b)));
    let mut groups: HashMap<u32, Vec<CustomerId>> = HashMap::new();
    for i in 0..records.len() as u32 {
        let root = components.find(i);
        if components.size[root as usize] > 1 {
            groups.entry(root).or_default().push(ids[i as usize]);
        }
    }
    let mut clusters: Vec<Vec<CustomerId>> = groups.into_values().collect();
    for c in &mut clusters {
        c.sort_unstable();
    }
    clusters.sort_unstable();
    DuplicateReport {
        model,
        threshold: settings.threshold,
        pairs: found,
        clusters,
        stats: MatchStats {
            customers: records.len() as u64,
            candidate_pairs: pairs.len() as u64,
            skipped_blocks,
            largest_skipped_block,
        },
    }
}
