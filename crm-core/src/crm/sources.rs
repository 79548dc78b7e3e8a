//! Identities (see [`crate::identity::sources`]): upserts addressed by `(source, external
//! id)`, and linking, unlinking and listing a customer's identities. The one place their
//! rules live; bulk ingest with a source shares [`readdress`] with [`upsert_from`].

use chrono::{DateTime, Utc};

use super::{
    apply_upsert, checked_upsert, created, merge, now, plan_upsert, Crm, CustomerUpsert, CustomerWrite, Outcome,
    Written,
};
use crate::changes::Op;
use crate::customer::{Customer, CustomerId, CustomerPatch, NewCustomer, UpsertMode};
use crate::error::{Entity, Error, Result};
use crate::identity::sources::check_source;
use crate::identity::Identity;
use crate::store::prelude::*;
use crate::validate::Validator;

/// How an upsert addressed by an identity changes the patch: an existing customer keeps
/// its own primary external id; a new one gets none (the identity names it).
pub(crate) fn readdress(u: &mut CustomerUpsert, old: Option<&Customer>) {
    u.patch.patch.external_id = Some(old.and_then(|c| c.external_id.clone()));
}

/// Upserts a validated customer addressed by `(source, u.key)`: the customer the identity
/// names (its survivor, when merged away) takes the patch; without one, a new customer is
/// created and the identity links it.
pub(crate) fn upsert_from(
    tx: &mut (impl StoreTx + ?Sized),
    validator: &Validator,
    source: &str,
    mut u: CustomerUpsert,
    now: DateTime<Utc>,
) -> Result<Written<Customer>> {
    let old = match tx.identity(source, &u.key)? {
        Some(id) => {
            let c = tx.get_customer(id)?.ok_or_else(|| Error::not_found(Entity::Customer, id))?;
            Some(merge::resolve_customer_record(tx, c)?)
        }
        None => None,
    };
    readdress(&mut u, old.as_ref());
    let key = u.key.clone();
    match plan_upsert(validator, u, old, now)? {
        CustomerWrite::Create(mut c) => {
            c.id = tx.insert_customer(&c)?;
            tx.append_change(Entity::Customer, c.id.0, Op::Insert, now)?;
            // Linked before the match policy runs: an automatic merge leaves it resolving
            // to the survivor.
            let i = Identity { source: source.to_owned(), external_id: key, customer: c.id, created_at: now };
            tx.add_identities(&[i])?;
            Ok(Written { record: created(tx, c, now)?, outcome: Outcome::Created })
        }
        w => apply_upsert(tx, w, now),
    }
}

impl<S: Store> Crm<S> {
    /// [`upsert_customer`](Self::upsert_customer) addressed by an identity: `input`'s
    /// `external_id` is the customer's key in system `source` (1 to 64 letters, digits,
    /// `_`, `-`, `.` or `:`). The customer that identity names takes the changes (keeping its
    /// own primary external id; a customer merged away: its survivor); without one, a new
    /// customer is created, with no primary external id, and the identity names it. Sending
    /// the same input twice changes nothing the second time.
    ///
    /// ```
    /// use crm_core::{Crm, NewCustomer};
    /// let crm = Crm::in_memory()?;
    /// let erp = crm.upsert_customer(&NewCustomer { external_id: Some("C-1".into()), name: "Ada".into(),
    ///     ..Default::default() })?.record;
    /// crm.add_identity(erp.id, "pos", "P-77")?;
    /// let pos = NewCustomer { external_id: Some("P-77".into()), email: Some("ada@example.com".into()), ..Default::default() };
    /// let ada = crm.upsert_customer_from("pos", &pos)?.record;
    /// assert_eq!((ada.id, ada.external_id.as_deref(), ada.email.as_deref()), (erp.id, Some("C-1"), Some("ada@example.com")));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn upsert_customer_from(&self, source: &str, input: &NewCustomer) -> Result<Written<Customer>> {
        self.upsert_customer_patch_from(source, &CustomerPatch::from(input), UpsertMode::Merge)
    }

    /// [`upsert_customer_patch`](Self::upsert_customer_patch) addressed by an identity (see
    /// [`upsert_customer_from`](Self::upsert_customer_from)).
    pub fn upsert_customer_patch_from(
        &self,
        source: &str,
        patch: &CustomerPatch,
        mode: UpsertMode,
    ) -> Result<Written<Customer>> {
        let source = check_source(source)?.to_owned();
        let u = checked_upsert(&self.validator, patch, mode, "is required to upsert")?;
        self.store.write(|tx| upsert_from(tx, &self.validator, &source, u, now()))
    }

    /// The customer an identity names (its survivor when it was merged away).
    pub fn customer_by_identity(&self, source: &str, external_id: &str) -> Result<Customer> {
        let source = check_source(source)?;
        let ext = self.validator.external_id("external_id", external_id)?;
        self.store.read(|tx| {
            let id = tx
                .identity(source, &ext)?
                .ok_or_else(|| Error::not_found(Entity::Customer, format!("{source}:{ext}")))?;
            let c = tx.get_customer(id)?.ok_or_else(|| Error::not_found(Entity::Customer, id))?;
            merge::resolve_customer_record(tx, c)
        })
    }

    /// Links an identity to a customer (its survivor when it was merged away). Linking it
    /// again to the same customer changes nothing; an identity of another customer is
    /// [`Error::Conflict`] (unlink it first, or merge the two).
    pub fn add_identity(&self, customer: CustomerId, source: &str, external_id: &str) -> Result<Identity> {
        let source = check_source(source)?.to_owned();
        let ext = self.validator.external_id("external_id", external_id)?;
        self.store.write(|tx| {
            if !tx.customer_exists(customer)? {
                return Err(Error::not_found(Entity::Customer, customer));
            }
            let target = merge::resolve(tx, customer)?.id;
            if let Some(owner) = tx.identity(&source, &ext)? {
                if merge::resolve(tx, owner)?.id == target {
                    let found = tx.identities_of(&[owner])?;
                    return found
                        .into_iter()
                        .find(|i| i.source == source && i.external_id == ext)
                        .ok_or_else(|| Error::Conflict(format!("identity {source}:{ext} vanished")));
                }
                return Err(Error::Conflict(format!(
                    "identity {source}:{} names customer {owner}; unlink it first, or merge the two",
                    crate::error::quoted(&ext)
                )));
            }
            let i = Identity { source, external_id: ext, customer: target, created_at: now() };
            tx.add_identities(std::slice::from_ref(&i))?;
            tx.append_change(Entity::Customer, target.0, crate::changes::Op::Update, i.created_at)?;
            Ok(i)
        })
    }

    /// Unlinks an identity. [`Error::NotFound`] when it names no customer.
    pub fn remove_identity(&self, source: &str, external_id: &str) -> Result<()> {
        let source = check_source(source)?.to_owned();
        let ext = self.validator.external_id("external_id", external_id)?;
        self.store.write(|tx| {
            let Some(owner) = tx.identity(&source, &ext)? else {
                return Err(Error::not_found(Entity::Customer, format!("{source}:{ext}")));
            };
            tx.remove_identity(&source, &ext)?;
            tx.append_change(Entity::Customer, owner.0, crate::changes::Op::Update, now())?;
            Ok(())
        })
    }

    /// A customer's identities, with those of the customers merged into it (each naming
    /// the customer it was linked to), by source and external id. The id of a customer
    /// merged away lists its survivor's.
    pub fn identities(&self, customer: CustomerId) -> Result<Vec<Identity>> {
        self.store.read(|tx| {
            if !tx.customer_exists(customer)? {
                return Err(Error::not_found(Entity::Customer, customer));
            }
            let root = merge::resolve(tx, customer)?.id;
            let mut all = vec![root];
            let mut i = 0;
            while i < all.len() {
                let more = tx.merged_into(all[i])?;
                all.extend(more);
                i += 1;
            }
            tx.identities_of(&all)
        })
    }
}
