//! Predictive and descriptive analytics over completed orders.
//!
//! * [`Summary`]: per-customer frequency, recency, T and monetary value in the
//!   buy-till-you-die convention (as the Python package `lifetimes`), optionally split into
//!   calibration and holdout.
//! * [`BgNbd`]: the BG/NBD purchase model, fitted by maximum likelihood; expected purchases,
//!   probability alive and its path over a history.
//! * [`GammaGamma`]: spend per purchase; with BG/NBD, customer lifetime value.
//! * [`ChurnRisk`]: probability alive combined with silence against the customer's rhythm.
//! * [`CoPurchaseModel`]: "customers who bought X also bought Y", recommendations per
//!   customer, and [`CategoryAffinity`].
//! * [`Reports`]: revenue, new versus returning customers, average order value, channels,
//!   cohort retention and order-count distribution.
//!
//! Everything is reachable through the [`Crm`](crate::Crm) facade, one read transaction per
//! call. The long calls (summaries, fits, scoring a population) have `*_with_progress`
//! forms that report [`Progress`] to a callback, which can stop them ([`Error::Cancelled`]). As everywhere in this crate, only `completed` orders count. Money stays integer minor
//! units in one currency per call (orders in other currencies are left out); model
//! expectations (mean spend, lifetime value) are `f64` in minor units, and reported amounts are
//! rounded half to even ([`round_minor`]).
//!
//! ```
//! use crm_core::analytics::{FitOptions, SummaryOptions};
//! use crm_core::synth::{Synth, SynthConfig};
//! use crm_core::Crm;
//!
//! let crm = Crm::in_memory()?;
//! let synth = Synth::new(SynthConfig { customers: 300, ..Default::default() });
//! crm.ingest_customers(synth.customers(), Default::default())?;
//! crm.ingest_orders(synth.orders(), Default::default())?;
//!
//! let opts = SummaryOptions::new("USD".parse()?, synth.config().end);
//! let models = crm.fit_purchase_models(&opts, &FitOptions::default())?;
//! let someone = &models.summary.rows[0];
//! let p = models.bgnbd.probability_alive(&someone.into())?;
//! assert!((0.0..=1.0).contains(&p));
//! # Ok::<(), crm_core::Error>(())
//! ```

pub(crate) mod bgnbd;
pub(crate) mod churn;
pub(crate) mod facade;
pub(crate) mod gamma_gamma;
pub(crate) mod optim;
pub(crate) mod progress;
pub(crate) mod recommend;
pub(crate) mod reports;
pub(crate) mod special;
pub(crate) mod summary;

pub use bgnbd::{histories, BgNbd, BgNbdParams, FittedBgNbd, Rfm};
pub use churn::{churn_risk_of, churn_risks, ChurnRisk, DEFAULT_CHURN_THRESHOLD};
pub use facade::{AlivePoint, ChurnOptions, CustomerValue, CustomerValues, PurchaseModels, ValueOptions};
pub use gamma_gamma::{spends, FittedGammaGamma, GammaGamma, GammaGammaParams, Spend};
pub use optim::FitOptions;
pub use progress::{Progress, ProgressFn, Step, SCORE_EVERY, SUMMARY_EVERY};
pub use recommend::{CategoryAffinity, CoPurchaseModel, CoPurchaseOptions, Recommendation, SimilarItem};
pub use reports::{
    ChannelRevenue, CohortRetention, FrequencyBucket, PeriodRevenue, ReportOptions, ReportPeriod, Reports,
    SegmentRevenue,
};
pub use summary::{CustomerSummary, Period, Summary, SummaryOptions, SummaryWarning, MAX_FREQ_MULTIPLIER};

use crate::error::{Error, Result};

/// Rounds an expected amount in minor units to whole minor units, half to even (banker's
/// rounding, so that rounding many amounts does not drift up). Fails on NaN, infinities and
/// amounts beyond [`MAX_MINOR`](crate::MAX_MINOR).
///
/// ```
/// use crm_core::analytics::round_minor;
/// assert_eq!(round_minor(2.5)?, 2);
/// assert_eq!(round_minor(3.5)?, 4);
/// assert_eq!(round_minor(-1.5)?, -2);
/// assert!(round_minor(f64::NAN).is_err());
/// # Ok::<(), crm_core::Error>(())
/// ```
pub fn round_minor(expected: f64) -> Result<i64> {
    let r = expected.round_ties_even();
    if r.is_finite() && r.abs() <= crate::MAX_MINOR as f64 {
        Ok(r as i64)
    } else {
        Err(Error::validation("amount", format!("{expected} is not a representable amount of minor units")))
    }
}

/// `num / den` rounded half to even, exactly (`den > 0`).
pub(crate) fn div_round_half_even(num: i128, den: i128) -> i64 {
    let (q, r) = (num.div_euclid(den), num.rem_euclid(den));
    let twice = 2 * r;
    let q = if twice > den || (twice == den && q % 2 != 0) { q + 1 } else { q };
    q.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_half_even_division() {
        assert_eq!(div_round_half_even(5, 2), 2);
        assert_eq!(div_round_half_even(7, 2), 4);
        assert_eq!(div_round_half_even(-5, 2), -2);
        assert_eq!(div_round_half_even(10, 3), 3);
        assert_eq!(div_round_half_even(11, 3), 4);
        assert_eq!(div_round_half_even(0, 7), 0);
    }
}
