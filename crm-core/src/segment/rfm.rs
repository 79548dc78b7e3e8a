//! RFM: recency, frequency and monetary value per customer, scored 1 to 5 by quintile and
//! named by a configurable table.
//!
//! # Who is scored, and on what
//!
//! An RFM model is computed **as of** a time and **in one currency**. The currency selects
//! the population and the monetary value: the members are the customers whose completed
//! spend in that currency is positive (a `customer_spend` row in the statistics), and their
//! monetary value is that spend, in minor units. Frequency and recency look at *all* of a
//! member's completed orders, whatever their currency: frequency is the number of completed
//! orders, recency the whole days (rounded down) from the last completed order to the as-of
//! time. Refunded and cancelled orders never count.
//!
//! # Where the values come from
//!
//! The per-customer statistics that every write keeps up to date are read first: one row per
//! customer with spend in the currency, no order is read ([`RfmSource::Stats`]). When the
//! as-of time is at or after the last completed order of every one of them (always so for
//! "now", the default, unless orders are stamped in the future), those are the values.
//! Otherwise the same three values are computed from the orders themselves, counting only
//! completed orders with `occurred_at <= as_of` ([`RfmSource::Orders`]); this reads every
//! order and is many times slower (about 12 times for 1,000,000 customers and 10,000,000
//! orders in `benches/segments.rs`), but gives the same kind of result.
//!
//! (Customers without spend in the currency in the statistics cannot have had any as of an
//! earlier time, since amounts are never negative; so their orders never matter.)
//!
//! # Scores and the tie rule
//!
//! Each of R, F and M is scored 1 to 5 by quintile within the population of `N` members:
//!
//! ```text
//! score = 1 + floor(5 × (members with a strictly worse value) / N)
//! ```
//!
//! where worse means an older last order (more days) for R, fewer orders for F and less
//! spend for M. Equal values therefore always get equal scores and the order of the rows
//! never matters. Each score holds about a fifth of the members, more when a group of equal
//! values straddles its edge; with fewer than five members or heavy ties some scores go
//! unused (when everyone ties, everyone gets 1).
//!
//! The model records, for each score 2 to 5, the boundary value that earns it
//! ([`RfmBoundaries`]), so one customer can be scored later against the stored model without
//! reading the whole population again ([`Crm::score_rfm`](crate::Crm::score_rfm)); for every member, scoring
//! against the boundaries gives exactly the batch score.
//!
//! # Named segments
//!
//! A segment name comes from a 5 × 5 grid ([`RfmGrid`]) indexed by R (rows) and by FM, the
//! mean of F and M rounded half up (`(f + m + 1) / 2` in integers). The default grid:
//!
//! | R \ FM | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|
//! | **5** | New Customers | Potential Loyalist | Potential Loyalist | Champions | Champions |
//! | **4** | Promising | Potential Loyalist | Potential Loyalist | Loyal | Champions |
//! | **3** | About to Sleep | About to Sleep | Need Attention | Loyal | Loyal |
//! | **2** | Hibernating | Hibernating | At Risk | At Risk | Can't Lose Them |
//! | **1** | Lost | Lost | At Risk | Can't Lose Them | Can't Lose Them |
//!
//! ```
//! use crm_core::segment::rfm::RfmConfig;
//! use crm_core::{Crm, NewCustomer, NewOrder};
//!
//! let crm = Crm::in_memory()?;
//! for (n, orders) in [(1, 1), (2, 3), (3, 6)] {
//!     let c = crm.create_customer(&NewCustomer { name: format!("C{n}"), ..Default::default() })?;
//!     for k in 0..orders {
//!         crm.record_order(&NewOrder {
//!             external_id: format!("O{n}-{k}"), customer_id: Some(c.id), customer_external_id: None,
//!             occurred_at: format!("2026-0{n}-1{k}T10:00:00Z").parse()?, status: None,
//!             currency: "EUR".parse()?, total_minor: 1_000, channel: None, items: None,
//!         })?;
//!     }
//! }
//! let config = RfmConfig::from_json(r#"{"currency": "EUR", "as_of": "2026-07-01T00:00:00Z"}"#)?;
//! let table = crm.compute_rfm(&config)?;
//! assert_eq!(table.model.population, 3);
//! let best = &table.scores[2];
//! assert_eq!((best.r, best.f, best.m, best.segment.as_str()), (4, 4, 4, "Loyal"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::CustomerId;
pub use crate::customer::RfmScore;
use crate::error::{Error, Result};
use crate::money::Currency;
use crate::segment::SegmentRead;
use crate::validate::now;

/// Longest segment name in a grid, in characters.
pub const MAX_SEGMENT_NAME_CHARS: usize = 64;

/// How far ahead of now an as-of time may lie, in days (planning a year ahead is allowed;
/// anything later is taken for a mistake).
pub const MAX_AS_OF_FUTURE_DAYS: i64 = 366;

const DAY_MICROS: i64 = 86_400_000_000;

/// One population member's raw RFM inputs, as a store reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RfmInput {
    /// The customer.
    pub customer_id: CustomerId,
    /// Time of the last completed order (any currency).
    pub last_order_at: DateTime<Utc>,
    /// Number of completed orders (any currency).
    pub frequency: i64,
    /// Completed spend in the model's currency, minor units (positive).
    pub monetary_minor: i64,
}

/// The score-to-name table: 5 rows by R (from R = 5 down to R = 1, as printed in the
/// [module documentation](self)) and 5 columns by FM = `(f + m + 1) / 2` (1 to 5).
///
/// In JSON, an array of five rows of five names. Every name is non-blank and at most
/// [`MAX_SEGMENT_NAME_CHARS`] characters.
///
/// ```
/// use crm_core::segment::rfm::RfmGrid;
/// let grid = RfmGrid::default();
/// assert_eq!(grid.name(5, 5, 5), "Champions");
/// assert_eq!(grid.name(1, 1, 2), "Lost"); // FM = (1 + 2 + 1) / 2 = 2
/// assert_eq!(grid.name(2, 5, 4), "Can't Lose Them");
///
/// let mut rows: Vec<Vec<String>> = grid.clone().into();
/// rows[0][0] = "Newcomers".into(); // R = 5, FM = 1
/// let custom = RfmGrid::new(rows)?;
/// assert_eq!(custom.name(5, 1, 1), "Newcomers");
/// assert!(RfmGrid::new(vec![vec!["Only".into()]]).is_err());
/// # Ok::<(), crm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "Vec<Vec<String>>", into = "Vec<Vec<String>>")]
pub struct RfmGrid {
    rows: [[String; 5]; 5],
}

impl RfmGrid {
    /// A grid from five rows of five names, the first row for R = 5, the last for R = 1.
    pub fn new(rows: Vec<Vec<String>>) -> Result<RfmGrid> {
        if rows.len() != 5 {
            return Err(Error::validation(
                "grid",
                format!("has {} rows; expected 5 (R = 5 down to R = 1)", rows.len()),
            ));
        }
        for (i, row) in rows.iter().enumerate() {
            if row.len() != 5 {
                return Err(Error::validation(
                    format!("grid[{i}]"),
                    format!("row for R = {} has {} names; expected 5 (FM = 1 to 5)", 5 - i, row.len()),
                ));
            }
            for (j, name) in row.iter().enumerate() {
                let field = || format!("grid[{i}][{j}]");
                if name.trim().is_empty() {
                    return Err(Error::validation(field(), "segment name is empty"));
                }
                let n = name.chars().count();
                if n > MAX_SEGMENT_NAME_CHARS {
                    return Err(Error::validation(
                        field(),
                        format!("segment name has {n} characters; at most {MAX_SEGMENT_NAME_CHARS} are allowed"),
                    ));
                }
            }
        }
        let mut it = rows.into_iter().map(|row| {
            let mut cells = row.into_iter();
            std::array::from_fn(|_| cells.next().unwrap_or_default())
        });
        Ok(RfmGrid { rows: std::array::from_fn(|_| it.next().unwrap_or_default()) })
    }

    /// The rows, the first for R = 5, the last for R = 1.
    pub fn rows(&self) -> &[[String; 5]; 5] {
        &self.rows
    }

    /// The segment of scores `r`, `f`, `m` (each 1 to 5; values outside are clamped).
    pub fn name(&self, r: u8, f: u8, m: u8) -> &str {
        let (r, f, m) = (r.clamp(1, 5), f.clamp(1, 5), m.clamp(1, 5));
        // The mean of F and M rounded half up: (f + m + 1) / 2.
        let fm = (f + m).div_ceil(2);
        &self.rows[usize::from(5 - r)][usize::from(fm - 1)]
    }

    /// Each distinct name once, in reading order (row by row from R = 5).
    pub fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for name in self.rows.iter().flatten() {
            if !out.contains(&name.as_str()) {
                out.push(name);
            }
        }
        out
    }
}

impl Default for RfmGrid {
    /// The standard grid of the [module documentation](self).
    fn default() -> Self {
        const NEW: &str = "New Customers";
        const POT: &str = "Potential Loyalist";
        const CHA: &str = "Champions";
        const PRO: &str = "Promising";
        const LOY: &str = "Loyal";
        const SLE: &str = "About to Sleep";
        const NEE: &str = "Need Attention";
        const HIB: &str = "Hibernating";
        const RIS: &str = "At Risk";
        const CAN: &str = "Can't Lose Them";
        const LOS: &str = "Lost";
        let rows = [
            [NEW, POT, POT, CHA, CHA],
            [PRO, POT, POT, LOY, CHA],
            [SLE, SLE, NEE, LOY, LOY],
            [HIB, HIB, RIS, RIS, CAN],
            [LOS, LOS, RIS, CAN, CAN],
        ];
        RfmGrid { rows: rows.map(|row| row.map(String::from)) }
    }
}

impl TryFrom<Vec<Vec<String>>> for RfmGrid {
    type Error = Error;
    fn try_from(rows: Vec<Vec<String>>) -> Result<RfmGrid> {
        RfmGrid::new(rows)
    }
}

impl From<RfmGrid> for Vec<Vec<String>> {
    fn from(g: RfmGrid) -> Self {
        g.rows.into_iter().map(Vec::from).collect()
    }
}

/// What to compute: the currency (which selects the population and the monetary value),
/// the as-of time (default: now) and the score-to-name grid.
///
/// In JSON (unknown fields are refused; `as_of` is RFC 3339 and may be omitted or null;
/// `grid` may be omitted for the default):
///
/// ```
/// use crm_core::segment::rfm::{RfmConfig, RfmGrid};
/// let c = RfmConfig::from_json(r#"{"currency": "usd", "as_of": "2026-01-31T00:00:00Z"}"#)?;
/// assert_eq!(c.currency.code(), "USD");
/// assert_eq!(c.grid, RfmGrid::default());
/// assert_eq!(RfmConfig::from_json(&serde_json::to_string(&c)?)?, c);
///
/// let bad = RfmConfig::from_json(r#"{"currency": "XYZ"}"#).unwrap_err();
/// assert_eq!(bad.field(), Some("currency"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "RawRfmConfig")]
pub struct RfmConfig {
    /// The currency: members are the customers with completed spend in it, and their
    /// monetary value is that spend.
    pub currency: Currency,
    /// The time the model is computed as of; `None` for now. From 1970 to at most
    /// [`MAX_AS_OF_FUTURE_DAYS`] ahead of now.
    pub as_of: Option<DateTime<Utc>>,
    /// The score-to-name grid.
    pub grid: RfmGrid,
}

/// The JSON form, checked field by field when it becomes an [`RfmConfig`].
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawRfmConfig {
    currency: String,
    #[serde(default)]
    as_of: Option<String>,
    #[serde(default)]
    grid: Option<Vec<Vec<String>>>,
}

impl TryFrom<RawRfmConfig> for RfmConfig {
    type Error = Error;
    fn try_from(raw: RawRfmConfig) -> Result<RfmConfig> {
        let as_of = raw
            .as_of
            .map(|t| {
                DateTime::parse_from_rfc3339(&t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| Error::validation("as_of", format!("{t:?} is not an RFC 3339 time: {e}")))
            })
            .transpose()?;
        let config = RfmConfig {
            currency: Currency::new(&raw.currency)?,
            as_of,
            grid: raw.grid.map(RfmGrid::new).transpose()?.unwrap_or_default(),
        };
        config.validate()?;
        Ok(config)
    }
}

impl RfmConfig {
    /// The default grid, as of now, in `currency`.
    ///
    /// ```
    /// use crm_core::segment::rfm::RfmConfig;
    /// let c = RfmConfig::new("JPY".parse().unwrap());
    /// assert!(c.as_of.is_none());
    /// ```
    pub fn new(currency: Currency) -> RfmConfig {
        RfmConfig { currency, as_of: None, grid: RfmGrid::default() }
    }

    /// Reads the JSON form, with an [`Error::Validation`] naming the field at fault
    /// (`currency`, `as_of`, `grid[2][4]`, or `rfm_config` for malformed JSON and unknown fields).
    pub fn from_json(text: &str) -> Result<RfmConfig> {
        // Shape errors stay on `rfm_config` (C reports them as malformed JSON); the message
        // names the path.
        let raw: RawRfmConfig = crate::json::parse(text).map_err(|e| Error::validation("rfm_config", e.to_string()))?;
        RfmConfig::try_from(raw)
    }

    /// Checks what the types cannot: the as-of time lies between 1970 and
    /// [`MAX_AS_OF_FUTURE_DAYS`] from now.
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = self.as_of {
            check_as_of(t)?;
        }
        Ok(())
    }

    /// The as-of time this configuration means now: the given one (to whole microseconds,
    /// as the store keeps times) or the current time.
    pub(crate) fn resolve_as_of(&self) -> Result<DateTime<Utc>> {
        self.validate()?;
        Ok(self.as_of.map_or_else(now, crate::validate::to_micros))
    }
}

pub(crate) fn check_as_of(t: DateTime<Utc>) -> Result<()> {
    if t < DateTime::UNIX_EPOCH {
        return Err(Error::validation("as_of", format!("{} is before 1970-01-01", t.to_rfc3339())));
    }
    let max = Utc::now() + chrono::Duration::days(MAX_AS_OF_FUTURE_DAYS);
    if t > max {
        return Err(Error::validation(
            "as_of",
            format!("{} is more than {MAX_AS_OF_FUTURE_DAYS} days in the future", t.to_rfc3339()),
        ));
    }
    Ok(())
}

/// Where a model's values came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RfmSource {
    /// The maintained per-customer statistics (the as-of time was at or after every
    /// member's last completed order): one row per customer.
    Stats,
    /// The orders up to the as-of time (it was earlier than some completed order): every
    /// order is read.
    Orders,
}

/// The value that earns each score 2 to 5 (index 0 is score 2, index 3 score 5), per
/// dimension; `None` where no member earned that score (many ties, or a tiny population).
///
/// A value scores `1 +` the number of boundaries it reaches: for frequency and monetary,
/// a value reaches a boundary when it is at least the boundary (the boundary is the smallest
/// member value earning the score); for recency, fewer days are better, so a value reaches
/// a boundary when it is at most the boundary (the most days still earning the score).
///
/// ```
/// use crm_core::segment::rfm::RfmBoundaries;
/// let b = RfmBoundaries {
///     recency_days: [Some(300), Some(120), Some(40), Some(7)],
///     frequency: [Some(2), Some(3), Some(5), Some(9)],
///     monetary_minor: [Some(1_000), None, None, None],
/// };
/// assert_eq!(b.r_score(7), 5);
/// assert_eq!(b.r_score(8), 4);
/// assert_eq!(b.r_score(301), 1);
/// assert_eq!(b.f_score(4), 3);
/// assert_eq!(b.m_score(1_000_000), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RfmBoundaries {
    /// Most days since the last order that still earn R = 2, 3, 4, 5.
    pub recency_days: [Option<i64>; 4],
    /// Fewest completed orders that earn F = 2, 3, 4, 5.
    pub frequency: [Option<i64>; 4],
    /// Least spend (minor units) that earns M = 2, 3, 4, 5.
    pub monetary_minor: [Option<i64>; 4],
}

impl RfmBoundaries {
    /// The recency score of `days` since the last order.
    pub fn r_score(&self, days: i64) -> u8 {
        1 + self.recency_days.iter().flatten().filter(|&&b| days <= b).count() as u8
    }

    /// The frequency score of `orders` completed orders.
    pub fn f_score(&self, orders: i64) -> u8 {
        1 + self.frequency.iter().flatten().filter(|&&b| orders >= b).count() as u8
    }

    /// The monetary score of `minor` units of spend.
    pub fn m_score(&self, minor: i64) -> u8 {
        1 + self.monetary_minor.iter().flatten().filter(|&&b| minor >= b).count() as u8
    }

    /// From a population's values: `recency` as days (fewer is better), the others more-is-better.
    fn of(recency: Vec<i64>, frequency: Vec<i64>, monetary: Vec<i64>) -> RfmBoundaries {
        let better_is_less: Vec<i64> = recency.into_iter().map(|d| -d).collect();
        RfmBoundaries {
            recency_days: quintile_boundaries(better_is_less).map(|b| b.map(|v| -v)),
            frequency: quintile_boundaries(frequency),
            monetary_minor: quintile_boundaries(monetary),
        }
    }
}

/// For values where more is better, the smallest member value earning each score 2 to 5
/// under `score = 1 + floor(5 × worse / N)` (`worse` = members with a strictly smaller value).
///
/// A value `v` earns score `s` or more exactly when `worse(v) >= t = ceil((s − 1) × N / 5)`;
/// with the values sorted, the members below sorted position `t` all have `worse < t`, so
/// the boundary is the first value strictly greater than the one at position `t − 1`.
fn quintile_boundaries(mut values: Vec<i64>) -> [Option<i64>; 4] {
    values.sort_unstable();
    let n = values.len();
    std::array::from_fn(|k| {
        let t = ((k + 1) * n).div_ceil(5);
        if t == 0 {
            return None;
        }
        let below = values[t - 1];
        let j = values.partition_point(|&v| v <= below);
        values.get(j).copied()
    })
}

/// An RFM model: what it was computed from, and the boundaries that score any customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmModel {
    /// The configuration as given.
    pub config: RfmConfig,
    /// The as-of time used (the configured one, or the time of computation).
    pub as_of: DateTime<Utc>,
    /// Where the values came from.
    pub source: RfmSource,
    /// Number of members (customers with completed spend in the currency).
    pub population: u64,
    /// The value that earns each score.
    pub boundaries: RfmBoundaries,
    /// When the model was computed.
    pub computed_at: DateTime<Utc>,
}

impl RfmModel {
    /// Scores one customer's inputs against this model's boundaries and grid, with recency
    /// counted to `as_of`.
    ///
    /// ```
    /// use crm_core::segment::rfm::{RfmConfig, RfmInput, RfmModel};
    /// use crm_core::{Crm, CustomerId};
    /// let crm = Crm::in_memory()?;
    /// let model: RfmModel = crm.compute_rfm(&RfmConfig::new("USD".parse()?))?.model;
    /// let input = RfmInput { customer_id: CustomerId(7), last_order_at: "2026-01-01T00:00:00Z".parse()?,
    ///     frequency: 2, monetary_minor: 5_000 };
    /// let s = model.score(&input, "2026-01-11T12:00:00Z".parse()?);
    /// assert_eq!((s.recency_days, s.r, s.f, s.m, s.segment.as_str()), (10, 1, 1, 1, "Lost")); // nobody to compare with
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn score(&self, input: &RfmInput, as_of: DateTime<Utc>) -> RfmScore {
        let recency_days = recency_days(input.last_order_at, as_of);
        let (r, f, m) = (
            self.boundaries.r_score(recency_days),
            self.boundaries.f_score(input.frequency),
            self.boundaries.m_score(input.monetary_minor),
        );
        RfmScore {
            customer_id: input.customer_id,
            recency_days,
            frequency: input.frequency,
            monetary_minor: input.monetary_minor,
            r,
            f,
            m,
            segment: self.config.grid.name(r, f, m).to_owned(),
        }
    }

    /// Computes a model and every member's score from the population's inputs.
    pub(crate) fn build(
        config: &RfmConfig,
        as_of: DateTime<Utc>,
        source: RfmSource,
        inputs: Vec<RfmInput>,
    ) -> RfmTable {
        let boundaries = RfmBoundaries::of(
            inputs.iter().map(|i| recency_days(i.last_order_at, as_of)).collect(),
            inputs.iter().map(|i| i.frequency).collect(),
            inputs.iter().map(|i| i.monetary_minor).collect(),
        );
        let model = RfmModel {
            config: config.clone(),
            as_of,
            source,
            population: inputs.len() as u64,
            boundaries,
            computed_at: now(),
        };
        // Scoring through the boundaries is the batch score: see `quintile_boundaries`.
        let scores = inputs.iter().map(|i| model.score(i, as_of)).collect();
        RfmTable { model, scores }
    }

    pub(crate) fn from_stored(json: &str) -> Result<RfmModel> {
        serde_json::from_str(json)
            .map_err(|e| Error::validation("rfm_model", format!("the stored RFM model cannot be read: {e}")))
    }
}

fn recency_days(last: DateTime<Utc>, as_of: DateTime<Utc>) -> i64 {
    (as_of.timestamp_micros() - last.timestamp_micros()).div_euclid(DAY_MICROS)
}

/// A computed RFM model with the scores of every member, by customer id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmTable {
    /// The model.
    pub model: RfmModel,
    /// One score per member, ordered by customer id.
    pub scores: Vec<RfmScore>,
}

impl RfmTable {
    /// Members per named segment: every name of the grid in reading order, with zero for
    /// names nobody falls into.
    ///
    /// ```
    /// use crm_core::segment::rfm::RfmConfig;
    /// let crm = crm_core::Crm::in_memory()?;
    /// let sizes = crm.compute_rfm(&RfmConfig::new("USD".parse()?))?.segment_sizes();
    /// assert_eq!(sizes.len(), 11);
    /// assert_eq!(sizes[0], ("New Customers".to_string(), 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn segment_sizes(&self) -> Vec<(String, u64)> {
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for s in &self.scores {
            *counts.entry(&s.segment).or_default() += 1;
        }
        sizes_in_grid_order(&self.model.config.grid, counts.into_iter().map(|(k, v)| (k.to_owned(), v)))
    }
}

pub(crate) fn sizes_in_grid_order(
    grid: &RfmGrid,
    counts: impl IntoIterator<Item = (String, u64)>,
) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = grid.names().into_iter().map(|n| (n.to_owned(), 0)).collect();
    for (name, n) in counts {
        match out.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v += n,
            None => out.push((name, n)),
        }
    }
    out
}

/// The population's inputs as of `as_of`: from the statistics when no member has a
/// completed order after `as_of`, from the orders otherwise.
pub(crate) fn rfm_inputs(
    tx: &mut (impl SegmentRead + ?Sized),
    currency: Currency,
    as_of: DateTime<Utc>,
) -> Result<(RfmSource, Vec<RfmInput>)> {
    let stats = tx.rfm_inputs(currency, None)?;
    if stats.iter().all(|i| i.last_order_at <= as_of) {
        Ok((RfmSource::Stats, stats))
    } else {
        drop(stats);
        Ok((RfmSource::Orders, tx.rfm_inputs(currency, Some(as_of))?))
    }
}

/// The storage port of rfm records: what the domain reads. Each store implements
/// it (in its own file); a read transaction has it, so does a write transaction.
pub trait RfmStore {
    /// The RFM population of `currency`, by customer id: every customer with positive
    /// completed spend in it, with the time of its last completed order, its number of
    /// completed orders (both in any currency) and that spend. With `until: None`, read from
    /// the statistics; with `Some(t)`, computed from the completed orders with `occurred_at <= t`.
    fn rfm_inputs(&mut self, currency: Currency, until: Option<DateTime<Utc>>) -> Result<Vec<RfmInput>>;
    /// One customer's RFM inputs as [`rfm_inputs`](Self::rfm_inputs) defines them; `None`
    /// when it is not in the population.
    fn rfm_input_of(
        &mut self,
        customer: CustomerId,
        currency: Currency,
        until: Option<DateTime<Utc>>,
    ) -> Result<Option<RfmInput>>;
    /// A customer's stored RFM score.
    fn get_rfm(&mut self, customer: CustomerId) -> Result<Option<RfmScore>>;
    /// Stored RFM scores per segment name.
    fn rfm_segment_counts(&mut self) -> Result<Vec<(String, i64)>>;
}

/// The storage port of rfm records: what the domain writes. Only a write
/// transaction has it.
pub trait RfmStoreMut: RfmStore {
    /// Replaces every stored RFM score with `scores`.
    fn replace_rfm(&mut self, scores: &[RfmScore]) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, by brute force.
    fn naive(values: &[i64]) -> Vec<u8> {
        let n = values.len();
        values.iter().map(|v| 1 + (5 * values.iter().filter(|w| *w < v).count() / n) as u8).collect()
    }

    #[test]
    fn boundaries_reproduce_the_definition() {
        let cases: Vec<Vec<i64>> = vec![
            vec![],
            vec![7],
            vec![1, 1, 1, 1],
            vec![1, 2],
            vec![5, 4, 3, 2, 1],
            vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 9],
            vec![1, 2, 2, 2, 3, 3, 4, 10, 10, 10, 10, 11],
            (0..1000).map(|i| (i * 7919) % 37).collect(),
        ];
        for values in cases {
            let b = quintile_boundaries(values.clone());
            let scored: Vec<u8> =
                values.iter().map(|&v| 1 + b.iter().flatten().filter(|&&x| v >= x).count() as u8).collect();
            assert_eq!(scored, naive(&values), "{values:?} with boundaries {b:?}");
            assert!(b.windows(2).all(|w| w[0].is_none() || w[1].is_none() || w[0] <= w[1]));
        }
    }

    #[test]
    fn recency_boundaries_prefer_fewer_days() {
        let b = RfmBoundaries::of(vec![100, 50, 10, 1, 0], vec![1; 5], vec![1; 5]);
        assert_eq!(b.recency_days, [Some(50), Some(10), Some(1), Some(0)]);
        assert_eq!([100, 50, 10, 1, 0].map(|d| b.r_score(d)), [1, 2, 3, 4, 5]);
        assert_eq!(b.frequency, [None; 4]);
        assert_eq!(b.f_score(1), 1);
    }

    #[test]
    fn recency_rounds_down_to_whole_days() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(recency_days(t("2026-01-01T12:00:00Z"), t("2026-01-02T11:59:59Z")), 0);
        assert_eq!(recency_days(t("2026-01-01T12:00:00Z"), t("2026-01-02T12:00:00Z")), 1);
        assert_eq!(recency_days(t("2026-01-01T12:00:00Z"), t("2026-01-01T12:00:00Z")), 0);
    }

    #[test]
    fn grid_fm_rounds_half_up() {
        let g = RfmGrid::default();
        assert_eq!(g.name(3, 3, 4), "Loyal"); // FM = 4
        assert_eq!(g.name(3, 2, 3), "Need Attention"); // FM = 3
        assert_eq!(g.name(4, 1, 2), "Potential Loyalist"); // FM = 2
        assert_eq!(g.names().len(), 11);
    }
}
