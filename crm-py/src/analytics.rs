//! Analytics: the store-backed calls as `Crm` methods (JSON options in, JSON results out,
//! GIL released), the models as module functions over columns (also GIL released), and the
//! co-purchase model as a frozen native object. Fitted models are their parameters (JSON):
//! the Python classes in `crm.analytics` keep them.
//!
//! The long calls take an optional progress callback and always watch for Ctrl-C (see
//! [`Watcher`]).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crm_core::analytics::{
    BgNbd, BgNbdParams, ChurnOptions, CoPurchaseModel, CoPurchaseOptions, FitOptions, FittedBgNbd, FittedGammaGamma,
    GammaGamma, GammaGammaParams, Period, Progress, ProgressFn, ReportOptions, Rfm, Spend, Step, SummaryOptions,
    ValueOptions, SCORE_EVERY,
};
use crm_core::{Currency, CustomerId};
use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::error::{Error, Result};
use crate::handle::PyCrm;
use crate::json;

/// Least time between two visits to Python during a long call: often enough that Ctrl-C
/// stops it within a fraction of a second, rarely enough that taking the GIL costs nothing
/// measurable (the core reports far more often than this).
const VISIT_EVERY: Duration = Duration::from_millis(100);

/// The core's analytics progress, seen from Python. At most every [`VISIT_EVERY`] (and, with
/// a callback, at each new step and at the end of one) it takes the GIL, runs pending signal
/// handlers, so that Ctrl-C raises `KeyboardInterrupt` out of the call, and calls the
/// callback `(step, done, total)`. The callback returning `False`, or raising, stops the
/// call: `False` raises `crm.CancelledError`, an exception is raised as it is.
pub(crate) struct Watcher {
    callback: Option<Py<PyAny>>,
    last: Instant,
    step: Option<Step>,
    failed: Option<PyErr>,
}

impl Watcher {
    pub(crate) fn new(callback: Option<Py<PyAny>>) -> Watcher {
        Watcher { callback, last: Instant::now(), step: None, failed: None }
    }

    fn report(&mut self, p: Progress) -> ControlFlow<()> {
        let shown = self.callback.is_some() && (self.step != Some(p.step) || p.total == Some(p.done));
        if !shown && self.last.elapsed() < VISIT_EVERY {
            return ControlFlow::Continue(());
        }
        self.step = Some(p.step);
        let said = Python::attach(|py| -> PyResult<bool> {
            py.check_signals()?;
            match &self.callback {
                Some(cb) => {
                    let said = cb.call1(py, (p.step.as_str(), p.done, p.total))?;
                    Ok(said.bind(py).cast::<PyBool>().is_ok_and(|b| !b.is_true()))
                }
                None => Ok(false),
            }
        });
        self.last = Instant::now();
        match said {
            Ok(false) => ControlFlow::Continue(()),
            Ok(true) => ControlFlow::Break(()),
            Err(e) => {
                self.failed = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    /// Runs `call` with this watcher as its progress callback (GIL released by the caller);
    /// the callback's exception, when it raised one, wins over the call's result.
    pub(crate) fn run<T>(mut self, call: impl FnOnce(&mut ProgressFn<'_>) -> Result<T>) -> Result<T> {
        let result = call(&mut |p| self.report(p));
        match self.failed {
            Some(e) => Err(Error::Py(e)),
            None => result,
        }
    }
}

/// `f` for each of `n` items, reporting [`Step::Score`] every [`SCORE_EVERY`] items, for
/// the column functions that score a population.
fn score_each<T>(
    n: usize,
    progress: &mut ProgressFn<'_>,
    mut f: impl FnMut(usize) -> crm_core::Result<T>,
) -> crm_core::Result<Vec<T>> {
    let total = Some(n as u64);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if i as u64 % SCORE_EVERY == 0 && progress(Progress { step: Step::Score, done: i as u64, total }).is_break() {
            return Err(crm_core::Error::Cancelled);
        }
        out.push(f(i)?);
    }
    match progress(Progress { step: Step::Score, done: n as u64, total }) {
        ControlFlow::Break(()) => Err(crm_core::Error::Cancelled),
        ControlFlow::Continue(()) => Ok(out),
    }
}

#[pymethods]
impl PyCrm {
    /// Purchase summary (`SummaryOptions` JSON in, `Summary` JSON out).
    #[pyo3(signature = (options, progress=None))]
    fn analytics_summary(&self, py: Python<'_>, options: String, progress: Option<Py<PyAny>>) -> Result<String> {
        self.run(py, move |crm| {
            let opts = json::parse::<SummaryOptions>(&options)?;
            Watcher::new(progress).run(|p| Ok(json::dump(&crm.purchase_summary_with_progress(&opts, p)?)))
        })
    }

    /// Summaries of every currency in one pass (JSON array out).
    #[pyo3(signature = (options, progress=None))]
    fn analytics_summaries(&self, py: Python<'_>, options: String, progress: Option<Py<PyAny>>) -> Result<String> {
        self.run(py, move |crm| {
            let opts = json::parse::<SummaryOptions>(&options)?;
            Watcher::new(progress).run(|p| Ok(json::dump(&crm.purchase_summaries_with_progress(&opts, p)?)))
        })
    }

    /// Per-customer predicted values with both models fitted (`ValueOptions` JSON in).
    #[pyo3(signature = (options, progress=None))]
    fn analytics_customer_values(
        &self,
        py: Python<'_>,
        options: String,
        progress: Option<Py<PyAny>>,
    ) -> Result<String> {
        self.run(py, move |crm| {
            let opts = json::parse::<ValueOptions>(&options)?;
            Watcher::new(progress).run(|p| Ok(json::dump(&crm.customer_values_with_progress(&opts, p)?)))
        })
    }

    /// Churn risk of every customer (`ChurnOptions` JSON in).
    #[pyo3(signature = (options, progress=None))]
    fn analytics_churn_risk(&self, py: Python<'_>, options: String, progress: Option<Py<PyAny>>) -> Result<String> {
        self.run(py, move |crm| {
            let opts = json::parse::<ChurnOptions>(&options)?;
            Watcher::new(progress).run(|p| Ok(json::dump(&crm.churn_risk_with_progress(&opts, p)?)))
        })
    }

    /// The customers at risk, riskiest first (`ChurnOptions` JSON in).
    #[pyo3(signature = (options, progress=None))]
    fn analytics_customers_at_risk(
        &self,
        py: Python<'_>,
        options: String,
        progress: Option<Py<PyAny>>,
    ) -> Result<String> {
        self.run(py, move |crm| {
            let opts = json::parse::<ChurnOptions>(&options)?;
            Watcher::new(progress).run(|p| Ok(json::dump(&crm.customers_at_risk_with_progress(&opts, p)?)))
        })
    }

    /// Probability alive over one customer's history (`BgNbdParams` and `SummaryOptions` JSON).
    fn analytics_alive_path(
        &self,
        py: Python<'_>,
        params: String,
        customer_id: i64,
        options: String,
    ) -> Result<String> {
        self.run(py, move |crm| {
            let model = FittedBgNbd::from_params(json::parse::<BgNbdParams>(&params)?)?;
            let opts = json::parse::<SummaryOptions>(&options)?;
            Ok(json::dump(&crm.probability_alive_path(&model, CustomerId(customer_id), &opts)?))
        })
    }

    /// Learns co-purchase similarities (`CoPurchaseOptions` JSON in).
    fn analytics_co_purchase_model(&self, py: Python<'_>, options: String) -> Result<PyCoPurchaseModel> {
        self.run(py, move |crm| {
            let model = crm.co_purchase_model(&json::parse::<CoPurchaseOptions>(&options)?)?;
            Ok(PyCoPurchaseModel { inner: Arc::new(model) })
        })
    }

    /// Recommendations for a customer from a co-purchase model (JSON array out).
    fn analytics_recommend(
        &self,
        py: Python<'_>,
        model: &PyCoPurchaseModel,
        customer_id: i64,
        k: usize,
    ) -> Result<String> {
        let m = Arc::clone(&model.inner);
        self.run(py, move |crm| Ok(json::dump(&crm.recommend_for_customer(&m, CustomerId(customer_id), k)?)))
    }

    /// Category shares per customer in one currency (JSON array out).
    #[pyo3(signature = (currency, customer_id=None))]
    fn analytics_category_affinity(
        &self,
        py: Python<'_>,
        currency: String,
        customer_id: Option<i64>,
    ) -> Result<String> {
        self.run(py, move |crm| {
            let cur = Currency::new(&currency)?;
            Ok(json::dump(&crm.category_affinity(cur, customer_id.map(CustomerId))?))
        })
    }

    /// Descriptive reports (`ReportOptions` JSON in, `Reports` JSON out).
    fn analytics_reports(&self, py: Python<'_>, options: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.reports(&json::parse::<ReportOptions>(&options)?)?)))
    }
}

/// Co-purchase similarities between SKUs (native half of `crm.analytics.CoPurchaseModel`).
#[pyclass(frozen, module = "crm._crm", name = "CoPurchaseModel")]
pub struct PyCoPurchaseModel {
    inner: Arc<CoPurchaseModel>,
}

#[pymethods]
impl PyCoPurchaseModel {
    /// The `k` SKUs most similar to `sku` (JSON array out).
    fn similar_items(&self, sku: &str, k: usize) -> Result<String> {
        Ok(json::dump(&self.inner.similar_items(sku, k)?))
    }

    /// The `k` best SKUs for someone who owns `owned`, leaving those out (JSON array out).
    fn recommend(&self, owned: Vec<String>, k: usize) -> Result<String> {
        Ok(json::dump(&self.inner.recommend(&owned, k)?))
    }

    /// Number of customers counted.
    #[getter]
    fn customers(&self) -> u64 {
        self.inner.customers()
    }

    /// Customers who bought `sku`, or `None` for an unknown SKU.
    fn buyers(&self, sku: &str) -> Option<u32> {
        self.inner.buyers(sku)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

fn same_len(what: &str, n: usize, others: &[usize]) -> Result<()> {
    if others.iter().any(|&m| m != n) {
        return Err(Error::Input {
            field: what.into(),
            reason: format!("columns have different lengths ({n}, {others:?})"),
        });
    }
    Ok(())
}

fn histories(frequency: &[u32], recency: &[f64], t: &[f64]) -> Result<Vec<Rfm>> {
    same_len("frequency", frequency.len(), &[recency.len(), t.len()])?;
    Ok(frequency.iter().zip(recency).zip(t).map(|((&f, &r), &t)| Rfm::new(f, r, t)).collect())
}

/// Fits BG/NBD on columns; returns the fitted model as JSON.
#[pyfunction]
#[pyo3(signature = (frequency, recency, t, weights, fit, progress=None))]
pub fn bgnbd_fit(
    py: Python<'_>,
    frequency: Vec<u32>,
    recency: Vec<f64>,
    t: Vec<f64>,
    weights: Option<Vec<f64>>,
    fit: String,
    progress: Option<Py<PyAny>>,
) -> Result<String> {
    py.detach(move || {
        let opts = json::parse::<FitOptions>(&fit)?;
        let h = histories(&frequency, &recency, &t)?;
        Watcher::new(progress).run(|p| Ok(json::dump(&BgNbd::fit_with_progress(&h, weights.as_deref(), &opts, p)?)))
    })
}

/// For each history: (probability alive, expected purchases in the next `horizon` periods,
/// log-likelihood).
#[pyfunction]
#[pyo3(signature = (params, frequency, recency, t, horizon, progress=None))]
pub fn bgnbd_predict(
    py: Python<'_>,
    params: String,
    frequency: Vec<u32>,
    recency: Vec<f64>,
    t: Vec<f64>,
    horizon: f64,
    progress: Option<Py<PyAny>>,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    py.detach(move || {
        let m = FittedBgNbd::from_params(json::parse::<BgNbdParams>(&params)?)?;
        let h = histories(&frequency, &recency, &t)?;
        let rows = Watcher::new(progress).run(|p| {
            Ok(score_each(h.len(), p, |i| {
                let x = &h[i];
                Ok((
                    m.probability_alive(x)?,
                    m.conditional_expected_purchases(horizon, x)?,
                    m.individual_log_likelihood(x),
                ))
            })?)
        })?;
        let mut alive = Vec::with_capacity(h.len());
        let mut expected = Vec::with_capacity(h.len());
        let mut ll = Vec::with_capacity(h.len());
        for (a, e, l) in rows {
            alive.push(a);
            expected.push(e);
            ll.push(l);
        }
        Ok((alive, expected, ll))
    })
}

/// Expected purchases of a new customer in each of `t` periods.
#[pyfunction]
pub fn bgnbd_expected_new(params: String, t: Vec<f64>) -> Result<Vec<f64>> {
    let m = FittedBgNbd::from_params(json::parse::<BgNbdParams>(&params)?)?;
    Ok(t.iter().map(|&t| m.expected_purchases(t)).collect::<crm_core::Result<_>>()?)
}

/// Probability alive over a history of purchase periods (0 = first purchase) up to `t`.
#[pyfunction]
pub fn bgnbd_alive_path(params: String, purchases: Vec<u32>, t: u32) -> Result<Vec<f64>> {
    let m = FittedBgNbd::from_params(json::parse::<BgNbdParams>(&params)?)?;
    Ok(m.probability_alive_path(&purchases, t)?)
}

/// Fits Gamma-Gamma on repeat buyers' columns; returns the fitted model as JSON.
#[pyfunction]
#[pyo3(signature = (frequency, monetary_value, weights, fit, progress=None))]
pub fn gamma_gamma_fit(
    py: Python<'_>,
    frequency: Vec<u32>,
    monetary_value: Vec<f64>,
    weights: Option<Vec<f64>>,
    fit: String,
    progress: Option<Py<PyAny>>,
) -> Result<String> {
    py.detach(move || {
        let opts = json::parse::<FitOptions>(&fit)?;
        same_len("frequency", frequency.len(), &[monetary_value.len()])?;
        let data: Vec<Spend> =
            frequency.iter().zip(&monetary_value).map(|(&f, &m)| Spend { frequency: f, monetary_value: m }).collect();
        Watcher::new(progress)
            .run(|p| Ok(json::dump(&GammaGamma::fit_with_progress(&data, weights.as_deref(), &opts, p)?)))
    })
}

/// Conditional expected average purchase value per customer (minor units).
#[pyfunction]
pub fn gamma_gamma_expected_value(params: String, frequency: Vec<u32>, monetary_value: Vec<f64>) -> Result<Vec<f64>> {
    let m = FittedGammaGamma::from_params(json::parse::<GammaGammaParams>(&params)?)?;
    same_len("frequency", frequency.len(), &[monetary_value.len()])?;
    Ok(frequency
        .iter()
        .zip(&monetary_value)
        .map(|(&f, &v)| m.conditional_expected_average_value(f, v))
        .collect::<crm_core::Result<_>>()?)
}

/// Customer lifetime value per customer (expected, minor units).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (bgnbd, gamma_gamma, frequency, recency, t, monetary_value, period, months, discount_rate,
    progress=None))]
pub fn customer_lifetime_value(
    py: Python<'_>,
    bgnbd: String,
    gamma_gamma: String,
    frequency: Vec<u32>,
    recency: Vec<f64>,
    t: Vec<f64>,
    monetary_value: Vec<f64>,
    period: String,
    months: u32,
    discount_rate: f64,
    progress: Option<Py<PyAny>>,
) -> Result<Vec<f64>> {
    py.detach(move || {
        let bg = FittedBgNbd::from_params(json::parse::<BgNbdParams>(&bgnbd)?)?;
        let gg = FittedGammaGamma::from_params(json::parse::<GammaGammaParams>(&gamma_gamma)?)?;
        let period = match period.as_str() {
            "day" => Period::Day,
            "week" => Period::Week,
            other => {
                return Err(Error::Input { field: "freq".into(), reason: format!("{other:?} is not \"D\" or \"W\"") })
            }
        };
        let h = histories(&frequency, &recency, &t)?;
        same_len("monetary_value", monetary_value.len(), &[h.len()])?;
        Watcher::new(progress).run(|p| {
            Ok(score_each(h.len(), p, |i| {
                gg.customer_lifetime_value(&bg, &h[i], monetary_value[i], period, months, discount_rate)
            })?)
        })
    })
}
