//! The identities port on SQLite.

use super::*;
use crate::identity::{Identity, IdentityStore, IdentityStoreMut};

impl<M> IdentityStore for SqliteTx<'_, M> {
    fn identity(&mut self, source: &str, external_id: &str) -> Result<Option<CustomerId>> {
        let mut st = self
            .tx
            .prepare_cached("SELECT customer_id FROM customer_identities WHERE source = ?1 AND external_id = ?2")
            .db()?;
        st.query_row(params![source, external_id], |r| Ok(CustomerId(r.get(0)?))).optional().db()
    }

    fn identities_of(&mut self, customers: &[CustomerId]) -> Result<Vec<Identity>> {
        let mut out = Vec::new();
        for chunk in customers.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT source, external_id, customer_id, created_at FROM customer_identities \
                 WHERE customer_id IN ({marks}) ORDER BY source, external_id"
            );
            let mut st = self.tx.prepare_cached(&sql).db()?;
            let rows = st
                .query_map(rusqlite::params_from_iter(chunk.iter().map(|c| c.0)), |r| {
                    Ok(Identity {
                        source: r.get(0)?,
                        external_id: r.get(1)?,
                        customer: CustomerId(r.get(2)?),
                        created_at: time(r.get(3)?),
                    })
                })
                .db()?;
            for r in rows {
                out.push(r.db()?);
            }
        }
        out.sort_by(|a, b| (&a.source, &a.external_id).cmp(&(&b.source, &b.external_id)));
        Ok(out)
    }
}

impl IdentityStoreMut for SqliteTx<'_, Writing> {
    fn add_identities(&mut self, ids: &[Identity]) -> Result<()> {
        let mut st = self
            .tx
            .prepare_cached(
                "INSERT INTO customer_identities (source, external_id, customer_id, created_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .db()?;
        for i in ids {
            st.execute(params![i.source, i.external_id, i.customer.0, micros(i.created_at)]).db()?;
        }
        Ok(())
    }

    fn remove_identity(&mut self, source: &str, external_id: &str) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM customer_identities WHERE source = ?1 AND external_id = ?2")
            .db()?
            .execute(params![source, external_id])
            .db()?;
        Ok(n == 1)
    }

    fn delete_identities_of(&mut self, customer: CustomerId) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM customer_identities WHERE customer_id = ?1")
            .db()?
            .execute([customer.0])
            .db()?;
        Ok(())
    }
}
