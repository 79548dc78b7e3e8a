//! The timeline port on SQLite.

use super::*;

impl<M> crate::timeline::TimelineStore for SqliteTx<'_, M> {
    fn timeline(
        &mut self,
        customer: CustomerId,
        before: Option<(i64, u8, i64)>,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>> {
        // Keys sort as (time, 0 = order / 1 = interaction, id), newest first.
        let (t0, k0, id0) = before.unwrap_or((i64::MAX, u8::MAX, i64::MAX));
        let (order_id_bound, inter_id_bound, inter_t_bound) = match k0 {
            0 => (id0, i64::MIN, t0),
            1 => (i64::MAX, id0, t0),
            _ => (i64::MAX, i64::MAX, t0),
        };
        let sql = format!(
            "SELECT {ORDER_COLS} FROM orders WHERE customer_id = ?1 AND (occurred_at < ?2 OR (occurred_at = ?2 AND id < ?3)) \
             ORDER BY occurred_at DESC, id DESC LIMIT ?4"
        );
        let orders: Vec<Order> = self
            .tx
            .prepare_cached(&sql)
            .db()?
            .query_map(params![customer.0, t0, order_id_bound, limit as i64], order_row)
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        let sql = format!(
            "SELECT {INTERACTION_COLS} FROM interactions WHERE customer_id = ?1 AND (occurred_at < ?2 OR (occurred_at = ?2 AND id < ?3)) \
             ORDER BY occurred_at DESC, id DESC LIMIT ?4"
        );
        let inters: Vec<Interaction> = self
            .tx
            .prepare_cached(&sql)
            .db()?
            .query_map(params![customer.0, inter_t_bound, inter_id_bound, limit as i64], interaction_row)
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        let mut all: Vec<TimelineEntry> = orders
            .into_iter()
            .map(|o| self.load_items(o).map(TimelineEntry::Order))
            .chain(inters.into_iter().map(|i| Ok(TimelineEntry::Interaction(i))))
            .collect::<Result<_>>()?;
        all.sort_by_key(|e| std::cmp::Reverse(e.key()));
        all.truncate(limit);
        Ok(all)
    }
}
