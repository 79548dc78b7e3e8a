//! The interaction port on PostgreSQL.

use chrono::{DateTime, Utc};
use postgres::types::Type;

use super::*;
use crate::changes::Entity;
use crate::interaction::{Interaction, InteractionId, InteractionStore, InteractionStoreMut};
use crate::store::codec::opt_time;

/// The columns of an interaction, for [`interaction_row`].
pub(crate) const INTERACTION_COLS: &str =
    "id, external_id, customer_id, kind, channel, direction, occurred_at, subject, body, score, payload, created_at";

/// An interaction from a row of [`INTERACTION_COLS`].
pub(crate) fn interaction_row(r: &Row) -> Result<Interaction> {
    let direction: Option<String> = col(r, 5)?;
    Ok(Interaction {
        id: InteractionId(col(r, 0)?),
        external_id: col(r, 1)?,
        customer_id: CustomerId(col(r, 2)?),
        kind: enum_col(r, 3)?,
        channel: col(r, 4)?,
        direction: direction.map(|d| enum_parse(d).map_err(|e| corrupt("direction", e))).transpose()?,
        occurred_at: time(col(r, 6)?),
        subject: col(r, 7)?,
        body: col(r, 8)?,
        score: opt_json_col(r, 9)?,
        payload: opt_json_col(r, 10)?,
        created_at: time(col(r, 11)?),
    })
}

impl<M: Mode> PgTx<'_, M> {
    /// The row of `sql`, whose column `customer_col` holds the id of the customer it
    /// belongs to. In a write transaction that customer is locked before the row is read
    /// for good: read, lock, read again (unless the lock was already held), until the row
    /// read is one of a customer held.
    pub(crate) fn row_of_locked_customer(
        &mut self,
        sql: &str,
        p: &[Param<'_>],
        customer_col: usize,
    ) -> Result<Option<Row>> {
        let mut row = self.query_opt(sql, p)?;
        if !M::WRITES {
            return Ok(row);
        }
        while let Some(r) = &row {
            let c: i64 = col(r, customer_col)?;
            if !self.lock_customer(CustomerId(c))? {
                break;
            }
            row = self.query_opt(sql, p)?;
        }
        Ok(row)
    }

    /// In a write transaction: locks the customer of the row `sql` finds (its first
    /// column), if any, so that what follows changes that customer's records under their
    /// lock. A no-op when reading.
    pub(crate) fn lock_customer_of(&mut self, sql: &str, p: &[Param<'_>]) -> Result<()> {
        if M::WRITES {
            self.row_of_locked_customer(sql, p, 0)?;
        }
        Ok(())
    }

    fn interactions_where(&mut self, sql_where: &str, p: &[Param<'_>]) -> Result<Vec<Interaction>> {
        let sql = format!("SELECT {INTERACTION_COLS} FROM interactions WHERE {sql_where}");
        self.query(&sql, p)?.iter().map(interaction_row).collect()
    }
}

fn interaction_values(i: &Interaction) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    vec![
        Box::new(i.external_id.clone()),
        Box::new(i.customer_id.0),
        Box::new(enum_str(&i.kind)),
        Box::new(i.channel.clone()),
        Box::new(i.direction.map(|d| enum_str(&d))),
        Box::new(micros(i.occurred_at)),
        Box::new(i.subject.clone()),
        Box::new(i.body.clone()),
        Box::new(i.score.map(|s| json(&s))),
        Box::new(i.payload.as_ref().map(json)),
        Box::new(micros(i.created_at)),
    ]
}

impl<M: Mode> InteractionStore for PgTx<'_, M> {
    fn interaction_id_by_external_id(&mut self, external_id: &str) -> Result<Option<InteractionId>> {
        self.lock_key("interaction", external_id)?;
        let r = self.query_opt("SELECT id FROM interactions WHERE external_id = $1", &[&external_id])?;
        Ok(r.map(|r| col(&r, 0)).transpose()?.map(InteractionId))
    }

    fn get_interaction(&mut self, id: InteractionId) -> Result<Option<Interaction>> {
        let sql = format!("SELECT {INTERACTION_COLS} FROM interactions WHERE id = $1");
        self.row_of_locked_customer(&sql, &[&id.0], 2)?.map(|r| interaction_row(&r)).transpose()
    }

    fn interaction_by_external_id(&mut self, external_id: &str) -> Result<Option<Interaction>> {
        self.lock_key("interaction", external_id)?;
        let sql = format!("SELECT {INTERACTION_COLS} FROM interactions WHERE external_id = $1");
        self.row_of_locked_customer(&sql, &[&external_id], 2)?.map(|r| interaction_row(&r)).transpose()
    }

    fn interaction_ids_of(&mut self, customer: CustomerId) -> Result<Vec<InteractionId>> {
        self.lock_customer(customer)?;
        let rows = self.query("SELECT id FROM interactions WHERE customer_id = $1 ORDER BY id", &[&customer.0])?;
        rows.iter().map(|r| Ok(InteractionId(col(r, 0)?))).collect()
    }

    fn count_interactions(&mut self) -> Result<i64> {
        col(&self.query_one("SELECT count(*) FROM interactions", &[])?, 0)
    }

    fn aggregate_interactions(&mut self, customer: CustomerId) -> Result<(i64, Option<DateTime<Utc>>)> {
        self.lock_customer(customer)?;
        let r = self
            .query_one("SELECT count(*), max(occurred_at) FROM interactions WHERE customer_id = $1", &[&customer.0])?;
        Ok((col(&r, 0)?, opt_time(col(&r, 1)?)))
    }

    fn interactions_of(&mut self, customer: CustomerId, since: Option<DateTime<Utc>>) -> Result<Vec<Interaction>> {
        self.lock_customer(customer)?;
        let since = since.map_or(i64::MIN, micros);
        self.interactions_where(
            "customer_id = $1 AND occurred_at >= $2 ORDER BY occurred_at, id",
            &[&customer.0, &since],
        )
    }
}

impl InteractionStoreMut for PgTx<'_, Writing> {
    fn insert_interaction(&mut self, i: &Interaction) -> Result<Option<InteractionId>> {
        if let Some(ext) = &i.external_id {
            self.lock_key("interaction", ext)?;
        }
        self.lock_customer(i.customer_id)?;
        let values = interaction_values(i);
        // With an external id, its key first: nothing when it is taken.
        let sql = if i.external_id.is_some() {
            "WITH k AS (INSERT INTO external_keys (kind, key, customer_id) VALUES ('interaction', $1, $2) \
             ON CONFLICT DO NOTHING RETURNING key) \
             INSERT INTO interactions (external_id, customer_id, kind, channel, direction, occurred_at, subject, body, \
             score, payload, created_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM k RETURNING id"
        } else {
            "INSERT INTO interactions (external_id, customer_id, kind, channel, direction, occurred_at, subject, body, \
             score, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"
        };
        let r = self.query_opt(sql, &params(&values))?;
        Ok(r.map(|r| col(&r, 0)).transpose()?.map(InteractionId))
    }

    fn update_interaction(&mut self, i: &Interaction) -> Result<()> {
        self.lock_customer(i.customer_id)?;
        let mut values = interaction_values(i);
        values.push(Box::new(i.id.0));
        // The key follows the external id and the customer.
        let n = self.execute(
            "WITH old AS (SELECT external_id, customer_id FROM interactions WHERE id = $12), \
             u AS (UPDATE external_keys e SET key = $1::text, customer_id = $2::bigint FROM old \
             WHERE e.kind = 'interaction' AND e.key = old.external_id AND $1::text IS NOT NULL \
             AND (old.external_id, old.customer_id) IS DISTINCT FROM ($1::text, $2::bigint)), \
             d AS (DELETE FROM external_keys e USING old WHERE e.kind = 'interaction' AND e.key = old.external_id \
             AND $1::text IS NULL), \
             i AS (INSERT INTO external_keys (kind, key, customer_id) SELECT 'interaction', $1::text, $2::bigint \
             FROM old WHERE old.external_id IS NULL AND $1::text IS NOT NULL) \
             UPDATE interactions SET external_id = $1, customer_id = $2, kind = $3, channel = $4, direction = $5, \
             occurred_at = $6, subject = $7, body = $8, score = $9, payload = $10, created_at = $11 WHERE id = $12",
            &params(&values),
        )?;
        if n == 0 {
            return Err(Error::not_found(Entity::Interaction, i.id));
        }
        Ok(())
    }

    fn delete_interaction(&mut self, id: InteractionId) -> Result<()> {
        self.lock_customer_of("SELECT customer_id FROM interactions WHERE id = $1", &[&id.0])?;
        self.execute(
            "WITH x AS (DELETE FROM interactions WHERE id = $1 RETURNING external_id) \
             DELETE FROM external_keys e USING x WHERE e.kind = 'interaction' AND e.key = x.external_id",
            &[&id.0],
        )?;
        Ok(())
    }

    fn interaction_ids_by_external_ids(&mut self, external_ids: &[&str]) -> Result<HashMap<String, InteractionId>> {
        self.bulk()?;
        let rows =
            self.query("SELECT external_id, id FROM interactions WHERE external_id = ANY($1)", &[&external_ids])?;
        rows.iter().map(|r| Ok((col(r, 0)?, InteractionId(col(r, 1)?)))).collect()
    }

    /// Ids from the sequence, then one binary `COPY`.
    fn insert_new_interactions(&mut self, interactions: &mut [Interaction]) -> Result<()> {
        if interactions.is_empty() {
            return Ok(());
        }
        self.bulk()?;
        let ids = self.reserve_ids("interactions", interactions.len())?;
        for (i, id) in interactions.iter_mut().zip(ids) {
            i.id = InteractionId(id);
        }
        let (i, t) = (Type::INT8, Type::TEXT);
        let types = [
            i.clone(),
            t.clone(),
            i.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            i.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t,
            i,
        ];
        self.copy_in(
            "COPY interactions (id, external_id, customer_id, kind, channel, direction, occurred_at, subject, body, \
             score, payload, created_at)",
            &types,
            |w| {
                for x in interactions.iter() {
                    let mut row: Vec<Box<dyn postgres::types::ToSql + Sync>> = vec![Box::new(x.id.0)];
                    row.extend(interaction_values(x));
                    w.write(&params(&row))?;
                }
                Ok(())
            },
        )?;
        self.copy_keys(
            "interaction",
            interactions.iter().filter_map(|x| Some((x.external_id.as_deref()?, x.customer_id))),
        )
    }
}
