//! Orders: record (typed hot path and JSON), update (a JSON patch, or the status alone),
//! refund part or all, get by id or external id, list refunds, delete.

use std::ffi::c_char;

use crm_core::{Currency, CustomerId, LineItem, NewOrder, OrderId, OrderPatch, OrderStatus, Refund};

use crate::convert::{clear_out, json_arg, out_ptr, owned_opt, text, time_from_micros, write_json_opt, write_opt};
use crate::customers::crm_outcome;
use crate::error::{crm_status, ffi_call, FfiError, FfiResult};
use crate::handle::{crm_arg, crm_t};

/// Order status values for `crm_order_in.status`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum crm_order_status {
    /// Paid and fulfilled (or being fulfilled); the only status counted in statistics.
    CRM_ORDER_COMPLETED = 0,
    /// Money returned to the customer.
    CRM_ORDER_REFUNDED = 1,
    /// Called off before completion.
    CRM_ORDER_CANCELLED = 2,
    /// Not sent: `crm_order_record` keeps the stored order's status (a new order is
    /// completed). Use it when re-sending orders whose status the ERP does not track, so a
    /// refund recorded with `crm_order_set_status` is not undone.
    CRM_ORDER_KEEP_STATUS = 3,
}

/// An order for `crm_order_record`. Every pointer is borrowed for the call only; strings are
/// UTF-8 and NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct crm_order_in {
    /// The host's key (required); recording the same key again is an idempotent upsert.
    pub external_id: *const c_char,
    /// The customer's store id, or 0 to name the customer by `customer_external_id`.
    pub customer_id: i64,
    /// The customer's external id, or NULL to name the customer by `customer_id`.
    pub customer_external_id: *const c_char,
    /// When the order was placed, microseconds since the Unix epoch (UTC).
    pub occurred_at_us: i64,
    /// A `crm_order_status` value (an `int32_t`, so that an out-of-range value is reported
    /// as `CRM_ERR_VALIDATION` on field `status` instead of being undefined behaviour);
    /// `CRM_ORDER_KEEP_STATUS` keeps a stored order's status.
    pub status: i32,
    /// ISO 4217 currency code, e.g. `"EUR"` (required).
    pub currency: *const c_char,
    /// Total paid, in minor units of `currency`.
    pub total_minor: i64,
    /// Sales channel (`"web"`, `"store"`, ...), or NULL.
    pub channel: *const c_char,
}

/// One line item for `crm_order_record`. Pointers are borrowed for the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct crm_line_item_in {
    /// Stock-keeping unit (required).
    pub sku: *const c_char,
    /// Product category, or NULL.
    pub category: *const c_char,
    /// Quantity, at least 1.
    pub quantity: i64,
    /// Price of one unit, in minor units of the order's currency.
    pub unit_price_minor: i64,
}

/// A `crm_order_status`: `None` for `CRM_ORDER_KEEP_STATUS`.
fn status_or_keep(v: i32) -> FfiResult<Option<OrderStatus>> {
    match v {
        x if x == crm_order_status::CRM_ORDER_COMPLETED as i32 => Ok(Some(OrderStatus::Completed)),
        x if x == crm_order_status::CRM_ORDER_REFUNDED as i32 => Ok(Some(OrderStatus::Refunded)),
        x if x == crm_order_status::CRM_ORDER_CANCELLED as i32 => Ok(Some(OrderStatus::Cancelled)),
        x if x == crm_order_status::CRM_ORDER_KEEP_STATUS as i32 => Ok(None),
        other => Err(FfiError::from(crm_core::Error::validation(
            "status",
            format!("{other} is not a crm_order_status (0 completed, 1 refunded, 2 cancelled, 3 keep)"),
        ))),
    }
}

/// A status to set (`CRM_ORDER_KEEP_STATUS` is not one).
fn status_from(v: i32) -> FfiResult<OrderStatus> {
    status_or_keep(v)?
        .ok_or_else(|| FfiError::from(crm_core::Error::validation("status", "3 (keep) is not a status to set")))
}

unsafe fn new_order(o: &crm_order_in, items: *const crm_line_item_in, n_items: usize) -> FfiResult<NewOrder> {
    let items: Option<&[crm_line_item_in]> = match (items.is_null(), n_items) {
        (true, 0) => None,
        (true, _) => return Err(FfiError::null("items")),
        (false, 0) => Some(&[]),
        (false, n) => Some(std::slice::from_raw_parts(items, n)),
    };
    let items = items.map(|items| items_in(items)).transpose()?;
    Ok(NewOrder {
        external_id: text(o.external_id, "external_id")?.to_owned(),
        customer_id: (o.customer_id != 0).then_some(CustomerId(o.customer_id)),
        customer_external_id: owned_opt(o.customer_external_id, "customer_external_id")?,
        occurred_at: time_from_micros(o.occurred_at_us, "occurred_at")?,
        status: status_or_keep(o.status)?,
        currency: Currency::new(text(o.currency, "currency")?)?,
        total_minor: o.total_minor,
        channel: owned_opt(o.channel, "channel")?,
        items,
    })
}

unsafe fn items_in(items: &[crm_line_item_in]) -> FfiResult<Vec<LineItem>> {
    items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            Ok(LineItem {
                sku: text(it.sku, &format!("items[{i}].sku"))?.to_owned(),
                category: owned_opt(it.category, &format!("items[{i}].category"))?,
                quantity: it.quantity,
                unit_price_minor: it.unit_price_minor,
            })
        })
        .collect::<FfiResult<Vec<_>>>()
}

/// Records an order (the typed hot path): an upsert by `external_id`, so sending the same
/// order twice stores it once; a change (status, total, lines, time, customer) updates it,
/// the customer's statistics and loyalty points in the same transaction. The status is
/// applied unless it is `CRM_ORDER_KEEP_STATUS` (a zeroed struct says `CRM_ORDER_COMPLETED`:
/// re-sending it undoes a refund recorded with `crm_order_set_status`); a NULL `channel`, a
/// NULL `items` and a `customer_id` of 0 with a NULL `customer_external_id` keep what is
/// stored for an existing order. An order with refunds takes the total and lines sent net of
/// them (see `crm_order_refund`).
///
/// - `order`: required; borrowed for the call.
/// - `items`: `n_items` line items, borrowed for the call. NULL (with `n_items` 0): not sent,
///   an existing order keeps its lines; non-NULL with `n_items` 0: the order has no lines.
/// - `out_order_id`, `out_outcome`: may be NULL.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT` (also for a NULL `external_id`, `currency` or `sku`),
/// `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION`
/// (with the field: `currency`, `status`, `occurred_at`, `customer_external_id`,
/// `items[2].quantity`, ...), `CRM_ERR_STORAGE`. Nothing is written on failure.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use; `items` points to `n_items` elements.
#[no_mangle]
pub unsafe extern "C" fn crm_order_record(
    crm: *const crm_t,
    order: *const crm_order_in,
    items: *const crm_line_item_in,
    n_items: usize,
    out_order_id: *mut i64,
    out_outcome: *mut crm_outcome,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let o = order.as_ref().ok_or_else(|| FfiError::null("order"))?;
        let w = crm.record_order(&new_order(o, items, n_items)?)?;
        write_opt(out_order_id, w.record.id.0);
        write_opt(out_outcome, w.outcome.into());
        Ok(())
    })
}

/// Records an order given as JSON in the shape of crm-core's `NewOrder`
/// (`{"external_id":"O-1","customer_external_id":"C-1","occurred_at":"2026-03-01T12:00:00Z",
/// "currency":"GBP","total_minor":4200,"items":[{"sku":"B-1","quantity":2,
/// "unit_price_minor":2100}]}`); semantics as `crm_order_record`.
///
/// - `order_json`: UTF-8 JSON, at most `CRM_MAX_JSON_LEN` bytes; borrowed for the call.
/// - `out_order_id`, `out_outcome`: may be NULL. `out_json`: may be NULL; receives the stored
///   order (NULL on failure); free it with `crm_string_free`.
///
/// JSON Schema of `order_json`: `include/schema/order.json`.
///
/// Errors: as for `crm_order_record`, plus `CRM_ERR_INVALID_JSON`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_order_record_json(
    crm: *const crm_t,
    order_json: *const c_char,
    out_order_id: *mut i64,
    out_outcome: *mut crm_outcome,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        let input: NewOrder = json_arg(order_json, "order_json")?;
        let w = crm.record_order(&input)?;
        write_opt(out_order_id, w.record.id.0);
        write_opt(out_outcome, w.outcome.into());
        write_json_opt(out_json, &w.record)
    })
}

/// Reads an order with its line items.
///
/// - `out_json`: required; receives the order as JSON (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_order_get(crm: *const crm_t, id: i64, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.get_order(OrderId(id))?)
    })
}

/// Reads an order by the host's external id (normalised as on the way in).
///
/// - `external_id`: UTF-8, NUL-terminated; borrowed for the call.
/// - `out_json`: required; receives the order as JSON (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND`, `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_order_get_by_external_id(
    crm: *const crm_t,
    external_id: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        write_json_opt(out, &crm.get_order_by_external_id(text(external_id, "external_id")?)?)
    })
}

/// The store id of the order with this external id (normalised as on the way in).
///
/// - `external_id`: UTF-8, NUL-terminated; borrowed for the call.
/// - `out_id`: required; written on success only.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (an id that is empty once normalised, or holds a
/// control character), `CRM_ERR_NOT_FOUND` (no such order), `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_order_id_by_external_id(
    crm: *const crm_t,
    external_id: *const c_char,
    out_id: *mut i64,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_id, "out_id")?;
        let crm = crm_arg(crm)?;
        out.write(crm.order_id_by_external_id(text(external_id, "external_id")?)?.0);
        Ok(())
    })
}

/// Deletes an order and updates its customer's statistics.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// `crm` is NULL or a handle value.
#[no_mangle]
pub unsafe extern "C" fn crm_order_delete(crm: *const crm_t, id: i64) -> crm_status {
    ffi_call(|| Ok(crm_arg(crm)?.delete_order(OrderId(id))?))
}

/// Applies a partial update to a stored order, given as JSON in the shape of crm-core's
/// `OrderPatch` (`{"status":"refunded"}`, `{"total_minor":3500,"items":[...]}`,
/// `{"customer_external_id":"C-2"}`, `{"channel":null}`): only the fields present change
/// (`"channel": null` clears the channel). Statistics and loyalty points follow in the same
/// transaction.
///
/// - `patch_json`: UTF-8 JSON, at most `CRM_MAX_JSON_LEN` bytes; borrowed for the call.
/// - `out_outcome`: may be NULL (`CRM_OUTCOME_UNCHANGED` when the patch changed nothing).
/// - `out_json`: may be NULL; receives the order as stored (NULL on failure); free it with
///   `crm_string_free`.
///
/// JSON Schema of `patch_json`: `include/schema/order_patch.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON`, `CRM_ERR_NOT_FOUND` (no such order),
/// `CRM_ERR_VALIDATION` (with the field), `CRM_ERR_STORAGE`. Nothing is written on failure.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_order_update(
    crm: *const crm_t,
    order_id: i64,
    patch_json: *const c_char,
    out_outcome: *mut crm_outcome,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        let patch: OrderPatch = json_arg(patch_json, "patch_json")?;
        let w = crm.update_order(OrderId(order_id), &patch)?;
        write_opt(out_outcome, w.outcome.into());
        write_json_opt(out_json, &w.record)
    })
}

/// `crm_order_update` of the order with this external id (UTF-8, NUL-terminated; borrowed).
///
/// JSON Schema of `patch_json`: `include/schema/order_patch.json`.
///
/// Errors: as for `crm_order_update`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_order_update_by_external_id(
    crm: *const crm_t,
    external_id: *const c_char,
    patch_json: *const c_char,
    out_outcome: *mut crm_outcome,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        let ext = text(external_id, "external_id")?;
        let patch: OrderPatch = json_arg(patch_json, "patch_json")?;
        let w = crm.update_order_by_external_id(ext, &patch)?;
        write_opt(out_outcome, w.outcome.into());
        write_json_opt(out_json, &w.record)
    })
}

/// Sets the status of the order with this external id and nothing else (the typed path of
/// an ERP's "order refunded" message): its lines, total and channel stay; statistics and
/// loyalty points follow. Setting the status it has is `CRM_OUTCOME_UNCHANGED`.
///
/// - `external_id`: UTF-8, NUL-terminated; borrowed for the call.
/// - `status`: a `crm_order_status` value.
/// - `out_outcome`: may be NULL.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND`, `CRM_ERR_VALIDATION` (field `status` for a value
/// that is not a `crm_order_status`), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_order_set_status(
    crm: *const crm_t,
    external_id: *const c_char,
    status: i32,
    out_outcome: *mut crm_outcome,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let ext = text(external_id, "external_id")?;
        let w = crm.set_order_status(ext, status_from(status)?)?;
        write_opt(out_outcome, w.outcome.into());
        Ok(())
    })
}

/// Refunds part or all of the completed order with this external id, given as JSON in the
/// shape of crm-core's `Refund`: `{"key":"RF-1","lines":[{"sku":"SHOE-1","quantity":1}]}` or
/// `{"key":"RF-2","amount_minor":500}` (both may be given: the amount is what went back),
/// optionally `"at"` (RFC 3339, not before the order). The refunded units leave the lines,
/// the amount leaves the total (the order is kept net of its refunds: recording it again as
/// sold changes nothing), and the order becomes refunded when nothing is left;
/// statistics and loyalty points follow. The same refund again (same key) is
/// `CRM_OUTCOME_UNCHANGED`; another refund under a used key is `CRM_ERR_CONFLICT`.
///
/// - `external_id`: the order's; `refund_json`: at most `CRM_MAX_JSON_LEN` bytes; both
///   borrowed for the call.
/// - `out_outcome`: may be NULL. `out_json`: may be NULL; receives the order as stored (NULL
///   on failure); free it with `crm_string_free`.
///
/// JSON Schema of `refund_json`: `include/schema/refund.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON`, `CRM_ERR_NOT_FOUND`, `CRM_ERR_CONFLICT`,
/// `CRM_ERR_VALIDATION` (fields `key`, `amount_minor` — none given, or more than is left —,
/// `lines[i].sku`, `lines[i].quantity` — more units than the order holds —, `at`, `status`
/// — the order is not completed), `CRM_ERR_STORAGE`. Nothing is written on failure.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_order_refund(
    crm: *const crm_t,
    external_id: *const c_char,
    refund_json: *const c_char,
    out_outcome: *mut crm_outcome,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        let ext = text(external_id, "external_id")?;
        let refund: Refund = json_arg(refund_json, "refund_json")?;
        let w = crm.refund_order(ext, &refund)?;
        write_opt(out_outcome, w.outcome.into());
        write_json_opt(out_json, &w.record)
    })
}

/// An order's refunds as a JSON array, oldest first (crm-core's `OrderRefund`:
/// `{"order_id","key","amount_minor","lines","at","created_at"}`).
///
/// - `out_json`: required; receives the array (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_order_refunds(crm: *const crm_t, order_id: i64, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.order_refunds(OrderId(order_id))?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_status_is_a_validation_error_on_status() {
        let e = status_from(7).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("status"));
        assert_eq!(status_from(1).unwrap(), OrderStatus::Refunded);
    }
}
