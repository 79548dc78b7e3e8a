//! The change-feed port on PostgreSQL.
//!
//! Writers run at READ COMMITTED side by side, so without care sequence numbers would not
//! commit in their order: one transaction takes seq 5, another seq 6 and commits first, and
//! a reader that returned 6 would move a consumer's cursor past 5 for good. So a transaction
//! takes the feed's lock ([`PgTx::lock_feed`]) before its first entry and holds it to its
//! end: the next appender takes its numbers only after the previous one committed, the
//! entries any snapshot sees are all those up to some point of the sequence (gaps being
//! rolled-back entries, which never come), and a reader returns every entry it sees,
//! including a writer's own as soon as it committed.

use chrono::{DateTime, Utc};

use super::*;
use crate::changes::{Change, Entity, FeedStore, FeedStoreMut, Op};

impl<M: Mode> FeedStore for PgTx<'_, M> {
    fn changes_since(&mut self, after: i64, limit: usize) -> Result<Vec<Change>> {
        let rows = self.query(
            "SELECT seq, entity, entity_id, op, at, ref_id FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &super::customer::limit_value(limit)],
        )?;
        rows.iter()
            .map(|r| {
                let e: String = col(r, 1)?;
                let o: String = col(r, 3)?;
                Ok(Change {
                    seq: col(r, 0)?,
                    entity: Entity::parse(&e).ok_or_else(|| corrupt("entity", format!("unknown entity {e:?}")))?,
                    id: col(r, 2)?,
                    op: Op::parse(&o).ok_or_else(|| corrupt("op", format!("unknown op {o:?}")))?,
                    at: time(col(r, 4)?),
                    ref_id: col(r, 5)?,
                })
            })
            .collect()
    }
}

impl FeedStoreMut for PgTx<'_, Writing> {
    fn append_change(&mut self, entity: Entity, id: i64, op: Op, at: DateTime<Utc>) -> Result<i64> {
        self.lock_feed()?;
        let r = self.query_one(
            "INSERT INTO changes (entity, entity_id, op, at) VALUES ($1, $2, $3, $4) RETURNING seq",
            &[&entity.as_str(), &id, &op.as_str(), &micros(at)],
        )?;
        col(&r, 0)
    }

    /// One statement: the entries take their sequence numbers in the order of `ids`.
    fn append_changes(&mut self, entity: Entity, ids: &[i64], op: Op, at: DateTime<Utc>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.lock_feed()?;
        self.execute(
            "INSERT INTO changes (entity, entity_id, op, at) \
             SELECT $1, t.id, $3, $4 FROM unnest($2::bigint[]) WITH ORDINALITY AS t(id, n) ORDER BY t.n",
            &[&entity.as_str(), &ids, &op.as_str(), &micros(at)],
        )?;
        Ok(())
    }
}
