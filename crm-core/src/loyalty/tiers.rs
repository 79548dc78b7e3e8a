//! Loyalty tiers: thresholds on what a customer did over a rolling window (qualifying
//! points, never the balance that redemption lowers; or spend in one currency; or the
//! number of orders). A customer moves up as soon as an earning reaches the next
//! threshold; moving down waits for [`Crm::review_tiers`](crate::Crm::review_tiers),
//! run at the end of a qualification period, and then only once the tier has been held
//! for a full window plus the grace period.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::ledger::Account;
use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::loyalty::LoyaltyWrite;
use crate::money::Currency;

/// What tier thresholds measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
pub enum TierBasis {
    /// Qualifying points earned in the window, net of reversals.
    Points,
    /// Completed spend in a currency in the window (minor units).
    Spend {
        /// The currency.
        currency: Currency,
    },
    /// Completed orders in the window.
    Orders,
}

/// One tier: customers whose measure is at least `min` (and below `max`, when given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TierLevel {
    /// Unique name.
    pub name: String,
    /// The least measure (0 or more).
    pub min: i64,
    /// The measure from which the next tier applies; tiers may not overlap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
}

/// The tiers of a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Tiers {
    /// What thresholds measure.
    pub basis: TierBasis,
    /// The rolling qualification window in days (default 365).
    #[serde(default = "year")]
    pub window_days: u32,
    /// Days a tier is kept after the window in which it was earned (default 0).
    #[serde(default)]
    pub grace_days: u32,
    /// The tiers, lowest first.
    pub levels: Vec<TierLevel>,
}

fn year() -> u32 {
    365
}

impl Tiers {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.levels.is_empty() {
            return Err(Error::validation("tiers.levels", "at least one tier is required"));
        }
        if self.window_days == 0 {
            return Err(Error::validation("tiers.window_days", "must be more than 0"));
        }
        let mut names = HashSet::new();
        for (i, l) in self.levels.iter().enumerate() {
            let f = |x: &str| format!("tiers.levels[{i}].{x}");
            crate::segment::check_name(&f("name"), &l.name)?;
            if !names.insert(l.name.as_str()) {
                return Err(Error::validation(f("name"), format!("{:?} is used by two tiers", l.name)));
            }
            if l.min < 0 {
                return Err(Error::validation(f("min"), format!("{} is negative", l.min)));
            }
            if let Some(m) = l.max {
                if m <= l.min {
                    return Err(Error::validation(f("max"), format!("{m} is not above min ({})", l.min)));
                }
            }
            if i > 0 {
                let prev = &self.levels[i - 1];
                if l.min <= prev.min {
                    return Err(Error::validation(
                        f("min"),
                        format!("{} overlaps tier {:?} (min {}): list tiers lowest first", l.min, prev.name, prev.min),
                    ));
                }
                if prev.max.is_some_and(|m| m > l.min) {
                    return Err(Error::validation(
                        f("min"),
                        format!("{} overlaps tier {:?}, which runs up to {}", l.min, prev.name, prev.max.unwrap_or(0)),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The tier a measure earns (the highest whose `min` it reaches), if any.
    pub fn tier_for(&self, measure: i64) -> Option<&str> {
        self.levels.iter().rev().find(|l| l.min <= measure).map(|l| l.name.as_str())
    }

    /// Position of a tier, lowest 0; `None` for no tier or an unknown one.
    pub fn rank(&self, tier: Option<&str>) -> Option<usize> {
        tier.and_then(|t| self.levels.iter().position(|l| l.name == t))
    }

    /// The window's length.
    pub fn window(&self) -> TimeDelta {
        TimeDelta::days(i64::from(self.window_days))
    }

    /// The measure of `customer` over the window ending at `as_of`.
    pub(crate) fn measure(
        &self,
        tx: &mut (impl LoyaltyWrite + ?Sized),
        customer: CustomerId,
        as_of: DateTime<Utc>,
    ) -> Result<i64> {
        let since = as_of - self.window();
        match self.basis {
            TierBasis::Points => tx.loyalty_qualifying_between(customer, since, as_of),
            TierBasis::Spend { currency } => tx.completed_between(customer, Some(currency), since, as_of),
            TierBasis::Orders => tx.completed_between(customer, None, since, as_of),
        }
    }

    /// Moves the account up if its measure at `at` earns a higher tier; returns whether it moved.
    pub(crate) fn upgrade(
        &self,
        tx: &mut (impl LoyaltyWrite + ?Sized),
        acct: &mut Account,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        // The lifetime total bounds any window: skip the query when it cannot reach the next tier.
        let next = self.rank(acct.tier.as_deref()).map_or(0, |r| r + 1);
        let Some(next_level) = self.levels.get(next) else { return Ok(false) };
        if self.basis == TierBasis::Points && acct.qualifying_total < next_level.min {
            return Ok(false);
        }
        let m = self.measure(tx, acct.customer_id, at)?;
        match self.upgrade_to(acct.tier.as_deref(), m) {
            Some(target) => {
                set_tier(tx, acct, Some(target.to_string()), at, "upgrade")?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The tier a customer holding `current` moves up to as soon as its measure is
    /// `measure`, when that earns a higher one (any tier is higher than none, or than a tier
    /// the program no longer has). Shared by the live path and the simulator.
    pub(crate) fn upgrade_to(&self, current: Option<&str>, measure: i64) -> Option<&str> {
        let target = self.tier_for(measure);
        if self.rank(target) > self.rank(current) {
            target
        } else {
            None
        }
    }

    /// At a period end: moves the account to the tier its measure earns, down only once the
    /// tier has been held for a window plus the grace period. Returns whether it moved.
    pub(crate) fn review(
        &self,
        tx: &mut (impl LoyaltyWrite + ?Sized),
        acct: &mut Account,
        as_of: DateTime<Utc>,
    ) -> Result<bool> {
        let m = self.measure(tx, acct.customer_id, as_of)?;
        let target = self.tier_for(m);
        let (now_rank, target_rank) = (self.rank(acct.tier.as_deref()), self.rank(target));
        if target_rank > now_rank {
            set_tier(tx, acct, target.map(str::to_string), as_of, "upgrade")?;
            return Ok(true);
        }
        let held_long_enough =
            acct.tier_since.is_none_or(|s| as_of >= s + self.window() + TimeDelta::days(i64::from(self.grace_days)));
        if target_rank < now_rank && held_long_enough {
            set_tier(tx, acct, target.map(str::to_string), as_of, "downgrade")?;
            return Ok(true);
        }
        Ok(false)
    }
}

/// Sets the account's tier and records the change in the tier history (the caller stores the account).
pub(crate) fn set_tier(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    acct: &mut Account,
    tier: Option<String>,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<()> {
    if acct.tier == tier {
        return Ok(());
    }
    tx.append_loyalty_tier(acct.customer_id, tier.as_deref(), at, reason)?;
    acct.tier = tier;
    acct.tier_since = Some(at);
    Ok(())
}

/// One change of a customer's loyalty tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChange {
    /// The tier from then on (`None`: no tier).
    pub tier: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// `upgrade`, `downgrade` or `manual`.
    pub reason: String,
}
