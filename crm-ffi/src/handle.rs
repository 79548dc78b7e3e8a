//! Handles: `crm_t` and the cursors are tokens into registries of live objects, not
//! addresses. A token is never reused, so a closed (or never issued) handle is always
//! reported as `CRM_ERR_INVALID_HANDLE` instead of touching freed memory.

use std::collections::BTreeMap;
use std::ffi::c_char;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crm_core::{Crm, CrmConfig};

use crate::convert::{opt_json_arg, out_ptr, text};
use crate::error::{crm_status, crm_status::*, ffi_call, FfiError, FfiResult};

/// An open customer database. Opaque: only ever used through a pointer.
///
/// Thread safety: one `crm_t *` may be used from any number of threads at once; each call is
/// one transaction (writers wait for each other, readers run beside them). `crm_close` may
/// race with other calls on the same handle: calls already running finish normally, later
/// ones fail with `CRM_ERR_INVALID_HANDLE`.
pub struct crm {
    _private: [u8; 0],
}

/// The handle type used throughout the API (`typedef struct crm crm_t`).
pub type crm_t = crm;

/// Tokens come from one counter shared by every registry, so a cursor passed where a
/// database handle is expected (or the reverse) is reported, not misused.
static NEXT_TOKEN: AtomicUsize = AtomicUsize::new(1);

/// Live objects of one kind by token.
pub(crate) struct Registry<T> {
    live: RwLock<BTreeMap<usize, Arc<T>>>,
    what: &'static str,
}

impl<T> Registry<T> {
    pub const fn new(what: &'static str) -> Registry<T> {
        Registry { live: RwLock::new(BTreeMap::new()), what }
    }

    /// Registers `v` and returns its (never reused) token.
    pub fn insert(&self, v: T) -> usize {
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        self.live.write().unwrap_or_else(|e| e.into_inner()).insert(token, Arc::new(v));
        token
    }

    /// The object behind a token; `CRM_ERR_INVALID_HANDLE` if closed or unknown.
    pub fn get(&self, token: usize) -> FfiResult<Arc<T>> {
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        live.get(&token).cloned().ok_or_else(|| self.invalid(token))
    }

    /// Unregisters a token; the object is dropped once calls still using it return.
    pub fn remove(&self, token: usize) -> FfiResult<Arc<T>> {
        let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
        live.remove(&token).ok_or_else(|| self.invalid(token))
    }

    fn invalid(&self, token: usize) -> FfiError {
        FfiError::new(
            CRM_ERR_INVALID_HANDLE,
            format!("{} {token:#x} is closed or was never opened", self.what),
            Some(self.what),
        )
    }
}

pub(crate) static CRMS: Registry<Crm> = Registry::new("crm_t handle");

pub(crate) fn token_of<T>(p: *const T) -> usize {
    p as usize
}

pub(crate) fn ptr_of<T>(token: usize) -> *mut T {
    std::ptr::without_provenance_mut(token)
}

/// The database behind a handle argument.
pub(crate) fn crm_arg(h: *const crm_t) -> FfiResult<Arc<Crm>> {
    if h.is_null() {
        return Err(FfiError::null("crm"));
    }
    CRMS.get(token_of(h))
}

fn open(out: *mut *mut crm_t, f: impl FnOnce() -> FfiResult<Crm>) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: checked non-NULL; the caller passes a writable `crm_t *`.
        unsafe { out.write(std::ptr::null_mut()) };
        let crm = f()?;
        unsafe { out.write(ptr_of(CRMS.insert(crm))) };
        Ok(())
    })
}

/// Opens a database with default settings and stores the handle in `*out`: a SQLite file
/// (created if missing), or a PostgreSQL database by URL
/// (`postgresql://user:password@host:5432/dbname`, PostgreSQL 13 or newer; crm's tables are
/// created in the database, or in the first schema of `options=-csearch_path%3Dname`).
///
/// - `path`: a file path or a URL; UTF-8, NUL-terminated, at most `CRM_MAX_STRING_LEN`
///   bytes; borrowed for the call.
/// - `out`: receives the handle (NULL on failure). Close it with `crm_close`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`,
/// `CRM_ERR_VALIDATION` (a malformed URL or an unknown scheme; field `url`),
/// `CRM_ERR_SCHEMA_TOO_NEW` (the database was written by a newer crm), `CRM_ERR_UNAVAILABLE`
/// (no server at the URL, no such database), `CRM_ERR_STORAGE` (not a database, cannot be
/// created, `storage error (auth)` for refused credentials, `storage error (unsupported)`
/// for a server older than PostgreSQL 13, ...), `CRM_ERR_IO`. Nothing is created on failure.
/// Thread safety: safe from any thread; several handles may be open on one database.
///
/// # Safety
/// `path` is NULL or a readable C string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn crm_open(path: *const c_char, out: *mut *mut crm_t) -> crm_status {
    open(out, || Ok(Crm::open(text(path, "path")?)?))
}

/// Opens a database file with settings given as JSON in the shape of crm-core's `CrmConfig`,
/// e.g. `{"validation":{"default_region":"SG"},"sqlite":{"synchronous":"full"}}`; NULL or
/// `"{}"` means the defaults. Unknown keys are an error.
///
/// - `path`: as for `crm_open`. `config_json`: NULL or UTF-8 JSON, at most `CRM_MAX_JSON_LEN`
///   bytes; borrowed for the call.
/// - `out`: receives the handle (NULL on failure). Close it with `crm_close`.
///
/// JSON Schema of `config_json`: `include/schema/config.json`.
///
/// Errors: those of `crm_open`, plus `CRM_ERR_INVALID_JSON` for a config that does not parse
/// and `CRM_ERR_VALIDATION` for a config whose values are out of range.
///
/// # Safety
/// As for `crm_open`; `config_json` is NULL or a readable C string.
#[no_mangle]
pub unsafe extern "C" fn crm_open_with(
    path: *const c_char,
    config_json: *const c_char,
    out: *mut *mut crm_t,
) -> crm_status {
    open(out, || {
        let path = text(path, "path")?;
        let config: CrmConfig = opt_json_arg(config_json, "config_json")?;
        Ok(Crm::open_with(path, config)?)
    })
}

/// Opens a private in-memory database (default settings), gone when closed. For tests and
/// scratch work.
///
/// - `out`: receives the handle (NULL on failure). Close it with `crm_close`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_STORAGE`.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn crm_open_in_memory(out: *mut *mut crm_t) -> crm_status {
    open(out, || Ok(Crm::in_memory()?))
}

/// Closes a handle. NULL is a no-op returning `CRM_OK`.
///
/// The database is closed as soon as calls still running on other threads with this handle
/// return. Afterwards every call with the handle, including a second `crm_close`, fails with
/// `CRM_ERR_INVALID_HANDLE` (handles are never reused, so this is always detected). Cursors
/// opened from the handle then fail the same way; free them with their free function.
///
/// Errors: `CRM_ERR_INVALID_HANDLE`.
///
/// # Safety
/// None beyond passing a value returned by `crm_open*` or NULL; any other value is reported.
#[no_mangle]
pub unsafe extern "C" fn crm_close(crm: *mut crm_t) -> crm_status {
    ffi_call(|| {
        if !crm.is_null() {
            CRMS.remove(token_of(crm))?;
        }
        Ok(())
    })
}
