//! SQLite side of segmentation: rule evaluation through [`rule_sql`](crate::store::rule_sql)
//! (its SQLite dialect),
//! saved segments and their members, scoring plans, settings, stages, tiers and history.

use std::rc::Rc;

use super::*;
use chrono::{DateTime, Utc};
use rusqlite::types::{ToSql, ToSqlOutput, Value};
use rusqlite::vtab::array::Array;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::error::Db;
use super::{
    enum_col, enum_str, interaction_row, json, json_col, micros, opt_json_col, opt_time, order_row, time,
    INTERACTION_COLS, ORDER_COLS,
};
use crate::changes::{Entity, Op};
use crate::customer::{CustomerId, LifecycleStage};
use crate::error::Result;
use crate::interaction::Interaction;
use crate::money::Currency;
use crate::order::{LineItem, Order};
use crate::rule::Cond;
use crate::segment::{ScoringPlan, Segment, SegmentId};
use crate::store::rule_sql::{self, compile, Dialect, Param};

/// A compiled rule's parameter as rusqlite binds it: a value (booleans as 0 and 1), or a
/// list bound as one array (read with `rarray(?N)`).
#[derive(Debug, Clone)]
enum Bound {
    Value(Value),
    List(Array),
}

impl ToSql for Bound {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Bound::Value(v) => v.to_sql(),
            Bound::List(a) => a.to_sql(),
        }
    }
}

fn value_of(p: Param) -> Value {
    match p {
        Param::Null | Param::List(_) => Value::Null,
        Param::Int(i) => Value::Integer(i),
        Param::Real(f) => Value::Real(f),
        Param::Text(t) => Value::Text(t),
        Param::Bool(b) => Value::Integer(i64::from(b)),
    }
}

/// The compiler's parameters as rusqlite binds them.
fn bound(params: Vec<Param>) -> impl Iterator<Item = Bound> {
    params.into_iter().map(|p| match p {
        Param::List(values) => Bound::List(Rc::new(values.into_iter().map(value_of).collect())),
        p => Bound::Value(value_of(p)),
    })
}

pub(super) fn rule_members(
    conn: &Connection,
    rule: &Cond,
    after: Option<CustomerId>,
    limit: usize,
) -> Result<Vec<CustomerId>> {
    let mut c = compile(rule, Dialect::Sqlite);
    c.params.push(Param::Int(after.map_or(i64::MIN, |a| a.0)));
    let after_p = c.params.len();
    c.params.push(Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT c.id FROM customers c{} WHERE c.merged_into IS NULL AND ({}) AND c.id > ?{after_p} ORDER BY c.id LIMIT ?{}",
        c.joins,
        c.sql,
        after_p + 1
    );
    let mut st = conn.prepare(&sql).db()?;
    let ids = st.query_map(params_from_iter(bound(c.params)), |r| r.get(0).map(CustomerId)).db()?;
    ids.collect::<rusqlite::Result<_>>().db()
}

pub(super) fn rule_count(conn: &Connection, rule: &Cond) -> Result<i64> {
    let c = compile(rule, Dialect::Sqlite);
    let sql = format!("SELECT count(*) FROM customers c{} WHERE c.merged_into IS NULL AND ({})", c.joins, c.sql);
    conn.prepare(&sql).db()?.query_row(params_from_iter(bound(c.params)), |r| r.get(0)).db()
}

pub(super) fn classify(conn: &Connection, rules: &[Cond]) -> Result<Vec<Classified>> {
    // One scan per batch (one batch unless the rules are large): CASE picks the first rule
    // met; a later batch decides only for customers no earlier batch matched.
    let mut out: Vec<Classified> = Vec::new();
    for (n, batch) in rule_sql::batches(rules.iter(), 0, Dialect::Sqlite).into_iter().enumerate() {
        let whens: String = batch.parts.iter().map(|(i, sql)| format!(" WHEN {sql} THEN {i}")).collect();
        let pick = if batch.parts.is_empty() { "NULL".to_string() } else { format!("CASE{whens} ELSE NULL END") };
        let sql =
            format!("SELECT c.id, c.lifecycle, c.created_at, {pick} FROM customers c{} WHERE c.merged_into IS NULL ORDER BY c.id", batch.joins);
        let mut st = conn.prepare(&sql).db()?;
        let rows = st
            .query_map(params_from_iter(bound(batch.params)), |r| {
                let i: Option<i64> = r.get(3)?;
                Ok(Classified {
                    customer_id: CustomerId(r.get(0)?),
                    stage: enum_col(r, 1)?,
                    created_at: time(r.get(2)?),
                    rule: i.and_then(|i| usize::try_from(i).ok()),
                })
            })
            .db()?;
        let rows = rows.collect::<rusqlite::Result<Vec<_>>>().db()?;
        if n == 0 {
            out = rows;
        } else {
            // Same transaction, same snapshot: the same customers in the same order.
            for (o, r) in out.iter_mut().zip(rows) {
                o.rule = o.rule.or(r.rule);
            }
        }
    }
    Ok(out)
}

pub(super) fn score_all(conn: &Connection, plan: &[(Cond, i64)]) -> Result<Vec<(CustomerId, i64)>> {
    // One scan per batch (one unless the plan is large); the batches' sums are added.
    let mut out: Vec<(CustomerId, i64)> = Vec::new();
    for (n, mut batch) in rule_sql::batches(plan.iter().map(|(c, _)| c), 1, Dialect::Sqlite).into_iter().enumerate() {
        let mut sum = Vec::with_capacity(batch.parts.len());
        for (i, sql) in &batch.parts {
            batch.params.push(Param::Int(plan[*i].1));
            sum.push(format!("(CASE WHEN {sql} THEN ?{} ELSE 0 END)", batch.params.len()));
        }
        let sql = format!(
            "SELECT c.id, {} FROM customers c{} WHERE c.merged_into IS NULL ORDER BY c.id",
            rule_sql::sum(&sum),
            batch.joins
        );
        let mut st = conn.prepare(&sql).db()?;
        let rows =
            st.query_map(params_from_iter(bound(batch.params)), |r| Ok((CustomerId(r.get(0)?), r.get(1)?))).db()?;
        let rows = rows.collect::<rusqlite::Result<Vec<(CustomerId, i64)>>>().db()?;
        if n == 0 {
            out = rows;
        } else {
            for (o, r) in out.iter_mut().zip(rows) {
                o.1 += r.1;
            }
        }
    }
    Ok(out)
}

pub(super) fn orders_of(conn: &Connection, customer: CustomerId, since: Option<i64>) -> Result<Vec<Order>> {
    let since = since.unwrap_or(i64::MIN);
    let sql = format!(
        "SELECT {ORDER_COLS} FROM orders WHERE customer_id = ?1 AND occurred_at >= ?2 ORDER BY occurred_at, id"
    );
    let mut orders: Vec<Order> = conn
        .prepare_cached(&sql)
        .db()?
        .query_map(params![customer.0, since], order_row)
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()?;
    // All line items in one query, then handed to their orders.
    let at: std::collections::HashMap<i64, usize> = orders.iter().enumerate().map(|(i, o)| (o.id.0, i)).collect();
    let mut st = conn
        .prepare_cached(
            "SELECT i.order_id, i.sku, i.category, i.quantity, i.unit_price_minor FROM orders o \
         JOIN order_items i ON i.order_id = o.id WHERE o.customer_id = ?1 AND o.occurred_at >= ?2 \
         ORDER BY i.order_id, i.line_no",
        )
        .db()?;
    let mut rows = st.query(params![customer.0, since]).db()?;
    while let Some(r) = rows.next().db()? {
        let id: i64 = r.get(0).db()?;
        if let Some(&i) = at.get(&id) {
            orders[i].items.push(LineItem {
                sku: r.get(1).db()?,
                category: r.get(2).db()?,
                quantity: r.get(3).db()?,
                unit_price_minor: r.get(4).db()?,
            });
        }
    }
    Ok(orders)
}

pub(super) fn interactions_of(conn: &Connection, customer: CustomerId, since: Option<i64>) -> Result<Vec<Interaction>> {
    let sql = format!(
        "SELECT {INTERACTION_COLS} FROM interactions WHERE customer_id = ?1 AND occurred_at >= ?2 ORDER BY occurred_at, id"
    );
    let mut st = conn.prepare_cached(&sql).db()?;
    let rows = st.query_map(params![customer.0, since.unwrap_or(i64::MIN)], interaction_row).db()?;
    rows.collect::<rusqlite::Result<_>>().db()
}

pub(super) fn tier_of(conn: &Connection, customer: CustomerId) -> Result<Option<String>> {
    conn.prepare_cached("SELECT tier FROM customer_tiers WHERE customer_id = ?1")
        .db()?
        .query_row([customer.0], |r| r.get(0))
        .optional()
        .db()
}

pub(super) fn static_segments_of(conn: &Connection, customer: CustomerId) -> Result<Vec<i64>> {
    let mut st = conn
        .prepare_cached(
            "SELECT m.segment_id FROM segment_members m JOIN segments s ON s.id = m.segment_id \
         WHERE m.customer_id = ?1 AND s.kind = 'static' ORDER BY m.segment_id",
        )
        .db()?;
    let rows = st.query_map([customer.0], |r| r.get(0)).db()?;
    rows.collect::<rusqlite::Result<_>>().db()
}

const SEGMENT_COLS: &str = "id, name, kind, rule, description, created_at, updated_at, snapshot_at";

fn segment_row(r: &Row<'_>) -> rusqlite::Result<Segment> {
    Ok(Segment {
        id: SegmentId(r.get(0)?),
        name: r.get(1)?,
        kind: enum_col(r, 2)?,
        rule: opt_json_col(r, 3)?,
        description: r.get(4)?,
        created_at: time(r.get(5)?),
        updated_at: time(r.get(6)?),
        snapshot_at: opt_time(r.get(7)?),
    })
}

fn segment_values(s: &Segment) -> [Value; 7] {
    [
        Value::Text(s.name.clone()),
        Value::Text(enum_str(&s.kind)),
        s.rule.as_ref().map_or(Value::Null, |r| Value::Text(json(r))),
        s.description.clone().map_or(Value::Null, Value::Text),
        Value::Integer(micros(s.created_at)),
        Value::Integer(micros(s.updated_at)),
        s.snapshot_at.map_or(Value::Null, |t| Value::Integer(micros(t))),
    ]
}

pub(super) fn insert_segment(conn: &Connection, s: &Segment) -> Result<SegmentId> {
    conn.prepare_cached(
        "INSERT INTO segments (name, kind, rule, description, created_at, updated_at, snapshot_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .db()?
    .execute(params_from_iter(segment_values(s)))
    .db()?;
    Ok(SegmentId(conn.last_insert_rowid()))
}

pub(super) fn update_segment(conn: &Connection, s: &Segment) -> Result<()> {
    let mut v = segment_values(s).to_vec();
    v.push(Value::Integer(s.id.0));
    conn.prepare_cached(
        "UPDATE segments SET name = ?1, kind = ?2, rule = ?3, description = ?4, created_at = ?5, updated_at = ?6, \
         snapshot_at = ?7 WHERE id = ?8",
    )
    .db()?
    .execute(params_from_iter(v))
    .db()?;
    Ok(())
}

pub(super) fn segment_by_name(conn: &Connection, name: &str) -> Result<Option<Segment>> {
    let sql = format!("SELECT {SEGMENT_COLS} FROM segments WHERE name = ?1");
    conn.prepare_cached(&sql).db()?.query_row([name], segment_row).optional().db()
}

pub(super) fn list_segments(conn: &Connection) -> Result<Vec<Segment>> {
    let sql = format!("SELECT {SEGMENT_COLS} FROM segments ORDER BY name");
    let mut st = conn.prepare_cached(&sql).db()?;
    let rows = st.query_map([], segment_row).db()?;
    rows.collect::<rusqlite::Result<_>>().db()
}

pub(super) fn delete_segment(conn: &Connection, id: SegmentId) -> Result<()> {
    conn.prepare_cached("DELETE FROM segment_members WHERE segment_id = ?1").db()?.execute([id.0]).db()?;
    conn.prepare_cached("DELETE FROM segments WHERE id = ?1").db()?.execute([id.0]).db()?;
    Ok(())
}

pub(super) fn stored_members(
    conn: &Connection,
    id: SegmentId,
    after: Option<CustomerId>,
    limit: usize,
) -> Result<Vec<CustomerId>> {
    let mut st = conn.prepare_cached(
        "SELECT customer_id FROM segment_members WHERE segment_id = ?1 AND customer_id > ?2 ORDER BY customer_id LIMIT ?3",
    ).db()?;
    let rows = st
        .query_map(params![id.0, after.map_or(i64::MIN, |a| a.0), i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            r.get(0).map(CustomerId)
        })
        .db()?;
    rows.collect::<rusqlite::Result<_>>().db()
}

pub(super) fn count_stored_members(conn: &Connection, id: SegmentId) -> Result<i64> {
    conn.prepare_cached("SELECT count(*) FROM segment_members WHERE segment_id = ?1")
        .db()?
        .query_row([id.0], |r| r.get(0))
        .db()
}

pub(super) fn change_members(
    conn: &Connection,
    id: SegmentId,
    entered: &[CustomerId],
    left: &[CustomerId],
    at: DateTime<Utc>,
) -> Result<()> {
    let at_us = micros(at);
    let mut add =
        conn.prepare_cached("INSERT INTO segment_members (segment_id, customer_id, since) VALUES (?1, ?2, ?3)").db()?;
    let mut del = conn.prepare_cached("DELETE FROM segment_members WHERE segment_id = ?1 AND customer_id = ?2").db()?;
    let mut feed = conn
        .prepare_cached("INSERT INTO changes (entity, entity_id, op, at, ref_id) VALUES (?1, ?2, ?3, ?4, ?5)")
        .db()?;
    for c in entered {
        add.execute(params![id.0, c.0, at_us]).db()?;
        feed.execute(params![Entity::Segment.as_str(), id.0, Op::Enter.as_str(), at_us, c.0]).db()?;
    }
    for c in left {
        del.execute(params![id.0, c.0]).db()?;
        feed.execute(params![Entity::Segment.as_str(), id.0, Op::Leave.as_str(), at_us, c.0]).db()?;
    }
    Ok(())
}

pub(super) fn put_plan(conn: &Connection, plan: &ScoringPlan, at: DateTime<Utc>) -> Result<(i64, bool)> {
    let existing: Option<i64> = conn
        .prepare_cached("SELECT id FROM scoring_plans WHERE name = ?1")
        .db()?
        .query_row([&plan.name], |r| r.get(0))
        .optional()
        .db()?;
    let rules = json(&plan.rules);
    match existing {
        Some(id) => {
            conn.prepare_cached("UPDATE scoring_plans SET rules = ?1, updated_at = ?2 WHERE id = ?3")
                .db()?
                .execute(params![rules, micros(at), id])
                .db()?;
            Ok((id, false))
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO scoring_plans (name, rules, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
            )
            .db()?
            .execute(params![plan.name, rules, micros(at)])
            .db()?;
            Ok((conn.last_insert_rowid(), true))
        }
    }
}

pub(super) fn list_plans(conn: &Connection) -> Result<Vec<ScoringPlan>> {
    let mut st = conn.prepare_cached("SELECT name, rules FROM scoring_plans ORDER BY name").db()?;
    let rows = st.query_map([], |r| Ok(ScoringPlan { name: r.get(0)?, rules: json_col(r, 1)? })).db()?;
    rows.collect::<rusqlite::Result<_>>().db()
}

pub(super) fn delete_plan(conn: &Connection, name: &str) -> Result<Option<i64>> {
    let id: Option<i64> = conn
        .prepare_cached("SELECT id FROM scoring_plans WHERE name = ?1")
        .db()?
        .query_row([name], |r| r.get(0))
        .optional()
        .db()?;
    if let Some(id) = id {
        conn.prepare_cached("DELETE FROM scoring_plans WHERE id = ?1").db()?.execute([id]).db()?;
    }
    Ok(id)
}

pub(super) fn get_setting(conn: &Connection, key: &str) -> Result<Option<String>> {
    conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")
        .db()?
        .query_row([key], |r| r.get(0))
        .optional()
        .db()
}

pub(super) fn put_setting(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2")
        .db()?
        .execute([key, value])
        .db()?;
    Ok(())
}

pub(super) fn set_stages(conn: &Connection, changes: &[(CustomerId, LifecycleStage)], at: DateTime<Utc>) -> Result<()> {
    let mut st = conn.prepare_cached("UPDATE customers SET lifecycle = ?1, updated_at = ?2 WHERE id = ?3").db()?;
    for (c, stage) in changes {
        st.execute(params![enum_str(stage), micros(at), c.0]).db()?;
    }
    Ok(())
}

pub(super) fn all_tiers(conn: &Connection) -> Result<Vec<(CustomerId, String)>> {
    let mut st = conn.prepare_cached("SELECT customer_id, tier FROM customer_tiers ORDER BY customer_id").db()?;
    let rows = st.query_map([], |r| Ok((CustomerId(r.get(0)?), r.get(1)?))).db()?;
    rows.collect::<rusqlite::Result<_>>().db()
}

pub(super) fn set_tiers(conn: &Connection, changes: &[(CustomerId, Option<String>)], at: DateTime<Utc>) -> Result<()> {
    let mut put = conn
        .prepare_cached(
            "INSERT INTO customer_tiers (customer_id, tier, since) VALUES (?1, ?2, ?3) \
         ON CONFLICT(customer_id) DO UPDATE SET tier = ?2, since = ?3",
        )
        .db()?;
    let mut del = conn.prepare_cached("DELETE FROM customer_tiers WHERE customer_id = ?1").db()?;
    for (c, tier) in changes {
        match tier {
            Some(t) => put.execute(params![c.0, t, micros(at)]).db()?,
            None => del.execute([c.0]).db()?,
        };
    }
    Ok(())
}

pub(super) fn append_history(conn: &Connection, kind: &str, entries: &[HistoryEntry]) -> Result<()> {
    let mut has =
        conn.prepare_cached("SELECT 1 FROM stage_history WHERE customer_id = ?1 AND kind = ?2 LIMIT 1").db()?;
    let mut add =
        conn.prepare_cached("INSERT INTO stage_history (customer_id, kind, value, at) VALUES (?1, ?2, ?3, ?4)").db()?;
    for e in entries {
        if let Some((prev, since)) = &e.previous {
            if has.query_row(params![e.customer_id.0, kind], |_| Ok(())).optional().db()?.is_none() {
                add.execute(params![e.customer_id.0, kind, prev, micros(*since)]).db()?;
            }
        }
        add.execute(params![e.customer_id.0, kind, e.value, micros(e.at)]).db()?;
    }
    Ok(())
}

pub(super) fn history(conn: &Connection, customer: CustomerId, kind: &str) -> Result<Vec<(String, DateTime<Utc>)>> {
    let mut st = conn
        .prepare_cached("SELECT value, at FROM stage_history WHERE customer_id = ?1 AND kind = ?2 ORDER BY at, rowid")
        .db()?;
    let rows = st.query_map(params![customer.0, kind], |r| Ok((r.get(0)?, time(r.get(1)?)))).db()?;
    rows.collect::<rusqlite::Result<_>>().db()
}

pub(super) fn spend_values(conn: &Connection, currency: Currency) -> Result<Vec<i64>> {
    let mut st = conn
        .prepare_cached(
            "SELECT total_minor FROM customer_spend WHERE currency = ?1 AND total_minor <> 0 ORDER BY total_minor",
        )
        .db()?;
    let rows = st.query_map([currency.code()], |r| r.get(0)).db()?;
    rows.collect::<rusqlite::Result<_>>().db()
}

impl<M> crate::segment::SegmentStore for SqliteTx<'_, M> {
    fn rule_members(&mut self, rule: &Cond, after: Option<CustomerId>, limit: usize) -> Result<Vec<CustomerId>> {
        segments::rule_members(&self.tx, rule, after, limit)
    }

    fn rule_count(&mut self, rule: &Cond) -> Result<i64> {
        segments::rule_count(&self.tx, rule)
    }

    fn classify(&mut self, rules: &[Cond]) -> Result<Vec<Classified>> {
        segments::classify(&self.tx, rules)
    }

    fn score_all(&mut self, plan: &[(Cond, i64)]) -> Result<Vec<(CustomerId, i64)>> {
        segments::score_all(&self.tx, plan)
    }

    fn tier_of(&mut self, customer: CustomerId) -> Result<Option<String>> {
        segments::tier_of(&self.tx, customer)
    }

    fn static_segments_of(&mut self, customer: CustomerId) -> Result<Vec<i64>> {
        segments::static_segments_of(&self.tx, customer)
    }

    fn segment_by_name(&mut self, name: &str) -> Result<Option<Segment>> {
        segments::segment_by_name(&self.tx, name)
    }

    fn list_segments(&mut self) -> Result<Vec<Segment>> {
        segments::list_segments(&self.tx)
    }

    fn stored_members(&mut self, id: SegmentId, after: Option<CustomerId>, limit: usize) -> Result<Vec<CustomerId>> {
        segments::stored_members(&self.tx, id, after, limit)
    }

    fn count_stored_members(&mut self, id: SegmentId) -> Result<i64> {
        segments::count_stored_members(&self.tx, id)
    }

    fn list_plans(&mut self) -> Result<Vec<ScoringPlan>> {
        segments::list_plans(&self.tx)
    }

    fn all_tiers(&mut self) -> Result<Vec<(CustomerId, String)>> {
        segments::all_tiers(&self.tx)
    }

    fn history(&mut self, customer: CustomerId, kind: &str) -> Result<Vec<(String, DateTime<Utc>)>> {
        segments::history(&self.tx, customer, kind)
    }
}

impl crate::segment::SegmentStoreMut for SqliteTx<'_, Writing> {
    fn insert_segment(&mut self, s: &Segment) -> Result<SegmentId> {
        segments::insert_segment(&self.tx, s)
    }

    fn update_segment(&mut self, s: &Segment) -> Result<()> {
        segments::update_segment(&self.tx, s)
    }

    fn delete_segment(&mut self, id: SegmentId) -> Result<()> {
        segments::delete_segment(&self.tx, id)
    }

    fn change_members(
        &mut self,
        id: SegmentId,
        entered: &[CustomerId],
        left: &[CustomerId],
        at: DateTime<Utc>,
    ) -> Result<()> {
        segments::change_members(&self.tx, id, entered, left, at)
    }

    fn put_plan(&mut self, plan: &ScoringPlan, at: DateTime<Utc>) -> Result<(i64, bool)> {
        segments::put_plan(&self.tx, plan, at)
    }

    fn delete_plan(&mut self, name: &str) -> Result<Option<i64>> {
        segments::delete_plan(&self.tx, name)
    }

    fn set_stages(&mut self, changes: &[(CustomerId, LifecycleStage)], at: DateTime<Utc>) -> Result<()> {
        segments::set_stages(&self.tx, changes, at)
    }

    fn set_tiers(&mut self, changes: &[(CustomerId, Option<String>)], at: DateTime<Utc>) -> Result<()> {
        segments::set_tiers(&self.tx, changes, at)
    }

    fn append_history(&mut self, kind: &str, entries: &[HistoryEntry]) -> Result<()> {
        segments::append_history(&self.tx, kind, entries)
    }
}
