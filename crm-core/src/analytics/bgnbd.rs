//! The BG/NBD model (Fader, Hardie and Lee, "Counting your customers the easy way", 2005):
//! while alive, a customer buys at a Poisson rate drawn from Gamma(r, alpha); after each
//! purchase they drop out with a probability drawn from Beta(a, b). Fitted by maximum
//! likelihood on grouped `(frequency, recency, T)` rows; predictions follow `lifetimes`'
//! `BetaGeoFitter`.

use serde::{Deserialize, Serialize};
use statrs::function::gamma::{digamma, ln_gamma};

use super::optim::{self, FitOptions, Objective};
use super::progress::{self, Progress, ProgressFn, Step};
use super::special::{hyp2f1, Signed};
use super::summary::{CustomerSummary, Summary};
use crate::error::{Error, Result};

/// One customer's history in model terms: repeat purchases, and the periods from the first
/// purchase to the last (`recency`) and to the end of observation (`t`, the literature's `T`).
///
/// ```
/// use crm_core::analytics::Rfm;
/// let h = Rfm::new(2, 30.0, 38.0);
/// assert!(h.validate().is_ok());
/// assert!(Rfm::new(0, 5.0, 38.0).validate().is_err()); // no repeat purchase, yet a recency
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Rfm {
    /// Repeat purchases.
    pub frequency: u32,
    /// Periods from the first to the last purchase.
    pub recency: f64,
    /// Periods from the first purchase to the end of observation.
    pub t: f64,
}

impl Rfm {
    /// A history.
    pub fn new(frequency: u32, recency: f64, t: f64) -> Rfm {
        Rfm { frequency, recency, t }
    }

    /// Checks the rules of `lifetimes`' inputs: finite, `0 <= recency <= t`, and a recency of
    /// 0 without repeat purchases.
    pub fn validate(&self) -> Result<()> {
        if !(self.recency.is_finite() && self.t.is_finite() && self.recency >= 0.0) {
            return Err(Error::validation("recency", format!("{} is not a finite number >= 0", self.recency)));
        }
        if self.recency > self.t {
            return Err(Error::validation("recency", format!("{} is larger than T {}", self.recency, self.t)));
        }
        if self.frequency == 0 && self.recency != 0.0 {
            return Err(Error::validation("recency", format!("{} is not 0 while frequency is 0", self.recency)));
        }
        Ok(())
    }
}

impl From<&CustomerSummary> for Rfm {
    fn from(s: &CustomerSummary) -> Rfm {
        Rfm { frequency: s.frequency, recency: s.recency, t: s.t }
    }
}

/// The histories of a summary, in its row order.
pub fn histories(s: &Summary) -> Vec<Rfm> {
    s.rows.iter().map(Rfm::from).collect()
}

/// BG/NBD parameters (also used for their standard errors).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BgNbdParams {
    /// Shape of the purchase-rate Gamma.
    pub r: f64,
    /// Scale of the purchase-rate Gamma, in periods.
    pub alpha: f64,
    /// Dropout Beta, first shape.
    pub a: f64,
    /// Dropout Beta, second shape.
    pub b: f64,
}

/// A fitted BG/NBD model. The only ways to get one are [`BgNbd::fit`] and
/// [`FittedBgNbd::from_params`], so predictions cannot be asked of an unfitted model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FittedBgNbd {
    /// The estimates.
    pub params: BgNbdParams,
    /// Their standard errors (0 for given parameters).
    pub standard_errors: BgNbdParams,
    /// Total log-likelihood of the data at the estimates, in the data's own time unit.
    pub log_likelihood: f64,
    /// Number of customers (total weight) fitted.
    pub customers: f64,
    /// L-BFGS iterations used.
    pub iterations: u64,
}

/// Fits the BG/NBD model.
///
/// ```
/// use crm_core::analytics::{histories, BgNbd, FitOptions, Rfm, SummaryOptions};
/// use crm_core::synth::{Synth, SynthConfig};
/// let crm = crm_core::Crm::in_memory()?;
/// let synth = Synth::new(SynthConfig { customers: 300, ..Default::default() });
/// crm.ingest_customers(synth.customers(), Default::default())?;
/// crm.ingest_orders(synth.orders(), Default::default())?;
/// let summary = crm.purchase_summary(&SummaryOptions::new("USD".parse()?, synth.config().end))?;
///
/// let model = BgNbd::fit(&histories(&summary), None, &FitOptions::default())?;
/// let p = model.probability_alive(&Rfm::new(7, 300.0, 400.0))?;
/// assert!(p > 0.0 && p < 1.0);
/// assert!(model.expected_purchases(30.0)? > 0.0);
/// assert!(model.log_likelihood < 0.0 && model.standard_errors.r > 0.0);
/// # Ok::<(), crm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BgNbd;

impl BgNbd {
    /// Maximum-likelihood fit on histories, optionally weighted (a weight is a count of
    /// customers with that history). Identical histories are grouped before fitting.
    ///
    /// Errors: an empty data set, a history breaking [`Rfm::validate`], weights of another
    /// length or not finite and positive, and a fit that does not converge.
    pub fn fit(data: &[Rfm], weights: Option<&[f64]>, opts: &FitOptions) -> Result<FittedBgNbd> {
        BgNbd::fit_with_progress(data, weights, opts, &mut progress::ignore)
    }

    /// [`BgNbd::fit`], reporting each likelihood evaluation to `progress` as
    /// [`Step::FitBgNbd`]; the fit fails with [`Error::Cancelled`] as soon as it returns
    /// [`Break`](std::ops::ControlFlow::Break).
    pub fn fit_with_progress(
        data: &[Rfm],
        weights: Option<&[f64]>,
        opts: &FitOptions,
        progress: &mut ProgressFn<'_>,
    ) -> Result<FittedBgNbd> {
        opts.validate()?;
        let g = Grouped::new(data, weights)?;
        let obj = BgObjective { g: &g, penalizer: opts.penalizer };
        let mut hook = |n| progress(Progress { step: Step::FitBgNbd, done: n, total: None });
        let watch = optim::Watch::new(&mut hook);
        let opt = optim::minimize(&obj, vec![0.1; 4], opts, "BG/NBD", &watch)?;
        let se = optim::checked_standard_errors(&obj, &opt.x, g.total, "BG/NBD", &watch)?;
        let p = |i: usize| opt.x[i].exp();
        let params = BgNbdParams { r: p(0), alpha: p(1) / g.scale, a: p(2), b: p(3) };
        let standard_errors = BgNbdParams { r: se[0], alpha: se[1] / g.scale, a: se[2], b: se[3] };
        // The objective is the mean log-likelihood with time scaled by `scale`, which divides
        // each customer's likelihood by scale^x: undo both.
        let plain = BgObjective { g: &g, penalizer: 0.0 };
        let log_likelihood = -plain.value_grad(&opt.x).0 * g.total + g.scale.ln() * g.weighted_frequency();
        if !log_likelihood.is_finite() {
            return Err(Error::validation("model", "BG/NBD fit did not converge: the log-likelihood is not finite"));
        }
        Ok(FittedBgNbd { params, standard_errors, log_likelihood, customers: g.total, iterations: opt.iterations })
    }
}

impl FittedBgNbd {
    /// A model with given parameters (for example from an earlier fit); each must be finite
    /// and positive. Its standard errors and log-likelihood are 0.
    pub fn from_params(params: BgNbdParams) -> Result<FittedBgNbd> {
        for (name, v) in [("r", params.r), ("alpha", params.alpha), ("a", params.a), ("b", params.b)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::validation(name, format!("{v} is not a finite number > 0")));
            }
        }
        let zero = BgNbdParams { r: 0.0, alpha: 0.0, a: 0.0, b: 0.0 };
        Ok(FittedBgNbd { params, standard_errors: zero, log_likelihood: 0.0, customers: 0.0, iterations: 0 })
    }

    /// Log-likelihood of one history (Fader, Hardie and Lee 2005, equation 6).
    pub fn individual_log_likelihood(&self, h: &Rfm) -> f64 {
        let BgNbdParams { r, alpha, a, b } = self.params;
        let x = f64::from(h.frequency);
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
        let a3 = -(r + x) * (alpha + h.t).ln();
        if h.frequency == 0 {
            return a1 + a2 + a3;
        }
        let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + h.recency).ln();
        a1 + a2 + log_add_exp(a3, a4)
    }

    /// Expected number of purchases of a new customer in their first `t` periods (equation 9).
    pub fn expected_purchases(&self, t: f64) -> Result<f64> {
        check_horizon(t)?;
        let BgNbdParams { r, alpha, a, b } = self.params;
        if t == 0.0 {
            return Ok(0.0);
        }
        check_a(a)?;
        // (a+b-1)/(a-1) * (1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))), written
        // with c 2F1 so that a + b = 1 (c = 0) is its limit.
        let c = a + b - 1.0;
        let cf = c_hyp2f1(r, b, c, t / (alpha + t))?;
        let v = (c - cf.sign * (r * (alpha / (alpha + t)).ln() + cf.ln).exp()) / (a - 1.0);
        finite(v, "expected purchases")
    }

    /// Expected number of purchases in the next `t` periods of a customer with history `h`
    /// (equation 10; `lifetimes`' `conditional_expected_number_of_purchases_up_to_time`).
    pub fn conditional_expected_purchases(&self, t: f64, h: &Rfm) -> Result<f64> {
        check_horizon(t)?;
        h.validate()?;
        if t == 0.0 {
            return Ok(0.0);
        }
        let BgNbdParams { r, alpha, a, b } = self.params;
        check_a(a)?;
        let x = f64::from(h.frequency);
        // (a+b+x-1)/(a-1) * (1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)),
        // with c 2F1 as in `expected_purchases` (c = a+b+x-1 is 0 when a + b = 1 and x = 0).
        let c = a + b + x - 1.0;
        let cf = c_hyp2f1(r + x, b + x, c, t / (alpha + h.t + t))?;
        let ln_p = (r + x) * ((alpha + h.t) / (alpha + t + h.t)).ln();
        let numerator = (c - cf.sign * (ln_p + cf.ln).exp()) / (a - 1.0);
        let denominator = if h.frequency > 0 {
            1.0 + ((a / (b + x - 1.0)).ln() + (r + x) * ((alpha + h.t) / (alpha + h.recency)).ln()).exp()
        } else {
            1.0
        };
        finite(numerator / denominator, "conditional expected purchases")
    }

    /// Probability that a customer with history `h` is still alive at the end of observation
    /// (`lifetimes`' `conditional_probability_alive`; 1 without repeat purchases, as the model
    /// only lets customers drop out right after a purchase).
    pub fn probability_alive(&self, h: &Rfm) -> Result<f64> {
        h.validate()?;
        if h.frequency == 0 {
            return Ok(1.0);
        }
        let BgNbdParams { r, alpha, a, b } = self.params;
        let x = f64::from(h.frequency);
        let log_div = (r + x) * ((alpha + h.t) / (alpha + h.recency)).ln() + (a / (b + x - 1.0)).ln();
        finite(1.0 / (1.0 + log_div.exp()), "probability alive")
    }

    /// Probability alive over a customer's history (`lifetimes`' `calculate_alive_path`): for
    /// each period `0..=t` after the first purchase, the probability alive given the purchases
    /// seen by then. `purchases` are the periods (counted from the first purchase, which is 0)
    /// with a purchase, in any order; those after `t` are ignored.
    ///
    /// ```
    /// use crm_core::analytics::{BgNbdParams, FittedBgNbd};
    /// let m = FittedBgNbd::from_params(BgNbdParams { r: 0.24, alpha: 4.41, a: 0.79, b: 2.43 })?;
    /// let path = m.probability_alive_path(&[0, 3, 5], 20)?;
    /// assert_eq!(path.len(), 21);
    /// assert_eq!(path[0], 1.0);        // no repeat purchase yet
    /// assert!(path[20] < path[5]);     // silence since period 5 lowers it
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn probability_alive_path(&self, purchases: &[u32], t: u32) -> Result<Vec<f64>> {
        self.alive_path_in(purchases, t, 1)
    }

    /// [`FittedBgNbd::probability_alive_path`] for a model whose time unit is `unit` periods
    /// (fitted on a summary with that `freq_multiplier`); still one point per period.
    pub(crate) fn alive_path_in(&self, purchases: &[u32], t: u32, unit: u32) -> Result<Vec<f64>> {
        let unit = f64::from(unit);
        let mut days: Vec<u32> = purchases.iter().copied().filter(|&p| p <= t).collect();
        days.sort_unstable();
        days.dedup();
        if days.first() != Some(&0) {
            return Err(Error::validation("purchases", "must hold the first purchase, period 0"));
        }
        let mut out = Vec::with_capacity(t as usize + 1);
        let (mut x, mut last, mut next) = (0u32, 0u32, 1usize);
        for k in 0..=t {
            while next < days.len() && days[next] <= k {
                x += 1;
                last = days[next];
                next += 1;
            }
            out.push(self.probability_alive(&Rfm::new(x, f64::from(last) / unit, f64::from(k) / unit))?);
        }
        Ok(out)
    }
}

fn check_horizon(t: f64) -> Result<()> {
    if t.is_finite() && t >= 0.0 {
        Ok(())
    } else {
        Err(Error::validation("t", format!("{t} is not a finite number of periods >= 0")))
    }
}

/// `c * 2F1(a, b; c; z)`, continued to `c = 0` by its limit `a b z 2F1(a+1, b+1; 2; z)`
/// (the BG/NBD's `c` is `a + b - 1` of its parameters, 0 when they sum to 1).
fn c_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<Signed> {
    if c == 0.0 {
        let f = hyp2f1(a + 1.0, b + 1.0, 2.0, z)?;
        return Ok(f.times_value(a * b * z));
    }
    Ok(hyp2f1(a, b, c, z)?.times_value(c))
}

fn check_a(a: f64) -> Result<()> {
    if a == 1.0 {
        return Err(Error::validation("a", "the expected purchases are undefined for a = 1"));
    }
    Ok(())
}

fn finite(v: f64, what: &str) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::validation("model", format!("the {what} are not finite with these parameters ({v})")))
    }
}

pub(crate) fn log_add_exp(x: f64, y: f64) -> f64 {
    let m = x.max(y);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((x - m).exp() + (y - m).exp()).ln()
}

/// Histories grouped for speed: distinct frequencies, recencies and T values are each
/// evaluated once per likelihood call; rows refer to them by index and carry a weight.
struct Grouped {
    /// Time scale (1 / largest T), as in `lifetimes`.
    scale: f64,
    xs: Vec<f64>,
    /// Total weight per distinct frequency.
    x_weight: Vec<f64>,
    recencies: Vec<f64>,
    ts: Vec<f64>,
    /// (frequency index, recency index, T index, weight)
    rows: Vec<(u32, u32, u32, f64)>,
    total: f64,
}

impl Grouped {
    /// Total weight times frequency.
    fn weighted_frequency(&self) -> f64 {
        self.xs.iter().zip(&self.x_weight).map(|(x, w)| x * w).sum()
    }
}

/// Sorted distinct values (all >= 0, so their bit patterns sort as the numbers do).
fn distinct(values: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut v: Vec<u64> = values.collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn position(sorted: &[u64], v: u64) -> u32 {
    sorted.partition_point(|&x| x < v) as u32
}

pub(crate) fn check_weights(n: usize, weights: Option<&[f64]>) -> Result<()> {
    if n == 0 {
        return Err(Error::validation("data", "is empty: there is nothing to fit"));
    }
    if let Some(w) = weights {
        if w.len() != n {
            return Err(Error::validation("weights", format!("has {} entries for {n} rows", w.len())));
        }
        if let Some(bad) = w.iter().find(|w| !(w.is_finite() && **w > 0.0)) {
            return Err(Error::validation("weights", format!("{bad} is not a finite number > 0")));
        }
    }
    Ok(())
}

impl Grouped {
    fn new(data: &[Rfm], weights: Option<&[f64]>) -> Result<Grouped> {
        check_weights(data.len(), weights)?;
        let mut max_t = 0.0f64;
        for h in data {
            h.validate()?;
            max_t = max_t.max(h.t);
        }
        let scale = if max_t > 0.0 { 1.0 / max_t } else { 1.0 };
        // Identical histories become one weighted row; sorting (rather than hashing) also
        // fixes the order of the floating-point sums, so the fit is reproducible.
        let mut keyed: Vec<(u32, u64, u64, f64)> = data
            .iter()
            .enumerate()
            .map(|(i, h)| (h.frequency, h.recency.to_bits(), h.t.to_bits(), weights.map_or(1.0, |w| w[i])))
            .collect();
        keyed.sort_unstable_by_key(|k| (k.0, k.1, k.2));
        let xs_bits = distinct(keyed.iter().map(|k| u64::from(k.0)));
        let rec_bits = distinct(keyed.iter().map(|k| k.1));
        let t_bits = distinct(keyed.iter().map(|k| k.2));
        let mut g = Grouped {
            scale,
            xs: xs_bits.iter().map(|&x| x as f64).collect(),
            x_weight: vec![0.0; xs_bits.len()],
            recencies: rec_bits.iter().map(|&b| f64::from_bits(b) * scale).collect(),
            ts: t_bits.iter().map(|&b| f64::from_bits(b) * scale).collect(),
            rows: Vec::new(),
            total: 0.0,
        };
        let mut previous: Option<(u32, u64, u64)> = None;
        for (x, rec, t, w) in keyed {
            let xi = position(&xs_bits, u64::from(x));
            g.x_weight[xi as usize] += w;
            g.total += w;
            match g.rows.last_mut() {
                Some(last) if previous == Some((x, rec, t)) => last.3 += w,
                _ => g.rows.push((xi, position(&rec_bits, rec), position(&t_bits, t), w)),
            }
            previous = Some((x, rec, t));
        }
        Ok(g)
    }
}

struct BgObjective<'a> {
    g: &'a Grouped,
    penalizer: f64,
}

impl Objective for BgObjective<'_> {
    fn value_grad(&self, lp: &[f64]) -> (f64, Vec<f64>) {
        let g = self.g;
        let (r, alpha, a, b) = (lp[0].exp(), lp[1].exp(), lp[2].exp(), lp[3].exp());
        let (ln_a, ln_alpha) = (lp[2], lp[1]);
        // Per distinct frequency: the parts of A1 and A2 (and their derivatives) depending on x.
        let (lg_r, dg_r, lg_b, dg_b, lg_ab, dg_ab) =
            (ln_gamma(r), digamma(r), ln_gamma(b), digamma(b), ln_gamma(a + b), digamma(a + b));
        let mut ll = 0.0;
        let mut grad = [0.0f64; 4]; // d(sum w ll)/d(r, alpha, a, b)
        struct XTerms {
            ln_b1: f64,
            inv_b1: f64,
        }
        let mut xt = Vec::with_capacity(g.xs.len());
        for (i, &x) in g.xs.iter().enumerate() {
            let w = g.x_weight[i];
            ll += w * (ln_gamma(r + x) - lg_r + r * ln_alpha + lg_ab + ln_gamma(b + x) - lg_b - ln_gamma(a + b + x));
            let (d_rx, d_bx, d_abx) = (digamma(r + x), digamma(b + x), digamma(a + b + x));
            grad[0] += w * (d_rx - dg_r + ln_alpha);
            grad[1] += w * (r / alpha);
            grad[2] += w * (dg_ab - d_abx);
            grad[3] += w * (dg_ab + d_bx - dg_b - d_abx);
            xt.push(if x > 0.0 {
                XTerms { ln_b1: (b + x - 1.0).ln(), inv_b1: 1.0 / (b + x - 1.0) }
            } else {
                XTerms { ln_b1: 0.0, inv_b1: 0.0 }
            });
        }
        let ln_t: Vec<(f64, f64)> = g.ts.iter().map(|t| ((alpha + t).ln(), 1.0 / (alpha + t))).collect();
        let ln_rec: Vec<(f64, f64)> = g.recencies.iter().map(|t| ((alpha + t).ln(), 1.0 / (alpha + t))).collect();
        for &(xi, ri, ti, w) in &g.rows {
            let x = g.xs[xi as usize];
            let (l_t, i_t) = ln_t[ti as usize];
            let a3 = -(r + x) * l_t;
            if x == 0.0 {
                ll += w * a3;
                grad[0] += w * -l_t;
                grad[1] += w * -(r + x) * i_t;
                continue;
            }
            let (l_r, i_r) = ln_rec[ri as usize];
            let terms = &xt[xi as usize];
            let a4 = ln_a - terms.ln_b1 - (r + x) * l_r;
            let lse = log_add_exp(a3, a4);
            let w3 = (a3 - lse).exp();
            let w4 = 1.0 - w3;
            ll += w * lse;
            grad[0] += w * (w3 * -l_t + w4 * -l_r);
            grad[1] += w * -(r + x) * (w3 * i_t + w4 * i_r);
            grad[2] += w * w4 / a;
            grad[3] += w * w4 * -terms.inv_b1;
        }
        let p = [r, alpha, a, b];
        let value = -ll / g.total + self.penalizer * p.iter().map(|v| v * v).sum::<f64>();
        let grad = (0..4).map(|i| -grad[i] / g.total * p[i] + self.penalizer * 2.0 * p[i] * p[i]).collect();
        (value, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Vec<Rfm> {
        vec![
            Rfm::new(0, 0.0, 30.0),
            Rfm::new(0, 0.0, 12.0),
            Rfm::new(1, 3.0, 25.0),
            Rfm::new(4, 20.0, 21.0),
            Rfm::new(2, 5.0, 33.0),
            Rfm::new(7, 30.0, 33.0),
            Rfm::new(1, 3.0, 25.0),
        ]
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let d = data();
        let g = Grouped::new(&d, Some(&[1.0, 2.0, 1.0, 3.0, 1.0, 1.0, 0.5])).unwrap();
        let obj = BgObjective { g: &g, penalizer: 0.1 };
        for x in [[0.1, 0.1, 0.1, 0.1], [-0.7, 1.3, 0.4, -0.2], [0.5, -1.0, -0.5, 1.5]] {
            let (_, grad) = obj.value_grad(&x);
            for i in 0..4 {
                let h = 1e-6;
                let (mut xp, mut xm) = (x, x);
                xp[i] += h;
                xm[i] -= h;
                let fd = (obj.value_grad(&xp).0 - obj.value_grad(&xm).0) / (2.0 * h);
                assert!((fd - grad[i]).abs() < 1e-6 * (1.0 + fd.abs()), "d{i} at {x:?}: {fd} vs {}", grad[i]);
            }
        }
    }

    #[test]
    fn objective_is_the_mean_negative_log_likelihood() {
        let d = data();
        let g = Grouped::new(&d, None).unwrap();
        let obj = BgObjective { g: &g, penalizer: 0.0 };
        let lp = [-0.3f64, 0.2, 0.5, 0.9];
        let m = FittedBgNbd::from_params(BgNbdParams {
            r: lp[0].exp(),
            alpha: lp[1].exp() / g.scale,
            a: lp[2].exp(),
            b: lp[3].exp(),
        })
        .unwrap();
        // Scaling time by s multiplies each likelihood by s^-x.
        let direct: f64 =
            d.iter().map(|h| m.individual_log_likelihood(h) - f64::from(h.frequency) * g.scale.ln()).sum();
        let (v, _) = obj.value_grad(&lp);
        assert!((v + direct / d.len() as f64).abs() < 1e-12, "{v} vs {}", -direct / d.len() as f64);
    }

    #[test]
    fn bad_input_is_refused() {
        let opts = FitOptions::default();
        assert!(matches!(BgNbd::fit(&[], None, &opts), Err(Error::Validation { field, .. }) if field == "data"));
        let bad = [Rfm::new(1, 5.0, 4.0)];
        assert!(matches!(BgNbd::fit(&bad, None, &opts), Err(Error::Validation { field, .. }) if field == "recency"));
        let d = data();
        assert!(
            matches!(BgNbd::fit(&d, Some(&[1.0]), &opts), Err(Error::Validation { field, .. }) if field == "weights")
        );
        let neg = FitOptions { penalizer: -1.0, ..opts };
        assert!(matches!(BgNbd::fit(&d, None, &neg), Err(Error::Validation { field, .. }) if field == "penalizer"));
        assert!(FittedBgNbd::from_params(BgNbdParams { r: 1.0, alpha: f64::NAN, a: 1.0, b: 1.0 }).is_err());
    }
}
