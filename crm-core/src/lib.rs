//! # crm-core
//!
//! An embeddable customer-management library: customers and their profiles, interactions,
//! orders with line items, per-customer statistics kept up to date in the same transaction
//! as every write, bulk ingest from CSV and JSON Lines, and a change feed, all behind a
//! [`Store`](store::Store) trait with an embedded SQLite file as the default store.
//!
//! ```
//! use crm_core::{Crm, NewCustomer, NewOrder, CustomerQuery};
//!
//! let crm = Crm::in_memory()?;
//! let ada = crm.upsert_customer(&NewCustomer {
//!     external_id: Some("C-1".into()),
//!     name: "Ada Lovelace".into(),
//!     email: Some("ada@example.com".into()),
//!     phone: Some("+44 20 7946 0958".into()),
//!     ..Default::default()
//! })?.record;
//! assert_eq!(ada.phone.as_deref(), Some("+442079460958"));
//!
//! let order: NewOrder = serde_json::from_str(r#"{"external_id": "O-1", "customer_external_id": "C-1",
//!     "occurred_at": "2026-03-01T12:00:00Z", "currency": "GBP", "total_minor": 4200}"#)?;
//! crm.record_order(&order)?;
//! crm.record_order(&order)?; // a retry: stored once
//!
//! let stats = crm.customer_stats(ada.id)?;
//! assert_eq!(stats.order_count, 1);
//! assert_eq!(stats.total_spent[0].to_string(), "42.00 GBP");
//! assert_eq!(crm.query_customers(&CustomerQuery::default())?.items.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod analytics;
pub mod changes;
pub mod config;
mod crm;
pub mod customer;
mod error;
pub use crm::ingest;
pub mod identity;
pub mod interaction;
pub mod json;
pub mod loyalty;
mod money;
pub mod order;
pub use customer::query;
pub mod rule;
pub mod segment;
pub mod stats;
pub mod store;
pub mod synth;
pub mod timeline;
pub mod validate;

pub use changes::{Change, Op};
pub use crm::{Counts, Crm, CrmConfig, Outcome, Written};
pub use customer::{
    Address, AddressPatch, Consent, Customer, CustomerId, CustomerKind, CustomerPatch, CustomerStats, IdentityFields,
    LifecycleStage, NewCustomer, UpsertMode,
};
pub use error::{short_message, Entity, Error, Result, StorageErrorKind, MAX_MESSAGE_BYTES};
pub use interaction::{Direction, Interaction, InteractionId, InteractionKind, NewInteraction, Score};
pub use money::{Currency, Money, MAX_MINOR};
pub use order::{LineItem, NewOrder, Order, OrderId, OrderPatch, OrderRefund, OrderStatus, Refund, RefundLine};
pub use query::{CustomerFilter, CustomerQuery, Page, SortKey};
pub use timeline::TimelineEntry;
pub use validate::ValidationConfig;

/// The README's Rust snippets, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
