//! PostgreSQL side of the ledger (loyalty): accounts, entries, lots, rule usage and tier
//! history, with the locks that make concurrent writers of one customer run one after the
//! other (see the module documentation of [`super`]).
//!
//! Lock order: a transaction takes a customer's advisory lock before it locks (updates or
//! selects `FOR UPDATE`) any of that customer's rows, except in [`LedgerStore::due_lots`]
//! of every customer, whose rows are locked first (the expiry run cannot know its customers
//! in advance). A writer that meets one of those rows then waits, or the server breaks the
//! deadlock with a [`Busy`](crate::error::StorageErrorKind::Busy) error and the call is
//! retried.

use chrono::{DateTime, Utc};
use postgres::Row;

use super::{col, corrupt, Mode, PgTx, Writing};
use crate::customer::CustomerId;
use crate::error::Result;
use crate::loyalty::{Account, Entry, EntryId, EntryKind, LedgerStore, LedgerStoreMut, Lot, LotTerms, TierChange};
use crate::order::OrderId;
use crate::store::codec::{micros, opt_time, time};

const ACCOUNT_COLS: &str = "customer_id, balance, orders, qualifying_total, tier, tier_since, created_at, updated_at";

fn account_row(r: &Row) -> Result<Account> {
    Ok(Account {
        customer_id: CustomerId(col(r, 0)?),
        balance: col(r, 1)?,
        orders: col(r, 2)?,
        qualifying_total: col(r, 3)?,
        tier: col(r, 4)?,
        tier_since: opt_time(col(r, 5)?),
        created_at: time(col(r, 6)?),
        updated_at: time(col(r, 7)?),
    })
}

const ENTRY_COLS: &str =
    "id, customer_id, kind, points, qualifying, idempotency_key, order_id, amount_minor, at, balance_after, note";

fn entry_row(r: &Row) -> Result<Entry> {
    let kind: &str = col(r, 2)?;
    Ok(Entry {
        id: EntryId(col(r, 0)?),
        customer_id: CustomerId(col(r, 1)?),
        kind: EntryKind::parse(kind).ok_or_else(|| corrupt("kind", format!("unknown entry kind {kind:?}")))?,
        points: col(r, 3)?,
        qualifying: col(r, 4)?,
        key: col(r, 5)?,
        order_id: col::<Option<i64>>(r, 6)?.map(OrderId),
        amount_minor: col(r, 7)?,
        at: time(col(r, 8)?),
        balance_after: col(r, 9)?,
        note: col(r, 10)?,
    })
}

/// A lot is the lot columns of its entry's row (`remaining` is NULL for an entry without one).
const LOT_COLS: &str = "id, customer_id, id, points, remaining, at, available_at, expires_at, expired";

fn lot_row(r: &Row) -> Result<Lot> {
    Ok(Lot {
        id: col(r, 0)?,
        customer_id: CustomerId(col(r, 1)?),
        entry_id: EntryId(col(r, 2)?),
        points: col(r, 3)?,
        remaining: col(r, 4)?,
        earned_at: time(col(r, 5)?),
        available_at: time(col(r, 6)?),
        expires_at: opt_time(col(r, 7)?),
        expired: col(r, 8)?,
    })
}

fn all<T>(rows: Vec<Row>, f: fn(&Row) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(f).collect()
}

/// Lots with points left whose expiry has come (`$1`: the time).
const DUE: &str = "remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1";

impl<M: Mode> PgTx<'_, M> {
    fn loyalty_entries_where(&mut self, cond: &str, arg: i64) -> Result<Vec<Entry>> {
        let sql = format!("SELECT {ENTRY_COLS} FROM loyalty_entries WHERE {cond} ORDER BY at, id");
        let rows = self.query(&sql, &[&arg])?;
        all(rows, entry_row)
    }

    fn loyalty_lot_of_entry_row(&mut self, entry: EntryId) -> Result<Option<Lot>> {
        let sql = format!("SELECT {LOT_COLS} FROM loyalty_entries WHERE id = $1 AND remaining IS NOT NULL");
        self.query_opt(&sql, &[&entry.0])?.as_ref().map(lot_row).transpose()
    }
}

impl<M: Mode> LedgerStore for PgTx<'_, M> {
    fn loyalty_account(&mut self, customer: CustomerId) -> Result<Option<Account>> {
        self.lock_customer(customer)?;
        let sql = format!("SELECT {ACCOUNT_COLS} FROM loyalty_accounts WHERE customer_id = $1");
        self.query_opt(&sql, &[&customer.0])?.as_ref().map(account_row).transpose()
    }

    fn loyalty_accounts(&mut self) -> Result<Vec<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM loyalty_accounts ORDER BY customer_id");
        let rows = self.query(&sql, &[])?;
        all(rows, account_row)
    }

    fn loyalty_entry_by_key(&mut self, key: &str) -> Result<Option<Entry>> {
        self.lock_key("loyalty", key)?;
        let sql = format!("SELECT {ENTRY_COLS} FROM loyalty_entries WHERE idempotency_key = $1");
        self.query_opt(&sql, &[&key])?.as_ref().map(entry_row).transpose()
    }

    fn loyalty_entries_of_order(&mut self, order: OrderId) -> Result<Vec<Entry>> {
        self.lock_key("loyalty-order", &order.0.to_string())?;
        self.loyalty_entries_where("order_id = $1", order.0)
    }

    fn loyalty_entries(&mut self, customer: CustomerId) -> Result<Vec<Entry>> {
        self.lock_customer(customer)?;
        self.loyalty_entries_where("customer_id = $1", customer.0)
    }

    fn loyalty_points_as_of(&mut self, customer: CustomerId, at: DateTime<Utc>) -> Result<i64> {
        self.lock_customer(customer)?;
        let r = self.query_one(
            "SELECT coalesce(sum(points), 0)::bigint FROM loyalty_entries WHERE customer_id = $1 AND at <= $2",
            &[&customer.0, &micros(at)],
        )?;
        col(&r, 0)
    }

    fn loyalty_qualifying_between(
        &mut self,
        customer: CustomerId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<i64> {
        self.lock_customer(customer)?;
        let r = self.query_one(
            "SELECT coalesce(sum(qualifying), 0)::bigint FROM loyalty_entries \
             WHERE customer_id = $1 AND at > $2 AND at <= $3",
            &[&customer.0, &micros(since), &micros(until)],
        )?;
        col(&r, 0)
    }

    fn open_lots(&mut self, customer: CustomerId) -> Result<Vec<Lot>> {
        self.lock_customer(customer)?;
        // Soonest expiry first, no expiry last (ASC is NULLS LAST: the loyalty_entries_open index).
        let sql = format!(
            "SELECT {LOT_COLS} FROM loyalty_entries WHERE customer_id = $1 AND remaining > 0 \
             ORDER BY expires_at ASC NULLS LAST, id"
        );
        let rows = self.query(&sql, &[&customer.0])?;
        all(rows, lot_row)
    }

    fn loyalty_lots(&mut self, customer: CustomerId) -> Result<Vec<Lot>> {
        self.lock_customer(customer)?;
        let sql = format!(
            "SELECT {LOT_COLS} FROM loyalty_entries WHERE customer_id = $1 AND remaining IS NOT NULL ORDER BY id"
        );
        let rows = self.query(&sql, &[&customer.0])?;
        all(rows, lot_row)
    }

    fn due_lots(&mut self, customer: Option<CustomerId>, as_of: DateTime<Utc>) -> Result<Vec<Lot>> {
        let rows = match customer {
            Some(c) => {
                self.lock_customer(c)?;
                let sql = format!(
                    "SELECT {LOT_COLS} FROM loyalty_entries WHERE customer_id = $2 AND {DUE} ORDER BY expires_at, id"
                );
                self.query(&sql, &[&micros(as_of), &c.0])?
            }
            None => {
                // Every customer: no customer lock, but in a write transaction the lots are
                // locked, so that a redemption cannot spend them between this read and the
                // expiry's writes. A lot changed meanwhile is read again (READ COMMITTED) and
                // left out if it has no points left; the sort keys never change.
                let lock = if M::WRITES { " FOR UPDATE" } else { "" };
                let sql = format!(
                    "SELECT {LOT_COLS} FROM loyalty_entries WHERE {DUE} ORDER BY customer_id, expires_at, id{lock}"
                );
                self.query(&sql, &[&micros(as_of)])?
            }
        };
        all(rows, lot_row)
    }

    fn lot_of_entry(&mut self, entry: EntryId) -> Result<Option<Lot>> {
        // The customer is known once the lot is read (a lot's customer never changes): lock
        // it, then, if this call took the lock, read the lot again under it.
        let Some(lot) = self.loyalty_lot_of_entry_row(entry)? else { return Ok(None) };
        if self.lock_customer(lot.customer_id)? {
            return self.loyalty_lot_of_entry_row(entry);
        }
        Ok(Some(lot))
    }

    fn loyalty_rule_usage(&mut self, customer: CustomerId, rule: &str, period: &str) -> Result<i64> {
        self.lock_customer(customer)?;
        let r = self.query_one(
            "SELECT coalesce(sum(points), 0)::bigint FROM loyalty_rule_usage \
             WHERE customer_id = $1 AND rule = $2 AND period = $3",
            &[&customer.0, &rule, &period],
        )?;
        col(&r, 0)
    }

    fn loyalty_tier_history(&mut self, customer: CustomerId) -> Result<Vec<TierChange>> {
        self.lock_customer(customer)?;
        // Changes of one instant in the order appended (`seq`; SQLite orders by rowid).
        let rows = self.query(
            "SELECT tier, at, reason FROM loyalty_tier_history WHERE customer_id = $1 ORDER BY at, seq",
            &[&customer.0],
        )?;
        rows.iter().map(|r| Ok(TierChange { tier: col(r, 0)?, at: time(col(r, 1)?), reason: col(r, 2)? })).collect()
    }
}

impl LedgerStoreMut for PgTx<'_, Writing> {
    fn put_loyalty_account(&mut self, a: &Account) -> Result<()> {
        self.lock_customer(a.customer_id)?;
        let sql = format!(
            "INSERT INTO loyalty_accounts ({ACCOUNT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (customer_id) DO UPDATE SET balance = excluded.balance, orders = excluded.orders, \
             qualifying_total = excluded.qualifying_total, tier = excluded.tier, tier_since = excluded.tier_since, \
             created_at = excluded.created_at, updated_at = excluded.updated_at"
        );
        self.execute(
            &sql,
            &[
                &a.customer_id.0,
                &a.balance,
                &a.orders,
                &a.qualifying_total,
                &a.tier,
                &a.tier_since.map(micros),
                &micros(a.created_at),
                &micros(a.updated_at),
            ],
        )?;
        Ok(())
    }

    fn insert_loyalty_entry(
        &mut self,
        e: &Entry,
        lot: Option<&LotTerms>,
        created_at: DateTime<Utc>,
    ) -> Result<EntryId> {
        let (remaining, available_at, expires_at) = crate::store::codec::lot_columns(lot);
        self.lock_key("loyalty", &e.key)?;
        self.lock_customer(e.customer_id)?;
        let r = self.query_one(
            "WITH k AS (INSERT INTO external_keys (kind, key, customer_id) VALUES ('loyalty', $5, $1)) \
             INSERT INTO loyalty_entries (customer_id, kind, points, qualifying, idempotency_key, order_id, \
             amount_minor, at, balance_after, note, created_at, remaining, available_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
            &[
                &e.customer_id.0,
                &e.kind.as_str(),
                &e.points,
                &e.qualifying,
                &e.key,
                &e.order_id.map(|o| o.0),
                &e.amount_minor,
                &micros(e.at),
                &e.balance_after,
                &e.note,
                &micros(created_at),
                &remaining,
                &available_at,
                &expires_at,
            ],
        )?;
        Ok(EntryId(col(&r, 0)?))
    }

    fn detach_loyalty_entry(&mut self, entry: EntryId, key: &str) -> Result<()> {
        self.lock_key("loyalty", key)?;
        let r = self.query_opt(
            "WITH old AS (SELECT idempotency_key FROM loyalty_entries WHERE id = $1), \
             k AS (UPDATE external_keys e SET key = $2 FROM old WHERE e.kind = 'loyalty' AND e.key = old.idempotency_key) \
             UPDATE loyalty_entries SET order_id = NULL, idempotency_key = $2 WHERE id = $1 RETURNING customer_id",
            &[&entry.0, &key],
        )?;
        // Normally held already (the order's customer); otherwise held from here on.
        if let Some(r) = r {
            self.lock_customer(CustomerId(col(&r, 0)?))?;
        }
        Ok(())
    }

    fn delete_loyalty(&mut self, customer: CustomerId) -> Result<Vec<EntryId>> {
        self.lock_customer(customer)?;
        let rows = self.query("DELETE FROM loyalty_entries WHERE customer_id = $1 RETURNING id", &[&customer.0])?;
        let mut removed = rows.iter().map(|r| col(r, 0).map(EntryId)).collect::<Result<Vec<_>>>()?;
        removed.sort_unstable_by_key(|e| e.0);
        for sql in [
            "DELETE FROM loyalty_rule_usage WHERE customer_id = $1",
            "DELETE FROM loyalty_tier_history WHERE customer_id = $1",
            "DELETE FROM loyalty_accounts WHERE customer_id = $1",
            "DELETE FROM external_keys WHERE kind = 'loyalty' AND customer_id = $1",
        ] {
            self.execute(sql, &[&customer.0])?;
        }
        Ok(removed)
    }

    fn update_lot(&mut self, id: i64, remaining: i64, expired: bool) -> Result<()> {
        // The caller holds the lot's customer's lock (it read the lot through it), so the
        // update takes it in the same statement; a caller that did not holds it from here on.
        let r = self.query_opt(
            "UPDATE loyalty_entries SET remaining = $2, expired = $3 WHERE id = $1 AND remaining IS NOT NULL \
             RETURNING customer_id",
            &[&id, &remaining, &expired],
        )?;
        if let Some(r) = r {
            self.lock_customer(CustomerId(col(&r, 0)?))?;
        }
        Ok(())
    }

    fn add_loyalty_rule_usage(&mut self, customer: CustomerId, rule: &str, period: &str, points: i64) -> Result<()> {
        self.lock_customer(customer)?;
        self.execute(
            "INSERT INTO loyalty_rule_usage (customer_id, rule, period, points) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (customer_id, rule, period) DO UPDATE SET points = loyalty_rule_usage.points + excluded.points",
            &[&customer.0, &rule, &period, &points],
        )?;
        Ok(())
    }

    fn append_loyalty_tier(
        &mut self,
        customer: CustomerId,
        tier: Option<&str>,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<()> {
        self.lock_customer(customer)?;
        self.execute(
            "INSERT INTO loyalty_tier_history (customer_id, tier, at, reason) VALUES ($1, $2, $3, $4)",
            &[&customer.0, &tier, &micros(at), &reason],
        )?;
        Ok(())
    }
}
