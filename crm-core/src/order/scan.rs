//! Streaming scans of orders for analytics and the loyalty simulator: rows are handed to a
//! callback one at a time in customer, time, order-id order, so that ten million orders never
//! sit in memory together.

use chrono::{DateTime, Utc};

use crate::customer::CustomerId;
use crate::error::Result;
use crate::money::Currency;
use crate::order::{Order, OrderId, OrderStatus};

/// Which orders a scan visits. Every condition left `None` is not applied.
///
/// ```
/// use crm_core::order::OrderScan;
/// use crm_core::OrderStatus;
/// let scan = OrderScan { status: Some(OrderStatus::Completed), ..Default::default() };
/// assert!(scan.currency.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrderScan {
    /// Only orders with this status.
    pub status: Option<OrderStatus>,
    /// Only orders in this currency.
    pub currency: Option<Currency>,
    /// Only this customer's orders.
    pub customer: Option<CustomerId>,
    /// Only the orders of customers with ids in this inclusive range.
    pub customers: Option<(CustomerId, CustomerId)>,
    /// Only orders placed strictly before this instant.
    pub before: Option<DateTime<Utc>>,
}

/// One order as a scan sees it: no line items, the channel borrowed from the scan's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedOrder<'a> {
    /// Order id.
    pub id: OrderId,
    /// The customer.
    pub customer_id: CustomerId,
    /// When it was placed.
    pub occurred_at: DateTime<Utc>,
    /// Currency of the total.
    pub currency: Currency,
    /// Total in minor units.
    pub total_minor: i64,
    /// Sales channel.
    pub channel: Option<&'a str>,
}

/// One line item of a scanned order, with the order's customer and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedItem<'a> {
    /// Order id.
    pub order_id: OrderId,
    /// The order's customer.
    pub customer_id: CustomerId,
    /// When the order was placed.
    pub occurred_at: DateTime<Utc>,
    /// The order's currency.
    pub currency: Currency,
    /// Stock-keeping unit.
    pub sku: &'a str,
    /// Product category.
    pub category: Option<&'a str>,
    /// Quantity.
    pub quantity: i64,
    /// Unit price in minor units of the order's currency.
    pub unit_price_minor: i64,
}

/// The storage port of orderscan records: what the domain reads. Each store implements
/// it (in its own file); a read transaction has it, so does a write transaction.
pub trait OrderScanStore {
    /// Hands the orders that `scan` selects to `f` one at a time (streamed, never collected),
    /// ordered by customer id, then time, then order id. Stops at the first error of `f`.
    fn scan_orders(&mut self, scan: &OrderScan, f: &mut dyn FnMut(&ScannedOrder<'_>) -> Result<()>) -> Result<()>;
    /// Hands the line items of the orders that `scan` selects to `f` one at a time, in the
    /// order of [`scan_orders`](Self::scan_orders) and then by line number.
    fn scan_order_items(&mut self, scan: &OrderScan, f: &mut dyn FnMut(&ScannedItem<'_>) -> Result<()>) -> Result<()>;
    /// Hands the orders that `scan` selects to `f` as whole records (every status the scan
    /// lets through, with their line items by line number when `items` is true, else with
    /// none), one at a time in the order of [`scan_orders`](Self::scan_orders). Stops at the first error of `f`.
    fn scan_order_records(
        &mut self,
        scan: &OrderScan,
        items: bool,
        f: &mut dyn FnMut(&Order) -> Result<()>,
    ) -> Result<()>;
}
