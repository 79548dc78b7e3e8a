//! Churn risk per customer, from the BG/NBD probability alive and from how long the customer
//! has been silent compared with their own rhythm.
//!
//! For a customer with history `(x, t_x, T)`:
//!
//! * `p_alive` is the BG/NBD probability alive;
//! * their rhythm is the mean gap between purchase periods, `t_x / x`; a customer without
//!   repeat purchases has none of their own and gets the population's mean gap under the
//!   fitted model, `alpha / r` (the mean of the purchase-rate Gamma is `r / alpha`);
//! * `overdue = (T - t_x) / rhythm` is the silence since the last purchase in rhythms;
//! * `risk = 1 - p_alive * exp(-max(0, overdue - 1))`: silence up to one usual gap adds
//!   nothing, each further gap multiplies the chance of being active by `1/e`, and the
//!   model's own doubt comes first. It lies in `[0, 1]`.
//!
//! A customer is flagged `at_risk` when `risk >= threshold`.

use serde::{Deserialize, Serialize};

use super::bgnbd::{FittedBgNbd, Rfm};
use super::summary::Summary;
use crate::customer::CustomerId;
use crate::error::{Error, Result};

/// Default alert threshold on [`ChurnRisk::risk`].
pub const DEFAULT_CHURN_THRESHOLD: f64 = 0.7;

/// One customer's churn risk.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChurnRisk {
    /// The customer.
    pub customer_id: CustomerId,
    /// BG/NBD probability alive.
    pub p_alive: f64,
    /// Periods since the last purchase (`T - recency`).
    pub gap: f64,
    /// The customer's mean gap between purchases, in periods (the population's for one-time buyers).
    pub rhythm: f64,
    /// `gap / rhythm`.
    pub overdue: f64,
    /// `1 - p_alive * exp(-max(0, overdue - 1))`, in `[0, 1]`.
    pub risk: f64,
    /// `risk >= threshold`.
    pub at_risk: bool,
}

/// The churn risk of one history.
///
/// ```
/// use crm_core::analytics::{churn_risk_of, BgNbdParams, FittedBgNbd, Rfm};
/// use crm_core::CustomerId;
/// let m = FittedBgNbd::from_params(BgNbdParams { r: 0.24, alpha: 4.41, a: 0.79, b: 2.43 })?;
/// let steady = churn_risk_of(&m, CustomerId(1), &Rfm::new(10, 36.0, 38.0), 0.7)?;
/// let silent = churn_risk_of(&m, CustomerId(2), &Rfm::new(10, 12.0, 38.0), 0.7)?;
/// assert!(!steady.at_risk && silent.at_risk && silent.risk > steady.risk);
/// # Ok::<(), crm_core::Error>(())
/// ```
pub fn churn_risk_of(model: &FittedBgNbd, customer_id: CustomerId, h: &Rfm, threshold: f64) -> Result<ChurnRisk> {
    check_threshold(threshold)?;
    let p_alive = model.probability_alive(h)?;
    let gap = h.t - h.recency;
    let rhythm = if h.frequency > 0 { h.recency / f64::from(h.frequency) } else { model.params.alpha / model.params.r };
    let overdue = if rhythm > 0.0 { gap / rhythm } else { 0.0 };
    let risk = (1.0 - p_alive * (-(overdue - 1.0).max(0.0)).exp()).clamp(0.0, 1.0);
    Ok(ChurnRisk { customer_id, p_alive, gap, rhythm, overdue, risk, at_risk: risk >= threshold })
}

/// Churn risk of every customer of a summary, in its row order.
pub fn churn_risks(model: &FittedBgNbd, summary: &Summary, threshold: f64) -> Result<Vec<ChurnRisk>> {
    summary.rows.iter().map(|r| churn_risk_of(model, r.customer_id, &Rfm::from(r), threshold)).collect()
}

pub(crate) fn check_threshold(threshold: f64) -> Result<()> {
    if (0.0..=1.0).contains(&threshold) {
        Ok(())
    } else {
        Err(Error::validation("threshold", format!("{threshold} is outside 0 ..= 1")))
    }
}
