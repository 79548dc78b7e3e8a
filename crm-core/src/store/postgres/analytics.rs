//! The PostgreSQL side of the order scans (analytics, the loyalty simulator): orders (and
//! their line items) in customer, time, order-id order, streamed from the server row by row
//! (`query_raw`: the driver reads no further ahead than the row it hands over), never
//! collected.

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::Row;

use super::{col, corrupt, Mode, Param, Pg, PgTx};
use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::money::{Currency, Money};
use crate::order::{LineItem, Order, OrderId, OrderScan, OrderScanStore, OrderStatus, ScannedItem, ScannedOrder};
use crate::store::codec::{micros, time};

/// `WHERE` conditions on the `orders` table aliased `o`, with their parameters. Only the
/// conditions present are written, so that a scan of one customer uses the index on `customer_id`.
fn conditions(scan: &OrderScan) -> (String, Vec<Box<dyn ToSql + Sync>>) {
    let mut sql = String::from("TRUE");
    let mut p: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    let mut cond = |clause: &str, v: Box<dyn ToSql + Sync>| {
        p.push(v);
        sql.push_str(&format!(" AND {clause} ${}", p.len()));
    };
    if let Some(s) = scan.status {
        cond("o.status =", Box::new(s.as_str()));
    }
    if let Some(c) = scan.currency {
        cond("o.currency =", Box::new(c.code().to_owned()));
    }
    if let Some(c) = scan.customer {
        cond("o.customer_id =", Box::new(c.0));
    }
    if let Some((lo, hi)) = scan.customers {
        cond("o.customer_id >=", Box::new(lo.0));
        cond("o.customer_id <=", Box::new(hi.0));
    }
    if let Some(t) = scan.before {
        cond("o.occurred_at <", Box::new(micros(t)));
    }
    (sql, p)
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

/// The columns of an order (no items) of `orders o`, for [`order_row`]; qualified, since
/// `order_items` shares `customer_id` with `orders`.
const ORDER_COLS: &str = "o.id, o.external_id, o.customer_id, o.occurred_at, o.status, o.currency, o.total_minor, \
     o.channel, o.created_at, o.updated_at";

fn order_row(r: &Row, currencies: &mut CurrencyCache) -> Result<Order> {
    let status: &str = col(r, 4)?;
    let code: &str = col(r, 5)?;
    let currency = currencies.get(code).map_err(|e| corrupt("currency", e))?;
    Ok(Order {
        id: OrderId(col(r, 0)?),
        external_id: col(r, 1)?,
        customer_id: CustomerId(col(r, 2)?),
        occurred_at: time(col(r, 3)?),
        status: OrderStatus::parse(status)
            .ok_or_else(|| corrupt("status", format!("unknown order status {status:?}")))?,
        total: Money::new(col(r, 6)?, currency),
        channel: col(r, 7)?,
        items: Vec::new(),
        created_at: time(col(r, 8)?),
        updated_at: time(col(r, 9)?),
    })
}

impl<M: Mode> PgTx<'_, M> {
    /// Hands each row of `sql` to `each` as the server sends it. The statement is prepared
    /// once per connection (the simulator scans customer by customer with one statement).
    /// Stopping early (an error of `each`) leaves the rest of the result to the driver,
    /// which reads and drops it.
    fn scan_stream(
        &mut self,
        sql: &str,
        p: &[Box<dyn ToSql + Sync>],
        mut each: impl FnMut(&Row) -> Result<()>,
    ) -> Result<()> {
        let st = self.prepare(sql)?;
        let mut rows = self.raw().query_raw(&st, p.iter().map(|v| v.as_ref() as Param<'_>)).pg()?;
        while let Some(r) = rows.next().pg()? {
            each(&r)?;
        }
        Ok(())
    }
}

impl<M: Mode> OrderScanStore for PgTx<'_, M> {
    fn scan_orders(&mut self, scan: &OrderScan, f: &mut dyn FnMut(&ScannedOrder<'_>) -> Result<()>) -> Result<()> {
        let (cond, p) = conditions(scan);
        let sql = format!(
            "SELECT o.id, o.customer_id, o.occurred_at, o.currency, o.total_minor, o.channel FROM orders o \
             WHERE {cond} ORDER BY o.customer_id, o.occurred_at, o.id"
        );
        let mut currencies = CurrencyCache::default();
        self.scan_stream(&sql, &p, |r| {
            let currency = currencies.get(col(r, 3)?)?;
            f(&ScannedOrder {
                id: OrderId(col(r, 0)?),
                customer_id: CustomerId(col(r, 1)?),
                occurred_at: time(col(r, 2)?),
                currency,
                total_minor: col(r, 4)?,
                channel: col(r, 5)?,
            })
        })
    }

    fn scan_order_items(&mut self, scan: &OrderScan, f: &mut dyn FnMut(&ScannedItem<'_>) -> Result<()>) -> Result<()> {
        let (cond, p) = conditions(scan);
        let sql = format!(
            "SELECT o.id, o.customer_id, o.occurred_at, o.currency, i.sku, i.category, i.quantity, i.unit_price_minor \
             FROM orders o JOIN order_items i ON i.order_id = o.id \
             WHERE {cond} ORDER BY o.customer_id, o.occurred_at, o.id, i.line_no"
        );
        let mut currencies = CurrencyCache::default();
        self.scan_stream(&sql, &p, |r| {
            let currency = currencies.get(col(r, 3)?)?;
            f(&ScannedItem {
                order_id: OrderId(col(r, 0)?),
                customer_id: CustomerId(col(r, 1)?),
                occurred_at: time(col(r, 2)?),
                currency,
                sku: col(r, 4)?,
                category: col(r, 5)?,
                quantity: col(r, 6)?,
                unit_price_minor: col(r, 7)?,
            })
        })
    }

    fn scan_order_records(
        &mut self,
        scan: &OrderScan,
        items: bool,
        f: &mut dyn FnMut(&Order) -> Result<()>,
    ) -> Result<()> {
        let (cond, p) = conditions(scan);
        let mut currencies = CurrencyCache::default();
        if !items {
            let sql =
                format!("SELECT {ORDER_COLS} FROM orders o WHERE {cond} ORDER BY o.customer_id, o.occurred_at, o.id");
            return self.scan_stream(&sql, &p, |r| f(&order_row(r, &mut currencies)?));
        }
        let sql = format!(
            "SELECT {ORDER_COLS}, i.sku, i.category, i.quantity, i.unit_price_minor \
             FROM orders o LEFT JOIN order_items i ON i.order_id = o.id \
             WHERE {cond} ORDER BY o.customer_id, o.occurred_at, o.id, i.line_no"
        );
        let mut current: Option<Order> = None;
        self.scan_stream(&sql, &p, |r| {
            let id = OrderId(col(r, 0)?);
            if current.as_ref().is_none_or(|o| o.id != id) {
                if let Some(o) = current.take() {
                    f(&o)?;
                }
                current = Some(order_row(r, &mut currencies)?);
            }
            // A LEFT JOIN row without an item (an order without lines) has a NULL sku.
            if let (Some(o), Some(sku)) = (current.as_mut(), col::<Option<String>>(r, 10)?) {
                o.items.push(LineItem {
                    sku,
                    category: col(r, 11)?,
                    quantity: col(r, 12)?,
                    unit_price_minor: col(r, 13)?,
                });
            }
            Ok(())
        })?;
        if let Some(o) = current {
            f(&o)?;
        }
        Ok(())
    }
}
