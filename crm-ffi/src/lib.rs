//! C ABI of crm. For now it exposes the library version; the full API (handles, status
//! codes, JSON records, typed hot paths) is built in the C API issue.

use std::ffi::c_char;

/// The library's semantic version as a static NUL-terminated string. Never free it.
#[no_mangle]
pub extern "C" fn crm_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_the_crate_version() {
        let v = unsafe { std::ffi::CStr::from_ptr(super::crm_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
