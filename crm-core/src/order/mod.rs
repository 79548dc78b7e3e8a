//! Orders and their line items. An order's `external_id` is its idempotency key.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::CustomerId;
use crate::money::{Currency, Money};

/// Store-assigned order id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct OrderId(pub i64);

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Order status. Only `completed` orders count in customer statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Paid and fulfilled (or being fulfilled).
    #[default]
    Completed,
    /// Money returned to the customer.
    Refunded,
    /// Called off before completion.
    Cancelled,
}

impl OrderStatus {
    /// The lower-case name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Completed => "completed",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<OrderStatus> {
        match s {
            "completed" => Some(OrderStatus::Completed),
            "refunded" => Some(OrderStatus::Refunded),
            "cancelled" => Some(OrderStatus::Cancelled),
            _ => None,
        }
    }
}

/// One line of an order. The unit price is in the order's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LineItem {
    /// Stock-keeping unit.
    pub sku: String,
    /// Product category.
    #[serde(default)]
    pub category: Option<String>,
    /// Quantity, at least 1.
    pub quantity: i64,
    /// Price of one unit in minor units of the order's currency.
    pub unit_price_minor: i64,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Store-assigned id.
    pub id: OrderId,
    /// The host's key (idempotency key).
    pub external_id: String,
    /// The customer.
    pub customer_id: CustomerId,
    /// When the order was placed.
    pub occurred_at: DateTime<Utc>,
    /// Status.
    pub status: OrderStatus,
    /// Order total.
    pub total: Money,
    /// Sales channel (`"web"`, `"store"`, ...).
    pub channel: Option<String>,
    /// Line items.
    pub items: Vec<LineItem>,
    /// When the record was stored.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
}

/// Input for recording an order (an upsert by `external_id`).
///
/// `total_minor` is what the customer paid and need not equal the sum of the line items
/// (discounts, shipping and tax differ between hosts); both are validated for range.
///
/// ```
/// let o: crm_core::NewOrder = serde_json::from_str(r#"{
///   "external_id": "O-1", "customer_external_id": "C-1",
///   "occurred_at": "2026-01-05T10:00:00Z", "currency": "USD", "total_minor": 2599,
///   "items": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 2599}]}"#).unwrap();
/// assert_eq!(o.total_minor, 2599);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// The host's key.
    pub external_id: String,
    /// The customer by store id.
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
    /// The customer by external id.
    #[serde(default)]
    pub customer_external_id: Option<String>,
    /// When the order was placed.
    pub occurred_at: DateTime<Utc>,
    /// Status (defaults to completed).
    #[serde(default)]
    pub status: OrderStatus,
    /// Currency of the total and the line items.
    pub currency: Currency,
    /// Total in minor units.
    pub total_minor: i64,
    /// Sales channel.
    #[serde(default)]
    pub channel: Option<String>,
    /// Line items.
    #[serde(default)]
    pub items: Vec<LineItem>,
}
