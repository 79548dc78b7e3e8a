//! RFM: recency, frequency and monetary value per customer, scored 1 to 5 by quintile and
//! named by a configurable table.

use serde::{Deserialize, Serialize};

use crate::customer::CustomerId;

/// A customer's RFM values and scores, as stored by the last refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmScore {
    /// The customer.
    pub customer_id: CustomerId,
    /// Whole days from the last completed order to the as-of time.
    pub recency_days: i64,
    /// Completed orders up to the as-of time.
    pub frequency: i64,
    /// Spend in the model's currency, minor units.
    pub monetary_minor: i64,
    /// Recency score, 1 (longest ago) to 5 (most recent).
    pub r: u8,
    /// Frequency score, 1 to 5.
    pub f: u8,
    /// Monetary score, 1 to 5.
    pub m: u8,
    /// The named segment (`Champions`, `At Risk`, ...).
    pub segment: String,
}

impl RfmScore {
    /// The three scores as one number, `r * 100 + f * 10 + m` (`555` is best); `rfm.score` in rules.
    pub fn code(&self) -> i64 {
        i64::from(self.r) * 100 + i64::from(self.f) * 10 + i64::from(self.m)
    }
}
