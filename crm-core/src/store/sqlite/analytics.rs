//! The SQLite side of the order scans (analytics, the loyalty simulator): orders (and their
//! line items) in customer, time, order-id order, read row by row from the `orders_customer`
//! index, never collected.

use super::*;
use rusqlite::types::{FromSqlError, Type, Value, ValueRef};
use rusqlite::Row;

use super::error::Db;
use super::{micros, order_row, time, SqliteTx};

/// The columns of an order (no items) of `orders o`, for [`order_row`]; qualified, since
/// `order_items` shares `customer_id` with `orders`.
const ORDER_COLS: &str = "o.id, o.external_id, o.customer_id, o.occurred_at, o.status, o.currency, o.total_minor, \
     o.channel, o.created_at, o.updated_at";
use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::money::Currency;
use crate::order::{LineItem, Order, OrderId};

/// `WHERE` conditions on the `orders` table aliased `o`, with their parameters. Only the
/// conditions present are written, so that a scan of one customer uses the index on `customer_id`.
fn conditions(scan: &OrderScan) -> (String, Vec<Value>) {
    let mut sql = String::from("1 = 1");
    let mut p: Vec<Value> = Vec::new();
    let mut cond = |clause: &str, v: Value| {
        p.push(v);
        sql.push_str(&format!(" AND {clause} ?{}", p.len()));
    };
    if let Some(s) = scan.status {
        cond("o.status =", Value::Text(s.as_str().to_owned()));
    }
    if let Some(c) = scan.currency {
        cond("o.currency =", Value::Text(c.code().to_owned()));
    }
    if let Some(c) = scan.customer {
        cond("o.customer_id =", Value::Integer(c.0));
    }
    if let Some((lo, hi)) = scan.customers {
        cond("o.customer_id >=", Value::Integer(lo.0));
        cond("o.customer_id <=", Value::Integer(hi.0));
    }
    if let Some(t) = scan.before {
        cond("o.occurred_at <", Value::Integer(micros(t)));
    }
    (sql, p)
}

/// Borrows a text column of the current row.
fn text<'r, T>(
    r: &'r Row<'_>,
    col: usize,
    read: fn(&ValueRef<'r>) -> std::result::Result<T, FromSqlError>,
) -> rusqlite::Result<T> {
    let v = r.get_ref(col)?;
    read(&v).map_err(|e| rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e)))
}

/// Parses currency codes, remembering the last one: a scan sees the same code over and over.
#[derive(Default)]
struct CurrencyCache(Option<(String, Currency)>);

impl CurrencyCache {
    fn get(&mut self, code: &str) -> Result<Currency> {
        if let Some((c, cur)) = &self.0 {
            if c == code {
                return Ok(*cur);
            }
        }
        let cur = Currency::new(code)
            .map_err(|_| Error::validation("orders.currency", format!("stored currency {code:?} is unknown")))?;
        self.0 = Some((code.to_owned(), cur));
        Ok(cur)
    }
}

impl<M> SqliteTx<'_, M> {
    pub(super) fn scan_orders_impl(
        &mut self,
        scan: &OrderScan,
        f: &mut dyn FnMut(&ScannedOrder<'_>) -> Result<()>,
    ) -> Result<()> {
        let (cond, p) = conditions(scan);
        let sql = format!(
            "SELECT o.id, o.customer_id, o.occurred_at, o.currency, o.total_minor, o.channel FROM orders o \
             WHERE {cond} ORDER BY o.customer_id, o.occurred_at, o.id"
        );
        let mut st = self.tx.prepare(&sql).db()?;
        let mut rows = st.query(rusqlite::params_from_iter(p)).db()?;
        let mut currencies = CurrencyCache::default();
        while let Some(r) = rows.next().db()? {
            let code = text(r, 3, ValueRef::as_str).db()?;
            let currency = currencies.get(code)?;
            let channel = text(r, 5, ValueRef::as_str_or_null).db()?;
            f(&ScannedOrder {
                id: OrderId(r.get(0).db()?),
                customer_id: CustomerId(r.get(1).db()?),
                occurred_at: time(r.get(2).db()?),
                currency,
                total_minor: r.get(4).db()?,
                channel,
            })?;
        }
        Ok(())
    }

    pub(super) fn scan_order_items_impl(
        &mut self,
        scan: &OrderScan,
        f: &mut dyn FnMut(&ScannedItem<'_>) -> Result<()>,
    ) -> Result<()> {
        let (cond, p) = conditions(scan);
        let sql = format!(
            "SELECT o.id, o.customer_id, o.occurred_at, o.currency, i.sku, i.category, i.quantity, i.unit_price_minor \
             FROM orders o JOIN order_items i ON i.order_id = o.id \
             WHERE {cond} ORDER BY o.customer_id, o.occurred_at, o.id, i.line_no"
        );
        let mut st = self.tx.prepare(&sql).db()?;
        let mut rows = st.query(rusqlite::params_from_iter(p)).db()?;
        let mut currencies = CurrencyCache::default();
        while let Some(r) = rows.next().db()? {
            let code = text(r, 3, ValueRef::as_str).db()?;
            let currency = currencies.get(code)?;
            f(&ScannedItem {
                order_id: OrderId(r.get(0).db()?),
                customer_id: CustomerId(r.get(1).db()?),
                occurred_at: time(r.get(2).db()?),
                currency,
                sku: text(r, 4, ValueRef::as_str).db()?,
                category: text(r, 5, ValueRef::as_str_or_null).db()?,
                quantity: r.get(6).db()?,
                unit_price_minor: r.get(7).db()?,
            })?;
        }
        Ok(())
    }

    pub(super) fn scan_order_records_impl(
        &mut self,
        scan: &OrderScan,
        items: bool,
        f: &mut dyn FnMut(&Order) -> Result<()>,
    ) -> Result<()> {
        let (cond, p) = conditions(scan);
        // Cached: the simulator scans customer by customer with the same statement.
        if !items {
            let sql =
                format!("SELECT {ORDER_COLS} FROM orders o WHERE {cond} ORDER BY o.customer_id, o.occurred_at, o.id");
            let mut st = self.tx.prepare_cached(&sql).db()?;
            let mut rows = st.query(rusqlite::params_from_iter(p)).db()?;
            while let Some(r) = rows.next().db()? {
                f(&order_row(r).db()?)?;
            }
            return Ok(());
        }
        let sql = format!(
            "SELECT {ORDER_COLS}, i.sku, i.category, i.quantity, i.unit_price_minor \
             FROM orders o LEFT JOIN order_items i ON i.order_id = o.id \
             WHERE {cond} ORDER BY o.customer_id, o.occurred_at, o.id, i.line_no"
        );
        let mut st = self.tx.prepare_cached(&sql).db()?;
        let mut rows = st.query(rusqlite::params_from_iter(p)).db()?;
        let mut current: Option<Order> = None;
        while let Some(r) = rows.next().db()? {
            let id = OrderId(r.get(0).db()?);
            if current.as_ref().is_none_or(|o| o.id != id) {
                if let Some(o) = current.take() {
                    f(&o)?;
                }
                current = Some(order_row(r).db()?);
            }
            // A LEFT JOIN row without an item (an order without lines) has a NULL sku.
            if let (Some(o), Some(sku)) = (current.as_mut(), r.get::<_, Option<String>>(10).db()?) {
                o.items.push(LineItem {
                    sku,
                    category: r.get(11).db()?,
                    quantity: r.get(12).db()?,
                    unit_price_minor: r.get(13).db()?,
                });
            }
        }
        if let Some(o) = current {
            f(&o)?;
        }
        Ok(())
    }
}

impl<M> crate::order::OrderScanStore for SqliteTx<'_, M> {
    fn scan_orders(&mut self, scan: &OrderScan, f: &mut dyn FnMut(&ScannedOrder<'_>) -> Result<()>) -> Result<()> {
        self.scan_orders_impl(scan, f)
    }

    fn scan_order_items(&mut self, scan: &OrderScan, f: &mut dyn FnMut(&ScannedItem<'_>) -> Result<()>) -> Result<()> {
        self.scan_order_items_impl(scan, f)
    }

    fn scan_order_records(
        &mut self,
        scan: &OrderScan,
        items: bool,
        f: &mut dyn FnMut(&Order) -> Result<()>,
    ) -> Result<()> {
        self.scan_order_records_impl(scan, items, f)
    }
}
