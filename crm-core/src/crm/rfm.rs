//! RFM: the facade over [`segment::rfm`](crate::segment::rfm).

use crate::config::ConfigKey;
use crate::crm::{now, Crm};
use crate::customer::CustomerId;
use crate::error::{Entity, Error, Result};
use crate::segment::rfm::*;
use crate::store::prelude::*;
use chrono::{DateTime, Utc};

/// RFM through the facade; each call is one transaction.
impl<S: Store> Crm<S> {
    /// Computes RFM values, scores and segment names for every member of the population
    /// (customers with completed spend in `config.currency`), without storing anything.
    /// Reads the statistics when the as-of time is at or after every member's last completed
    /// order, the orders otherwise (see the [module documentation](crate::segment::rfm)).
    ///
    /// ```
    /// use crm_core::segment::rfm::{RfmConfig, RfmSource};
    /// use crm_core::{Crm, NewCustomer, NewOrder};
    /// let crm = Crm::in_memory()?;
    /// let c = crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() })?;
    /// crm.record_order(&NewOrder {
    ///     external_id: "O-1".into(), customer_id: Some(c.id), customer_external_id: None,
    ///     occurred_at: "2026-01-05T10:00:00Z".parse()?, status: None,
    ///     currency: "USD".parse()?, total_minor: 2599, channel: None, items: None,
    /// })?;
    /// let table = crm.compute_rfm(&RfmConfig::new("USD".parse()?))?;
    /// assert_eq!(table.model.source, RfmSource::Stats);
    /// assert_eq!(table.scores[0].monetary_minor, 2599);
    ///
    /// // Before the order was placed, nobody had spent anything.
    /// let mut before = RfmConfig::new("USD".parse()?);
    /// before.as_of = Some("2026-01-01T00:00:00Z".parse()?);
    /// let table = crm.compute_rfm(&before)?;
    /// assert_eq!((table.model.source, table.model.population), (RfmSource::Orders, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compute_rfm(&self, config: &RfmConfig) -> Result<RfmTable> {
        let as_of = config.resolve_as_of()?;
        let (source, inputs) = self.store.read(|tx| rfm_inputs(tx, config.currency, as_of))?;
        Ok(RfmModel::build(config, as_of, source, inputs))
    }

    /// Computes RFM as [`compute_rfm`](Self::compute_rfm) does and stores it in one write
    /// transaction: every stored score is replaced (customers no longer in the population
    /// lose theirs) and the model is kept for [`score_rfm`](Self::score_rfm).
    ///
    /// ```
    /// use crm_core::segment::rfm::RfmConfig;
    /// let crm = crm_core::Crm::in_memory()?;
    /// let model = crm.refresh_rfm(&RfmConfig::new("USD".parse()?))?;
    /// assert_eq!(crm.rfm_model()?, Some(model));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refresh_rfm(&self, config: &RfmConfig) -> Result<RfmModel> {
        let as_of = config.resolve_as_of()?;
        self.store.write(|tx| {
            let (source, inputs) = rfm_inputs(tx, config.currency, as_of)?;
            let table = RfmModel::build(config, as_of, source, inputs);
            tx.replace_rfm(&table.scores)?;
            let json = serde_json::to_string(&table.model).expect("an RFM model serialises");
            tx.put_config(ConfigKey::RfmModel, &json, table.model.computed_at)?;
            Ok(table.model)
        })
    }

    /// The model stored by the last [`refresh_rfm`](Self::refresh_rfm), if any.
    pub fn rfm_model(&self) -> Result<Option<RfmModel>> {
        self.store.read(|tx| tx.config(ConfigKey::RfmModel)?.as_deref().map(RfmModel::from_stored).transpose())
    }

    /// A customer's score as stored by the last [`refresh_rfm`](Self::refresh_rfm); `None`
    /// when the customer was not in its population. [`Error::NotFound`] for an unknown customer.
    ///
    /// ```
    /// use crm_core::segment::rfm::RfmConfig;
    /// use crm_core::{Crm, NewCustomer};
    /// let crm = Crm::in_memory()?;
    /// let c = crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() })?;
    /// crm.refresh_rfm(&RfmConfig::new("USD".parse()?))?;
    /// assert_eq!(crm.rfm_of(c.id)?, None); // no orders, so not scored
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rfm_of(&self, id: CustomerId) -> Result<Option<RfmScore>> {
        self.store.read(|tx| {
            if !tx.customer_exists(id)? {
                return Err(Error::not_found(Entity::Customer, id));
            }
            tx.get_rfm(id)
        })
    }

    /// Scores one customer now (or as of `as_of`) from its own statistics against the
    /// boundaries and grid of the stored model, without reading anyone else: in the model's
    /// currency, with recency counted to `as_of`. When `as_of` is earlier than the customer's
    /// last completed order, its values are computed from its orders up to `as_of`.
    ///
    /// `None` when the customer has no completed spend in the model's currency;
    /// [`Error::NotFound`] for an unknown customer; [`Error::Validation`] on field
    /// `rfm_model` when no model was stored yet.
    ///
    /// For every member of the stored model's population, scoring as of the model's as-of
    /// time gives exactly the stored score.
    ///
    /// ```
    /// use crm_core::segment::rfm::RfmConfig;
    /// use crm_core::{Crm, NewCustomer, NewOrder};
    /// let crm = Crm::in_memory()?;
    /// let c = crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() })?;
    /// assert_eq!(crm.score_rfm(c.id, None).unwrap_err().field(), Some("rfm_model"));
    ///
    /// crm.record_order(&NewOrder {
    ///     external_id: "O-1".into(), customer_id: Some(c.id), customer_external_id: None,
    ///     occurred_at: "2026-01-05T10:00:00Z".parse()?, status: None,
    ///     currency: "USD".parse()?, total_minor: 2599, channel: None, items: None,
    /// })?;
    /// let mut config = RfmConfig::new("USD".parse()?);
    /// config.as_of = Some("2026-02-01T00:00:00Z".parse()?);
    /// crm.refresh_rfm(&config)?;
    /// let now = crm.score_rfm(c.id, config.as_of)?.unwrap();
    /// assert_eq!(Some(now), crm.rfm_of(c.id)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn score_rfm(&self, id: CustomerId, as_of: Option<DateTime<Utc>>) -> Result<Option<RfmScore>> {
        if let Some(t) = as_of {
            check_as_of(t)?;
        }
        let as_of = as_of.map_or_else(now, crate::validate::to_micros);
        self.store.read(|tx| {
            let model = tx
                .config(ConfigKey::RfmModel)?
                .ok_or_else(|| Error::validation("rfm_model", "no RFM model is stored yet; call refresh_rfm first"))?;
            let model = RfmModel::from_stored(&model)?;
            if !tx.customer_exists(id)? {
                return Err(Error::not_found(Entity::Customer, id));
            }
            let currency = model.config.currency;
            // As for the batch: the statistics unless the customer ordered after `as_of`.
            let input = match tx.rfm_input_of(id, currency, None)? {
                Some(i) if i.last_order_at > as_of => tx.rfm_input_of(id, currency, Some(as_of))?,
                stats => stats,
            };
            Ok(input.map(|i| model.score(&i, as_of)))
        })
    }

    /// Members per named segment of the stored scores: every name of the stored model's
    /// grid in reading order (zero where nobody falls), then any other stored name. Empty
    /// when no model was stored yet.
    ///
    /// ```
    /// use crm_core::segment::rfm::RfmConfig;
    /// let crm = crm_core::Crm::in_memory()?;
    /// assert!(crm.rfm_segment_sizes()?.is_empty());
    /// crm.refresh_rfm(&RfmConfig::new("USD".parse()?))?;
    /// assert!(crm.rfm_segment_sizes()?.iter().all(|(_, n)| *n == 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rfm_segment_sizes(&self) -> Result<Vec<(String, u64)>> {
        self.store.read(|tx| {
            let Some(model) = tx.config(ConfigKey::RfmModel)? else {
                return Ok(Vec::new());
            };
            let grid = RfmModel::from_stored(&model)?.config.grid;
            let counts = tx.rfm_segment_counts()?;
            Ok(sizes_in_grid_order(&grid, counts.into_iter().map(|(k, v)| (k, v as u64))))
        })
    }
}
