//! The change-feed port on SQLite.

use super::*;

impl<M> crate::changes::FeedStore for SqliteTx<'_, M> {
    fn changes_since(&mut self, after: i64, limit: usize) -> Result<Vec<Change>> {
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT seq, entity, entity_id, op, at, ref_id FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .db()?;
        let rows = st
            .query_map(params![after, limit as i64], |r| {
                let e: String = r.get(1)?;
                let o: String = r.get(3)?;
                Ok(Change {
                    seq: r.get(0)?,
                    entity: Entity::parse(&e).ok_or_else(|| conversion(1, Error::validation("entity", e.clone())))?,
                    id: r.get(2)?,
                    op: Op::parse(&o).ok_or_else(|| conversion(3, Error::validation("op", o.clone())))?,
                    at: time(r.get(4)?),
                    ref_id: r.get(5)?,
                })
            })
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }
}

impl crate::changes::FeedStoreMut for SqliteTx<'_, Writing> {
    fn append_change(&mut self, entity: Entity, id: i64, op: Op, at: DateTime<Utc>) -> Result<()> {
        self.tx
            .prepare_cached("INSERT INTO changes (entity, entity_id, op, at) VALUES (?1, ?2, ?3, ?4)")
            .db()?
            .execute(params![entity.as_str(), id, op.as_str(), micros(at)])
            .db()?;
        Ok(())
    }
}
