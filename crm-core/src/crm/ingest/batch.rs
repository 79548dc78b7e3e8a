//! Set-based writing of one ingest batch. Before its rows are written, a batch looks up in
//! one query per kind what they will ask the store (customers and records by external id),
//! and it defers the rows that create a record: they are stored together
//! ([`insert_new_customers`](crate::customer::CustomerStoreMut::insert_new_customers) and
//! friends: binary `COPY` on PostgreSQL), with their change entries and hooks, when the
//! batch ends or before any row that writes through the single-record path. A row's outcome
//! and error are decided by the same functions as for a single call
//! ([`plan_upsert`], [`resolve_customer_with`], [`new_order`], [`new_interaction`]), and
//! the records, feed entries (in row order) and statistics a batch leaves are those of
//! writing its rows one by one.
//!
//! This is sound because within one batch no row changes what the look-ups said about
//! another: external ids are unique in a batch (the first row wins, see
//! [`Crm::ingest_rows`](crate::Crm::ingest_rows)), an orders or interactions batch creates no
//! customer, and a batch runs alone ([`Store::write_alone`]). Order hooks that read the
//! store (a loyalty program) switch deferral off for orders.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::changes::{Entity, Op};
use crate::crm::matching::{active_policy, add_keys, after_create};
use crate::crm::merge::upsert_target;
use crate::crm::sources::readdress;
use crate::crm::{
    apply_upsert, names_customer, new_interaction, new_order, plan_upsert, resolve_customer_with,
    write_interaction_for, write_order_for, CustomerRef, CustomerUpsert, CustomerWrite, Outcome, Target, UnitOfWork,
};
use crate::customer::{Customer, CustomerId};
use crate::error::Result;
use crate::identity::Identity;
use crate::identity::MergeId;
use crate::interaction::{Interaction, InteractionId, NewInteraction};
use crate::order::{NewOrder, Order, OrderId};
use crate::store::prelude::*;
use crate::validate::Validator;

/// What a batch learned before writing, and the new records it has not stored yet.
#[derive(Debug, Default)]
pub struct Batch {
    /// Stored customers by external id (customers batches).
    customers: HashMap<String, Customer>,
    /// Stored customer ids by external id, and the ids named directly that are stored
    /// (orders and interactions batches).
    customer_ids: HashMap<String, CustomerId>,
    customers_known: HashSet<CustomerId>,
    /// Standing merges of the customers named (and of their survivors): merged customer
    /// to (merge, survivor). Empty when no merge stands.
    links: HashMap<CustomerId, (MergeId, CustomerId)>,
    /// Stored orders and interactions by external id.
    orders: HashMap<String, OrderId>,
    interactions: HashMap<String, InteractionId>,
    /// Whether new orders may be deferred (no order hook reads the store).
    defer_orders: bool,
    new_customers: Vec<Customer>,
    /// The system whose keys the rows' customer external ids are (see
    /// [`IngestOptions::source`](crate::ingest::IngestOptions::source)), and the identity
    /// key of each new customer (aligned with `new_customers`).
    source: Option<String>,
    new_identities: Vec<String>,
    new_orders: Vec<Order>,
    new_interactions: Vec<Interaction>,
}

impl Batch {
    /// A batch whose rows name customers by the keys of `source` (`None`: the host's own).
    pub fn from_source(source: Option<String>) -> Batch {
        Batch { source, ..Default::default() }
    }

    /// Looks up what writing customer upserts under `keys` will read.
    pub fn prefetch_customers(&mut self, tx: &mut (impl StoreTx + ?Sized), keys: &[&str]) -> Result<()> {
        self.customers = match &self.source {
            None => tx.customers_by_external_ids(keys)?,
            Some(source) => tx.customers_by_identities(source, keys)?,
        };
        Ok(())
    }

    /// Looks up what writing `orders` will read.
    pub fn prefetch_orders<'a>(
        &mut self,
        tx: &mut (impl StoreTx + ?Sized),
        acc: &mut UnitOfWork,
        orders: impl Iterator<Item = &'a NewOrder> + Clone,
    ) -> Result<()> {
        self.prefetch_customer_refs(tx, orders.clone().map(|o| (o.customer_id, o.customer_external_id.as_deref())))?;
        let keys: Vec<&str> = orders.map(|o| o.external_id.as_str()).collect();
        self.orders = tx.order_ids_by_external_ids(&keys)?;
        self.defer_orders = !acc.order_hooks_read_store(tx)?;
        Ok(())
    }

    /// Looks up what writing `interactions` will read.
    pub fn prefetch_interactions<'a>(
        &mut self,
        tx: &mut (impl StoreTx + ?Sized),
        interactions: impl Iterator<Item = &'a NewInteraction> + Clone,
    ) -> Result<()> {
        self.prefetch_customer_refs(
            tx,
            interactions.clone().map(|i| (i.customer_id, i.customer_external_id.as_deref())),
        )?;
        let keys: Vec<&str> = interactions.filter_map(|i| i.external_id.as_deref()).collect();
        self.interactions = tx.interaction_ids_by_external_ids(&keys)?;
        Ok(())
    }

    fn prefetch_customer_refs<'a>(
        &mut self,
        tx: &mut (impl StoreTx + ?Sized),
        refs: impl Iterator<Item = (Option<CustomerId>, Option<&'a str>)>,
    ) -> Result<()> {
        let (mut ids, mut keys) = (Vec::new(), Vec::new());
        for (id, ext) in refs {
            ids.extend(id);
            keys.extend(ext);
        }
        ids.sort_unstable();
        ids.dedup();
        keys.sort_unstable();
        keys.dedup();
        self.customers_known = if ids.is_empty() { HashSet::new() } else { tx.existing_customers(&ids)? };
        self.customer_ids = match (&self.source, keys.is_empty()) {
            (_, true) => HashMap::new(),
            (None, false) => tx.customer_ids_by_external_ids(&keys)?,
            (Some(source), false) => tx.identities_by_keys(source, &keys)?,
        };
        self.links.clear();
        if tx.any_merge()? {
            let mut ask: Vec<CustomerId> =
                self.customers_known.iter().chain(self.customer_ids.values()).copied().collect();
            // Survivors of survivors, a chain at most MAX_MERGE_DEPTH long.
            for _ in 0..=crate::identity::MAX_MERGE_DEPTH {
                if ask.is_empty() {
                    break;
                }
                let found = tx.merge_links(&ask)?;
                ask = found.values().map(|l| l.1).filter(|s| !self.links.contains_key(s)).collect();
                ask.sort_unstable();
                ask.dedup();
                self.links.extend(found);
            }
        }
        Ok(())
    }

    /// The customer a record names, as [`resolve_customer`](crate::crm::resolve_customer)
    /// finds it, from what was looked up.
    fn resolve(&self, id: Option<CustomerId>, ext: Option<&str>) -> Result<Target> {
        let named = resolve_customer_with(id, ext, |by| {
            Ok(match by {
                CustomerRef::Id(id) => self.customers_known.contains(&id).then_some(id),
                CustomerRef::External(ext) => self.customer_ids.get(ext).copied(),
            })
        })?;
        let mut t = Target::direct(named);
        while let Some(&(m, s)) = self.links.get(&t.id) {
            if t.via.len() > crate::identity::MAX_MERGE_DEPTH {
                break;
            }
            t.via.push(m);
            t.id = s;
        }
        Ok(t)
    }

    /// Writes a customer upsert: a new customer is deferred, a change written through.
    pub fn customer(
        &mut self,
        tx: &mut (impl StoreTx + ?Sized),
        v: &Validator,
        u: CustomerUpsert,
        now: DateTime<Utc>,
        acc: &mut UnitOfWork,
    ) -> Result<Outcome> {
        let mut u = u;
        let mut old = self.customers.get(&u.key).cloned();
        let identity = self.source.is_some().then(|| u.key.clone());
        // An upsert of a merged-away customer writes its survivor, read now (an earlier
        // row may have changed it); the survivor's own row, if it comes later, reads
        // what this one wrote.
        let redirected = old.as_ref().is_some_and(|c| c.merged_into.is_some());
        if redirected {
            self.flush(tx, acc, now)?;
            old = upsert_target(tx, old, &mut u)?;
        }
        if identity.is_some() {
            readdress(&mut u, old.as_ref());
        }
        match plan_upsert(v, u, old, now)? {
            CustomerWrite::Create(c) => {
                self.new_customers.push(c);
                self.new_identities.extend(identity);
                Ok(Outcome::Created)
            }
            CustomerWrite::Same(_) => Ok(Outcome::Unchanged),
            w @ CustomerWrite::Update { .. } => {
                self.flush(tx, acc, now)?;
                let w = apply_upsert(tx, w, now)?;
                if let Some(ext) = w.record.external_id.as_ref().filter(|_| redirected && self.source.is_none()) {
                    if self.customers.contains_key(ext) {
                        self.customers.insert(ext.clone(), w.record.clone());
                    }
                }
                Ok(w.outcome)
            }
        }
    }

    /// Writes an order: a new one is deferred (unless order hooks read the store), any
    /// other written through.
    pub fn order(
        &mut self,
        tx: &mut (impl StoreTx + ?Sized),
        o: NewOrder,
        now: DateTime<Utc>,
        acc: &mut UnitOfWork,
    ) -> Result<Outcome> {
        let customer = if names_customer(&o) {
            Some(self.resolve(o.customer_id, o.customer_external_id.as_deref())?)
        } else {
            None
        };
        // An order written through a merged-away customer takes the single-record path,
        // which lists it with the merges.
        let direct = customer.as_ref().is_some_and(|t| t.via.is_empty());
        if direct && self.defer_orders && !self.orders.contains_key(&o.external_id) {
            self.new_orders.push(new_order(o, customer.map(|t| t.id), now));
            return Ok(Outcome::Created);
        }
        self.flush(tx, acc, now)?;
        write_order_for(tx, o, customer.as_ref(), now, acc).map(|w| w.outcome)
    }

    /// Writes an interaction: a new one is deferred, any other written through.
    pub fn interaction(
        &mut self,
        tx: &mut (impl StoreTx + ?Sized),
        i: NewInteraction,
        now: DateTime<Utc>,
        acc: &mut UnitOfWork,
    ) -> Result<Outcome> {
        let customer = self.resolve(i.customer_id, i.customer_external_id.as_deref())?;
        let new = i.external_id.as_ref().is_some_and(|ext| !self.interactions.contains_key(ext));
        let i = new_interaction(i, customer.id, now);
        if new && customer.via.is_empty() {
            self.new_interactions.push(i);
            return Ok(Outcome::Created);
        }
        self.flush(tx, acc, now)?;
        write_interaction_for(tx, i, &customer.via, now, acc).map(|w| w.outcome)
    }

    /// Stores the deferred records, in row order, with their change entries, and runs their
    /// hooks, as writing them one by one would have.
    pub fn flush(&mut self, tx: &mut (impl StoreTx + ?Sized), acc: &mut UnitOfWork, now: DateTime<Utc>) -> Result<()> {
        // A batch defers one kind of record only, so the kinds' order does not matter.
        if !self.new_customers.is_empty() {
            tx.insert_new_customers(&mut self.new_customers)?;
            let ids: Vec<i64> = self.new_customers.iter().map(|c| c.id.0).collect();
            tx.append_changes(Entity::Customer, &ids, Op::Insert, now)?;
            if let Some(source) = &self.source {
                let ids: Vec<Identity> = self
                    .new_customers
                    .iter()
                    .zip(self.new_identities.drain(..))
                    .map(|(c, key)| Identity {
                        source: source.clone(),
                        external_id: key,
                        customer: c.id,
                        created_at: now,
                    })
                    .collect();
                tx.add_identities(&ids)?;
            }
            let keyed = add_keys(tx, &self.new_customers)?;
            let policy = if keyed { active_policy(tx)? } else { None };
            if policy.is_some() {
                for c in &self.new_customers {
                    after_create(tx, c, &policy, now)?;
                }
            }
            self.new_customers.clear();
        }
        if !self.new_orders.is_empty() {
            tx.insert_new_orders(&mut self.new_orders)?;
            let ids: Vec<i64> = self.new_orders.iter().map(|o| o.id.0).collect();
            tx.append_changes(Entity::Order, &ids, Op::Insert, now)?;
            for o in self.new_orders.drain(..) {
                acc.order_added(tx, &o, now)?;
            }
        }
        if !self.new_interactions.is_empty() {
            tx.insert_new_interactions(&mut self.new_interactions)?;
            let ids: Vec<i64> = self.new_interactions.iter().map(|i| i.id.0).collect();
            tx.append_changes(Entity::Interaction, &ids, Op::Insert, now)?;
            for i in self.new_interactions.drain(..) {
                acc.interaction_added(&i);
            }
        }
        Ok(())
    }
}
