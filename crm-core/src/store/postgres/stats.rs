//! The statistics port on PostgreSQL.

use super::order::currency_col;
use super::*;
use crate::customer::CustomerStats;
use crate::money::{Currency, Money};
use crate::stats::{PeriodState, StatsDelta, StatsStore, StatsStoreMut};
use crate::store::codec::{micros, opt_time, time};

impl<M: Mode> StatsStore for PgTx<'_, M> {
    fn get_stats(&mut self, customer: CustomerId) -> Result<CustomerStats> {
        self.lock_customer(customer)?;
        let r = self.query_opt(
            "SELECT order_count, first_order_at, last_order_at, interaction_count, last_interaction_at \
             FROM customer_stats WHERE customer_id = $1",
            &[&customer.0],
        )?;
        let mut s = match r {
            Some(r) => CustomerStats {
                customer_id: customer,
                order_count: col(&r, 0)?,
                first_order_at: opt_time(col(&r, 1)?),
                last_order_at: opt_time(col(&r, 2)?),
                total_spent: Vec::new(),
                interaction_count: col(&r, 3)?,
                last_interaction_at: opt_time(col(&r, 4)?),
            },
            None => CustomerStats { customer_id: customer, ..CustomerStats::default() },
        };
        let rows = self.query(
            "SELECT currency, total_minor FROM customer_spend WHERE customer_id = $1 AND total_minor <> 0 \
             ORDER BY currency COLLATE \"C\"",
            &[&customer.0],
        )?;
        s.total_spent = rows.iter().map(|r| Ok(Money::new(col(r, 1)?, currency_col(r, 0)?))).collect::<Result<_>>()?;
        Ok(s)
    }

    fn top_spenders(&mut self, currency: Currency, limit: usize) -> Result<Vec<(CustomerId, i64)>> {
        let rows = self.query(
            "SELECT customer_id, total_minor FROM customer_spend WHERE currency = $1 AND total_minor > 0 \
             ORDER BY total_minor DESC, customer_id LIMIT $2",
            &[&currency.code(), &super::customer::limit_value(limit)],
        )?;
        rows.iter().map(|r| Ok((CustomerId(col(r, 0)?), col(r, 1)?))).collect()
    }

    fn spend_values(&mut self, currency: Currency) -> Result<Vec<i64>> {
        let rows = self.query(
            "SELECT total_minor FROM customer_spend WHERE currency = $1 AND total_minor <> 0 ORDER BY total_minor",
            &[&currency.code()],
        )?;
        rows.iter().map(|r| col(r, 0)).collect()
    }

    fn period_states_of(&mut self, customers: &[CustomerId]) -> Result<Vec<(CustomerId, PeriodState)>> {
        let ids: Vec<i64> = customers.iter().map(|c| c.0).collect();
        let rows = self.query(
            "SELECT currency, orders, first_at, last_at, days, first_day_minor, weeks, first_week_minor, customer_id \
             FROM customer_spend WHERE customer_id = ANY($1::bigint[]) AND first_at IS NOT NULL \
             ORDER BY customer_id, currency COLLATE \"C\"",
            &[&ids],
        )?;
        rows.iter().map(|r| Ok((CustomerId(col(r, 8)?), period_state(r, 0)?))).collect()
    }

    fn scan_period_states(
        &mut self,
        currency: Option<Currency>,
        f: &mut dyn FnMut(CustomerId, &PeriodState, i64) -> Result<()>,
    ) -> Result<()> {
        let code = currency.map(|c| c.code());
        let rows = self.query(
            "SELECT currency, orders, first_at, last_at, days, first_day_minor, weeks, first_week_minor, customer_id, \
             total_minor FROM customer_spend WHERE ($1::text IS NULL OR currency = $1) AND orders > 0 \
             ORDER BY currency COLLATE \"C\", customer_id",
            &[&code],
        )?;
        for r in &rows {
            f(CustomerId(col(r, 8)?), &period_state(r, 0)?, col(r, 9)?)?;
        }
        Ok(())
    }
}

fn period_state(r: &postgres::Row, at: usize) -> Result<PeriodState> {
    Ok(PeriodState {
        currency: currency_col(r, at)?,
        orders: col(r, at + 1)?,
        first_at: time(col(r, at + 2)?),
        last_at: time(col(r, at + 3)?),
        days: col(r, at + 4)?,
        first_day_minor: col(r, at + 5)?,
        weeks: col(r, at + 6)?,
        first_week_minor: col(r, at + 7)?,
    })
}

impl StatsStoreMut for PgTx<'_, Writing> {
    /// One statement for them all (the customers' locks were taken by their orders' writes;
    /// taken again here, which is free, for callers that did not).
    fn put_period_states(&mut self, states: &[(CustomerId, PeriodState)]) -> Result<()> {
        if states.is_empty() {
            return Ok(());
        }
        let mut customers: Vec<CustomerId> = states.iter().map(|s| s.0).collect();
        customers.sort_unstable();
        customers.dedup();
        for c in customers {
            self.lock_customer(c)?;
        }
        let column = |f: &dyn Fn(&PeriodState) -> i64| states.iter().map(|(_, p)| f(p)).collect::<Vec<i64>>();
        let ids: Vec<i64> = states.iter().map(|(c, _)| c.0).collect();
        let currencies: Vec<&str> = states.iter().map(|(_, p)| p.currency.code()).collect();
        self.execute(
            "INSERT INTO customer_spend (customer_id, currency, total_minor, orders, first_at, last_at, days, \
             first_day_minor, weeks, first_week_minor) \
             SELECT t.id, t.currency, 0, t.orders, t.first_at, t.last_at, t.days, t.fdm, t.weeks, t.fwm \
             FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], \
             $7::bigint[], $8::bigint[], $9::bigint[]) AS t(id, currency, orders, first_at, last_at, days, fdm, weeks, fwm) \
             ON CONFLICT (currency, customer_id) DO UPDATE SET orders = EXCLUDED.orders, \
             first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at, days = EXCLUDED.days, \
             first_day_minor = EXCLUDED.first_day_minor, weeks = EXCLUDED.weeks, \
             first_week_minor = EXCLUDED.first_week_minor",
            &[
                &ids,
                &currencies,
                &column(&|p| p.orders),
                &column(&|p| micros(p.first_at)),
                &column(&|p| micros(p.last_at)),
                &column(&|p| p.days),
                &column(&|p| p.first_day_minor),
                &column(&|p| p.weeks),
                &column(&|p| p.first_week_minor),
            ],
        )?;
        Ok(())
    }

    fn put_stats(&mut self, s: &CustomerStats) -> Result<()> {
        let c = s.customer_id;
        self.lock_customer(c)?;
        let (first, last, last_i) =
            (s.first_order_at.map(micros), s.last_order_at.map(micros), s.last_interaction_at.map(micros));
        self.execute(
            "INSERT INTO customer_stats (customer_id, order_count, first_order_at, last_order_at, interaction_count, \
             last_interaction_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (customer_id) DO UPDATE SET \
             order_count = EXCLUDED.order_count, first_order_at = EXCLUDED.first_order_at, \
             last_order_at = EXCLUDED.last_order_at, interaction_count = EXCLUDED.interaction_count, \
             last_interaction_at = EXCLUDED.last_interaction_at",
            &[&c.0, &s.order_count, &first, &last, &s.interaction_count, &last_i],
        )?;
        self.execute("DELETE FROM customer_spend WHERE customer_id = $1", &[&c.0])?;
        for m in &s.total_spent {
            self.execute(
                "INSERT INTO customer_spend (customer_id, currency, total_minor, customer_order_count, \
                 customer_last_order_at) VALUES ($1, $2, $3, $4, $5)",
                &[&c.0, &m.currency.code(), &m.minor, &s.order_count, &last],
            )?;
        }
        Ok(())
    }

    fn add_stats(&mut self, d: &StatsDelta) -> Result<()> {
        self.add_stats_many(std::slice::from_ref(d))
    }

    /// One statement whatever the number of customers (after their locks, which an order's
    /// insert took already): atomic increments of the statistics (least and greatest ignore
    /// NULLs, as SQLite's min/max of coalesces do), the spend, and the spend rows' copy of
    /// order count and last order (schema 5). The spend rows the statement inserts or
    /// updates take the copy from `s`; the final UPDATE sets it on the customers' other spend
    /// rows (a statement sees the rows as they were before it, so it must not touch those
    /// again).
    fn add_stats_many(&mut self, deltas: &[StatsDelta]) -> Result<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        for d in deltas {
            self.lock_customer(d.customer_id)?;
        }
        let ids: Vec<i64> = deltas.iter().map(|d| d.customer_id.0).collect();
        let orders: Vec<i64> = deltas.iter().map(|d| d.orders).collect();
        let first: Vec<Option<i64>> = deltas.iter().map(|d| d.first_order_at.map(micros)).collect();
        let last: Vec<Option<i64>> = deltas.iter().map(|d| d.last_order_at.map(micros)).collect();
        let interactions: Vec<i64> = deltas.iter().map(|d| d.interactions).collect();
        let last_i: Vec<Option<i64>> = deltas.iter().map(|d| d.last_interaction_at.map(micros)).collect();
        let (mut spend_ids, mut currencies, mut amounts) = (Vec::new(), Vec::new(), Vec::new());
        for d in deltas {
            for (cur, minor) in &d.spend {
                spend_ids.push(d.customer_id.0);
                currencies.push(cur.code());
                amounts.push(*minor);
            }
        }
        // Customers whose spend rows' copy changes, beyond the rows of `p`.
        let copy: Vec<i64> =
            deltas.iter().filter(|d| d.orders != 0 || !d.spend.is_empty()).map(|d| d.customer_id.0).collect();
        self.execute(
            "WITH s AS (INSERT INTO customer_stats (customer_id, order_count, first_order_at, last_order_at, \
             interaction_count, last_interaction_at) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], \
             $4::bigint[], $5::bigint[], $6::bigint[]) ON CONFLICT (customer_id) DO UPDATE SET \
             order_count = customer_stats.order_count + EXCLUDED.order_count, \
             first_order_at = least(customer_stats.first_order_at, EXCLUDED.first_order_at), \
             last_order_at = greatest(customer_stats.last_order_at, EXCLUDED.last_order_at), \
             interaction_count = customer_stats.interaction_count + EXCLUDED.interaction_count, \
             last_interaction_at = greatest(customer_stats.last_interaction_at, EXCLUDED.last_interaction_at) \
             RETURNING customer_id, order_count, last_order_at), \
             p AS (INSERT INTO customer_spend (customer_id, currency, total_minor, customer_order_count, \
             customer_last_order_at) SELECT t.id, t.currency, t.amount, s.order_count, s.last_order_at \
             FROM unnest($7::bigint[], $8::text[], $9::bigint[]) AS t(id, currency, amount) \
             JOIN s ON s.customer_id = t.id \
             ON CONFLICT (currency, customer_id) DO UPDATE SET \
             total_minor = customer_spend.total_minor + EXCLUDED.total_minor, \
             customer_order_count = EXCLUDED.customer_order_count, \
             customer_last_order_at = EXCLUDED.customer_last_order_at) \
             UPDATE customer_spend r SET (customer_order_count, customer_last_order_at) = \
             (s.order_count, s.last_order_at) FROM s \
             WHERE r.customer_id = s.customer_id AND r.customer_id = ANY($10::bigint[]) \
             AND NOT EXISTS (SELECT 1 FROM unnest($7::bigint[], $8::text[]) AS t(id, currency) \
             WHERE t.id = r.customer_id AND t.currency = r.currency)",
            &[&ids, &orders, &first, &last, &interactions, &last_i, &spend_ids, &currencies, &amounts, &copy],
        )?;
        Ok(())
    }
}
