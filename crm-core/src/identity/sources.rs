//! Several systems' keys for one customer: a customer has its primary external id (the
//! host's key, [`Customer::external_id`](crate::Customer::external_id)) and any number of
//! identities, each a `(source, external id)` pair naming it in another system (a web shop,
//! a till, a call centre). Upserts and bulk ingest address a customer by any of them
//! ([`Crm::upsert_customer_from`](crate::Crm::upsert_customer_from),
//! [`IngestOptions::source`](crate::ingest::IngestOptions::source)); an identity of a
//! customer merged into another resolves to the survivor.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::{Customer, CustomerId};
use crate::error::{Error, Result};

/// Longest source name, in characters.
pub const MAX_SOURCE_LEN: usize = 64;

/// One `(source, external id)` pair naming a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The system (`"pos"`, `"webshop"`).
    pub source: String,
    /// The customer's key in that system.
    pub external_id: String,
    /// The customer it names (for a customer merged into another: that customer; it
    /// resolves to the survivor).
    pub customer: CustomerId,
    /// When it was linked.
    pub created_at: DateTime<Utc>,
}

/// Checks a source name: 1 to [`MAX_SOURCE_LEN`] characters of letters, digits, `_`, `-`,
/// `.` and `:`, trimmed.
pub(crate) fn check_source(source: &str) -> Result<&str> {
    let s = source.trim();
    let ok_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    if s.is_empty() || s.chars().count() > MAX_SOURCE_LEN || !s.chars().all(ok_char) {
        return Err(Error::validation(
            "source",
            format!(
                "{}: 1 to {MAX_SOURCE_LEN} letters, digits, '_', '-', '.' or ':' (the primary external id has no source)",
                crate::error::quoted(source)
            ),
        ));
    }
    Ok(s)
}

/// The storage port of identities: what the domain reads (with the customers they name).
pub trait IdentityStore: crate::customer::CustomerStore {
    /// The customer an identity names.
    fn identity(&mut self, source: &str, external_id: &str) -> Result<Option<CustomerId>>;
    /// The customers identities of one source name, by external id (those found).
    fn identities_by_keys(&mut self, source: &str, external_ids: &[&str]) -> Result<HashMap<String, CustomerId>> {
        let mut out = HashMap::new();
        for e in external_ids {
            if let Some(c) = self.identity(source, e)? {
                out.insert((*e).to_owned(), c);
            }
        }
        Ok(out)
    }
    /// The customers identities of one source name, by external id (those found), as a
    /// writer reads them (see
    /// [`customers_by_external_ids`](crate::customer::CustomerStoreMut::customers_by_external_ids)).
    /// The default reads each customer; a store where a statement costs a round trip reads
    /// them in one.
    fn customers_by_identities(&mut self, source: &str, external_ids: &[&str]) -> Result<HashMap<String, Customer>> {
        let mut out = HashMap::new();
        for (key, id) in self.identities_by_keys(source, external_ids)? {
            if let Some(c) = self.get_customer(id)? {
                out.insert(key, c);
            }
        }
        Ok(out)
    }
    /// The identities of these customers, by source then external id.
    fn identities_of(&mut self, customers: &[CustomerId]) -> Result<Vec<Identity>>;
}

/// The storage port of identities: what the domain writes.
pub trait IdentityStoreMut: IdentityStore {
    /// Stores identities; one already stored is a storage error (the caller looked them up
    /// in this transaction).
    fn add_identities(&mut self, ids: &[Identity]) -> Result<()>;
    /// Removes an identity; whether it was stored.
    fn remove_identity(&mut self, source: &str, external_id: &str) -> Result<bool>;
    /// Removes a customer's identities (it is being deleted).
    fn delete_identities_of(&mut self, customer: CustomerId) -> Result<()>;
}
