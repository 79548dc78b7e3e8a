//! Status codes, the per-thread last error, and the one `catch_unwind` boundary every
//! exported function runs inside.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The result of every fallible call. `CRM_OK` (0) is success; every other value is an
/// error whose details are in `crm_last_error_message()` / `crm_last_error_field()`.
/// Values are stable across versions of one ABI; new codes are only ever appended.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum crm_status {
    /// Success.
    CRM_OK = 0,
    /// An input value broke a rule; nothing was written. `crm_last_error_field()` names the field
    /// (the argument, for a JSON argument nested deeper than 127 levels).
    CRM_ERR_VALIDATION = 1,
    /// The referenced record does not exist.
    CRM_ERR_NOT_FOUND = 2,
    /// The write conflicts with stored state (for example an external id owned by another record).
    CRM_ERR_CONFLICT = 3,
    /// The database file was written by a newer version of crm.
    CRM_ERR_SCHEMA_TOO_NEW = 4,
    /// A file could not be read or written.
    CRM_ERR_IO = 5,
    /// The storage engine failed in a way a retry does not cure (refused credentials, a broken
    /// constraint, a damaged or full database, a read-only file, an engine limit). The message
    /// starts with `storage error (<kind>):` naming the kind: `auth`, `constraint`, `corrupt`,
    /// `full`, `read_only`, `limit` or `other`. Nothing of the call was written.
    CRM_ERR_STORAGE = 6,
    /// A required pointer argument was NULL. `crm_last_error_field()` names the argument.
    CRM_ERR_NULL_ARGUMENT = 7,
    /// A string argument was not valid UTF-8. `crm_last_error_field()` names the argument.
    CRM_ERR_INVALID_UTF8 = 8,
    /// A string argument was longer than its documented maximum (no NUL found within it).
    CRM_ERR_TOO_LONG = 9,
    /// The handle or cursor was closed, or was never returned by this library.
    CRM_ERR_INVALID_HANDLE = 10,
    /// A JSON argument did not parse, or did not have the expected shape.
    CRM_ERR_INVALID_JSON = 11,
    /// A plain argument (not a record field) was out of range, e.g. an unknown enum value.
    CRM_ERR_INVALID_ARGUMENT = 12,
    /// A bug in crm: a panic was caught at the C boundary. Please report the message.
    CRM_ERR_INTERNAL = 13,
    /// Rule-language text did not parse. `crm_last_error_message()` names the line, the column,
    /// what was found and what was expected; `crm_last_error_position()` gives line and column;
    /// `crm_last_error_field()` is `"rule"`.
    CRM_ERR_PARSE = 14,
    /// A redemption or debit asked for more loyalty points than the account has available;
    /// nothing was written. The message names both numbers.
    CRM_ERR_INSUFFICIENT_POINTS = 15,
    /// A long call was stopped by its progress callback returning `false` (see
    /// `crm_analytics_progress_fn`); it wrote nothing and handed nothing out.
    CRM_ERR_CANCELLED = 16,
    /// Another writer (a thread or a process) held the database longer than the busy timeout
    /// (`crm_open_with_options`); nothing was written. Retrying the same call later is safe
    /// (external ids and idempotency keys make a retried write apply once).
    CRM_ERR_BUSY = 17,
    /// The database could not be opened or reached (a missing directory, no permission);
    /// nothing was written. Retry once the cause is fixed.
    CRM_ERR_UNAVAILABLE = 18,
    /// A merge or unmerge of customers was refused; nothing was written.
    /// `crm_last_error_field()` names why: `self_merge`, `merged_away`, `cycle`, `too_deep`,
    /// `not_merged` or `order` (see `crm_customer_merge` and `crm_customer_unmerge`).
    CRM_ERR_MERGE = 19,
}

use crm_status::*;

impl crm_status {
    /// The constant's name, e.g. `"CRM_ERR_VALIDATION"`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            CRM_OK => "CRM_OK\0",
            CRM_ERR_VALIDATION => "CRM_ERR_VALIDATION\0",
            CRM_ERR_NOT_FOUND => "CRM_ERR_NOT_FOUND\0",
            CRM_ERR_CONFLICT => "CRM_ERR_CONFLICT\0",
            CRM_ERR_SCHEMA_TOO_NEW => "CRM_ERR_SCHEMA_TOO_NEW\0",
            CRM_ERR_IO => "CRM_ERR_IO\0",
            CRM_ERR_STORAGE => "CRM_ERR_STORAGE\0",
            CRM_ERR_NULL_ARGUMENT => "CRM_ERR_NULL_ARGUMENT\0",
            CRM_ERR_INVALID_UTF8 => "CRM_ERR_INVALID_UTF8\0",
            CRM_ERR_TOO_LONG => "CRM_ERR_TOO_LONG\0",
            CRM_ERR_INVALID_HANDLE => "CRM_ERR_INVALID_HANDLE\0",
            CRM_ERR_INVALID_JSON => "CRM_ERR_INVALID_JSON\0",
            CRM_ERR_INVALID_ARGUMENT => "CRM_ERR_INVALID_ARGUMENT\0",
            CRM_ERR_INTERNAL => "CRM_ERR_INTERNAL\0",
            CRM_ERR_PARSE => "CRM_ERR_PARSE\0",
            CRM_ERR_INSUFFICIENT_POINTS => "CRM_ERR_INSUFFICIENT_POINTS\0",
            CRM_ERR_CANCELLED => "CRM_ERR_CANCELLED\0",
            CRM_ERR_BUSY => "CRM_ERR_BUSY\0",
            CRM_ERR_UNAVAILABLE => "CRM_ERR_UNAVAILABLE\0",
            CRM_ERR_MERGE => "CRM_ERR_MERGE\0",
        }
    }
}

/// A failure on its way to C: a code, a message and, where there is one, a field or argument
/// name and a position (line, column) in rule text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FfiError {
    pub status: crm_status,
    pub message: String,
    pub field: Option<String>,
    pub position: Option<(usize, usize)>,
}

impl FfiError {
    pub fn new(status: crm_status, message: impl Into<String>, field: Option<&str>) -> FfiError {
        FfiError { status, message: message.into(), field: field.map(str::to_owned), position: None }
    }

    pub fn null(arg: &str) -> FfiError {
        FfiError::new(CRM_ERR_NULL_ARGUMENT, format!("{arg} must not be NULL"), Some(arg))
    }

    /// `CRM_ERR_INVALID_JSON` on the argument `arg`; the message names the path in it.
    pub fn json(arg: &str, e: &crm_core::json::JsonError) -> FfiError {
        FfiError::new(CRM_ERR_INVALID_JSON, format!("{arg}: {e}"), Some(arg))
    }

    pub fn argument(arg: &str, message: impl Into<String>) -> FfiError {
        FfiError::new(CRM_ERR_INVALID_ARGUMENT, message, Some(arg))
    }
}

/// One code per core error variant.
impl From<crm_core::Error> for FfiError {
    fn from(e: crm_core::Error) -> FfiError {
        use crm_core::{Error as E, StorageErrorKind};
        if let E::Parse { line, column, .. } = &e {
            // The core names no field for a parse error; in C it is always the rule argument
            // (every function taking rule text names that argument `rule`).
            let position = Some((*line, *column));
            return FfiError { status: CRM_ERR_PARSE, message: e.to_string(), field: Some("rule".into()), position };
        }
        let status = match &e {
            E::Validation { .. } => CRM_ERR_VALIDATION,
            E::NotFound { .. } => CRM_ERR_NOT_FOUND,
            E::Conflict(_) => CRM_ERR_CONFLICT,
            E::SchemaTooNew { .. } => CRM_ERR_SCHEMA_TOO_NEW,
            E::Io(_) => CRM_ERR_IO,
            E::Storage { kind: StorageErrorKind::Busy, .. } => CRM_ERR_BUSY,
            E::Storage { kind: StorageErrorKind::Unavailable, .. } => CRM_ERR_UNAVAILABLE,
            E::Storage { .. } => CRM_ERR_STORAGE,
            E::InsufficientPoints { .. } => CRM_ERR_INSUFFICIENT_POINTS,
            E::Cancelled => CRM_ERR_CANCELLED,
            E::Merge { kind, .. } => {
                let field = Some(kind.as_str().to_owned());
                return FfiError { status: CRM_ERR_MERGE, message: e.to_string(), field, position: None };
            }
            // The core's error is non-exhaustive: a variant added there without a code here
            // is still reported, with its message, rather than lost.
            _ => CRM_ERR_INTERNAL,
        };
        FfiError { status, message: e.to_string(), field: e.field().map(str::to_owned), position: None }
    }
}

pub(crate) type FfiResult<T> = Result<T, FfiError>;

struct LastError {
    code: crm_status,
    message: CString,
    field: Option<CString>,
    position: Option<(usize, usize)>,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> =
        RefCell::new(LastError { code: CRM_OK, message: CString::default(), field: None, position: None });
}

fn c_string_lossy(s: String) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|b| *b != 0);
        CString::new(bytes).expect("NULs removed")
    })
}

fn set_last_error(e: FfiError) {
    // Messages made here (a JSON shape error quoting a long value) are cut as the core's are.
    let short = |s: String| crm_core::short_message(&s).into_owned();
    let new = LastError {
        code: e.status,
        message: c_string_lossy(short(e.message)),
        field: e.field.map(|f| c_string_lossy(short(f))),
        position: e.position,
    };
    // During thread teardown the slot may be gone; the status code still tells the story.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = new);
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    let detail = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
    format!("internal error (panic caught at the C boundary): {}", detail.as_deref().unwrap_or("unknown panic"))
}

/// Runs `f`; a panic inside becomes `on_panic` (and the last error, `CRM_ERR_INTERNAL`).
/// The one unwinding boundary of the library.
pub(crate) fn guard<R>(on_panic: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            set_last_error(FfiError::new(CRM_ERR_INTERNAL, panic_message(&*p), None));
            on_panic
        }
    }
}

/// The body of every status-returning function: runs `f` under [`guard`], records a
/// failure as this thread's last error, returns its code.
pub(crate) fn ffi_call(f: impl FnOnce() -> FfiResult<()>) -> crm_status {
    guard(CRM_ERR_INTERNAL, || match f() {
        Ok(()) => CRM_OK,
        Err(e) => {
            let code = e.status;
            set_last_error(e);
            code
        }
    })
}

/// The code of the last failed call on the calling thread; `CRM_OK` if none has failed yet.
/// Successful calls do not reset it.
///
/// Thread safety: per thread; safe to call from any thread.
#[no_mangle]
pub extern "C" fn crm_last_error_code() -> crm_status {
    guard(CRM_ERR_INTERNAL, || LAST_ERROR.try_with(|s| s.borrow().code).unwrap_or(CRM_OK))
}

/// The message of the last failed call on the calling thread: never NULL, `""` if no call
/// has failed yet. Successful calls do not reset it.
///
/// Ownership: the string belongs to the library. It stays valid until the next failing call
/// on this thread (or the thread's exit); copy it to keep it. Never free it.
///
/// Thread safety: per thread; safe to call from any thread.
#[no_mangle]
pub extern "C" fn crm_last_error_message() -> *const c_char {
    guard(c"".as_ptr(), || LAST_ERROR.try_with(|s| s.borrow().message.as_ptr()).unwrap_or(c"".as_ptr()))
}

/// The field (for `CRM_ERR_VALIDATION`, dotted for nested fields: `address.country`,
/// `items[2].quantity`) or argument name (for `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON`, `CRM_ERR_INVALID_ARGUMENT`; `"rule"` for
/// `CRM_ERR_PARSE`) of the last failed call on the calling thread; NULL when that failure has
/// none, or no call has failed.
///
/// Ownership and lifetime as for `crm_last_error_message()`: valid until the next failing
/// call on this thread; never free it.
#[no_mangle]
pub extern "C" fn crm_last_error_field() -> *const c_char {
    guard(std::ptr::null(), || {
        LAST_ERROR
            .try_with(|s| s.borrow().field.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()))
            .unwrap_or(std::ptr::null())
    })
}

/// Where the last failed call on the calling thread found bad rule text: for `CRM_ERR_PARSE`,
/// writes the line and the column (both from 1; the column counts characters, a tab is one)
/// of the offending token and returns true. For any other failure, or when no call has
/// failed, writes 0 to both and returns false.
///
/// - `out_line`, `out_column`: may be NULL.
///
/// Thread safety: per thread; safe to call from any thread.
///
/// # Safety
/// `out_line` and `out_column` are NULL or valid for a write of a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn crm_last_error_position(out_line: *mut usize, out_column: *mut usize) -> bool {
    guard(false, || {
        let position = LAST_ERROR.try_with(|s| s.borrow().position).unwrap_or(None);
        let (line, column) = position.unwrap_or((0, 0));
        crate::convert::write_opt(out_line, line);
        crate::convert::write_opt(out_column, column);
        position.is_some()
    })
}

/// The name of a status code as a static string, e.g. `"CRM_ERR_NOT_FOUND"`, or
/// `"CRM_UNKNOWN_STATUS"` for a value that is not a `crm_status`; never NULL. Takes an `int`
/// so that any value is safe to pass. Never free the result. Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn crm_status_name(status: i32) -> *const c_char {
    guard(c"CRM_UNKNOWN_STATUS".as_ptr(), || {
        ALL_STATUSES
            .iter()
            .find(|s| **s as i32 == status)
            .map_or(c"CRM_UNKNOWN_STATUS".as_ptr(), |s| s.name().as_ptr().cast())
    })
}

const ALL_STATUSES: [crm_status; 20] = [
    CRM_OK,
    CRM_ERR_VALIDATION,
    CRM_ERR_NOT_FOUND,
    CRM_ERR_CONFLICT,
    CRM_ERR_SCHEMA_TOO_NEW,
    CRM_ERR_IO,
    CRM_ERR_STORAGE,
    CRM_ERR_NULL_ARGUMENT,
    CRM_ERR_INVALID_UTF8,
    CRM_ERR_TOO_LONG,
    CRM_ERR_INVALID_HANDLE,
    CRM_ERR_INVALID_JSON,
    CRM_ERR_INVALID_ARGUMENT,
    CRM_ERR_INTERNAL,
    CRM_ERR_PARSE,
    CRM_ERR_INSUFFICIENT_POINTS,
    CRM_ERR_CANCELLED,
    CRM_ERR_BUSY,
    CRM_ERR_UNAVAILABLE,
    CRM_ERR_MERGE,
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn core_errors_map_to_one_code_each() {
        let v: FfiError = crm_core::Error::validation("email", "bad").into();
        assert_eq!((v.status, v.field.as_deref()), (CRM_ERR_VALIDATION, Some("email")));
        let n: FfiError = crm_core::Error::not_found(crm_core::Entity::Order, 7).into();
        assert_eq!(n.status, CRM_ERR_NOT_FOUND);
        let c: FfiError = crm_core::Error::Conflict("x".into()).into();
        assert_eq!(c.status, CRM_ERR_CONFLICT);
        let s: FfiError = crm_core::Error::SchemaTooNew { found: 9, supported: 1 }.into();
        assert_eq!(s.status, CRM_ERR_SCHEMA_TOO_NEW);
        let io: FfiError = crm_core::Error::Io(std::io::Error::other("x")).into();
        assert_eq!(io.status, CRM_ERR_IO);
        let p: FfiError = crm_core::rule::parse("country =").unwrap_err().into();
        assert_eq!((p.status, p.field.as_deref(), p.position), (CRM_ERR_PARSE, Some("rule"), Some((1, 10))));
        let i: FfiError = crm_core::Error::InsufficientPoints { available: 3, requested: 5 }.into();
        assert_eq!(i.status, CRM_ERR_INSUFFICIENT_POINTS);
        let c: FfiError = crm_core::Error::Cancelled.into();
        assert_eq!((c.status, c.field), (CRM_ERR_CANCELLED, None));
        let m: FfiError =
            crm_core::Error::Merge { kind: crm_core::identity::MergeErrorKind::Cycle, message: "x".into() }.into();
        assert_eq!((m.status, m.field.as_deref()), (CRM_ERR_MERGE, Some("cycle")));
        use crm_core::StorageErrorKind as K;
        for (kind, status) in [
            (K::Busy, CRM_ERR_BUSY),
            (K::Unavailable, CRM_ERR_UNAVAILABLE),
            (K::Corrupt, CRM_ERR_STORAGE),
            (K::Constraint, CRM_ERR_STORAGE),
            (K::Other, CRM_ERR_STORAGE),
        ] {
            let e: FfiError = crm_core::Error::storage(kind, "m", None).into();
            assert_eq!(e.status, status);
            assert!(e.message.starts_with(&format!("storage error ({kind}): ")), "{}", e.message);
        }
    }

    #[test]
    fn the_position_is_that_of_the_last_failure() {
        let parse = ffi_call(|| Err(crm_core::rule::parse("a = 1 and\n  b ==").unwrap_err().into()));
        assert_eq!(parse, CRM_ERR_PARSE);
        let (mut line, mut column) = (0, 0);
        assert!(unsafe { crm_last_error_position(&mut line, &mut column) });
        assert_eq!((line, column), (2, 6));
        ffi_call(|| Err(FfiError::null("x")));
        assert!(!unsafe { crm_last_error_position(&mut line, &mut column) });
        assert_eq!((line, column), (0, 0));
        assert!(!unsafe { crm_last_error_position(std::ptr::null_mut(), std::ptr::null_mut()) });
    }

    #[test]
    fn every_status_has_its_name() {
        for s in ALL_STATUSES {
            let name = unsafe { CStr::from_ptr(crm_status_name(s as i32)) };
            assert!(name.to_str().unwrap().starts_with("CRM_"));
        }
        assert_eq!(ALL_STATUSES.iter().map(|s| *s as i32).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn panics_become_internal_errors_with_the_message() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let code = ffi_call(|| panic!("boom"));
        std::panic::set_hook(prev);
        assert_eq!(code, CRM_ERR_INTERNAL);
        let msg = unsafe { CStr::from_ptr(crm_last_error_message()) }.to_str().unwrap();
        assert!(msg.contains("boom"), "{msg}");
    }

    #[test]
    fn messages_with_nul_bytes_survive() {
        assert_eq!(c_string_lossy("a\0b".into()).to_str().unwrap(), "ab");
        let name = unsafe { CStr::from_ptr(crm_status_name(CRM_ERR_TOO_LONG as i32)) };
        assert_eq!(name.to_str().unwrap(), "CRM_ERR_TOO_LONG");
    }
}
