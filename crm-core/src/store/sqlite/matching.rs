//! The incremental-matching port on SQLite: blocking keys and suggestions.

use super::customer::{identity_row, IDENTITY_COLS};
use super::*;
use crate::customer::IdentityFields;
use crate::identity::{MatchStore, MatchStoreMut, MatchSuggestion, SuggestionStatus};

fn suggestion_row(r: &Row<'_>) -> rusqlite::Result<MatchSuggestion> {
    let evidence: String = r.get(4)?;
    let status: String = r.get(5)?;
    Ok(MatchSuggestion {
        id: r.get(0)?,
        customer: CustomerId(r.get(1)?),
        candidate: CustomerId(r.get(2)?),
        probability: r.get(3)?,
        evidence: serde_json::from_str(&evidence).map_err(|e| conversion(4, e))?,
        status: SuggestionStatus::parse(&status)
            .ok_or_else(|| conversion(5, Error::validation("status", status.clone())))?,
        created_at: time(r.get(6)?),
    })
}

impl<M> MatchStore for SqliteTx<'_, M> {
    fn match_candidates(&mut self, key: i64, limit: usize) -> Result<Vec<CustomerId>> {
        let mut st = self
            .tx
            .prepare_cached("SELECT customer_id FROM match_keys WHERE key = ?1 ORDER BY customer_id LIMIT ?2")
            .db()?;
        let rows = st
            .query_map(params![key, limit as i64], |r| Ok(CustomerId(r.get(0)?)))
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }

    fn identity_fields_of(&mut self, ids: &[CustomerId]) -> Result<Vec<IdentityFields>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT {IDENTITY_COLS} FROM customers WHERE merged_into IS NULL AND id IN ({marks}) ORDER BY id"
            );
            let mut st = self.tx.prepare_cached(&sql).db()?;
            let rows = st.query_map(rusqlite::params_from_iter(chunk.iter().map(|c| c.0)), identity_row).db()?;
            for r in rows {
                out.push(r.db()?);
            }
        }
        Ok(out)
    }

    fn match_suggestions(
        &mut self,
        status: Option<SuggestionStatus>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<MatchSuggestion>> {
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT id, customer_id, candidate_id, probability, evidence, status, created_at FROM match_suggestions \
                 WHERE id > ?1 AND (?2 IS NULL OR status = ?2) ORDER BY id LIMIT ?3",
            )
            .db()?;
        let rows = st
            .query_map(params![after, status.map(SuggestionStatus::as_str), limit as i64], suggestion_row)
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }
}

impl MatchStoreMut for SqliteTx<'_, Writing> {
    fn add_match_keys(&mut self, rows: &[(i64, CustomerId)]) -> Result<()> {
        let mut st =
            self.tx.prepare_cached("INSERT OR IGNORE INTO match_keys (key, customer_id) VALUES (?1, ?2)").db()?;
        for (k, c) in rows {
            st.execute(params![k, c.0]).db()?;
        }
        Ok(())
    }

    fn remove_match_keys(&mut self, rows: &[(i64, CustomerId)]) -> Result<()> {
        let mut st = self.tx.prepare_cached("DELETE FROM match_keys WHERE key = ?1 AND customer_id = ?2").db()?;
        for (k, c) in rows {
            st.execute(params![k, c.0]).db()?;
        }
        Ok(())
    }

    fn insert_match_suggestion(&mut self, s: &MatchSuggestion) -> Result<Option<i64>> {
        let n = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO match_suggestions \
                 (customer_id, candidate_id, probability, evidence, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .db()?
            .execute(params![
                s.customer.0,
                s.candidate.0,
                s.probability,
                s.evidence.to_string(),
                s.status.as_str(),
                micros(s.created_at)
            ])
            .db()?;
        Ok((n == 1).then(|| self.tx.last_insert_rowid()))
    }

    fn set_suggestion_status(&mut self, id: i64, status: SuggestionStatus) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached("UPDATE match_suggestions SET status = ?2 WHERE id = ?1")
            .db()?
            .execute(params![id, status.as_str()])
            .db()?;
        Ok(n == 1)
    }

    fn delete_suggestions_of(&mut self, customer: CustomerId) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM match_suggestions WHERE customer_id = ?1 OR candidate_id = ?1")
            .db()?
            .execute([customer.0])
            .db()?;
        Ok(())
    }
}
