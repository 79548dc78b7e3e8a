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

/// Largest [`SummaryOptions::freq_multiplier`].
pub const MAX_FREQ_MULTIPLIER: u32 = 366;

/// What to summarise.
///
/// ```
/// use crm_core::analytics::{Period, SummaryOptions};
/// let o = SummaryOptions::new("USD".parse().unwrap(), "2026-06-30T00:00:00Z".parse().unwrap());
/// assert_eq!((o.period, o.freq_multiplier), (Period::Day, 1));
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
    /// count (as in `lifetimes`, which compares periods, not instants). From 1970 to a
    /// century ahead ([`MAX_FORECAST_DAYS`](crate::validate::MAX_FORECAST_DAYS)), as is
    /// `calibration_end`.
    pub observation_end: DateTime<Utc>,
    /// With a calibration end, the summary describes the calibration part (periods up to the one
    /// holding this instant) and adds holdout columns for the periods after it, up to the
    /// observation end (`calibration_and_holdout_data`).
    #[serde(default)]
    pub calibration_end: Option<DateTime<Utc>>,
    /// `recency`, `T` and `duration_holdout` are divided by this (1 to
    /// [`MAX_FREQ_MULTIPLIER`], default 1), as `lifetimes`' `freq_multiplier` does: purchases
    /// are still counted once per period, but times are told in units of this many periods.
    /// Daily periods with 7 give weeks to the day, as the published BTYD tables (CDNOW's
    /// `T = 38.86`) count them, where weekly periods would round every time to whole weeks.
    #[serde(default = "one")]
    pub freq_multiplier: u32,
}

fn one() -> u32 {
    1
}

impl SummaryOptions {
    /// Daily summary in `currency` as of `observation_end`, without holdout.
    pub fn new(currency: Currency, observation_end: DateTime<Utc>) -> SummaryOptions {
        SummaryOptions { currency, period: Period::Day, observation_end, calibration_end: None, freq_multiplier: 1 }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if !(1..=MAX_FREQ_MULTIPLIER).contains(&self.freq_multiplier) {
            return Err(Error::validation(
                "freq_multiplier",
                format!("{} is outside 1 ..= {MAX_FREQ_MULTIPLIER}", self.freq_multiplier),
            ));
        }
        let latest = chrono::Utc::now() + chrono::TimeDelta::days(crate::validate::MAX_FORECAST_DAYS);
        for (field, t) in [("observation_end", Some(self.observation_end)), ("calibration_end", self.calibration_end)] {
            if let Some(t) = t.filter(|t| *t < DateTime::UNIX_EPOCH || *t > latest) {
                return Err(Error::validation(
                    field,
                    format!("{} is outside 1970-01-01 .. {}", t.to_rfc3339(), latest.to_rfc3339()),
                ));
            }
        }
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

/// One customer's row. Times are in periods divided by the summary's `freq_multiplier` (whole
/// periods with the default 1); money in minor units of the summary's currency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary {
    /// The customer.
    pub customer_id: CustomerId,
    /// Repeat purchases: periods with a purchase, minus one.
    pub frequency: u32,
    /// Periods from the first purchase to the last, over `freq_multiplier`.
    pub recency: f64,
    /// Periods from the first purchase to the end of (calibration) observation (`T`), over
    /// `freq_multiplier`.
    pub t: f64,
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
    /// The period purchases are counted in.
    pub period: Period,
    /// The unit of `recency`, `t` and `duration_holdout` is this many periods.
    #[serde(default = "one")]
    pub freq_multiplier: u32,
    /// Holdout only: length of the holdout in periods, over `freq_multiplier`.
    pub duration_holdout: Option<f64>,
    /// Rows, by customer id.
    pub rows: Vec<CustomerSummary>,
    /// What the caller should know about how the orders were counted (none usually).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<SummaryWarning>,
}

impl Summary {
    /// Units of `recency` and `t` in a month of about 30 days (or 4.345 weeks): the factor
    /// `lifetimes` uses for lifetime value, over `freq_multiplier`.
    pub fn units_per_month(&self) -> f64 {
        self.period.per_month() / f64::from(self.freq_multiplier)
    }
}

/// Orders counted although they are after an end the caller gave: the period holding that
/// end (a whole day or week, as `lifetimes` counts) reaches past it.
///
/// ```
/// use crm_core::analytics::SummaryWarning;
/// let w: SummaryWarning = serde_json::from_str(
///     r#"{"field": "observation_end", "orders": 2, "message": "..."}"#).unwrap();
/// assert_eq!(w.orders, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryWarning {
    /// The end concerned: `observation_end` or `calibration_end`.
    pub field: String,
    /// Orders counted after it.
    pub orders: u64,
    /// What happened and how to avoid it.
    pub message: String,
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
    /// Orders counted after the observation end (in its period).
    after_end: u64,
    /// Orders counted in the calibration after the calibration end (in its period).
    after_cal_end: u64,
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
            after_end: 0,
            after_cal_end: 0,
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
        if self.cur.is_none() && p > cal_end {
            // First purchase in the holdout: not a calibration customer.
            return;
        }
        if at > self.opts.observation_end {
            self.after_end += 1;
        }
        if self.opts.calibration_end.is_some_and(|c| at > c) && p <= cal_end {
            self.after_cal_end += 1;
        }
        match &mut self.cur {
            None => {
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
        let unit = f64::from(self.opts.freq_multiplier);
        self.rows.push(CustomerSummary {
            customer_id: a.customer,
            frequency,
            recency: (a.last - a.first) as f64 / unit,
            t: (cal_end - a.first) as f64 / unit,
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
        let mut warnings = Vec::new();
        let (name, span) = match self.opts.period {
            Period::Day => ("day", "days run from midnight to midnight, UTC"),
            Period::Week => ("week", "weeks run from Monday to Sunday, UTC"),
        };
        for (field, end, orders) in [
            ("observation_end", Some(self.opts.observation_end), self.after_end),
            ("calibration_end", self.opts.calibration_end, self.after_cal_end),
        ] {
            if let (Some(end), true) = (end, orders > 0) {
                warnings.push(SummaryWarning {
                    field: field.into(),
                    orders,
                    message: format!(
                        "{orders} orders after {field} {end} were counted: the {name} holding it is counted whole, \
                         as lifetimes does ({span}); end at the end of a {name} to leave them out"
                    ),
                });
            }
        }
        let unit = f64::from(self.opts.freq_multiplier);
        Ok(Summary {
            currency: cur,
            period: self.opts.period,
            freq_multiplier: self.opts.freq_multiplier,
            duration_holdout: self.cal_end.map(|c| (self.end - c) as f64 / unit),
            rows: self.rows,
            warnings,
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
        assert_eq!((r.frequency, r.recency, r.t), (3, 9.0, 9.0));
        assert_eq!(r.repeat_spend_minor, 1600);
        assert!((r.monetary_value - 1600.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.frequency_holdout, None);
        // The order at 23:00 on the end day, after the end at 12:00, was counted: warned.
        assert_eq!(s.warnings.len(), 1);
        assert_eq!((s.warnings[0].field.as_str(), s.warnings[0].orders), ("observation_end", 1));
    }

    #[test]
    fn freq_multiplier_divides_the_times() {
        // lifetimes' freq_multiplier: days counted, told in weeks.
        let usd = Currency::new("USD").unwrap();
        let opts = SummaryOptions {
            freq_multiplier: 7,
            calibration_end: Some(t("2026-01-20T23:59:59Z")),
            ..SummaryOptions::new(usd, t("2026-02-09T23:59:59Z"))
        };
        let mut b = SummaryBuilder::new(&opts).unwrap();
        b.push(CustomerId(1), t("2026-01-01T08:00:00Z"), 500);
        b.push(CustomerId(1), t("2026-01-11T08:00:00Z"), 700);
        b.push(CustomerId(1), t("2026-01-30T08:00:00Z"), 100);
        let s = b.finish().unwrap();
        let r = s.rows[0];
        assert_eq!((r.frequency, r.recency, r.t), (1, 10.0 / 7.0, 19.0 / 7.0));
        assert_eq!(s.duration_holdout, Some(20.0 / 7.0));
        assert_eq!(r.frequency_holdout, Some(1));
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert!((s.units_per_month() - 30.0 / 7.0).abs() < 1e-12);
        for m in [0, MAX_FREQ_MULTIPLIER + 1] {
            let e = SummaryBuilder::new(&SummaryOptions { freq_multiplier: m, ..opts }).unwrap_err();
            assert_eq!(e.field(), Some("freq_multiplier"));
        }
    }
}
