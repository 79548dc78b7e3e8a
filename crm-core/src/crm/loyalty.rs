//! Loyalty: the facade over [`loyalty`](crate::loyalty) (points, statements, liability, the simulator).

use chrono::{DateTime, TimeDelta, Utc};

use crate::changes::{Entity, Op};
use crate::config::ConfigKey;
use crate::crm::{now, Crm};
use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::loyalty::api::*;
use crate::loyalty::earning;
use crate::loyalty::ledger::Draft;
use crate::loyalty::ledger::{self, EntryKind};
use crate::loyalty::liability::*;
use crate::loyalty::orders::{EarnNote, TxContext};
use crate::loyalty::simulate::*;
use crate::loyalty::*;
use crate::store::prelude::*;

impl<S: Store> Crm<S> {
    /// Sets (or replaces) the loyalty program, validated first. From then on orders earn.
    /// Setting the program that is set changes nothing.
    ///
    /// ```
    /// use crm_core::{Crm, NewCustomer, NewOrder};
    /// use crm_core::loyalty::Program;
    /// let crm = Crm::in_memory().unwrap();
    /// crm.set_loyalty_program(&Program::from_json(r#"{"name": "Stars",
    ///     "rates": {"USD": {"points": 1, "per_minor": 100}},
    ///     "rules": [{"name": "base", "kind": "base"}]}"#).unwrap()).unwrap();
    /// let ada = crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() }).unwrap();
    /// let order: NewOrder = serde_json::from_str(&format!(r#"{{"external_id": "O-1", "customer_id": {},
    ///     "occurred_at": "2026-03-01T12:00:00Z", "currency": "USD", "total_minor": 4250}}"#, ada.id)).unwrap();
    /// crm.record_order(&order).unwrap();
    /// crm.record_order(&order).unwrap(); // the same order again earns nothing more
    /// assert_eq!(crm.points_balance(ada.id).unwrap().balance, 42);
    /// let spent = crm.redeem_points(ada.id, 40, "R-1").unwrap();
    /// assert_eq!(spent.entry.balance_after, 2);
    /// assert!(crm.redeem_points(ada.id, 40, "R-1").unwrap().replayed);
    /// assert!(crm.redeem_points(ada.id, 3, "R-2").is_err());
    /// ```
    pub fn set_loyalty_program(&self, program: &Program) -> Result<()> {
        program.validate()?;
        let json = program.to_json();
        self.store.write(|tx| {
            let now = now();
            let stored = tx.config(ConfigKey::LoyaltyProgram)?;
            // Setting the program it has is a no-op: no feed entry for a change that is none.
            // The stored text is this function's own `to_json`, so equal programs are equal texts.
            if stored.as_deref() == Some(json.as_str()) {
                return Ok(());
            }
            let had = stored.is_some();
            tx.put_config(ConfigKey::LoyaltyProgram, &json, now)?;
            tx.append_change(Entity::LoyaltyProgram, 1, if had { Op::Update } else { Op::Insert }, now)?;
            Ok(())
        })
    }

    /// The loyalty program, if one is set.
    pub fn loyalty_program(&self) -> Result<Option<Program>> {
        self.store.read(|tx| load_program(tx))
    }

    /// Credits `points` to a customer (a goodwill gesture, a partner's points) as an earn
    /// entry forming a lot that expires as the program says. Replaying `key` returns the
    /// original entry and writes nothing.
    pub fn earn_points(&self, customer: CustomerId, points: i64, key: &str) -> Result<Posted> {
        self.earn_points_at(customer, points, key, now())
    }

    /// [`earn_points`](Self::earn_points) effective at `at` (back-office corrections, tests).
    /// `at` is an event time: within the bounds of [`ValidationConfig`](crate::ValidationConfig)
    /// (`min_time` to `max_future_secs` ahead of now), else [`Error::Validation`] on `at`.
    pub fn earn_points_at(&self, customer: CustomerId, points: i64, key: &str, at: DateTime<Utc>) -> Result<Posted> {
        check_points(points)?;
        ledger::check_key(key)?;
        let at = self.validator.time("at", at)?;
        self.store.write(|tx| {
            let customer = require_customer(tx, customer)?;
            if let Some(p) = ledger::replay(tx, key, customer, EntryKind::Earn, Some(points))? {
                return Ok(p);
            }
            let now = now();
            let program = load_program(tx)?;
            let mut acct = ledger::account(tx, customer, now)?;
            let d = Draft {
                customer_id: customer,
                kind: EntryKind::Earn,
                points,
                qualifying: 0,
                key,
                order_id: None,
                amount_minor: None,
                at,
                note: None,
            };
            let expiry = days(program.as_ref().and_then(|p| p.expiry_days)).map(|d| at + d);
            let entry = ledger::credit(tx, &mut acct, d, at, expiry, now)?;
            tx.put_loyalty_account(&acct)?;
            Ok(Posted { entry, replayed: false })
        })
    }

    /// Redeems `points` (more than 0) from the lots that expire soonest. Fails with
    /// [`Error::InsufficientPoints`] when fewer are available (pending and expired points
    /// do not count), writing nothing. Replaying `key` returns the original entry.
    pub fn redeem_points(&self, customer: CustomerId, points: i64, key: &str) -> Result<Posted> {
        self.redeem_points_at(customer, points, key, now())
    }

    /// [`redeem_points`](Self::redeem_points) effective at `at`, an event time within the
    /// bounds of [`ValidationConfig`](crate::ValidationConfig) ([`Error::Validation`] on `at`
    /// otherwise). Lots due by `at` are expired first, but never one whose expiry is still
    /// ahead of the real clock: a redemption dated a little ahead (clock skew) finds those
    /// lots not redeemable, and leaves them for their own expiry.
    pub fn redeem_points_at(&self, customer: CustomerId, points: i64, key: &str, at: DateTime<Utc>) -> Result<Posted> {
        check_points(points)?;
        ledger::check_key(key)?;
        let at = self.validator.time("at", at)?;
        self.store.write(|tx| {
            let customer = require_customer(tx, customer)?;
            if let Some(p) = ledger::replay(tx, key, customer, EntryKind::Redeem, Some(-points))? {
                return Ok(p);
            }
            let now = now();
            ledger::expire_due(tx, Some(customer), at.min(now), now)?;
            let available = ledger::available(tx, customer, at)?;
            if points > available {
                return Err(Error::InsufficientPoints { available, requested: points });
            }
            let mut acct = ledger::account(tx, customer, now)?;
            ledger::take_from_lots(tx, customer, points, None, Some(at))?;
            let d = Draft {
                customer_id: customer,
                kind: EntryKind::Redeem,
                points: -points,
                qualifying: 0,
                key,
                order_id: None,
                amount_minor: None,
                at,
                note: None,
            };
            let entry = ledger::append(tx, &mut acct, d, now)?;
            tx.put_loyalty_account(&acct)?;
            Ok(Posted { entry, replayed: false })
        })
    }

    /// A manual correction: `points` up (a lot) or down (from the lots, never below zero;
    /// [`Error::InsufficientPoints`] otherwise), with a reason for the statement.
    pub fn adjust_points(&self, customer: CustomerId, points: i64, key: &str, reason: &str) -> Result<Posted> {
        check_points(points.saturating_abs())?;
        ledger::check_key(key)?;
        if reason.trim().is_empty() || reason.chars().count() > 2_000 {
            return Err(Error::validation("reason", "1 to 2,000 characters"));
        }
        self.store.write(|tx| {
            let customer = require_customer(tx, customer)?;
            if let Some(p) = ledger::replay(tx, key, customer, EntryKind::Adjust, Some(points))? {
                return Ok(p);
            }
            let now = now();
            let program = load_program(tx)?;
            let mut acct = ledger::account(tx, customer, now)?;
            let d = Draft {
                customer_id: customer,
                kind: EntryKind::Adjust,
                points,
                qualifying: 0,
                key,
                order_id: None,
                amount_minor: None,
                at: now,
                note: Some(reason.to_string()),
            };
            let entry = if points > 0 {
                let expiry = days(program.as_ref().and_then(|p| p.expiry_days)).map(|d| now + d);
                ledger::credit(tx, &mut acct, d, now, expiry, now)?
            } else {
                let held: i64 = tx.open_lots(customer)?.iter().map(|l| l.remaining).sum();
                if -points > held {
                    return Err(Error::InsufficientPoints { available: held, requested: -points });
                }
                ledger::take_from_lots(tx, customer, -points, None, None)?;
                ledger::append(tx, &mut acct, d, now)?
            };
            tx.put_loyalty_account(&acct)?;
            Ok(Posted { entry, replayed: false })
        })
    }

    /// Awards the program's bonuses for an event (sign-up, birthday, survey, referral) at
    /// `at` (an event time within the bounds of [`ValidationConfig`](crate::ValidationConfig)).
    /// `None` when no active bonus rule applies (nothing written). Use a key per
    /// occasion (`birthday:C-1:2026`): replaying it returns the original entry.
    pub fn award_event(
        &self,
        customer: CustomerId,
        event: Event,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Posted>> {
        ledger::check_key(key)?;
        let at = self.validator.time("at", at)?;
        self.store.write(|tx| {
            let customer = require_customer(tx, customer)?;
            if let Some(p) = ledger::replay(tx, key, customer, EntryKind::Earn, None)? {
                return Ok(Some(p));
            }
            let program = require_program(tx)?;
            let now = now();
            let earning = {
                let mut ctx = TxContext { tx, customer };
                earning::event_points(&program, event, at, &mut ctx)?
            };
            if earning.points == 0 {
                return Ok(None);
            }
            let mut acct = ledger::account(tx, customer, now)?;
            let note = EarnNote::of(&earning, None, false);
            let entry = post_earning(tx, &program, &mut acct, &earning, key, None, at, note, now)?;
            tx.put_loyalty_account(&acct)?;
            Ok(Some(Posted { entry, replayed: false }))
        })
    }

    /// Expires every lot due at `as_of` (expiry date at or before it), each exactly once:
    /// a second run writes nothing. `as_of` is an event time within the bounds of
    /// [`ValidationConfig`](crate::ValidationConfig) ([`Error::Validation`] on `as_of`
    /// otherwise), and no lot is expired before its expiry by the real clock, whatever
    /// `as_of` says: to see what a later date would expire, use
    /// [`expire_points_dry_run`](Self::expire_points_dry_run).
    pub fn expire_points(&self, as_of: DateTime<Utc>) -> Result<ExpiryReport> {
        let as_of = self.validator.time("as_of", as_of)?;
        self.store.write(|tx| {
            let now = now();
            let entries = ledger::expire_due(tx, None, as_of.min(now), now)?;
            Ok(ExpiryReport { lots: entries.len() as i64, points: entries.iter().map(|e| -e.points).sum() })
        })
    }

    /// What [`expire_points`](Self::expire_points) would expire if it ran at `as_of`, which
    /// may lie ahead by up to [`ValidationConfig::max_forecast_days`](crate::ValidationConfig)
    /// (a forecast of the points that will lapse by then, as the ledger stands). Writes nothing.
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use crm_core::{Crm, NewCustomer, loyalty::Program};
    /// let crm = Crm::in_memory().unwrap();
    /// crm.set_loyalty_program(&Program::from_json(r#"{"name": "P", "expiry_days": 30}"#).unwrap()).unwrap();
    /// let ada = crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() }).unwrap();
    /// crm.earn_points(ada.id, 100, "welcome").unwrap();
    /// let ahead = crm.expire_points_dry_run(Utc::now() + Duration::days(40)).unwrap();
    /// assert_eq!((ahead.lots, ahead.points), (1, 100));
    /// assert_eq!(crm.expire_points(Utc::now()).unwrap().points, 0);
    /// assert_eq!(crm.points_balance(ada.id).unwrap().balance, 100);
    /// ```
    pub fn expire_points_dry_run(&self, as_of: DateTime<Utc>) -> Result<ExpiryReport> {
        let as_of = self.validator.forecast_time("as_of", as_of)?;
        self.store.read(|tx| {
            let lots = tx.due_lots(None, as_of)?;
            Ok(ExpiryReport { lots: lots.len() as i64, points: lots.iter().map(|l| l.remaining).sum() })
        })
    }

    /// A customer's balances now.
    pub fn points_balance(&self, customer: CustomerId) -> Result<Balance> {
        self.store.read(|tx| {
            let customer = require_customer(tx, customer)?;
            balance_of(tx, customer, now())
        })
    }

    /// The balance as of `at`: the sum of the entries effective at or before it. `at` is
    /// within the bounds of event times ([`ValidationConfig`](crate::ValidationConfig)).
    pub fn points_balance_as_of(&self, customer: CustomerId, at: DateTime<Utc>) -> Result<i64> {
        let at = self.validator.time("at", at)?;
        self.store.read(|tx| {
            let customer = require_customer(tx, customer)?;
            tx.loyalty_points_as_of(customer, at)
        })
    }

    /// A customer's statement: balances, entries, lots and tier changes.
    pub fn points_statement(&self, customer: CustomerId) -> Result<Statement> {
        self.store.read(|tx| {
            let customer = require_customer(tx, customer)?;
            Ok(Statement {
                balance: balance_of(tx, customer, now())?,
                entries: tx.loyalty_entries(customer)?,
                lots: tx.loyalty_lots(customer)?,
                tiers: tx.loyalty_tier_history(customer)?,
            })
        })
    }

    /// Sets a customer's tier by hand (`None` removes it); the tier must be in the program.
    pub fn set_loyalty_tier(&self, customer: CustomerId, tier: Option<&str>) -> Result<()> {
        self.store.write(|tx| {
            let customer = require_customer(tx, customer)?;
            let program = require_program(tx)?;
            let tiers = program.tiers.as_ref().ok_or_else(|| Error::validation("tier", "the program has no tiers"))?;
            if let Some(t) = tier {
                if tiers.rank(Some(t)).is_none() {
                    return Err(Error::validation("tier", format!("unknown tier {t:?}")));
                }
            }
            let now = now();
            let mut acct = ledger::account(tx, customer, now)?;
            tiers::set_tier(tx, &mut acct, tier.map(str::to_string), now, "manual")?;
            acct.updated_at = now;
            tx.put_loyalty_account(&acct)
        })
    }

    /// Reviews every account's tier at a period end `as_of`: up when the window earns a
    /// higher tier, down when it earns a lower one and the tier has been held for a whole
    /// window plus the grace period. `as_of` is within the bounds of event times
    /// ([`ValidationConfig`](crate::ValidationConfig)).
    pub fn review_tiers(&self, as_of: DateTime<Utc>) -> Result<TierReview> {
        let as_of = self.validator.time("as_of", as_of)?;
        self.store.write(|tx| {
            let program = require_program(tx)?;
            let Some(tiers) = &program.tiers else { return Ok(TierReview::default()) };
            let mut r = TierReview::default();
            for mut acct in tx.loyalty_accounts()? {
                r.accounts += 1;
                let before = tiers.rank(acct.tier.as_deref());
                if tiers.review(tx, &mut acct, as_of)? {
                    if tiers.rank(acct.tier.as_deref()) > before {
                        r.upgraded += 1;
                    } else {
                        r.downgraded += 1;
                    }
                    tx.put_loyalty_account(&acct)?;
                }
            }
            Ok(r)
        })
    }

    /// A customer's tier changes, oldest first.
    pub fn loyalty_tier_history(&self, customer: CustomerId) -> Result<Vec<TierChange>> {
        self.store.read(|tx| {
            let customer = require_customer(tx, customer)?;
            tx.loyalty_tier_history(customer)
        })
    }
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

impl<S: Store> Crm<S> {
    /// Applies a loyalty program to the orders already recorded, as a dry run: `None`
    /// simulates the stored program ([`Error::Validation`] on `program` when none is set),
    /// `Some` a candidate, validated first and never stored. One read transaction; nothing is
    /// written. The [module documentation](crate::loyalty::simulate) gives the semantics.
    ///
    /// ```
    /// use crm_core::loyalty::{Program, Redemption, SimulationOptions};
    /// use crm_core::{Crm, NewCustomer, NewOrder};
    ///
    /// let crm = Crm::in_memory()?;
    /// let ada = crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() })?;
    /// for (ext, at, total) in [("O-1", "2026-01-10", 4_250), ("O-2", "2026-03-05", 10_000)] {
    ///     let order: NewOrder = serde_json::from_str(&format!(r#"{{"external_id": "{ext}",
    ///         "customer_id": {}, "occurred_at": "{at}T12:00:00Z", "currency": "USD",
    ///         "total_minor": {total}}}"#, ada.id))?;
    ///     crm.record_order(&order)?;
    /// }
    /// // One point per dollar, and ten for a first order.
    /// let program = Program::from_json(r#"{"name": "Stars",
    ///     "rates": {"USD": {"points": 1, "per_minor": 100}},
    ///     "rules": [{"name": "base", "kind": "base"},
    ///               {"name": "welcome", "kind": "bonus", "event": "first_order", "points": 10}]}"#)?;
    /// let options = SimulationOptions {
    ///     until: Some("2026-04-01T00:00:00Z".parse()?),
    ///     redemption: Redemption::Rate { permille: 500 },
    ///     ..Default::default()
    /// };
    /// let sim = crm.simulate_loyalty(Some(&program), &options)?;
    /// let months: Vec<_> = sim.months.iter().map(|m| (m.month.as_str(), m.issued, m.redeemed, m.outstanding)).collect();
    /// // January: 42 + 10 issued, half redeemed at the month end; February: half the rest.
    /// assert_eq!(months, [("2026-01", 52, 26, 26), ("2026-02", 0, 13, 13), ("2026-03", 100, 56, 57)]);
    /// assert_eq!(sim.totals.issued, 152);
    /// assert_eq!(sim.rules[1].points, 10);
    /// // A dry run: the program was not stored.
    /// assert!(crm.loyalty_program()?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn simulate_loyalty(&self, program: Option<&Program>, options: &SimulationOptions) -> Result<Simulation> {
        if let Some(p) = program {
            p.validate()?;
        }
        let now = now();
        self.store.read(|tx| {
            let stored;
            let p = match program {
                Some(p) => p,
                None => {
                    stored = require_program(tx)?;
                    &stored
                }
            };
            simulate(tx, p, options, now)
        })
    }
}
