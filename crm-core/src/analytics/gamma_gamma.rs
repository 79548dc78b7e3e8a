//! The Gamma-Gamma model of spend per purchase (Fader, Hardie and Lee, "RFM and CLV", 2005):
//! a customer's purchase values are Gamma(p, nu) with nu drawn from Gamma(q, gamma). Fitted on
//! repeat buyers; `lifetimes`' `GammaGammaFitter` calls `gamma` `v`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use statrs::function::gamma::{digamma, ln_gamma};

use super::bgnbd::{check_weights, FittedBgNbd, Rfm};
use super::optim::{self, FitOptions, Objective};
use super::progress::{self, Progress, ProgressFn, Step};
use super::summary::{Period, Summary};
use crate::error::{Error, Result};

/// Gamma-Gamma parameters (also used for their standard errors).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GammaGammaParams {
    /// Shape of the per-purchase value Gamma.
    pub p: f64,
    /// Shape of the Gamma of the customers' scale.
    pub q: f64,
    /// Scale of the Gamma of the customers' scale, in minor units (`v` in `lifetimes`).
    pub gamma: f64,
}

/// A fitted Gamma-Gamma model; obtainable only from [`GammaGamma::fit`] or
/// [`FittedGammaGamma::from_params`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FittedGammaGamma {
    /// The estimates.
    pub params: GammaGammaParams,
    /// Their standard errors (0 for given parameters).
    pub standard_errors: GammaGammaParams,
    /// Total log-likelihood of the repeat buyers at the estimates.
    pub log_likelihood: f64,
    /// Number of repeat buyers (total weight) fitted.
    pub customers: f64,
    /// L-BFGS iterations used.
    pub iterations: u64,
}

/// One repeat buyer for the Gamma-Gamma model: repeat purchases and their mean value (minor units).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Spend {
    /// Repeat purchases.
    pub frequency: u32,
    /// Mean value of a repeat purchase, minor units.
    pub monetary_value: f64,
}

/// The repeat buyers of a summary (frequency above 0), for the Gamma-Gamma model.
pub fn spends(s: &Summary) -> Vec<Spend> {
    s.rows
        .iter()
        .filter(|r| r.frequency > 0)
        .map(|r| Spend { frequency: r.frequency, monetary_value: r.monetary_value })
        .collect()
}

/// Fits the Gamma-Gamma model.
///
/// ```
/// use crm_core::analytics::{FitOptions, GammaGamma, Spend};
/// let data: Vec<Spend> = (0..400)
///     .map(|i| Spend { frequency: 1 + i % 5, monetary_value: 1000.0 + f64::from((i * 7919) % 3000) })
///     .collect();
/// let m = GammaGamma::fit(&data, None, &FitOptions::default())?;
/// let v = m.conditional_expected_average_value(3, 2500.0)?;
/// assert!(v > 1000.0 && v < 4000.0);
/// # Ok::<(), crm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct GammaGamma;

impl GammaGamma {
    /// Maximum-likelihood fit on repeat buyers (frequency > 0; rows with frequency 0 are an
    /// error here: leave them out, as `lifetimes` users do). Every monetary value must be > 0.
    pub fn fit(data: &[Spend], weights: Option<&[f64]>, opts: &FitOptions) -> Result<FittedGammaGamma> {
        GammaGamma::fit_with_progress(data, weights, opts, &mut progress::ignore)
    }

    /// [`GammaGamma::fit`], reporting each likelihood evaluation to `progress` as
    /// [`Step::FitGammaGamma`]; the fit fails with [`Error::Cancelled`] as soon as it returns
    /// [`Break`](std::ops::ControlFlow::Break).
    pub fn fit_with_progress(
        data: &[Spend],
        weights: Option<&[f64]>,
        opts: &FitOptions,
        progress: &mut ProgressFn<'_>,
    ) -> Result<FittedGammaGamma> {
        opts.validate()?;
        check_weights(data.len(), weights)?;
        let mut keyed: Vec<((u32, u64), f64)> = Vec::with_capacity(data.len());
        for (i, s) in data.iter().enumerate() {
            if s.frequency == 0 {
                return Err(Error::validation(
                    "frequency",
                    "is 0 in a row: the Gamma-Gamma model is fitted on repeat buyers only",
                ));
            }
            if !(s.monetary_value.is_finite() && s.monetary_value > 0.0) {
                return Err(Error::validation(
                    "monetary_value",
                    format!(
                        "{} is not a finite amount > 0 (refunds and free orders cannot be fitted)",
                        s.monetary_value
                    ),
                ));
            }
            keyed.push(((s.frequency, s.monetary_value.to_bits()), weights.map_or(1.0, |w| w[i])));
        }
        // Identical rows become one weighted row; the sort also fixes the order of the sums.
        keyed.sort_unstable_by_key(|k| k.0);
        let mut rows: Vec<((u32, u64), f64)> = Vec::with_capacity(keyed.len());
        for (k, w) in keyed {
            match rows.last_mut() {
                Some(last) if last.0 == k => last.1 += w,
                _ => rows.push((k, w)),
            }
        }
        let mut xs: Vec<(f64, f64)> = Vec::new(); // (x, total weight), in order of first appearance
        let mut xi: HashMap<u32, u32> = HashMap::new();
        let mut g = Vec::with_capacity(rows.len());
        for ((x, m), w) in rows {
            let idx = *xi.entry(x).or_insert_with(|| {
                xs.push((f64::from(x), 0.0));
                (xs.len() - 1) as u32
            });
            xs[idx as usize].1 += w;
            let (x, m) = (f64::from(x), f64::from_bits(m));
            g.push(GgRow { xi: idx, w, x, m, ln_m: m.ln(), ln_x: x.ln() });
        }
        let total: f64 = g.iter().map(|r| r.w).sum();
        // Start near the data's scale: with values in minor units, gamma is in the thousands.
        let mean_m = g.iter().map(|r| r.w * r.m).sum::<f64>() / total;
        let obj = GgObjective { xs: &xs, rows: &g, total, scale: mean_m, penalizer: opts.penalizer };
        let mut hook = |n| progress(Progress { step: Step::FitGammaGamma, done: n, total: None });
        let watch = optim::Watch::new(&mut hook);
        let opt = optim::minimize(&obj, vec![0.1; 3], opts, "Gamma-Gamma", &watch)?;
        let se = optim::checked_standard_errors(&obj, &opt.x, total, "Gamma-Gamma", &watch)?;
        let params = GammaGammaParams { p: opt.x[0].exp(), q: opt.x[1].exp(), gamma: opt.x[2].exp() * mean_m };
        let standard_errors = GammaGammaParams { p: se[0], q: se[1], gamma: se[2] * mean_m };
        let plain = GgObjective { penalizer: 0.0, ..obj };
        let log_likelihood = -plain.value_grad(&opt.x).0 * total;
        Ok(FittedGammaGamma { params, standard_errors, log_likelihood, customers: total, iterations: opt.iterations })
    }
}

impl FittedGammaGamma {
    /// A model with given parameters; each must be finite and positive.
    pub fn from_params(params: GammaGammaParams) -> Result<FittedGammaGamma> {
        for (name, v) in [("p", params.p), ("q", params.q), ("gamma", params.gamma)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::validation(name, format!("{v} is not a finite number > 0")));
            }
        }
        let zero = GammaGammaParams { p: 0.0, q: 0.0, gamma: 0.0 };
        Ok(FittedGammaGamma { params, standard_errors: zero, log_likelihood: 0.0, customers: 0.0, iterations: 0 })
    }

    /// Log-likelihood of one repeat buyer's mean spend (the density of the mean of `x` Gamma values).
    pub fn individual_log_likelihood(&self, s: &Spend) -> f64 {
        let GammaGammaParams { p, q, gamma: v } = self.params;
        let (x, m) = (f64::from(s.frequency), s.monetary_value);
        ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q) + q * v.ln() + (p * x - 1.0) * m.ln() + p * x * x.ln()
            - (p * x + q) * (x * m + v).ln()
    }

    /// Expected mean value of a customer's purchases given `frequency` repeat purchases of mean
    /// `monetary_value` (minor units): a weighted mean of theirs and the population's
    /// (`conditional_expected_average_profit`). Needs q > 1; with frequency 0 it is the
    /// population mean, `gamma * p / (q - 1)`.
    pub fn conditional_expected_average_value(&self, frequency: u32, monetary_value: f64) -> Result<f64> {
        let GammaGammaParams { p, q, gamma } = self.params;
        if q <= 1.0 {
            return Err(Error::validation("q", format!("{q} <= 1: the population mean spend is undefined")));
        }
        if frequency > 0 && !(monetary_value.is_finite() && monetary_value > 0.0) {
            return Err(Error::validation("monetary_value", format!("{monetary_value} is not a finite amount > 0")));
        }
        let x = f64::from(frequency);
        let individual = p * x / (p * x + q - 1.0);
        let population = gamma * p / (q - 1.0);
        let m = if frequency == 0 { 0.0 } else { monetary_value };
        Ok((1.0 - individual) * population + individual * m)
    }

    /// Customer lifetime value, in minor units (an expectation, so a float; round it with
    /// [`round_minor`](crate::analytics::round_minor) to report it): over `months` months of
    /// about 30 days (or 4.345 weeks), each month's expected purchases from the BG/NBD model
    /// times the expected purchase value, discounted by `(1 + discount_rate)^month`
    /// (`lifetimes`' `customer_lifetime_value`).
    pub fn customer_lifetime_value(
        &self,
        bg: &FittedBgNbd,
        h: &Rfm,
        monetary_value: f64,
        period: Period,
        months: u32,
        discount_rate: f64,
    ) -> Result<f64> {
        self.clv_in(bg, h, monetary_value, period.per_month(), months, discount_rate)
    }

    /// [`FittedGammaGamma::customer_lifetime_value`] with the model's time units in a month
    /// given (a summary's [`units_per_month`](crate::analytics::Summary::units_per_month)).
    pub(crate) fn clv_in(
        &self,
        bg: &FittedBgNbd,
        h: &Rfm,
        monetary_value: f64,
        per_month: f64,
        months: u32,
        discount_rate: f64,
    ) -> Result<f64> {
        if !(discount_rate.is_finite() && discount_rate >= 0.0) {
            return Err(Error::validation("discount_rate", format!("{discount_rate} is not a finite rate >= 0")));
        }
        if months == 0 || months > 1200 {
            return Err(Error::validation("months", format!("{months} is outside 1 ..= 1200")));
        }
        let value = self.conditional_expected_average_value(h.frequency, monetary_value)?;
        let factor = per_month;
        let mut clv = 0.0;
        let mut before = 0.0;
        for m in 1..=months {
            let upto = bg.conditional_expected_purchases(f64::from(m) * factor, h)?;
            clv += value * (upto - before) / (1.0 + discount_rate).powi(m as i32);
            before = upto;
        }
        Ok(clv)
    }
}

struct GgRow {
    xi: u32,
    w: f64,
    x: f64,
    m: f64,
    ln_m: f64,
    ln_x: f64,
}

/// The mean negative log-likelihood in log-parameters, with `gamma` measured in units of
/// `scale` (the mean spend) so that all three start near 1.
struct GgObjective<'a> {
    xs: &'a [(f64, f64)],
    rows: &'a [GgRow],
    total: f64,
    scale: f64,
    penalizer: f64,
}

impl Objective for GgObjective<'_> {
    fn value_grad(&self, lp: &[f64]) -> (f64, Vec<f64>) {
        let (p, q, vs) = (lp[0].exp(), lp[1].exp(), lp[2].exp());
        let v = vs * self.scale;
        let (ln_v, lg_q, dg_q) = (v.ln(), ln_gamma(q), digamma(q));
        // Per distinct x: ln Γ(px + q) - ln Γ(px) and the digammas.
        let per_x: Vec<(f64, f64, f64)> = self
            .xs
            .iter()
            .map(|&(x, _)| (ln_gamma(p * x + q) - ln_gamma(p * x), digamma(p * x + q), digamma(p * x)))
            .collect();
        let (mut ll, mut gp, mut gq, mut gv) = (0.0, 0.0, 0.0, 0.0);
        for (&(_, w), &(lg, _, _)) in self.xs.iter().zip(&per_x) {
            ll += w * (lg - lg_q + q * ln_v);
        }
        for r in self.rows {
            let (_, dg_pxq, dg_px) = per_x[r.xi as usize];
            let l = (r.x * r.m + v).ln();
            let px = p * r.x;
            ll += r.w * ((px - 1.0) * r.ln_m + px * r.ln_x - (px + q) * l);
            gp += r.w * r.x * (dg_pxq - dg_px + r.ln_m + r.ln_x - l);
            gq += r.w * (dg_pxq - dg_q + ln_v - l);
            gv += r.w * (q / v - (px + q) / (r.x * r.m + v));
        }
        // The penalty is on (p, q, gamma / mean spend): free of the currency's unit, as the
        // BG/NBD penalty is free of the time unit (lifetimes applies it to gamma itself, so
        // its effect there depends on whether money is in dollars or cents).
        let value = -ll / self.total + self.penalizer * (p * p + q * q + vs * vs);
        let grad = vec![
            -gp / self.total * p + self.penalizer * 2.0 * p * p,
            -gq / self.total * q + self.penalizer * 2.0 * q * q,
            -gv / self.total * v + self.penalizer * 2.0 * vs * vs,
        ];
        (value, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let data = [(1u32, 1200.0), (3, 800.0), (2, 3100.0), (7, 950.0), (3, 800.0)];
        let mut xs: Vec<(f64, f64)> = Vec::new();
        let rows: Vec<GgRow> = data
            .iter()
            .map(|&(x, m)| {
                let xf = f64::from(x);
                let xi = match xs.iter().position(|e| e.0 == xf) {
                    Some(i) => i,
                    None => {
                        xs.push((xf, 0.0));
                        xs.len() - 1
                    }
                };
                xs[xi].1 += 1.0;
                GgRow { xi: xi as u32, w: 1.0, x: xf, m, ln_m: m.ln(), ln_x: xf.ln() }
            })
            .collect();
        let obj = GgObjective { xs: &xs, rows: &rows, total: 5.0, scale: 1000.0, penalizer: 1e-7 };
        for x in [[0.1, 0.1, 0.1], [1.2, -0.4, 0.7]] {
            let (_, g) = obj.value_grad(&x);
            for i in 0..3 {
                let h = 1e-6;
                let (mut xp, mut xm) = (x, x);
                xp[i] += h;
                xm[i] -= h;
                let fd = (obj.value_grad(&xp).0 - obj.value_grad(&xm).0) / (2.0 * h);
                assert!((fd - g[i]).abs() < 1e-6 * (1.0 + fd.abs()), "d{i}: {fd} vs {}", g[i]);
            }
        }
    }

    #[test]
    fn bad_input_is_refused() {
        let o = FitOptions::default();
        let field = |r: Result<FittedGammaGamma>| match r {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(GammaGamma::fit(&[], None, &o)), "data");
        assert_eq!(field(GammaGamma::fit(&[Spend { frequency: 2, monetary_value: 0.0 }], None, &o)), "monetary_value");
        assert_eq!(field(GammaGamma::fit(&[Spend { frequency: 2, monetary_value: -5.0 }], None, &o)), "monetary_value");
        assert_eq!(field(GammaGamma::fit(&[Spend { frequency: 0, monetary_value: 5.0 }], None, &o)), "frequency");
        let m = FittedGammaGamma::from_params(GammaGammaParams { p: 6.0, q: 0.9, gamma: 15.0 }).unwrap();
        assert!(m.conditional_expected_average_value(2, 30.0).is_err());
    }
}
