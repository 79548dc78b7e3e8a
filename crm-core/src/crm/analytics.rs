//! Predictive analytics: the facade over [`analytics`](crate::analytics) (summaries, fits, values, churn, recommendations, reports).

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};

use crate::analytics::bgnbd::{histories, BgNbd, FittedBgNbd, Rfm};
use crate::analytics::churn::{check_threshold, churn_risk_of, ChurnRisk};
use crate::analytics::facade::*;
use crate::analytics::optim::FitOptions;
use crate::analytics::progress::{self, report, ProgressFn, Step};
use crate::analytics::recommend::{
    AffinityBuilder, CategoryAffinity, CoPurchaseBuilder, CoPurchaseModel, CoPurchaseOptions, Recommendation,
};
use crate::analytics::reports::{ReportBuilder, ReportOptions, Reports};
use crate::analytics::round_minor;
use crate::analytics::summary::{Summary, SummaryBuilder, SummaryOptions};
use crate::crm::Crm;
use crate::customer::CustomerId;
use crate::error::{Entity, Error, Result};
use crate::money::Currency;
use crate::order::OrderScan;
use crate::store::prelude::*;

impl<S: Store> Crm<S> {
    /// Per-customer purchase summary (frequency, recency, T, monetary value) of the completed
    /// orders in one currency; see [`SummaryOptions`].
    ///
    /// Errors: no completed order in the currency; an observation (or calibration) end before
    /// every such order; a calibration end not before the observation end.
    ///
    /// ```
    /// use crm_core::analytics::SummaryOptions;
    /// use crm_core::{Crm, NewCustomer, NewOrder};
    /// let crm = Crm::in_memory()?;
    /// crm.upsert_customer(&NewCustomer { external_id: Some("C-1".into()), name: "Ada".into(), ..Default::default() })?;
    /// for (n, day) in ["2026-01-01", "2026-01-05", "2026-01-09"].iter().enumerate() {
    ///     let json = format!(r#"{{"external_id": "O-{n}", "customer_external_id": "C-1",
    ///         "occurred_at": "{day}T10:00:00Z", "currency": "EUR", "total_minor": 1000}}"#);
    ///     crm.record_order(&serde_json::from_str::<NewOrder>(&json)?)?;
    /// }
    /// let s = crm.purchase_summary(&SummaryOptions::new("EUR".parse()?, "2026-01-31T00:00:00Z".parse()?))?;
    /// let row = &s.rows[0];
    /// assert_eq!((row.frequency, row.recency, row.t), (2, 8.0, 30.0));
    /// assert_eq!(row.repeat_spend_minor, 2000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn purchase_summary(&self, opts: &SummaryOptions) -> Result<Summary> {
        self.purchase_summary_with_progress(opts, &mut progress::ignore)
    }

    /// [`Crm::purchase_summary`], reporting the orders read to `progress` ([`Step::Summary`]);
    /// [`Break`](std::ops::ControlFlow::Break) stops it with [`Error::Cancelled`].
    pub fn purchase_summary_with_progress(
        &self,
        opts: &SummaryOptions,
        progress: &mut ProgressFn<'_>,
    ) -> Result<Summary> {
        self.store().read(|tx| summarise(tx, opts, progress))
    }

    /// Summaries in every currency that has completed orders, in one pass over the orders,
    /// by currency code. `opts.currency` is ignored; the other settings apply to each summary.
    /// Currencies whose orders all fall after the (calibration) end are left out; the call
    /// fails only when no currency has a summary.
    ///
    /// ```
    /// use crm_core::analytics::SummaryOptions;
    /// use crm_core::synth::{Synth, SynthConfig};
    /// let crm = crm_core::Crm::in_memory()?;
    /// let synth = Synth::new(SynthConfig { customers: 200, ..Default::default() });
    /// crm.ingest_customers(synth.customers(), Default::default())?;
    /// crm.ingest_orders(synth.orders(), Default::default())?;
    /// let all = crm.purchase_summaries(&SummaryOptions::new("USD".parse()?, synth.config().end))?;
    /// assert!(all.len() > 1);
    /// let usd = all.iter().find(|s| s.currency.code() == "USD").unwrap();
    /// assert_eq!(usd, &crm.purchase_summary(&SummaryOptions::new("USD".parse()?, synth.config().end))?);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn purchase_summaries(&self, opts: &SummaryOptions) -> Result<Vec<Summary>> {
        self.purchase_summaries_with_progress(opts, &mut progress::ignore)
    }

    /// [`Crm::purchase_summaries`], reporting the orders read to `progress`
    /// ([`Step::Summary`]); [`Break`](std::ops::ControlFlow::Break) stops it with [`Error::Cancelled`].
    pub fn purchase_summaries_with_progress(
        &self,
        opts: &SummaryOptions,
        progress: &mut ProgressFn<'_>,
    ) -> Result<Vec<Summary>> {
        SummaryBuilder::new(opts)?;
        let mut builders: BTreeMap<&'static str, SummaryBuilder> = BTreeMap::new();
        let mut count = OrderCount { progress, read: 0 };
        let from_states = self.store().read(|tx| {
            if let Some(all) = summaries_from_states(tx, opts, None, count.progress)? {
                return Ok(Some(all));
            }
            report(count.progress, Step::Summary, 0, None)?;
            tx.scan_orders(&completed(None), &mut |o| {
                let b = match builders.entry(o.currency.code()) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => {
                        e.insert(SummaryBuilder::new(&SummaryOptions { currency: o.currency, ..*opts })?)
                    }
                };
                b.push(o.customer_id, o.occurred_at, o.total_minor);
                count.one()
            })?;
            Ok(None)
        })?;
        if let Some(all) = from_states {
            return Ok(all);
        }
        count.end()?;
        if builders.is_empty() {
            return Err(Error::validation("orders", "there are no completed orders to summarise"));
        }
        let mut out = Vec::new();
        let mut last_err = None;
        for b in builders.into_values() {
            match b.finish() {
                Ok(s) => out.push(s),
                Err(e) => last_err = Some(e),
            }
        }
        match (out.is_empty(), last_err) {
            (true, Some(e)) => Err(e),
            _ => Ok(out),
        }
    }

    /// Summarises, then fits BG/NBD on every customer and Gamma-Gamma on the repeat buyers.
    /// Errors: those of [`Crm::purchase_summary`], no repeat buyer, non-positive mean spend
    /// of a repeat buyer, and fits that do not converge.
    pub fn fit_purchase_models(&self, opts: &SummaryOptions, fit: &FitOptions) -> Result<PurchaseModels> {
        self.fit_purchase_models_with_progress(opts, fit, &mut progress::ignore)
    }

    /// [`Crm::fit_purchase_models`], reporting to `progress` ([`Step::Summary`], then
    /// [`Step::FitBgNbd`] and [`Step::FitGammaGamma`]); [`Break`](std::ops::ControlFlow::Break) stops it with
    /// [`Error::Cancelled`].
    pub fn fit_purchase_models_with_progress(
        &self,
        opts: &SummaryOptions,
        fit: &FitOptions,
        progress: &mut ProgressFn<'_>,
    ) -> Result<PurchaseModels> {
        fit.validate()?;
        let summary = self.purchase_summary_with_progress(opts, progress)?;
        let (bgnbd, gamma_gamma) = fit_both(&summary, fit, progress)?;
        Ok(PurchaseModels { summary, bgnbd, gamma_gamma })
    }

    /// Probability alive, expected purchases, expected purchase value and lifetime value of
    /// every customer of a summary, with both models fitted on it.
    ///
    /// ```
    /// use crm_core::analytics::{SummaryOptions, ValueOptions};
    /// use crm_core::synth::{Synth, SynthConfig};
    /// let crm = crm_core::Crm::in_memory()?;
    /// let synth = Synth::new(SynthConfig { customers: 300, ..Default::default() });
    /// crm.ingest_customers(synth.customers(), Default::default())?;
    /// crm.ingest_orders(synth.orders(), Default::default())?;
    /// let v = crm.customer_values(&ValueOptions::new(SummaryOptions::new("USD".parse()?, synth.config().end)))?;
    /// assert!(v.rows.iter().all(|r| r.clv_minor >= 0 && (0.0..=1.0).contains(&r.p_alive)));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn customer_values(&self, opts: &ValueOptions) -> Result<CustomerValues> {
        self.customer_values_with_progress(opts, &mut progress::ignore)
    }

    /// [`Crm::customer_values`], reporting to `progress` ([`Step::Summary`],
    /// [`Step::FitBgNbd`], [`Step::FitGammaGamma`], then [`Step::Score`]);
    /// [`Break`](std::ops::ControlFlow::Break) stops it with [`Error::Cancelled`].
    pub fn customer_values_with_progress(
        &self,
        opts: &ValueOptions,
        progress: &mut ProgressFn<'_>,
    ) -> Result<CustomerValues> {
        opts.fit.validate()?;
        if !(opts.horizon.is_finite() && opts.horizon >= 0.0) {
            return Err(Error::validation(
                "horizon",
                format!("{} is not a finite number of periods >= 0", opts.horizon),
            ));
        }
        let summary = self.purchase_summary_with_progress(&opts.summary, progress)?;
        let (bg, gg) = fit_both(&summary, &opts.fit, progress)?;
        let rows = score_each(&summary, progress, |r| {
            let h = Rfm::from(r);
            let clv =
                gg.clv_in(&bg, &h, r.monetary_value, summary.units_per_month(), opts.months, opts.discount_rate)?;
            Ok(CustomerValue {
                customer_id: r.customer_id,
                history: h,
                p_alive: bg.probability_alive(&h)?,
                expected_purchases: bg.conditional_expected_purchases(opts.horizon, &h)?,
                expected_average_value: gg.conditional_expected_average_value(r.frequency, r.monetary_value)?,
                clv_expected: clv,
                clv_minor: round_minor(clv)?,
            })
        })?;
        Ok(CustomerValues { currency: summary.currency, bgnbd: bg, gamma_gamma: gg, rows })
    }

    /// Churn risk of every customer of a summary (see [`churn`](crate::analytics::ChurnRisk) for the
    /// formula), in customer order.
    pub fn churn_risk(&self, opts: &ChurnOptions) -> Result<Vec<ChurnRisk>> {
        self.churn_risk_with_progress(opts, &mut progress::ignore)
    }

    /// [`Crm::churn_risk`], reporting to `progress` ([`Step::Summary`], [`Step::FitBgNbd`]
    /// unless the options give parameters, then [`Step::Score`]); [`Break`](std::ops::ControlFlow::Break)
    /// stops it with [`Error::Cancelled`].
    pub fn churn_risk_with_progress(
        &self,
        opts: &ChurnOptions,
        progress: &mut ProgressFn<'_>,
    ) -> Result<Vec<ChurnRisk>> {
        check_threshold(opts.threshold)?;
        opts.fit.validate()?;
        let model = match opts.params {
            Some(p) => Some(FittedBgNbd::from_params(p)?),
            None => None,
        };
        let summary = self.purchase_summary_with_progress(&opts.summary, progress)?;
        let model = match model {
            Some(m) => m,
            None => BgNbd::fit_with_progress(&histories(&summary), None, &opts.fit, progress)?,
        };
        score_each(&summary, progress, |r| churn_risk_of(&model, r.customer_id, &Rfm::from(r), opts.threshold))
    }

    /// The customers whose churn risk reaches the threshold, riskiest first (ties by id).
    ///
    /// ```
    /// use crm_core::analytics::{ChurnOptions, SummaryOptions};
    /// use crm_core::synth::{Synth, SynthConfig};
    /// let crm = crm_core::Crm::in_memory()?;
    /// let synth = Synth::new(SynthConfig { customers: 300, ..Default::default() });
    /// crm.ingest_customers(synth.customers(), Default::default())?;
    /// crm.ingest_orders(synth.orders(), Default::default())?;
    /// let opts = ChurnOptions::new(SummaryOptions::new("USD".parse()?, synth.config().end));
    /// let at_risk = crm.customers_at_risk(&opts)?;
    /// assert!(at_risk.iter().all(|c| c.at_risk && c.risk >= opts.threshold));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn customers_at_risk(&self, opts: &ChurnOptions) -> Result<Vec<ChurnRisk>> {
        self.customers_at_risk_with_progress(opts, &mut progress::ignore)
    }

    /// [`Crm::customers_at_risk`], reporting to `progress` as [`Crm::churn_risk_with_progress`]
    /// does; [`Break`](std::ops::ControlFlow::Break) stops it with [`Error::Cancelled`].
    pub fn customers_at_risk_with_progress(
        &self,
        opts: &ChurnOptions,
        progress: &mut ProgressFn<'_>,
    ) -> Result<Vec<ChurnRisk>> {
        let mut v: Vec<ChurnRisk> =
            self.churn_risk_with_progress(opts, progress)?.into_iter().filter(|c| c.at_risk).collect();
        v.sort_by(|a, b| b.risk.total_cmp(&a.risk).then(a.customer_id.cmp(&b.customer_id)));
        Ok(v)
    }

    /// Probability alive of one customer over their history, period by period from their first
    /// completed order (in the summary's currency) to the observation end.
    pub fn probability_alive_path(
        &self,
        model: &FittedBgNbd,
        customer: CustomerId,
        opts: &SummaryOptions,
    ) -> Result<Vec<AlivePoint>> {
        let mut opts = *opts;
        opts.calibration_end = None;
        let p = opts.period;
        let end = p.index(opts.observation_end);
        let periods = self.store().read(|tx| {
            if !tx.customer_exists(customer)? {
                return Err(Error::not_found(Entity::Customer, customer));
            }
            let b = SummaryBuilder::new(&opts)?;
            let scan =
                OrderScan { customer: Some(customer), before: Some(b.scan_before()), ..completed(Some(opts.currency)) };
            let mut periods: Vec<i64> = Vec::new();
            tx.scan_orders(&scan, &mut |o| {
                periods.push(p.index(o.occurred_at));
                Ok(())
            })?;
            Ok(periods)
        })?;
        let Some(&first) = periods.first() else {
            return Err(Error::validation(
                "customer",
                format!("customer {customer} has no completed order in {} by {}", opts.currency, opts.observation_end),
            ));
        };
        let offsets: Vec<u32> = periods.iter().map(|&q| (q - first) as u32).collect();
        let path = model.alive_path_in(&offsets, (end - first) as u32, opts.freq_multiplier)?;
        Ok(path
            .into_iter()
            .enumerate()
            .map(|(k, p_alive)| AlivePoint { period_start: p.start(first + k as i64), periods: k as u32, p_alive })
            .collect())
    }

    /// Co-purchase similarities between SKUs over the line items of every completed order
    /// (all currencies); see [`CoPurchaseModel`] for the similarity and the per-customer cap.
    ///
    /// ```
    /// use crm_core::analytics::CoPurchaseOptions;
    /// use crm_core::synth::{Synth, SynthConfig};
    /// let crm = crm_core::Crm::in_memory()?;
    /// let synth = Synth::new(SynthConfig { customers: 200, ..Default::default() });
    /// crm.ingest_customers(synth.customers(), Default::default())?;
    /// crm.ingest_orders(synth.orders(), Default::default())?;
    /// let model = crm.co_purchase_model(&CoPurchaseOptions::default())?;
    /// let sku = &synth.catalogue()[0].sku;
    /// if model.buyers(sku).is_some() {
    ///     for s in model.similar_items(sku, 5)? {
    ///         assert!(s.similarity > 0.0 && s.similarity <= 1.0);
    ///     }
    /// }
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn co_purchase_model(&self, opts: &CoPurchaseOptions) -> Result<CoPurchaseModel> {
        let mut b = CoPurchaseBuilder::new(opts)?;
        self.store().read(|tx| {
            tx.scan_order_items(&completed(None), &mut |i| {
                b.push(i.customer_id, i.sku);
                Ok(())
            })
        })?;
        let model = b.finish();
        if model.is_empty() {
            return Err(Error::validation("orders", "no completed order has line items to learn from"));
        }
        Ok(model)
    }

    /// The `k` SKUs most similar to what the customer bought (completed orders), leaving out
    /// what they already bought.
    pub fn recommend_for_customer(
        &self,
        model: &CoPurchaseModel,
        customer: CustomerId,
        k: usize,
    ) -> Result<Vec<Recommendation>> {
        let owned = self.store().read(|tx| {
            if !tx.customer_exists(customer)? {
                return Err(Error::not_found(Entity::Customer, customer));
            }
            let mut owned: Vec<String> = Vec::new();
            tx.scan_order_items(&OrderScan { customer: Some(customer), ..completed(None) }, &mut |i| {
                if !owned.iter().any(|s| s == i.sku) {
                    owned.push(i.sku.to_owned());
                }
                Ok(())
            })?;
            Ok(owned)
        })?;
        model.recommend(&owned, k)
    }

    /// Share of units and of spend per category, per customer (or for one customer), over the
    /// line items of completed orders in `currency`; rows by customer, largest spend first.
    ///
    /// ```
    /// use crm_core::{Crm, NewCustomer, NewOrder};
    /// let crm = Crm::in_memory()?;
    /// let c = crm.upsert_customer(&NewCustomer { external_id: Some("C-1".into()), name: "Ada".into(), ..Default::default() })?.record;
    /// crm.record_order(&serde_json::from_str::<NewOrder>(r#"{"external_id": "O-1", "customer_external_id": "C-1",
    ///     "occurred_at": "2026-01-01T10:00:00Z", "currency": "EUR", "total_minor": 4000, "items": [
    ///     {"sku": "B-1", "category": "books", "quantity": 3, "unit_price_minor": 1000},
    ///     {"sku": "T-1", "category": "toys", "quantity": 1, "unit_price_minor": 1000}]}"#)?)?;
    /// let rows = crm.category_affinity("EUR".parse()?, Some(c.id))?;
    /// assert_eq!(rows[0].category.as_deref(), Some("books"));
    /// assert_eq!((rows[0].items, rows[0].spend_minor, rows[0].spend_share), (3, 3000, 0.75));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn category_affinity(&self, currency: Currency, customer: Option<CustomerId>) -> Result<Vec<CategoryAffinity>> {
        let mut b = AffinityBuilder::new(currency);
        self.store().read(|tx| {
            if let Some(c) = customer {
                if !tx.customer_exists(c)? {
                    return Err(Error::not_found(Entity::Customer, c));
                }
            }
            tx.scan_order_items(&OrderScan { customer, ..completed(Some(currency)) }, &mut |i| {
                b.push(i.customer_id, i.category, i.quantity, i.unit_price_minor);
                Ok(())
            })
        })?;
        Ok(b.finish())
    }

    /// Descriptive reports over the completed orders in one currency, in one pass.
    ///
    /// ```
    /// use crm_core::analytics::{ReportOptions, ReportPeriod};
    /// use crm_core::synth::{Synth, SynthConfig};
    /// let crm = crm_core::Crm::in_memory()?;
    /// let synth = Synth::new(SynthConfig { customers: 200, ..Default::default() });
    /// crm.ingest_customers(synth.customers(), Default::default())?;
    /// crm.ingest_orders(synth.orders(), Default::default())?;
    /// let r = crm.reports(&ReportOptions { currency: "USD".parse()?, period: ReportPeriod::Month, before: None, segments: vec![] })?;
    /// let orders: u64 = r.revenue.iter().map(|p| p.orders).sum();
    /// assert_eq!(orders, r.frequency.iter().map(|b| b.orders * b.customers).sum::<u64>());
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn reports(&self, opts: &ReportOptions) -> Result<Reports> {
        if opts.segments.len() > 100 {
            return Err(Error::validation("segments", format!("at most 100, got {}", opts.segments.len())));
        }
        self.store().read(|tx| {
            // Today's members of each requested segment, in the same snapshot as the orders.
            let mut members: HashMap<CustomerId, Vec<usize>> = HashMap::new();
            for (i, name) in opts.segments.iter().enumerate() {
                for id in crate::segment::members_now(tx, name)? {
                    members.entry(id).or_default().push(i);
                }
            }
            let mut b = ReportBuilder::new(opts, members);
            tx.scan_orders(&OrderScan { before: opts.before, ..completed(Some(opts.currency)) }, &mut |o| {
                b.push(o.customer_id, o.occurred_at, o.total_minor, o.channel);
                Ok(())
            })?;
            Ok(b.finish())
        })
    }
}
