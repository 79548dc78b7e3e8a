//! The merge-log port on SQLite.

use std::collections::HashMap;

use super::*;
use crate::identity::{MergeId, MergeRecord, MergeStore, MergeStoreMut};

const MERGE_COLS: &str = "id, survivor_id, merged_id, merged_at, unmerged_at, unmerged_by, unmerge_reason, body";

fn merge_row(r: &Row<'_>) -> rusqlite::Result<MergeRecord> {
    let body: String = r.get(7)?;
    MergeRecord::from_row(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        time(r.get(3)?),
        r.get::<_, Option<i64>>(4)?.map(time),
        r.get(5)?,
        r.get(6)?,
        &body,
    )
    .map_err(|e| conversion(7, e))
}

impl<M> SqliteTx<'_, M> {
    fn merges_where(&mut self, sql_where: &str, id: i64) -> Result<Vec<MergeRecord>> {
        let mut st = self.tx.prepare_cached(&format!("SELECT {MERGE_COLS} FROM merges WHERE {sql_where}")).db()?;
        let rows = st.query_map([id], merge_row).db()?.collect::<rusqlite::Result<_>>().db()?;
        Ok(rows)
    }
}

impl<M> MergeStore for SqliteTx<'_, M> {
    fn merges_of(&mut self, customer: CustomerId) -> Result<Vec<MergeRecord>> {
        self.merges_where("survivor_id = ?1 OR merged_id = ?1 ORDER BY id", customer.0)
    }

    fn merge_link(&mut self, merged: CustomerId) -> Result<Option<(MergeId, CustomerId)>> {
        let mut st = self
            .tx
            .prepare_cached("SELECT id, survivor_id FROM merges WHERE merged_id = ?1 AND unmerged_at IS NULL")
            .db()?;
        st.query_row([merged.0], |r| Ok((MergeId(r.get(0)?), CustomerId(r.get(1)?)))).optional().db()
    }

    fn merge_links(&mut self, merged: &[CustomerId]) -> Result<HashMap<CustomerId, (MergeId, CustomerId)>> {
        let mut out = HashMap::new();
        for chunk in merged.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT merged_id, id, survivor_id FROM merges WHERE unmerged_at IS NULL AND merged_id IN ({marks})"
            );
            let mut st = self.tx.prepare_cached(&sql).db()?;
            let rows = st
                .query_map(rusqlite::params_from_iter(chunk.iter().map(|c| c.0)), |r| {
                    Ok((CustomerId(r.get(0)?), (MergeId(r.get(1)?), CustomerId(r.get(2)?))))
                })
                .db()?;
            for r in rows {
                let (k, v) = r.db()?;
                out.insert(k, v);
            }
        }
        Ok(out)
    }

    fn any_merge(&mut self) -> Result<bool> {
        let mut st = self.tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM merges WHERE unmerged_at IS NULL)").db()?;
        st.query_row([], |r| r.get(0)).db()
    }

    fn get_merge(&mut self, id: MergeId) -> Result<Option<MergeRecord>> {
        Ok(self.merges_where("id = ?1", id.0)?.pop())
    }

    fn last_merge_of(&mut self, merged: CustomerId) -> Result<Option<MergeRecord>> {
        Ok(self.merges_where("merged_id = ?1 ORDER BY id DESC LIMIT 1", merged.0)?.pop())
    }

    fn merge_moves(&mut self, merge: MergeId) -> Result<Vec<(String, i64)>> {
        let mut st = self
            .tx
            .prepare_cached("SELECT kind, record_id FROM merge_moves WHERE merge_id = ?1 ORDER BY kind, record_id")
            .db()?;
        let rows =
            st.query_map([merge.0], |r| Ok((r.get(0)?, r.get(1)?))).db()?.collect::<rusqlite::Result<_>>().db()?;
        Ok(rows)
    }

    fn merges_listing(&mut self, kind: &str, record_id: i64) -> Result<Vec<MergeId>> {
        let mut st = self
            .tx
            .prepare_cached("SELECT merge_id FROM merge_moves WHERE kind = ?1 AND record_id = ?2 ORDER BY merge_id")
            .db()?;
        let rows = st
            .query_map(params![kind, record_id], |r| Ok(MergeId(r.get(0)?)))
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }

    fn merged_into(&mut self, survivor: CustomerId) -> Result<Vec<CustomerId>> {
        let mut st = self
            .tx
            .prepare_cached("SELECT merged_id FROM merges WHERE survivor_id = ?1 AND unmerged_at IS NULL ORDER BY id")
            .db()?;
        let rows =
            st.query_map([survivor.0], |r| Ok(CustomerId(r.get(0)?))).db()?.collect::<rusqlite::Result<_>>().db()?;
        Ok(rows)
    }
}

impl MergeStoreMut for SqliteTx<'_, Writing> {
    fn insert_merge(&mut self, m: &MergeRecord) -> Result<MergeId> {
        let body = m.body_json()?;
        self.tx
            .prepare_cached(
                "INSERT INTO merges (survivor_id, merged_id, merged_at, unmerged_at, unmerged_by, unmerge_reason, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .db()?
            .execute(params![
                m.survivor.0,
                m.merged.0,
                micros(m.merged_at),
                m.unmerged_at.map(micros),
                m.unmerged_by,
                m.unmerge_reason,
                body
            ])
            .db()?;
        Ok(MergeId(self.tx.last_insert_rowid()))
    }

    fn add_merge_moves(&mut self, merge: MergeId, kind: &str, ids: &[i64]) -> Result<()> {
        let mut st = self
            .tx
            .prepare_cached("INSERT OR IGNORE INTO merge_moves (merge_id, kind, record_id) VALUES (?1, ?2, ?3)")
            .db()?;
        for id in ids {
            st.execute(params![merge.0, kind, id]).db()?;
        }
        Ok(())
    }

    fn close_merge(&mut self, id: MergeId, at: DateTime<Utc>, actor: Option<&str>, reason: Option<&str>) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE merges SET unmerged_at = ?2, unmerged_by = ?3, unmerge_reason = ?4 WHERE id = ?1")
            .db()?
            .execute(params![id.0, micros(at), actor, reason])
            .db()?;
        Ok(())
    }

    fn delete_merges_of(&mut self, customer: CustomerId) -> Result<()> {
        self.tx
            .prepare_cached(
                "DELETE FROM merge_moves WHERE merge_id IN (SELECT id FROM merges WHERE survivor_id = ?1 OR merged_id = ?1)",
            )
            .db()?
            .execute([customer.0])
            .db()?;
        self.tx
            .prepare_cached("DELETE FROM merges WHERE survivor_id = ?1 OR merged_id = ?1")
            .db()?
            .execute([customer.0])
            .db()?;
        Ok(())
    }
}
