//! Loyalty points: a [program](Program) (JSON or TOML) of earning rules and tiers; one
//! account per customer with an append-only [ledger] of entries (earn, redeem,
//! expire, adjust, reverse), each with an idempotency key; earn lots that expire and that
//! redemption draws on soonest-expiring first. Orders recorded through the facade or bulk
//! ingest earn in the transaction that writes them, and every correction of an order
//! (refund, cancellation, amendment, partial refund, move to another customer, deletion,
//! a refund undone) settles its points in that transaction: what an order is worth after
//! a correction is defined once, in the `orders` module (its documentation is the
//! reference). The [simulator](simulate) replays a program, stored or candidate, over the
//! recorded orders as a dry run.
//!
//! The balance is the sum of the entries. It never goes below zero, except as a debt when
//! the program's [`DebtPolicy`] is [`AllowNegative`](DebtPolicy::AllowNegative) and an
//! order whose points were already spent is refunded; later earnings pay the debt first.
//!
//! Every time a caller passes (an earning's or redemption's time, an expiry run's or a
//! tier review's date) is an event time within the bounds of
//! [`ValidationConfig`](crate::ValidationConfig), as orders' are; no processing expires a
//! lot before its expiry by the real clock (a forecast is
//! [`Crm::expire_points_dry_run`](crate::Crm::expire_points_dry_run)).
//!
//! Entries written by this module, and their keys:
//!
//! | entry | key |
//! |---|---|
//! | an order's earning | `order:<external id>`; `order:<external id>:customer:<id>` when the order earned for another customer first |
//! | a correction of an order's points | `order:<external id>:reverse-to:<points>:<qualifying>` (what the order is worth to the customer afterwards), `:<n>` added after the order's first `n` corrections (the next free `n`) |
//! | an expired lot | `expire:lot:<lot id>` |
//! | the entries of a deleted order | their key with `~deleted:<entry id>` appended (the order's correction to nothing comes first) |
//! | redemptions, manual credits, adjustments, event bonuses | the caller's key |

pub(crate) mod api;
pub(crate) mod earning;
pub mod ledger;
pub(crate) mod liability;
pub(crate) mod orders;
mod program;
pub mod simulate;
mod store;
pub mod tiers;

pub use api::{Balance, ExpiryReport, Statement, TierReview};
pub use earning::{Earning, RulePoints};
pub use ledger::{Account, Entry, EntryId, EntryKind, Lot, LotTerms, Posted, MAX_KEY_LEN};
pub use liability::Liability;
pub(crate) use orders::{customer_deleted, order_changed, order_deleted, OrderLoyalty};
pub use program::{
    Caps, DebtPolicy, EarnRule, Event, MultiplierBy, Program, Rate, Rounding, RuleKind, MAX_DAYS, MAX_MULTIPLIER,
    MAX_POINTS,
};
pub use simulate::{
    Redemption, RuleTotal, SimulatedMonth, Simulation, SimulationOptions, SimulationTotals, TierCount,
    MAX_SIMULATED_CUSTOMERS,
};
pub use store::{LedgerStore, LedgerStoreMut, LoyaltyRead, LoyaltyWrite};
pub use tiers::{TierBasis, TierChange, TierLevel, Tiers};
