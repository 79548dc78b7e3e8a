//! Loyalty points: a [program](Program) (JSON or TOML) of earning rules and tiers; one
//! account per customer with an append-only [ledger] of entries (earn, redeem,
//! expire, adjust, reverse), each with an idempotency key; earn lots that expire and that
//! redemption draws on soonest-expiring first. Orders recorded through the facade or bulk
//! ingest earn in the transaction that writes them, and refunds and cancellations reverse
//! (partial refunds in proportion), the tier progress with them; a refund undone gives back
//! what it took. The [simulator](simulate)
//! replays a program, stored or candidate, over the recorded orders as a dry run.
//!
//! The balance is the sum of the entries. It never goes below zero, except as a debt when
//! the program's [`DebtPolicy`] is [`AllowNegative`](DebtPolicy::AllowNegative) and an
//! order whose points were already spent is refunded; later earnings pay the debt first.
//!
//! Entries written by this module, and their keys:
//!
//! | entry | key |
//! |---|---|
//! | an order's earning | `order:<external id>` |
//! | an order's reversal (or a refund undone) | `order:<external id>:reverse-to:<points>:<qualifying>` (what the order is worth now), `:<n>` added after its first `n` reversals |
//! | an expired lot | `expire:lot:<lot id>` |
//! | the entries of a deleted order | their key with `~deleted:<entry id>` appended (the order's reversal first takes back what it earned) |
//! | redemptions, manual credits, adjustments, event bonuses | the caller's key |

mod api;
mod earning;
pub mod ledger;
mod liability;
mod program;
pub mod simulate;
pub mod tiers;

pub(crate) use api::{customer_deleted, order_deleted, order_written, OrderLoyalty};
pub use api::{Balance, ExpiryReport, Statement, TierReview};
pub use earning::{Earning, RulePoints};
pub use ledger::{Account, Entry, EntryId, EntryKind, Lot, Posted, MAX_KEY_LEN};
pub use liability::{Liability, MAX_EXPIRING_WITHIN_DAYS};
pub use program::{
    Caps, DebtPolicy, EarnRule, Event, MultiplierBy, Program, Rate, Rounding, RuleKind, MAX_MULTIPLIER, MAX_POINTS,
};
pub use simulate::{
    Redemption, RuleTotal, SimulatedMonth, Simulation, SimulationOptions, SimulationTotals, TierCount,
    MAX_SIMULATED_CUSTOMERS,
};
pub use tiers::{TierBasis, TierChange, TierLevel, Tiers};
