//! The identities port on PostgreSQL. A lookup in a write transaction locks the identity's
//! key, so two hosts sending the same new identity at once link it once.

use std::collections::HashMap;

use super::*;
use crate::customer::Customer;
use crate::identity::{Identity, IdentityStore, IdentityStoreMut};

impl<M: Mode> IdentityStore for PgTx<'_, M> {
    fn identity(&mut self, source: &str, external_id: &str) -> Result<Option<CustomerId>> {
        self.lock_key("identity", &format!("{source}\u{1f}{external_id}"))?;
        let r = self.query_opt(
            "SELECT customer_id FROM customer_identities WHERE source = $1 AND external_id = $2",
            &[&source, &external_id],
        )?;
        r.map(|r| Ok(CustomerId(col(&r, 0)?))).transpose()
    }

    fn identities_by_keys(&mut self, source: &str, external_ids: &[&str]) -> Result<HashMap<String, CustomerId>> {
        let rows = self.query(
            "SELECT external_id, customer_id FROM customer_identities WHERE source = $1 AND external_id = ANY($2)",
            &[&source, &external_ids],
        )?;
        rows.iter().map(|r| Ok((col(r, 0)?, CustomerId(col(r, 1)?)))).collect()
    }

    fn customers_by_identities(&mut self, source: &str, external_ids: &[&str]) -> Result<HashMap<String, Customer>> {
        let sql = format!(
            "SELECT {CUSTOMER_COLS}, i.external_id FROM customer_identities i JOIN customers c ON c.id = i.customer_id \
             WHERE i.source = $1 AND i.external_id = ANY($2)"
        );
        let rows = self.query(&sql, &[&source, &external_ids])?;
        // The key follows the customer's columns.
        let key = CUSTOMER_COLS.split(',').count();
        rows.iter().map(|r| Ok((col(r, key)?, customer_row(r)?))).collect()
    }

    fn identities_of(&mut self, customers: &[CustomerId]) -> Result<Vec<Identity>> {
        let ids: Vec<i64> = customers.iter().map(|c| c.0).collect();
        let rows = self.query(
            "SELECT source, external_id, customer_id, created_at FROM customer_identities \
             WHERE customer_id = ANY($1) ORDER BY source COLLATE \"C\", external_id COLLATE \"C\"",
            &[&ids],
        )?;
        rows.iter()
            .map(|r| {
                Ok(Identity {
                    source: col(r, 0)?,
                    external_id: col(r, 1)?,
                    customer: CustomerId(col(r, 2)?),
                    created_at: time(col(r, 3)?),
                })
            })
            .collect()
    }
}

impl IdentityStoreMut for PgTx<'_, Writing> {
    fn add_identities(&mut self, ids: &[Identity]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let sources: Vec<&str> = ids.iter().map(|i| i.source.as_str()).collect();
        let exts: Vec<&str> = ids.iter().map(|i| i.external_id.as_str()).collect();
        let customers: Vec<i64> = ids.iter().map(|i| i.customer.0).collect();
        let ats: Vec<i64> = ids.iter().map(|i| micros(i.created_at)).collect();
        self.execute(
            "INSERT INTO customer_identities (source, external_id, customer_id, created_at) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])",
            &[&sources, &exts, &customers, &ats],
        )?;
        Ok(())
    }

    fn remove_identity(&mut self, source: &str, external_id: &str) -> Result<bool> {
        Ok(self.execute(
            "DELETE FROM customer_identities WHERE source = $1 AND external_id = $2",
            &[&source, &external_id],
        )? == 1)
    }

    fn delete_identities_of(&mut self, customer: CustomerId) -> Result<()> {
        self.execute("DELETE FROM customer_identities WHERE customer_id = $1", &[&customer.0])?;
        Ok(())
    }
}
