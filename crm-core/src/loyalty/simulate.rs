//! The loyalty simulator: a program (the stored one, or a candidate that is never stored)
//! applied to the orders already recorded, as a dry run, reporting per month the points
//! issued, redeemed, expired and outstanding: the question a loyalty manager asks before
//! changing the rules. It reads in one transaction and writes nothing.
//!
//! # What it replays
//!
//! Every customer's orders placed before [`until`](SimulationOptions::until) (default: now),
//! in time order (then by id), one customer at a time, each starting with an empty account:
//!
//! - **Earning.** A `completed` order placed at or after [`from`](SimulationOptions::from)
//!   earns through the same code as the live path (`earning::order_points`): rates,
//!   multipliers, stacking, per-order, per-day and per-month caps (usage kept in memory per
//!   customer, rule and period), the first-order bonus (the customer's first completed order
//!   in the run), with the tier the customer holds in the simulation. Orders before `from`
//!   earn nothing but are history: conditions and spend or order-count tiers see them.
//! - **Refunds and cancellations.** A `refunded` or `cancelled` order never earns: the orders
//!   table keeps an order's current state only, not when it changed, so the simulator cannot
//!   place an earning and its reversal in their months. (Ingesting history with refunded
//!   orders gives the live ledger the same result.) A partial refund (a completed order with a
//!   lowered total) earns on the total it has now.
//! - **Conditions** (`when`) are evaluated in memory with [`crate::rule::matches`] at the
//!   order's time, on the subject the live path sees when orders are recorded one at a time
//!   in time order: the statistics of the customer's completed orders before this one, and
//!   the customer's orders (every status, with line items) up to and including it. The
//!   customer record, its interactions, RFM scores and value tier are read as stored now.
//! - **Tiers** move up as in the live path (`Tiers::upgrade_to`): after each completed order,
//!   on the measure over the rolling window ending at the order (qualifying points earned in
//!   the simulation; or completed spend or orders, history before `from` included). Moving
//!   down waits for [`Crm::review_tiers`](crate::Crm::review_tiers), a host's periodic call,
//!   and is not simulated.
//! - **Lots** form from each earning: redeemable after the program's `pending_days`,
//!   expiring `expiry_days` after the order. A lot's rest expires at its expiry time and is
//!   counted in the month it expires in.
//! - **Redemption** follows [`Redemption`]: none; a share of every account's redeemable
//!   points at each month end; or the real ledger's redemptions replayed. Redemptions draw on
//!   the soonest-expiring lots first, as the ledger does (`ledger::draw`).
//! - **Not simulated**: event bonuses other than the first order (sign-up, birthday, survey,
//!   referral: the host awards them), manual credits and adjustments, downgrades.
//!
//! At one instant, lots expire first, then orders earn, then redemptions run; a month-end
//! redemption happens at the month's last microsecond, after everything else in the month.
//!
//! # What it reports
//!
//! Every month (`YYYY-MM`, UTC) from the month of `from` (or of the first completed order)
//! to the month of `until`, none skipped; when `until` falls inside a month, that month runs
//! up to `until` and has no month-end redemption. Per month, `outstanding` is the sum of the
//! balances at its end, so that `outstanding = previous outstanding + issued - redeemed -
//! expired` holds from month to month. Points are whole numbers; nothing is a float.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::earning::{self, EarnContext, Earning};
use super::ledger::{self, EntryId, EntryKind, Lot};
use super::program::{EarnRule, MultiplierBy, Program};
use super::tiers::TierBasis;
use crate::customer::{Customer, CustomerId, CustomerStats};
use crate::error::{Entity, Error, Result};
use crate::interaction::Interaction;
use crate::loyalty::LoyaltyRead;
use crate::money::Money;
use crate::order::OrderScan;
use crate::order::{Order, OrderStatus};
use crate::rule::{self, check, Cond, Definitions, Needs, Subject};
use crate::segment::rfm::RfmScore;

/// Most customers [`SimulationOptions::customers`] may list.
pub const MAX_SIMULATED_CUSTOMERS: usize = 100_000;

/// Customers whose condition data (or real redemptions) are loaded at a time.
const CHUNK: usize = 1_000;

/// How simulated accounts spend their points.
///
/// In JSON: `"none"`, `{"rate": {"permille": 250}}` or `"actual"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Redemption {
    /// Nobody redeems (the default): outstanding is everything issued and not expired.
    #[default]
    None,
    /// At each month end every account redeems `permille` thousandths (0 to 1,000) of the
    /// points it can redeem then (pending and expired points excluded), rounded down.
    Rate {
        /// Thousandths of the redeemable points.
        permille: i64,
    },
    /// The real ledger's redemptions replayed at their times, each capped to what the
    /// simulated account can redeem then (a changed program may leave less to spend).
    Actual,
}

/// What a simulation covers and how accounts redeem.
///
/// ```
/// use crm_core::loyalty::{Redemption, SimulationOptions};
/// let o: SimulationOptions = serde_json::from_str(
///     r#"{"from": "2025-01-01T00:00:00Z", "redemption": {"rate": {"permille": 200}}}"#).unwrap();
/// assert_eq!(o.redemption, Redemption::Rate { permille: 200 });
/// assert!(serde_json::from_str::<SimulationOptions>(r#"{"since": "2025-01-01T00:00:00Z"}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SimulationOptions {
    /// Orders at or after this time earn; earlier ones are history only. Default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// The run ends here: orders at or after it are not read, and lots expiring at or after
    /// it are still outstanding. Default: now. At most 100 years ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// How accounts redeem.
    #[serde(default)]
    pub redemption: Redemption,
    /// Only these customers (1 to [`MAX_SIMULATED_CUSTOMERS`], each must exist). Default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers: Option<Vec<CustomerId>>,
}

/// One month of a simulation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SimulatedMonth {
    /// The month, `YYYY-MM` (UTC).
    pub month: String,
    /// Completed orders placed in the month (in the run: at or after `from`).
    pub orders: i64,
    /// Of those, orders that earned points.
    pub earning_orders: i64,
    /// Customers with at least one earning order in the month.
    pub customers_earning: i64,
    /// Points earned by orders placed in the month.
    pub issued: i64,
    /// Points redeemed in the month.
    pub redeemed: i64,
    /// Points whose lots expired in the month.
    pub expired: i64,
    /// Sum of the balances at the month's end (the liability).
    pub outstanding: i64,
    /// Accounts with a positive balance at the month's end.
    pub accounts_with_balance: i64,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SimulationTotals {
    /// Completed orders in the run.
    pub orders: i64,
    /// Of those, orders that earned points.
    pub earning_orders: i64,
    /// Customers with at least one earning order.
    pub customers_earning: i64,
    /// Accounts: customers with at least one completed order in the run.
    pub accounts: i64,
    /// Points issued.
    pub issued: i64,
    /// Points redeemed.
    pub redeemed: i64,
    /// Points expired.
    pub expired: i64,
    /// Sum of the balances at the end.
    pub outstanding: i64,
    /// Accounts with a positive balance at the end.
    pub accounts_with_balance: i64,
}

/// What one earning rule gave over the run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RuleTotal {
    /// The rule's name.
    pub rule: String,
    /// Points it gave (negative for a multiplier below 1). An order whose rules sum to less
    /// than zero earns nothing rather than losing points, so these need not add up to the
    /// points issued.
    pub points: i64,
    /// Earning orders it gave points to.
    pub orders: i64,
}

/// Accounts holding a tier at the end.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TierCount {
    /// The tier.
    pub tier: String,
    /// Accounts holding it.
    pub accounts: i64,
}

/// What a simulation found: see the [module documentation](self) for the semantics.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Simulation {
    /// The simulated program's name.
    pub program: String,
    /// Orders at or after this time earned (`None`: all).
    pub from: Option<DateTime<Utc>>,
    /// The end of the run.
    pub until: DateTime<Utc>,
    /// Every month, oldest first.
    pub months: Vec<SimulatedMonth>,
    /// The whole run.
    pub totals: SimulationTotals,
    /// Every rule of the program, in program order.
    pub rules: Vec<RuleTotal>,
    /// Accounts per tier at the end, lowest tier first, when the program has tiers
    /// (accounts holding none are the rest of [`SimulationTotals::accounts`]).
    pub tiers: Option<Vec<TierCount>>,
}

impl SimulationOptions {
    /// Checks the options; `now` is the default end.
    fn check(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
        let until = self.until.unwrap_or(now);
        if until > now + TimeDelta::days(crate::validate::MAX_FORECAST_DAYS) {
            return Err(Error::validation(
                "until",
                format!("{} is more than a century ahead", crate::validate::rfc3339(until)),
            ));
        }
        if let Some(from) = self.from {
            if from < DateTime::UNIX_EPOCH {
                return Err(Error::validation("from", format!("{} is before 1970", crate::validate::rfc3339(from))));
            }
            if from >= until {
                return Err(Error::validation("from", format!("{from} is not before until ({until})")));
            }
        }
        if let Redemption::Rate { permille } = self.redemption {
            if !(0..=1000).contains(&permille) {
                return Err(Error::validation("redemption.rate.permille", format!("{permille} is outside 0 ..= 1000")));
            }
        }
        if let Some(c) = &self.customers {
            if c.is_empty() || c.len() > MAX_SIMULATED_CUSTOMERS {
                return Err(Error::validation(
                    "customers",
                    format!("{} ids: give 1 to {MAX_SIMULATED_CUSTOMERS}, or none for everyone", c.len()),
                ));
            }
        }
        Ok(until)
    }
}

/// Runs the simulation of `p` (validated by the caller) in the caller's read transaction.
pub(crate) fn simulate(
    tx: &mut (impl LoyaltyRead + ?Sized),
    p: &Program,
    opts: &SimulationOptions,
    now: DateTime<Utc>,
) -> Result<Simulation> {
    let until = opts.check(now)?;
    let conditions: Vec<Cond> = p
        .rules
        .iter()
        .filter_map(|r| r.when.as_ref())
        .map(|w| check(w, &Definitions::default(), now))
        .collect::<Result<_>>()?;
    let needs = (!conditions.is_empty()).then(|| conditions.iter().map(rule::needs).fold(Needs::default(), merge));
    let items = needs.is_some_and(|n| n.orders)
        || p.rules.iter().any(|r| matches!(r.by, Some(MultiplierBy::Category | MultiplierBy::Sku)));
    let mut sim = Sim::new(p, opts, until, needs);
    let scan = OrderScan { before: Some(until), ..OrderScan::default() };
    // Loading per customer costs a query or more each: only when something needs it.
    let preload = needs.is_some() || opts.redemption == Redemption::Actual;
    if let Some(list) = &opts.customers {
        let mut ids = list.clone();
        ids.sort_unstable();
        ids.dedup();
        for &c in &ids {
            if !tx.customer_exists(c)? {
                return Err(Error::not_found(Entity::Customer, c));
            }
        }
        for c in ids {
            let mut pre = HashMap::from([(c, sim.preload(tx, c)?)]);
            tx.scan_order_records(&OrderScan { customer: Some(c), ..scan }, items, &mut |o| sim.order(o, &mut pre))?;
        }
    } else if preload {
        let everyone = Cond::Const(true);
        let mut after = None;
        loop {
            let ids = tx.rule_members(&everyone, after, CHUNK)?;
            let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else { break };
            let mut pre = HashMap::with_capacity(ids.len());
            for &c in &ids {
                pre.insert(c, sim.preload(tx, c)?);
            }
            let chunk = OrderScan { customers: Some((first, last)), ..scan };
            tx.scan_order_records(&chunk, items, &mut |o| sim.order(o, &mut pre))?;
            after = Some(last);
        }
    } else {
        let mut none = HashMap::new();
        tx.scan_order_records(&scan, items, &mut |o| sim.order(o, &mut none))?;
    }
    Ok(sim.finish())
}

fn merge(a: Needs, b: Needs) -> Needs {
    Needs {
        orders: a.orders || b.orders,
        orders_since: None,
        interactions: a.interactions || b.interactions,
        interactions_since: None,
        rfm: a.rfm || b.rfm,
        tier: a.tier || b.tier,
        static_segments: a.static_segments || b.static_segments,
    }
}

/// Months as `year * 12 + month0`.
fn month_of(t: DateTime<Utc>) -> i32 {
    t.year() * 12 + t.month0() as i32
}

fn month_start(m: i32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1, 0, 0, 0)
        .single()
        .expect("the first of a month at midnight exists in UTC")
}

fn month_name(m: i32) -> String {
    format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
}

/// The monthly figures, from `base` on, grown at either end as months appear.
#[derive(Default)]
struct Months {
    base: i32,
    v: Vec<SimulatedMonth>,
}

impl Months {
    fn at(&mut self, m: i32) -> &mut SimulatedMonth {
        if self.v.is_empty() {
            self.base = m;
        }
        if m < self.base {
            let grow = (self.base - m) as usize;
            self.v.splice(0..0, std::iter::repeat_with(SimulatedMonth::default).take(grow));
            self.base = m;
        }
        let i = (m - self.base) as usize;
        if i >= self.v.len() {
            self.v.resize_with(i + 1, SimulatedMonth::default);
        }
        &mut self.v[i]
    }
}

/// What conditions read beyond the orders, as stored now.
struct Stored {
    customer: Customer,
    stats: CustomerStats,
    rfm: Option<RfmScore>,
    tier: Option<String>,
    interactions: Vec<Interaction>,
}

/// One customer's data loaded before its orders are read.
#[derive(Default)]
struct Preloaded {
    stored: Option<Stored>,
    /// The real redemptions `(time, points)` in the run, oldest first.
    redemptions: Vec<(DateTime<Utc>, i64)>,
}

/// The simulated account of the customer being replayed.
#[derive(Default)]
struct Run {
    id: CustomerId,
    pre: Preloaded,
    next_redemption: usize,
    /// Completed orders in the run so far (the live account's `orders`).
    orders: i64,
    tier: Option<String>,
    balance: i64,
    /// Lots with points left, in drawing order.
    lots: Vec<Lot>,
    lots_formed: i64,
    usage: HashMap<(String, String), i64>,
    /// The tier measure's window: `(time, amount)` and their sum.
    window: VecDeque<(DateTime<Utc>, i64)>,
    window_sum: i64,
    /// Statistics of the completed orders so far (history included).
    stats: CustomerStats,
    /// Every order so far, when conditions read orders.
    history: Vec<Order>,
    /// The next month whose end is still to be recorded, while the account holds points.
    open_month: Option<i32>,
    last_earning_month: Option<i32>,
}

/// What earning reads in the simulation: cap usage and conditions from memory.
struct SimContext<'a> {
    usage: &'a HashMap<(String, String), i64>,
    stored: Option<&'a Stored>,
    stats: &'a CustomerStats,
    history: &'a [Order],
}

impl EarnContext for SimContext<'_> {
    fn condition(&mut self, rule: &EarnRule, at: DateTime<Utc>) -> Result<bool> {
        let (Some(s), Some(when)) = (self.stored, &rule.when) else { return Ok(false) };
        let cond = check(when, &Definitions::default(), at)?;
        let stats = CustomerStats {
            interaction_count: s.stats.interaction_count,
            last_interaction_at: s.stats.last_interaction_at,
            ..self.stats.clone()
        };
        let subject = Subject {
            customer: &s.customer,
            stats: &stats,
            rfm: s.rfm.as_ref(),
            tier: s.tier.as_deref(),
            orders: self.history,
            interactions: &s.interactions,
            static_segments: &[],
        };
        Ok(rule::matches(&subject, &cond))
    }

    fn usage(&mut self, rule: &str, period: &str) -> Result<i64> {
        Ok(self.usage.get(&(rule.to_string(), period.to_string())).copied().unwrap_or(0))
    }
}

/// What happens next in a customer's account, in the order of the instant it happens at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Expire,
    Order,
    Redeem,
    MonthEnd,
}

struct Sim<'p> {
    p: &'p Program,
    from: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    redemption: Redemption,
    needs: Option<Needs>,
    pending: Option<TimeDelta>,
    expiry: Option<TimeDelta>,
    months: Months,
    first_month: Option<i32>,
    totals: SimulationTotals,
    rules: Vec<RuleTotal>,
    tiers: Vec<i64>,
    run: Option<Run>,
}

impl<'p> Sim<'p> {
    fn new(p: &'p Program, opts: &SimulationOptions, until: DateTime<Utc>, needs: Option<Needs>) -> Sim<'p> {
        let days = |d: Option<u32>| d.map(|d| TimeDelta::days(i64::from(d)));
        Sim {
            p,
            from: opts.from,
            until,
            redemption: opts.redemption,
            needs,
            pending: days(p.pending_days),
            expiry: days(p.expiry_days),
            months: Months::default(),
            first_month: opts.from.map(month_of),
            totals: SimulationTotals::default(),
            rules: p.rules.iter().map(|r| RuleTotal { rule: r.name.clone(), ..RuleTotal::default() }).collect(),
            tiers: vec![0; p.tiers.as_ref().map_or(0, |t| t.levels.len())],
            run: None,
        }
    }

    fn preload(&self, tx: &mut (impl LoyaltyRead + ?Sized), c: CustomerId) -> Result<Preloaded> {
        let mut pre = Preloaded::default();
        if let Some(n) = self.needs {
            let customer = tx.get_customer(c)?.ok_or_else(|| Error::not_found(Entity::Customer, c))?;
            pre.stored = Some(Stored {
                customer,
                stats: tx.get_stats(c)?,
                rfm: if n.rfm { tx.get_rfm(c)? } else { None },
                tier: if n.tier { tx.tier_of(c)? } else { None },
                interactions: if n.interactions { tx.interactions_of(c, None)? } else { Vec::new() },
            });
        }
        if self.redemption == Redemption::Actual {
            pre.redemptions = tx
                .loyalty_entries(c)?
                .into_iter()
                .filter(|e| e.kind == EntryKind::Redeem && self.from.is_none_or(|f| e.at >= f) && e.at < self.until)
                .map(|e| (e.at, -e.points))
                .collect();
        }
        Ok(pre)
    }

    /// Replays one order; orders come by customer, then time, then id.
    fn order(&mut self, o: &Order, pre: &mut HashMap<CustomerId, Preloaded>) -> Result<()> {
        if self.run.as_ref().is_none_or(|r| r.id != o.customer_id) {
            self.close();
            let pre = pre.remove(&o.customer_id).unwrap_or_default();
            self.run = Some(Run { id: o.customer_id, pre, ..Run::default() });
        }
        let mut run = self.run.take().expect("a customer is being replayed");
        let r = self.replay(&mut run, o);
        self.run = Some(run);
        r
    }

    fn replay(&mut self, run: &mut Run, o: &Order) -> Result<()> {
        let at = o.occurred_at;
        self.advance(run, at, Step::Order);
        if self.needs.is_some_and(|n| n.orders) {
            run.history.push(o.clone());
        }
        if o.status != OrderStatus::Completed {
            return Ok(());
        }
        let tiers = self.p.tiers.as_ref();
        if let Some(t) = tiers {
            let amount = match t.basis {
                TierBasis::Points => 0,
                TierBasis::Spend { currency } if currency == o.total.currency => o.total.minor,
                TierBasis::Spend { .. } => 0,
                TierBasis::Orders => 1,
            };
            if amount != 0 {
                run.window.push_back((at, amount));
                run.window_sum += amount;
            }
        }
        if self.from.is_none_or(|f| at >= f) {
            let earning = {
                let mut ctx = SimContext {
                    usage: &run.usage,
                    stored: run.pre.stored.as_ref(),
                    stats: &run.stats,
                    history: &run.history,
                };
                earning::order_points(self.p, o, run.tier.as_deref(), run.orders == 0, &mut ctx)?
            };
            self.earn(run, o, &earning);
            if let Some(t) = tiers {
                let since = at - t.window();
                while run.window.front().is_some_and(|(w, _)| *w <= since) {
                    let (_, a) = run.window.pop_front().expect("checked");
                    run.window_sum -= a;
                }
                if let Some(up) = t.upgrade_to(run.tier.as_deref(), run.window_sum) {
                    run.tier = Some(up.to_string());
                }
            }
        }
        add_to_stats(&mut run.stats, o);
        Ok(())
    }

    /// Books what an order earned, as the live path posts it.
    fn earn(&mut self, run: &mut Run, o: &Order, e: &Earning) {
        let at = o.occurred_at;
        let m = month_of(at);
        self.first_month = Some(self.first_month.map_or(m, |f| f.min(m)));
        if run.orders == 0 {
            self.totals.accounts += 1;
        }
        run.orders += 1;
        let month = self.months.at(m);
        month.orders += 1;
        if e.points <= 0 {
            return;
        }
        month.earning_orders += 1;
        month.issued += e.points;
        if run.last_earning_month != Some(m) {
            month.customers_earning += 1;
            if run.last_earning_month.is_none() {
                self.totals.customers_earning += 1;
            }
            run.last_earning_month = Some(m);
        }
        for (rule, period, pts) in &e.usage {
            *run.usage.entry((rule.clone(), period.clone())).or_default() += pts;
        }
        for rp in &e.rules {
            if let Some(t) = self.rules.iter_mut().find(|t| t.rule == rp.rule) {
                t.points += rp.points;
                t.orders += 1;
            }
        }
        if self.p.tiers.as_ref().is_some_and(|t| t.basis == TierBasis::Points) && e.qualifying != 0 {
            run.window.push_back((at, e.qualifying));
            run.window_sum += e.qualifying;
        }
        run.lots_formed += 1;
        run.lots.push(Lot {
            id: run.lots_formed,
            customer_id: run.id,
            entry_id: EntryId(0),
            points: e.points,
            remaining: e.points,
            earned_at: at,
            available_at: self.pending.map_or(at, |d| at + d),
            expires_at: self.expiry.map(|d| at + d),
            expired: false,
        });
        // Every lot expires the same time after it forms, so pushing keeps drawing order;
        // the sort states the rule rather than relying on it.
        if run.lots.len() > 1
            && ledger::draw_key(&run.lots[run.lots.len() - 2]) > ledger::draw_key(&run.lots[run.lots.len() - 1])
        {
            run.lots.sort_by_key(ledger::draw_key);
        }
        run.balance += e.points;
        run.open_month.get_or_insert(m);
    }

    /// Runs what happens in the account before `(t, step)`: expiries, redemptions, month ends.
    fn advance(&mut self, run: &mut Run, t: DateTime<Utc>, step: Step) {
        let target = (t, step);
        loop {
            let mut next: Option<(DateTime<Utc>, Step)> = None;
            let mut consider = |k: (DateTime<Utc>, Step)| {
                if k < target && next.is_none_or(|n| k < n) {
                    next = Some(k);
                }
            };
            if let Some(e) = run.lots.first().and_then(|l| l.expires_at) {
                consider((e, Step::Expire));
            }
            if let Some(&(r, _)) = run.pre.redemptions.get(run.next_redemption) {
                consider((r, Step::Redeem));
            }
            if let Some(m) = run.open_month {
                consider((self.month_end(m), Step::MonthEnd));
            }
            let Some((at, step)) = next else { return };
            match step {
                Step::Expire => self.expire(run, at),
                Step::Redeem => {
                    let (_, points) = run.pre.redemptions[run.next_redemption];
                    run.next_redemption += 1;
                    self.redeem(run, at, |_| points);
                }
                Step::MonthEnd => self.month_end_of(run, at),
                Step::Order => unreachable!("orders come from the scan"),
            }
        }
    }

    /// The last instant of month `m` in the run.
    fn month_end(&self, m: i32) -> DateTime<Utc> {
        month_start(m + 1).min(self.until) - TimeDelta::microseconds(1)
    }

    fn expire(&mut self, run: &mut Run, at: DateTime<Utc>) {
        let mut points = 0;
        for l in run.lots.iter_mut().take_while(|l| l.expires_at.is_some_and(|e| e <= at)) {
            points += l.remaining;
            l.remaining = 0;
            l.expired = true;
        }
        run.lots.retain(|l| l.remaining > 0);
        run.balance -= points;
        self.months.at(month_of(at)).expired += points;
    }

    /// Redeems `amount(redeemable points)` at `at`, at most what can be redeemed.
    fn redeem(&mut self, run: &mut Run, at: DateTime<Utc>, amount: impl FnOnce(i64) -> i64) {
        let available: i64 = run.lots.iter().filter(|l| ledger::redeemable(l, at)).map(|l| l.remaining).sum();
        let want = amount(available).min(available);
        if want <= 0 {
            return;
        }
        let mut taken = 0;
        for (i, take) in ledger::draw(&run.lots, want, Some(at)) {
            run.lots[i].remaining -= take;
            taken += take;
        }
        run.lots.retain(|l| l.remaining > 0);
        run.balance -= taken;
        self.months.at(month_of(at)).redeemed += taken;
    }

    /// The end of the account's open month: the month-end redemption, then its figures.
    fn month_end_of(&mut self, run: &mut Run, at: DateTime<Utc>) {
        let m = run.open_month.expect("a month is open");
        let next = month_start(m + 1);
        if let (Redemption::Rate { permille }, true) = (self.redemption, next <= self.until) {
            self.redeem(run, at, |available| {
                i64::try_from(i128::from(available) * i128::from(permille) / 1000).unwrap_or(i64::MAX)
            });
        }
        let month = self.months.at(m);
        month.outstanding += run.balance;
        if run.balance > 0 {
            month.accounts_with_balance += 1;
        }
        // An account without points has nothing to record until it earns again.
        run.open_month = (run.balance != 0 && next < self.until).then_some(m + 1);
    }

    /// Runs the account of the customer being replayed to the end of the run.
    fn close(&mut self) {
        let Some(mut run) = self.run.take() else { return };
        self.advance(&mut run, self.until, Step::Expire);
        if let (Some(t), Some(tier)) = (&self.p.tiers, run.tier.as_deref()) {
            if let Some(i) = t.rank(Some(tier)) {
                self.tiers[i] += 1;
            }
        }
    }

    fn finish(mut self) -> Simulation {
        self.close();
        let last = month_of(self.until - TimeDelta::microseconds(1));
        let mut months = Vec::new();
        if let Some(first) = self.first_month {
            for m in first..=last {
                let mut row = std::mem::take(self.months.at(m));
                row.month = month_name(m);
                months.push(row);
            }
        }
        let mut totals = self.totals;
        for m in &months {
            totals.orders += m.orders;
            totals.earning_orders += m.earning_orders;
            totals.issued += m.issued;
            totals.redeemed += m.redeemed;
            totals.expired += m.expired;
        }
        if let Some(m) = months.last() {
            totals.outstanding = m.outstanding;
            totals.accounts_with_balance = m.accounts_with_balance;
        }
        let tiers = self.p.tiers.as_ref().map(|t| {
            t.levels.iter().zip(&self.tiers).map(|(l, n)| TierCount { tier: l.name.clone(), accounts: *n }).collect()
        });
        Simulation {
            program: self.p.name.clone(),
            from: self.from,
            until: self.until,
            months,
            totals,
            rules: self.rules,
            tiers,
        }
    }
}

/// Folds a completed order into running statistics, as the store's statistics count it.
fn add_to_stats(s: &mut CustomerStats, o: &Order) {
    s.order_count += 1;
    s.first_order_at = Some(s.first_order_at.map_or(o.occurred_at, |t| t.min(o.occurred_at)));
    s.last_order_at = Some(s.last_order_at.map_or(o.occurred_at, |t| t.max(o.occurred_at)));
    let c = o.total.currency;
    match s.total_spent.iter().position(|m| m.currency == c) {
        Some(i) => s.total_spent[i].minor += o.total.minor,
        None => {
            s.total_spent.push(Money::new(o.total.minor, c));
            s.total_spent.sort_by(|a, b| a.currency.code().cmp(b.currency.code()));
        }
    }
    s.total_spent.retain(|m| m.minor != 0);
}
