//! PostgreSQL's errors as the crate's: a stable [`StorageErrorKind`] from the SQLSTATE (or
//! from the connection's state when there is none), the server's message without the SQL
//! text, and the driver's error kept as the source. The one place where a `postgres` error
//! becomes an [`Error`].

use postgres::error::SqlState;

use crate::error::{Error, Result, StorageErrorKind};

/// The crate's error for a `postgres` error.
pub(crate) fn pg_error(e: postgres::Error) -> Error {
    let (kind, message) = match e.as_db_error() {
        Some(db) => (kind_of(db.code()), db.message().to_string()),
        // No SQLSTATE: the connection failed or closed, or a value did not convert.
        None if e.is_closed() || std::error::Error::source(&e).is_some_and(is_io) => {
            (StorageErrorKind::Unavailable, e.to_string())
        }
        None if e.to_string().starts_with("error connecting") || e.to_string().contains("connection") => {
            (StorageErrorKind::Unavailable, e.to_string())
        }
        None if e.to_string().contains("deserializ") || e.to_string().contains("serializ") => {
            (StorageErrorKind::Corrupt, e.to_string())
        }
        None => (StorageErrorKind::Other, e.to_string()),
    };
    Error::storage(kind, message, Some(Box::new(e)))
}

fn is_io(e: &(dyn std::error::Error + 'static)) -> bool {
    e.is::<std::io::Error>()
}

/// The kind of a SQLSTATE.
fn kind_of(code: &SqlState) -> StorageErrorKind {
    let c = code.code();
    match c {
        // serialization_failure, deadlock_detected, lock_not_available
        "40001" | "40P01" | "55P03" => StorageErrorKind::Busy,
        // invalid_authorization_specification, invalid_password
        "28000" | "28P01" => StorageErrorKind::Auth,
        // admin_shutdown, crash_shutdown, cannot_connect_now, database_dropped,
        // too_many_connections, invalid_catalog_name (no such database)
        "57P01" | "57P02" | "57P03" | "57P04" | "53300" | "3D000" => StorageErrorKind::Unavailable,
        // insufficient_privilege
        "42501" => StorageErrorKind::Auth,
        "53100" => StorageErrorKind::Full,
        "25006" => StorageErrorKind::ReadOnly,
        // data_corrupted, index_corrupted
        "XX001" | "XX002" => StorageErrorKind::Corrupt,
        _ if c.starts_with("08") => StorageErrorKind::Unavailable,
        _ if c.starts_with("23") => StorageErrorKind::Constraint,
        _ if c.starts_with("54") || c.starts_with("22") => StorageErrorKind::Limit,
        // undefined_table, undefined_column: not a crm database (or one edited by hand)
        "42P01" | "42703" => StorageErrorKind::Corrupt,
        _ => StorageErrorKind::Other,
    }
}

/// `.pg()` turns a `postgres` result into the crate's.
pub(crate) trait Pg<T> {
    /// The crate's result for this `postgres` result.
    fn pg(self) -> Result<T>;
}

impl<T> Pg<T> for std::result::Result<T, postgres::Error> {
    fn pg(self) -> Result<T> {
        self.map_err(pg_error)
    }
}

/// A storage error of `kind` made by the store itself (no driver error behind it).
pub(crate) fn own(kind: StorageErrorKind, message: impl AsRef<str>) -> Error {
    Error::storage(kind, message, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_kinds() {
        for (code, kind) in [
            ("40001", StorageErrorKind::Busy),
            ("40P01", StorageErrorKind::Busy),
            ("28P01", StorageErrorKind::Auth),
            ("57P01", StorageErrorKind::Unavailable),
            ("08006", StorageErrorKind::Unavailable),
            ("23505", StorageErrorKind::Constraint),
            ("53100", StorageErrorKind::Full),
            ("25006", StorageErrorKind::ReadOnly),
            ("54001", StorageErrorKind::Limit),
            ("XX001", StorageErrorKind::Corrupt),
            ("42601", StorageErrorKind::Other),
        ] {
            assert_eq!(kind_of(&SqlState::from_code(code)), kind, "{code}");
        }
    }
}
