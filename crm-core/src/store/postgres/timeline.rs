//! The timeline port on PostgreSQL.

use super::interaction::{interaction_row, INTERACTION_COLS};
use super::order::{order_row, ORDER_COLS};
use super::*;
use crate::interaction::Interaction;
use crate::order::Order;
use crate::timeline::{TimelineEntry, TimelineStore};

impl<M: Mode> TimelineStore for PgTx<'_, M> {
    fn timeline(
        &mut self,
        customer: CustomerId,
        before: Option<(i64, u8, i64)>,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>> {
        self.lock_customer(customer)?;
        let lim = super::customer::limit_value(limit);
        // Keys sort as (time, 0 = order / 1 = interaction, id), newest first.
        let (t0, k0, id0) = before.unwrap_or((i64::MAX, u8::MAX, i64::MAX));
        let (order_id_bound, inter_id_bound, inter_t_bound) = match k0 {
            0 => (id0, i64::MIN, t0),
            1 => (i64::MAX, id0, t0),
            _ => (i64::MAX, i64::MAX, t0),
        };
        let sql = format!(
            "SELECT {ORDER_COLS} FROM orders WHERE customer_id = $1 AND (occurred_at < $2 OR (occurred_at = $2 AND id < $3)) \
             ORDER BY occurred_at DESC, id DESC LIMIT $4"
        );
        let mut orders: Vec<Order> = self
            .query(&sql, &[&customer.0, &t0, &order_id_bound, &lim])?
            .iter()
            .map(order_row)
            .collect::<Result<_>>()?;
        self.load_items(&mut orders)?;
        let sql = format!(
            "SELECT {INTERACTION_COLS} FROM interactions WHERE customer_id = $1 AND (occurred_at < $2 OR (occurred_at = $2 AND id < $3)) \
             ORDER BY occurred_at DESC, id DESC LIMIT $4"
        );
        let inters: Vec<Interaction> = self
            .query(&sql, &[&customer.0, &inter_t_bound, &inter_id_bound, &lim])?
            .iter()
            .map(interaction_row)
            .collect::<Result<_>>()?;
        let mut all: Vec<TimelineEntry> = orders
            .into_iter()
            .map(TimelineEntry::Order)
            .chain(inters.into_iter().map(TimelineEntry::Interaction))
            .collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.key()));
        all.truncate(limit);
        Ok(all)
    }
}
