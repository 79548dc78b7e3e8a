//! SQL of RFM (`segment::rfm`): the population's inputs from the statistics or from the
//! orders, and the stored scores and model (`customer_rfm`, `rfm_model`).

use super::*;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::error::Db;
use super::{micros, time};
use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::money::Currency;
use crate::segment::rfm::{RfmInput, RfmScore};

pub(super) fn inputs(c: &Connection, currency: Currency, until: Option<DateTime<Utc>>) -> Result<Vec<RfmInput>> {
    match until {
        None => from_stats(c, currency),
        Some(t) => from_orders(c, currency, t),
    }
}

/// One row per member: the spend rows of the currency, one range of the table (keyed by
/// currency and customer; each row carries its customer's order count and last order).
fn from_stats(c: &Connection, currency: Currency) -> Result<Vec<RfmInput>> {
    let mut st = c
        .prepare_cached(
            "SELECT customer_id, customer_last_order_at, customer_order_count, total_minor \
         FROM customer_spend \
         WHERE currency = ?1 AND total_minor > 0 AND customer_last_order_at IS NOT NULL \
         ORDER BY customer_id",
        )
        .db()?;
    let rows = st
        .query_map([currency.code()], |r| {
            Ok(RfmInput {
                customer_id: CustomerId(r.get(0)?),
                last_order_at: time(r.get(1)?),
                frequency: r.get(2)?,
                monetary_minor: r.get(3)?,
            })
        })
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()?;
    Ok(rows)
}

/// Every completed order up to `until`, aggregated per customer here: a scan of the table
/// with the sums in a hash map is several times faster in SQLite than `GROUP BY` through
/// the `(customer_id, occurred_at)` index (see PERF_BASELINES.md).
fn from_orders(c: &Connection, currency: Currency, until: DateTime<Utc>) -> Result<Vec<RfmInput>> {
    #[derive(Default)]
    struct Acc {
        last: i64,
        count: i64,
        spend: i64,
    }
    let mut st = c
        .prepare_cached(
            "SELECT customer_id, occurred_at, currency = ?1, total_minor FROM orders NOT INDEXED \
         WHERE status = 'completed' AND occurred_at <= ?2",
        )
        .db()?;
    let mut rows = st.query(params![currency.code(), micros(until)]).db()?;
    let mut by_customer: HashMap<i64, Acc> = HashMap::new();
    while let Some(r) = rows.next().db()? {
        let customer: i64 = r.get(0).db()?;
        let at: i64 = r.get(1).db()?;
        let a = by_customer.entry(customer).or_insert(Acc { last: i64::MIN, ..Acc::default() });
        a.last = a.last.max(at);
        a.count += 1;
        if r.get::<_, bool>(2).db()? {
            let total: i64 = r.get(3).db()?;
            a.spend = a.spend.checked_add(total).ok_or_else(|| overflow(customer, currency))?;
        }
    }
    let mut out: Vec<RfmInput> = by_customer
        .into_iter()
        .filter(|(_, a)| a.spend > 0)
        .map(|(id, a)| RfmInput {
            customer_id: CustomerId(id),
            last_order_at: time(a.last),
            frequency: a.count,
            monetary_minor: a.spend,
        })
        .collect();
    out.sort_unstable_by_key(|i| i.customer_id);
    Ok(out)
}

fn overflow(customer: i64, currency: Currency) -> Error {
    Error::validation("monetary_minor", format!("the {currency} spend of customer {customer} exceeds 64 bits"))
}

pub(super) fn input_of(
    c: &Connection,
    customer: CustomerId,
    currency: Currency,
    until: Option<DateTime<Utc>>,
) -> Result<Option<RfmInput>> {
    let row: Option<(Option<i64>, i64, Option<i64>)> = match until {
        None => c
            .prepare_cached(
                "SELECT customer_last_order_at, customer_order_count, total_minor \
                 FROM customer_spend WHERE customer_id = ?1 AND currency = ?2",
            )
            .db()?
            .query_row(params![customer.0, currency.code()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .db()?,
        // Through the (customer_id, occurred_at) index: only this customer's orders are read.
        Some(t) => Some(
            c.prepare_cached(
                "SELECT max(occurred_at), count(*), sum(CASE WHEN currency = ?2 THEN total_minor END) \
                 FROM orders WHERE customer_id = ?1 AND status = 'completed' AND occurred_at <= ?3",
            )
            .db()?
            .query_row(params![customer.0, currency.code(), micros(t)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .db()?,
        ),
    };
    Ok(row.and_then(|(last, frequency, spend)| match (last, spend) {
        (Some(last), Some(spend)) if spend > 0 => {
            Some(RfmInput { customer_id: customer, last_order_at: time(last), frequency, monetary_minor: spend })
        }
        _ => None,
    }))
}

pub(super) fn replace(c: &Connection, scores: &[RfmScore]) -> Result<()> {
    c.execute("DELETE FROM customer_rfm", []).db()?;
    let mut st = c
        .prepare_cached(
            "INSERT INTO customer_rfm (customer_id, recency_days, frequency, monetary_minor, r, f, m, segment) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .db()?;
    for s in scores {
        st.execute(params![s.customer_id.0, s.recency_days, s.frequency, s.monetary_minor, s.r, s.f, s.m, s.segment])
            .db()?;
    }
    Ok(())
}

pub(super) fn get(c: &Connection, customer: CustomerId) -> Result<Option<RfmScore>> {
    let mut st = c
        .prepare_cached(
            "SELECT recency_days, frequency, monetary_minor, r, f, m, segment FROM customer_rfm WHERE customer_id = ?1",
        )
        .db()?;
    let row = st
        .query_row([customer.0], |r| {
            Ok(RfmScore {
                customer_id: customer,
                recency_days: r.get(0)?,
                frequency: r.get(1)?,
                monetary_minor: r.get(2)?,
                r: r.get(3)?,
                f: r.get(4)?,
                m: r.get(5)?,
                segment: r.get(6)?,
            })
        })
        .optional()
        .db()?;
    Ok(row)
}

pub(super) fn segment_counts(c: &Connection) -> Result<Vec<(String, i64)>> {
    let mut st =
        c.prepare_cached("SELECT segment, count(*) FROM customer_rfm GROUP BY segment ORDER BY segment").db()?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).db()?.collect::<rusqlite::Result<_>>().db()?;
    Ok(rows)
}

pub(super) fn put_model(c: &Connection, json: &str, computed_at: DateTime<Utc>) -> Result<()> {
    c.prepare_cached("INSERT OR REPLACE INTO rfm_model (id, model, computed_at) VALUES (1, ?1, ?2)")
        .db()?
        .execute(params![json, micros(computed_at)])
        .db()?;
    Ok(())
}

pub(super) fn get_model(c: &Connection) -> Result<Option<String>> {
    c.prepare_cached("SELECT model FROM rfm_model WHERE id = 1").db()?.query_row([], |r| r.get(0)).optional().db()
}

impl<M> crate::segment::rfm::RfmStore for SqliteTx<'_, M> {
    // Segmentation: RFM (segment::rfm).
    fn rfm_inputs(
        &mut self,
        currency: Currency,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<crate::segment::rfm::RfmInput>> {
        rfm::inputs(&self.tx, currency, until)
    }

    fn rfm_input_of(
        &mut self,
        customer: CustomerId,
        currency: Currency,
        until: Option<DateTime<Utc>>,
    ) -> Result<Option<crate::segment::rfm::RfmInput>> {
        rfm::input_of(&self.tx, customer, currency, until)
    }

    fn get_rfm(&mut self, customer: CustomerId) -> Result<Option<crate::segment::rfm::RfmScore>> {
        rfm::get(&self.tx, customer)
    }

    fn rfm_segment_counts(&mut self) -> Result<Vec<(String, i64)>> {
        rfm::segment_counts(&self.tx)
    }
}

impl crate::segment::rfm::RfmStoreMut for SqliteTx<'_, Writing> {
    fn replace_rfm(&mut self, scores: &[crate::segment::rfm::RfmScore]) -> Result<()> {
        rfm::replace(&self.tx, scores)
    }
}
