//! The customer port on PostgreSQL.

use std::collections::{HashMap, HashSet};

use postgres::types::{ToSql, Type};

use super::copy::Jsonb;

use super::*;
use crate::changes::Entity;
use crate::customer::query::{Cursor, CustomerFilter, SortKey, SortValue};
use crate::customer::{CustomerStore, CustomerStoreMut, IdentityFields};

/// A `LIMIT` value: `usize` as PostgreSQL's `bigint` (larger than any table: no limit).
pub(crate) fn limit_value(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The SQL of a sort key (the same as SQLite's; names compare in binary order there, so
/// here in the "C" collation, whatever the database's).
fn sort_expr(sort: SortKey) -> &'static str {
    match sort {
        SortKey::Id => "c.id",
        SortKey::Name => "c.name COLLATE \"C\"",
        SortKey::CreatedAt => "c.created_at",
        SortKey::UpdatedAt => "c.updated_at",
        SortKey::LastOrderAt => "coalesce(s.last_order_at, -9223372036854775808)",
        SortKey::OrderCount => "coalesce(s.order_count, 0)",
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// `sql` with its ASCII letters in lower case, nothing else changed: SQLite's `LIKE` is
/// case-insensitive for ASCII letters only, which this (on both sides of a case-sensitive
/// `LIKE`) reproduces exactly.
fn ascii_lower_sql(expr: &str) -> String {
    format!("translate({expr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')")
}

/// Where a page starts, as SQLite compares a cursor's value with the sort key (a cursor
/// whose kind of value is not the sort key's comes only from a hand-made cursor text).
enum Start {
    /// Every row (no cursor, or one before every row).
    All,
    /// No row (a cursor after every row).
    Nothing,
    /// Strictly after `(value, id)`.
    After(Box<dyn ToSql + Sync>, i64),
}

/// A number SQLite's numeric affinity reads in a text.
enum Num {
    Int(i64),
    Real(f64),
}

/// The number SQLite's numeric affinity reads in a text, if any: an integer, else a real.
fn numeric_text(t: &str) -> Option<Num> {
    let t = t.trim();
    let numeric = t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if !numeric {
        return None;
    }
    match t.parse::<i64>() {
        Ok(i) => Some(Num::Int(i)),
        Err(_) => t.parse::<f64>().ok().filter(|x| x.is_finite()).map(Num::Real),
    }
}

fn start(sort: SortKey, descending: bool, after: Option<&Cursor>) -> Start {
    let Some(c) = after else { return Start::All };
    // The cursor's value lies before (or after) every key in ascending order.
    let outside = |below: bool| if below != descending { Start::All } else { Start::Nothing };
    match (sort, &c.value) {
        (SortKey::Name, SortValue::Text(t)) => Start::After(Box::new(t.clone()), c.id),
        // The name column (TEXT affinity) reads an integer as its text.
        (SortKey::Name, SortValue::Int(i)) => Start::After(Box::new(i.to_string()), c.id),
        (_, SortValue::Int(i)) => Start::After(Box::new(*i), c.id),
        // An INTEGER column (numeric affinity) reads a text that spells a number as that
        // number; the other keys are expressions (no affinity), where a text sorts after
        // every integer.
        (SortKey::Id | SortKey::CreatedAt | SortKey::UpdatedAt, SortValue::Text(t)) => match numeric_text(t) {
            None => outside(false),
            Some(Num::Int(i)) => Start::After(Box::new(i), c.id),
            // Beyond every key.
            Some(Num::Real(x)) if x >= 9_223_372_036_854_775_808.0 => outside(false),
            Some(Num::Real(x)) if x < -9_223_372_036_854_775_808.0 => outside(true),
            Some(Num::Real(x)) if x.fract() == 0.0 => Start::After(Box::new(x as i64), c.id),
            // Between two integers: no key equals it.
            Some(Num::Real(x)) if descending => Start::After(Box::new(x.ceil() as i64), i64::MIN),
            Some(Num::Real(x)) => Start::After(Box::new(x.floor() as i64), i64::MAX),
        },
        (_, SortValue::Text(_)) => outside(false),
    }
}

impl<M: Mode> PgTx<'_, M> {
    fn one_customer(&mut self, sql_where: &str, p: &[Param<'_>]) -> Result<Option<Customer>> {
        let sql = format!("SELECT {CUSTOMER_COLS} FROM customers c WHERE {sql_where}");
        self.query_opt(&sql, p)?.map(|r| customer_row(&r)).transpose()
    }
}

impl<M: Mode> CustomerStore for PgTx<'_, M> {
    fn get_customer(&mut self, id: CustomerId) -> Result<Option<Customer>> {
        self.lock_customer(id)?;
        self.one_customer("c.id = $1", &[&id.0])
    }

    fn customer_by_external_id(&mut self, external_id: &str) -> Result<Option<Customer>> {
        self.lock_key("customer", external_id)?;
        let c = self.one_customer("c.external_id = $1", &[&external_id])?;
        match c {
            // The record itself is the customer's: lock them too, and read it again if
            // that lock was not held before the read.
            Some(c) if self.lock_customer(c.id)? => self.one_customer("c.external_id = $1", &[&external_id]),
            c => Ok(c),
        }
    }

    fn customer_id_by_external_id(&mut self, external_id: &str) -> Result<Option<CustomerId>> {
        self.lock_key("customer", external_id)?;
        let r = self.query_opt("SELECT id FROM customers WHERE external_id = $1", &[&external_id])?;
        Ok(r.map(|r| col(&r, 0)).transpose()?.map(CustomerId))
    }

    fn customer_exists(&mut self, id: CustomerId) -> Result<bool> {
        self.lock_customer(id)?;
        Ok(self.query_opt("SELECT 1 FROM customers WHERE id = $1", &[&id.0])?.is_some())
    }

    fn identity_fields(&mut self, after: CustomerId, limit: usize) -> Result<Vec<IdentityFields>> {
        let rows = self.query(
            "SELECT id, kind, name, email, phone, company, country, region, city, postal_code, street, birthday \
             FROM customers WHERE id > $1 AND merged_into IS NULL ORDER BY id LIMIT $2",
            &[&after.0, &limit_value(limit)],
        )?;
        rows.iter().map(identity_row).collect()
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
        let mut p: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        let mut cond = |sql: &mut String, clause: &str, v: Box<dyn ToSql + Sync>| {
            p.push(v);
            sql.push_str(&clause.replace('?', &format!("${}", p.len())));
        };
        if let Some(k) = filter.kind {
            cond(&mut sql, " AND c.kind = ?", Box::new(enum_str(&k)));
        }
        if let Some(c) = &filter.country {
            cond(&mut sql, " AND c.country = ?", Box::new(c.trim().to_ascii_uppercase()));
        }
        if let Some(c) = &filter.city {
            cond(&mut sql, " AND c.city = ?", Box::new(c.clone()));
        }
        if let Some(l) = filter.lifecycle {
            cond(&mut sql, " AND c.lifecycle = ?", Box::new(enum_str(&l)));
        }
        if !filter.tags.is_empty() {
            // Every tag at once: the array contains each of them (tags are strings).
            cond(&mut sql, " AND c.tags @> ?::text::jsonb", Box::new(json(&filter.tags)));
        }
        if let Some(t) = filter.created_from {
            cond(&mut sql, " AND c.created_at >= ?", Box::new(micros(t)));
        }
        if let Some(t) = filter.created_to {
            cond(&mut sql, " AND c.created_at < ?", Box::new(micros(t)));
        }
        if let Some(n) = filter.min_orders {
            cond(&mut sql, " AND coalesce(s.order_count, 0) >= ?", Box::new(n));
        }
        if let Some(n) = filter.max_orders {
            cond(&mut sql, " AND coalesce(s.order_count, 0) <= ?", Box::new(n));
        }
        if let Some(t) = filter.last_order_from {
            cond(&mut sql, " AND s.last_order_at >= ?", Box::new(micros(t)));
        }
        if let Some(t) = filter.last_order_to {
            cond(&mut sql, " AND s.last_order_at < ?", Box::new(micros(t)));
        }
        let (cmp, dir) = if descending { ("<", "DESC") } else { (">", "ASC") };
        match start(sort, descending, after) {
            Start::All => {}
            Start::Nothing => return Ok(Vec::new()),
            Start::After(v, id) => {
                p.push(v);
                p.push(Box::new(id));
                let (a, b) = (p.len() - 1, p.len());
                sql.push_str(&format!(" AND ({key} {cmp} ${a} OR ({key} = ${a} AND c.id {cmp} ${b}))"));
            }
        }
        p.push(Box::new(limit_value(limit)));
        sql.push_str(&format!(" ORDER BY {key} {dir}, c.id {dir} LIMIT ${}", p.len()));
        let rows = self.query(&sql, &params(&p))?;
        let ncols = 23;
        rows.iter()
            .map(|r| {
                let c = customer_row(r)?;
                let v = match sort {
                    SortKey::Name => SortValue::Text(col(r, ncols)?),
                    _ => SortValue::Int(col(r, ncols)?),
                };
                Ok((c, v))
            })
            .collect()
    }

    fn search_customers(&mut self, text: &str, limit: usize) -> Result<Vec<Customer>> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Vec::new());
        }
        let lower = t.to_lowercase();
        let upper_bound = format!("{lower}\u{10FFFF}");
        let like = format!("%{}%", like_escape(&t.to_ascii_lowercase()));
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        // Fewer than 3 digits match no phone (NULL matches nothing).
        let phone_like = (digits.len() >= 3).then(|| format!("%{digits}%"));
        let sql = format!(
            "SELECT {CUSTOMER_COLS} FROM customers c WHERE c.merged_into IS NULL AND (\
               (c.email COLLATE \"C\" >= $1 AND c.email COLLATE \"C\" < $2) \
               OR {} LIKE $3 ESCAPE '\\' OR {} LIKE $3 ESCAPE '\\' OR c.phone LIKE $4) \
             ORDER BY c.id LIMIT $5",
            ascii_lower_sql("c.name"),
            ascii_lower_sql("c.company"),
        );
        let rows = self.query(&sql, &[&lower, &upper_bound, &like, &phone_like, &limit_value(limit)])?;
        rows.iter().map(customer_row).collect()
    }

    fn count_customers(&mut self) -> Result<i64> {
        col(&self.query_one("SELECT count(*) FROM customers WHERE merged_into IS NULL", &[])?, 0)
    }
}

impl CustomerStoreMut for PgTx<'_, Writing> {
    fn insert_customer(&mut self, c: &Customer) -> Result<CustomerId> {
        if let Some(ext) = &c.external_id {
            self.lock_key("customer", ext)?;
        }
        let values = customer_values(c);
        let row = self.query_one(
            "WITH c AS (INSERT INTO customers (external_id, kind, name, email, phone, company, title, industry, country, \
             region, city, postal_code, street, birthday, gender, tags, attributes, consents, lifecycle, created_at, \
             updated_at, merged_into) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::text::jsonb, \
             $17::text::jsonb, $18::text::jsonb, $19, $20, $21, $22) RETURNING id, external_id), \
             s AS (INSERT INTO customer_stats (customer_id) SELECT id FROM c), \
             k AS (INSERT INTO external_keys (kind, key, customer_id) \
             SELECT 'customer', external_id, id FROM c WHERE external_id IS NOT NULL) \
             SELECT id FROM c",
            &params(&values),
        )?;
        Ok(CustomerId(col(&row, 0)?))
    }

    fn update_customer(&mut self, c: &Customer) -> Result<()> {
        self.lock_customer(c.id)?;
        let mut values = customer_values(c);
        values.push(Box::new(c.id.0));
        // A changed external id changes its key (the new one must be free).
        let n = self.execute(
            "WITH old AS (SELECT external_id FROM customers WHERE id = $23), \
             d AS (DELETE FROM external_keys e USING old WHERE e.kind = 'customer' AND e.key = old.external_id \
             AND old.external_id IS DISTINCT FROM $1::text), \
             i AS (INSERT INTO external_keys (kind, key, customer_id) SELECT 'customer', $1::text, $23 FROM old \
             WHERE $1::text IS NOT NULL AND old.external_id IS DISTINCT FROM $1::text) \
             UPDATE customers SET external_id = $1, kind = $2, name = $3, email = $4, phone = $5, company = $6, \
             title = $7, industry = $8, country = $9, region = $10, city = $11, postal_code = $12, street = $13, \
             birthday = $14, gender = $15, tags = $16::text::jsonb, attributes = $17::text::jsonb, \
             consents = $18::text::jsonb, lifecycle = $19, created_at = $20, updated_at = $21, merged_into = $22 \
             WHERE id = $23",
            &params(&values),
        )?;
        if n == 0 {
            return Err(Error::not_found(Entity::Customer, c.id));
        }
        Ok(())
    }

    fn delete_customer(&mut self, id: CustomerId) -> Result<()> {
        self.lock_customer(id)?;
        // One statement: every data-modifying CTE runs, whether or not it is referenced.
        self.execute(
            "WITH spend AS (DELETE FROM customer_spend WHERE customer_id = $1), \
             stats AS (DELETE FROM customer_stats WHERE customer_id = $1), \
             rfm AS (DELETE FROM customer_rfm WHERE customer_id = $1), \
             tiers AS (DELETE FROM customer_tiers WHERE customer_id = $1), \
             stages AS (DELETE FROM stage_history WHERE customer_id = $1), \
             members AS (DELETE FROM segment_members WHERE customer_id = $1), \
             keys AS (DELETE FROM external_keys WHERE customer_id = $1) \
             DELETE FROM customers WHERE id = $1",
            &[&id.0],
        )?;
        Ok(())
    }

    fn customers_by_external_ids(&mut self, external_ids: &[&str]) -> Result<HashMap<String, Customer>> {
        self.bulk()?;
        let sql = format!("SELECT {CUSTOMER_COLS} FROM customers c WHERE c.external_id = ANY($1)");
        let rows = self.query(&sql, &[&external_ids])?;
        rows.iter()
            .map(|r| {
                let c = customer_row(r)?;
                Ok((c.external_id.clone().unwrap_or_default(), c))
            })
            .collect()
    }

    fn customer_ids_by_external_ids(&mut self, external_ids: &[&str]) -> Result<HashMap<String, CustomerId>> {
        self.bulk()?;
        let rows = self.query("SELECT external_id, id FROM customers WHERE external_id = ANY($1)", &[&external_ids])?;
        rows.iter().map(|r| Ok((col(r, 0)?, CustomerId(col(r, 1)?)))).collect()
    }

    fn existing_customers(&mut self, ids: &[CustomerId]) -> Result<HashSet<CustomerId>> {
        self.bulk()?;
        let ids: Vec<i64> = ids.iter().map(|c| c.0).collect();
        let rows = self.query("SELECT id FROM customers WHERE id = ANY($1)", &[&ids])?;
        rows.iter().map(|r| Ok(CustomerId(col(r, 0)?))).collect()
    }

    /// Ids from the sequence, then one binary `COPY` and one statement for the statistics rows.
    fn insert_new_customers(&mut self, customers: &mut [Customer]) -> Result<()> {
        if customers.is_empty() {
            return Ok(());
        }
        self.bulk()?;
        let ids = self.reserve_ids("customers", customers.len())?;
        for (c, id) in customers.iter_mut().zip(&ids) {
            c.id = CustomerId(*id);
        }
        let (t, i, j) = (Type::TEXT, Type::INT8, Type::JSONB);
        let types = [
            i.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
            j.clone(),
            j.clone(),
            j,
            t,
            i.clone(),
            i.clone(),
            i,
        ];
        self.copy_in(
            "COPY customers (id, external_id, kind, name, email, phone, company, title, industry, country, region, \
             city, postal_code, street, birthday, gender, tags, attributes, consents, lifecycle, created_at, \
             updated_at, merged_into)",
            &types,
            |w| {
                for c in customers.iter() {
                    let a = &c.address;
                    w.write(&[
                        &c.id.0,
                        &c.external_id,
                        &enum_str(&c.kind),
                        &c.name,
                        &c.email,
                        &c.phone,
                        &c.company,
                        &c.title,
                        &c.industry,
                        &a.country,
                        &a.region,
                        &a.city,
                        &a.postal_code,
                        &a.street,
                        &c.birthday.map(|b| b.to_string()),
                        &c.gender,
                        &Jsonb(json(&c.tags)),
                        &Jsonb(json(&c.attributes)),
                        &Jsonb(json(&c.consents)),
                        &enum_str(&c.lifecycle),
                        &micros(c.created_at),
                        &micros(c.updated_at),
                        &c.merged_into.map(|m| m.0),
                    ])?;
                }
                Ok(())
            },
        )?;
        self.execute("INSERT INTO customer_stats (customer_id) SELECT unnest($1::bigint[])", &[&ids])?;
        self.copy_keys("customer", customers.iter().filter_map(|c| Some((c.external_id.as_deref()?, c.id))))
    }
}

/// A row of the identity columns (`id, kind, name, email, phone, company, country, region,
/// city, postal_code, street, birthday`) as identity fields.
pub(super) fn identity_row(r: &Row) -> Result<IdentityFields> {
    let birthday: Option<String> = col(r, 11)?;
    Ok(IdentityFields {
        id: CustomerId(col(r, 0)?),
        kind: enum_col(r, 1)?,
        name: col(r, 2)?,
        email: col(r, 3)?,
        phone: col(r, 4)?,
        company: col(r, 5)?,
        address: Address {
            country: col(r, 6)?,
            region: col(r, 7)?,
            city: col(r, 8)?,
            postal_code: col(r, 9)?,
            street: col(r, 10)?,
        },
        birthday: birthday.map(|b| b.parse().map_err(|e| corrupt("birthday", e))).transpose()?,
    })
}
