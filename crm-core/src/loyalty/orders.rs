//! What writing, correcting and deleting an order does to the ledger: the one definition,
//! used by single calls, bulk ingest, order updates, refunds and deletions alike.
//!
//! **Earning.** An order earns once per customer, when it is first written completed for
//! them (or first becomes completed): an `earn` entry keyed `order:<external id>` (or
//! `order:<external id>:customer:<id>` when the order earned for another customer before).
//! Its note records the rules that gave points and the *context* the order was priced in:
//! the customer's tier, whether it was their first earning order, which rule conditions
//! held, and what capped rules used of their day and month caps.
//!
//! **Corrections.** From then on the order is worth to that customer what the program gives
//! its current state *in that context*:
//!
//! - nothing once it is refunded or cancelled, moved to another customer or deleted (its
//!   net points go to zero);
//! - when it comes back (a refund undone, moved back), what the program gives its state now;
//! - when it is amended while completed (total, lines, channel, time, currency, a partial
//!   refund), the difference between what the program gives the new and the old state,
//!   both priced now in the same context.
//!
//! Each correction is one `reverse` entry (negative when it takes back, positive when it
//! gives back or adds), with the qualifying points that follow, keyed
//! `order:<external id>:reverse-to:<points>:<qualifying>`, `:<n>` added after the order's
//! first `n` corrections. Its note records what it was meant to change (`owed`: the
//! points it was meant to take, negative when giving), per rule and per capped period.
//! Taking back draws on the order's own lot first, then as any debit; under
//! [`DebtPolicy::ClawBackAvailable`] only what the account holds is taken and the rest is
//! forgiven for good (a later give-back first uses up what was forgiven); under
//! [`DebtPolicy::AllowNegative`] everything is taken. Points given back form a lot with the
//! dates of the order's own lot, none before now. Raised qualifying points may move the tier
//! up at once; lowered ones move it down only at a tier review.
//!
//! **What follows.** With the program unchanged, an order's net points to a customer equal
//! what recording it once, in its current state and context, earns. For programs whose
//! earning depends on the order alone (rates, rounding, multipliers by category, SKU or
//! channel, per-order caps, conditions on the profile), each customer's ledger therefore
//! equals a replay of their current orders through the program (`tests/loyalty_prop.rs`).
//! Tier multipliers, first-order bonuses, conditions on statistics and day or month caps
//! depend on the order's place in the customer's history: a correction keeps the context
//! of the earning, so an old order is never re-priced at today's tier, and refunding a
//! first order does not hand its welcome bonus to the next. An amended order keeps its own
//! share of a day or month cap. After the program itself changes, an amendment changes an
//! order by what the new program gives the difference, and a refund takes back what it
//! earned. An order that earned no points (no rate for its currency) writes no entry, and
//! a correction that makes it earn prices it as a new order.

use std::collections::hash_map::{self, HashMap};
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::earning::{self, EarnContext, Earning, RulePoints};
use super::ledger::{self, Account, Draft, Entry, EntryKind, Lot};
use super::program::{DebtPolicy, EarnRule, Program};
use crate::changes::{Entity, Op};
use crate::customer::CustomerId;
use crate::error::Result;
use crate::loyalty::LoyaltyWrite;
use crate::order::{Order, OrderStatus};
use crate::rule::{check, Definitions};
use crate::stats::StatsAcc;

/// What loyalty keeps during one transaction of order writes (single calls and bulk
/// ingest batches alike): the program, read at most once, and the accounts the orders
/// touched, each read once and written back once by [`flush`](Self::flush).
#[derive(Debug, Default)]
pub(crate) struct OrderLoyalty {
    program: Option<Option<Arc<Program>>>,
    accounts: HashMap<CustomerId, Account>,
}

impl OrderLoyalty {
    fn program(&mut self, tx: &mut (impl LoyaltyWrite + ?Sized)) -> Result<Option<Arc<Program>>> {
        if self.program.is_none() {
            self.program = Some(super::api::load_program(tx)?.map(Arc::new));
        }
        Ok(self.program.clone().flatten())
    }

    /// Whether a loyalty program runs, so that order writes read and write the ledger.
    pub(crate) fn active(&mut self, tx: &mut (impl LoyaltyWrite + ?Sized)) -> Result<bool> {
        Ok(self.program(tx)?.is_some())
    }

    fn account(
        &mut self,
        tx: &mut (impl LoyaltyWrite + ?Sized),
        c: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<&mut Account> {
        Ok(match self.accounts.entry(c) {
            hash_map::Entry::Occupied(e) => e.into_mut(),
            hash_map::Entry::Vacant(v) => v.insert(ledger::account(tx, c, now)?),
        })
    }

    /// Writes the accounts back; the last step of the transaction.
    pub(crate) fn flush(self, tx: &mut (impl LoyaltyWrite + ?Sized)) -> Result<()> {
        for a in self.accounts.values() {
            tx.put_loyalty_account(a)?;
        }
        Ok(())
    }
}

/// Use of a capped rule in a period: `(rule, period)` to points.
type Usage = HashMap<(String, String), i64>;

/// The note of an order's earning: the rules that gave points and the context the order
/// was priced in. (Before the context was recorded, the note was the bare list of rules;
/// [`EarnNote::read`] rebuilds the context from it.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EarnNote {
    /// Points per rule.
    pub rules: Vec<RulePoints>,
    /// The customer's tier when the order earned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Whether it was the customer's first earning order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first_order: bool,
    /// The rule conditions evaluated, and whether each held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<(String, bool)>,
    /// What capped rules used of their periods: `(rule, period, points)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage: Vec<(String, String, i64)>,
}

impl EarnNote {
    /// The note as JSON: what an earning's entry stores.
    pub(crate) fn of(e: &Earning, tier: Option<&str>, first_order: bool) -> String {
        let note = EarnNote {
            rules: e.rules.clone(),
            tier: tier.map(str::to_string),
            first_order,
            conditions: e.conditions.clone(),
            usage: e.usage.clone(),
        };
        serde_json::to_string(&note).expect("an earning note serialises")
    }

    /// Reads an earning's note. A note of the first format (the list of rules alone) gives
    /// its context back from the rules that gave points: a tier multiplier names the tier, a
    /// first-order bonus marks the first order, a rule with a condition held, and capped
    /// rules used what they gave in the periods of the entry's time.
    fn read(e: &Entry, p: &Program) -> EarnNote {
        let text = e.note.as_deref().unwrap_or("[]");
        if let Ok(n) = serde_json::from_str::<EarnNote>(text) {
            return n;
        }
        let rules: Vec<RulePoints> = serde_json::from_str(text).unwrap_or_default();
        let mut n = EarnNote { rules, ..EarnNote::default() };
        let (day, month) = earning::periods(e.at);
        for rp in &n.rules {
            let Some(r) = p.rules.iter().find(|r| r.name == rp.rule) else { continue };
            if r.by == Some(super::program::MultiplierBy::Tier) {
                n.tier = r.value.clone();
            }
            if r.event == Some(super::program::Event::FirstOrder) {
                n.first_order = true;
            }
            if r.when.is_some() {
                n.conditions.push((r.name.clone(), true));
            }
            if r.caps.per_day.is_some() {
                n.usage.push((r.name.clone(), day.clone(), rp.points));
            }
            if r.caps.per_month.is_some() {
                n.usage.push((r.name.clone(), month.clone(), rp.points));
            }
        }
        n
    }
}

/// The note of a correction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ChangeNote {
    /// The points the correction was meant to take back (negative when it gives).
    owed: i64,
    /// The change per rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rules: Vec<RulePoints>,
    /// The change of capped rules' use: `(rule, period, points)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    usage: Vec<(String, String, i64)>,
}

impl ChangeNote {
    fn read(e: &Entry) -> ChangeNote {
        e.note
            .as_deref()
            .and_then(|n| serde_json::from_str::<ChangeNote>(n).ok())
            .unwrap_or(ChangeNote { owed: -e.points, ..ChangeNote::default() })
    }
}

/// An order's standing with one customer, from its entries.
struct Held<'e> {
    /// The earning.
    earn: &'e Entry,
    /// Its context.
    note: EarnNote,
    /// Net points the entries were meant to give (what debt forgiveness left aside).
    intended: i64,
    /// Net points they gave.
    actual: i64,
    /// Net qualifying points.
    qualifying: i64,
    /// Net points per rule.
    rules: BTreeMap<String, i64>,
    /// Net use of capped rules' periods.
    usage: Usage,
}

impl<'e> Held<'e> {
    fn of(entries: &[&'e Entry], p: &Program) -> Option<Held<'e>> {
        let earn = *entries.iter().find(|e| e.kind == EntryKind::Earn)?;
        let note = EarnNote::read(earn, p);
        let mut h = Held {
            earn,
            intended: earn.points,
            actual: earn.points,
            qualifying: earn.qualifying,
            rules: note.rules.iter().map(|r| (r.rule.clone(), r.points)).collect(),
            usage: Usage::new(),
            note,
        };
        for (rule, period, pts) in &h.note.usage {
            *h.usage.entry((rule.clone(), period.clone())).or_default() += pts;
        }
        for e in entries.iter().filter(|e| e.kind == EntryKind::Reverse) {
            let n = ChangeNote::read(e);
            h.intended -= n.owed;
            h.actual += e.points;
            h.qualifying += e.qualifying;
            for r in n.rules {
                *h.rules.entry(r.rule).or_default() += r.points;
            }
            for (rule, period, pts) in n.usage {
                *h.usage.entry((rule, period)).or_default() += pts;
            }
        }
        Some(h)
    }
}

/// Conditions and cap usage for earning in the order's transaction: conditions evaluated
/// on the customer as stored, cap usage as stored.
pub(crate) struct TxContext<'a, T: LoyaltyWrite + ?Sized> {
    pub tx: &'a mut T,
    pub customer: CustomerId,
}

impl<T: LoyaltyWrite + ?Sized> EarnContext for TxContext<'_, T> {
    fn condition(&mut self, rule: &EarnRule, at: DateTime<Utc>) -> Result<bool> {
        let Some(when) = &rule.when else { return Ok(true) };
        let cond = check(when, &Definitions::default(), at)?;
        crate::segment::evaluate_one(self.tx, self.customer, &cond)
    }

    fn usage(&mut self, rule: &str, period: &str) -> Result<i64> {
        self.tx.loyalty_rule_usage(self.customer, rule, period)
    }
}

/// Re-pricing in an earning's context: its recorded conditions (others evaluated now), and
/// cap usage without the order's own share.
struct Repricing<'a, T: LoyaltyWrite + ?Sized> {
    live: TxContext<'a, T>,
    conditions: &'a [(String, bool)],
    own: &'a Usage,
}

impl<T: LoyaltyWrite + ?Sized> EarnContext for Repricing<'_, T> {
    fn condition(&mut self, rule: &EarnRule, at: DateTime<Utc>) -> Result<bool> {
        match self.conditions.iter().find(|(name, _)| *name == rule.name) {
            Some((_, met)) => Ok(*met),
            None => self.live.condition(rule, at),
        }
    }

    fn usage(&mut self, rule: &str, period: &str) -> Result<i64> {
        let own = self.own.get(&(rule.to_string(), period.to_string())).copied().unwrap_or(0);
        Ok((self.live.usage(rule, period)? - own).max(0))
    }
}

/// What the program gives `o` (completed, of the earning's customer) in the earning's context.
fn worth(tx: &mut (impl LoyaltyWrite + ?Sized), p: &Program, o: &Order, h: &Held<'_>) -> Result<Earning> {
    let mut ctx =
        Repricing { live: TxContext { tx, customer: o.customer_id }, conditions: &h.note.conditions, own: &h.usage };
    earning::order_points(p, o, h.note.tier.as_deref(), h.note.first_order, &mut ctx)
}

/// A change of an order's standing with a customer, before the debt policy applies.
#[derive(Default)]
struct Change {
    points: i64,
    qualifying: i64,
    rules: BTreeMap<String, i64>,
    usage: Usage,
}

impl Change {
    /// `to` less `from`, rule by rule and period by period.
    fn between(from: &Earning, to: &Earning) -> Change {
        let mut c = Change {
            points: to.points - from.points,
            qualifying: to.qualifying - from.qualifying,
            ..Change::default()
        };
        for (e, sign) in [(from, -1), (to, 1)] {
            for r in &e.rules {
                *c.rules.entry(r.rule.clone()).or_default() += sign * r.points;
            }
            for (rule, period, pts) in &e.usage {
                *c.usage.entry((rule.clone(), period.clone())).or_default() += sign * pts;
            }
        }
        c
    }

    /// From what `h` holds to `to` (nothing, when `None`).
    fn from_held(h: &Held<'_>, to: Option<&Earning>) -> Change {
        let mut c = Change {
            points: -h.intended,
            qualifying: -h.qualifying,
            rules: h.rules.iter().map(|(k, v)| (k.clone(), -v)).collect(),
            usage: h.usage.iter().map(|(k, v)| (k.clone(), -v)).collect(),
        };
        if let Some(e) = to {
            c.points += e.points;
            c.qualifying += e.qualifying;
            for r in &e.rules {
                *c.rules.entry(r.rule.clone()).or_default() += r.points;
            }
            for (rule, period, pts) in &e.usage {
                *c.usage.entry((rule.clone(), period.clone())).or_default() += pts;
            }
        }
        c
    }

    fn is_empty(&self) -> bool {
        self.points == 0 && self.qualifying == 0 && self.usage.values().all(|v| *v == 0)
    }
}

/// Settles the ledger after an order was written, corrected or deleted: `before` is the
/// order as stored before the call (`None` for a new order), `after` as stored after it
/// (`None` when it was deleted). Runs in the call's transaction, before `acc` counts the
/// order, so conditions see the customer's statistics without it (and with every earlier
/// order of the transaction).
pub(crate) fn order_changed(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    cache: &mut OrderLoyalty,
    stats: &mut StatsAcc,
    before: Option<&Order>,
    after: Option<&Order>,
    now: DateTime<Utc>,
) -> Result<()> {
    settle(tx, cache, stats, before, after, None, now)
}

/// [`order_changed`], leaving the standing of customer `skip` alone (it is being deleted).
fn settle(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    cache: &mut OrderLoyalty,
    stats: &mut StatsAcc,
    before: Option<&Order>,
    after: Option<&Order>,
    skip: Option<CustomerId>,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(o) = after.or(before) else { return Ok(()) };
    let program = cache.program(tx)?;
    let entries = match before {
        Some(_) => tx.loyalty_entries_of_order(o.id)?,
        None => Vec::new(),
    };
    let mut customers = Vec::with_capacity(2);
    for c in [before, after].into_iter().flatten().map(|o| o.customer_id).chain(entries.iter().map(|e| e.customer_id)) {
        if !customers.contains(&c) && Some(c) != skip {
            customers.push(c);
        }
    }
    let mut changes = entries.iter().filter(|e| e.kind == EntryKind::Reverse).count();
    let earned_before = entries.iter().any(|e| e.kind == EntryKind::Earn);
    for c in customers {
        let live = |x: Option<&Order>| x.filter(|x| x.customer_id == c && x.status == OrderStatus::Completed).cloned();
        let (old, new) = (live(before), live(after));
        let mine: Vec<&Entry> = entries.iter().filter(|e| e.customer_id == c).collect();
        let held = program.as_deref().and_then(|p| Held::of(&mine, p));
        match (held, program.as_deref()) {
            (Some(h), Some(p)) => {
                let change = match (&old, &new) {
                    (_, None) => Change::from_held(&h, None),
                    (None, Some(n)) => {
                        let e = worth(tx, p, n, &h)?;
                        Change::from_held(&h, Some(&e))
                    }
                    (Some(o), Some(n)) => {
                        let (a, b) = (worth(tx, p, o, &h)?, worth(tx, p, n, &h)?);
                        Change::between(&a, &b)
                    }
                };
                if !change.is_empty() {
                    let order = after.filter(|x| x.customer_id == c).or(before).unwrap_or(o);
                    correct(tx, cache, p, &h, change, order, changes, now)?;
                    changes += 1;
                }
            }
            (None, Some(p)) => {
                if let Some(n) = new {
                    let key = match earned_before {
                        false => format!("order:{}", n.external_id),
                        true => format!("order:{}:customer:{}", n.external_id, c),
                    };
                    earn(tx, cache, stats, p, &n, &key, now)?;
                }
            }
            (_, None) => {}
        }
    }
    Ok(())
}

/// An order's first earning for its customer.
fn earn(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    cache: &mut OrderLoyalty,
    stats: &mut StatsAcc,
    p: &Program,
    o: &Order,
    key: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if p.rules.iter().any(|r| r.when.is_some()) {
        stats.settle(tx, o.customer_id)?;
    }
    let acct = cache.account(tx, o.customer_id, now)?;
    let first = acct.orders == 0;
    let earning = {
        let mut ctx = TxContext { tx, customer: o.customer_id };
        earning::order_points(p, o, acct.tier.as_deref(), first, &mut ctx)?
    };
    acct.orders += 1;
    acct.updated_at = now;
    if earning.points > 0 {
        let note = EarnNote::of(&earning, acct.tier.as_deref(), first);
        super::api::post_earning(tx, p, acct, &earning, key, Some(o), o.occurred_at, note, now)?;
    } else if let Some(t) = &p.tiers {
        // An order earning nothing (a spent cap, a currency without a rate) still counts
        // toward spend and order-count tiers.
        t.upgrade(tx, acct, o.occurred_at)?;
    }
    Ok(())
}

/// Writes one correction of an order's standing with a customer.
#[allow(clippy::too_many_arguments)]
fn correct(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    cache: &mut OrderLoyalty,
    p: &Program,
    h: &Held<'_>,
    mut change: Change,
    o: &Order,
    changes: usize,
    now: DateTime<Utc>,
) -> Result<()> {
    // An order's net never goes below nothing, whatever a changed program says.
    change.points = change.points.max(-h.intended);
    change.qualifying = change.qualifying.max(-h.qualifying);
    let target = h.intended + change.points;
    let target_q = h.qualifying + change.qualifying;
    let c = h.earn.customer_id;
    // The count of the order's corrections names the key; entries of a deleted customer
    // leave with them, so a count can come round again: the next free one is taken.
    let mut n = changes;
    let key = loop {
        let key = match n {
            0 => format!("order:{}:reverse-to:{target}:{target_q}", o.external_id),
            n => format!("order:{}:reverse-to:{target}:{target_q}:{n}", o.external_id),
        };
        if tx.loyalty_entry_by_key(&key)?.is_none() {
            break key;
        }
        n += 1;
    };
    let lot = tx.lot_of_entry(h.earn.id)?;
    let points = if change.points < 0 {
        let owed = -change.points;
        let taken = ledger::take_from_lots(tx, c, owed, lot.as_ref().map(|l| l.id), None)?;
        match p.debt {
            DebtPolicy::AllowNegative => -owed,
            DebtPolicy::ClawBackAvailable => -taken,
        }
    } else {
        // Up to the target: what debt forgiveness left with the customer counts.
        (target - h.actual).max(0)
    };
    let usage: Vec<(String, String, i64)> =
        change.usage.iter().filter(|(_, v)| **v != 0).map(|((r, period), v)| (r.clone(), period.clone(), *v)).collect();
    let note = ChangeNote {
        owed: -change.points,
        rules: change
            .rules
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(r, v)| RulePoints { rule: r.clone(), points: *v })
            .collect(),
        usage: usage.clone(),
    };
    for (rule, period, pts) in &usage {
        tx.add_loyalty_rule_usage(c, rule, period, *pts)?;
    }
    let d = Draft {
        customer_id: c,
        kind: EntryKind::Reverse,
        points,
        qualifying: change.qualifying,
        key: &key,
        order_id: Some(o.id),
        amount_minor: Some(o.total.minor),
        at: now,
        note: Some(serde_json::to_string(&note).expect("a change note serialises")),
    };
    let acct = cache.account(tx, c, now)?;
    if points > 0 {
        let (available_at, expires_at) = lot_dates(p, lot.as_ref(), o, now);
        ledger::credit(tx, acct, d, available_at, expires_at, now)?;
    } else {
        ledger::append(tx, acct, d, now)?;
    }
    if change.qualifying > 0 {
        if let Some(t) = &p.tiers {
            t.upgrade(tx, acct, now)?;
        }
    }
    Ok(())
}

/// When points given back to an order become available and expire: with its own lot, or
/// as its earning would have, none of it before now (points whose lot would have expired
/// already are due at the next expiry run, not at an earlier one replayed).
fn lot_dates(p: &Program, lot: Option<&Lot>, o: &Order, now: DateTime<Utc>) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let days = |n: Option<u32>| n.map(|d| TimeDelta::days(i64::from(d)));
    let (available, expires) = match lot {
        Some(l) => (l.available_at, l.expires_at),
        None => (
            days(p.pending_days).map_or(o.occurred_at, |d| o.occurred_at + d),
            days(p.expiry_days).map(|d| o.occurred_at + d),
        ),
    };
    (available.max(now), expires.map(|t| t.max(now)))
}

/// Before an order is deleted: settles its points as if it were gone, then unlinks its
/// entries and frees their keys (`~deleted:<entry id>` appended), so the external id and
/// the order id can be used again.
pub(crate) fn order_deleted(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    cache: &mut OrderLoyalty,
    stats: &mut StatsAcc,
    o: &Order,
    now: DateTime<Utc>,
) -> Result<()> {
    order_changed(tx, cache, stats, Some(o), None, now)?;
    for e in tx.loyalty_entries_of_order(o.id)? {
        tx.detach_loyalty_entry(e.id, &format!("{}~deleted:{}", e.key, e.id.0))?;
        tx.append_change(Entity::LoyaltyEntry, e.id.0, Op::Update, now)?;
    }
    Ok(())
}

/// Before a customer is deleted with their `orders`: every other customer's standing with
/// those orders (an order moved to this customer from them) is settled as for a deleted order
/// and its entries unlinked (their ids may be given to new orders); then the customer's own
/// account and ledger are removed (see [`LedgerStoreMut::delete_loyalty`](crate::loyalty::LedgerStoreMut::delete_loyalty)), each removed entry a
/// deletion in the change feed. The caller flushes `acc` before it deletes the customer.
pub(crate) fn customer_deleted(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    cache: &mut OrderLoyalty,
    stats: &mut StatsAcc,
    c: CustomerId,
    orders: &[Order],
    now: DateTime<Utc>,
) -> Result<()> {
    for o in orders {
        settle(tx, cache, stats, Some(o), None, Some(c), now)?;
        for e in tx.loyalty_entries_of_order(o.id)? {
            if e.customer_id != c {
                tx.detach_loyalty_entry(e.id, &format!("{}~deleted:{}", e.key, e.id.0))?;
                tx.append_change(Entity::LoyaltyEntry, e.id.0, Op::Update, now)?;
            }
        }
    }
    for e in tx.delete_loyalty(c)? {
        tx.append_change(Entity::LoyaltyEntry, e.0, Op::Delete, now)?;
    }
    Ok(())
}
