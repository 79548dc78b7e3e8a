//! The customer port on SQLite.

use super::*;
use crate::customer::IdentityFields;

impl<M> crate::customer::CustomerStore for SqliteTx<'_, M> {
    fn get_customer(&mut self, id: CustomerId) -> Result<Option<Customer>> {
        self.one_customer("c.id = ?1", [id.0])
    }

    fn customer_by_external_id(&mut self, external_id: &str) -> Result<Option<Customer>> {
        self.one_customer("c.external_id = ?1", [external_id])
    }

    fn customer_id_by_external_id(&mut self, external_id: &str) -> Result<Option<CustomerId>> {
        let mut st = self.tx.prepare_cached("SELECT id FROM customers WHERE external_id = ?1").db()?;
        Ok(st.query_row([external_id], |r| r.get(0)).optional().db()?.map(CustomerId))
    }

    fn customer_exists(&mut self, id: CustomerId) -> Result<bool> {
        let mut st = self.tx.prepare_cached("SELECT 1 FROM customers WHERE id = ?1").db()?;
        Ok(st.query_row([id.0], |_| Ok(())).optional().db()?.is_some())
    }

    fn query_customers(
        &mut self,
        filter: &CustomerFilter,
        sort: SortKey,
        descending: bool,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<(Customer, SortValue)>> {
        let key = sort_expr(sort);
        let mut sql = format!(
            "SELECT {CUSTOMER_COLS}, {key} FROM customers c LEFT JOIN customer_stats s ON s.customer_id = c.id WHERE c.merged_into IS NULL"
        );
        let mut p: Vec<Value> = Vec::new();
        let mut cond = |sql: &mut String, clause: &str, v: Value| {
            p.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", p.len())));
        };
        if let Some(k) = filter.kind {
            cond(&mut sql, " AND c.kind = ?", Value::Text(enum_str(&k)));
        }
        if let Some(c) = &filter.country {
            cond(&mut sql, " AND c.country = ?", Value::Text(c.trim().to_ascii_uppercase()));
        }
        if let Some(c) = &filter.city {
            cond(&mut sql, " AND c.city = ?", Value::Text(c.clone()));
        }
        if let Some(l) = filter.lifecycle {
            cond(&mut sql, " AND c.lifecycle = ?", Value::Text(enum_str(&l)));
        }
        for t in &filter.tags {
            cond(
                &mut sql,
                " AND EXISTS (SELECT 1 FROM json_each(c.tags) WHERE json_each.value = ?)",
                Value::Text(t.clone()),
            );
        }
        if let Some(t) = filter.created_from {
            cond(&mut sql, " AND c.created_at >= ?", Value::Integer(micros(t)));
        }
        if let Some(t) = filter.created_to {
            cond(&mut sql, " AND c.created_at < ?", Value::Integer(micros(t)));
        }
        if let Some(n) = filter.min_orders {
            cond(&mut sql, " AND coalesce(s.order_count, 0) >= ?", Value::Integer(n));
        }
        if let Some(n) = filter.max_orders {
            cond(&mut sql, " AND coalesce(s.order_count, 0) <= ?", Value::Integer(n));
        }
        if let Some(t) = filter.last_order_from {
            cond(&mut sql, " AND s.last_order_at >= ?", Value::Integer(micros(t)));
        }
        if let Some(t) = filter.last_order_to {
            cond(&mut sql, " AND s.last_order_at < ?", Value::Integer(micros(t)));
        }
        let (cmp, dir) = if descending { ("<", "DESC") } else { (">", "ASC") };
        if let Some(c) = after {
            let v = match &c.value {
                SortValue::Int(i) => Value::Integer(*i),
                SortValue::Text(s) => Value::Text(s.clone()),
            };
            p.push(v);
            p.push(Value::Integer(c.id));
            let (a, b) = (p.len() - 1, p.len());
            sql.push_str(&format!(" AND ({key} {cmp} ?{a} OR ({key} = ?{a} AND c.id {cmp} ?{b}))"));
        }
        p.push(Value::Integer(limit as i64));
        sql.push_str(&format!(" ORDER BY {key} {dir}, c.id {dir} LIMIT ?{}", p.len()));
        let mut st = self.tx.prepare_cached(&sql).db()?;
        let rows = st
            .query_map(rusqlite::params_from_iter(p), |r| {
                let c = customer_row(r)?;
                let v = match sort {
                    SortKey::Name => SortValue::Text(r.get(CUSTOMER_NCOLS)?),
                    _ => SortValue::Int(r.get(CUSTOMER_NCOLS)?),
                };
                Ok((c, v))
            })
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }

    fn identity_fields(&mut self, after: CustomerId, limit: usize) -> Result<Vec<IdentityFields>> {
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT id, kind, name, email, phone, company, country, region, city, postal_code, street, birthday \
                 FROM customers WHERE id > ?1 AND merged_into IS NULL ORDER BY id LIMIT ?2",
            )
            .db()?;
        let rows =
            st.query_map(params![after.0, limit as i64], identity_row).db()?.collect::<rusqlite::Result<_>>().db()?;
        Ok(rows)
    }

    fn search_customers(&mut self, text: &str, limit: usize) -> Result<Vec<Customer>> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Vec::new());
        }
        let lower = t.to_lowercase();
        let upper_bound = format!("{lower}\u{10FFFF}");
        let like = format!("%{}%", like_escape(t));
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        let phone_like = if digits.len() >= 3 { format!("%{digits}%") } else { String::from("\u{0}") };
        let sql = format!(
            "SELECT {CUSTOMER_COLS} FROM customers c WHERE c.id IN ( \
               SELECT id FROM customers WHERE email >= ?1 AND email < ?2 \
               UNION SELECT id FROM customers WHERE name LIKE ?3 ESCAPE '\\' OR company LIKE ?3 ESCAPE '\\' OR phone LIKE ?4) \
             AND c.merged_into IS NULL ORDER BY c.id LIMIT ?5"
        );
        let mut st = self.tx.prepare_cached(&sql).db()?;
        let rows = st
            .query_map(params![lower, upper_bound, like, phone_like, limit as i64], customer_row)
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        Ok(rows)
    }

    fn count_customers(&mut self) -> Result<i64> {
        self.count("SELECT count(*) FROM customers WHERE merged_into IS NULL")
    }
}

impl crate::customer::CustomerStoreMut for SqliteTx<'_, Writing> {
    fn insert_customer(&mut self, c: &Customer) -> Result<CustomerId> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO customers (external_id, kind, name, email, phone, company, title, industry, country, region, city, \
             postal_code, street, birthday, gender, tags, attributes, consents, lifecycle, created_at, updated_at, merged_into) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
        ).db()?;
        st.execute(rusqlite::params_from_iter(customer_values(c))).db()?;
        let id = self.tx.last_insert_rowid();
        self.tx.prepare_cached("INSERT INTO customer_stats (customer_id) VALUES (?1)").db()?.execute([id]).db()?;
        Ok(CustomerId(id))
    }

    fn update_customer(&mut self, c: &Customer) -> Result<()> {
        let mut st = self.tx.prepare_cached(
            "UPDATE customers SET external_id = ?1, kind = ?2, name = ?3, email = ?4, phone = ?5, company = ?6, title = ?7, \
             industry = ?8, country = ?9, region = ?10, city = ?11, postal_code = ?12, street = ?13, birthday = ?14, \
             gender = ?15, tags = ?16, attributes = ?17, consents = ?18, lifecycle = ?19, created_at = ?20, \
             updated_at = ?21, merged_into = ?22 WHERE id = ?23",
        ).db()?;
        let mut values = customer_values(c).to_vec();
        values.push(Value::Integer(c.id.0));
        let n = st.execute(rusqlite::params_from_iter(values)).db()?;
        if n == 0 {
            return Err(Error::not_found(Entity::Customer, c.id));
        }
        Ok(())
    }

    fn delete_customer(&mut self, id: CustomerId) -> Result<()> {
        self.tx.prepare_cached("DELETE FROM customer_spend WHERE customer_id = ?1").db()?.execute([id.0]).db()?;
        self.tx.prepare_cached("DELETE FROM customer_stats WHERE customer_id = ?1").db()?.execute([id.0]).db()?;
        for table in ["customer_rfm", "customer_tiers", "stage_history", "segment_members"] {
            self.tx
                .prepare_cached(&format!("DELETE FROM {table} WHERE customer_id = ?1"))
                .db()?
                .execute([id.0])
                .db()?;
        }
        self.tx.prepare_cached("DELETE FROM customers WHERE id = ?1").db()?.execute([id.0]).db()?;
        Ok(())
    }
}

/// The columns of [`IDENTITY_COLS`] as identity fields.
pub(super) fn identity_row(r: &Row<'_>) -> rusqlite::Result<IdentityFields> {
    let birthday: Option<String> = r.get(11)?;
    Ok(IdentityFields {
        id: CustomerId(r.get(0)?),
        kind: enum_col(r, 1)?,
        name: r.get(2)?,
        email: r.get(3)?,
        phone: r.get(4)?,
        company: r.get(5)?,
        address: Address {
            country: r.get(6)?,
            region: r.get(7)?,
            city: r.get(8)?,
            postal_code: r.get(9)?,
            street: r.get(10)?,
        },
        birthday: birthday.map(|b| b.parse::<NaiveDate>().map_err(|e| conversion(11, e))).transpose()?,
    })
}

/// The columns [`identity_row`] reads.
pub(super) const IDENTITY_COLS: &str =
    "id, kind, name, email, phone, company, country, region, city, postal_code, street, birthday";
