//! Descriptive reports as tables, computed in one pass over completed orders in one currency,
//! sorted by customer and time: revenue, orders, average order value and new versus returning
//! customers per month or week; revenue per channel and period; monthly acquisition-cohort
//! retention; and the distribution of orders per customer. (Per-segment revenue will come
//! with segments, which live on another branch.)

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::div_round_half_even;
use super::summary::{month_start, Period};
use crate::customer::CustomerId;
use crate::money::Currency;

/// The period of a report's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportPeriod {
    /// Calendar months, UTC.
    #[default]
    Month,
    /// Weeks from Monday, UTC.
    Week,
}

impl ReportPeriod {
    fn start(self, t: DateTime<Utc>) -> NaiveDate {
        match self {
            ReportPeriod::Month => month_start(t),
            ReportPeriod::Week => Period::Week.start(Period::Week.index(t)),
        }
    }
}

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportOptions {
    /// The one currency reported: orders in other currencies are left out.
    pub currency: Currency,
    /// Month or week.
    #[serde(default)]
    pub period: ReportPeriod,
    /// Only orders placed strictly before this instant (all when absent).
    #[serde(default)]
    pub before: Option<DateTime<Utc>>,
    /// Saved segments to report revenue for, by name (at most 100): their members now,
    /// with all their orders of the period, so a period's figures are those of today's
    /// members (not of the customers who were members then).
    #[serde(default)]
    pub segments: Vec<String>,
}

/// Revenue of one saved segment's current members in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRevenue {
    /// First day of the period.
    pub period_start: NaiveDate,
    /// The segment's name.
    pub segment: String,
    /// Completed orders of its members.
    pub orders: u64,
    /// Members with an order in the period.
    pub customers: u64,
    /// Revenue, minor units.
    pub revenue_minor: i64,
}

/// Revenue, orders and customers of one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodRevenue {
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Completed orders.
    pub orders: u64,
    /// Customers with an order.
    pub customers: u64,
    /// Customers whose first order ever (in this currency) is in this period.
    pub new_customers: u64,
    /// Customers with an order here and an earlier one.
    pub returning_customers: u64,
    /// Revenue, minor units.
    pub revenue_minor: i64,
    /// Revenue from new customers, minor units.
    pub new_revenue_minor: i64,
    /// Revenue from returning customers, minor units.
    pub returning_revenue_minor: i64,
    /// Average order value, minor units, rounded half to even.
    pub average_order_minor: i64,
}

/// Revenue of one channel in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRevenue {
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Sales channel (`None` for orders without one).
    pub channel: Option<String>,
    /// Completed orders.
    pub orders: u64,
    /// Revenue, minor units.
    pub revenue_minor: i64,
}

/// Retention of one monthly acquisition cohort, some months after acquisition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortRetention {
    /// The month (its first day) of the cohort's first orders.
    pub cohort: NaiveDate,
    /// Months since that month (0: the acquisition month).
    pub months_since: u32,
    /// Customers in the cohort.
    pub cohort_customers: u64,
    /// Of them, customers with an order in that month.
    pub active_customers: u64,
    /// `active_customers / cohort_customers`.
    pub retention: f64,
}

/// How many customers placed a given number of orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrequencyBucket {
    /// Completed orders per customer.
    pub orders: u64,
    /// Customers with exactly that many.
    pub customers: u64,
}

/// All reports of one [`Crm::reports`](crate::Crm::reports) call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reports {
    /// The currency of every amount.
    pub currency: Currency,
    /// The period of `revenue` and `channels`.
    pub period: ReportPeriod,
    /// Per period, oldest first.
    pub revenue: Vec<PeriodRevenue>,
    /// Per period and channel.
    pub channels: Vec<ChannelRevenue>,
    /// Per cohort and month since acquisition.
    pub cohorts: Vec<CohortRetention>,
    /// Per number of orders.
    pub frequency: Vec<FrequencyBucket>,
    /// Per period and requested segment (empty when none was requested).
    #[serde(default)]
    pub segments: Vec<SegmentRevenue>,
}

#[derive(Debug, Default)]
struct PeriodAcc {
    orders: u64,
    customers: u64,
    new_customers: u64,
    returning: u64,
    revenue: i64,
    new_revenue: i64,
    returning_revenue: i64,
}

#[derive(Debug)]
pub(crate) struct ReportBuilder {
    opts: ReportOptions,
    periods: BTreeMap<NaiveDate, PeriodAcc>,
    channels: BTreeMap<(NaiveDate, Option<String>), (u64, i64)>,
    /// (cohort, months since) -> active customers; cohort -> size.
    active: BTreeMap<(NaiveDate, u32), u64>,
    cohort_size: BTreeMap<NaiveDate, u64>,
    frequency: BTreeMap<u64, u64>,
    cur: Option<Cur>,
    /// Indices into `opts.segments` of each customer's segments.
    members: HashMap<CustomerId, Vec<usize>>,
    /// (period, segment index) -> (orders, customers, revenue).
    segments: BTreeMap<(NaiveDate, usize), (u64, u64, i64)>,
}

#[derive(Debug)]
struct Cur {
    customer: CustomerId,
    first_period: NaiveDate,
    cohort: NaiveDate,
    last_period: NaiveDate,
    last_month: u32,
    orders: u64,
}

fn months_between(from: NaiveDate, to: NaiveDate) -> u32 {
    ((to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32).max(0) as u32
}

impl ReportBuilder {
    /// `members` maps customers to the indices (into `opts.segments`) of their segments.
    pub(crate) fn new(opts: &ReportOptions, members: HashMap<CustomerId, Vec<usize>>) -> ReportBuilder {
        ReportBuilder {
            opts: opts.clone(),
            members,
            segments: BTreeMap::new(),
            periods: BTreeMap::new(),
            channels: BTreeMap::new(),
            active: BTreeMap::new(),
            cohort_size: BTreeMap::new(),
            frequency: BTreeMap::new(),
            cur: None,
        }
    }

    pub(crate) fn push(&mut self, customer: CustomerId, at: DateTime<Utc>, minor: i64, channel: Option<&str>) {
        let period = self.opts.period.start(at);
        let month = month_start(at);
        if self.cur.as_ref().is_some_and(|c| c.customer != customer) {
            self.finish_customer();
        }
        let cur = self.cur.get_or_insert_with(|| {
            *self.cohort_size.entry(month).or_insert(0) += 1;
            Cur {
                customer,
                first_period: period,
                cohort: month,
                last_period: NaiveDate::MIN,
                last_month: u32::MAX,
                orders: 0,
            }
        });
        cur.orders += 1;
        let p = self.periods.entry(period).or_default();
        p.orders += 1;
        p.revenue = p.revenue.saturating_add(minor);
        let new = period == cur.first_period;
        if new {
            p.new_revenue = p.new_revenue.saturating_add(minor);
        } else {
            p.returning_revenue = p.returning_revenue.saturating_add(minor);
        }
        let first_in_period = period != cur.last_period;
        if let Some(segs) = self.members.get(&customer) {
            for &i in segs {
                let e = self.segments.entry((period, i)).or_insert((0, 0, 0));
                e.0 += 1;
                e.1 += u64::from(first_in_period);
                e.2 = e.2.saturating_add(minor);
            }
        }
        if first_in_period {
            cur.last_period = period;
            p.customers += 1;
            if new {
                p.new_customers += 1;
            } else {
                p.returning += 1;
            }
        }
        let since = months_between(cur.cohort, month);
        if since != cur.last_month {
            cur.last_month = since;
            *self.active.entry((cur.cohort, since)).or_insert(0) += 1;
        }
        let c = self.channels.entry((period, channel.map(str::to_owned))).or_insert((0, 0));
        c.0 += 1;
        c.1 = c.1.saturating_add(minor);
    }

    fn finish_customer(&mut self) {
        if let Some(c) = self.cur.take() {
            *self.frequency.entry(c.orders).or_insert(0) += 1;
        }
    }

    pub(crate) fn finish(mut self) -> Reports {
        self.finish_customer();
        let revenue = self
            .periods
            .into_iter()
            .map(|(d, p)| PeriodRevenue {
                period_start: d,
                orders: p.orders,
                customers: p.customers,
                new_customers: p.new_customers,
                returning_customers: p.returning,
                revenue_minor: p.revenue,
                new_revenue_minor: p.new_revenue,
                returning_revenue_minor: p.returning_revenue,
                average_order_minor: div_round_half_even(i128::from(p.revenue), i128::from(p.orders.max(1))),
            })
            .collect();
        let channels = self
            .channels
            .into_iter()
            .map(|((d, ch), (n, r))| ChannelRevenue { period_start: d, channel: ch, orders: n, revenue_minor: r })
            .collect();
        let sizes = self.cohort_size;
        let mut cohorts = Vec::new();
        // Every month from the cohort's to the last month seen, zeros included.
        let last = self.active.keys().map(|(c, k)| c.checked_add_months(Months::new(*k)).unwrap_or(*c)).max();
        for (&cohort, &size) in &sizes {
            let span = last.map_or(0, |l| months_between(cohort, l));
            for k in 0..=span {
                let active = self.active.get(&(cohort, k)).copied().unwrap_or(0);
                cohorts.push(CohortRetention {
                    cohort,
                    months_since: k,
                    cohort_customers: size,
                    active_customers: active,
                    retention: active as f64 / size as f64,
                });
            }
        }
        let frequency =
            self.frequency.into_iter().map(|(orders, customers)| FrequencyBucket { orders, customers }).collect();
        let names = &self.opts.segments;
        let segments = self
            .segments
            .into_iter()
            .map(|((d, i), (orders, customers, revenue))| SegmentRevenue {
                period_start: d,
                segment: names[i].clone(),
                orders,
                customers,
                revenue_minor: revenue,
            })
            .collect();
        Reports {
            currency: self.opts.currency,
            period: self.opts.period,
            revenue,
            channels,
            cohorts,
            frequency,
            segments,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_tables() {
        let opts = ReportOptions {
            currency: Currency::new("EUR").unwrap(),
            period: ReportPeriod::Month,
            before: None,
            segments: vec![],
        };
        let mut b = ReportBuilder::new(&opts, HashMap::new());
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        b.push(CustomerId(1), t("2026-01-05T10:00:00Z"), 1000, Some("web"));
        b.push(CustomerId(1), t("2026-01-20T10:00:00Z"), 500, Some("web"));
        b.push(CustomerId(1), t("2026-03-02T10:00:00Z"), 301, None);
        b.push(CustomerId(2), t("2026-02-01T10:00:00Z"), 200, Some("store"));
        let r = b.finish();
        let jan = &r.revenue[0];
        assert_eq!((jan.orders, jan.customers, jan.new_customers, jan.revenue_minor), (2, 1, 1, 1500));
        assert_eq!(jan.average_order_minor, 750);
        let mar = &r.revenue[2];
        assert_eq!((mar.returning_customers, mar.returning_revenue_minor, mar.new_customers), (1, 301, 0));
        assert_eq!(
            r.frequency,
            vec![FrequencyBucket { orders: 1, customers: 1 }, FrequencyBucket { orders: 3, customers: 1 }]
        );
        let jan_cohort: Vec<u64> =
            r.cohorts.iter().filter(|c| c.cohort.month() == 1).map(|c| c.active_customers).collect();
        assert_eq!(jan_cohort, vec![1, 0, 1]);
        let feb_cohort: Vec<u64> =
            r.cohorts.iter().filter(|c| c.cohort.month() == 2).map(|c| c.active_customers).collect();
        assert_eq!(feb_cohort, vec![1, 0]);
        assert_eq!(r.channels.len(), 3);
        assert_eq!(r.channels[0].channel.as_deref(), Some("web"));
        assert_eq!(r.channels[0].revenue_minor, 1500);
    }
}
