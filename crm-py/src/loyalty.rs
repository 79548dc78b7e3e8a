//! Loyalty: the program (JSON or TOML text), the ledger calls and the statement, and the
//! simulator, as JSON.

use crm_core::loyalty::{Event, Program, SimulationOptions};
use crm_core::CustomerId;
use pyo3::prelude::*;

use crate::error::{Error, Result};
use crate::handle::PyCrm;
use crate::json;
use crate::rules::as_of;

fn event(name: &str) -> Result<Event> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| Error::Input {
        field: "event".into(),
        reason: format!("{name:?}: one of sign_up, birthday, first_order, survey_answered, referral"),
    })
}

#[pymethods]
impl PyCrm {
    /// Sets the loyalty program from JSON (or TOML) text.
    #[pyo3(signature = (program, is_toml=false))]
    fn set_loyalty_program(&self, py: Python<'_>, program: String, is_toml: bool) -> Result<()> {
        self.run(py, move |crm| {
            let p = if is_toml { Program::from_toml(&program)? } else { Program::from_json(&program)? };
            Ok(crm.set_loyalty_program(&p)?)
        })
    }

    /// The loyalty program as JSON, or None.
    fn loyalty_program(&self, py: Python<'_>) -> Result<Option<String>> {
        self.run(py, move |crm| Ok(crm.loyalty_program()?.map(|p| p.to_json())))
    }

    /// Credits points; returns the posted entry as JSON.
    #[pyo3(signature = (customer_id, points, key, at_us=None))]
    fn earn_points(
        &self,
        py: Python<'_>,
        customer_id: i64,
        points: i64,
        key: String,
        at_us: Option<i64>,
    ) -> Result<String> {
        let at = as_of(at_us)?;
        self.run(py, move |crm| {
            let c = CustomerId(customer_id);
            let p = match at {
                Some(at) => crm.earn_points_at(c, points, &key, at)?,
                None => crm.earn_points(c, points, &key)?,
            };
            Ok(json::dump(&p))
        })
    }

    /// Redeems points; returns the posted entry as JSON.
    #[pyo3(signature = (customer_id, points, key, at_us=None))]
    fn redeem_points(
        &self,
        py: Python<'_>,
        customer_id: i64,
        points: i64,
        key: String,
        at_us: Option<i64>,
    ) -> Result<String> {
        let at = as_of(at_us)?;
        self.run(py, move |crm| {
            let c = CustomerId(customer_id);
            let p = match at {
                Some(at) => crm.redeem_points_at(c, points, &key, at)?,
                None => crm.redeem_points(c, points, &key)?,
            };
            Ok(json::dump(&p))
        })
    }

    /// A manual correction up or down; returns the posted entry as JSON.
    fn adjust_points(
        &self,
        py: Python<'_>,
        customer_id: i64,
        points: i64,
        key: String,
        reason: String,
    ) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.adjust_points(CustomerId(customer_id), points, &key, &reason)?)))
    }

    /// Awards an event's bonuses; the posted entry as JSON, or None.
    #[pyo3(signature = (customer_id, event_name, key, at_us=None))]
    fn award_event(
        &self,
        py: Python<'_>,
        customer_id: i64,
        event_name: String,
        key: String,
        at_us: Option<i64>,
    ) -> Result<Option<String>> {
        let ev = event(&event_name)?;
        let at = as_of(at_us)?.unwrap_or_else(chrono::Utc::now);
        self.run(py, move |crm| Ok(crm.award_event(CustomerId(customer_id), ev, &key, at)?.map(|p| json::dump(&p))))
    }

    /// Expires due lots; returns `(lots, points)`.
    #[pyo3(signature = (as_of_us=None))]
    fn expire_points(&self, py: Python<'_>, as_of_us: Option<i64>) -> Result<(i64, i64)> {
        let at = as_of(as_of_us)?.unwrap_or_else(chrono::Utc::now);
        self.run(py, move |crm| {
            let r = crm.expire_points(at)?;
            Ok((r.lots, r.points))
        })
    }

    /// What expiring at `as_of_us` would expire (a forecast); writes nothing.
    fn expire_points_dry_run(&self, py: Python<'_>, as_of_us: i64) -> Result<(i64, i64)> {
        let at = as_of(Some(as_of_us))?.unwrap_or_else(chrono::Utc::now);
        self.run(py, move |crm| {
            let r = crm.expire_points_dry_run(at)?;
            Ok((r.lots, r.points))
        })
    }

    /// A customer's balances as JSON.
    fn points_balance(&self, py: Python<'_>, customer_id: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.points_balance(CustomerId(customer_id))?)))
    }

    /// What the program owes now, across every account, with the points expiring within
    /// `expiring_within_days`, as JSON.
    fn loyalty_liability(&self, py: Python<'_>, expiring_within_days: u32) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.loyalty_liability(expiring_within_days)?)))
    }

    /// A customer's statement as JSON.
    fn points_statement(&self, py: Python<'_>, customer_id: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.points_statement(CustomerId(customer_id))?)))
    }

    /// Sets a customer's loyalty tier (None removes it).
    #[pyo3(signature = (customer_id, tier=None))]
    fn set_loyalty_tier(&self, py: Python<'_>, customer_id: i64, tier: Option<String>) -> Result<()> {
        self.run(py, move |crm| Ok(crm.set_loyalty_tier(CustomerId(customer_id), tier.as_deref())?))
    }

    /// A customer's points balance at a time (microseconds since the epoch).
    fn points_balance_as_of(&self, py: Python<'_>, customer_id: i64, at_us: i64) -> Result<i64> {
        let at = as_of(Some(at_us))?.unwrap_or_else(chrono::Utc::now);
        self.run(py, move |crm| Ok(crm.points_balance_as_of(CustomerId(customer_id), at)?))
    }

    /// A customer's loyalty tier history as JSON.
    fn loyalty_tier_history(&self, py: Python<'_>, customer_id: i64) -> Result<String> {
        self.run(py, move |crm| Ok(json::dump(&crm.loyalty_tier_history(CustomerId(customer_id))?)))
    }

    /// Simulates a program (JSON or TOML text; None: the stored one) over the recorded orders
    /// as a dry run, with options as JSON (None: the defaults); the simulation as JSON.
    #[pyo3(signature = (program=None, options=None, is_toml=false))]
    fn simulate_loyalty(
        &self,
        py: Python<'_>,
        program: Option<String>,
        options: Option<String>,
        is_toml: bool,
    ) -> Result<String> {
        let options: SimulationOptions = options.as_deref().map(json::parse).transpose()?.unwrap_or_default();
        self.run(py, move |crm| {
            let p = match program {
                Some(text) if is_toml => Some(Program::from_toml(&text)?),
                Some(text) => Some(Program::from_json(&text)?),
                None => None,
            };
            Ok(json::dump(&crm.simulate_loyalty(p.as_ref(), &options)?))
        })
    }

    /// Reviews every tier at a period end; the review as JSON.
    #[pyo3(signature = (as_of_us=None))]
    fn review_tiers(&self, py: Python<'_>, as_of_us: Option<i64>) -> Result<String> {
        let at = as_of(as_of_us)?.unwrap_or_else(chrono::Utc::now);
        self.run(py, move |crm| Ok(json::dump(&crm.review_tiers(at)?)))
    }
}
