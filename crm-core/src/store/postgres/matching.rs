//! The incremental-matching port on PostgreSQL: blocking keys and suggestions. Keys are
//! written with their customer's row, under that customer's lock.

use super::*;
use crate::customer::IdentityFields;
use crate::identity::{MatchStore, MatchStoreMut, MatchSuggestion, SuggestionStatus};

fn suggestion_row(r: &Row) -> Result<MatchSuggestion> {
    let evidence: String = col(r, 4)?;
    let status: String = col(r, 5)?;
    Ok(MatchSuggestion {
        id: col(r, 0)?,
        customer: CustomerId(col(r, 1)?),
        candidate: CustomerId(col(r, 2)?),
        probability: col(r, 3)?,
        evidence: serde_json::from_str(&evidence).map_err(|e| corrupt("match_suggestions.evidence", e))?,
        status: SuggestionStatus::parse(&status)
            .ok_or_else(|| corrupt("match_suggestions.status", format!("unknown status {status:?}")))?,
        created_at: time(col(r, 6)?),
    })
}

impl<M: Mode> MatchStore for PgTx<'_, M> {
    fn match_candidates(&mut self, key: i64, limit: usize) -> Result<Vec<CustomerId>> {
        let rows = self.query(
            "SELECT customer_id FROM match_keys WHERE key = $1 ORDER BY customer_id LIMIT $2",
            &[&key, &super::customer::limit_value(limit)],
        )?;
        rows.iter().map(|r| Ok(CustomerId(col(r, 0)?))).collect()
    }

    fn identity_fields_of(&mut self, ids: &[CustomerId]) -> Result<Vec<IdentityFields>> {
        let ids: Vec<i64> = ids.iter().map(|c| c.0).collect();
        let rows = self.query(
            "SELECT id, kind, name, email, phone, company, country, region, city, postal_code, street, birthday \
             FROM customers WHERE merged_into IS NULL AND id = ANY($1) ORDER BY id",
            &[&ids],
        )?;
        rows.iter().map(super::customer::identity_row).collect()
    }

    fn match_suggestions(
        &mut self,
        status: Option<SuggestionStatus>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<MatchSuggestion>> {
        let rows = self.query(
            "SELECT id, customer_id, candidate_id, probability, evidence, status, created_at FROM match_suggestions \
             WHERE id > $1 AND ($2::text IS NULL OR status = $2) ORDER BY id LIMIT $3",
            &[&after, &status.map(SuggestionStatus::as_str), &super::customer::limit_value(limit)],
        )?;
        rows.iter().map(suggestion_row).collect()
    }
}

impl MatchStoreMut for PgTx<'_, Writing> {
    fn add_match_keys(&mut self, rows: &[(i64, CustomerId)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let keys: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let ids: Vec<i64> = rows.iter().map(|r| r.1 .0).collect();
        self.execute(
            "INSERT INTO match_keys (key, customer_id) SELECT * FROM unnest($1::bigint[], $2::bigint[]) \
             ON CONFLICT DO NOTHING",
            &[&keys, &ids],
        )?;
        Ok(())
    }

    fn remove_match_keys(&mut self, rows: &[(i64, CustomerId)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let keys: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let ids: Vec<i64> = rows.iter().map(|r| r.1 .0).collect();
        self.execute(
            "DELETE FROM match_keys m USING unnest($1::bigint[], $2::bigint[]) AS d(key, customer_id) \
             WHERE m.key = d.key AND m.customer_id = d.customer_id",
            &[&keys, &ids],
        )?;
        Ok(())
    }

    fn insert_match_suggestion(&mut self, s: &MatchSuggestion) -> Result<Option<i64>> {
        let r = self.query_opt(
            "INSERT INTO match_suggestions (customer_id, candidate_id, probability, evidence, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
            &[
                &s.customer.0,
                &s.candidate.0,
                &s.probability,
                &s.evidence.to_string(),
                &s.status.as_str(),
                &micros(s.created_at),
            ],
        )?;
        r.map(|r| col(&r, 0)).transpose()
    }

    fn set_suggestion_status(&mut self, id: i64, status: SuggestionStatus) -> Result<bool> {
        Ok(self.execute("UPDATE match_suggestions SET status = $2 WHERE id = $1", &[&id, &status.as_str()])? == 1)
    }

    fn delete_suggestions_of(&mut self, customer: CustomerId) -> Result<()> {
        self.execute("DELETE FROM match_suggestions WHERE customer_id = $1 OR candidate_id = $1", &[&customer.0])?;
        Ok(())
    }
}
