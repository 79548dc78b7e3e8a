//! The core's synthetic data generator, for demos, tests and benchmarks in C hosts.

use std::ffi::c_char;

use crm_core::synth::{Synth, SynthConfig};

use crate::convert::{opt_json_arg, text, write_opt};
use crate::error::{crm_status, ffi_call};
use crate::ingest::record_kind;

/// Writes generated records of one kind to a CSV (`.csv`) or JSON Lines (`.jsonl`, `.ndjson`)
/// file in the layout `crm_ingest_file` reads. The same configuration always gives the same
/// data, and the three kinds of one configuration agree with each other (orders name
/// generated customers by external id).
///
/// - `kind`: `"customers"`, `"orders"` or `"interactions"`. `path`: the file to create or
///   overwrite. Both UTF-8, NUL-terminated, borrowed for the call.
/// - `config_json`: NULL for the defaults, or crm-core's `SynthConfig` as JSON, any key
///   optional: `{"seed":42,"customers":10000,"orders_per_customer":10.0,
///   "interactions_per_customer":3.0,"end":"2026-11-01T00:00:00Z","years":3,
///   "duplicates":0.0}`. `duplicates` (0.0 to 1.0, clamped) adds
///   round(customers * duplicates) labelled duplicates after the customers: perturbed
///   copies of distinct customers whose external id is the original's followed by `~1`
///   (`C00000042~1`), so the true identity of a record is its external id up to the `~`.
/// - `out_rows`: may be NULL; receives the number of records written.
///
/// JSON Schema of `config_json`: `include/schema/synth_config.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`,
/// `CRM_ERR_INVALID_ARGUMENT` (`kind`), `CRM_ERR_INVALID_JSON` (`config_json`),
/// `CRM_ERR_VALIDATION` (field `path` for an unknown extension), `CRM_ERR_IO`.
/// Thread safety: needs no handle; safe from any thread.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_synth_write(
    kind: *const c_char,
    config_json: *const c_char,
    path: *const c_char,
    out_rows: *mut u64,
) -> crm_status {
    ffi_call(|| {
        let kind = record_kind(text(kind, "kind")?)?;
        let path = text(path, "path")?;
        let config: SynthConfig = opt_json_arg(config_json, "config_json")?;
        let n = Synth::new(config).write_file(kind, path)?;
        write_opt(out_rows, n);
        Ok(())
    })
}
