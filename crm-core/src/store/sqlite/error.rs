//! SQLite's errors as the crate's: a stable [`StorageErrorKind`] from SQLite's result code,
//! SQLite's message without the SQL text that rusqlite adds to some, and the rusqlite error
//! kept as the source. The one place where a rusqlite error becomes an [`Error`].

use rusqlite::ErrorCode;

use crate::error::{Error, Result, StorageErrorKind};

/// The crate's error for a rusqlite error.
pub(crate) fn db_error(e: rusqlite::Error) -> Error {
    let kind = match &e {
        rusqlite::Error::SqliteFailure(f, _) => kind_of(f.code),
        rusqlite::Error::SqlInputError { error, .. } => kind_of(error.code),
        rusqlite::Error::InvalidPath(_) => StorageErrorKind::Unavailable,
        rusqlite::Error::ToSqlConversionFailure(_) | rusqlite::Error::FromSqlConversionFailure(..) => {
            StorageErrorKind::Corrupt
        }
        _ => StorageErrorKind::Other,
    };
    let message = match &e {
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        e => e.to_string(),
    };
    Error::storage(kind, message, Some(Box::new(e)))
}

/// The kind of one of SQLite's primary result codes.
fn kind_of(code: ErrorCode) -> StorageErrorKind {
    match code {
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StorageErrorKind::Busy,
        ErrorCode::CannotOpen
        | ErrorCode::PermissionDenied
        | ErrorCode::SystemIoFailure
        | ErrorCode::NoLargeFileSupport => StorageErrorKind::Unavailable,
        ErrorCode::ConstraintViolation => StorageErrorKind::Constraint,
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase | ErrorCode::SchemaChanged => StorageErrorKind::Corrupt,
        ErrorCode::DiskFull => StorageErrorKind::Full,
        ErrorCode::ReadOnly => StorageErrorKind::ReadOnly,
        ErrorCode::TooBig => StorageErrorKind::Limit,
        _ => StorageErrorKind::Other,
    }
}

/// `.db()` turns a rusqlite result into the crate's.
pub(crate) trait Db<T> {
    /// The crate's result for this rusqlite result.
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T> {
        self.map_err(db_error)
    }
}

/// A storage error of `kind` made by the store itself (no SQLite error behind it).
pub(crate) fn own(kind: StorageErrorKind, message: impl AsRef<str>) -> Error {
    Error::storage(kind, message, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_show_sqlite_s_text_without_the_sql() {
        let sql = format!("SELECT {} FROM customers", "x OR ".repeat(50_000));
        let e = db_error(rusqlite::Error::SqlInputError {
            error: rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            msg: "Expression tree is too large (maximum depth 1000)".into(),
            sql,
            offset: 7,
        });
        assert_eq!(e.to_string(), "storage error (other): Expression tree is too large (maximum depth 1000)");
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn result_codes_map_to_kinds() {
        let of = |code| db_error(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)).storage_kind();
        use rusqlite::ffi::*;
        assert_eq!(of(SQLITE_BUSY), Some(StorageErrorKind::Busy));
        assert_eq!(of(SQLITE_LOCKED), Some(StorageErrorKind::Busy));
        assert_eq!(of(SQLITE_CANTOPEN), Some(StorageErrorKind::Unavailable));
        assert_eq!(of(SQLITE_CONSTRAINT), Some(StorageErrorKind::Constraint));
        assert_eq!(of(SQLITE_CORRUPT), Some(StorageErrorKind::Corrupt));
        assert_eq!(of(SQLITE_NOTADB), Some(StorageErrorKind::Corrupt));
        assert_eq!(of(SQLITE_FULL), Some(StorageErrorKind::Full));
        assert_eq!(of(SQLITE_READONLY), Some(StorageErrorKind::ReadOnly));
        assert_eq!(of(SQLITE_TOOBIG), Some(StorageErrorKind::Limit));
        assert_eq!(of(SQLITE_MISMATCH), Some(StorageErrorKind::Other));
    }
}
