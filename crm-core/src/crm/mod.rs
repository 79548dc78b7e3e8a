//! The [`Crm`] facade: every public operation, each one transaction over any [`Store`].

mod analytics;
mod identity;
pub mod ingest;
mod loyalty;
pub(crate) mod matching;
pub(crate) mod merge;
mod rfm;
mod segments;
pub(crate) mod sources;
mod uow;

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::changes::{Change, Entity, Op};
use crate::customer::{
    Address, Customer, CustomerId, CustomerPatch, CustomerStats, LifecycleStage, NewCustomer, UpsertMode,
};
use crate::error::{Error, Result};
use crate::identity::merge::Moved;
use crate::identity::MergeId;
use crate::interaction::{Interaction, InteractionId, NewInteraction};
use crate::money::{Currency, Money};
use crate::order::{NewOrder, Order, OrderId, OrderPatch, OrderRefund, OrderStatus, Refund};
use crate::query::{Cursor, CustomerQuery, Page, MAX_PAGE};
use crate::segment::record_stage_change;
use crate::stats;
use crate::store::prelude::*;
use crate::store::{AnyStore, SqliteOptions, SqliteStore};
use crate::timeline::TimelineEntry;
use crate::validate::{CheckedPatch, ValidationConfig, Validator};
pub(crate) use merge::Target;
pub(crate) use uow::UnitOfWork;

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new record was stored.
    Created,
    /// An existing record (same external id) was changed.
    Updated,
    /// An existing record already held exactly this; nothing was written.
    Unchanged,
}

/// A stored record and what the write did to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Written<T> {
    /// The record as stored.
    pub record: T,
    /// What happened.
    pub outcome: Outcome,
}

/// Row counts of the main tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Customers.
    pub customers: i64,
    /// Orders.
    pub orders: i64,
    /// Interactions.
    pub interactions: i64,
}

/// Settings of a [`Crm`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CrmConfig {
    /// Input limits and the default phone region.
    pub validation: ValidationConfig,
    /// SQLite connection settings (used by [`Crm::open_with`] for a file).
    pub sqlite: SqliteOptions,
    /// PostgreSQL connection settings (used by [`Crm::open_with`] for a URL).
    #[cfg(feature = "postgres")]
    pub postgres: crate::store::PostgresOptions,
}

/// The customer-management facade over a [`Store`]. `Send + Sync`: share it between threads.
///
/// ```
/// use crm_core::{Crm, NewCustomer, NewOrder};
/// let crm = Crm::in_memory().unwrap();
/// let ada = crm.upsert_customer(&NewCustomer {
///     external_id: Some("C-1".into()), name: "Ada".into(), ..Default::default()
/// }).unwrap().record;
/// crm.record_order(&NewOrder {
///     external_id: "O-1".into(), customer_id: Some(ada.id), customer_external_id: None,
///     occurred_at: "2026-01-05T10:00:00Z".parse().unwrap(), status: None,
///     currency: "USD".parse().unwrap(), total_minor: 2599, channel: None, items: None,
/// }).unwrap();
/// assert_eq!(crm.customer_stats(ada.id).unwrap().order_count, 1);
/// ```
pub struct Crm<S: Store = AnyStore> {
    pub(crate) store: S,
    pub(crate) validator: Validator,
}

impl<S: Store> std::fmt::Debug for Crm<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crm").field("validation", self.validator.config()).finish_non_exhaustive()
    }
}

impl Crm<AnyStore> {
    /// Opens a database with default settings: a SQLite file (created if missing), SQLite's
    /// `:memory:`, or a PostgreSQL database by URL (`postgresql://user:password@host/db`,
    /// cargo feature `postgres`). Missing tables are created and older schemas upgraded.
    ///
    /// Errors: see [`SqliteStore::open`] and `PostgresStore::open` (feature `postgres`)
    /// (a malformed URL, refused credentials, an unreachable or too old server, a database
    /// written by a newer crm); nothing is created when opening fails.
    pub fn open(target: impl AsRef<Path>) -> Result<Crm<AnyStore>> {
        Crm::open_with(target, CrmConfig::default())
    }

    /// Opens a database (see [`Crm::open`]) with the given settings.
    pub fn open_with(target: impl AsRef<Path>, config: CrmConfig) -> Result<Crm<AnyStore>> {
        let validator = Validator::new(config.validation.clone())?;
        let target = target.as_ref();
        if let Some(url) = target.to_str().filter(|t| looks_like_url(t)) {
            return Ok(Crm { store: open_url(url, &config)?, validator });
        }
        Ok(Crm { store: AnyStore::Sqlite(SqliteStore::open_with(target, &config.sqlite)?), validator })
    }

    /// A private in-memory SQLite database.
    pub fn in_memory() -> Result<Crm<AnyStore>> {
        Crm::in_memory_with(CrmConfig::default())
    }

    /// A private in-memory SQLite database with the given settings. (`Crm::open(":memory:")`
    /// is the same.)
    pub fn in_memory_with(config: CrmConfig) -> Result<Crm<AnyStore>> {
        Crm::open_with(":memory:", config)
    }
}

/// Whether an open target is a URL (`scheme://`) rather than a file path.
fn looks_like_url(t: &str) -> bool {
    let Some((scheme, _)) = t.split_once("://") else { return false };
    !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(feature = "postgres")]
fn open_url(url: &str, config: &CrmConfig) -> Result<AnyStore> {
    if crate::store::postgres::is_url(url) {
        return Ok(AnyStore::Postgres(crate::store::PostgresStore::open_with(url, &config.postgres)?));
    }
    Err(Error::validation("url", "unknown scheme: crm opens postgresql:// URLs and SQLite file paths"))
}

#[cfg(not(feature = "postgres"))]
fn open_url(_url: &str, _config: &CrmConfig) -> Result<AnyStore> {
    Err(Error::validation(
        "url",
        "this build opens SQLite file paths only (PostgreSQL URLs need crm-core's `postgres` feature)",
    ))
}

impl<S: Store> Crm<S> {
    /// A facade over any store.
    pub fn with_store(store: S, validation: ValidationConfig) -> Result<Crm<S>> {
        Ok(Crm { store, validator: Validator::new(validation)? })
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    pub(crate) fn validator(&self) -> &Validator {
        &self.validator
    }

    // ---- customers -------------------------------------------------------------------

    /// Creates a customer. Fails with [`Error::Conflict`] when the external id is taken
    /// (use [`Crm::upsert_customer`] to make retries harmless).
    pub fn create_customer(&self, input: &NewCustomer) -> Result<Customer> {
        let v = self.validator.customer(input)?;
        self.store.write(|tx| {
            if let Some(ext) = &v.external_id {
                if tx.customer_id_by_external_id(ext)?.is_some() {
                    return Err(Error::Conflict(format!("a customer with external_id {ext:?} exists")));
                }
            }
            insert_customer(tx, v, now())
        })
    }

    /// Creates the customer, or merges `input` into the customer with the same
    /// `external_id` (required): a field that is `None` or an empty collection (and an
    /// empty `name`) is not sent and keeps its stored value (see [`NewCustomer`]). Sending
    /// the same input twice changes nothing the second time.
    ///
    /// ```
    /// use crm_core::{Crm, NewCustomer};
    /// let crm = Crm::in_memory()?;
    /// let erp = NewCustomer { external_id: Some("C-1".into()), name: "Ada".into(), ..Default::default() };
    /// crm.upsert_customer(&NewCustomer { tags: ["vip".to_string()].into(), ..erp.clone() })?;
    /// let ada = crm.upsert_customer(&NewCustomer { email: Some("ada@example.com".into()), ..erp })?.record;
    /// assert!(ada.tags.contains("vip"), "tags the second upsert did not send are kept");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn upsert_customer(&self, input: &NewCustomer) -> Result<Written<Customer>> {
        self.upsert_customer_with(input, UpsertMode::Merge)
    }

    /// [`Crm::upsert_customer`] with an explicit mode: [`UpsertMode::Replace`] makes `input`
    /// the whole profile of an existing customer (what it leaves out is cleared, save the
    /// lifecycle stage and creation time).
    pub fn upsert_customer_with(&self, input: &NewCustomer, mode: UpsertMode) -> Result<Written<Customer>> {
        self.upsert_customer_patch(&CustomerPatch::from(input), mode)
    }

    /// Creates the customer named by the patch's `external_id` (required; `name` is then
    /// required too), or applies the patch to it: absent fields keep their value, `null`
    /// clears, objects merge member by member (see [`CustomerPatch`]). This is the JSON
    /// upsert of the C and Python bindings.
    ///
    /// ```
    /// use crm_core::{Crm, CustomerPatch, UpsertMode};
    /// let crm = Crm::in_memory()?;
    /// let body = |json: &str| serde_json::from_str::<CustomerPatch>(json).unwrap();
    /// crm.upsert_customer_patch(&body(r#"{"external_id": "C-1", "name": "Ada", "email": "ada@example.com",
    ///     "attributes": {"plan": "gold", "erp": 7}}"#), UpsertMode::Merge)?;
    /// let ada = crm.upsert_customer_patch(&body(r#"{"external_id": "C-1", "email": null,
    ///     "attributes": {"erp": null}}"#), UpsertMode::Merge)?.record;
    /// assert_eq!((ada.name.as_str(), ada.email), ("Ada", None));
    /// assert_eq!(ada.attributes, serde_json::json!({"plan": "gold"}).as_object().unwrap().clone());
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn upsert_customer_patch(&self, patch: &CustomerPatch, mode: UpsertMode) -> Result<Written<Customer>> {
        let u = checked_upsert(&self.validator, patch, mode, "is required to upsert")?;
        self.store.write(|tx| upsert_customer(tx, &self.validator, u, now()))
    }

    /// Reads a customer; the id of a customer merged into another reads the survivor
    /// (see [`Crm::merge_customers`]).
    pub fn get_customer(&self, id: CustomerId) -> Result<Customer> {
        self.store.read(|tx| {
            let c = tx.get_customer(id)?.ok_or_else(|| Error::not_found(Entity::Customer, id))?;
            merge::resolve_customer_record(tx, c)
        })
    }

    /// Reads a customer by the host's external id (normalised as on the way in, see
    /// [`normalize_external_id`](crate::validate::normalize_external_id)).
    /// The external id of a customer merged into another reads the survivor.
    pub fn get_customer_by_external_id(&self, external_id: &str) -> Result<Customer> {
        let ext = self.validator.external_id("external_id", external_id)?;
        self.store.read(|tx| {
            let c = tx.customer_by_external_id(&ext)?.ok_or_else(|| Error::not_found(Entity::Customer, &ext))?;
            merge::resolve_customer_record(tx, c)
        })
    }

    /// The store id of the customer with this external id (normalised as on the way in);
    /// [`Error::NotFound`] when there is none.
    ///
    /// ```
    /// use crm_core::{Crm, NewCustomer};
    /// let crm = Crm::in_memory()?;
    /// let ada = crm.upsert_customer(&NewCustomer { external_id: Some("C-1".into()), name: "Ada".into(),
    ///     ..Default::default() })?.record;
    /// assert_eq!(crm.customer_id_by_external_id(" C-1\u{200b}")?, ada.id);
    /// assert!(crm.customer_id_by_external_id("C-2").is_err());
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn customer_id_by_external_id(&self, external_id: &str) -> Result<CustomerId> {
        let ext = self.validator.external_id("external_id", external_id)?;
        self.store.read(|tx| {
            let id = tx.customer_id_by_external_id(&ext)?.ok_or_else(|| Error::not_found(Entity::Customer, &ext))?;
            Ok(merge::resolve(tx, id)?.id)
        })
    }

    /// The store id of the order with this external id (normalised as on the way in);
    /// [`Error::NotFound`] when there is none.
    pub fn order_id_by_external_id(&self, external_id: &str) -> Result<OrderId> {
        let ext = self.validator.external_id("external_id", external_id)?;
        self.store.read(|tx| tx.order_id_by_external_id(&ext)?.ok_or_else(|| Error::not_found(Entity::Order, &ext)))
    }

    /// The store id of the interaction with this external id (normalised as on the way
    /// in); [`Error::NotFound`] when there is none.
    pub fn interaction_id_by_external_id(&self, external_id: &str) -> Result<InteractionId> {
        let ext = self.validator.external_id("external_id", external_id)?;
        self.store.read(|tx| {
            tx.interaction_id_by_external_id(&ext)?.ok_or_else(|| Error::not_found(Entity::Interaction, &ext))
        })
    }

    /// Applies a partial update (see [`CustomerPatch`]) and returns the customer as stored
    /// (the survivor, when `id` was merged into another).
    pub fn update_customer(&self, id: CustomerId, patch: &CustomerPatch) -> Result<Customer> {
        let p = self.validator.customer_patch(patch)?;
        self.store.write(|tx| {
            let old = tx.get_customer(id)?.ok_or_else(|| Error::not_found(Entity::Customer, id))?;
            let old = merge::resolve_customer_record(tx, old)?;
            let id = old.id;
            let v = profile(&self.validator, Some(&old), p, UpsertMode::Merge)?;
            if let Some(ext) = &v.external_id {
                if old.external_id.as_ref() != Some(ext) && tx.customer_id_by_external_id(ext)?.is_some() {
                    return Err(Error::Conflict(format!("a customer with external_id {ext:?} exists")));
                }
            }
            let new = merge_customer(&old, v, now());
            if same_customer(&old, &new) {
                return Ok(old);
            }
            matching::update_customer(tx, &old, &new)?;
            record_stage_change(tx, &old, &new)?;
            tx.append_change(Entity::Customer, id.0, Op::Update, new.updated_at)?;
            Ok(new)
        })
    }

    /// Deletes a customer with all their orders and interactions, and the customers merged
    /// into them (the same person's other records) with their merge log. A customer merged
    /// into another is not deleted alone ([`Error::Merge`]): unmerge it first, or delete
    /// the survivor.
    pub fn delete_customer(&self, id: CustomerId) -> Result<()> {
        self.store.write(|tx| {
            if !tx.customer_exists(id)? {
                return Err(Error::not_found(Entity::Customer, id));
            }
            if let Some((_, s)) = tx.merge_link(id)? {
                return Err(crate::identity::merge::merge_error(
                    crate::identity::MergeErrorKind::MergedAway,
                    format!("customer {id} is merged into customer {s}: unmerge it first, or delete {s}"),
                ));
            }
            let mut gone = vec![id];
            let mut i = 0;
            while i < gone.len() {
                let more = tx.merged_into(gone[i])?;
                gone.extend(more);
                i += 1;
            }
            for c in gone.into_iter().rev() {
                delete_one(tx, c)?;
            }
            Ok(())
        })
    }

    /// A customer's statistics (completed orders only).
    pub fn customer_stats(&self, id: CustomerId) -> Result<CustomerStats> {
        self.store.read(|tx| {
            if !tx.customer_exists(id)? {
                return Err(Error::not_found(Entity::Customer, id));
            }
            let id = merge::resolve(tx, id)?.id;
            tx.get_stats(id)
        })
    }

    /// The customers who spent most in `currency` (completed orders), largest first.
    pub fn top_customers_by_spend(&self, currency: Currency, limit: usize) -> Result<Vec<(Customer, Money)>> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::validation("limit", format!("{limit} is outside 1 ..= {MAX_PAGE}")));
        }
        self.store.read(|tx| {
            let top = tx.top_spenders(currency, limit)?;
            top.into_iter()
                .map(|(id, minor)| {
                    let c = tx.get_customer(id)?.ok_or_else(|| Error::not_found(Entity::Customer, id))?;
                    Ok((c, Money::new(minor, currency)))
                })
                .collect()
        })
    }

    /// Customers matching a query, one page at a time.
    ///
    /// ```
    /// use crm_core::{Crm, CustomerQuery, NewCustomer};
    /// let crm = Crm::in_memory().unwrap();
    /// for n in 0..5 {
    ///     crm.create_customer(&NewCustomer { name: format!("C{n}"), ..Default::default() }).unwrap();
    /// }
    /// let mut q = CustomerQuery { limit: 2, ..Default::default() };
    /// let mut seen = 0;
    /// loop {
    ///     let page = crm.query_customers(&q).unwrap();
    ///     seen += page.items.len();
    ///     match page.next_cursor { Some(c) => q.cursor = Some(c), None => break }
    /// }
    /// assert_eq!(seen, 5);
    /// ```
    pub fn query_customers(&self, q: &CustomerQuery) -> Result<Page<Customer>> {
        if q.limit == 0 || q.limit > MAX_PAGE {
            return Err(Error::validation("limit", format!("{} is outside 1 ..= {MAX_PAGE}", q.limit)));
        }
        let after = q.cursor.as_deref().map(|c| Cursor::decode(c, q.sort, q.descending)).transpose()?;
        let mut rows =
            self.store.read(|tx| tx.query_customers(&q.filter, q.sort, q.descending, after.as_ref(), q.limit + 1))?;
        let more = rows.len() > q.limit;
        rows.truncate(q.limit);
        let next_cursor = if more {
            rows.last().map(|(c, v)| Cursor { value: v.clone(), id: c.id.0 }.encode(q.sort, q.descending))
        } else {
            None
        };
        Ok(Page { items: rows.into_iter().map(|(c, _)| c).collect(), next_cursor })
    }

    /// Customers whose email or phone starts with, or whose name or company contains, `text`
    /// (ASCII case-insensitive), by id, at most `limit`.
    pub fn search_customers(&self, text: &str, limit: usize) -> Result<Vec<Customer>> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::validation("limit", format!("{limit} is outside 1 ..= {MAX_PAGE}")));
        }
        if text.len() > self.validator.config().max_short_len {
            return Err(Error::validation("text", "is longer than any searchable field"));
        }
        self.store.read(|tx| tx.search_customers(text, limit))
    }

    /// A customer's orders and interactions, newest first, one page at a time.
    pub fn timeline(&self, id: CustomerId, limit: usize, cursor: Option<&str>) -> Result<Page<TimelineEntry>> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::validation("limit", format!("{limit} is outside 1 ..= {MAX_PAGE}")));
        }
        let before = cursor.map(decode_timeline_cursor).transpose()?;
        let mut rows = self.store.read(|tx| {
            if !tx.customer_exists(id)? {
                return Err(Error::not_found(Entity::Customer, id));
            }
            tx.timeline(id, before, limit + 1)
        })?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(|e| {
                let (t, k, i) = e.key();
                format!("{t}.{k}.{i}")
            })
        } else {
            None
        };
        Ok(Page { items: rows, next_cursor })
    }

    // ---- interactions ----------------------------------------------------------------

    /// Records an interaction. With an external id, recording it again changes nothing
    /// (or updates it, if the content differs).
    pub fn add_interaction(&self, input: &NewInteraction) -> Result<Written<Interaction>> {
        let v = self.validator.interaction(input)?;
        self.store.write(|tx| {
            let mut acc = UnitOfWork::default();
            let w = write_interaction(tx, v, now(), &mut acc)?;
            acc.flush(tx)?;
            Ok(w)
        })
    }

    /// Reads an interaction.
    pub fn get_interaction(&self, id: InteractionId) -> Result<Interaction> {
        self.store.read(|tx| tx.get_interaction(id)?.ok_or_else(|| Error::not_found(Entity::Interaction, id)))
    }

    /// Deletes an interaction and updates its customer's statistics.
    pub fn delete_interaction(&self, id: InteractionId) -> Result<()> {
        self.store.write(|tx| {
            let i = tx.get_interaction(id)?.ok_or_else(|| Error::not_found(Entity::Interaction, id))?;
            tx.delete_interaction(id)?;
            tx.append_change(Entity::Interaction, id.0, Op::Delete, now())?;
            stats::recompute(tx, i.customer_id)
        })
    }

    // ---- orders ----------------------------------------------------------------------

    /// Records an order, upserting by its external id: the same order sent twice is
    /// stored once; a change (status, total, lines, time, customer) updates it, its
    /// customer's statistics and its loyalty points in the same transaction. What the
    /// input leaves out (status, channel, items, the customer) keeps its stored value
    /// (see [`NewOrder`]).
    pub fn record_order(&self, input: &NewOrder) -> Result<Written<Order>> {
        let v = self.validator.order(input)?;
        self.store.write(|tx| {
            let mut acc = UnitOfWork::default();
            let w = write_order(tx, v, now(), &mut acc)?;
            acc.flush(tx)?;
            Ok(w)
        })
    }

    /// Applies a partial update to a stored order: only the fields the patch sets change.
    /// Statistics and loyalty points follow in the same transaction.
    ///
    /// ```
    /// use crm_core::{Crm, NewCustomer, NewOrder, OrderPatch, OrderStatus, Outcome};
    /// let crm = Crm::in_memory().unwrap();
    /// let ada = crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() }).unwrap();
    /// let o: NewOrder = serde_json::from_str(&format!(r#"{{"external_id": "O-1", "customer_id": {},
    ///     "occurred_at": "2026-03-01T12:00:00Z", "currency": "EUR", "total_minor": 5000,
    ///     "items": [{{"sku": "B-1", "quantity": 2, "unit_price_minor": 2500}}]}}"#, ada.id)).unwrap();
    /// let id = crm.record_order(&o).unwrap().record.id;
    /// let patch = OrderPatch { status: Some(OrderStatus::Refunded), ..Default::default() };
    /// let w = crm.update_order(id, &patch).unwrap();
    /// assert_eq!((w.outcome, w.record.items.len()), (Outcome::Updated, 1)); // the lines stay
    /// assert_eq!(crm.customer_stats(ada.id).unwrap().order_count, 0);
    /// ```
    pub fn update_order(&self, id: OrderId, patch: &OrderPatch) -> Result<Written<Order>> {
        let p = self.validator.order_patch(patch)?;
        self.store.write(|tx| {
            let old = tx.get_order(id)?.ok_or_else(|| Error::not_found(Entity::Order, id))?;
            let mut acc = UnitOfWork::default();
            let w = patch_order(tx, old, p, now(), &mut acc)?;
            acc.flush(tx)?;
            Ok(w)
        })
    }

    /// [`update_order`](Self::update_order) of the order with this external id.
    pub fn update_order_by_external_id(&self, external_id: &str, patch: &OrderPatch) -> Result<Written<Order>> {
        let p = self.validator.order_patch(patch)?;
        let ext = self.validator.external_id("external_id", external_id)?;
        self.store.write(|tx| {
            let old = tx.order_by_external_id(&ext)?.ok_or_else(|| Error::not_found(Entity::Order, &ext))?;
            let mut acc = UnitOfWork::default();
            let w = patch_order(tx, old, p, now(), &mut acc)?;
            acc.flush(tx)?;
            Ok(w)
        })
    }

    /// Sets the status of the order with this external id, and nothing else (the ERP's
    /// "order refunded" or "order cancelled" message). Setting the status it has is a no-op.
    pub fn set_order_status(&self, external_id: &str, status: OrderStatus) -> Result<Written<Order>> {
        self.update_order_by_external_id(external_id, &OrderPatch { status: Some(status), ..OrderPatch::default() })
    }

    /// Refunds part or all of the completed order with this external id (see [`Refund`]):
    /// the refunded lines leave the order, the amount leaves its total, and the order becomes
    /// `refunded` when nothing is left; statistics and loyalty points follow in the same
    /// transaction. Sending the same refund again (same key) changes nothing and returns the
    /// order ([`Outcome::Unchanged`]); another refund under a used key is
    /// [`Error::Conflict`]. Fails with [`Error::Validation`] (nothing written) when the order
    /// is not completed, a line is not on the order or has fewer units left, or the amount
    /// exceeds what is left.
    ///
    /// ```
    /// use crm_core::{Crm, NewCustomer, NewOrder, OrderStatus, Refund, RefundLine};
    /// let crm = Crm::in_memory().unwrap();
    /// let ada = crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() }).unwrap();
    /// let o: NewOrder = serde_json::from_str(&format!(r#"{{"external_id": "O-1", "customer_id": {},
    ///     "occurred_at": "2026-03-01T12:00:00Z", "currency": "EUR", "total_minor": 6000,
    ///     "items": [{{"sku": "SHOE", "quantity": 2, "unit_price_minor": 2500}},
    ///               {{"sku": "SOCK", "quantity": 1, "unit_price_minor": 1000}}]}}"#, ada.id)).unwrap();
    /// crm.record_order(&o).unwrap();
    /// let r = Refund { key: "RF-1".into(), lines: vec![RefundLine { sku: "SHOE".into(), quantity: 1 }], ..Default::default() };
    /// let after = crm.refund_order("O-1", &r).unwrap().record;
    /// assert_eq!((after.total.minor, after.items[0].quantity, after.status), (3500, 1, OrderStatus::Completed));
    /// assert_eq!(crm.refund_order("O-1", &r).unwrap().record.total.minor, 3500); // a retry
    /// assert_eq!(crm.customer_stats(ada.id).unwrap().total_spent[0].minor, 3500);
    /// ```
    pub fn refund_order(&self, external_id: &str, refund: &Refund) -> Result<Written<Order>> {
        let r = self.validator.refund(refund)?;
        let ext = self.validator.external_id("external_id", external_id)?;
        self.store.write(|tx| {
            let old = tx.order_by_external_id(&ext)?.ok_or_else(|| Error::not_found(Entity::Order, &ext))?;
            if let Some(done) = tx.refund_by_key(&r.key)? {
                let same = done.order_id == old.id
                    && r.amount_minor.is_none_or(|m| m == done.amount_minor)
                    && r.lines == done.lines;
                if !same {
                    return Err(Error::Conflict(format!(
                        "refund key {:?} was used for a refund of {} on order {}",
                        r.key, done.amount_minor, done.order_id
                    )));
                }
                return Ok(Written { record: old, outcome: Outcome::Unchanged });
            }
            let now = now();
            let (new, stored) = apply_refund(&old, r, now)?;
            tx.insert_refund(&stored)?;
            let mut acc = UnitOfWork::default();
            let w = change_order(tx, old, new, now, &mut acc)?;
            acc.flush(tx)?;
            Ok(w)
        })
    }

    /// The refunds of an order, oldest first.
    pub fn order_refunds(&self, id: OrderId) -> Result<Vec<OrderRefund>> {
        self.store.read(|tx| {
            if tx.get_order(id)?.is_none() {
                return Err(Error::not_found(Entity::Order, id));
            }
            tx.refunds_of_order(id)
        })
    }

    /// Reads an order with its line items.
    pub fn get_order(&self, id: OrderId) -> Result<Order> {
        self.store.read(|tx| tx.get_order(id)?.ok_or_else(|| Error::not_found(Entity::Order, id)))
    }

    /// Reads an order by the host's external id (normalised as on the way in).
    pub fn get_order_by_external_id(&self, external_id: &str) -> Result<Order> {
        let ext = self.validator.external_id("external_id", external_id)?;
        self.store.read(|tx| tx.order_by_external_id(&ext)?.ok_or_else(|| Error::not_found(Entity::Order, &ext)))
    }

    /// Deletes an order (with its refunds) and updates its customer's statistics and
    /// loyalty points (what the order earned is taken back).
    pub fn delete_order(&self, id: OrderId) -> Result<()> {
        self.store.write(|tx| {
            let o = tx.get_order(id)?.ok_or_else(|| Error::not_found(Entity::Order, id))?;
            let at = now();
            let mut acc = UnitOfWork::default();
            acc.order_deleting(tx, &o, at)?;
            tx.delete_order(id)?;
            tx.append_change(Entity::Order, id.0, Op::Delete, at)?;
            acc.flush(tx)
        })
    }

    // ---- feed and counts ---------------------------------------------------------------

    /// Change-feed entries after `seq` (0 for the start), oldest first, at most `limit`.
    pub fn changes_since(&self, seq: i64, limit: usize) -> Result<Vec<Change>> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::validation("limit", format!("{limit} is outside 1 ..= {MAX_PAGE}")));
        }
        self.store.read(|tx| tx.changes_since(seq, limit))
    }

    /// Row counts.
    pub fn counts(&self) -> Result<Counts> {
        self.store.read(|tx| {
            Ok(Counts {
                customers: tx.count_customers()?,
                orders: tx.count_orders()?,
                interactions: tx.count_interactions()?,
            })
        })
    }
}

pub(crate) use crate::validate::now;

fn decode_timeline_cursor(text: &str) -> Result<(i64, u8, i64)> {
    let bad = || Error::validation("cursor", format!("{text:?} is not a timeline cursor"));
    let mut it = text.split('.');
    let (Some(t), Some(k), Some(i), None) = (it.next(), it.next(), it.next(), it.next()) else { return Err(bad()) };
    Ok((t.parse().map_err(|_| bad())?, k.parse().map_err(|_| bad())?, i.parse().map_err(|_| bad())?))
}

/// Stores a new customer with its match keys, then applies the match policy; returns the
/// customer the write ends at (the survivor when the policy merged the new one).
fn insert_customer(tx: &mut (impl StoreTx + ?Sized), v: NewCustomer, now: DateTime<Utc>) -> Result<Customer> {
    let mut c = new_customer(v, now);
    c.id = tx.insert_customer(&c)?;
    tx.append_change(Entity::Customer, c.id.0, Op::Insert, now)?;
    created(tx, c, now)
}

/// A customer just stored: its match keys, then the match policy. The customer the write
/// ends at (the survivor when the policy merged it).
pub(crate) fn created(tx: &mut (impl StoreTx + ?Sized), c: Customer, now: DateTime<Utc>) -> Result<Customer> {
    if !matching::add_keys(tx, std::slice::from_ref(&c))? {
        return Ok(c);
    }
    let policy = matching::active_policy(tx)?;
    let end = matching::after_create(tx, &c, &policy, now)?;
    if end == c.id {
        Ok(c)
    } else {
        tx.get_customer(end)?.ok_or_else(|| Error::not_found(Entity::Customer, end))
    }
}

/// The customer a validated profile creates (its id is the store's to assign).
fn new_customer(v: NewCustomer, now: DateTime<Utc>) -> Customer {
    Customer {
        id: CustomerId(0),
        external_id: v.external_id,
        kind: v.kind.unwrap_or_default(),
        name: v.name,
        email: v.email,
        phone: v.phone,
        company: v.company,
        title: v.title,
        industry: v.industry,
        address: v.address,
        birthday: v.birthday,
        gender: v.gender,
        tags: v.tags,
        attributes: v.attributes,
        consents: v.consents,
        lifecycle: v.lifecycle.unwrap_or(LifecycleStage::Prospect),
        created_at: v.created_at.unwrap_or(now),
        updated_at: now,
        merged_into: None,
    }
}

/// An upsert whose patch passed validation: the key, the changes and the mode.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerUpsert {
    pub(crate) key: String,
    pub(crate) patch: CheckedPatch,
    pub(crate) mode: UpsertMode,
}

/// Validates an upsert; `missing` is the reason given when the patch has no external id.
pub(crate) fn checked_upsert(
    validator: &Validator,
    patch: &CustomerPatch,
    mode: UpsertMode,
    missing: &str,
) -> Result<CustomerUpsert> {
    if !matches!(patch.external_id, Some(Some(_))) {
        return Err(Error::validation("external_id", missing));
    }
    let patch = validator.customer_patch(patch)?;
    let key = patch.patch.external_id.clone().flatten().expect("checked above; normalising keeps it");
    Ok(CustomerUpsert { key, patch, mode })
}

/// Upserts a validated customer by external id (shared by single calls and bulk ingest).
pub(crate) fn upsert_customer(
    tx: &mut (impl StoreTx + ?Sized),
    validator: &Validator,
    mut u: CustomerUpsert,
    now: DateTime<Utc>,
) -> Result<Written<Customer>> {
    let old = tx.customer_by_external_id(&u.key)?;
    let old = merge::upsert_target(tx, old, &mut u)?;
    let w = plan_upsert(validator, u, old, now)?;
    apply_upsert(tx, w, now)
}

/// What an upsert does, decided before anything is written.
#[derive(Debug)]
pub(crate) enum CustomerWrite {
    /// A new customer (its id still unassigned).
    Create(Customer),
    /// A change to the stored customer `old` (boxed: two customers).
    Update { old: Customer, new: Box<Customer> },
    /// Nothing: the stored customer already says it all.
    Same(Customer),
}

/// What upserting `u` does, given `old`, the stored customer with its key (if any): the one
/// place an upsert is decided, for single calls and bulk ingest alike.
pub(crate) fn plan_upsert(
    validator: &Validator,
    u: CustomerUpsert,
    old: Option<Customer>,
    now: DateTime<Utc>,
) -> Result<CustomerWrite> {
    Ok(match old {
        None => CustomerWrite::Create(new_customer(profile(validator, None, u.patch, u.mode)?, now)),
        Some(old) => {
            let v = profile(validator, Some(&old), u.patch, u.mode)?;
            let new = merge_customer(&old, v, now);
            if same_customer(&old, &new) {
                CustomerWrite::Same(old)
            } else {
                CustomerWrite::Update { old, new: Box::new(new) }
            }
        }
    })
}

/// Writes what [`plan_upsert`] decided: the record, its stage history and its change entry.
pub(crate) fn apply_upsert(
    tx: &mut (impl StoreTx + ?Sized),
    w: CustomerWrite,
    now: DateTime<Utc>,
) -> Result<Written<Customer>> {
    match w {
        CustomerWrite::Create(mut c) => {
            c.id = tx.insert_customer(&c)?;
            tx.append_change(Entity::Customer, c.id.0, Op::Insert, now)?;
            Ok(Written { record: created(tx, c, now)?, outcome: Outcome::Created })
        }
        CustomerWrite::Update { old, new } => {
            matching::update_customer(tx, &old, &new)?;
            record_stage_change(tx, &old, &new)?;
            tx.append_change(Entity::Customer, new.id.0, Op::Update, now)?;
            Ok(Written { record: *new, outcome: Outcome::Updated })
        }
        CustomerWrite::Same(old) => Ok(Written { record: old, outcome: Outcome::Unchanged }),
    }
}

/// The profile a checked patch leads to, and the one place where changes to a customer are
/// merged (updates, upserts and bulk ingest all come here): the patch applied to the
/// stored customer (merge), or to an empty profile (a new customer; or a replace, which
/// keeps the stored lifecycle stage and creation time unless the patch sends them).
fn profile(validator: &Validator, old: Option<&Customer>, p: CheckedPatch, mode: UpsertMode) -> Result<NewCustomer> {
    let mut c = match (old, mode) {
        (Some(o), UpsertMode::Merge) => as_input(o),
        (Some(o), UpsertMode::Replace) => NewCustomer {
            kind: Some(Default::default()),
            lifecycle: Some(o.lifecycle),
            created_at: Some(o.created_at),
            ..Default::default()
        },
        (None, _) => NewCustomer::default(),
    };
    // Attributes merged into stored ones may outgrow the limit the patch alone kept to.
    let merged_attributes = matches!(p.patch.attributes, Some(Some(_))) && !c.attributes.is_empty();
    apply_patch(&mut c, p.patch);
    validator.finish_customer(&mut c, p.phone_pending, merged_attributes)?;
    Ok(c)
}

/// The stored customer `old` with the profile `v` (the result of [`profile`]); what only
/// the store sets (id, merge link) is kept.
fn merge_customer(old: &Customer, v: NewCustomer, now: DateTime<Utc>) -> Customer {
    Customer {
        id: old.id,
        external_id: v.external_id,
        kind: v.kind.unwrap_or(old.kind),
        name: v.name,
        email: v.email,
        phone: v.phone,
        company: v.company,
        title: v.title,
        industry: v.industry,
        address: v.address,
        birthday: v.birthday,
        gender: v.gender,
        tags: v.tags,
        attributes: v.attributes,
        consents: v.consents,
        lifecycle: v.lifecycle.unwrap_or(old.lifecycle),
        created_at: v.created_at.unwrap_or(old.created_at),
        updated_at: now,
        merged_into: old.merged_into,
    }
}

fn same_customer(a: &Customer, b: &Customer) -> bool {
    Customer { updated_at: b.updated_at, ..a.clone() } == *b
}

fn as_input(c: &Customer) -> NewCustomer {
    NewCustomer {
        external_id: c.external_id.clone(),
        kind: Some(c.kind),
        name: c.name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        company: c.company.clone(),
        title: c.title.clone(),
        industry: c.industry.clone(),
        address: c.address.clone(),
        birthday: c.birthday,
        gender: c.gender.clone(),
        tags: c.tags.clone(),
        attributes: c.attributes.clone(),
        consents: c.consents.clone(),
        lifecycle: Some(c.lifecycle),
        created_at: Some(c.created_at),
    }
}

/// Applies a patch by the rules of [`CustomerPatch`] (JSON Merge Patch).
fn apply_patch(c: &mut NewCustomer, p: CustomerPatch) {
    fn set<T>(dst: &mut T, src: Option<T>) {
        if let Some(v) = src {
            *dst = v;
        }
    }
    set(&mut c.external_id, p.external_id);
    set(&mut c.kind, p.kind.map(Some));
    set(&mut c.name, p.name);
    set(&mut c.email, p.email);
    set(&mut c.phone, p.phone);
    set(&mut c.company, p.company);
    set(&mut c.title, p.title);
    set(&mut c.industry, p.industry);
    match p.address {
        None => {}
        Some(None) => c.address = Address::default(),
        Some(Some(a)) => {
            set(&mut c.address.country, a.country);
            set(&mut c.address.region, a.region);
            set(&mut c.address.city, a.city);
            set(&mut c.address.postal_code, a.postal_code);
            set(&mut c.address.street, a.street);
        }
    }
    set(&mut c.birthday, p.birthday);
    set(&mut c.gender, p.gender);
    set(&mut c.tags, p.tags);
    c.tags.extend(p.add_tags);
    for t in &p.remove_tags {
        c.tags.remove(t);
    }
    match p.attributes {
        None => {}
        Some(None) => c.attributes.clear(),
        Some(Some(m)) => {
            for (k, v) in m {
                if v.is_null() {
                    c.attributes.remove(&k);
                } else {
                    c.attributes.insert(k, v);
                }
            }
        }
    }
    match p.consents {
        None => {}
        Some(None) => c.consents.clear(),
        Some(Some(m)) => {
            for (purpose, consent) in m {
                match consent {
                    Some(v) => c.consents.insert(purpose, v),
                    None => c.consents.remove(&purpose),
                };
            }
        }
    }
    set(&mut c.lifecycle, p.lifecycle.map(Some));
    set(&mut c.created_at, p.created_at.map(Some));
}

/// Resolves the customer an order or interaction names, by id or by external id (exactly
/// one), to the customer written to (the survivor when the one named was merged away).
pub(crate) fn resolve_customer(
    tx: &mut (impl StoreTx + ?Sized),
    id: Option<CustomerId>,
    external_id: Option<&str>,
) -> Result<Target> {
    let named = resolve_customer_with(id, external_id, |by| match by {
        CustomerRef::Id(id) => Ok(tx.customer_exists(id)?.then_some(id)),
        CustomerRef::External(ext) => tx.customer_id_by_external_id(ext),
    })?;
    merge::resolve(tx, named)
}

/// How a record names its customer, for [`resolve_customer_with`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum CustomerRef<'a> {
    /// By store id.
    Id(CustomerId),
    /// By external id (normalised).
    External(&'a str),
}

/// [`resolve_customer`] with the lookup given: `find` returns the id of the customer named,
/// if one is stored. The one place the rules and messages of naming a customer live.
pub(crate) fn resolve_customer_with(
    id: Option<CustomerId>,
    external_id: Option<&str>,
    find: impl FnOnce(CustomerRef<'_>) -> Result<Option<CustomerId>>,
) -> Result<CustomerId> {
    match (id, external_id) {
        (Some(id), None) => find(CustomerRef::Id(id))?
            .ok_or_else(|| Error::validation("customer_id", format!("no customer has id {id}"))),
        (None, Some(ext)) => find(CustomerRef::External(ext))?
            .ok_or_else(|| Error::validation("customer_external_id", format!("no customer has external_id {ext:?}"))),
        (Some(_), Some(_)) => {
            Err(Error::validation("customer_id", "give customer_id or customer_external_id, not both"))
        }
        (None, None) => Err(Error::validation("customer_id", "customer_id or customer_external_id is required")),
    }
}

/// Stores a validated order or applies a change to the stored one with the same external
/// id; what `v` leaves out (status, channel, items, the customer) keeps its stored value.
pub(crate) fn write_order(
    tx: &mut (impl StoreTx + ?Sized),
    v: NewOrder,
    now: DateTime<Utc>,
    acc: &mut UnitOfWork,
) -> Result<Written<Order>> {
    let customer = if names_customer(&v) {
        Some(resolve_customer(tx, v.customer_id, v.customer_external_id.as_deref())?)
    } else {
        None
    };
    write_order_for(tx, v, customer.as_ref(), now, acc)
}

/// Whether an order names its customer (a new order must; a change may leave it out).
pub(crate) fn names_customer(v: &NewOrder) -> bool {
    v.customer_id.is_some() || v.customer_external_id.is_some()
}

/// The order `v` makes for `customer` as first stored (its id still unassigned); the
/// fields it leaves out take their defaults.
pub(crate) fn new_order(v: NewOrder, customer: Option<CustomerId>, now: DateTime<Utc>) -> Order {
    Order {
        id: OrderId(0),
        external_id: v.external_id,
        customer_id: customer.unwrap_or_default(),
        occurred_at: v.occurred_at,
        status: v.status.unwrap_or_default(),
        total: Money::new(v.total_minor, v.currency),
        channel: v.channel,
        items: v.items.unwrap_or_default(),
        created_at: now,
        updated_at: now,
    }
}

/// [`write_order`] once the customer the order names (if it names one) is resolved. An
/// order written through a merged-away customer is listed with the merges on the way.
pub(crate) fn write_order_for(
    tx: &mut (impl StoreTx + ?Sized),
    v: NewOrder,
    target: Option<&Target>,
    now: DateTime<Utc>,
    acc: &mut UnitOfWork,
) -> Result<Written<Order>> {
    let sent_items = v.items.is_some();
    let status = v.status;
    let customer = target.map(|t| t.id);
    let mut o = new_order(v, customer, now);
    if let Some(t) = target {
        if let Some(id) = tx.insert_order(&o)? {
            o.id = id;
            tx.append_change(Entity::Order, id.0, Op::Insert, now)?;
            acc.order_added(tx, &o, now)?;
            merge::list_written(tx, &t.via, Moved::Order, id.0)?;
            return Ok(Written { record: o, outcome: Outcome::Created });
        }
    }
    let Some(old) = tx.order_by_external_id(&o.external_id)? else {
        return Err(Error::validation("customer_id", "customer_id or customer_external_id is required"));
    };
    if let Some(t) = target {
        merge::list_written(tx, &t.via, Moved::Order, old.id.0)?;
    }
    o.customer_id = customer.unwrap_or(old.customer_id);
    o.status = status.unwrap_or(old.status);
    if o.channel.is_none() {
        o.channel.clone_from(&old.channel);
    }
    if !sent_items {
        o.items.clone_from(&old.items);
    }
    net_of_refunds(tx, &old, &mut o, true, sent_items)?;
    change_order(tx, old, o, now, acc)
}

/// The host sends an order as it knows it: its total and lines as sold. The store keeps an
/// order net of its refunds (recorded with [`Crm::refund_order`]), so what the host sends is
/// taken net of them here, the one place this is decided: sending the order again as sold
/// changes nothing, and a corrected total or lines stay net of what was refunded. When the
/// refunds take everything the order is `refunded`. `total` and `items` say which of the
/// two `new` holds as sent (the other is stored, already net).
fn net_of_refunds(
    tx: &mut (impl StoreTx + ?Sized),
    old: &Order,
    new: &mut Order,
    total: bool,
    items: bool,
) -> Result<()> {
    if !total && !items {
        return Ok(());
    }
    let refunds = tx.refunds_of_order(old.id)?;
    if refunds.is_empty() {
        return Ok(());
    }
    if items {
        for r in &refunds {
            for l in &r.lines {
                let mut left = l.quantity;
                for it in new.items.iter_mut().filter(|it| it.sku == l.sku) {
                    let take = left.min(it.quantity);
                    it.quantity -= take;
                    left -= take;
                }
            }
        }
        new.items.retain(|it| it.quantity > 0);
    }
    if total {
        let refunded: i64 = refunds.iter().map(|r| r.amount_minor).sum();
        let net = new.total.minor - refunded;
        new.total = Money::new(net.max(0), new.total.currency);
        if net <= 0 {
            new.status = OrderStatus::Refunded;
        }
    }
    Ok(())
}

/// Applies a validated patch to the stored order `old`.
fn patch_order(
    tx: &mut (impl StoreTx + ?Sized),
    old: Order,
    p: OrderPatch,
    now: DateTime<Utc>,
    acc: &mut UnitOfWork,
) -> Result<Written<Order>> {
    let mut new = old.clone();
    if p.customer_id.is_some() || p.customer_external_id.is_some() {
        let t = resolve_customer(tx, p.customer_id, p.customer_external_id.as_deref())?;
        merge::list_written(tx, &t.via, Moved::Order, old.id.0)?;
        new.customer_id = t.id;
    }
    if let Some(t) = p.occurred_at {
        new.occurred_at = t;
    }
    if let Some(s) = p.status {
        new.status = s;
    }
    new.total = Money::new(p.total_minor.unwrap_or(old.total.minor), p.currency.unwrap_or(old.total.currency));
    if let Some(c) = p.channel {
        new.channel = c;
    }
    let sent_items = p.items.is_some();
    if let Some(items) = p.items {
        new.items = items;
    }
    net_of_refunds(tx, &old, &mut new, p.total_minor.is_some(), sent_items)?;
    change_order(tx, old, new, now, acc)
}

/// Replaces the stored order `old` with `new` (same id and external id): the one path of
/// every order change, so that statistics and loyalty follow each the same way.
pub(crate) fn change_order(
    tx: &mut (impl StoreTx + ?Sized),
    old: Order,
    mut new: Order,
    now: DateTime<Utc>,
    acc: &mut UnitOfWork,
) -> Result<Written<Order>> {
    new.id = old.id;
    new.external_id.clone_from(&old.external_id);
    new.created_at = old.created_at;
    new.updated_at = old.updated_at;
    if new == old {
        return Ok(Written { record: old, outcome: Outcome::Unchanged });
    }
    new.updated_at = now;
    tx.update_order(&new)?;
    tx.append_change(Entity::Order, new.id.0, Op::Update, now)?;
    acc.order_corrected(tx, &old, &new, now)?;
    Ok(Written { record: new, outcome: Outcome::Updated })
}

/// The order after refund `r`, and the refund as stored.
fn apply_refund(old: &Order, r: Refund, now: DateTime<Utc>) -> Result<(Order, OrderRefund)> {
    if old.status != OrderStatus::Completed {
        return Err(Error::validation(
            "status",
            format!("order {:?} is {}; only a completed order can be refunded", old.external_id, old.status.as_str()),
        ));
    }
    let at = r.at.unwrap_or(now);
    if at < old.occurred_at {
        return Err(Error::validation(
            "at",
            format!("{} is before the order ({})", at.to_rfc3339(), old.occurred_at.to_rfc3339()),
        ));
    }
    let mut new = old.clone();
    let mut lines_value = 0i64;
    for (n, l) in r.lines.iter().enumerate() {
        let held: i64 = new.items.iter().filter(|it| it.sku == l.sku).map(|it| it.quantity).sum();
        if held == 0 {
            return Err(Error::validation(
                format!("lines[{n}].sku"),
                format!("{} is not on the order (or all its units were refunded)", crate::error::quoted(&l.sku)),
            ));
        }
        if held < l.quantity {
            return Err(Error::validation(
                format!("lines[{n}].quantity"),
                format!("{} units of {:?} to refund; the order holds {held}", l.quantity, l.sku),
            ));
        }
        let mut left = l.quantity;
        for it in new.items.iter_mut().filter(|it| it.sku == l.sku) {
            let take = left.min(it.quantity);
            it.quantity -= take;
            lines_value = lines_value.saturating_add(take.saturating_mul(it.unit_price_minor));
            left -= take;
        }
    }
    new.items.retain(|it| it.quantity > 0);
    let amount = r.amount_minor.unwrap_or(lines_value);
    if amount > old.total.minor {
        let field = if r.amount_minor.is_some() { "amount_minor" } else { "lines" };
        return Err(Error::validation(
            field,
            format!("{amount} to refund is more than the order's total {}", old.total.minor),
        ));
    }
    // The order is kept net of its refunds (see `net_of_refunds`): nothing left, refunded.
    new.total = Money::new(old.total.minor - amount, old.total.currency);
    if amount == old.total.minor {
        new.status = OrderStatus::Refunded;
    }
    let stored =
        OrderRefund { order_id: old.id, key: r.key, amount_minor: amount, lines: r.lines, at, created_at: now };
    Ok((new, stored))
}

/// Stores a validated interaction; with an external id already stored, keeps or updates it.
pub(crate) fn write_interaction(
    tx: &mut (impl StoreTx + ?Sized),
    v: NewInteraction,
    now: DateTime<Utc>,
    acc: &mut UnitOfWork,
) -> Result<Written<Interaction>> {
    let t = resolve_customer(tx, v.customer_id, v.customer_external_id.as_deref())?;
    write_interaction_for(tx, new_interaction(v, t.id, now), &t.via, now, acc)
}

/// The interaction `v` makes for its (resolved) customer, its id still unassigned.
pub(crate) fn new_interaction(v: NewInteraction, customer_id: CustomerId, now: DateTime<Utc>) -> Interaction {
    Interaction {
        id: InteractionId(0),
        external_id: v.external_id,
        customer_id,
        kind: v.kind,
        channel: v.channel,
        direction: v.direction,
        occurred_at: v.occurred_at,
        subject: v.subject,
        body: v.body,
        score: v.score,
        payload: v.payload,
        created_at: now,
    }
}

/// [`write_interaction`] of the interaction [`new_interaction`] made: stored, or applied
/// to the stored one with its external id. `via`: the merges passed resolving its customer
/// (the interaction is listed with each).
pub(crate) fn write_interaction_for(
    tx: &mut (impl StoreTx + ?Sized),
    mut i: Interaction,
    via: &[MergeId],
    now: DateTime<Utc>,
    acc: &mut UnitOfWork,
) -> Result<Written<Interaction>> {
    if let Some(id) = tx.insert_interaction(&i)? {
        i.id = id;
        tx.append_change(Entity::Interaction, id.0, Op::Insert, now)?;
        acc.interaction_added(&i);
        merge::list_written(tx, via, Moved::Interaction, id.0)?;
        return Ok(Written { record: i, outcome: Outcome::Created });
    }
    let ext = i.external_id.clone().unwrap_or_default();
    let old =
        tx.interaction_by_external_id(&ext)?.ok_or_else(|| Error::Conflict(format!("interaction {ext:?} vanished")))?;
    merge::list_written(tx, via, Moved::Interaction, old.id.0)?;
    i.id = old.id;
    i.created_at = old.created_at;
    if old == i {
        return Ok(Written { record: old, outcome: Outcome::Unchanged });
    }
    tx.update_interaction(&i)?;
    tx.append_change(Entity::Interaction, i.id.0, Op::Update, now)?;
    acc.recompute(old.customer_id);
    acc.recompute(i.customer_id);
    Ok(Written { record: i, outcome: Outcome::Updated })
}

/// Deletes one customer with their records, match keys, suggestions and merge log (the
/// caller checked it exists).
fn delete_one(tx: &mut (impl StoreTx + ?Sized), id: CustomerId) -> Result<()> {
    let at = now();
    let old = tx.get_customer(id)?;
    matching::sync_keys(tx, old.as_ref(), None)?;
    tx.delete_suggestions_of(id)?;
    tx.delete_identities_of(id)?;
    let mut orders = Vec::new();
    for o in tx.order_ids_of(id)? {
        orders.extend(tx.get_order(o)?);
    }
    // The ledger first, while the orders are there: other customers' entries of these
    // orders (an order moved here from them) are settled and unlinked.
    let mut acc = UnitOfWork::default();
    acc.customer_deleting(tx, id, &orders, at)?;
    acc.flush(tx)?;
    for o in &orders {
        tx.delete_order(o.id)?;
        tx.append_change(Entity::Order, o.id.0, Op::Delete, at)?;
    }
    for i in tx.interaction_ids_of(id)? {
        tx.delete_interaction(i)?;
        tx.append_change(Entity::Interaction, i.0, Op::Delete, at)?;
    }
    tx.delete_customer(id)?;
    tx.append_change(Entity::Customer, id.0, Op::Delete, at)?;
    tx.delete_merges_of(id)?;
    Ok(())
}
