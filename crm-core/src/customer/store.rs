//! The customer port: how the domain reads and writes customer records in a store.

use std::collections::{HashMap, HashSet};

use crate::customer::query::{Cursor, CustomerFilter, SortKey, SortValue};
use crate::customer::{Customer, CustomerId, IdentityFields};
use crate::error::Result;

/// The storage port of customer records: what the domain reads. Each store implements
/// it (in its own file); a read transaction has it, so does a write transaction.
pub trait CustomerStore {
    /// Reads a customer.
    fn get_customer(&mut self, id: CustomerId) -> Result<Option<Customer>>;
    /// Reads a customer by external id.
    fn customer_by_external_id(&mut self, external_id: &str) -> Result<Option<Customer>>;
    /// Resolves an external id to a store id.
    fn customer_id_by_external_id(&mut self, external_id: &str) -> Result<Option<CustomerId>>;
    /// Whether the id exists.
    fn customer_exists(&mut self, id: CustomerId) -> Result<bool>;
    /// The fields identity resolution compares of the customers not merged away whose id
    /// is above `after`, by id, at most `limit`.
    fn identity_fields(&mut self, after: CustomerId, limit: usize) -> Result<Vec<IdentityFields>>;
    /// Customers matching `filter`, in `sort` order, strictly after `after`, at most `limit`,
    /// each with its sort value.
    fn query_customers(
        &mut self,
        filter: &CustomerFilter,
        sort: SortKey,
        descending: bool,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<(Customer, SortValue)>>;
    /// Customers whose email or phone starts with, or whose name or company contains, `text`.
    fn search_customers(&mut self, text: &str, limit: usize) -> Result<Vec<Customer>>;
    /// Number of customers.
    fn count_customers(&mut self) -> Result<i64>;
}

/// The storage port of customer records: what the domain writes. Only a write
/// transaction has it.
pub trait CustomerStoreMut: CustomerStore {
    /// Stores a new customer with an empty statistics row.
    fn insert_customer(&mut self, c: &Customer) -> Result<CustomerId>;
    /// Overwrites a stored customer.
    fn update_customer(&mut self, c: &Customer) -> Result<()>;
    /// Removes a customer and its statistics (the caller removes orders and interactions first).
    fn delete_customer(&mut self, id: CustomerId) -> Result<()>;

    // Bulk methods, for ingest batches: each default does the single-record method once per
    // record; a store where a statement costs a round trip overrides them with set-based ones.

    /// The stored customers with these external ids, by external id (as a writer reads
    /// them: on a store whose writers run side by side, no other writer runs beside this
    /// transaction from then on).
    fn customers_by_external_ids(&mut self, external_ids: &[&str]) -> Result<HashMap<String, Customer>> {
        let mut found = HashMap::with_capacity(external_ids.len());
        for ext in external_ids {
            if let Some(c) = self.customer_by_external_id(ext)? {
                found.insert((*ext).to_owned(), c);
            }
        }
        Ok(found)
    }
    /// The ids of the stored customers with these external ids, by external id (as
    /// [`customers_by_external_ids`](Self::customers_by_external_ids) reads).
    fn customer_ids_by_external_ids(&mut self, external_ids: &[&str]) -> Result<HashMap<String, CustomerId>> {
        let mut found = HashMap::with_capacity(external_ids.len());
        for ext in external_ids {
            if let Some(id) = self.customer_id_by_external_id(ext)? {
                found.insert((*ext).to_owned(), id);
            }
        }
        Ok(found)
    }
    /// Which of `ids` are stored customers (as
    /// [`customers_by_external_ids`](Self::customers_by_external_ids) reads).
    fn existing_customers(&mut self, ids: &[CustomerId]) -> Result<HashSet<CustomerId>> {
        let mut found = HashSet::with_capacity(ids.len());
        for id in ids {
            if self.customer_exists(*id)? {
                found.insert(*id);
            }
        }
        Ok(found)
    }
    /// Stores new customers, in order, each with an empty statistics row, and sets their
    /// ids. None of their external ids may be stored (the caller looked them up in this
    /// transaction): one that is fails the call with a storage error.
    fn insert_new_customers(&mut self, customers: &mut [Customer]) -> Result<()> {
        for c in customers {
            c.id = self.insert_customer(c)?;
        }
        Ok(())
    }
}
