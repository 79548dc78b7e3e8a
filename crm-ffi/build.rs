//! Gives the shared library an soname carrying the ABI version, so that a host linked
//! against `libcrm.so.1` never loads an incompatible `libcrm.so.2`. Keep the number equal
//! to `CRM_ABI_VERSION` in src/lib.rs (a unit test checks).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcrm.so.1");
    }
}
