//! The customer port: how the domain reads and writes customer records in a store.

use crate::customer::query::{Cursor, CustomerFilter, SortKey, SortValue};
use crate::customer::{Customer, CustomerId};
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
}
