//! The one error type of the crate. Each variant says what went wrong and carries
//! the field or value involved; each maps to one stable C status code (see `crm-ffi`).
//!
//! Messages stay short whatever the input (at most [`MAX_MESSAGE_BYTES`]): a value quoted in
//! a message is cut by [`quoted`], every text part of a message by [`clip`] (this is the one
//! place; the bindings' own messages go through [`short_message`]), and a storage error shows
//! SQLite's message without the SQL it was running.

use std::borrow::Cow;
use std::fmt;

/// Longest field name shown in a message, in bytes.
const MAX_FIELD_BYTES: usize = 120;

/// Longest part of a message (a reason, an id, SQLite's text), in bytes; with the field and
/// the words around them a message stays within about 700 bytes.
pub(crate) const MAX_PART_BYTES: usize = 480;

/// Longest value quoted inside a message, in characters.
const MAX_QUOTED_CHARS: usize = 40;

/// Longest error message, in bytes: every [`Error`]'s text stays within it, and so do the
/// messages the bindings make themselves when they pass them through [`short_message`].
pub const MAX_MESSAGE_BYTES: usize = 700;

/// `text` cut to [`MAX_MESSAGE_BYTES`] at a character boundary (with `…` when cut): for the
/// messages the C and Python bindings make themselves (a JSON argument's shape error quotes
/// the offending value, which may be a megabyte long).
///
/// ```
/// let long = "x".repeat(10_000);
/// assert!(crm_core::short_message(&long).len() <= crm_core::MAX_MESSAGE_BYTES);
/// assert_eq!(crm_core::short_message("short"), "short");
/// ```
pub fn short_message(text: &str) -> Cow<'_, str> {
    clip(text, MAX_MESSAGE_BYTES)
}

/// `text` cut to at most `max` bytes at a character boundary, with `…` when cut.
pub(crate) fn clip(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

/// A value for an error message, in double quotes with escapes (as `{:?}` writes it), cut
/// to [`MAX_QUOTED_CHARS`] characters: a megabyte name or literal is shown by its start.
pub(crate) fn quoted(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => format!("{text:?}"),
        Some((at, _)) => format!("{:?}…", &text[..at]),
    }
}

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
    #[error("invalid {}: {}", clip(field, MAX_FIELD_BYTES), clip(reason, MAX_PART_BYTES))]
    Validation {
        /// The offending field, dotted for nested ones (`address.country`, `items[2].quantity`).
        field: String,
        /// What was wrong, naming the value where that helps.
        reason: String,
    },
    /// The referenced record does not exist.
    #[error("{entity} {} not found", clip(id, MAX_FIELD_BYTES))]
    NotFound {
        /// What kind of record was looked for.
        entity: Entity,
        /// The id or external id that was looked for.
        id: String,
    },
    /// Rule-language text could not be parsed.
    #[error(
        "parse error at line {line}, column {column}: expected {}, found {}",
        clip(expected, MAX_PART_BYTES),
        clip(found, MAX_FIELD_BYTES)
    )]
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
    #[error("conflict: {}", clip(.0, MAX_PART_BYTES))]
    Conflict(String),
    /// A merge or unmerge of customers was refused; nothing was written. `kind` says why
    /// (see [`MergeErrorKind`](crate::identity::MergeErrorKind)).
    #[error("merge refused ({kind}): {}", clip(message, MAX_PART_BYTES))]
    Merge {
        /// Why.
        kind: crate::identity::MergeErrorKind,
        /// The customers involved and what to do instead.
        message: String,
    },
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
    #[error("i/o error: {}", clip(&.0.to_string(), MAX_PART_BYTES))]
    Io(#[from] std::io::Error),
    /// The storage engine failed; nothing of the call was written. `kind` says whether a
    /// retry may help ([`StorageErrorKind::Busy`], [`StorageErrorKind::Unavailable`]) and
    /// `message` is the engine's own text, without the SQL it was running.
    #[error("storage error ({kind}): {}", clip(message, MAX_PART_BYTES))]
    Storage {
        /// What kind of failure it was, independent of the engine.
        kind: StorageErrorKind,
        /// The engine's message, cut short, never the SQL text.
        message: String,
        /// The engine's own error, for logging and debugging.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
}

/// What kind of storage failure an [`Error::Storage`] is: stable across engines (SQLite,
/// and any later store), so a host can decide what to do without knowing the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// Another writer held the database longer than the busy timeout; retrying the same
    /// call later may succeed (idempotency keys and external ids make retries safe).
    Busy,
    /// The database could not be reached or opened (a missing directory, no permission, a
    /// lost connection); retrying after the cause is fixed may succeed.
    Unavailable,
    /// The database server refused the credentials or the role lacks a privilege crm needs;
    /// fix the configuration, a retry alone will not help.
    Auth,
    /// A constraint of the schema was broken: a bug in crm or a database edited by hand.
    Constraint,
    /// The database is damaged or is not a crm database.
    Corrupt,
    /// The disk or the database is full.
    Full,
    /// The database is read-only (a read-only file or mount).
    ReadOnly,
    /// An engine limit was reached (a too large value or statement).
    Limit,
    /// The database server is of a version or configuration crm does not support (for
    /// PostgreSQL: older than 13).
    Unsupported,
    /// Anything else the engine reported.
    Other,
}

impl StorageErrorKind {
    /// The lower-case name used in messages and by the bindings (`busy`, `unavailable`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            StorageErrorKind::Busy => "busy",
            StorageErrorKind::Unavailable => "unavailable",
            StorageErrorKind::Auth => "auth",
            StorageErrorKind::Constraint => "constraint",
            StorageErrorKind::Corrupt => "corrupt",
            StorageErrorKind::Full => "full",
            StorageErrorKind::ReadOnly => "read_only",
            StorageErrorKind::Limit => "limit",
            StorageErrorKind::Unsupported => "unsupported",
            StorageErrorKind::Other => "other",
        }
    }

    /// Whether the same call, retried later, may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, StorageErrorKind::Busy | StorageErrorKind::Unavailable)
    }
}

impl fmt::Display for StorageErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// Shorthand for a [`Error::Validation`]; the field and the reason are cut short if
    /// long (as in the message), so they stay short where bindings hand them out too.
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Error {
        let (field, reason) = (field.into(), reason.into());
        Error::Validation {
            field: clip(&field, MAX_FIELD_BYTES).into_owned(),
            reason: clip(&reason, MAX_PART_BYTES).into_owned(),
        }
    }

    /// Shorthand for a [`Error::NotFound`]; a long id is cut short.
    pub fn not_found(entity: Entity, id: impl ToString) -> Error {
        Error::NotFound { entity, id: clip(&id.to_string(), MAX_FIELD_BYTES).into_owned() }
    }

    /// A [`Error::Storage`] of `kind` with the engine's `message` (cut short) and its
    /// error as the source: for stores to build their errors with.
    pub fn storage(
        kind: StorageErrorKind,
        message: impl AsRef<str>,
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Error {
        Error::Storage { kind, message: clip(message.as_ref(), MAX_PART_BYTES).into_owned(), source }
    }

    /// The kind of a storage error; `None` for every other error.
    ///
    /// ```
    /// use crm_core::{Crm, Error, StorageErrorKind};
    /// let e = Crm::open("/no/such/directory/crm.db").unwrap_err();
    /// assert_eq!(e.storage_kind(), Some(StorageErrorKind::Unavailable));
    /// assert!(matches!(e, Error::Storage { .. }));
    /// ```
    pub fn storage_kind(&self) -> Option<StorageErrorKind> {
        match self {
            Error::Storage { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The field this error is about, where there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Validation { field, .. } => Some(field),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_a_message_is_clipped() {
        let long = "é".repeat(100_000);
        for e in [
            Error::validation(&long, &long),
            Error::Validation { field: long.clone(), reason: long.clone() },
            Error::not_found(Entity::Segment, &long),
            Error::Conflict(long.clone()),
            Error::storage(StorageErrorKind::Other, &long, None),
            Error::Parse { line: 1, column: 1, found: long.clone(), expected: long.clone() },
        ] {
            let msg = e.to_string();
            assert!(msg.len() <= MAX_MESSAGE_BYTES && msg.contains('…'), "{}", msg.len());
        }
        if let Error::Validation { field, reason } = Error::validation(&long, &long) {
            assert!(field.len() <= MAX_FIELD_BYTES && reason.len() <= MAX_PART_BYTES);
        }
        assert_eq!(quoted("ab\"c"), r#""ab\"c""#);
        assert_eq!(quoted(&"x".repeat(100)), format!("{:?}…", "x".repeat(MAX_QUOTED_CHARS)));
    }
}
