//! How many points an order or an event earns under a program. Pure: what it needs from
//! the store (conditions on the customer, what capped rules already gave) comes through
//! [`EarnContext`], so the facade, bulk ingest and the simulator share one definition.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::program::{EarnRule, Event, MultiplierBy, Program, RuleKind};
use crate::error::Result;
use crate::order::Order;

/// Points one rule gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulePoints {
    /// The rule's name.
    pub rule: String,
    /// Points (negative for a multiplier below 1).
    pub points: i64,
}

/// What an order or event earns.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Earning {
    /// Points in all (never negative).
    pub points: i64,
    /// The part that counts toward tiers.
    pub qualifying: i64,
    /// Per rule, in program order.
    pub rules: Vec<RulePoints>,
    /// Points to add to the day and month usage of capped rules: `(rule, period, points)`.
    #[serde(skip)]
    pub usage: Vec<(String, String, i64)>,
    /// The conditions evaluated, by rule name, and whether each held (recorded with an
    /// order's earning so that a correction re-prices the order as it was priced then).
    #[serde(skip)]
    pub conditions: Vec<(String, bool)>,
}

/// What earning reads beyond the program and the order.
pub(crate) trait EarnContext {
    /// Whether the customer meets the condition of `rule` (which has one) at `at`.
    fn condition(&mut self, rule: &EarnRule, at: DateTime<Utc>) -> Result<bool>;
    /// Points a rule already gave the customer in a period (`d:YYYY-MM-DD`, `m:YYYY-MM`).
    fn usage(&mut self, rule: &str, period: &str) -> Result<i64>;
}

fn applies(
    r: &EarnRule,
    at: DateTime<Utc>,
    ctx: &mut impl EarnContext,
    seen: &mut Vec<(String, bool)>,
) -> Result<bool> {
    if !r.active_at(at) {
        return Ok(false);
    }
    if r.when.is_none() {
        return Ok(true);
    }
    let met = ctx.condition(r, at)?;
    seen.push((r.name.clone(), met));
    Ok(met)
}

/// Points for an order of a customer holding `tier`; `first_order` when no order of theirs
/// has earned yet.
pub(crate) fn order_points(
    p: &Program,
    o: &Order,
    tier: Option<&str>,
    first_order: bool,
    ctx: &mut impl EarnContext,
) -> Result<Earning> {
    let rate = p.rates.get(&o.total.currency);
    let mut cands: Vec<(usize, i64)> = Vec::new();
    let mut seen = Vec::new();
    for (i, r) in p.rules.iter().enumerate() {
        let pts = match r.kind {
            RuleKind::Base => rate.map_or(0, |rt| rt.points_for(o.total.minor, 1000)),
            RuleKind::Multiplier => {
                let Some(rt) = rate else { continue };
                let v = r.value.as_deref().unwrap_or_default();
                let spend = match r.by {
                    Some(MultiplierBy::Tier) if tier == Some(v) => o.total.minor,
                    Some(MultiplierBy::Channel) if o.channel.as_deref() == Some(v) => o.total.minor,
                    Some(MultiplierBy::Category) => item_spend(o, |it| it.category.as_deref() == Some(v)),
                    Some(MultiplierBy::Sku) => item_spend(o, |it| it.sku == v),
                    _ => 0,
                };
                let extra = r.permille() - 1000;
                if extra >= 0 {
                    rt.points_for(spend, extra)
                } else {
                    -rt.points_for(spend, -extra)
                }
            }
            RuleKind::Bonus if r.event == Some(Event::FirstOrder) && first_order => r.points.unwrap_or(0),
            RuleKind::Bonus => 0,
        };
        if pts == 0 || !applies(r, o.occurred_at, ctx, &mut seen)? {
            continue;
        }
        cands.push((i, pts));
    }
    let mut e = settle(p, cands, o.occurred_at, ctx)?;
    e.conditions = seen;
    Ok(e)
}

/// Points for an event at `at`.
pub(crate) fn event_points(
    p: &Program,
    event: Event,
    at: DateTime<Utc>,
    ctx: &mut impl EarnContext,
) -> Result<Earning> {
    let mut cands = Vec::new();
    let mut seen = Vec::new();
    for (i, r) in p.rules.iter().enumerate() {
        if r.kind == RuleKind::Bonus && r.event == Some(event) && applies(r, at, ctx, &mut seen)? {
            cands.push((i, r.points.unwrap_or(0)));
        }
    }
    settle(p, cands, at, ctx)
}

fn item_spend(o: &Order, pick: impl Fn(&crate::order::LineItem) -> bool) -> i64 {
    o.items.iter().filter(|it| pick(it)).map(|it| it.quantity.saturating_mul(it.unit_price_minor)).sum()
}

/// The day and month periods of caps that `at` falls in: `d:YYYY-MM-DD`, `m:YYYY-MM` (UTC).
pub(crate) fn periods(at: DateTime<Utc>) -> (String, String) {
    (format!("d:{}", at.format("%Y-%m-%d")), format!("m:{}", at.format("%Y-%m")))
}

/// Applies per-order caps, stacking, then day and month caps, to `(rule index, points)`.
fn settle(p: &Program, cands: Vec<(usize, i64)>, at: DateTime<Utc>, ctx: &mut impl EarnContext) -> Result<Earning> {
    let capped: Vec<(usize, i64)> =
        cands.into_iter().map(|(i, pts)| (i, p.rules[i].caps.per_order.map_or(pts, |c| pts.min(c)))).collect();
    // Of the rules of one kind that do not stack, only the one giving most applies.
    let mut chosen: Vec<(usize, i64)> = Vec::new();
    for kind in [RuleKind::Base, RuleKind::Multiplier, RuleKind::Bonus] {
        let of_kind = capped.iter().filter(|(i, _)| p.rules[*i].kind == kind);
        chosen.extend(of_kind.clone().filter(|(i, _)| p.rules[*i].stacks));
        if let Some(best) = of_kind.filter(|(i, _)| !p.rules[*i].stacks).max_by_key(|(i, pts)| (*pts, usize::MAX - i)) {
            chosen.push(*best);
        }
    }
    chosen.sort_by_key(|(i, _)| *i);
    // Formatting the periods costs more than the rest of an order's earning: only for caps.
    let capped_by_period = |i: usize| p.rules[i].caps.per_day.is_some() || p.rules[i].caps.per_month.is_some();
    let periods = chosen.iter().any(|(i, _)| capped_by_period(*i)).then(|| periods(at));
    let mut e = Earning::default();
    for (i, mut pts) in chosen {
        let r = &p.rules[i];
        if let (true, Some((day, month))) = (pts > 0, &periods) {
            for (cap, period) in [(r.caps.per_day, day), (r.caps.per_month, month)] {
                if let Some(c) = cap {
                    pts = pts.min((c - ctx.usage(&r.name, period)?).max(0));
                }
            }
            for (cap, period) in [(r.caps.per_day, day), (r.caps.per_month, month)] {
                if cap.is_some() && pts > 0 {
                    e.usage.push((r.name.clone(), period.clone(), pts));
                }
            }
        }
        if pts == 0 {
            continue;
        }
        e.points += pts;
        if r.is_qualifying() {
            e.qualifying += pts;
        }
        e.rules.push(RulePoints { rule: r.name.clone(), points: pts });
    }
    e.points = e.points.max(0);
    e.qualifying = e.qualifying.clamp(0, e.points);
    Ok(e)
}
