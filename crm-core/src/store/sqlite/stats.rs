//! The statistics port on SQLite.

use super::*;

impl<M> crate::stats::StatsStore for SqliteTx<'_, M> {
    fn get_stats(&mut self, customer: CustomerId) -> Result<CustomerStats> {
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT order_count, first_order_at, last_order_at, interaction_count, last_interaction_at \
             FROM customer_stats WHERE customer_id = ?1",
            )
            .db()?;
        let mut s = st
            .query_row([customer.0], |r| {
                Ok(CustomerStats {
                    customer_id: customer,
                    order_count: r.get(0)?,
                    first_order_at: opt_time(r.get(1)?),
                    last_order_at: opt_time(r.get(2)?),
                    total_spent: Vec::new(),
                    interaction_count: r.get(3)?,
                    last_interaction_at: opt_time(r.get(4)?),
                })
            })
            .optional()
            .db()?
            .unwrap_or(CustomerStats { customer_id: customer, ..CustomerStats::default() });
        let mut st = self.tx.prepare_cached(
            "SELECT currency, total_minor FROM customer_spend WHERE customer_id = ?1 AND total_minor != 0 ORDER BY currency",
        ).db()?;
        s.total_spent = st
            .query_map([customer.0], |r| Ok(Money::new(r.get(1)?, currency_col(r, 0)?)))
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(s)
    }

    fn top_spenders(&mut self, currency: Currency, limit: usize) -> Result<Vec<(CustomerId, i64)>> {
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT customer_id, total_minor FROM customer_spend WHERE currency = ?1 AND total_minor > 0 \
             ORDER BY total_minor DESC, customer_id LIMIT ?2",
            )
            .db()?;
        let rows = st
            .query_map(params![currency.code(), limit as i64], |r| Ok((CustomerId(r.get(0)?), r.get(1)?)))
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }

    fn spend_values(&mut self, currency: Currency) -> Result<Vec<i64>> {
        segments::spend_values(&self.tx, currency)
    }

    fn period_states_of(&mut self, customers: &[CustomerId]) -> Result<Vec<(CustomerId, PeriodState)>> {
        const COLUMNS: &str = "SELECT currency, orders, first_at, last_at, days, first_day_minor, weeks, \
                               first_week_minor, customer_id FROM customer_spend";
        let read = |r: &Row<'_>| Ok((CustomerId(r.get(8)?), period_state(r, 0)?));
        // One customer (a single write) by key: `rarray` costs tens of microseconds to set up.
        if let [one] = customers {
            let mut st = self
                .tx
                .prepare_cached(&format!("{COLUMNS} WHERE customer_id = ?1 AND first_at IS NOT NULL ORDER BY currency"))
                .db()?;
            return st.query_map([one.0], read).db()?.collect::<rusqlite::Result<_>>().db();
        }
        let ids: Vec<rusqlite::types::Value> = customers.iter().map(|c| rusqlite::types::Value::Integer(c.0)).collect();
        let mut st = self
            .tx
            .prepare_cached(&format!(
                "{COLUMNS} WHERE customer_id IN rarray(?1) AND first_at IS NOT NULL ORDER BY customer_id, currency"
            ))
            .db()?;
        let rows = st.query_map([std::rc::Rc::new(ids)], read).db()?.collect::<rusqlite::Result<_>>().db()?;
        Ok(rows)
    }

    fn scan_period_states(
        &mut self,
        currency: Option<Currency>,
        f: &mut dyn FnMut(CustomerId, &PeriodState, i64) -> Result<()>,
    ) -> Result<()> {
        // The table's key is (currency, customer): one range per currency, in order.
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT currency, orders, first_at, last_at, days, first_day_minor, weeks, first_week_minor, \
                 customer_id, total_minor FROM customer_spend \
                 WHERE (?1 IS NULL OR currency = ?1) AND orders > 0 ORDER BY currency, customer_id",
            )
            .db()?;
        let mut rows = st.query([currency.map(|c| c.code())]).db()?;
        while let Some(r) = rows.next().db()? {
            let state = period_state(r, 0).db()?;
            f(CustomerId(r.get(8).db()?), &state, r.get(9).db()?)?;
        }
        Ok(())
    }
}

fn period_state(r: &Row<'_>, at: usize) -> rusqlite::Result<PeriodState> {
    Ok(PeriodState {
        currency: currency_col(r, at)?,
        orders: r.get(at + 1)?,
        first_at: time(r.get(at + 2)?),
        last_at: time(r.get(at + 3)?),
        days: r.get(at + 4)?,
        first_day_minor: r.get(at + 5)?,
        weeks: r.get(at + 6)?,
        first_week_minor: r.get(at + 7)?,
    })
}

impl crate::stats::StatsStoreMut for SqliteTx<'_, Writing> {
    fn put_period_states(&mut self, states: &[(CustomerId, PeriodState)]) -> Result<()> {
        let mut st = self
            .tx
            .prepare_cached(
                "INSERT INTO customer_spend (customer_id, currency, total_minor, orders, first_at, last_at, days, \
                 first_day_minor, weeks, first_week_minor) VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT(currency, customer_id) DO UPDATE SET orders = excluded.orders, \
                 first_at = excluded.first_at, last_at = excluded.last_at, days = excluded.days, \
                 first_day_minor = excluded.first_day_minor, weeks = excluded.weeks, \
                 first_week_minor = excluded.first_week_minor",
            )
            .db()?;
        for (customer, p) in states {
            st.execute(params![
                customer.0,
                p.currency.code(),
                p.orders,
                micros(p.first_at),
                micros(p.last_at),
                p.days,
                p.first_day_minor,
                p.weeks,
                p.first_week_minor
            ])
            .db()?;
        }
        Ok(())
    }

    fn put_stats(&mut self, s: &CustomerStats) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO customer_stats (customer_id, order_count, first_order_at, last_order_at, interaction_count, last_interaction_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            ).db()?
            .execute(params![
                s.customer_id.0,
                s.order_count,
                s.first_order_at.map(micros),
                s.last_order_at.map(micros),
                s.interaction_count,
                s.last_interaction_at.map(micros),
            ]).db()?;
        self.tx
            .prepare_cached("DELETE FROM customer_spend WHERE customer_id = ?1")
            .db()?
            .execute([s.customer_id.0])
            .db()?;
        let mut st = self.tx.prepare_cached(
            "INSERT INTO customer_spend (customer_id, currency, total_minor, customer_order_count, customer_last_order_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        ).db()?;
        for m in &s.total_spent {
            st.execute(params![
                s.customer_id.0,
                m.currency.code(),
                m.minor,
                s.order_count,
                s.last_order_at.map(micros)
            ])
            .db()?;
        }
        Ok(())
    }

    fn add_stats(&mut self, d: &StatsDelta) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO customer_stats (customer_id, order_count, first_order_at, last_order_at, interaction_count, last_interaction_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(customer_id) DO UPDATE SET \
                 order_count = order_count + excluded.order_count, \
                 first_order_at = min(coalesce(first_order_at, excluded.first_order_at), coalesce(excluded.first_order_at, first_order_at)), \
                 last_order_at = max(coalesce(last_order_at, excluded.last_order_at), coalesce(excluded.last_order_at, last_order_at)), \
                 interaction_count = interaction_count + excluded.interaction_count, \
                 last_interaction_at = max(coalesce(last_interaction_at, excluded.last_interaction_at), coalesce(excluded.last_interaction_at, last_interaction_at))",
            ).db()?
            .execute(params![
                d.customer_id.0,
                d.orders,
                d.first_order_at.map(micros),
                d.last_order_at.map(micros),
                d.interactions,
                d.last_interaction_at.map(micros),
            ]).db()?;
        let mut st = self
            .tx
            .prepare_cached(
                "INSERT INTO customer_spend (customer_id, currency, total_minor) VALUES (?1, ?2, ?3) \
             ON CONFLICT(currency, customer_id) DO UPDATE SET total_minor = total_minor + excluded.total_minor",
            )
            .db()?;
        for (c, minor) in &d.spend {
            st.execute(params![d.customer_id.0, c.code(), minor]).db()?;
        }
        if d.orders != 0 || !d.spend.is_empty() {
            // The spend rows' copy of the customer's order count and last order (schema 5;
            // found through `customer_spend_customer`, which these columns are not in).
            self.tx
                .prepare_cached(
                    "UPDATE customer_spend SET (customer_order_count, customer_last_order_at) = \
                     (SELECT order_count, last_order_at FROM customer_stats WHERE customer_id = ?1) \
                     WHERE customer_id = ?1",
                )
                .db()?
                .execute([d.customer_id.0])
                .db()?;
        }
        Ok(())
    }
}
