//! SQLite side of loyalty: the program, accounts, the ledger, lots, cap usage and tier history.

use super::*;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::Db;
use super::{conversion, micros, opt_time, time};
use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::loyalty::{Account, Entry, EntryId, EntryKind, Lot, LotTerms, TierChange};
use crate::money::Currency;
use crate::order::OrderId;

pub(super) fn get_program(conn: &Connection) -> Result<Option<String>> {
    conn.prepare_cached("SELECT config FROM loyalty_programs WHERE id = 1")
        .db()?
        .query_row([], |r| r.get(0))
        .optional()
        .db()
}

pub(super) fn put_program(conn: &Connection, json: &str, at: DateTime<Utc>) -> Result<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO loyalty_programs (id, config, updated_at) VALUES (1, ?1, ?2)")
        .db()?
        .execute(params![json, micros(at)])
        .db()?;
    Ok(())
}

const ACCOUNT_COLS: &str = "customer_id, balance, orders, qualifying_total, tier, tier_since, created_at, updated_at";

fn account_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        customer_id: CustomerId(r.get(0)?),
        balance: r.get(1)?,
        orders: r.get(2)?,
        qualifying_total: r.get(3)?,
        tier: r.get(4)?,
        tier_since: opt_time(r.get(5)?),
        created_at: time(r.get(6)?),
        updated_at: time(r.get(7)?),
    })
}

pub(super) fn account(conn: &Connection, c: CustomerId) -> Result<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM loyalty_accounts WHERE customer_id = ?1");
    conn.prepare_cached(&sql).db()?.query_row([c.0], account_row).optional().db()
}

pub(super) fn put_account(conn: &Connection, a: &Account) -> Result<()> {
    let sql =
        format!("INSERT OR REPLACE INTO loyalty_accounts ({ACCOUNT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    conn.prepare_cached(&sql)
        .db()?
        .execute(params![
            a.customer_id.0,
            a.balance,
            a.orders,
            a.qualifying_total,
            a.tier,
            a.tier_since.map(micros),
            micros(a.created_at),
            micros(a.updated_at),
        ])
        .db()?;
    Ok(())
}

pub(super) fn accounts(conn: &Connection) -> Result<Vec<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM loyalty_accounts ORDER BY customer_id");
    let rows = conn.prepare(&sql).db()?.query_map([], account_row).db()?.collect::<rusqlite::Result<_>>().db()?;
    Ok(rows)
}

const ENTRY_COLS: &str =
    "id, customer_id, kind, points, qualifying, idempotency_key, order_id, amount_minor, at, balance_after, note";

fn entry_row(r: &Row<'_>) -> rusqlite::Result<Entry> {
    let kind: String = r.get(2)?;
    Ok(Entry {
        id: EntryId(r.get(0)?),
        customer_id: CustomerId(r.get(1)?),
        kind: EntryKind::parse(&kind).ok_or_else(|| conversion(2, Error::validation("kind", kind.clone())))?,
        points: r.get(3)?,
        qualifying: r.get(4)?,
        key: r.get(5)?,
        order_id: r.get::<_, Option<i64>>(6)?.map(OrderId),
        amount_minor: r.get(7)?,
        at: time(r.get(8)?),
        balance_after: r.get(9)?,
        note: r.get(10)?,
    })
}

pub(super) fn entry_by_key(conn: &Connection, key: &str) -> Result<Option<Entry>> {
    let sql = format!("SELECT {ENTRY_COLS} FROM loyalty_entries WHERE idempotency_key = ?1");
    conn.prepare_cached(&sql).db()?.query_row([key], entry_row).optional().db()
}

pub(super) fn insert_entry(
    conn: &Connection,
    e: &Entry,
    lot: Option<&LotTerms>,
    created_at: DateTime<Utc>,
) -> Result<EntryId> {
    let (remaining, available_at, expires_at) = crate::store::codec::lot_columns(lot);
    conn.prepare_cached(
        "INSERT INTO loyalty_entries (customer_id, kind, points, qualifying, idempotency_key, order_id, amount_minor, \
         at, balance_after, note, created_at, remaining, available_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )
    .db()?
    .execute(params![
        e.customer_id.0,
        e.kind.as_str(),
        e.points,
        e.qualifying,
        e.key,
        e.order_id.map(|o| o.0),
        e.amount_minor,
        micros(e.at),
        e.balance_after,
        e.note,
        micros(created_at),
        remaining,
        available_at,
        expires_at,
    ])
    .db()?;
    Ok(EntryId(conn.last_insert_rowid()))
}

fn entries_where(conn: &Connection, cond: &str, arg: i64) -> Result<Vec<Entry>> {
    let sql = format!("SELECT {ENTRY_COLS} FROM loyalty_entries WHERE {cond} ORDER BY at, id");
    let rows =
        conn.prepare_cached(&sql).db()?.query_map([arg], entry_row).db()?.collect::<rusqlite::Result<_>>().db()?;
    Ok(rows)
}

pub(super) fn entries_of_order(conn: &Connection, o: OrderId) -> Result<Vec<Entry>> {
    entries_where(conn, "order_id = ?1", o.0)
}

pub(super) fn entries(conn: &Connection, c: CustomerId) -> Result<Vec<Entry>> {
    entries_where(conn, "customer_id = ?1", c.0)
}

pub(super) fn detach_entry(conn: &Connection, e: EntryId, key: &str) -> Result<()> {
    conn.prepare_cached("UPDATE loyalty_entries SET order_id = NULL, idempotency_key = ?2 WHERE id = ?1")
        .db()?
        .execute(params![e.0, key])
        .db()?;
    Ok(())
}

pub(super) fn delete_customer(conn: &Connection, c: CustomerId) -> Result<Vec<EntryId>> {
    let removed: Vec<EntryId> = conn
        .prepare_cached("SELECT id FROM loyalty_entries WHERE customer_id = ?1 ORDER BY id")
        .db()?
        .query_map([c.0], |r| Ok(EntryId(r.get(0)?)))
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()?;
    for table in ["loyalty_entries", "loyalty_rule_usage", "loyalty_tier_history", "loyalty_accounts"] {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE customer_id = ?1")).db()?.execute([c.0]).db()?;
    }
    Ok(removed)
}

pub(super) fn points_as_of(conn: &Connection, c: CustomerId, at: DateTime<Utc>) -> Result<i64> {
    conn.prepare_cached("SELECT coalesce(sum(points), 0) FROM loyalty_entries WHERE customer_id = ?1 AND at <= ?2")
        .db()?
        .query_row(params![c.0, micros(at)], |r| r.get(0))
        .db()
}

pub(super) fn qualifying_between(
    conn: &Connection,
    c: CustomerId,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<i64> {
    conn.prepare_cached(
        "SELECT coalesce(sum(qualifying), 0) FROM loyalty_entries WHERE customer_id = ?1 AND at > ?2 AND at <= ?3",
    )
    .db()?
    .query_row(params![c.0, micros(since), micros(until)], |r| r.get(0))
    .db()
}

pub(super) fn completed_between(
    conn: &Connection,
    c: CustomerId,
    currency: Option<Currency>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<i64> {
    let (sql, cur) = match currency {
        Some(cur) => ("coalesce(sum(total_minor), 0)", cur.code()),
        None => ("count(*)", ""),
    };
    let sql = format!(
        "SELECT {sql} FROM orders WHERE customer_id = ?1 AND status = 'completed' AND occurred_at > ?2 \
         AND occurred_at <= ?3 AND (?4 = '' OR currency = ?4)"
    );
    conn.prepare_cached(&sql).db()?.query_row(params![c.0, micros(since), micros(until), cur], |r| r.get(0)).db()
}

/// A lot is the lot columns of its entry's row (`remaining` is NULL for an entry without one).
const LOT_COLS: &str = "id, customer_id, id, points, remaining, at, available_at, expires_at, expired";

fn lot_row(r: &Row<'_>) -> rusqlite::Result<Lot> {
    Ok(Lot {
        id: r.get(0)?,
        customer_id: CustomerId(r.get(1)?),
        entry_id: EntryId(r.get(2)?),
        points: r.get(3)?,
        remaining: r.get(4)?,
        earned_at: time(r.get(5)?),
        available_at: time(r.get(6)?),
        expires_at: opt_time(r.get(7)?),
        expired: r.get(8)?,
    })
}

pub(super) fn open_lots(conn: &Connection, c: CustomerId) -> Result<Vec<Lot>> {
    let sql = format!(
        "SELECT {LOT_COLS} FROM loyalty_entries INDEXED BY loyalty_entries_open WHERE customer_id = ?1 AND remaining > 0 \
         ORDER BY expires_at IS NULL, expires_at, id"
    );
    let rows = conn.prepare_cached(&sql).db()?.query_map([c.0], lot_row).db()?.collect::<rusqlite::Result<_>>().db()?;
    Ok(rows)
}

pub(super) fn lots(conn: &Connection, c: CustomerId) -> Result<Vec<Lot>> {
    let sql =
        format!("SELECT {LOT_COLS} FROM loyalty_entries WHERE customer_id = ?1 AND remaining IS NOT NULL ORDER BY id");
    let rows = conn.prepare_cached(&sql).db()?.query_map([c.0], lot_row).db()?.collect::<rusqlite::Result<_>>().db()?;
    Ok(rows)
}

pub(super) fn update_lot(conn: &Connection, id: i64, remaining: i64, expired: bool) -> Result<()> {
    conn.prepare_cached(
        "UPDATE loyalty_entries SET remaining = ?2, expired = ?3 WHERE id = ?1 AND remaining IS NOT NULL",
    )
    .db()?
    .execute(params![id, remaining, expired])
    .db()?;
    Ok(())
}

pub(super) fn due_lots(conn: &Connection, c: Option<CustomerId>, as_of: DateTime<Utc>) -> Result<Vec<Lot>> {
    // Two statements, not `?2 IS NULL OR customer_id = ?2`: with the OR, SQLite walks every
    // due lot of every customer to find one customer's.
    let due = "remaining > 0 AND expires_at IS NOT NULL AND expires_at <= ?1";
    let rows = match c {
        Some(c) => {
            let sql = format!(
                "SELECT {LOT_COLS} FROM loyalty_entries INDEXED BY loyalty_entries_open WHERE customer_id = ?2 AND {due} \
                 ORDER BY expires_at, id"
            );
            conn.prepare_cached(&sql)
                .db()?
                .query_map(params![micros(as_of), c.0], lot_row)
                .db()?
                .collect::<rusqlite::Result<_>>()
                .db()?
        }
        None => {
            let sql = format!(
                "SELECT {LOT_COLS} FROM loyalty_entries INDEXED BY loyalty_entries_open WHERE {due} \
                 ORDER BY customer_id, expires_at, id"
            );
            conn.prepare_cached(&sql)
                .db()?
                .query_map(params![micros(as_of)], lot_row)
                .db()?
                .collect::<rusqlite::Result<_>>()
                .db()?
        }
    };
    Ok(rows)
}

pub(super) fn lot_of_entry(conn: &Connection, e: EntryId) -> Result<Option<Lot>> {
    let sql = format!("SELECT {LOT_COLS} FROM loyalty_entries WHERE id = ?1 AND remaining IS NOT NULL");
    conn.prepare_cached(&sql).db()?.query_row([e.0], lot_row).optional().db()
}

pub(super) fn rule_usage(conn: &Connection, c: CustomerId, rule: &str, period: &str) -> Result<i64> {
    conn.prepare_cached(
        "SELECT coalesce(sum(points), 0) FROM loyalty_rule_usage WHERE customer_id = ?1 AND rule = ?2 AND period = ?3",
    )
    .db()?
    .query_row(params![c.0, rule, period], |r| r.get(0))
    .db()
}

pub(super) fn add_rule_usage(conn: &Connection, c: CustomerId, rule: &str, period: &str, points: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO loyalty_rule_usage (customer_id, rule, period, points) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(customer_id, rule, period) DO UPDATE SET points = points + excluded.points",
    )
    .db()?
    .execute(params![c.0, rule, period, points])
    .db()?;
    Ok(())
}

pub(super) fn append_tier(
    conn: &Connection,
    c: CustomerId,
    tier: Option<&str>,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<()> {
    conn.prepare_cached("INSERT INTO loyalty_tier_history (customer_id, tier, at, reason) VALUES (?1, ?2, ?3, ?4)")
        .db()?
        .execute(params![c.0, tier, micros(at), reason])
        .db()?;
    Ok(())
}

pub(super) fn tier_history(conn: &Connection, c: CustomerId) -> Result<Vec<TierChange>> {
    let rows = conn
        .prepare_cached("SELECT tier, at, reason FROM loyalty_tier_history WHERE customer_id = ?1 ORDER BY at, rowid")
        .db()?
        .query_map([c.0], |r| Ok(TierChange { tier: r.get(0)?, at: time(r.get(1)?), reason: r.get(2)? }))
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()?;
    Ok(rows)
}

impl<M> crate::loyalty::LedgerStore for SqliteTx<'_, M> {
    fn loyalty_account(&mut self, customer: CustomerId) -> Result<Option<Account>> {
        loyalty::account(&self.tx, customer)
    }

    fn loyalty_accounts(&mut self) -> Result<Vec<Account>> {
        loyalty::accounts(&self.tx)
    }

    fn loyalty_entry_by_key(&mut self, key: &str) -> Result<Option<Entry>> {
        loyalty::entry_by_key(&self.tx, key)
    }

    fn loyalty_entries_of_order(&mut self, order: OrderId) -> Result<Vec<Entry>> {
        loyalty::entries_of_order(&self.tx, order)
    }

    fn loyalty_entries(&mut self, customer: CustomerId) -> Result<Vec<Entry>> {
        loyalty::entries(&self.tx, customer)
    }

    fn loyalty_points_as_of(&mut self, customer: CustomerId, at: DateTime<Utc>) -> Result<i64> {
        loyalty::points_as_of(&self.tx, customer, at)
    }

    fn loyalty_qualifying_between(
        &mut self,
        customer: CustomerId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<i64> {
        loyalty::qualifying_between(&self.tx, customer, since, until)
    }

    fn open_lots(&mut self, customer: CustomerId) -> Result<Vec<Lot>> {
        loyalty::open_lots(&self.tx, customer)
    }

    fn loyalty_lots(&mut self, customer: CustomerId) -> Result<Vec<Lot>> {
        loyalty::lots(&self.tx, customer)
    }

    fn due_lots(&mut self, customer: Option<CustomerId>, as_of: DateTime<Utc>) -> Result<Vec<Lot>> {
        loyalty::due_lots(&self.tx, customer, as_of)
    }

    fn lot_of_entry(&mut self, entry: EntryId) -> Result<Option<Lot>> {
        loyalty::lot_of_entry(&self.tx, entry)
    }

    fn loyalty_rule_usage(&mut self, customer: CustomerId, rule: &str, period: &str) -> Result<i64> {
        loyalty::rule_usage(&self.tx, customer, rule, period)
    }

    fn loyalty_tier_history(&mut self, customer: CustomerId) -> Result<Vec<TierChange>> {
        loyalty::tier_history(&self.tx, customer)
    }
}

impl crate::loyalty::LedgerStoreMut for SqliteTx<'_, Writing> {
    fn put_loyalty_account(&mut self, a: &Account) -> Result<()> {
        loyalty::put_account(&self.tx, a)
    }

    fn insert_loyalty_entry(
        &mut self,
        e: &Entry,
        lot: Option<&LotTerms>,
        created_at: DateTime<Utc>,
    ) -> Result<EntryId> {
        loyalty::insert_entry(&self.tx, e, lot, created_at)
    }

    fn detach_loyalty_entry(&mut self, entry: EntryId, key: &str) -> Result<()> {
        loyalty::detach_entry(&self.tx, entry, key)
    }

    fn delete_loyalty(&mut self, customer: CustomerId) -> Result<Vec<EntryId>> {
        loyalty::delete_customer(&self.tx, customer)
    }

    fn update_lot(&mut self, id: i64, remaining: i64, expired: bool) -> Result<()> {
        loyalty::update_lot(&self.tx, id, remaining, expired)
    }

    fn add_loyalty_rule_usage(&mut self, customer: CustomerId, rule: &str, period: &str, points: i64) -> Result<()> {
        loyalty::add_rule_usage(&self.tx, customer, rule, period, points)
    }

    fn append_loyalty_tier(
        &mut self,
        customer: CustomerId,
        tier: Option<&str>,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<()> {
        loyalty::append_tier(&self.tx, customer, tier, at, reason)
    }
}
