//! Analytics: the store-backed calls as `Crm` methods (JSON options in, JSON results out,
//! GIL released), the models as module functions over columns (also GIL released), and the
//! co-purchase model as a frozen native object. Fitted models are their parameters (JSON):
//! the Python classes in `crm.analytics` keep them.

use std::sync::Arc;

use crm_core::analytics::{
    BgNbd, BgNbdParams, ChurnOptions, CoPurchaseModel, CoPurchaseOptions, FitOptions, FittedBgNbd, FittedGammaGamma,
    GammaGamma, GammaGammaParams, Period, ReportOptions, Rfm, Spend, SummaryOptions, ValueOptions,
};
use crm_core::{Currency, CustomerId};
use pyo3::prelude::*;

use crate::error::{Error, Result};
use crate::handle::PyCrm;
use crate::json;

#[pymethods]
impl PyCrm {
    /// Purchase summary (`SummaryOptions` JSON in, `Summary` JSON out).
    fn analytics_summary(&self, py: Python<'_>, options: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.purchase_summary(&json::parse::<SummaryOptions>(&options)?)?)))
    }

    /// Summaries of every currency in one pass (JSON array out).
    fn analytics_summaries(&self, py: Python<'_>, options: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.purchase_summaries(&json::parse::<SummaryOptions>(&options)?)?)))
    }

    /// Per-customer predicted values with both models fitted (`ValueOptions` JSON in).
    fn analytics_customer_values(&self, py: Python<'_>, options: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.customer_values(&json::parse::<ValueOptions>(&options)?)?)))
    }

    /// Churn risk of every customer (`ChurnOptions` JSON in).
    fn analytics_churn_risk(&self, py: Python<'_>, options: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.churn_risk(&json::parse::<ChurnOptions>(&options)?)?)))
    }

    /// The customers at risk, riskiest first (`ChurnOptions` JSON in).
    fn analytics_customers_at_risk(&self, py: Python<'_>, options: String) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.customers_at_risk(&json::parse::<ChurnOptions>(&options)?)?)))
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
#[pyo3(signature = (frequency, recency, t, weights, fit))]
pub fn bgnbd_fit(
    py: Python<'_>,
    frequency: Vec<u32>,
    recency: Vec<f64>,
    t: Vec<f64>,
    weights: Option<Vec<f64>>,
    fit: String,
) -> Result<String> {
    py.detach(move || {
        let opts = json::parse::<FitOptions>(&fit)?;
        let h = histories(&frequency, &recency, &t)?;
        Ok(json::dump(&BgNbd::fit(&h, weights.as_deref(), &opts)?))
    })
}

/// For each history: (probability alive, expected purchases in the next `horizon` periods,
/// log-likelihood).
#[pyfunction]
pub fn bgnbd_predict(
    py: Python<'_>,
    params: String,
    frequency: Vec<u32>,
    recency: Vec<f64>,
    t: Vec<f64>,
    horizon: f64,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    py.detach(move || {
        let m = FittedBgNbd::from_params(json::parse::<BgNbdParams>(&params)?)?;
        let h = histories(&frequency, &recency, &t)?;
        let mut alive = Vec::with_capacity(h.len());
        let mut expected = Vec::with_capacity(h.len());
        let mut ll = Vec::with_capacity(h.len());
        for x in &h {
            alive.push(m.probability_alive(x)?);
            expected.push(m.conditional_expected_purchases(horizon, x)?);
            ll.push(m.individual_log_likelihood(x));
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
#[pyo3(signature = (frequency, monetary_value, weights, fit))]
pub fn gamma_gamma_fit(
    py: Python<'_>,
    frequency: Vec<u32>,
    monetary_value: Vec<f64>,
    weights: Option<Vec<f64>>,
    fit: String,
) -> Result<String> {
    py.detach(move || {
        let opts = json::parse::<FitOptions>(&fit)?;
        same_len("frequency", frequency.len(), &[monetary_value.len()])?;
        let data: Vec<Spend> =
            frequency.iter().zip(&monetary_value).map(|(&f, &m)| Spend { frequency: f, monetary_value: m }).collect();
        Ok(json::dump(&GammaGamma::fit(&data, weights.as_deref(), &opts)?))
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
        Ok(h.iter()
            .zip(&monetary_value)
            .map(|(x, &m)| gg.customer_lifetime_value(&bg, x, m, period, months, discount_rate))
            .collect::<crm_core::Result<_>>()?)
    })
}
