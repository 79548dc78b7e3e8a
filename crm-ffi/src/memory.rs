//! The one free function for strings the library hands out.

use std::ffi::{c_char, CString};

use crate::error::guard;

/// Frees a string returned by this library through a `char **` out-parameter (every JSON
/// result). NULL is a no-op. Never pass a string from anywhere else, never free one twice,
/// and never free library strings with `free()`: the library may use another allocator.
/// Strings from `crm_version`, `crm_status_name` and `crm_last_error_*` are static or
/// thread-owned: never pass them here.
///
/// Thread safety: a string may be freed on any thread.
///
/// # Safety
/// `s` is NULL or a string returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn crm_string_free(s: *mut c_char) {
    guard((), || {
        if !s.is_null() {
            drop(CString::from_raw(s));
        }
    })
}
