//! PostgreSQL side of RFM (`segment::rfm`): the population's inputs from the statistics or
//! from the orders, and the stored scores (`customer_rfm`).

use chrono::{DateTime, Utc};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use postgres::Row;

use super::{col, corrupt, Mode, Pg, PgTx, Writing};
use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::money::Currency;
use crate::segment::rfm::{RfmInput, RfmScore, RfmStore, RfmStoreMut};
use crate::store::codec::{micros, time};

/// Up to this many scores are written by one `INSERT ... SELECT FROM unnest(...)`; more by
/// a binary `COPY`.
const COPY_FROM: usize = 512;

fn score_col(r: &Row, i: usize) -> Result<u8> {
    let v: i64 = col(r, i)?;
    u8::try_from(v).map_err(|e| corrupt(r.columns()[i].name(), e))
}

fn overflow(customer: i64, currency: Currency) -> Error {
    Error::validation("monetary_minor", format!("the {currency} spend of customer {customer} exceeds 64 bits"))
}

impl<M: Mode> PgTx<'_, M> {
    /// One row per member: the spend rows of the currency (each row carries its customer's
    /// order count and last order).
    fn rfm_from_stats(&mut self, currency: Currency) -> Result<Vec<RfmInput>> {
        let rows = self.query(
            "SELECT customer_id, customer_last_order_at, customer_order_count, total_minor \
             FROM customer_spend \
             WHERE currency = $1 AND total_minor > 0 AND customer_last_order_at IS NOT NULL \
             ORDER BY customer_id",
            &[&currency.code()],
        )?;
        rows.iter()
            .map(|r| {
                Ok(RfmInput {
                    customer_id: CustomerId(col(r, 0)?),
                    last_order_at: time(col(r, 1)?),
                    frequency: col(r, 2)?,
                    monetary_minor: col(r, 3)?,
                })
            })
            .collect()
    }

    /// Every completed order up to `until`, aggregated per customer by the server. The spend
    /// is summed as `numeric`: a sum past 64 bits is the same validation error as SQLite's.
    fn rfm_from_orders(&mut self, currency: Currency, until: DateTime<Utc>) -> Result<Vec<RfmInput>> {
        let rows = self.query(
            "SELECT customer_id, last, n, CASE WHEN spend <= 9223372036854775807 THEN spend::bigint END \
             FROM (SELECT customer_id, max(occurred_at) AS last, count(*) AS n, \
                   sum(CASE WHEN currency = $1 THEN total_minor ELSE 0 END) AS spend \
                   FROM orders WHERE status = 'completed' AND occurred_at <= $2 GROUP BY customer_id) t \
             WHERE spend > 0 ORDER BY customer_id",
            &[&currency.code(), &micros(until)],
        )?;
        rows.iter()
            .map(|r| {
                let customer: i64 = col(r, 0)?;
                let spend: Option<i64> = col(r, 3)?;
                Ok(RfmInput {
                    customer_id: CustomerId(customer),
                    last_order_at: time(col(r, 1)?),
                    frequency: col(r, 2)?,
                    monetary_minor: spend.ok_or_else(|| overflow(customer, currency))?,
                })
            })
            .collect()
    }
}

impl<M: Mode> RfmStore for PgTx<'_, M> {
    fn rfm_inputs(&mut self, currency: Currency, until: Option<DateTime<Utc>>) -> Result<Vec<RfmInput>> {
        match until {
            None => self.rfm_from_stats(currency),
            Some(t) => self.rfm_from_orders(currency, t),
        }
    }

    fn rfm_input_of(
        &mut self,
        customer: CustomerId,
        currency: Currency,
        until: Option<DateTime<Utc>>,
    ) -> Result<Option<RfmInput>> {
        self.lock_customer(customer)?;
        let row: Option<(Option<i64>, i64, Option<i64>)> = match until {
            None => self
                .query_opt(
                    "SELECT customer_last_order_at, customer_order_count, total_minor \
                     FROM customer_spend WHERE customer_id = $1 AND currency = $2",
                    &[&customer.0, &currency.code()],
                )?
                .map(|r| Ok::<_, Error>((col(&r, 0)?, col(&r, 1)?, col(&r, 2)?)))
                .transpose()?,
            // Through the (customer_id, occurred_at) index: only this customer's orders are read.
            Some(t) => {
                let r = self.query_one(
                    "SELECT max(occurred_at), count(*), sum(CASE WHEN currency = $2 THEN total_minor END)::bigint \
                     FROM orders WHERE customer_id = $1 AND status = 'completed' AND occurred_at <= $3",
                    &[&customer.0, &currency.code(), &micros(t)],
                )?;
                Some((col(&r, 0)?, col(&r, 1)?, col(&r, 2)?))
            }
        };
        Ok(row.and_then(|(last, frequency, spend)| match (last, spend) {
            (Some(last), Some(spend)) if spend > 0 => {
                Some(RfmInput { customer_id: customer, last_order_at: time(last), frequency, monetary_minor: spend })
            }
            _ => None,
        }))
    }

    fn get_rfm(&mut self, customer: CustomerId) -> Result<Option<RfmScore>> {
        let row = self.query_opt(
            "SELECT recency_days, frequency, monetary_minor, r, f, m, segment FROM customer_rfm WHERE customer_id = $1",
            &[&customer.0],
        )?;
        row.map(|r| {
            Ok(RfmScore {
                customer_id: customer,
                recency_days: col(&r, 0)?,
                frequency: col(&r, 1)?,
                monetary_minor: col(&r, 2)?,
                r: score_col(&r, 3)?,
                f: score_col(&r, 4)?,
                m: score_col(&r, 5)?,
                segment: col(&r, 6)?,
            })
        })
        .transpose()
    }

    fn rfm_segment_counts(&mut self) -> Result<Vec<(String, i64)>> {
        // Byte order of the names, as SQLite's BINARY collation (not the database's locale).
        let rows = self
            .query("SELECT segment, count(*) FROM customer_rfm GROUP BY segment ORDER BY segment COLLATE \"C\"", &[])?;
        rows.iter().map(|r| Ok((col(r, 0)?, col(r, 1)?))).collect()
    }
}

impl RfmStoreMut for PgTx<'_, Writing> {
    fn replace_rfm(&mut self, scores: &[RfmScore]) -> Result<()> {
        self.lock_global()?;
        // DELETE, not TRUNCATE: readers' snapshots keep the old scores.
        self.execute("DELETE FROM customer_rfm", &[])?;
        if scores.is_empty() {
            return Ok(());
        }
        if scores.len() <= COPY_FROM {
            let ids: Vec<i64> = scores.iter().map(|s| s.customer_id.0).collect();
            let recency: Vec<i64> = scores.iter().map(|s| s.recency_days).collect();
            let frequency: Vec<i64> = scores.iter().map(|s| s.frequency).collect();
            let monetary: Vec<i64> = scores.iter().map(|s| s.monetary_minor).collect();
            let r: Vec<i64> = scores.iter().map(|s| i64::from(s.r)).collect();
            let f: Vec<i64> = scores.iter().map(|s| i64::from(s.f)).collect();
            let m: Vec<i64> = scores.iter().map(|s| i64::from(s.m)).collect();
            let segment: Vec<&str> = scores.iter().map(|s| s.segment.as_str()).collect();
            self.execute(
                "INSERT INTO customer_rfm (customer_id, recency_days, frequency, monetary_minor, r, f, m, segment) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], \
                 $6::bigint[], $7::bigint[], $8::text[])",
                &[&ids, &recency, &frequency, &monetary, &r, &f, &m, &segment],
            )?;
            return Ok(());
        }
        let sink = self
            .raw()
            .copy_in(
                "COPY customer_rfm (customer_id, recency_days, frequency, monetary_minor, r, f, m, segment) \
                 FROM STDIN (FORMAT binary)",
            )
            .pg()?;
        let types = [Type::INT8, Type::INT8, Type::INT8, Type::INT8, Type::INT8, Type::INT8, Type::INT8, Type::TEXT];
        let mut w = BinaryCopyInWriter::new(sink, &types);
        for s in scores {
            w.write(&[
                &s.customer_id.0,
                &s.recency_days,
                &s.frequency,
                &s.monetary_minor,
                &i64::from(s.r),
                &i64::from(s.f),
                &i64::from(s.m),
                &s.segment,
            ])
            .pg()?;
        }
        w.finish().pg()?;
        Ok(())
    }
}
