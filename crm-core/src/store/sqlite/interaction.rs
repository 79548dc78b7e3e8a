//! The interaction port on SQLite.

use super::*;

impl<M> crate::interaction::InteractionStore for SqliteTx<'_, M> {
    fn interaction_id_by_external_id(&mut self, external_id: &str) -> Result<Option<InteractionId>> {
        let mut st = self.tx.prepare_cached("SELECT id FROM interactions WHERE external_id = ?1").db()?;
        Ok(st.query_row([external_id], |r| r.get(0)).optional().db()?.map(InteractionId))
    }

    fn get_interaction(&mut self, id: InteractionId) -> Result<Option<Interaction>> {
        let sql = format!("SELECT {INTERACTION_COLS} FROM interactions WHERE id = ?1");
        self.tx.prepare_cached(&sql).db()?.query_row([id.0], interaction_row).optional().db()
    }

    fn interaction_by_external_id(&mut self, external_id: &str) -> Result<Option<Interaction>> {
        let sql = format!("SELECT {INTERACTION_COLS} FROM interactions WHERE external_id = ?1");
        self.tx.prepare_cached(&sql).db()?.query_row([external_id], interaction_row).optional().db()
    }

    fn interaction_ids_of(&mut self, customer: CustomerId) -> Result<Vec<InteractionId>> {
        Ok(self
            .ids("SELECT id FROM interactions WHERE customer_id = ?1 ORDER BY id", customer.0)?
            .into_iter()
            .map(InteractionId)
            .collect())
    }

    fn count_interactions(&mut self) -> Result<i64> {
        self.count("SELECT count(*) FROM interactions")
    }

    fn aggregate_interactions(&mut self, customer: CustomerId) -> Result<(i64, Option<DateTime<Utc>>)> {
        let mut st = self
            .tx
            .prepare_cached("SELECT count(*), max(occurred_at) FROM interactions WHERE customer_id = ?1")
            .db()?;
        let (n, last): (i64, Option<i64>) = st.query_row([customer.0], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
        Ok((n, opt_time(last)))
    }

    fn interactions_of(&mut self, customer: CustomerId, since: Option<DateTime<Utc>>) -> Result<Vec<Interaction>> {
        segments::interactions_of(&self.tx, customer, since.map(micros))
    }
}

impl crate::interaction::InteractionStoreMut for SqliteTx<'_, Writing> {
    fn insert_interaction(&mut self, i: &Interaction) -> Result<Option<InteractionId>> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO interactions (external_id, customer_id, kind, channel, direction, occurred_at, subject, body, score, payload, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT(external_id) DO NOTHING",
        ).db()?;
        let n = st
            .execute(params![
                i.external_id,
                i.customer_id.0,
                enum_str(&i.kind),
                i.channel,
                i.direction.map(|d| enum_str(&d)),
                micros(i.occurred_at),
                i.subject,
                i.body,
                i.score.map(|s| json(&s)),
                i.payload.as_ref().map(json),
                micros(i.created_at),
            ])
            .db()?;
        Ok((n == 1).then(|| InteractionId(self.tx.last_insert_rowid())))
    }

    fn update_interaction(&mut self, i: &Interaction) -> Result<()> {
        let mut st = self
            .tx
            .prepare_cached(
                "UPDATE interactions SET external_id = ?1, customer_id = ?2, kind = ?3, channel = ?4, direction = ?5, \
             occurred_at = ?6, subject = ?7, body = ?8, score = ?9, payload = ?10, created_at = ?11 WHERE id = ?12",
            )
            .db()?;
        let n = st
            .execute(params![
                i.external_id,
                i.customer_id.0,
                enum_str(&i.kind),
                i.channel,
                i.direction.map(|d| enum_str(&d)),
                micros(i.occurred_at),
                i.subject,
                i.body,
                i.score.map(|s| json(&s)),
                i.payload.as_ref().map(json),
                micros(i.created_at),
                i.id.0,
            ])
            .db()?;
        if n == 0 {
            return Err(Error::not_found(Entity::Interaction, i.id));
        }
        Ok(())
    }

    fn delete_interaction(&mut self, id: InteractionId) -> Result<()> {
        self.tx.prepare_cached("DELETE FROM interactions WHERE id = ?1").db()?.execute([id.0]).db()?;
        Ok(())
    }
}
