//! The order port on PostgreSQL (orders, items, refunds).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use postgres::types::Type;

use super::*;
use crate::changes::Entity;
use crate::money::{Currency, Money};
use crate::order::{LineItem, Order, OrderAggregate, OrderId, OrderRefund, OrderStatus, OrderStore, OrderStoreMut};

/// The columns of an order, for [`order_row`].
pub(crate) const ORDER_COLS: &str =
    "id, external_id, customer_id, occurred_at, status, currency, total_minor, channel, created_at, updated_at";

/// A currency code in column `i`.
pub(crate) fn currency_col(r: &Row, i: usize) -> Result<Currency> {
    let s: String = col(r, i)?;
    Currency::new(&s).map_err(|e| corrupt(r.columns()[i].name(), e))
}

/// An order without its items from a row of [`ORDER_COLS`].
pub(crate) fn order_row(r: &Row) -> Result<Order> {
    let status: String = col(r, 4)?;
    Ok(Order {
        id: OrderId(col(r, 0)?),
        external_id: col(r, 1)?,
        customer_id: CustomerId(col(r, 2)?),
        occurred_at: time(col(r, 3)?),
        status: OrderStatus::parse(&status)
            .ok_or_else(|| corrupt("status", format!("unknown order status {status:?}")))?,
        total: Money::new(col(r, 6)?, currency_col(r, 5)?),
        channel: col(r, 7)?,
        items: Vec::new(),
        created_at: time(col(r, 8)?),
        updated_at: time(col(r, 9)?),
    })
}

/// The columns of a refund, for [`refund_row`].
pub(crate) const REFUND_COLS: &str = "order_id, refund_key, amount_minor, lines, at, created_at";

/// A refund from a row of [`REFUND_COLS`].
pub(crate) fn refund_row(r: &Row) -> Result<OrderRefund> {
    Ok(OrderRefund {
        order_id: OrderId(col(r, 0)?),
        key: col(r, 1)?,
        amount_minor: col(r, 2)?,
        lines: json_col(r, 3)?,
        at: time(col(r, 4)?),
        created_at: time(col(r, 5)?),
    })
}

fn order_values(o: &Order) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    vec![
        Box::new(o.external_id.clone()),
        Box::new(o.customer_id.0),
        Box::new(micros(o.occurred_at)),
        Box::new(o.status.as_str()),
        Box::new(o.total.currency.code()),
        Box::new(o.total.minor),
        Box::new(o.channel.clone()),
        Box::new(micros(o.created_at)),
        Box::new(micros(o.updated_at)),
    ]
}

impl<M: Mode> PgTx<'_, M> {
    /// Fills in the line items of `orders` (in line order), in one query.
    pub(crate) fn load_items(&mut self, orders: &mut [Order]) -> Result<()> {
        if orders.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = orders.iter().map(|o| o.id.0).collect();
        let at: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let rows = self.query(
            "SELECT order_id, sku, category, quantity, unit_price_minor FROM order_items WHERE order_id = ANY($1) \
             ORDER BY order_id, line_no",
            &[&ids],
        )?;
        for r in &rows {
            let id: i64 = col(r, 0)?;
            if let Some(&i) = at.get(&id) {
                orders[i].items.push(LineItem {
                    sku: col(r, 1)?,
                    category: col(r, 2)?,
                    quantity: col(r, 3)?,
                    unit_price_minor: col(r, 4)?,
                });
            }
        }
        Ok(())
    }

    /// Orders of `sql` (which selects [`ORDER_COLS`]) with their items.
    pub(crate) fn orders_with_items(&mut self, sql: &str, p: &[Param<'_>]) -> Result<Vec<Order>> {
        let mut orders = self.query(sql, p)?.iter().map(order_row).collect::<Result<Vec<_>>>()?;
        self.load_items(&mut orders)?;
        Ok(orders)
    }

    fn one_order(&mut self, sql_where: &str, p: &[Param<'_>]) -> Result<Option<Order>> {
        let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE {sql_where}");
        let Some(r) = self.row_of_locked_customer(&sql, p, 2)? else { return Ok(None) };
        let mut o = [order_row(&r)?];
        self.load_items(&mut o)?;
        let [o] = o;
        Ok(Some(o))
    }
}

impl PgTx<'_, Writing> {
    /// Stores the lines of order `id` of `customer`, numbered from 0 in their order.
    fn insert_items(&mut self, id: OrderId, customer: CustomerId, items: &[LineItem]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let skus: Vec<&str> = items.iter().map(|it| it.sku.as_str()).collect();
        let categories: Vec<Option<&str>> = items.iter().map(|it| it.category.as_deref()).collect();
        let quantities: Vec<i64> = items.iter().map(|it| it.quantity).collect();
        let prices: Vec<i64> = items.iter().map(|it| it.unit_price_minor).collect();
        // All lines in one statement, numbered from 0 in their order.
        self.execute(
            "INSERT INTO order_items (order_id, line_no, sku, category, quantity, unit_price_minor, customer_id) \
             SELECT $1, t.n - 1, t.sku, t.category, t.quantity, t.price, $6 \
             FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[]) WITH ORDINALITY AS t(sku, category, quantity, price, n)",
            &[&id.0, &skus, &categories, &quantities, &prices, &customer.0],
        )?;
        Ok(())
    }
}

impl<M: Mode> OrderStore for PgTx<'_, M> {
    fn order_id_by_external_id(&mut self, external_id: &str) -> Result<Option<OrderId>> {
        self.lock_key("order", external_id)?;
        let r = self.query_opt("SELECT id FROM orders WHERE external_id = $1", &[&external_id])?;
        Ok(r.map(|r| col(&r, 0)).transpose()?.map(OrderId))
    }

    fn get_order(&mut self, id: OrderId) -> Result<Option<Order>> {
        self.one_order("id = $1", &[&id.0])
    }

    fn order_by_external_id(&mut self, external_id: &str) -> Result<Option<Order>> {
        self.lock_key("order", external_id)?;
        self.one_order("external_id = $1", &[&external_id])
    }

    fn order_ids_of(&mut self, customer: CustomerId) -> Result<Vec<OrderId>> {
        self.lock_customer(customer)?;
        let rows = self.query("SELECT id FROM orders WHERE customer_id = $1 ORDER BY id", &[&customer.0])?;
        rows.iter().map(|r| Ok(OrderId(col(r, 0)?))).collect()
    }

    fn count_orders(&mut self) -> Result<i64> {
        col(&self.query_one("SELECT count(*) FROM orders", &[])?, 0)
    }

    fn refund_by_key(&mut self, key: &str) -> Result<Option<OrderRefund>> {
        self.lock_key("refund", key)?;
        let sql = format!("SELECT {REFUND_COLS} FROM order_refunds WHERE refund_key = $1");
        self.query_opt(&sql, &[&key])?.map(|r| refund_row(&r)).transpose()
    }

    fn refunds_of_order(&mut self, order: OrderId) -> Result<Vec<OrderRefund>> {
        self.lock_customer_of("SELECT customer_id FROM orders WHERE id = $1", &[&order.0])?;
        let sql = format!("SELECT {REFUND_COLS} FROM order_refunds WHERE order_id = $1 ORDER BY id");
        self.query(&sql, &[&order.0])?.iter().map(refund_row).collect()
    }

    fn aggregate_orders(&mut self, customer: CustomerId, status: OrderStatus) -> Result<OrderAggregate> {
        self.lock_customer(customer)?;
        let rows = self.query(
            "SELECT currency, count(*), min(occurred_at), max(occurred_at), sum(total_minor)::bigint FROM orders \
             WHERE customer_id = $1 AND status = $2 GROUP BY currency ORDER BY currency COLLATE \"C\"",
            &[&customer.0, &status.as_str()],
        )?;
        let mut agg = OrderAggregate::default();
        for r in &rows {
            let n: i64 = col(r, 1)?;
            let (first, last) = (time(col(r, 2)?), time(col(r, 3)?));
            agg.count += n;
            agg.first_at = Some(agg.first_at.map_or(first, |f| f.min(first)));
            agg.last_at = Some(agg.last_at.map_or(last, |l| l.max(last)));
            agg.spend.push((currency_col(r, 0)?, col(r, 4)?));
        }
        Ok(agg)
    }

    fn orders_of(&mut self, customer: CustomerId, since: Option<DateTime<Utc>>) -> Result<Vec<Order>> {
        self.lock_customer(customer)?;
        let since = since.map_or(i64::MIN, micros);
        let sql = format!(
            "SELECT {ORDER_COLS} FROM orders WHERE customer_id = $1 AND occurred_at >= $2 ORDER BY occurred_at, id"
        );
        self.orders_with_items(&sql, &[&customer.0, &since])
    }

    fn completed_between(
        &mut self,
        customer: CustomerId,
        currency: Option<Currency>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<i64> {
        self.lock_customer(customer)?;
        let (what, cur) = match currency {
            Some(cur) => ("coalesce(sum(total_minor), 0)::bigint", cur.code()),
            None => ("count(*)", ""),
        };
        let sql = format!(
            "SELECT {what} FROM orders WHERE customer_id = $1 AND status = 'completed' AND occurred_at > $2 \
             AND occurred_at <= $3 AND ($4 = '' OR currency = $4)"
        );
        col(&self.query_one(&sql, &[&customer.0, &micros(since), &micros(until), &cur])?, 0)
    }
}

impl OrderStoreMut for PgTx<'_, Writing> {
    /// One statement: the external id's and the customer's locks, the key, the order, its
    /// lines; nothing when the key is taken.
    fn insert_order(&mut self, o: &Order) -> Result<Option<OrderId>> {
        let keys = [self.key_of("order", &o.external_id), self.customer_key(o.customer_id)];
        let (shared, exclusive) = self.statement_locks(&keys)?;
        let skus: Vec<&str> = o.items.iter().map(|it| it.sku.as_str()).collect();
        let categories: Vec<Option<&str>> = o.items.iter().map(|it| it.category.as_deref()).collect();
        let quantities: Vec<i64> = o.items.iter().map(|it| it.quantity).collect();
        let prices: Vec<i64> = o.items.iter().map(|it| it.unit_price_minor).collect();
        let values = order_values(o);
        let mut p: Vec<Param<'_>> = vec![&shared, &exclusive];
        p.extend(params(&values));
        p.extend([&skus as Param<'_>, &categories, &quantities, &prices]);
        let sql = format!(
            "{LOCKS_CTE}, k AS (INSERT INTO external_keys (kind, key, customer_id) \
             SELECT 'order', $3::text, $4::bigint FROM locked ON CONFLICT DO NOTHING RETURNING key), \
             o AS (INSERT INTO orders (external_id, customer_id, occurred_at, status, currency, \
             total_minor, channel, created_at, updated_at) \
             SELECT $3::text, $4::bigint, $5::bigint, $6::text, $7::text, $8::bigint, $9::text, $10::bigint, \
             $11::bigint FROM k RETURNING id), \
             i AS (INSERT INTO order_items (order_id, line_no, sku, category, quantity, unit_price_minor, \
             customer_id) SELECT o.id, t.n - 1, t.sku, t.category, t.quantity, t.price, $4::bigint FROM o, \
             unnest($12::text[], $13::text[], $14::bigint[], $15::bigint[]) \
             WITH ORDINALITY AS t(sku, category, quantity, price, n)) \
             SELECT id FROM o"
        );
        let r = self.query_opt(&sql, &p)?;
        r.map(|r| col(&r, 0).map(OrderId)).transpose()
    }

    fn update_order(&mut self, o: &Order) -> Result<()> {
        self.lock_customer(o.customer_id)?;
        let mut values = order_values(o);
        values.push(Box::new(o.id.0));
        // One statement: the order's key follows its external id and customer, and the
        // refunds and their keys go with the order when a correction moves it.
        let n = self.execute(
            "WITH old AS (SELECT external_id, customer_id FROM orders WHERE id = $10), \
             k AS (UPDATE external_keys e SET key = $1::text, customer_id = $2::bigint FROM old \
             WHERE e.kind = 'order' AND e.key = old.external_id \
             AND (old.external_id, old.customer_id) IS DISTINCT FROM ($1::text, $2::bigint)), \
             rf AS (UPDATE order_refunds SET customer_id = $2::bigint WHERE order_id = $10 AND customer_id <> $2::bigint \
             RETURNING refund_key), \
             rk AS (UPDATE external_keys e SET customer_id = $2::bigint FROM rf WHERE e.kind = 'refund' \
             AND e.key = rf.refund_key), \
             items AS (DELETE FROM order_items WHERE order_id = $10) \
             UPDATE orders SET external_id = $1, customer_id = $2, occurred_at = $3, status = $4, currency = $5, \
             total_minor = $6, channel = $7, created_at = $8, updated_at = $9 WHERE id = $10",
            &params(&values),
        )?;
        if n == 0 {
            return Err(Error::not_found(Entity::Order, o.id));
        }
        self.insert_items(o.id, o.customer_id, &o.items)
    }

    fn delete_order(&mut self, id: OrderId) -> Result<()> {
        self.lock_customer_of("SELECT customer_id FROM orders WHERE id = $1", &[&id.0])?;
        self.execute(
            "WITH items AS (DELETE FROM order_items WHERE order_id = $1), \
             refunds AS (DELETE FROM order_refunds WHERE order_id = $1 RETURNING refund_key), \
             refund_keys AS (DELETE FROM external_keys e USING refunds r WHERE e.kind = 'refund' AND e.key = r.refund_key), \
             o AS (DELETE FROM orders WHERE id = $1 RETURNING external_id) \
             DELETE FROM external_keys e USING o WHERE e.kind = 'order' AND e.key = o.external_id",
            &[&id.0],
        )?;
        Ok(())
    }

    fn insert_refund(&mut self, r: &OrderRefund) -> Result<()> {
        self.lock_key("refund", &r.key)?;
        self.lock_customer_of("SELECT customer_id FROM orders WHERE id = $1", &[&r.order_id.0])?;
        let n = self.execute(
            "WITH o AS (SELECT customer_id FROM orders WHERE id = $1), \
             k AS (INSERT INTO external_keys (kind, key, customer_id) SELECT 'refund', $2, customer_id FROM o) \
             INSERT INTO order_refunds (order_id, refund_key, amount_minor, lines, at, created_at, customer_id) \
             SELECT $1, $2, $3, $4, $5, $6, customer_id FROM o",
            &[&r.order_id.0, &r.key, &r.amount_minor, &json(&r.lines), &micros(r.at), &micros(r.created_at)],
        )?;
        if n == 0 {
            return Err(Error::not_found(Entity::Order, r.order_id));
        }
        Ok(())
    }

    fn order_ids_by_external_ids(&mut self, external_ids: &[&str]) -> Result<HashMap<String, OrderId>> {
        self.bulk()?;
        let rows = self.query("SELECT external_id, id FROM orders WHERE external_id = ANY($1)", &[&external_ids])?;
        rows.iter().map(|r| Ok((col(r, 0)?, OrderId(col(r, 1)?)))).collect()
    }

    /// Ids from the sequence, then one binary `COPY` for the orders and one for their lines.
    fn insert_new_orders(&mut self, orders: &mut [Order]) -> Result<()> {
        if orders.is_empty() {
            return Ok(());
        }
        self.bulk()?;
        let ids = self.reserve_ids("orders", orders.len())?;
        for (o, id) in orders.iter_mut().zip(ids) {
            o.id = OrderId(id);
        }
        let (i, t) = (Type::INT8, Type::TEXT);
        let types = [i.clone(), t.clone(), i.clone(), i.clone(), t.clone(), t.clone(), i.clone(), t, i.clone(), i];
        self.copy_in(
            "COPY orders (id, external_id, customer_id, occurred_at, status, currency, total_minor, channel, \
             created_at, updated_at)",
            &types,
            |w| {
                for o in orders.iter() {
                    w.write(&[
                        &o.id.0,
                        &o.external_id,
                        &o.customer_id.0,
                        &micros(o.occurred_at),
                        &o.status.as_str(),
                        &o.total.currency.code(),
                        &o.total.minor,
                        &o.channel,
                        &micros(o.created_at),
                        &micros(o.updated_at),
                    ])?;
                }
                Ok(())
            },
        )?;
        self.copy_keys("order", orders.iter().map(|o| (o.external_id.as_str(), o.customer_id)))?;
        if orders.iter().all(|o| o.items.is_empty()) {
            return Ok(());
        }
        let types = [Type::INT8, Type::INT8, Type::TEXT, Type::TEXT, Type::INT8, Type::INT8, Type::INT8];
        let sql = "COPY order_items (order_id, line_no, sku, category, quantity, unit_price_minor, customer_id)";
        self.copy_in(sql, &types, |w| {
            for o in orders.iter() {
                for (n, it) in (0i64..).zip(&o.items) {
                    let row: [Param<'_>; 7] =
                        [&o.id.0, &n, &it.sku, &it.category, &it.quantity, &it.unit_price_minor, &o.customer_id.0];
                    w.write(&row)?;
                }
            }
            Ok(())
        })
    }
}
