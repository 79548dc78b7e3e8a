//! The one error type of the crate. Each variant says what went wrong and carries
//! the field or value involved; each maps to one stable C status code (see `crm-ffi`).

use std::fmt;

/// Result alias used throughout `crm-core`.
pub type Result<T> = std::result::Result<T, Error>;

/// Kinds of stored entity, used in errors and in the change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    /// A customer record.
    Customer,
    /// An interaction (call, email, ...).
    Interaction,
    /// An order with its line items.
    Order,
    /// A saved segment.
    Segment,
    /// A scoring plan.
    ScoringPlan,
    /// The loyalty program.
    LoyaltyProgram,
    /// An entry of a loyalty ledger.
    LoyaltyEntry,
}

impl Entity {
    /// The lower-case name used in text and in the change feed.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Customer => "customer",
            Entity::Interaction => "interaction",
            Entity::Order => "order",
            Entity::Segment => "segment",
            Entity::ScoringPlan => "scoring_plan",
            Entity::LoyaltyProgram => "loyalty_program",
            Entity::LoyaltyEntry => "loyalty_entry",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Entity> {
        match s {
            "customer" => Some(Entity::Customer),
            "interaction" => Some(Entity::Interaction),
            "order" => Some(Entity::Order),
            "segment" => Some(Entity::Segment),
            "scoring_plan" => Some(Entity::ScoringPlan),
            "loyalty_program" => Some(Entity::LoyaltyProgram),
            "loyalty_entry" => Some(Entity::LoyaltyEntry),
            _ => None,
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in `crm-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input value broke a rule; nothing was written.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The offending field, dotted for nested ones (`address.country`, `items[2].quantity`).
        field: String,
        /// What was wrong, naming the value where that helps.
        reason: String,
    },
    /// The referenced record does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// What kind of record was looked for.
        entity: Entity,
        /// The id or external id that was looked for.
        id: String,
    },
    /// Rule-language text could not be parsed.
    #[error("parse error at line {line}, column {column}: expected {expected}, found {found}")]
    Parse {
        /// Line of the offending token, from 1.
        line: usize,
        /// Column (in characters) of the offending token, from 1.
        column: usize,
        /// What was found there (a token, quoted, or `end of input`).
        found: String,
        /// What the grammar expected there.
        expected: String,
    },
    /// The write conflicts with stored state (for example a unique key owned by another record).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A redemption (or a debit) asked for more points than the account has available;
    /// nothing was written.
    #[error("insufficient points: {requested} requested, {available} available")]
    InsufficientPoints {
        /// Points the account could give (pending and expired points excluded).
        available: i64,
        /// Points asked for.
        requested: i64,
    },
    /// The database file was written by a newer version of this library.
    #[error("database schema version {found} is newer than this library supports ({supported}); upgrade crm")]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// The caller's progress callback asked a long call to stop (see
    /// [`analytics::Progress`](crate::analytics::Progress)); the call wrote nothing and
    /// returned no result.
    #[error("cancelled: the progress callback stopped the call")]
    Cancelled,
    /// A file or stream could not be read or written.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The storage engine failed.
    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),
}

impl Error {
    /// Shorthand for a [`Error::Validation`].
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Validation { field: field.into(), reason: reason.into() }
    }

    /// Shorthand for a [`Error::NotFound`].
    pub fn not_found(entity: Entity, id: impl ToString) -> Error {
        Error::NotFound { entity, id: id.to_string() }
    }

    /// The field this error is about, where there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Validation { field, .. } => Some(field),
            _ => None,
        }
    }
}
