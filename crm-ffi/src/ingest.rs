//! Bulk import of a CSV or JSON Lines file, with an optional progress callback.

use std::ffi::{c_char, c_void};
use std::ops::ControlFlow;

use crm_core::ingest::{IngestOptions, Progress, RecordKind};
use serde::Deserialize;

use crate::convert::{clear_out, opt_json_arg, out_ptr, text, write_json_opt};
use crate::error::{crm_status, ffi_call, FfiError};
use crate::handle::{crm_arg, crm_t};

/// `kind` as a `RecordKind`, or `CRM_ERR_INVALID_ARGUMENT` naming the accepted kinds.
pub(crate) fn record_kind(kind: &str) -> Result<RecordKind, FfiError> {
    RecordKind::from_name(kind)
        .ok_or_else(|| FfiError::argument("kind", format!("kind {kind:?} is not one of {}", RecordKind::names())))
}

/// Progress of a bulk import, called after each committed batch on the calling thread:
/// `done` rows processed so far, `total` the rows in the file (counted up front from its
/// lines, so an estimate when CSV cells hold newlines) or -1 when unknown, and the `user`
/// pointer given to `crm_ingest_file`.
///
/// Return `true` to go on, `false` to cancel the import. A cancelled import keeps every
/// batch committed so far (each batch is one transaction: the first `done` rows are
/// processed, none after them is read) and still succeeds, with `"cancelled":true` in its
/// report. It must not call `longjmp` or throw a C++ exception through the library; it may
/// call other crm functions.
pub type crm_progress_fn = Option<unsafe extern "C" fn(done: u64, total: i64, user: *mut c_void) -> bool>;

#[derive(Deserialize, Default, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Options {
    batch_size: Option<usize>,
    max_errors: Option<usize>,
    ignore_unknown_columns: bool,
    /// The system the rows' customer keys belong to (see `crm_customer_upsert_from`).
    source: Option<String>,
}

/// Imports a CSV (`.csv`) or JSON Lines (`.jsonl`, `.ndjson`) file of one kind of record,
/// batch by batch; each batch is one transaction. Every valid row is stored; refused rows are
/// reported. Records carry external ids, so importing the same file again changes nothing.
/// CSV columns are crm-core's `CUSTOMER_COLUMNS`, `ORDER_COLUMNS` and `INTERACTION_COLUMNS`.
///
/// - `kind`: `"customers"`, `"orders"` or `"interactions"`. `path`: the file. Both UTF-8,
///   NUL-terminated, borrowed for the call.
/// - `options_json`: NULL, or `{"batch_size":20000,"max_errors":10000,
///   "ignore_unknown_columns":false,"source":null}` (every key optional): rows per
///   transaction, refused rows kept in the report (all are counted), whether CSV columns
///   that are not columns of `kind` are skipped (and listed in the report) instead of
///   refusing the file, and the system the rows come from: with a `source`, the rows'
///   customer external ids are that system's keys (identities, see
///   `crm_customer_upsert_from`; field `source` of a `CRM_ERR_VALIDATION` when malformed).
/// - `progress`: NULL, or called after each batch (see `crm_progress_fn`) with `user`; it
///   may cancel the import by returning `false`.
/// - `out_report_json`: required; receives `{"rows":n,"created":n,"updated":n,"unchanged":n,
///   "failed":n,"errors":[{"row":line,"field":"email"|null,"reason":"..."}],"cancelled":b,
///   "ignored_columns":["..."]}` (NULL on failure), `cancelled` being true when `progress`
///   stopped the import before the end of the file. Free it with `crm_string_free`.
///
/// CSV header names match whatever their case (surrounding spaces and a UTF-8 BOM are
/// ignored). Customers are merged as by `crm_customer_upsert`: a column that is absent keeps
/// the stored values, an empty cell clears the field. Within one import the first row with
/// an external id wins: a later row with the same id is refused with the reason
/// `duplicate external_id "C-1": row 2 was applied`, so importing the file again changes
/// nothing.
///
/// JSON Schema of `options_json`: `include/schema/ingest_options.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_ARGUMENT` (`kind`), `CRM_ERR_INVALID_JSON`
/// (`options_json`), `CRM_ERR_VALIDATION` (field `path` for an unknown extension, `header` for
/// a bad CSV header), `CRM_ERR_IO` (cannot read the file), `CRM_ERR_STORAGE`. Batches committed
/// before a failure stay committed. Thread safety: see `crm_t`; other threads may use the
/// handle during an import.
///
/// # Safety
/// Pointers are NULL or valid for their documented use; `progress` is NULL or a function of
/// the documented signature.
#[no_mangle]
pub unsafe extern "C" fn crm_ingest_file(
    crm: *const crm_t,
    kind: *const c_char,
    path: *const c_char,
    options_json: *const c_char,
    progress: crm_progress_fn,
    user: *mut c_void,
    out_report_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_report_json, "out_report_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let kind = record_kind(text(kind, "kind")?)?;
        let path = text(path, "path")?;
        let o: Options = opt_json_arg(options_json, "options_json")?;
        let defaults = IngestOptions::default();
        let mut report_progress = |p: Progress| {
            let total = p.rows_total.and_then(|n| i64::try_from(n).ok()).unwrap_or(-1);
            match progress {
                Some(f) if !f(p.rows_done, total, user) => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            }
        };
        let opts = IngestOptions {
            batch_size: o.batch_size.unwrap_or(defaults.batch_size),
            max_errors: o.max_errors.unwrap_or(defaults.max_errors),
            ignore_unknown_columns: o.ignore_unknown_columns,
            source: o.source.as_deref(),
            progress: if progress.is_some() { Some(&mut report_progress) } else { None },
            ..defaults
        };
        let report = crm.ingest_file(kind, path, opts)?;
        write_json_opt(out, &report)
    })
}
