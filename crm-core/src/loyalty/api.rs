//! Loyalty through the [`Crm`] facade. Each call is one transaction; orders earn and
//! follow their corrections inside the transaction that writes them (see `orders`).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::earning::Earning;
use super::ledger::{self, Account, Draft, Entry, EntryKind, Lot};
use super::program::Program;
use super::tiers::TierChange;
use crate::changes::Entity;
use crate::config::ConfigKey;
use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::loyalty::{LoyaltyRead, LoyaltyWrite};
use crate::order::Order;

/// A customer's points at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// The customer.
    pub customer_id: CustomerId,
    /// Sum of the ledger entries (negative only as a debt the program allows).
    pub balance: i64,
    /// Points that can be redeemed now.
    pub available: i64,
    /// Points still in their pending period.
    pub pending: i64,
    /// Current loyalty tier.
    pub tier: Option<String>,
}

/// A customer's ledger: balances, every entry oldest first, and the lots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Balances now.
    pub balance: Balance,
    /// Every entry, oldest first (by effective time, then id).
    pub entries: Vec<Entry>,
    /// Every lot, oldest first.
    pub lots: Vec<Lot>,
    /// Tier changes, oldest first.
    pub tiers: Vec<TierChange>,
}

/// What an expiry run did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExpiryReport {
    /// Lots expired.
    pub lots: i64,
    /// Points expired.
    pub points: i64,
}

/// What a tier review did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TierReview {
    /// Accounts reviewed.
    pub accounts: i64,
    /// Accounts moved up.
    pub upgraded: i64,
    /// Accounts moved down.
    pub downgraded: i64,
}

pub(crate) fn load_program(tx: &mut (impl LoyaltyRead + ?Sized)) -> Result<Option<Program>> {
    tx.config(ConfigKey::LoyaltyProgram)?
        .map(|s| serde_json::from_str(&s).map_err(|e| Error::validation("program", format!("stored program: {e}"))))
        .transpose()
}

pub(crate) fn require_program(tx: &mut (impl LoyaltyRead + ?Sized)) -> Result<Program> {
    load_program(tx)?.ok_or_else(|| Error::validation("program", "no loyalty program is set"))
}

pub(crate) fn days(n: Option<u32>) -> Option<TimeDelta> {
    n.map(|d| TimeDelta::days(i64::from(d)))
}

/// Writes an earning (its entry with `note`, its lot, its cap usage) and moves the tier up
/// if it now can.
#[allow(clippy::too_many_arguments)]
pub(crate) fn post_earning(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    p: &Program,
    acct: &mut Account,
    earning: &Earning,
    key: &str,
    order: Option<&Order>,
    at: DateTime<Utc>,
    note: String,
    now: DateTime<Utc>,
) -> Result<Entry> {
    for (rule, period, pts) in &earning.usage {
        tx.add_loyalty_rule_usage(acct.customer_id, rule, period, *pts)?;
    }
    let d = Draft {
        customer_id: acct.customer_id,
        kind: EntryKind::Earn,
        points: earning.points,
        qualifying: earning.qualifying,
        key,
        order_id: order.map(|o| o.id),
        amount_minor: order.map(|o| o.total.minor),
        at,
        note: Some(note),
    };
    let pending = days(p.pending_days).filter(|_| order.is_some()).map_or(at, |d| at + d);
    let e = ledger::credit(tx, acct, d, pending, days(p.expiry_days).map(|d| at + d), now)?;
    if let Some(t) = &p.tiers {
        t.upgrade(tx, acct, at)?;
    }
    Ok(e)
}

pub(crate) fn check_points(points: i64) -> Result<()> {
    if points <= 0 || points > super::program::MAX_POINTS {
        return Err(Error::validation("points", format!("{points} is outside 1 ..= {}", super::program::MAX_POINTS)));
    }
    Ok(())
}

/// The customer a loyalty call names, resolved (a merged-away customer's points are its
/// survivor's); [`Error::NotFound`] when there is none.
pub(crate) fn require_customer(tx: &mut (impl LoyaltyRead + ?Sized), c: CustomerId) -> Result<CustomerId> {
    if tx.customer_exists(c)? {
        Ok(crate::crm::merge::resolve(tx, c)?.id)
    } else {
        Err(Error::not_found(Entity::Customer, c))
    }
}

pub(crate) fn balance_of(tx: &mut (impl LoyaltyRead + ?Sized), c: CustomerId, t: DateTime<Utc>) -> Result<Balance> {
    let acct = tx.loyalty_account(c)?;
    let lots = tx.open_lots(c)?;
    let available = lots.iter().filter(|l| ledger::redeemable(l, t)).map(|l| l.remaining).sum();
    let pending = lots.iter().filter(|l| l.available_at > t).map(|l| l.remaining).sum();
    Ok(Balance {
        customer_id: c,
        balance: acct.as_ref().map_or(0, |a| a.balance),
        available,
        pending,
        tier: acct.and_then(|a| a.tier),
    })
}
