//! The merge-log port on PostgreSQL. Merges and unmerges run alone
//! ([`Store::write_alone`](crate::store::Store::write_alone)), so these statements take no
//! locks of their own.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::*;
use crate::identity::{MergeId, MergeRecord, MergeStore, MergeStoreMut};

const MERGE_COLS: &str = "id, survivor_id, merged_id, merged_at, unmerged_at, unmerged_by, unmerge_reason, body";

fn merge_row(r: &Row) -> Result<MergeRecord> {
    let body: String = col(r, 7)?;
    MergeRecord::from_row(
        col(r, 0)?,
        col(r, 1)?,
        col(r, 2)?,
        time(col(r, 3)?),
        col::<Option<i64>>(r, 4)?.map(time),
        col(r, 5)?,
        col(r, 6)?,
        &body,
    )
    .map_err(|e| corrupt("merges.body", e.to_string()))
}

impl<M: Mode> PgTx<'_, M> {
    fn merges_where(&mut self, sql_where: &str, id: i64) -> Result<Vec<MergeRecord>> {
        let rows = self.query(&format!("SELECT {MERGE_COLS} FROM merges WHERE {sql_where}"), &[&id])?;
        rows.iter().map(merge_row).collect()
    }
}

impl<M: Mode> MergeStore for PgTx<'_, M> {
    fn merges_of(&mut self, customer: CustomerId) -> Result<Vec<MergeRecord>> {
        self.merges_where("survivor_id = $1 OR merged_id = $1 ORDER BY id", customer.0)
    }

    fn merge_link(&mut self, merged: CustomerId) -> Result<Option<(MergeId, CustomerId)>> {
        let r = self.query_opt(
            "SELECT id, survivor_id FROM merges WHERE merged_id = $1 AND unmerged_at IS NULL",
            &[&merged.0],
        )?;
        r.map(|r| Ok((MergeId(col(&r, 0)?), CustomerId(col(&r, 1)?)))).transpose()
    }

    fn merge_links(&mut self, merged: &[CustomerId]) -> Result<HashMap<CustomerId, (MergeId, CustomerId)>> {
        let ids: Vec<i64> = merged.iter().map(|c| c.0).collect();
        let rows = self.query(
            "SELECT merged_id, id, survivor_id FROM merges WHERE unmerged_at IS NULL AND merged_id = ANY($1)",
            &[&ids],
        )?;
        rows.iter().map(|r| Ok((CustomerId(col(r, 0)?), (MergeId(col(r, 1)?), CustomerId(col(r, 2)?))))).collect()
    }

    fn any_merge(&mut self) -> Result<bool> {
        let r = self.query_opt("SELECT EXISTS (SELECT 1 FROM merges WHERE unmerged_at IS NULL)", &[])?;
        r.map_or(Ok(false), |r| col(&r, 0))
    }

    fn get_merge(&mut self, id: MergeId) -> Result<Option<MergeRecord>> {
        Ok(self.merges_where("id = $1", id.0)?.pop())
    }

    fn last_merge_of(&mut self, merged: CustomerId) -> Result<Option<MergeRecord>> {
        Ok(self.merges_where("merged_id = $1 ORDER BY id DESC LIMIT 1", merged.0)?.pop())
    }

    fn merge_moves(&mut self, merge: MergeId) -> Result<Vec<(String, i64)>> {
        let rows = self.query(
            "SELECT kind, record_id FROM merge_moves WHERE merge_id = $1 ORDER BY kind, record_id",
            &[&merge.0],
        )?;
        rows.iter().map(|r| Ok((col(r, 0)?, col(r, 1)?))).collect()
    }

    fn merges_listing(&mut self, kind: &str, record_id: i64) -> Result<Vec<MergeId>> {
        let rows = self.query(
            "SELECT merge_id FROM merge_moves WHERE kind = $1 AND record_id = $2 ORDER BY merge_id",
            &[&kind, &record_id],
        )?;
        rows.iter().map(|r| Ok(MergeId(col(r, 0)?))).collect()
    }

    fn merged_into(&mut self, survivor: CustomerId) -> Result<Vec<CustomerId>> {
        let rows = self.query(
            "SELECT merged_id FROM merges WHERE survivor_id = $1 AND unmerged_at IS NULL ORDER BY id",
            &[&survivor.0],
        )?;
        rows.iter().map(|r| Ok(CustomerId(col(r, 0)?))).collect()
    }
}

impl MergeStoreMut for PgTx<'_, Writing> {
    fn insert_merge(&mut self, m: &MergeRecord) -> Result<MergeId> {
        let body = m.body_json()?;
        let r = self.query_opt(
            "INSERT INTO merges (survivor_id, merged_id, merged_at, unmerged_at, unmerged_by, unmerge_reason, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &m.survivor.0,
                &m.merged.0,
                &micros(m.merged_at),
                &m.unmerged_at.map(micros),
                &m.unmerged_by,
                &m.unmerge_reason,
                &body,
            ],
        )?;
        Ok(MergeId(col(r.as_ref().ok_or_else(|| corrupt("merges", "no id returned"))?, 0)?))
    }

    fn add_merge_moves(&mut self, merge: MergeId, kind: &str, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.execute(
            "INSERT INTO merge_moves (merge_id, kind, record_id) SELECT $1, $2, unnest($3::bigint[]) \
             ON CONFLICT DO NOTHING",
            &[&merge.0, &kind, &ids],
        )?;
        Ok(())
    }

    fn close_merge(&mut self, id: MergeId, at: DateTime<Utc>, actor: Option<&str>, reason: Option<&str>) -> Result<()> {
        self.execute(
            "UPDATE merges SET unmerged_at = $2, unmerged_by = $3, unmerge_reason = $4 WHERE id = $1",
            &[&id.0, &micros(at), &actor, &reason],
        )?;
        Ok(())
    }

    fn delete_merges_of(&mut self, customer: CustomerId) -> Result<()> {
        self.execute(
            "DELETE FROM merge_moves WHERE merge_id IN (SELECT id FROM merges WHERE survivor_id = $1 OR merged_id = $1)",
            &[&customer.0],
        )?;
        self.execute("DELETE FROM merges WHERE survivor_id = $1 OR merged_id = $1", &[&customer.0])?;
        Ok(())
    }
}
