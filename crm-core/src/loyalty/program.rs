//! A loyalty program's configuration, read from JSON or TOML and validated on load.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::tiers::Tiers;
use crate::error::{Error, Result};
use crate::money::Currency;
use crate::rule::{check, Definitions, Expr};

/// Largest multiplier accepted.
pub const MAX_MULTIPLIER: f64 = 1_000.0;
/// Largest fixed bonus, rate numerator or cap accepted.
pub const MAX_POINTS: i64 = 1_000_000_000;
/// Longest expiry, pending period, tier window or grace period, in days (a century).
pub const MAX_DAYS: u32 = 36_525;

/// How fractional points are rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Toward zero (the default): 9.99 points are 9.
    #[default]
    Down,
    /// To the nearest, halves up.
    Nearest,
    /// Away from zero.
    Up,
}

impl Rounding {
    /// `num / den` rounded (`den > 0`, `num >= 0`).
    pub fn divide(self, num: i128, den: i128) -> i64 {
        let q = match self {
            Rounding::Down => num / den,
            Rounding::Nearest => (2 * num + den) / (2 * den),
            Rounding::Up => (num + den - 1) / den,
        };
        i64::try_from(q).unwrap_or(i64::MAX)
    }
}

/// Points for spend in one currency: `points` for every `per_minor` minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Points earned per `per_minor` minor units (0 or more).
    pub points: i64,
    /// Minor units that earn `points` (more than 0): 100 with USD is "per dollar".
    pub per_minor: i64,
    /// Rounding of the fractional points of an amount.
    #[serde(default)]
    pub rounding: Rounding,
}

impl Rate {
    /// Points for `minor` units of spend, times `permille / 1000`, rounded once.
    pub fn points_for(&self, minor: i64, permille: i64) -> i64 {
        if minor <= 0 || permille <= 0 {
            return 0;
        }
        self.rounding.divide(
            i128::from(minor) * i128::from(self.points) * i128::from(permille),
            i128::from(self.per_minor) * 1000,
        )
    }
}

/// What a debit does when the points it would take back were already spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DebtPolicy {
    /// A reversal takes back all the points the order earned; if they were spent, the
    /// balance goes negative (a debt that later earnings pay first). Redemptions never
    /// create a debt.
    AllowNegative,
    /// A reversal takes back only what the account still holds; the balance never goes
    /// below zero (the default).
    #[default]
    ClawBackAvailable,
}

/// Kinds of earning rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Points for the order total at the currency's [`Rate`].
    Base,
    /// Extra points on the part of an order a tier, category, SKU or channel selects: the
    /// rate's points on that spend times `multiplier - 1` (2.0 doubles).
    Multiplier,
    /// A fixed number of points on an event.
    Bonus,
}

/// What a multiplier selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MultiplierBy {
    /// The whole order, when the customer holds this loyalty tier.
    Tier,
    /// Line items of this category.
    Category,
    /// Line items of this SKU.
    Sku,
    /// The whole order, when it came through this channel.
    Channel,
}

/// Events that fixed bonuses reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The customer joined (awarded by the host, [`Crm::award_event`](crate::Crm::award_event)).
    SignUp,
    /// The customer's birthday (awarded by the host, with a key per year).
    Birthday,
    /// The customer's first order that earns points (automatic).
    FirstOrder,
    /// The customer answered a survey (awarded by the host).
    SurveyAnswered,
    /// The customer referred someone (awarded by the host).
    Referral,
}

/// Caps on what one rule gives one customer. Each, when set, is more than 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Caps {
    /// Most points per order (or per event award).
    #[serde(default)]
    pub per_order: Option<i64>,
    /// Most points per calendar day (UTC).
    #[serde(default)]
    pub per_day: Option<i64>,
    /// Most points per calendar month (UTC).
    #[serde(default)]
    pub per_month: Option<i64>,
}

/// One earning rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EarnRule {
    /// Unique name (shown in statements, keys of cap usage).
    pub name: String,
    /// What it rewards.
    pub kind: RuleKind,
    /// Multipliers: what they select.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<MultiplierBy>,
    /// Multipliers: the tier, category, SKU or channel selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Multipliers: the factor (0 to 1,000; 1.5 gives half as many points again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    /// Bonuses: the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    /// Bonuses: the points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<i64>,
    /// Only for customers meeting this rule-language condition (text or JSON tree).
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::segment::optional_rule_schema"))]
    #[serde(default, deserialize_with = "crate::segment::rule_or_text", skip_serializing_if = "Option::is_none")]
    pub when: Option<Expr>,
    /// Only for orders and events at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Only for orders and events before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Caps.
    #[serde(default)]
    pub caps: Caps,
    /// Whether it adds to other rules of its kind (the default); of the applicable
    /// multipliers (or bonuses) that do not stack, only the one giving most applies.
    #[serde(default = "yes")]
    pub stacks: bool,
    /// Whether its points count toward tiers (default: yes for base and multipliers, no for bonuses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifying: Option<bool>,
}

fn yes() -> bool {
    true
}

impl EarnRule {
    /// Whether its points count toward tiers.
    pub fn is_qualifying(&self) -> bool {
        self.qualifying.unwrap_or(self.kind != RuleKind::Bonus)
    }

    /// Whether `t` falls in its date window.
    pub fn active_at(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| f <= t) && self.until.is_none_or(|u| t < u)
    }

    /// The multiplier in thousandths.
    pub(crate) fn permille(&self) -> i64 {
        (self.multiplier.unwrap_or(1.0) * 1000.0).round() as i64
    }
}

/// A loyalty program, read with [`Program::from_json`] or [`Program::from_toml`].
///
/// ```
/// use crm_core::loyalty::Program;
/// let p = Program::from_toml(r#"
///     name = "Stars"
///     expiry_days = 365
///     debt = "claw_back_available"
///
///     [rates.USD]
///     points = 1
///     per_minor = 100      # one point per dollar
///
///     [[rules]]
///     name = "base"
///     kind = "base"
///
///     [[rules]]
///     name = "double shoes"
///     kind = "multiplier"
///     by = "category"
///     value = "shoes"
///     multiplier = 2.0
///     caps = { per_order = 500 }
/// "#).unwrap();
/// assert_eq!(p.rules.len(), 2);
/// assert!(Program::from_json(r#"{"name": "x", "rates": {"USD": {"points": -1, "per_minor": 100}}}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// The program's name.
    pub name: String,
    /// Earning rates per currency; orders in other currencies earn no spend points.
    #[serde(default)]
    pub rates: BTreeMap<Currency, Rate>,
    /// Earning rules, applied in order.
    #[serde(default)]
    pub rules: Vec<EarnRule>,
    /// Tiers, if the program has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Tiers>,
    /// Days after earning when the rest of a lot expires (never, if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_days: Option<u32>,
    /// Days after an order before its points can be redeemed (the return window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_days: Option<u32>,
    /// What a reversal does to points already spent.
    #[serde(default)]
    pub debt: DebtPolicy,
}

impl Program {
    /// Reads and validates a program in JSON.
    pub fn from_json(text: &str) -> Result<Program> {
        crate::rule::check_json_depth(text, "program")?;
        let p: Program = crate::json::parse_object(text).map_err(|e| e.into_error("program"))?;
        p.validate()?;
        Ok(p)
    }

    /// Reads and validates a program in TOML.
    pub fn from_toml(text: &str) -> Result<Program> {
        let p: Program = toml::from_str(text).map_err(|e| Error::validation("program", e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// The program as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a program serialises")
    }

    /// Checks every rule of the program; the error names the offending field
    /// (`rules[2].multiplier`, `tiers.levels[1].min`, ...).
    pub fn validate(&self) -> Result<()> {
        crate::segment::check_name("name", &self.name)?;
        for (cur, r) in &self.rates {
            let f = |x: &str| format!("rates.{cur}.{x}");
            if r.points < 0 || r.points > MAX_POINTS {
                return Err(Error::validation(f("points"), format!("{} is outside 0 ..= {MAX_POINTS}", r.points)));
            }
            if r.per_minor <= 0 || r.per_minor > MAX_POINTS {
                return Err(Error::validation(
                    f("per_minor"),
                    format!("{} is outside 1 ..= {MAX_POINTS}", r.per_minor),
                ));
            }
        }
        if self.expiry_days == Some(0) {
            return Err(Error::validation("expiry_days", "0: leave it out for points that never expire"));
        }
        let days = [
            ("expiry_days", self.expiry_days),
            ("pending_days", self.pending_days),
            ("tiers.window_days", self.tiers.as_ref().map(|t| t.window_days)),
            ("tiers.grace_days", self.tiers.as_ref().map(|t| t.grace_days)),
        ];
        for (field, d) in days {
            if d.is_some_and(|d| d > MAX_DAYS) {
                return Err(Error::validation(
                    field,
                    format!("{} is more than {MAX_DAYS} days (a century)", d.unwrap_or(0)),
                ));
            }
        }
        if let Some(t) = &self.tiers {
            t.validate()?;
            if let super::tiers::TierBasis::Spend { currency } = t.basis {
                if !self.rates.contains_key(&currency) {
                    return Err(Error::validation(
                        "tiers.basis.currency",
                        format!("{currency} has no earning rate in this program"),
                    ));
                }
            }
        }
        let mut names = HashSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            let f = |x: &str| format!("rules[{i}].{x}");
            crate::segment::check_name(&f("name"), &r.name)?;
            if !names.insert(r.name.as_str()) {
                return Err(Error::validation(f("name"), format!("{:?} is used by two rules", r.name)));
            }
            let want = |name: &str, present: bool, needed: bool| -> Result<()> {
                match (present, needed) {
                    (false, true) => Err(Error::validation(f(name), format!("is required for a {:?} rule", r.kind))),
                    (true, false) => Err(Error::validation(f(name), format!("does not apply to a {:?} rule", r.kind))),
                    _ => Ok(()),
                }
            };
            let mult = r.kind == RuleKind::Multiplier;
            let bonus = r.kind == RuleKind::Bonus;
            want("by", r.by.is_some(), mult)?;
            want("value", r.value.is_some(), mult)?;
            want("multiplier", r.multiplier.is_some(), mult)?;
            want("event", r.event.is_some(), bonus)?;
            want("points", r.points.is_some(), bonus)?;
            if let Some(m) = r.multiplier {
                if !m.is_finite() || !(0.0..=MAX_MULTIPLIER).contains(&m) {
                    return Err(Error::validation(f("multiplier"), format!("{m} is outside 0 ..= {MAX_MULTIPLIER}")));
                }
            }
            if let Some(p) = r.points {
                if p <= 0 || p > MAX_POINTS {
                    return Err(Error::validation(f("points"), format!("{p} is outside 1 ..= {MAX_POINTS}")));
                }
            }
            if let (Some(MultiplierBy::Tier), Some(v)) = (r.by, &r.value) {
                let known = self.tiers.as_ref().is_some_and(|t| t.levels.iter().any(|l| &l.name == v));
                if !known {
                    return Err(Error::validation(f("value"), format!("unknown tier {v:?}")));
                }
            }
            for (name, cap) in
                [("per_order", r.caps.per_order), ("per_day", r.caps.per_day), ("per_month", r.caps.per_month)]
            {
                if let Some(c) = cap {
                    if c <= 0 || c > MAX_POINTS {
                        return Err(Error::validation(
                            f(&format!("caps.{name}")),
                            format!("{c} is outside 1 ..= {MAX_POINTS} (leave a cap out for none)"),
                        ));
                    }
                }
            }
            if let (Some(a), Some(b)) = (r.from, r.until) {
                if a >= b {
                    return Err(Error::validation(f("until"), format!("{b} is not after from ({a})")));
                }
            }
            if let Some(w) = &r.when {
                check(w, &Definitions::default(), Utc::now()).map_err(|e| match e {
                    Error::Validation { field, reason } => {
                        Error::Validation { field: f(&format!("when.{field}")), reason }
                    }
                    Error::NotFound { entity, id } => Error::validation(
                        f("when"),
                        format!("{entity} {id:?}: a loyalty condition cannot refer to saved segments or plans"),
                    ),
                    e => e,
                })?;
            }
        }
        Ok(())
    }
}
