//! The change-feed port on PostgreSQL.
//!
//! Writers run at READ COMMITTED side by side, so without care sequence numbers would not
//! commit in their order: one transaction takes seq 5, another seq 6 and commits first, and
//! a reader that returned 6 would move a consumer's cursor past 5 for good. So a transaction
//! keeps its entries until just before it commits ([`PgTx::flush_feed`]), then writes them
//! in one statement that first takes the feed's lock, held to the end: the next appender
//! takes its numbers only after the previous one committed, the entries any snapshot sees
//! are all those up to some point of the sequence (gaps being rolled-back entries, which
//! never come), and a reader returns every entry it sees. Writing last also keeps the lock,
//! which writers take in turn, to the shortest span: one statement and the commit. (No
//! write reads the feed, so no write misses its own entries.)

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
    fn append_change(&mut self, entity: Entity, id: i64, op: Op, at: DateTime<Utc>) -> Result<()> {
        self.feed.push(FeedRow { entity: entity.as_str(), id, op: op.as_str(), at: micros(at), ref_id: None });
        Ok(())
    }

    fn append_changes(&mut self, entity: Entity, ids: &[i64], op: Op, at: DateTime<Utc>) -> Result<()> {
        let (entity, op, at) = (entity.as_str(), op.as_str(), micros(at));
        self.feed.extend(ids.iter().map(|&id| FeedRow { entity, id, op, at, ref_id: None }));
        Ok(())
    }
}

impl PgTx<'_, Writing> {
    /// Writes the entries appended so far, in order, in one statement that first takes the
    /// feed's lock (held to the end of the transaction). Called just before the commit, so
    /// the lock is held for this statement and the commit only.
    pub(crate) fn flush_feed(&mut self) -> Result<()> {
        if self.feed.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.feed);
        let (shared, exclusive) = self.statement_locks(&[self.key("feed", b"")])?;
        let entities: Vec<&str> = rows.iter().map(|r| r.entity).collect();
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let ops: Vec<&str> = rows.iter().map(|r| r.op).collect();
        let ats: Vec<i64> = rows.iter().map(|r| r.at).collect();
        let refs: Vec<Option<i64>> = rows.iter().map(|r| r.ref_id).collect();
        let sql = format!(
            "{LOCKS_CTE} INSERT INTO changes (entity, entity_id, op, at, ref_id) \
             SELECT t.entity, t.id, t.op, t.at, t.ref_id FROM locked, \
             unnest($3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[]) \
             WITH ORDINALITY AS t(entity, id, op, at, ref_id, n) ORDER BY t.n"
        );
        self.execute(&sql, &[&shared, &exclusive, &entities, &ids, &ops, &ats, &refs])?;
        Ok(())
    }
}
