//! The analytics calls of the [`Crm`] facade: each reads the store in one read transaction,
//! streaming orders rather than loading them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::bgnbd::{histories, BgNbd, BgNbdParams, FittedBgNbd, Rfm};
use super::churn::DEFAULT_CHURN_THRESHOLD;
use super::gamma_gamma::{spends, FittedGammaGamma, GammaGamma};
use super::optim::FitOptions;
use super::progress::{report, ProgressFn, Step, SCORE_EVERY, SUMMARY_EVERY};
use super::summary::{CustomerSummary, Summary, SummaryBuilder, SummaryOptions};
use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::money::Currency;
use crate::order::OrderScan;
use crate::order::OrderScanStore;
use crate::order::OrderStatus;
use crate::stats::StatsStore;

/// A summary with both purchase models fitted on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurchaseModels {
    /// The data the models were fitted on.
    pub summary: Summary,
    /// BG/NBD, fitted on every customer of the summary.
    pub bgnbd: FittedBgNbd,
    /// Gamma-Gamma, fitted on the repeat buyers.
    pub gamma_gamma: FittedGammaGamma,
}

/// Settings of `Crm::customer_values`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ValueOptions {
    /// What to summarise.
    pub summary: SummaryOptions,
    /// How to fit.
    #[serde(default)]
    pub fit: FitOptions,
    /// Horizon of `expected_purchases`, in periods of the summary (default 30).
    #[serde(default = "default_horizon")]
    pub horizon: f64,
    /// Months of lifetime value (default 12).
    #[serde(default = "default_months")]
    pub months: u32,
    /// Monthly discount rate of lifetime value (default 0.01).
    #[serde(default = "default_discount")]
    pub discount_rate: f64,
}

pub(crate) fn default_horizon() -> f64 {
    30.0
}
pub(crate) fn default_months() -> u32 {
    12
}
pub(crate) fn default_discount() -> f64 {
    0.01
}

impl ValueOptions {
    /// Defaults around a summary.
    pub fn new(summary: SummaryOptions) -> ValueOptions {
        ValueOptions {
            summary,
            fit: FitOptions::default(),
            horizon: default_horizon(),
            months: default_months(),
            discount_rate: default_discount(),
        }
    }
}

/// One customer's predicted value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CustomerValue {
    /// The customer.
    pub customer_id: CustomerId,
    /// Repeat purchases, recency and T from the summary.
    pub history: Rfm,
    /// BG/NBD probability alive.
    pub p_alive: f64,
    /// Expected purchases in the next `horizon` periods.
    pub expected_purchases: f64,
    /// Expected value of a purchase (Gamma-Gamma), minor units, unrounded.
    pub expected_average_value: f64,
    /// Expected lifetime value, minor units, unrounded.
    pub clv_expected: f64,
    /// `clv_expected` rounded half to even: the amount to store or report.
    pub clv_minor: i64,
}

/// Predicted values with the models behind them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerValues {
    /// The currency of every amount.
    pub currency: Currency,
    /// BG/NBD fit.
    pub bgnbd: FittedBgNbd,
    /// Gamma-Gamma fit.
    pub gamma_gamma: FittedGammaGamma,
    /// One row per customer of the summary.
    pub rows: Vec<CustomerValue>,
}

/// Settings of `Crm::churn_risk`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ChurnOptions {
    /// What to summarise (the observation end is "now" for the risk).
    pub summary: SummaryOptions,
    /// How to fit BG/NBD, unless `params` is given.
    #[serde(default)]
    pub fit: FitOptions,
    /// Use these BG/NBD parameters instead of fitting.
    #[serde(default)]
    pub params: Option<BgNbdParams>,
    /// Alert threshold on the risk (default [`DEFAULT_CHURN_THRESHOLD`]).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
}

pub(crate) fn default_threshold() -> f64 {
    DEFAULT_CHURN_THRESHOLD
}

impl ChurnOptions {
    /// Defaults around a summary.
    pub fn new(summary: SummaryOptions) -> ChurnOptions {
        ChurnOptions { summary, fit: FitOptions::default(), params: None, threshold: DEFAULT_CHURN_THRESHOLD }
    }
}

/// Probability alive at the end of one period of a customer's history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlivePoint {
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Periods since the first purchase.
    pub periods: u32,
    /// Probability alive given the purchases up to this period.
    pub p_alive: f64,
}

pub(crate) fn completed(currency: Option<Currency>) -> OrderScan {
    OrderScan { status: Some(OrderStatus::Completed), currency, ..OrderScan::default() }
}

/// Counts orders read and reports them every [`SUMMARY_EVERY`] (and once at the end).
pub(crate) struct OrderCount<'p, 'f> {
    pub(crate) progress: &'p mut ProgressFn<'f>,
    pub(crate) read: u64,
}

impl OrderCount<'_, '_> {
    pub(crate) fn one(&mut self) -> Result<()> {
        self.read += 1;
        if self.read % SUMMARY_EVERY == 0 {
            report(self.progress, Step::Summary, self.read, None)?;
        }
        Ok(())
    }

    pub(crate) fn end(&mut self) -> Result<()> {
        report(self.progress, Step::Summary, self.read, Some(self.read))
    }
}

pub(crate) fn summarise(
    tx: &mut (impl OrderScanStore + StatsStore + ?Sized),
    opts: &SummaryOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<Summary> {
    if let Some(mut s) = summaries_from_states(tx, opts, Some(opts.currency), progress)? {
        return Ok(s.pop().expect("one currency asked, one summary"));
    }
    let mut b = SummaryBuilder::new(opts)?;
    let mut count = OrderCount { progress, read: 0 };
    report(count.progress, Step::Summary, 0, None)?;
    // Orders after the end are read too (and dropped), so that an end before every order can
    // be told apart from no orders at all.
    tx.scan_orders(&completed(Some(opts.currency)), &mut |o| {
        b.push(o.customer_id, o.occurred_at, o.total_minor);
        count.one()
    })?;
    count.end()?;
    b.finish()
}

/// `score` for every row of `summary`, in order, reporting [`Step::Score`] every
/// [`SCORE_EVERY`] customers.
pub(crate) fn score_each<T>(
    summary: &Summary,
    progress: &mut ProgressFn<'_>,
    mut score: impl FnMut(&super::summary::CustomerSummary) -> Result<T>,
) -> Result<Vec<T>> {
    let total = Some(summary.rows.len() as u64);
    let mut out = Vec::with_capacity(summary.rows.len());
    for (i, r) in summary.rows.iter().enumerate() {
        if i as u64 % SCORE_EVERY == 0 {
            report(progress, Step::Score, i as u64, total)?;
        }
        out.push(score(r)?);
    }
    report(progress, Step::Score, summary.rows.len() as u64, total)?;
    Ok(out)
}

pub(crate) fn fit_both(
    summary: &Summary,
    fit: &FitOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<(FittedBgNbd, FittedGammaGamma)> {
    let bg = BgNbd::fit_with_progress(&histories(summary), None, fit, progress)?;
    let spend = spends(summary);
    if spend.is_empty() {
        return Err(Error::validation(
            "data",
            format!("no customer bought twice in {}: the Gamma-Gamma model needs repeat buyers", summary.currency),
        ));
    }
    let gg = GammaGamma::fit_with_progress(&spend, None, fit, progress)?;
    Ok((bg, gg))
}

/// Summaries from the period states the statistics keep ([`PeriodState`]), one row per
/// customer instead of every order, when they describe the summary exactly: no calibration
/// split and no completed order after the observation end in any currency summarised.
/// `None` otherwise, or when there is nothing to summarise: the scan of the orders then gives
/// the summaries, their warnings or their errors. By currency code.
pub(crate) fn summaries_from_states(
    tx: &mut (impl StatsStore + ?Sized),
    opts: &SummaryOptions,
    currency: Option<Currency>,
    progress: &mut ProgressFn<'_>,
) -> Result<Option<Vec<Summary>>> {
    opts.validate()?;
    if opts.calibration_end.is_some() {
        return Ok(None);
    }
    report(progress, Step::Summary, 0, None)?;
    let p = opts.period;
    let end = p.index(opts.observation_end);
    let unit = f64::from(opts.freq_multiplier);
    let mut out: Vec<Summary> = Vec::new();
    let (mut orders, mut rows, mut exact) = (0u64, 0u64, true);
    tx.scan_period_states(currency, &mut |customer, state, total| {
        if state.last_at > opts.observation_end {
            exact = false;
        }
        if !exact {
            return Ok(());
        }
        if out.last().is_none_or(|s| s.currency != state.currency) {
            out.push(Summary {
                currency: state.currency,
                period: p,
                freq_multiplier: opts.freq_multiplier,
                duration_holdout: None,
                rows: Vec::new(),
                warnings: Vec::new(),
            });
        }
        let (periods, first_minor) = state.periods(p);
        let first = p.index(state.first_at);
        let frequency = u32::try_from(periods - 1).unwrap_or(0);
        let repeat_spend = total - first_minor;
        out.last_mut().expect("pushed above").rows.push(CustomerSummary {
            customer_id: customer,
            frequency,
            recency: (p.index(state.last_at) - first) as f64 / unit,
            t: (end - first) as f64 / unit,
            repeat_spend_minor: repeat_spend,
            monetary_value: if frequency == 0 { 0.0 } else { repeat_spend as f64 / f64::from(frequency) },
            frequency_holdout: None,
            monetary_value_holdout: None,
        });
        orders += state.orders as u64;
        rows += 1;
        if rows % SUMMARY_EVERY == 0 {
            report(progress, Step::Summary, orders, None)?;
        }
        Ok(())
    })?;
    if !exact || out.is_empty() {
        return Ok(None);
    }
    report(progress, Step::Summary, orders, Some(orders))?;
    Ok(Some(out))
}
