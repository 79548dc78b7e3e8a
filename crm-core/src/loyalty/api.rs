//! Loyalty through the [`Crm`] facade. Each call is one transaction; orders earn and
//! reverse inside the transaction that writes them ([`order_written`]).

use std::collections::hash_map::{self, HashMap};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::earning::{self, EarnContext, Earning};
use super::ledger::{self, Account, Draft, Entry, EntryKind, Lot, Posted};
use super::program::{DebtPolicy, Event, Program};
use super::tiers::{self, TierChange};
use crate::changes::{Entity, Op};
use crate::crm::{now, Crm};
use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::order::{Order, OrderStatus};
use crate::rule::{check, Definitions, Expr};
use crate::stats::StatsAcc;
use crate::store::{Store, StoreTx};

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

/// What loyalty keeps during one transaction of order writes (single calls and bulk
/// ingest batches alike): the program, read at most once, and the accounts the orders
/// touched, each read once and written back once by [`flush`](Self::flush).
#[derive(Debug, Default)]
pub(crate) struct OrderLoyalty {
    program: Option<Option<Arc<Program>>>,
    accounts: HashMap<CustomerId, Account>,
}

impl OrderLoyalty {
    fn program(&mut self, tx: &mut impl StoreTx) -> Result<Option<Arc<Program>>> {
        if self.program.is_none() {
            self.program = Some(load_program(tx)?.map(Arc::new));
        }
        Ok(self.program.clone().flatten())
    }

    fn account(&mut self, tx: &mut impl StoreTx, c: CustomerId, now: DateTime<Utc>) -> Result<&mut Account> {
        Ok(match self.accounts.entry(c) {
            hash_map::Entry::Occupied(e) => e.into_mut(),
            hash_map::Entry::Vacant(v) => v.insert(ledger::account(tx, c, now)?),
        })
    }

    /// Writes the accounts back; the last step of the transaction.
    pub(crate) fn flush(self, tx: &mut impl StoreTx) -> Result<()> {
        for a in self.accounts.values() {
            tx.put_loyalty_account(a)?;
        }
        Ok(())
    }
}

fn load_program(tx: &mut impl StoreTx) -> Result<Option<Program>> {
    tx.get_loyalty_program()?
        .map(|s| serde_json::from_str(&s).map_err(|e| Error::validation("program", format!("stored program: {e}"))))
        .transpose()
}

pub(super) fn require_program(tx: &mut impl StoreTx) -> Result<Program> {
    load_program(tx)?.ok_or_else(|| Error::validation("program", "no loyalty program is set"))
}

/// Reads conditions and cap usage from the transaction.
struct TxContext<'a, T: StoreTx> {
    tx: &'a mut T,
    customer: CustomerId,
}

impl<T: StoreTx> EarnContext for TxContext<'_, T> {
    fn condition(&mut self, when: &Expr, at: DateTime<Utc>) -> Result<bool> {
        let cond = check(when, &Definitions::default(), at)?;
        crate::segment::evaluate_one(self.tx, self.customer, &cond)
    }

    fn usage(&mut self, rule: &str, period: &str) -> Result<i64> {
        self.tx.loyalty_rule_usage(self.customer, rule, period)
    }
}

fn days(n: Option<u32>) -> Option<TimeDelta> {
    n.map(|d| TimeDelta::days(i64::from(d)))
}

fn earn_key(o: &Order) -> String {
    format!("order:{}", o.external_id)
}

/// Earns or reverses the points of an order just written (`old`: the order as it was,
/// when this write changed it), before `acc` counts it. Runs in the order's transaction,
/// for single calls and bulk ingest alike. The order's external id is the key: an order
/// earns once. Conditions see the customer's statistics without this order and with every
/// earlier order of the transaction, so a batch earns what the same orders earn one call
/// at a time.
pub(crate) fn order_written(
    tx: &mut impl StoreTx,
    acc: &mut StatsAcc,
    old: Option<&Order>,
    o: &Order,
    now: DateTime<Utc>,
) -> Result<()> {
    let program = acc.loyalty.program(tx)?;
    let entries = match old {
        Some(_) => tx.loyalty_entries_of_order(o.id)?,
        None => Vec::new(),
    };
    if entries.iter().any(|e| e.kind == EntryKind::Earn) {
        return reverse_order(tx, program.as_deref(), &entries, o, now, |tx| {
            acc.loyalty.account(tx, o.customer_id, now)
        });
    }
    match program {
        Some(p) if o.status == OrderStatus::Completed => {
            if p.rules.iter().any(|r| r.when.is_some()) {
                acc.settle(tx, o.customer_id)?;
            }
            let acct = acc.loyalty.account(tx, o.customer_id, now)?;
            earn_order(tx, &p, acct, o, now)
        }
        _ => Ok(()),
    }
}

/// Before an order is deleted: takes back what it earned (as a cancellation would), then
/// unlinks its entries and frees their keys (`~deleted:<entry id>` appended), so the
/// external id and the order id can be used again.
pub(crate) fn order_deleted(tx: &mut impl StoreTx, o: &Order, now: DateTime<Utc>) -> Result<()> {
    let entries = tx.loyalty_entries_of_order(o.id)?;
    if entries.iter().any(|e| e.kind == EntryKind::Earn) {
        let mut cache = OrderLoyalty::default();
        let program = cache.program(tx)?;
        let gone = Order { status: OrderStatus::Cancelled, ..o.clone() };
        reverse_order(tx, program.as_deref(), &entries, &gone, now, |tx| cache.account(tx, o.customer_id, now))?;
        cache.flush(tx)?;
    }
    for e in tx.loyalty_entries_of_order(o.id)? {
        tx.detach_loyalty_entry(e.id, &format!("{}~deleted:{}", e.key, e.id.0))?;
        tx.append_change(Entity::LoyaltyEntry, e.id.0, Op::Update, now)?;
    }
    Ok(())
}

/// Before a customer is deleted: removes their account and ledger (see
/// [`StoreTx::delete_loyalty`]), each removed entry a deletion in the change feed.
pub(crate) fn customer_deleted(tx: &mut impl StoreTx, c: CustomerId, now: DateTime<Utc>) -> Result<()> {
    for e in tx.delete_loyalty(c)? {
        tx.append_change(Entity::LoyaltyEntry, e.0, Op::Delete, now)?;
    }
    Ok(())
}

fn earn_order(tx: &mut impl StoreTx, p: &Program, acct: &mut Account, o: &Order, now: DateTime<Utc>) -> Result<()> {
    let key = earn_key(o);
    let earning = {
        let mut ctx = TxContext { tx, customer: o.customer_id };
        earning::order_points(p, o, acct.tier.as_deref(), acct.orders == 0, &mut ctx)?
    };
    acct.orders += 1;
    acct.updated_at = now;
    if earning.points > 0 {
        post_earning(tx, p, acct, &earning, &key, Some(o), o.occurred_at, now)?;
    } else if let Some(t) = &p.tiers {
        // An order earning nothing (a spent cap, a currency without a rate) still counts
        // toward spend and order-count tiers.
        t.upgrade(tx, acct, o.occurred_at)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn post_earning(
    tx: &mut impl StoreTx,
    p: &Program,
    acct: &mut Account,
    earning: &Earning,
    key: &str,
    order: Option<&Order>,
    at: DateTime<Utc>,
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
        note: Some(serde_json::to_string(&earning.rules).expect("rule points serialise")),
    };
    let pending = days(p.pending_days).filter(|_| order.is_some()).map_or(at, |d| at + d);
    let e = ledger::credit(tx, acct, d, pending, days(p.expiry_days).map(|d| at + d), now)?;
    if let Some(t) = &p.tiers {
        t.upgrade(tx, acct, at)?;
    }
    Ok(e)
}

/// `part` of `earned`, in proportion `num / den`, rounded down, within `0 ..= part`.
fn proportion(part: i64, num: i64, den: i64) -> i64 {
    if den <= 0 {
        return 0;
    }
    let v = i128::from(part) * i128::from(num.max(0)) / i128::from(den);
    i64::try_from(v).unwrap_or(i64::MAX).clamp(0, part)
}

/// Brings an order's net points to what its current state earns: nothing when refunded or
/// cancelled, the earned points in proportion to a lowered total otherwise, everything it
/// earned again when a refund is undone (never more than it first earned). Qualifying
/// progress follows. Each change is one `reverse` entry: negative when it takes back,
/// positive when it gives back what earlier reversals took (as a lot expiring with the
/// order's own lot, or now if that has passed). Its note records how much the change
/// owes (`owed`, negative when giving back), whatever the debt policy let it take.
/// `entries`: the order's entries so far (nothing happens without an earning among them).
fn reverse_order<'a, T: StoreTx>(
    tx: &mut T,
    p: Option<&Program>,
    entries: &[Entry],
    o: &Order,
    now: DateTime<Utc>,
    account: impl FnOnce(&mut T) -> Result<&'a mut Account>,
) -> Result<()> {
    let Some(earned) = entries.iter().find(|e| e.kind == EntryKind::Earn) else { return Ok(()) };
    let basis = earned.amount_minor.unwrap_or(o.total.minor);
    let (target, target_q) = match o.status {
        OrderStatus::Completed => {
            (proportion(earned.points, o.total.minor, basis), proportion(earned.qualifying, o.total.minor, basis))
        }
        _ => (0, 0),
    };
    // Over the order's earlier reversals: qualifying left, points owed and points taken.
    let (mut net_q, mut owed_before, mut taken_before, mut reversals) = (0, 0, 0, 0);
    for e in entries {
        match e.kind {
            EntryKind::Earn => net_q += e.qualifying,
            EntryKind::Reverse => {
                net_q += e.qualifying;
                owed_before += owed_of(e);
                taken_before -= e.points;
                reversals += 1;
            }
            _ => {}
        }
    }
    // What earlier reversals owed counts whether or not the claw-back policy let them take
    // it all: a later, larger refund owes only the difference.
    let owed = (earned.points - target) - owed_before;
    let dq = net_q - target_q;
    if owed == 0 && dq == 0 {
        return Ok(());
    }
    let key = match reversals {
        0 => format!("order:{}:reverse-to:{target}:{target_q}", o.external_id),
        n => format!("order:{}:reverse-to:{target}:{target_q}:{n}", o.external_id),
    };
    let acct = account(tx)?;
    let lot = tx.lot_of_entry(earned.id)?;
    let mut d = Draft {
        customer_id: o.customer_id,
        kind: EntryKind::Reverse,
        points: 0,
        qualifying: -dq,
        key: &key,
        order_id: Some(o.id),
        amount_minor: Some(o.total.minor),
        at: now,
        note: Some(format!("{{\"owed\":{owed}}}")),
    };
    if owed > 0 {
        let taken = ledger::take_from_lots(tx, o.customer_id, owed, lot.as_ref().map(|l| l.id), None)?;
        d.points = match p.map_or(DebtPolicy::default(), |p| p.debt) {
            DebtPolicy::AllowNegative => -owed,
            DebtPolicy::ClawBackAvailable => -taken,
        };
    } else {
        // Give back what was taken beyond what the order owes now.
        d.points = (taken_before - (owed_before + owed)).clamp(0, taken_before.max(0));
    }
    if d.points > 0 {
        // The order's own lot's dates, none of them before now: points whose lot would have
        // expired already are due at the next expiry run, not at an earlier one replayed.
        let (available_at, expires_at) =
            lot.map_or((now, None), |l| (l.available_at.max(now), l.expires_at.map(|t| t.max(now))));
        ledger::credit(tx, acct, d, available_at, expires_at, now)?;
    } else {
        ledger::append(tx, acct, d, now)?;
    }
    if dq < 0 {
        if let Some(t) = p.and_then(|p| p.tiers.as_ref()) {
            t.upgrade(tx, acct, now)?;
        }
    }
    Ok(())
}

/// The points a reversal entry was meant to take back (its note records it).
fn owed_of(e: &Entry) -> i64 {
    e.note
        .as_deref()
        .and_then(|n| serde_json::from_str::<serde_json::Value>(n).ok())
        .and_then(|v| v.get("owed").and_then(serde_json::Value::as_i64))
        .unwrap_or(-e.points)
}

fn check_points(points: i64) -> Result<()> {
    if points <= 0 || points > super::program::MAX_POINTS {
        return Err(Error::validation("points", format!("{points} is outside 1 ..= {}", super::program::MAX_POINTS)));
    }
    Ok(())
}

fn require_customer(tx: &mut impl StoreTx, c: CustomerId) -> Result<()> {
    if tx.customer_exists(c)? {
        Ok(())
    } else {
        Err(Error::not_found(Entity::Customer, c))
    }
}

fn balance_of(tx: &mut impl StoreTx, c: CustomerId, t: DateTime<Utc>) -> Result<Balance> {
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

impl<S: Store> Crm<S> {
    /// Sets (or replaces) the loyalty program, validated first. From then on orders earn.
    ///
    /// ```
    /// use crm_core::{Crm, NewCustomer, NewOrder};
    /// use crm_core::loyalty::Program;
    /// let crm = Crm::in_memory().unwrap();
    /// crm.set_loyalty_program(&Program::from_json(r#"{"name": "Stars",
    ///     "rates": {"USD": {"points": 1, "per_minor": 100}},
    ///     "rules": [{"name": "base", "kind": "base"}]}"#).unwrap()).unwrap();
    /// let ada = crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() }).unwrap();
    /// let order: NewOrder = serde_json::from_str(&format!(r#"{{"external_id": "O-1", "customer_id": {},
    ///     "occurred_at": "2026-03-01T12:00:00Z", "currency": "USD", "total_minor": 4250}}"#, ada.id)).unwrap();
    /// crm.record_order(&order).unwrap();
    /// crm.record_order(&order).unwrap(); // the same order again earns nothing more
    /// assert_eq!(crm.points_balance(ada.id).unwrap().balance, 42);
    /// let spent = crm.redeem_points(ada.id, 40, "R-1").unwrap();
    /// assert_eq!(spent.entry.balance_after, 2);
    /// assert!(crm.redeem_points(ada.id, 40, "R-1").unwrap().replayed);
    /// assert!(crm.redeem_points(ada.id, 3, "R-2").is_err());
    /// ```
    pub fn set_loyalty_program(&self, program: &Program) -> Result<()> {
        program.validate()?;
        let json = program.to_json();
        self.store.write(|tx| {
            let now = now();
            let had = tx.get_loyalty_program()?.is_some();
            tx.put_loyalty_program(&json, now)?;
            tx.append_change(Entity::LoyaltyProgram, 1, if had { Op::Update } else { Op::Insert }, now)?;
            Ok(())
        })
    }

    /// The loyalty program, if one is set.
    pub fn loyalty_program(&self) -> Result<Option<Program>> {
        self.store.read(|tx| load_program(tx))
    }

    /// Credits `points` to a customer (a goodwill gesture, a partner's points) as an earn
    /// entry forming a lot that expires as the program says. Replaying `key` returns the
    /// original entry and writes nothing.
    pub fn earn_points(&self, customer: CustomerId, points: i64, key: &str) -> Result<Posted> {
        self.earn_points_at(customer, points, key, now())
    }

    /// [`earn_points`](Self::earn_points) effective at `at` (back-office corrections, tests).
    pub fn earn_points_at(&self, customer: CustomerId, points: i64, key: &str, at: DateTime<Utc>) -> Result<Posted> {
        check_points(points)?;
        ledger::check_key(key)?;
        self.store.write(|tx| {
            require_customer(tx, customer)?;
            if let Some(p) = ledger::replay(tx, key, customer, EntryKind::Earn, Some(points))? {
                return Ok(p);
            }
            let now = now();
            let program = load_program(tx)?;
            let mut acct = ledger::account(tx, customer, now)?;
            let d = Draft {
                customer_id: customer,
                kind: EntryKind::Earn,
                points,
                qualifying: 0,
                key,
                order_id: None,
                amount_minor: None,
                at,
                note: None,
            };
            let expiry = days(program.as_ref().and_then(|p| p.expiry_days)).map(|d| at + d);
            let entry = ledger::credit(tx, &mut acct, d, at, expiry, now)?;
            tx.put_loyalty_account(&acct)?;
            Ok(Posted { entry, replayed: false })
        })
    }

    /// Redeems `points` (more than 0) from the lots that expire soonest. Fails with
    /// [`Error::InsufficientPoints`] when fewer are available (pending and expired points
    /// do not count), writing nothing. Replaying `key` returns the original entry.
    pub fn redeem_points(&self, customer: CustomerId, points: i64, key: &str) -> Result<Posted> {
        self.redeem_points_at(customer, points, key, now())
    }

    /// [`redeem_points`](Self::redeem_points) effective at `at`.
    pub fn redeem_points_at(&self, customer: CustomerId, points: i64, key: &str, at: DateTime<Utc>) -> Result<Posted> {
        check_points(points)?;
        ledger::check_key(key)?;
        self.store.write(|tx| {
            require_customer(tx, customer)?;
            if let Some(p) = ledger::replay(tx, key, customer, EntryKind::Redeem, Some(-points))? {
                return Ok(p);
            }
            let now = now();
            ledger::expire_due(tx, Some(customer), at, now)?;
            let available = ledger::available(tx, customer, at)?;
            if points > available {
                return Err(Error::InsufficientPoints { available, requested: points });
            }
            let mut acct = ledger::account(tx, customer, now)?;
            ledger::take_from_lots(tx, customer, points, None, Some(at))?;
            let d = Draft {
                customer_id: customer,
                kind: EntryKind::Redeem,
                points: -points,
                qualifying: 0,
                key,
                order_id: None,
                amount_minor: None,
                at,
                note: None,
            };
            let entry = ledger::append(tx, &mut acct, d, now)?;
            tx.put_loyalty_account(&acct)?;
            Ok(Posted { entry, replayed: false })
        })
    }

    /// A manual correction: `points` up (a lot) or down (from the lots, never below zero;
    /// [`Error::InsufficientPoints`] otherwise), with a reason for the statement.
    pub fn adjust_points(&self, customer: CustomerId, points: i64, key: &str, reason: &str) -> Result<Posted> {
        check_points(points.saturating_abs())?;
        ledger::check_key(key)?;
        if reason.trim().is_empty() || reason.chars().count() > 2_000 {
            return Err(Error::validation("reason", "1 to 2,000 characters"));
        }
        self.store.write(|tx| {
            require_customer(tx, customer)?;
            if let Some(p) = ledger::replay(tx, key, customer, EntryKind::Adjust, Some(points))? {
                return Ok(p);
            }
            let now = now();
            let program = load_program(tx)?;
            let mut acct = ledger::account(tx, customer, now)?;
            let d = Draft {
                customer_id: customer,
                kind: EntryKind::Adjust,
                points,
                qualifying: 0,
                key,
                order_id: None,
                amount_minor: None,
                at: now,
                note: Some(reason.to_string()),
            };
            let entry = if points > 0 {
                let expiry = days(program.as_ref().and_then(|p| p.expiry_days)).map(|d| now + d);
                ledger::credit(tx, &mut acct, d, now, expiry, now)?
            } else {
                let held: i64 = tx.open_lots(customer)?.iter().map(|l| l.remaining).sum();
                if -points > held {
                    return Err(Error::InsufficientPoints { available: held, requested: -points });
                }
                ledger::take_from_lots(tx, customer, -points, None, None)?;
                ledger::append(tx, &mut acct, d, now)?
            };
            tx.put_loyalty_account(&acct)?;
            Ok(Posted { entry, replayed: false })
        })
    }

    /// Awards the program's bonuses for an event (sign-up, birthday, survey, referral) at
    /// `at`. `None` when no active bonus rule applies (nothing written). Use a key per
    /// occasion (`birthday:C-1:2026`): replaying it returns the original entry.
    pub fn award_event(
        &self,
        customer: CustomerId,
        event: Event,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Posted>> {
        ledger::check_key(key)?;
        self.store.write(|tx| {
            require_customer(tx, customer)?;
            if let Some(p) = ledger::replay(tx, key, customer, EntryKind::Earn, None)? {
                return Ok(Some(p));
            }
            let program = require_program(tx)?;
            let now = now();
            let earning = {
                let mut ctx = TxContext { tx, customer };
                earning::event_points(&program, event, at, &mut ctx)?
            };
            if earning.points == 0 {
                return Ok(None);
            }
            let mut acct = ledger::account(tx, customer, now)?;
            let entry = post_earning(tx, &program, &mut acct, &earning, key, None, at, now)?;
            tx.put_loyalty_account(&acct)?;
            Ok(Some(Posted { entry, replayed: false }))
        })
    }

    /// Expires every lot due at `as_of` (expiry date at or before it), each exactly once:
    /// a second run writes nothing.
    pub fn expire_points(&self, as_of: DateTime<Utc>) -> Result<ExpiryReport> {
        self.store.write(|tx| {
            let entries = ledger::expire_due(tx, None, as_of, now())?;
            Ok(ExpiryReport { lots: entries.len() as i64, points: entries.iter().map(|e| -e.points).sum() })
        })
    }

    /// A customer's balances now.
    pub fn points_balance(&self, customer: CustomerId) -> Result<Balance> {
        self.store.read(|tx| {
            require_customer(tx, customer)?;
            balance_of(tx, customer, now())
        })
    }

    /// The balance as of `at`: the sum of the entries effective at or before it.
    pub fn points_balance_as_of(&self, customer: CustomerId, at: DateTime<Utc>) -> Result<i64> {
        self.store.read(|tx| {
            require_customer(tx, customer)?;
            tx.loyalty_points_as_of(customer, at)
        })
    }

    /// A customer's statement: balances, entries, lots and tier changes.
    pub fn points_statement(&self, customer: CustomerId) -> Result<Statement> {
        self.store.read(|tx| {
            require_customer(tx, customer)?;
            Ok(Statement {
                balance: balance_of(tx, customer, now())?,
                entries: tx.loyalty_entries(customer)?,
                lots: tx.loyalty_lots(customer)?,
                tiers: tx.loyalty_tier_history(customer)?,
            })
        })
    }

    /// Sets a customer's tier by hand (`None` removes it); the tier must be in the program.
    pub fn set_loyalty_tier(&self, customer: CustomerId, tier: Option<&str>) -> Result<()> {
        self.store.write(|tx| {
            require_customer(tx, customer)?;
            let program = require_program(tx)?;
            let tiers = program.tiers.as_ref().ok_or_else(|| Error::validation("tier", "the program has no tiers"))?;
            if let Some(t) = tier {
                if tiers.rank(Some(t)).is_none() {
                    return Err(Error::validation("tier", format!("unknown tier {t:?}")));
                }
            }
            let now = now();
            let mut acct = ledger::account(tx, customer, now)?;
            tiers::set_tier(tx, &mut acct, tier.map(str::to_string), now, "manual")?;
            acct.updated_at = now;
            tx.put_loyalty_account(&acct)
        })
    }

    /// Reviews every account's tier at a period end `as_of`: up when the window earns a
    /// higher tier, down when it earns a lower one and the tier has been held for a whole
    /// window plus the grace period.
    pub fn review_tiers(&self, as_of: DateTime<Utc>) -> Result<TierReview> {
        self.store.write(|tx| {
            let program = require_program(tx)?;
            let Some(tiers) = &program.tiers else { return Ok(TierReview::default()) };
            let mut r = TierReview::default();
            for mut acct in tx.loyalty_accounts()? {
                r.accounts += 1;
                let before = tiers.rank(acct.tier.as_deref());
                if tiers.review(tx, &mut acct, as_of)? {
                    if tiers.rank(acct.tier.as_deref()) > before {
                        r.upgraded += 1;
                    } else {
                        r.downgraded += 1;
                    }
                    tx.put_loyalty_account(&acct)?;
                }
            }
            Ok(r)
        })
    }

    /// A customer's tier changes, oldest first.
    pub fn loyalty_tier_history(&self, customer: CustomerId) -> Result<Vec<TierChange>> {
        self.store.read(|tx| {
            require_customer(tx, customer)?;
            tx.loyalty_tier_history(customer)
        })
    }
}
