//! The program's liability: the points every member holds and what of it expires soon, the
//! figure a finance team books and a loyalty manager watches.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::crm::{now, Crm};
use crate::error::{Error, Result};
use crate::store::{Store, StoreTx};

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
    /// that no [`Crm::expire_points`] run has expired yet.
    pub expiring: i64,
    /// The end of the look-ahead: `as_of` plus the days asked for.
    pub expiring_by: DateTime<Utc>,
}

impl<S: Store> Crm<S> {
    /// What the program owes now: the balances of every account (owed and in debt) and the
    /// points that expire within `expiring_within_days` (0 to
    /// [`ValidationConfig::max_forecast_days`](crate::ValidationConfig::max_forecast_days),
    /// ten years by default; the expiring points are what
    /// [`expire_points_dry_run`](Crm::expire_points_dry_run) forecasts for that day), in one
    /// read transaction.
    ///
    /// ```
    /// use crm_core::loyalty::Program;
    /// use crm_core::{Crm, NewCustomer};
    /// let crm = Crm::in_memory()?;
    /// crm.set_loyalty_program(&Program::from_json(r#"{"name": "Stars", "expiry_days": 30}"#)?)?;
    /// let ada = crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() })?;
    /// crm.earn_points(ada.id, 120, "welcome")?;
    /// crm.redeem_points(ada.id, 20, "R-1")?;
    /// let owed = crm.loyalty_liability(90)?;
    /// assert_eq!((owed.accounts, owed.outstanding, owed.expiring), (1, 100, 100));
    /// assert_eq!(crm.loyalty_liability(7)?.expiring, 0);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn loyalty_liability(&self, expiring_within_days: u32) -> Result<Liability> {
        let max = self.validator.config().max_forecast_days;
        if i64::from(expiring_within_days) > max {
            return Err(Error::validation(
                "expiring_within_days",
                format!("{expiring_within_days} is more than {max} days (max_forecast_days)"),
            ));
        }
        let as_of = now();
        let expiring_by = as_of + TimeDelta::days(i64::from(expiring_within_days));
        self.store.read(|tx| {
            let mut owed =
                Liability { as_of, accounts: 0, holders: 0, outstanding: 0, debt: 0, expiring: 0, expiring_by };
            for a in tx.loyalty_accounts()? {
                owed.accounts += 1;
                if a.balance > 0 {
                    owed.holders += 1;
                    owed.outstanding += a.balance;
                } else {
                    owed.debt -= a.balance;
                }
            }
            owed.expiring = tx.due_lots(None, expiring_by)?.iter().map(|l| l.remaining).sum();
            Ok(owed)
        })
    }
}
