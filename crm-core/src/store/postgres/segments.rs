//! The segmentation port on PostgreSQL: rule evaluation through the rule compiler's
//! PostgreSQL dialect ([`rule_sql`]), saved segments and their members, scoring plans,
//! stages, tiers and history. The same semantics as SQLite's (`store/sqlite/segments.rs`).
//!
//! Compiled rules differ per rule, so they run unprepared (the statement cache would only
//! fill). Writes of global records take the global lock first; in a write transaction, so
//! do the reads a write of them decides on (segments, members, plans, tiers, history,
//! classification and scores), so that two refreshes run one after the other.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::*;
use crate::changes::{Entity, Op};
use crate::customer::LifecycleStage;
use crate::rule::Cond;
use crate::segment::{Classified, HistoryEntry, ScoringPlan, Segment, SegmentId, SegmentStore, SegmentStoreMut};
use crate::store::codec::opt_time;
use crate::store::rule_sql::{self, compile, Dialect};

type RuleParam = rule_sql::Param;

/// A compiled rule's parameter as the driver binds it: lists (of one kind, as the compiler
/// makes them for PostgreSQL) as arrays.
fn bound(p: RuleParam) -> Box<dyn ToSql + Sync> {
    match p {
        RuleParam::Null => Box::new(None::<String>),
        RuleParam::Int(i) => Box::new(i),
        RuleParam::Real(f) => Box::new(f),
        RuleParam::Text(t) => Box::new(t),
        RuleParam::Bool(b) => Box::new(b),
        RuleParam::List(items) => match items.first() {
            Some(RuleParam::Int(_)) => Box::new(
                items
                    .into_iter()
                    .filter_map(|p| if let RuleParam::Int(i) = p { Some(i) } else { None })
                    .collect::<Vec<i64>>(),
            ),
            Some(RuleParam::Real(_)) => Box::new(
                items
                    .into_iter()
                    .filter_map(|p| match p {
                        RuleParam::Real(f) => Some(f),
                        RuleParam::Int(i) => Some(i as f64),
                        _ => None,
                    })
                    .collect::<Vec<f64>>(),
            ),
            Some(RuleParam::Bool(_)) => Box::new(
                items
                    .into_iter()
                    .filter_map(|p| if let RuleParam::Bool(b) = p { Some(b) } else { None })
                    .collect::<Vec<bool>>(),
            ),
            _ => Box::new(
                items
                    .into_iter()
                    .filter_map(|p| if let RuleParam::Text(t) = p { Some(t) } else { None })
                    .collect::<Vec<String>>(),
            ),
        },
    }
}

/// Merges the rows of a later statement into `out`, by customer id (both ascending): in a
/// READ COMMITTED transaction each statement sees its own snapshot, so a customer created
/// in between is in the later rows only (and left out), one deleted in between in the
/// earlier only (and keeps what they gave).
fn merge_by_id<T>(out: &mut [T], rows: Vec<T>, id: impl Fn(&T) -> i64, mut f: impl FnMut(&mut T, T)) {
    let mut rows = rows.into_iter().peekable();
    for o in out.iter_mut() {
        while rows.peek().is_some_and(|r| id(r) < id(o)) {
            rows.next();
        }
        if rows.peek().is_some_and(|r| id(r) == id(o)) {
            if let Some(r) = rows.next() {
                f(o, r);
            }
        }
    }
}

/// The last change for each customer (as applying them one by one leaves it), in order.
fn last_per_customer<T>(changes: &[(CustomerId, T)]) -> impl Iterator<Item = &(CustomerId, T)> {
    let last: HashMap<i64, usize> = changes.iter().enumerate().map(|(i, (c, _))| (c.0, i)).collect();
    changes.iter().enumerate().filter(move |(i, (c, _))| last.get(&c.0) == Some(i)).map(|(_, x)| x)
}

const SEGMENT_COLS: &str = "id, name, kind, rule, description, created_at, updated_at, snapshot_at";

fn segment_row(r: &Row) -> Result<Segment> {
    Ok(Segment {
        id: SegmentId(col(r, 0)?),
        name: col(r, 1)?,
        kind: enum_col(r, 2)?,
        rule: opt_json_col(r, 3)?,
        description: col(r, 4)?,
        created_at: time(col(r, 5)?),
        updated_at: time(col(r, 6)?),
        snapshot_at: opt_time(col(r, 7)?),
    })
}

fn segment_values(s: &Segment) -> Vec<Box<dyn ToSql + Sync>> {
    vec![
        Box::new(s.name.clone()),
        Box::new(enum_str(&s.kind)),
        Box::new(s.rule.as_ref().map(json)),
        Box::new(s.description.clone()),
        Box::new(micros(s.created_at)),
        Box::new(micros(s.updated_at)),
        Box::new(s.snapshot_at.map(micros)),
    ]
}

impl<M: Mode> PgTx<'_, M> {
    /// Runs a statement built around compiled rules, unprepared.
    fn compiled_rows(&mut self, sql: &str, p: Vec<RuleParam>) -> Result<Vec<Row>> {
        let values: Vec<Box<dyn ToSql + Sync>> = p.into_iter().map(bound).collect();
        self.query_unprepared(sql, &params(&values))
    }
}

impl<M: Mode> SegmentStore for PgTx<'_, M> {
    fn rule_members(&mut self, rule: &Cond, after: Option<CustomerId>, limit: usize) -> Result<Vec<CustomerId>> {
        let mut c = compile(rule, Dialect::Postgres);
        c.params.push(RuleParam::Int(after.map_or(i64::MIN, |a| a.0)));
        let after_p = c.params.len();
        c.params.push(RuleParam::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql = format!(
            "SELECT c.id FROM customers c{} WHERE c.merged_into IS NULL AND ({}) AND c.id > ${after_p}::bigint ORDER BY c.id LIMIT ${}::bigint",
            c.joins,
            c.sql,
            after_p + 1
        );
        let rows = self.compiled_rows(&sql, c.params)?;
        rows.iter().map(|r| col(r, 0).map(CustomerId)).collect()
    }

    fn rule_count(&mut self, rule: &Cond) -> Result<i64> {
        let c = compile(rule, Dialect::Postgres);
        let sql = format!("SELECT count(*) FROM customers c{} WHERE c.merged_into IS NULL AND ({})", c.joins, c.sql);
        let rows = self.compiled_rows(&sql, c.params)?;
        rows.first().map_or(Ok(0), |r| col(r, 0))
    }

    fn classify(&mut self, rules: &[Cond]) -> Result<Vec<Classified>> {
        self.lock_global()?;
        // One scan per batch (one batch unless the rules are large): CASE picks the first rule
        // met; a later batch decides only for customers no earlier batch matched.
        let mut out: Vec<Classified> = Vec::new();
        for (n, batch) in rule_sql::batches(rules.iter(), 0, Dialect::Postgres).into_iter().enumerate() {
            let whens: String = batch.parts.iter().map(|(i, sql)| format!(" WHEN {sql} THEN {i}")).collect();
            let pick = if batch.parts.is_empty() {
                "NULL::bigint".to_string()
            } else {
                format!("(CASE{whens} ELSE NULL END)::bigint")
            };
            let sql =
                format!("SELECT c.id, c.lifecycle, c.created_at, {pick} FROM customers c{} WHERE c.merged_into IS NULL ORDER BY c.id", batch.joins);
            let rows = self.compiled_rows(&sql, batch.params)?;
            let rows = rows
                .iter()
                .map(|r| {
                    Ok(Classified {
                        customer_id: CustomerId(col(r, 0)?),
                        stage: enum_col(r, 1)?,
                        created_at: time(col(r, 2)?),
                        rule: col::<Option<i64>>(r, 3)?.and_then(|i| usize::try_from(i).ok()),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            if n == 0 {
                out = rows;
            } else {
                merge_by_id(&mut out, rows, |c| c.customer_id.0, |o, r| o.rule = o.rule.or(r.rule));
            }
        }
        Ok(out)
    }

    fn score_all(&mut self, plan: &[(Cond, i64)]) -> Result<Vec<(CustomerId, i64)>> {
        self.lock_global()?;
        // One scan per batch (one unless the plan is large); the batches' sums are added.
        let mut out: Vec<(CustomerId, i64)> = Vec::new();
        for (n, mut batch) in
            rule_sql::batches(plan.iter().map(|(c, _)| c), 1, Dialect::Postgres).into_iter().enumerate()
        {
            let mut sum = Vec::with_capacity(batch.parts.len());
            for (i, sql) in &batch.parts {
                batch.params.push(RuleParam::Int(plan[*i].1));
                sum.push(format!("(CASE WHEN {sql} THEN ${}::bigint ELSE 0 END)", batch.params.len()));
            }
            let sql = format!(
                "SELECT c.id, ({})::bigint FROM customers c{} WHERE c.merged_into IS NULL ORDER BY c.id",
                rule_sql::sum(&sum),
                batch.joins
            );
            let rows = self.compiled_rows(&sql, batch.params)?;
            let rows = rows
                .iter()
                .map(|r| Ok((CustomerId(col(r, 0)?), col(r, 1)?)))
                .collect::<Result<Vec<(CustomerId, i64)>>>()?;
            if n == 0 {
                out = rows;
            } else {
                merge_by_id(&mut out, rows, |r| r.0 .0, |o, r| o.1 += r.1);
            }
        }
        Ok(out)
    }

    fn tier_of(&mut self, customer: CustomerId) -> Result<Option<String>> {
        let row = self.query_opt("SELECT tier FROM customer_tiers WHERE customer_id = $1", &[&customer.0])?;
        row.map(|r| col(&r, 0)).transpose()
    }

    fn static_segments_of(&mut self, customer: CustomerId) -> Result<Vec<i64>> {
        let rows = self.query(
            "SELECT m.segment_id FROM segment_members m JOIN segments s ON s.id = m.segment_id \
             WHERE m.customer_id = $1 AND s.kind = 'static' ORDER BY m.segment_id",
            &[&customer.0],
        )?;
        rows.iter().map(|r| col(r, 0)).collect()
    }

    fn segment_by_name(&mut self, name: &str) -> Result<Option<Segment>> {
        self.lock_global()?;
        let sql = format!("SELECT {SEGMENT_COLS} FROM segments WHERE name = $1");
        let row = self.query_opt(&sql, &[&name])?;
        row.map(|r| segment_row(&r)).transpose()
    }

    fn list_segments(&mut self) -> Result<Vec<Segment>> {
        self.lock_global()?;
        // Names in byte order, as on SQLite, whatever the database's collation.
        let sql = format!("SELECT {SEGMENT_COLS} FROM segments ORDER BY name COLLATE \"C\"");
        let rows = self.query(&sql, &[])?;
        rows.iter().map(segment_row).collect()
    }

    fn stored_members(&mut self, id: SegmentId, after: Option<CustomerId>, limit: usize) -> Result<Vec<CustomerId>> {
        self.lock_global()?;
        let rows = self.query(
            "SELECT customer_id FROM segment_members WHERE segment_id = $1 AND customer_id > $2 \
             ORDER BY customer_id LIMIT $3",
            &[&id.0, &after.map_or(i64::MIN, |a| a.0), &i64::try_from(limit).unwrap_or(i64::MAX)],
        )?;
        rows.iter().map(|r| col(r, 0).map(CustomerId)).collect()
    }

    fn count_stored_members(&mut self, id: SegmentId) -> Result<i64> {
        self.lock_global()?;
        let row = self.query_one("SELECT count(*) FROM segment_members WHERE segment_id = $1", &[&id.0])?;
        col(&row, 0)
    }

    fn list_plans(&mut self) -> Result<Vec<ScoringPlan>> {
        self.lock_global()?;
        let rows = self.query("SELECT name, rules FROM scoring_plans ORDER BY name COLLATE \"C\"", &[])?;
        rows.iter().map(|r| Ok(ScoringPlan { name: col(r, 0)?, rules: json_col(r, 1)? })).collect()
    }

    fn all_tiers(&mut self) -> Result<Vec<(CustomerId, String)>> {
        self.lock_global()?;
        let rows = self.query("SELECT customer_id, tier FROM customer_tiers ORDER BY customer_id", &[])?;
        rows.iter().map(|r| Ok((CustomerId(col(r, 0)?), col(r, 1)?))).collect()
    }

    fn history(&mut self, customer: CustomerId, kind: &str) -> Result<Vec<(String, DateTime<Utc>)>> {
        self.lock_global()?;
        // Entries of one instant in the order written (`seq`; SQLite orders by rowid).
        let rows = self.query(
            "SELECT value, at FROM stage_history WHERE customer_id = $1 AND kind = $2 ORDER BY at, seq",
            &[&customer.0, &kind],
        )?;
        rows.iter().map(|r| Ok((col(r, 0)?, time(col(r, 1)?)))).collect()
    }
}

impl SegmentStoreMut for PgTx<'_, Writing> {
    fn insert_segment(&mut self, s: &Segment) -> Result<SegmentId> {
        self.lock_global()?;
        let values = segment_values(s);
        let row = self.query_one(
            "INSERT INTO segments (name, kind, rule, description, created_at, updated_at, snapshot_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &params(&values),
        )?;
        Ok(SegmentId(col(&row, 0)?))
    }

    fn update_segment(&mut self, s: &Segment) -> Result<()> {
        self.lock_global()?;
        let mut values = segment_values(s);
        values.push(Box::new(s.id.0));
        self.execute(
            "UPDATE segments SET name = $1, kind = $2, rule = $3, description = $4, created_at = $5, updated_at = $6, \
             snapshot_at = $7 WHERE id = $8",
            &params(&values),
        )?;
        Ok(())
    }

    fn delete_segment(&mut self, id: SegmentId) -> Result<()> {
        self.lock_global()?;
        self.execute("DELETE FROM segment_members WHERE segment_id = $1", &[&id.0])?;
        self.execute("DELETE FROM segments WHERE id = $1", &[&id.0])?;
        Ok(())
    }

    fn change_members(
        &mut self,
        id: SegmentId,
        entered: &[CustomerId],
        left: &[CustomerId],
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.lock_global()?;
        let at_us = micros(at);
        let segment = Entity::Segment.as_str();
        let entry = |op: Op, c: &CustomerId| FeedRow {
            entity: segment,
            id: id.0,
            op: op.as_str(),
            at: at_us,
            ref_id: Some(c.0),
        };
        // Set at a time, in the order given: the feed gets every `enter`, then every `leave`.
        if !entered.is_empty() {
            let ids: Vec<i64> = entered.iter().map(|c| c.0).collect();
            self.execute(
                "INSERT INTO segment_members (segment_id, customer_id, since) \
                 SELECT $1::bigint, u.id, $3::bigint FROM unnest($2::bigint[]) WITH ORDINALITY AS u(id, n) ORDER BY u.n",
                &[&id.0, &ids, &at_us],
            )?;
            self.feed.extend(entered.iter().map(|c| entry(Op::Enter, c)));
        }
        if !left.is_empty() {
            let ids: Vec<i64> = left.iter().map(|c| c.0).collect();
            self.execute(
                "DELETE FROM segment_members WHERE segment_id = $1 AND customer_id = ANY($2::bigint[])",
                &[&id.0, &ids],
            )?;
            self.feed.extend(left.iter().map(|c| entry(Op::Leave, c)));
        }
        Ok(())
    }

    fn put_plan(&mut self, plan: &ScoringPlan, at: DateTime<Utc>) -> Result<(i64, bool)> {
        self.lock_global()?;
        let existing = self.query_opt("SELECT id FROM scoring_plans WHERE name = $1", &[&plan.name])?;
        let existing: Option<i64> = existing.map(|r| col(&r, 0)).transpose()?;
        let rules = json(&plan.rules);
        let at_us = micros(at);
        match existing {
            Some(id) => {
                self.execute(
                    "UPDATE scoring_plans SET rules = $1, updated_at = $2 WHERE id = $3",
                    &[&rules, &at_us, &id],
                )?;
                Ok((id, false))
            }
            None => {
                let row = self.query_one(
                    "INSERT INTO scoring_plans (name, rules, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
                    &[&plan.name, &rules, &at_us],
                )?;
                Ok((col(&row, 0)?, true))
            }
        }
    }

    fn delete_plan(&mut self, name: &str) -> Result<Option<i64>> {
        self.lock_global()?;
        let row = self.query_opt("DELETE FROM scoring_plans WHERE name = $1 RETURNING id", &[&name])?;
        row.map(|r| col(&r, 0)).transpose()
    }

    fn set_stages(&mut self, changes: &[(CustomerId, LifecycleStage)], at: DateTime<Utc>) -> Result<()> {
        self.lock_global()?;
        if changes.is_empty() {
            return Ok(());
        }
        let (ids, stages): (Vec<i64>, Vec<String>) =
            last_per_customer(changes).map(|(c, s)| (c.0, enum_str(s))).unzip();
        self.execute(
            "UPDATE customers c SET lifecycle = u.stage, updated_at = $1::bigint \
             FROM unnest($2::bigint[], $3::text[]) AS u(id, stage) WHERE c.id = u.id",
            &[&micros(at), &ids, &stages],
        )?;
        Ok(())
    }

    fn set_tiers(&mut self, changes: &[(CustomerId, Option<String>)], at: DateTime<Utc>) -> Result<()> {
        self.lock_global()?;
        let (mut put_ids, mut put_tiers, mut del_ids) = (Vec::new(), Vec::new(), Vec::new());
        for (c, tier) in last_per_customer(changes) {
            match tier {
                Some(t) => {
                    put_ids.push(c.0);
                    put_tiers.push(t.clone());
                }
                None => del_ids.push(c.0),
            }
        }
        if !put_ids.is_empty() {
            self.execute(
                "INSERT INTO customer_tiers (customer_id, tier, since) \
                 SELECT u.id, u.tier, $3::bigint FROM unnest($1::bigint[], $2::text[]) AS u(id, tier) \
                 ON CONFLICT (customer_id) DO UPDATE SET tier = excluded.tier, since = excluded.since",
                &[&put_ids, &put_tiers, &micros(at)],
            )?;
        }
        if !del_ids.is_empty() {
            self.execute("DELETE FROM customer_tiers WHERE customer_id = ANY($1::bigint[])", &[&del_ids])?;
        }
        Ok(())
    }

    fn append_history(&mut self, kind: &str, entries: &[HistoryEntry]) -> Result<()> {
        self.lock_global()?;
        if entries.is_empty() {
            return Ok(());
        }
        // Which of the customers given a previous value already have history of this kind.
        let asked: Vec<i64> = entries.iter().filter(|e| e.previous.is_some()).map(|e| e.customer_id.0).collect();
        let mut has: HashSet<i64> = HashSet::new();
        if !asked.is_empty() {
            let rows = self.query(
                "SELECT DISTINCT customer_id FROM stage_history WHERE kind = $1 AND customer_id = ANY($2::bigint[])",
                &[&kind, &asked],
            )?;
            for r in &rows {
                has.insert(col(r, 0)?);
            }
        }
        // As written one by one: a customer without history first gets its previous value.
        let (mut ids, mut values, mut ats) = (Vec::new(), Vec::new(), Vec::new());
        for e in entries {
            let c = e.customer_id.0;
            if let Some((prev, since)) = &e.previous {
                if !has.contains(&c) {
                    ids.push(c);
                    values.push(prev.clone());
                    ats.push(micros(*since));
                }
            }
            ids.push(c);
            values.push(e.value.clone());
            ats.push(micros(e.at));
            has.insert(c);
        }
        self.execute(
            "INSERT INTO stage_history (customer_id, kind, value, at) \
             SELECT u.id, $1::text, u.value, u.at FROM unnest($2::bigint[], $3::text[], $4::bigint[]) \
             WITH ORDINALITY AS u(id, value, at, n) ORDER BY u.n",
            &[&kind, &ids, &values, &ats],
        )?;
        Ok(())
    }
}
