//! The program's liability: the points every member holds and what of it expires soon, the
//! figure a finance team books and a loyalty manager watches.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The points the program owes, across every account, as of one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Liability {
    /// When it was measured.
    pub as_of: DateTime<Utc>,
    /// Loyalty accounts.
    pub accounts: i64,
    /// Accounts with points (a positive balance).
    pub holders: i64,
    /// Sum of the positive balances: the points the program owes.
    pub outstanding: i64,
    /// Sum of the negative balances, as a positive number: points members owe back after
    /// refunds of spent points (only under [`DebtPolicy::AllowNegative`](super::DebtPolicy)).
    pub debt: i64,
    /// Points left in lots that expire at or before `expiring_by`, including lots already due
    /// that no [`Crm::expire_points`](crate::Crm::expire_points) run has expired yet.
    pub expiring: i64,
    /// The end of the look-ahead: `as_of` plus the days asked for.
    pub expiring_by: DateTime<Utc>,
}
