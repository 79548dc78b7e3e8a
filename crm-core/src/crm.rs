//! The [`Crm`] facade: every public operation, each one transaction over any [`Store`].

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::changes::{Change, Entity, Op};
use crate::customer::{Customer, CustomerId, CustomerPatch, CustomerStats, LifecycleStage, NewCustomer};
use crate::error::{Error, Result};
use crate::interaction::{Interaction, InteractionId, NewInteraction};
use crate::money::{Currency, Money};
use crate::order::{NewOrder, Order, OrderId};
use crate::query::{Cursor, CustomerQuery, Page, MAX_PAGE};
use crate::segment::record_stage_change;
use crate::stats::{self, StatsAcc};
use crate::store::{SqliteOptions, SqliteStore, Store, StoreTx, TimelineEntry};
use crate::validate::{to_micros, ValidationConfig, Validator};

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
    /// SQLite connection settings (used by [`Crm::open_with`]).
    pub sqlite: SqliteOptions,
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
///     occurred_at: "2026-01-05T10:00:00Z".parse().unwrap(), status: Default::default(),
///     currency: "USD".parse().unwrap(), total_minor: 2599, channel: None, items: vec![],
/// }).unwrap();
/// assert_eq!(crm.customer_stats(ada.id).unwrap().order_count, 1);
/// ```
pub struct Crm<S: Store = SqliteStore> {
    pub(crate) store: S,
    pub(crate) validator: Validator,
}

impl<S: Store> std::fmt::Debug for Crm<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crm").field("validation", self.validator.config()).finish_non_exhaustive()
    }
}

impl Crm<SqliteStore> {
    /// Opens (or creates) a SQLite database file with default settings.
    pub fn open(path: impl AsRef<Path>) -> Result<Crm<SqliteStore>> {
        Crm::open_with(path, CrmConfig::default())
    }

    /// Opens a SQLite database file with the given settings.
    pub fn open_with(path: impl AsRef<Path>, config: CrmConfig) -> Result<Crm<SqliteStore>> {
        let validator = Validator::new(config.validation)?;
        Ok(Crm { store: SqliteStore::open_with(path, &config.sqlite)?, validator })
    }

    /// A private in-memory database.
    pub fn in_memory() -> Result<Crm<SqliteStore>> {
        Crm::in_memory_with(CrmConfig::default())
    }

    /// A private in-memory database with the given settings. (`Crm::open(":memory:")` is the same.)
    pub fn in_memory_with(config: CrmConfig) -> Result<Crm<SqliteStore>> {
        Crm::open_with(":memory:", config)
    }
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

    /// Creates the customer, or replaces the profile of the customer with the same
    /// `external_id` (required). Sending the same input twice changes nothing the second time.
    pub fn upsert_customer(&self, input: &NewCustomer) -> Result<Written<Customer>> {
        if input.external_id.is_none() {
            return Err(Error::validation("external_id", "is required to upsert"));
        }
        let v = self.validator.customer(input)?;
        self.store.write(|tx| upsert_customer(tx, v, now()))
    }

    /// Reads a customer.
    pub fn get_customer(&self, id: CustomerId) -> Result<Customer> {
        self.store.read(|tx| tx.get_customer(id)?.ok_or_else(|| Error::not_found(Entity::Customer, id)))
    }

    /// Reads a customer by the host's external id.
    pub fn get_customer_by_external_id(&self, external_id: &str) -> Result<Customer> {
        self.store.read(|tx| {
            tx.customer_by_external_id(external_id)?.ok_or_else(|| Error::not_found(Entity::Customer, external_id))
        })
    }

    /// Applies a partial update and returns the customer as stored.
    pub fn update_customer(&self, id: CustomerId, patch: &CustomerPatch) -> Result<Customer> {
        self.store.write(|tx| {
            let old = tx.get_customer(id)?.ok_or_else(|| Error::not_found(Entity::Customer, id))?;
            let mut input = as_input(&old);
            apply_patch(&mut input, patch);
            let v = self.validator.customer(&input)?;
            if let Some(ext) = &v.external_id {
                if old.external_id.as_ref() != Some(ext) && tx.customer_id_by_external_id(ext)?.is_some() {
                    return Err(Error::Conflict(format!("a customer with external_id {ext:?} exists")));
                }
            }
            let new = merge_customer(&old, v, now());
            if same_customer(&old, &new) {
                return Ok(old);
            }
            tx.update_customer(&new)?;
            record_stage_change(tx, &old, &new)?;
            tx.append_change(Entity::Customer, id.0, Op::Update, new.updated_at)?;
            Ok(new)
        })
    }

    /// Deletes a customer with all their orders and interactions.
    pub fn delete_customer(&self, id: CustomerId) -> Result<()> {
        self.store.write(|tx| {
            if !tx.customer_exists(id)? {
                return Err(Error::not_found(Entity::Customer, id));
            }
            let at = now();
            for o in tx.order_ids_of(id)? {
                tx.delete_order(o)?;
                tx.append_change(Entity::Order, o.0, Op::Delete, at)?;
            }
            for i in tx.interaction_ids_of(id)? {
                tx.delete_interaction(i)?;
                tx.append_change(Entity::Interaction, i.0, Op::Delete, at)?;
            }
            crate::loyalty::customer_deleted(tx, id, at)?;
            tx.delete_customer(id)?;
            tx.append_change(Entity::Customer, id.0, Op::Delete, at)?;
            Ok(())
        })
    }

    /// A customer's statistics (completed orders only).
    pub fn customer_stats(&self, id: CustomerId) -> Result<CustomerStats> {
        self.store.read(|tx| {
            if !tx.customer_exists(id)? {
                return Err(Error::not_found(Entity::Customer, id));
            }
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
            let mut acc = StatsAcc::default();
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
    /// stored once; a changed status (refunded, cancelled) updates it and the statistics.
    pub fn record_order(&self, input: &NewOrder) -> Result<Written<Order>> {
        let v = self.validator.order(input)?;
        self.store.write(|tx| {
            let mut acc = StatsAcc::default();
            let w = write_order(tx, v, now(), &mut acc)?;
            acc.flush(tx)?;
            Ok(w)
        })
    }

    /// Reads an order with its line items.
    pub fn get_order(&self, id: OrderId) -> Result<Order> {
        self.store.read(|tx| tx.get_order(id)?.ok_or_else(|| Error::not_found(Entity::Order, id)))
    }

    /// Reads an order by the host's external id.
    pub fn get_order_by_external_id(&self, external_id: &str) -> Result<Order> {
        self.store.read(|tx| {
            tx.order_by_external_id(external_id)?.ok_or_else(|| Error::not_found(Entity::Order, external_id))
        })
    }

    /// Deletes an order and updates its customer's statistics.
    pub fn delete_order(&self, id: OrderId) -> Result<()> {
        self.store.write(|tx| {
            let o = tx.get_order(id)?.ok_or_else(|| Error::not_found(Entity::Order, id))?;
            let at = now();
            crate::loyalty::order_deleted(tx, &o, at)?;
            tx.delete_order(id)?;
            tx.append_change(Entity::Order, id.0, Op::Delete, at)?;
            stats::recompute(tx, o.customer_id)
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

/// The transaction time: one per public call, truncated to what the store keeps.
pub(crate) fn now() -> DateTime<Utc> {
    to_micros(Utc::now())
}

fn decode_timeline_cursor(text: &str) -> Result<(i64, u8, i64)> {
    let bad = || Error::validation("cursor", format!("{text:?} is not a timeline cursor"));
    let mut it = text.split('.');
    let (Some(t), Some(k), Some(i), None) = (it.next(), it.next(), it.next(), it.next()) else { return Err(bad()) };
    Ok((t.parse().map_err(|_| bad())?, k.parse().map_err(|_| bad())?, i.parse().map_err(|_| bad())?))
}

fn insert_customer(tx: &mut impl StoreTx, v: NewCustomer, now: DateTime<Utc>) -> Result<Customer> {
    let mut c = Customer {
        id: CustomerId(0),
        external_id: v.external_id,
        kind: v.kind,
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
    };
    c.id = tx.insert_customer(&c)?;
    tx.append_change(Entity::Customer, c.id.0, Op::Insert, now)?;
    Ok(c)
}

/// Upserts a validated customer by external id (shared by single calls and bulk ingest).
pub(crate) fn upsert_customer(tx: &mut impl StoreTx, v: NewCustomer, now: DateTime<Utc>) -> Result<Written<Customer>> {
    let ext = v.external_id.as_deref().expect("caller checked external_id");
    match tx.customer_by_external_id(ext)? {
        None => Ok(Written { record: insert_customer(tx, v, now)?, outcome: Outcome::Created }),
        Some(old) => {
            let new = merge_customer(&old, v, now);
            if same_customer(&old, &new) {
                return Ok(Written { record: old, outcome: Outcome::Unchanged });
            }
            tx.update_customer(&new)?;
            record_stage_change(tx, &old, &new)?;
            tx.append_change(Entity::Customer, new.id.0, Op::Update, now)?;
            Ok(Written { record: new, outcome: Outcome::Updated })
        }
    }
}

/// The stored customer `old` with the profile of `v`; fields absent from `v` that only
/// the store sets (id, merge link) or that default on creation (lifecycle, created_at) are kept.
fn merge_customer(old: &Customer, v: NewCustomer, now: DateTime<Utc>) -> Customer {
    Customer {
        id: old.id,
        external_id: v.external_id,
        kind: v.kind,
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
        kind: c.kind,
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

fn apply_patch(c: &mut NewCustomer, p: &CustomerPatch) {
    fn set<T: Clone>(dst: &mut T, src: &Option<T>) {
        if let Some(v) = src {
            *dst = v.clone();
        }
    }
    set(&mut c.external_id, &p.external_id);
    set(&mut c.kind, &p.kind);
    set(&mut c.name, &p.name);
    set(&mut c.email, &p.email);
    set(&mut c.phone, &p.phone);
    set(&mut c.company, &p.company);
    set(&mut c.title, &p.title);
    set(&mut c.industry, &p.industry);
    set(&mut c.address, &p.address);
    set(&mut c.birthday, &p.birthday);
    set(&mut c.gender, &p.gender);
    set(&mut c.tags, &p.tags);
    c.tags.extend(p.add_tags.iter().cloned());
    for t in &p.remove_tags {
        c.tags.remove(t);
    }
    for (k, v) in &p.attributes {
        if v.is_null() {
            c.attributes.remove(k);
        } else {
            c.attributes.insert(k.clone(), v.clone());
        }
    }
    c.consents.extend(p.consents.iter().map(|(k, v)| (k.clone(), v.clone())));
    if let Some(l) = p.lifecycle {
        c.lifecycle = Some(l);
    }
}

/// Resolves the customer an order or interaction names, by id or by external id (exactly one).
pub(crate) fn resolve_customer(
    tx: &mut impl StoreTx,
    id: Option<CustomerId>,
    external_id: Option<&str>,
) -> Result<CustomerId> {
    match (id, external_id) {
        (Some(id), None) => {
            if tx.customer_exists(id)? {
                Ok(id)
            } else {
                Err(Error::validation("customer_id", format!("no customer has id {id}")))
            }
        }
        (None, Some(ext)) => tx
            .customer_id_by_external_id(ext)?
            .ok_or_else(|| Error::validation("customer_external_id", format!("no customer has external_id {ext:?}"))),
        (Some(_), Some(_)) => {
            Err(Error::validation("customer_id", "give customer_id or customer_external_id, not both"))
        }
        (None, None) => Err(Error::validation("customer_id", "customer_id or customer_external_id is required")),
    }
}

/// Stores a validated order or applies a change to the stored one with the same external id.
pub(crate) fn write_order(
    tx: &mut impl StoreTx,
    v: NewOrder,
    now: DateTime<Utc>,
    acc: &mut StatsAcc,
) -> Result<Written<Order>> {
    let customer_id = resolve_customer(tx, v.customer_id, v.customer_external_id.as_deref())?;
    let mut o = Order {
        id: OrderId(0),
        external_id: v.external_id,
        customer_id,
        occurred_at: v.occurred_at,
        status: v.status,
        total: Money::new(v.total_minor, v.currency),
        channel: v.channel,
        items: v.items,
        created_at: now,
        updated_at: now,
    };
    if let Some(id) = tx.insert_order(&o)? {
        o.id = id;
        tx.append_change(Entity::Order, id.0, Op::Insert, now)?;
        crate::loyalty::order_written(tx, acc, None, &o, now)?;
        acc.order_added(&o);
        return Ok(Written { record: o, outcome: Outcome::Created });
    }
    let old = tx
        .order_by_external_id(&o.external_id)?
        .ok_or_else(|| Error::Conflict(format!("order {:?} vanished", o.external_id)))?;
    o.id = old.id;
    o.created_at = old.created_at;
    if (Order { updated_at: now, ..old.clone() }) == o {
        return Ok(Written { record: old, outcome: Outcome::Unchanged });
    }
    tx.update_order(&o)?;
    tx.append_change(Entity::Order, o.id.0, Op::Update, now)?;
    acc.recompute(old.customer_id);
    acc.recompute(o.customer_id);
    crate::loyalty::order_written(tx, acc, Some(&old), &o, now)?;
    Ok(Written { record: o, outcome: Outcome::Updated })
}

/// Stores a validated interaction; with an external id already stored, keeps or updates it.
pub(crate) fn write_interaction(
    tx: &mut impl StoreTx,
    v: NewInteraction,
    now: DateTime<Utc>,
    acc: &mut StatsAcc,
) -> Result<Written<Interaction>> {
    let customer_id = resolve_customer(tx, v.customer_id, v.customer_external_id.as_deref())?;
    let mut i = Interaction {
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
    };
    if let Some(id) = tx.insert_interaction(&i)? {
        i.id = id;
        tx.append_change(Entity::Interaction, id.0, Op::Insert, now)?;
        acc.interaction_added(&i);
        return Ok(Written { record: i, outcome: Outcome::Created });
    }
    let ext = i.external_id.clone().unwrap_or_default();
    let old =
        tx.interaction_by_external_id(&ext)?.ok_or_else(|| Error::Conflict(format!("interaction {ext:?} vanished")))?;
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
