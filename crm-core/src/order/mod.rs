//! Orders and their line items. An order's `external_id` is its idempotency key.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::CustomerId;
use crate::money::{Currency, Money};

mod scan;
mod store;

pub use scan::{OrderScan, OrderScanStore, ScannedItem, ScannedOrder};
pub use store::{OrderAggregate, OrderStore, OrderStoreMut};

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
/// Recording an order whose external id is stored changes the stored order to what was
/// sent, and **keeps what was not sent**: with no `status`, `channel` or `items` (absent or
/// JSON `null`), and no customer reference, the stored values stay. A new order without a
/// status is `completed`. An order with refunds takes the total and lines sent as sold, net
/// of its refunds (see [`Refund`]). To clear a channel or change only some fields, use
/// [`Crm::update_order`](crate::Crm::update_order); `"items": []` removes every line.
///
/// ```
/// let o: crm_core::NewOrder = serde_json::from_str(r#"{
///   "external_id": "O-1", "customer_external_id": "C-1",
///   "occurred_at": "2026-01-05T10:00:00Z", "currency": "USD", "total_minor": 2599,
///   "items": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 2599}]}"#).unwrap();
/// assert_eq!(o.total_minor, 2599);
/// assert_eq!(o.status, None); // completed when new; kept when the order is stored
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// The host's key.
    pub external_id: String,
    /// The customer by store id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    /// The customer by external id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_external_id: Option<String>,
    /// When the order was placed.
    pub occurred_at: DateTime<Utc>,
    /// Status: `completed` for a new order when absent; kept on an update when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OrderStatus>,
    /// Currency of the total and the line items.
    pub currency: Currency,
    /// Total in minor units.
    pub total_minor: i64,
    /// Sales channel; kept on an update when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Line items; kept on an update when absent (`Some(vec![])` removes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<LineItem>>,
}

/// A partial update of a stored order ([`Crm::update_order`](crate::Crm::update_order)).
/// Absent fields are left alone; `channel: Some(None)` (JSON `null`) clears the channel.
/// Statistics and loyalty points follow the change in the same transaction.
///
/// ```
/// let p: crm_core::OrderPatch = serde_json::from_str(r#"{"status": "refunded"}"#).unwrap();
/// assert_eq!(p.status, Some(crm_core::OrderStatus::Refunded));
/// assert!(p.items.is_none());
/// ```
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderPatch {
    /// Move the order to the customer with this store id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    /// Move the order to the customer with this external id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_external_id: Option<String>,
    /// New time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// New status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<OrderStatus>,
    /// New currency (of the total and the line items).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// New total in minor units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_minor: Option<i64>,
    /// New channel (`null` clears it).
    #[serde(deserialize_with = "crate::customer::double_option", skip_serializing_if = "Option::is_none")]
    pub channel: Option<Option<String>>,
    /// New line items (replace all of them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<LineItem>>,
}

/// One refunded line of a partial refund: `quantity` units of the order's line with `sku`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundLine {
    /// The SKU of the order's line.
    pub sku: String,
    /// Units refunded (1 up to the units the line still holds).
    pub quantity: i64,
}

/// A refund of part (or all) of a completed order ([`Crm::refund_order`](crate::Crm::refund_order)).
///
/// The refunded amount is `amount_minor` when given, otherwise the value of the refunded
/// `lines` (quantity times unit price); at least one of the two is required. The refunded
/// units leave the order's lines and the amount leaves its total, which is then what the
/// customer paid net of refunds; when nothing is left the order becomes `refunded`. Recording
/// the order again as the host sold it changes nothing: an order with refunds takes what a
/// host sends (its total and lines) net of them. `key` makes the refund idempotent: sending the same
/// refund again changes nothing, and a different refund under a used key is a conflict.
///
/// ```
/// let r: crm_core::Refund = serde_json::from_str(
///     r#"{"key": "RF-1", "lines": [{"sku": "SHOE-1", "quantity": 1}]}"#).unwrap();
/// assert_eq!(r.amount_minor, None);
/// ```
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Refund {
    /// Idempotency key (1 to 256 bytes, unique among refunds).
    pub key: String,
    /// Amount refunded in minor units of the order's currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    /// Lines refunded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<RefundLine>,
    /// When the money went back (default: now); not before the order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// A stored refund of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRefund {
    /// The order.
    pub order_id: OrderId,
    /// The idempotency key.
    pub key: String,
    /// Amount refunded, in minor units of the order's currency.
    pub amount_minor: i64,
    /// Lines refunded.
    pub lines: Vec<RefundLine>,
    /// When the money went back.
    pub at: DateTime<Utc>,
    /// When the refund was recorded.
    pub created_at: DateTime<Utc>,
}
