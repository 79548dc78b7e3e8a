//! Per-customer purchase summaries in the buy-till-you-die convention (the layout of the
//! Python package `lifetimes`' `summary_data_from_transaction_data` and
//! `calibration_and_holdout_data`), built in one pass over orders sorted by customer and time.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::money::Currency;

/// The unit of time of a summary: purchases are counted once per period, and recency and T
/// are whole numbers of periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// A UTC calendar day.
    #[default]
    Day,
    /// A week from Monday to Sunday, UTC (pandas' `W`, that is `W-SUN`).
    Week,
}

impl Period {
    /// The index of the period holding `t`: days (or Monday-based weeks) since 1970-01-01.
    ///
    /// ```
    /// use crm_core::analytics::Period;
    /// let t = "2026-03-04T23:59:59Z".parse().unwrap(); // a Wednesday
    /// assert_eq!(Period::Day.index(t) + 1, Period::Day.index("2026-03-05T00:00:00Z".parse().unwrap()));
    /// assert_eq!(Period::Week.index(t), Period::Week.index("2026-03-02T00:00:00Z".parse().unwrap()));
    /// ```
    pub fn index(self, t: DateTime<Utc>) -> i64 {
        let days = t.timestamp().div_euclid(86_400);
        match self {
            Period::Day => days,
            // 1970-01-01 was a Thursday; the Monday before it is day -3.
            Period::Week => (days + 3).div_euclid(7),
        }
    }

    /// The first day of the period with this index.
    pub fn start(self, index: i64) -> NaiveDate {
        let days = match self {
            Period::Day => index,
            Period::Week => index * 7 - 3,
        };
        NaiveDate::from_num_days_from_ce_opt(719_163 + days as i32).unwrap_or(NaiveDate::MIN)
    }

    /// Periods in a month, as `lifetimes` counts them for lifetime value: 30 days or 4.345 weeks.
    pub(crate) fn per_month(self) -> f64 {
        match self {
            Period::Day => 30.0,
            Period::Week => 4.345,
        }
    }
}

/// What to summarise.
///
/// ```
/// use crm_core::analytics::{Period, SummaryOptions};
/// let o = SummaryOptions::new("USD".parse().unwrap(), "2026-06-30T00:00:00Z".parse().unwrap());
/// assert_eq!(o.period, Period::Day);
/// assert!(o.calibration_end.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SummaryOptions {
    /// The one currency summarised: orders in other currencies are left out entirely (a
    /// customer who bought only in other currencies does not appear).
    pub currency: Currency,
    /// Day or week.
    #[serde(default)]
    pub period: Period,
    /// End of observation: the period holding this instant is the last one, and orders in it
    /// count (as in `lifetimes`, which compares periods, not instants).
    pub observation_end: DateTime<Utc>,
    /// With a calibration end, the summary describes the calibration part (periods up to the one
    /// holding this instant) and adds holdout columns for the periods after it, up to the
    /// observation end (`calibration_and_holdout_data`).
    #[serde(default)]
    pub calibration_end: Option<DateTime<Utc>>,
}

impl SummaryOptions {
    /// Daily summary in `currency` as of `observation_end`, without holdout.
    pub fn new(currency: Currency, observation_end: DateTime<Utc>) -> SummaryOptions {
        SummaryOptions { currency, period: Period::Day, observation_end, calibration_end: None }
    }

    fn validate(&self) -> Result<()> {
        if let Some(c) = self.calibration_end {
            if self.period.index(c) >= self.period.index(self.observation_end) {
                return Err(Error::validation(
                    "calibration_end",
                    format!("{c} is not in a period before the observation end {}", self.observation_end),
                ));
            }
        }
        Ok(())
    }
}

/// One customer's row. Times are in periods; money in minor units of the summary's currency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary {
    /// The customer.
    pub customer_id: CustomerId,
    /// Repeat purchases: periods with a purchase, minus one.
    pub frequency: u32,
    /// Periods from the first purchase to the last.
    pub recency: u32,
    /// Periods from the first purchase to the end of (calibration) observation (`T`).
    pub t: u32,
    /// Total of the repeat purchases (every period after the first), minor units.
    pub repeat_spend_minor: i64,
    /// Mean value of a repeat purchase period, `repeat_spend_minor / frequency` (0 without
    /// repeats): a mean, so a float, in minor units.
    pub monetary_value: f64,
    /// Holdout only: periods with a purchase after the calibration end.
    pub frequency_holdout: Option<u32>,
    /// Holdout only: mean order value after the calibration end (per order, as `lifetimes`
    /// does; 0 without orders), minor units.
    pub monetary_value_holdout: Option<f64>,
}

/// A summary: one row per customer with at least one counted purchase, by customer id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The currency of every amount.
    pub currency: Currency,
    /// The unit of `recency` and `t`.
    pub period: Period,
    /// Holdout only: length of the holdout in periods.
    pub duration_holdout: Option<u32>,
    /// Rows, by customer id.
    pub rows: Vec<CustomerSummary>,
}

/// Folds one customer's purchases (in time order) into a row, then the next customer's.
#[derive(Debug)]
pub(crate) struct SummaryBuilder {
    opts: SummaryOptions,
    end: i64,
    cal_end: Option<i64>,
    cur: Option<Acc>,
    rows: Vec<CustomerSummary>,
    earliest: Option<DateTime<Utc>>,
    seen: u64,
}

#[derive(Debug)]
struct Acc {
    customer: CustomerId,
    first: i64,
    last: i64,
    periods: u32,
    repeat_spend: i64,
    hold_periods: u32,
    hold_last: i64,
    hold_orders: u32,
    hold_spend: i64,
}

impl SummaryBuilder {
    pub(crate) fn new(opts: &SummaryOptions) -> Result<SummaryBuilder> {
        opts.validate()?;
        let p = opts.period;
        Ok(SummaryBuilder {
            opts: *opts,
            end: p.index(opts.observation_end),
            cal_end: opts.calibration_end.map(|c| p.index(c)),
            cur: None,
            rows: Vec::new(),
            earliest: None,
            seen: 0,
        })
    }

    /// The latest instant whose orders can count: the end of the last period observed.
    pub(crate) fn scan_before(&self) -> DateTime<Utc> {
        let next = self.opts.period.start(self.end + 1);
        next.and_hms_opt(0, 0, 0).map_or(DateTime::<Utc>::MAX_UTC, |d| d.and_utc())
    }

    /// One purchase; purchases come sorted by customer, then time.
    pub(crate) fn push(&mut self, customer: CustomerId, at: DateTime<Utc>, minor: i64) {
        self.seen += 1;
        self.earliest = Some(self.earliest.map_or(at, |e| e.min(at)));
        let p = self.opts.period.index(at);
        if p > self.end {
            return;
        }
        let cal_end = self.cal_end.unwrap_or(self.end);
        if self.cur.as_ref().is_some_and(|a| a.customer != customer) {
            self.finish_customer();
        }
        match &mut self.cur {
            None => {
                if p > cal_end {
                    // First purchase in the holdout: not a calibration customer.
                    return;
                }
                self.cur = Some(Acc {
                    customer,
                    first: p,
                    last: p,
                    periods: 1,
                    repeat_spend: 0,
                    hold_periods: 0,
                    hold_last: i64::MIN,
                    hold_orders: 0,
                    hold_spend: 0,
                });
            }
            Some(a) if p > cal_end => {
                if p != a.hold_last {
                    a.hold_periods += 1;
                    a.hold_last = p;
                }
                a.hold_orders += 1;
                a.hold_spend += minor;
            }
            Some(a) => {
                if p != a.last {
                    a.periods += 1;
                    a.last = p;
                }
                if p != a.first {
                    a.repeat_spend += minor;
                }
            }
        }
    }

    fn finish_customer(&mut self) {
        let Some(a) = self.cur.take() else { return };
        let cal_end = self.cal_end.unwrap_or(self.end);
        let frequency = a.periods - 1;
        let holdout = self.cal_end.is_some();
        self.rows.push(CustomerSummary {
            customer_id: a.customer,
            frequency,
            recency: (a.last - a.first) as u32,
            t: (cal_end - a.first) as u32,
            repeat_spend_minor: a.repeat_spend,
            monetary_value: if frequency == 0 { 0.0 } else { a.repeat_spend as f64 / f64::from(frequency) },
            frequency_holdout: holdout.then_some(a.hold_periods),
            monetary_value_holdout: holdout.then(|| {
                if a.hold_orders == 0 {
                    0.0
                } else {
                    a.hold_spend as f64 / f64::from(a.hold_orders)
                }
            }),
        });
    }

    pub(crate) fn finish(mut self) -> Result<Summary> {
        self.finish_customer();
        let cur = self.opts.currency;
        if self.seen == 0 {
            return Err(Error::validation("orders", format!("there are no completed orders in {cur} to summarise")));
        }
        if self.rows.is_empty() {
            let end = self.opts.calibration_end.unwrap_or(self.opts.observation_end);
            let field = if self.opts.calibration_end.is_some() { "calibration_end" } else { "observation_end" };
            let first = self.earliest.map_or_else(String::new, |e| e.to_rfc3339());
            return Err(Error::validation(
                field,
                format!("{end} is before every completed order in {cur} (the first is at {first})"),
            ));
        }
        Ok(Summary {
            currency: cur,
            period: self.opts.period,
            duration_holdout: self.cal_end.map(|c| (self.end - c) as u32),
            rows: self.rows,
        })
    }
}

/// The first day of the month holding `d`, as a date.
pub(crate) fn month_start(d: DateTime<Utc>) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn week_periods_start_on_monday() {
        let monday = t("2026-03-02T00:00:00Z");
        let sunday = t("2026-03-08T23:59:59Z");
        assert_eq!(Period::Week.index(monday), Period::Week.index(sunday));
        assert_eq!(Period::Week.index(monday) - 1, Period::Week.index(t("2026-03-01T12:00:00Z")));
        assert_eq!(Period::Week.start(Period::Week.index(sunday)), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(Period::Day.start(Period::Day.index(sunday)), NaiveDate::from_ymd_opt(2026, 3, 8).unwrap());
        assert_eq!(Period::Day.index(t("1969-12-31T23:00:00Z")), -1);
    }

    #[test]
    fn lifetimes_conventions() {
        let usd = Currency::new("USD").unwrap();
        let opts = SummaryOptions::new(usd, t("2026-01-10T12:00:00Z"));
        let mut b = SummaryBuilder::new(&opts).unwrap();
        let c = CustomerId(1);
        b.push(c, t("2026-01-01T08:00:00Z"), 500); // first period: not in monetary value
        b.push(c, t("2026-01-01T09:00:00Z"), 100); // same day: same period
        b.push(c, t("2026-01-03T09:00:00Z"), 300);
        b.push(c, t("2026-01-03T10:00:00Z"), 100); // same period: summed, one purchase
        b.push(c, t("2026-01-06T10:00:00Z"), 200);
        b.push(c, t("2026-01-10T23:00:00Z"), 1000); // in the end period: counts
        b.push(c, t("2026-01-11T00:00:00Z"), 9999); // after: ignored
        b.push(CustomerId(2), t("2026-01-11T00:00:00Z"), 9999); // only after: no row
        let s = b.finish().unwrap();
        assert_eq!(s.rows.len(), 1);
        let r = s.rows[0];
        assert_eq!((r.frequency, r.recency, r.t), (3, 9, 9));
        assert_eq!(r.repeat_spend_minor, 1600);
        assert!((r.monetary_value - 1600.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.frequency_holdout, None);
    }
}
