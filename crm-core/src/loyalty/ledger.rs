//! The points ledger: append-only entries, each with an idempotency key, and the earn lots
//! that expiry and redemption draw on. The rules that keep it sound live here:
//!
//! - an account's balance is the sum of its entries, always;
//! - the points left in its open lots sum to the balance when the balance is not negative,
//!   and to zero when it is (a debt, which only [`DebtPolicy::AllowNegative`] allows);
//! - a debit (redemption, negative adjustment, reversal) takes from the lots that expire
//!   soonest, lots without expiry last, then by age;
//! - an entry whose key is already in the ledger is not written again: the call returns
//!   the stored entry instead.
//!
//! [`DebtPolicy::AllowNegative`]: super::DebtPolicy::AllowNegative

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::changes::{Entity, Op};
use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::loyalty::LoyaltyWrite;
use crate::order::OrderId;

/// Longest idempotency key accepted, in bytes.
pub const MAX_KEY_LEN: usize = crate::validate::MAX_KEY_LEN;

/// Store id of a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryId(pub i64);

/// What a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Points earned (by an order, an event or a manual credit); forms a lot.
    Earn,
    /// Points spent.
    Redeem,
    /// Points of a lot that reached its expiry date.
    Expire,
    /// A manual correction, up (forms a lot) or down.
    Adjust,
    /// Points taken back because the order that earned them was refunded or cancelled.
    Reverse,
}

impl EntryKind {
    /// The lower-case name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earn => "earn",
            EntryKind::Redeem => "redeem",
            EntryKind::Expire => "expire",
            EntryKind::Adjust => "adjust",
            EntryKind::Reverse => "reverse",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<EntryKind> {
        [EntryKind::Earn, EntryKind::Redeem, EntryKind::Expire, EntryKind::Adjust, EntryKind::Reverse]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Store id.
    pub id: EntryId,
    /// The account's customer.
    pub customer_id: CustomerId,
    /// What it records.
    pub kind: EntryKind,
    /// Points added (positive) or taken (negative).
    pub points: i64,
    /// Change to the points that count toward tiers (never lowered by redemption or expiry).
    pub qualifying: i64,
    /// The idempotency key: unique in the ledger.
    pub key: String,
    /// The order that earned or reversed these points.
    pub order_id: Option<OrderId>,
    /// For order earnings: the order total (minor units) the points were computed on, the
    /// basis for reversing a partial refund in proportion.
    pub amount_minor: Option<i64>,
    /// When it took effect (an order's time for its earning; the call's time otherwise).
    pub at: DateTime<Utc>,
    /// The account balance right after this entry was written.
    pub balance_after: i64,
    /// Why. An earning (of an order or an event): JSON
    /// `{"rules": [{"rule": "base", "points": 42}, ...]}`, for an order with the context it
    /// was priced in (`tier`, `first_order`, `conditions` as `[name, held]` pairs, cap
    /// `usage` as `[rule, period, points]`). A correction of an order's points: JSON
    /// `{"owed": <points it was meant to take back, negative when giving>, "rules": [...],
    /// "usage": [...]}` with the change per rule. An adjustment: the caller's reason.
    pub note: Option<String>,
}

/// A lot: the points of one credit (an earning, a credit adjustment, points given back or
/// moved in), drawn on by debits and by expiry. A lot is stored in its entry's row: its id
/// is its entry's id, and its customer, points and time are its entry's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    /// Store id: the id of the entry that formed it.
    pub id: i64,
    /// The account's customer.
    pub customer_id: CustomerId,
    /// The entry that earned it.
    pub entry_id: EntryId,
    /// Points earned.
    pub points: i64,
    /// Points not yet spent, reversed or expired.
    pub remaining: i64,
    /// When earned.
    pub earned_at: DateTime<Utc>,
    /// When the points may be redeemed (after the pending period, if any).
    pub available_at: DateTime<Utc>,
    /// When what remains expires (never, if `None`).
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the expiry run has expired it.
    pub expired: bool,
}

/// What a credit entry's lot starts with, written in the same row as the entry (see
/// [`LedgerStoreMut::insert_loyalty_entry`](crate::loyalty::LedgerStoreMut::insert_loyalty_entry)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LotTerms {
    /// Points left to draw on: the entry's points less any debt they paid.
    pub remaining: i64,
    /// When the points may be redeemed.
    pub available_at: DateTime<Utc>,
    /// When what remains expires (never, if `None`).
    pub expires_at: Option<DateTime<Utc>>,
}

/// A customer's loyalty account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The customer.
    pub customer_id: CustomerId,
    /// Sum of the ledger entries (negative only as a debt the program allows).
    pub balance: i64,
    /// Orders that earned points (refunds do not lower it; it only tells a first order).
    pub orders: i64,
    /// Qualifying points earned over all time, net of reversals (an upper bound for any window).
    pub qualifying_total: i64,
    /// Current loyalty tier.
    pub tier: Option<String>,
    /// Since when the tier is held.
    pub tier_since: Option<DateTime<Utc>>,
    /// When the account was opened.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Account {
    pub(crate) fn new(customer_id: CustomerId, at: DateTime<Utc>) -> Account {
        Account {
            customer_id,
            balance: 0,
            orders: 0,
            qualifying_total: 0,
            tier: None,
            tier_since: None,
            created_at: at,
            updated_at: at,
        }
    }
}

/// What a ledger call did: the entry (the stored one, on a replay) and whether it was a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    /// The entry.
    pub entry: Entry,
    /// `true` when the key was already in the ledger and nothing was written.
    pub replayed: bool,
}

/// A new entry, before it is written.
pub(crate) struct Draft<'a> {
    pub customer_id: CustomerId,
    pub kind: EntryKind,
    pub points: i64,
    pub qualifying: i64,
    pub key: &'a str,
    pub order_id: Option<OrderId>,
    pub amount_minor: Option<i64>,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

pub(crate) fn check_key(key: &str) -> Result<()> {
    crate::validate::idempotency_key("idempotency_key", key)
}

/// The stored entry under `key`, checked to be the same request (a key reused for a
/// different request is a conflict, not a replay). `customer` is the customer the call
/// names, resolved to its survivor.
pub(crate) fn replay(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    key: &str,
    customer: CustomerId,
    kind: EntryKind,
    points: Option<i64>,
) -> Result<Option<Posted>> {
    let Some(e) = tx.loyalty_entry_by_key(key)? else { return Ok(None) };
    // The customer posted to is compared as it resolves now: a retry naming a customer
    // merged since (the entry is its, the call resolves to the survivor) is the same request.
    let posted_to =
        if e.customer_id == customer { customer } else { crate::crm::merge::resolve(tx, e.customer_id)?.id };
    if posted_to != customer || e.kind != kind || points.is_some_and(|p| p != e.points) {
        return Err(Error::Conflict(format!(
            "idempotency key {} was used for {} entry of {} points for customer {}",
            crate::error::quoted(key),
            match e.kind {
                EntryKind::Earn | EntryKind::Expire | EntryKind::Adjust => format!("an {}", e.kind.as_str()),
                k => format!("a {}", k.as_str()),
            },
            e.points,
            e.customer_id
        )));
    }
    Ok(Some(Posted { entry: e, replayed: true }))
}

/// The account of `customer`, opened (not yet stored) if it has none.
pub(crate) fn account(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    customer: CustomerId,
    at: DateTime<Utc>,
) -> Result<Account> {
    Ok(tx.loyalty_account(customer)?.unwrap_or_else(|| Account::new(customer, at)))
}

/// Appends an entry, updates the account's balance (the caller stores the account) and
/// the change feed.
pub(crate) fn append(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    acct: &mut Account,
    d: Draft<'_>,
    now: DateTime<Utc>,
) -> Result<Entry> {
    append_with_lot(tx, acct, d, None, now)
}

/// [`append`], with the lot a credit forms written in the entry's row.
fn append_with_lot(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    acct: &mut Account,
    d: Draft<'_>,
    lot: Option<LotTerms>,
    now: DateTime<Utc>,
) -> Result<Entry> {
    acct.balance += d.points;
    acct.qualifying_total += d.qualifying;
    acct.updated_at = now;
    let mut e = Entry {
        id: EntryId(0),
        customer_id: d.customer_id,
        kind: d.kind,
        points: d.points,
        qualifying: d.qualifying,
        key: d.key.to_string(),
        order_id: d.order_id,
        amount_minor: d.amount_minor,
        at: d.at,
        balance_after: acct.balance,
        note: d.note,
    };
    e.id = tx.insert_loyalty_entry(&e, lot.as_ref(), now)?;
    tx.append_change(Entity::LoyaltyEntry, e.id.0, Op::Insert, now)?;
    Ok(e)
}

/// Credits `points` (> 0) as a new lot; when the account is in debt, the points pay the
/// debt first and only the rest forms the lot.
pub(crate) fn credit(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    acct: &mut Account,
    d: Draft<'_>,
    available_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Entry> {
    let debt = (-acct.balance).max(0);
    let lot = LotTerms { remaining: (d.points - debt).max(0), available_at, expires_at };
    append_with_lot(tx, acct, d, Some(lot), now)
}

/// Takes `points` (> 0) from open lots: first from `first` (a lot id), then soonest
/// expiring; with `redeemable_at`, only lots available and not yet due at that time.
/// Returns how many points were taken (less than asked when the lots run out).
pub(crate) fn take_from_lots(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    customer: CustomerId,
    points: i64,
    first: Option<i64>,
    redeemable_at: Option<DateTime<Utc>>,
) -> Result<i64> {
    let mut lots = tx.open_lots(customer)?;
    if let Some(f) = first {
        if let Some(i) = lots.iter().position(|l| l.id == f) {
            let l = lots.remove(i);
            lots.insert(0, l);
        }
    }
    let mut taken = 0;
    for (i, take) in draw(&lots, points, redeemable_at) {
        tx.update_lot(lots[i].id, lots[i].remaining - take, false)?;
        taken += take;
    }
    Ok(taken)
}

/// How a debit of `points` (> 0) draws on `lots`, given in drawing order (see
/// [`draw_key`]): `(index, points taken)` for each lot drawn on, in order, until the points
/// or the lots run out; with `redeemable_at`, only lots that can be spent at that time.
/// Shared by the ledger and the simulator.
pub(crate) fn draw(lots: &[Lot], points: i64, redeemable_at: Option<DateTime<Utc>>) -> Vec<(usize, i64)> {
    let mut left = points;
    let mut out = Vec::new();
    for (i, l) in lots.iter().enumerate() {
        if left == 0 {
            break;
        }
        if redeemable_at.is_some_and(|t| !redeemable(l, t)) {
            continue;
        }
        let take = l.remaining.min(left);
        out.push((i, take));
        left -= take;
    }
    out
}

/// The order debits draw on lots in: soonest expiry first, lots without expiry last, then
/// by age (id). [`LedgerStore::open_lots`](crate::loyalty::LedgerStore::open_lots) returns lots in this order.
pub(crate) fn draw_key(l: &Lot) -> (bool, Option<DateTime<Utc>>, i64) {
    (l.expires_at.is_none(), l.expires_at, l.id)
}

/// Whether a lot's points can be spent at `t`.
pub(crate) fn redeemable(l: &Lot, t: DateTime<Utc>) -> bool {
    l.remaining > 0 && !l.expired && l.available_at <= t && l.expires_at.is_none_or(|x| x > t)
}

/// Points that can be spent at `t`.
pub(crate) fn available(tx: &mut (impl LoyaltyWrite + ?Sized), customer: CustomerId, t: DateTime<Utc>) -> Result<i64> {
    Ok(tx.open_lots(customer)?.iter().filter(|l| redeemable(l, t)).map(|l| l.remaining).sum())
}

/// Expires the due lots (`expires_at <= as_of`) of one customer, or of everyone, each once.
/// Returns the entries written.
pub(crate) fn expire_due(
    tx: &mut (impl LoyaltyWrite + ?Sized),
    customer: Option<CustomerId>,
    as_of: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Entry>> {
    let lots = tx.due_lots(customer, as_of)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < lots.len() {
        let c = lots[i].customer_id;
        let mut acct = account(tx, c, now)?;
        while i < lots.len() && lots[i].customer_id == c {
            let l = &lots[i];
            let key = format!("expire:lot:{}", l.id);
            tx.update_lot(l.id, 0, true)?;
            let at = l.expires_at.unwrap_or(as_of);
            let d = Draft {
                customer_id: c,
                kind: EntryKind::Expire,
                points: -l.remaining,
                qualifying: 0,
                key: &key,
                order_id: None,
                amount_minor: None,
                at,
                note: None,
            };
            out.push(append(tx, &mut acct, d, now)?);
            i += 1;
        }
        tx.put_loyalty_account(&acct)?;
    }
    Ok(out)
}
