//! The order port on SQLite (orders, items, refunds).

use super::*;

impl<M> crate::order::OrderStore for SqliteTx<'_, M> {
    fn order_id_by_external_id(&mut self, external_id: &str) -> Result<Option<OrderId>> {
        let mut st = self.tx.prepare_cached("SELECT id FROM orders WHERE external_id = ?1").db()?;
        Ok(st.query_row([external_id], |r| r.get(0)).optional().db()?.map(OrderId))
    }

    fn get_order(&mut self, id: OrderId) -> Result<Option<Order>> {
        let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE id = ?1");
        let o = self.tx.prepare_cached(&sql).db()?.query_row([id.0], order_row).optional().db()?;
        o.map(|o| self.load_items(o)).transpose()
    }

    fn order_by_external_id(&mut self, external_id: &str) -> Result<Option<Order>> {
        let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE external_id = ?1");
        let o = self.tx.prepare_cached(&sql).db()?.query_row([external_id], order_row).optional().db()?;
        o.map(|o| self.load_items(o)).transpose()
    }

    fn order_ids_of(&mut self, customer: CustomerId) -> Result<Vec<OrderId>> {
        Ok(self
            .ids("SELECT id FROM orders WHERE customer_id = ?1 ORDER BY id", customer.0)?
            .into_iter()
            .map(OrderId)
            .collect())
    }

    fn count_orders(&mut self) -> Result<i64> {
        self.count("SELECT count(*) FROM orders")
    }

    fn refund_by_key(&mut self, key: &str) -> Result<Option<OrderRefund>> {
        let sql = format!("SELECT {REFUND_COLS} FROM order_refunds WHERE refund_key = ?1");
        self.tx.prepare_cached(&sql).db()?.query_row([key], refund_row).optional().db()
    }

    fn refunds_of_order(&mut self, order: OrderId) -> Result<Vec<OrderRefund>> {
        let sql = format!("SELECT {REFUND_COLS} FROM order_refunds WHERE order_id = ?1 ORDER BY id");
        let rows = self
            .tx
            .prepare_cached(&sql)
            .db()?
            .query_map([order.0], refund_row)
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }

    fn aggregate_orders(&mut self, customer: CustomerId, status: OrderStatus) -> Result<OrderAggregate> {
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT currency, count(*), min(occurred_at), max(occurred_at), sum(total_minor) FROM orders \
             WHERE customer_id = ?1 AND status = ?2 GROUP BY currency ORDER BY currency",
            )
            .db()?;
        let mut agg = OrderAggregate::default();
        let mut rows = st.query(params![customer.0, status.as_str()]).db()?;
        while let Some(r) = rows.next().db()? {
            let n: i64 = r.get(1).db()?;
            let (first, last) = (time(r.get(2).db()?), time(r.get(3).db()?));
            agg.count += n;
            agg.first_at = Some(agg.first_at.map_or(first, |f| f.min(first)));
            agg.last_at = Some(agg.last_at.map_or(last, |l| l.max(last)));
            agg.spend.push((currency_col(r, 0).db()?, r.get(4).db()?));
        }
        Ok(agg)
    }

    fn orders_of(&mut self, customer: CustomerId, since: Option<DateTime<Utc>>) -> Result<Vec<Order>> {
        segments::orders_of(&self.tx, customer, since.map(micros))
    }

    fn completed_between(
        &mut self,
        customer: CustomerId,
        currency: Option<Currency>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<i64> {
        loyalty::completed_between(&self.tx, customer, currency, since, until)
    }
}

impl crate::order::OrderStoreMut for SqliteTx<'_, Writing> {
    fn insert_order(&mut self, o: &Order) -> Result<Option<OrderId>> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO orders (external_id, customer_id, occurred_at, status, currency, total_minor, channel, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(external_id) DO NOTHING",
        ).db()?;
        let n = st
            .execute(params![
                o.external_id,
                o.customer_id.0,
                micros(o.occurred_at),
                o.status.as_str(),
                o.total.currency.code(),
                o.total.minor,
                o.channel,
                micros(o.created_at),
                micros(o.updated_at),
            ])
            .db()?;
        if n == 0 {
            return Ok(None);
        }
        let id = OrderId(self.tx.last_insert_rowid());
        self.insert_items(id, o.customer_id, &o.items)?;
        Ok(Some(id))
    }

    fn update_order(&mut self, o: &Order) -> Result<()> {
        let mut st = self
            .tx
            .prepare_cached(
                "UPDATE orders SET external_id = ?1, customer_id = ?2, occurred_at = ?3, status = ?4, currency = ?5, \
             total_minor = ?6, channel = ?7, created_at = ?8, updated_at = ?9 WHERE id = ?10",
            )
            .db()?;
        let n = st
            .execute(params![
                o.external_id,
                o.customer_id.0,
                micros(o.occurred_at),
                o.status.as_str(),
                o.total.currency.code(),
                o.total.minor,
                o.channel,
                micros(o.created_at),
                micros(o.updated_at),
                o.id.0,
            ])
            .db()?;
        if n == 0 {
            return Err(Error::not_found(Entity::Order, o.id));
        }
        self.tx.prepare_cached("DELETE FROM order_items WHERE order_id = ?1").db()?.execute([o.id.0]).db()?;
        // The refunds go with the order when a correction moves it to another customer.
        self.tx
            .prepare_cached("UPDATE order_refunds SET customer_id = ?2 WHERE order_id = ?1 AND customer_id <> ?2")
            .db()?
            .execute([o.id.0, o.customer_id.0])
            .db()?;
        self.insert_items(o.id, o.customer_id, &o.items)
    }

    fn delete_order(&mut self, id: OrderId) -> Result<()> {
        self.tx.prepare_cached("DELETE FROM order_items WHERE order_id = ?1").db()?.execute([id.0]).db()?;
        self.tx.prepare_cached("DELETE FROM order_refunds WHERE order_id = ?1").db()?.execute([id.0]).db()?;
        self.tx.prepare_cached("DELETE FROM orders WHERE id = ?1").db()?.execute([id.0]).db()?;
        Ok(())
    }

    fn insert_refund(&mut self, r: &OrderRefund) -> Result<()> {
        let n = self
            .tx
            .prepare_cached(
                "INSERT INTO order_refunds (order_id, refund_key, amount_minor, lines, at, created_at, customer_id) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, customer_id FROM orders WHERE id = ?1",
            )
            .db()?
            .execute(params![r.order_id.0, r.key, r.amount_minor, json(&r.lines), micros(r.at), micros(r.created_at)])
            .db()?;
        if n == 0 {
            return Err(Error::not_found(Entity::Order, r.order_id));
        }
        Ok(())
    }
}
