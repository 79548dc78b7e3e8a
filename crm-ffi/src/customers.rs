//! Customers: create, upsert (JSON and typed), get, update with a JSON patch, delete,
//! query (one page, or a cursor over every page), search, statistics, top spenders, timeline.

use std::collections::VecDeque;
use std::ffi::c_char;
use std::sync::Mutex;

use crm_core::{
    AddressPatch, Currency, Customer, CustomerId, CustomerPatch, CustomerQuery, NewCustomer, Outcome, UpsertMode,
};
use serde::Serialize;

use crate::convert::{
    clear_out, json_arg, micros, opt_str_arg, out_ptr, owned_opt, text as text_arg, write_json_opt, write_opt,
    CRM_MAX_STRING_LEN,
};
use crate::error::{crm_status, ffi_call, FfiError, FfiResult};
use crate::handle::{crm_arg, crm_t, ptr_of, token_of, Registry, CRMS};

/// What a write did.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum crm_outcome {
    /// A new record was stored.
    CRM_OUTCOME_CREATED = 0,
    /// An existing record (same external id) was changed.
    CRM_OUTCOME_UPDATED = 1,
    /// An existing record already held exactly this; nothing was written.
    CRM_OUTCOME_UNCHANGED = 2,
}

impl From<Outcome> for crm_outcome {
    fn from(o: Outcome) -> crm_outcome {
        match o {
            Outcome::Created => crm_outcome::CRM_OUTCOME_CREATED,
            Outcome::Updated => crm_outcome::CRM_OUTCOME_UPDATED,
            Outcome::Unchanged => crm_outcome::CRM_OUTCOME_UNCHANGED,
        }
    }
}

/// The common fields of a customer, for the typed upsert. Every pointer is borrowed for the
/// call only; strings are UTF-8 and NUL-terminated. A NULL field is not sent: the stored
/// value is kept (see `crm_customer_upsert_basic`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct crm_customer_in {
    /// The host's key (required): upserting the same key again updates or leaves the customer.
    pub external_id: *const c_char,
    /// Display name: required to create a customer; NULL keeps an existing customer's name.
    pub name: *const c_char,
    /// Email address, or NULL.
    pub email: *const c_char,
    /// Phone number in any common notation (stored as E.164), or NULL. A number without a
    /// `+` country code is read as a number of the customer's country, else of the default region.
    pub phone: *const c_char,
    /// Company, or NULL.
    pub company: *const c_char,
    /// ISO 3166-1 alpha-2 country code of the address, or NULL.
    pub country: *const c_char,
}

/// A customer's statistics (completed orders only). Times are microseconds since the Unix
/// epoch, `INT64_MIN` when there is none. Spend per currency is in `crm_customer_stats_json`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct crm_customer_stats {
    /// The customer.
    pub customer_id: i64,
    /// Number of completed orders.
    pub order_count: i64,
    /// Time of the first completed order, or `INT64_MIN`.
    pub first_order_at_us: i64,
    /// Time of the latest completed order, or `INT64_MIN`.
    pub last_order_at_us: i64,
    /// Number of interactions.
    pub interaction_count: i64,
    /// Time of the latest interaction, or `INT64_MIN`.
    pub last_interaction_at_us: i64,
}

/// Creates a customer from JSON in the shape of crm-core's `NewCustomer`
/// (`{"external_id":"C-1","name":"Ada","email":"ada@example.com","tags":["vip"],...}`).
///
/// - `customer_json`: UTF-8 JSON, at most `CRM_MAX_JSON_LEN` bytes; borrowed for the call.
/// - `out_id`: may be NULL; receives the new customer's id.
/// - `out_json`: may be NULL; receives the stored customer as JSON (NULL on failure).
///   Free it with `crm_string_free`.
///
/// JSON Schema of `customer_json`: `include/schema/customer.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON`, `CRM_ERR_VALIDATION` (with the field),
/// `CRM_ERR_CONFLICT` (the external id is taken; use `crm_customer_upsert` for retries),
/// `CRM_ERR_STORAGE`. Nothing is written on failure. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_create(
    crm: *const crm_t,
    customer_json: *const c_char,
    out_id: *mut i64,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        let input: NewCustomer = json_arg(customer_json, "customer_json")?;
        let c = crm.create_customer(&input)?;
        write_opt(out_id, c.id.0);
        write_json_opt(out_json, &c)
    })
}

/// Creates the customer, or merges the JSON into the customer with the same `external_id`
/// (required), in the shape of crm-core's `CustomerPatch` (a `NewCustomer` is one too):
/// a key that is absent keeps the stored value, `null` clears it; `address`, `attributes`
/// and `consents` merge member by member (a `null` member is removed), `tags` replaces the
/// set (`null` or `[]` clears it). `name` is required to create a customer. External ids
/// are normalised (Unicode NFC; surrounding spaces and invisible characters such as U+200B
/// and U+FEFF removed). Sending the same input twice changes nothing the second time
/// (`CRM_OUTCOME_UNCHANGED`). `crm_customer_upsert_replace` replaces the whole profile instead.
///
/// - `customer_json`: as for `crm_customer_create`.
/// - `out_id`, `out_outcome`: may be NULL. `out_json`: may be NULL; receives the stored customer
///   (NULL on failure); free it with `crm_string_free`.
///
/// JSON Schema of `customer_json`: `include/schema/customer_patch.json`.
///
/// Errors: as for `crm_customer_create`, `CRM_ERR_VALIDATION` (field `external_id`) when the
/// external id is missing, (field `name`) when a new customer has none. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_upsert(
    crm: *const crm_t,
    customer_json: *const c_char,
    out_id: *mut i64,
    out_outcome: *mut crm_outcome,
    out_json: *mut *mut c_char,
) -> crm_status {
    upsert_json(crm, None, customer_json, UpsertMode::Merge, out_id, out_outcome, out_json)
}

/// Creates the customer, or replaces the whole profile of the customer with the same
/// `external_id` (required) by the JSON: what it leaves out is cleared, except the lifecycle
/// stage and the creation time, which are kept when absent. Same JSON, arguments and errors as
/// `crm_customer_upsert`; use it only where the host owns every field of the customer.
///
/// JSON Schema of `customer_json`: `include/schema/customer_patch.json`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_upsert_replace(
    crm: *const crm_t,
    customer_json: *const c_char,
    out_id: *mut i64,
    out_outcome: *mut crm_outcome,
    out_json: *mut *mut c_char,
) -> crm_status {
    upsert_json(crm, None, customer_json, UpsertMode::Replace, out_id, out_outcome, out_json)
}

pub(crate) unsafe fn upsert_json(
    crm: *const crm_t,
    source: Option<*const c_char>,
    customer_json: *const c_char,
    mode: UpsertMode,
    out_id: *mut i64,
    out_outcome: *mut crm_outcome,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        let source = source.map(|s| crate::convert::text(s, "source")).transpose()?;
        let input: CustomerPatch = json_arg(customer_json, "customer_json")?;
        let w = match source {
            None => crm.upsert_customer_patch(&input, mode)?,
            Some(s) => crm.upsert_customer_patch_from(s, &input, mode)?,
        };
        write_opt(out_id, w.record.id.0);
        write_opt(out_outcome, w.outcome.into());
        write_json_opt(out_json, &w.record)
    })
}

/// Typed upsert of a customer's common fields (the ERP hot path), merged like
/// `crm_customer_upsert`: a NULL field is not sent and keeps the stored value; a non-NULL
/// field replaces it, an empty string clearing it as an empty CSV cell does (an empty `name`
/// is refused: a name cannot be cleared). Every field not in `crm_customer_in` (tags, attributes, consents,
/// the other address parts, ...) is kept; changing or clearing those needs
/// `crm_customer_upsert` with JSON.
///
/// - `customer`: required; its strings are borrowed for the call (at most `CRM_MAX_STRING_LEN`
///   bytes each; the core's field limits are tighter).
/// - `out_id`, `out_outcome`: may be NULL.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT` (also for a NULL `external_id`), `CRM_ERR_INVALID_HANDLE`,
/// `CRM_ERR_INVALID_UTF8`, `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (field `name` for a new
/// customer without one), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_upsert_basic(
    crm: *const crm_t,
    customer: *const crm_customer_in,
    out_id: *mut i64,
    out_outcome: *mut crm_outcome,
) -> crm_status {
    ffi_call(|| {
        let crm = crm_arg(crm)?;
        let c = customer.as_ref().ok_or_else(|| FfiError::null("customer"))?;
        let sent = |p: *const c_char, arg: &str| owned_opt(p, arg).map(|v| v.map(Some));
        let country = sent(c.country, "country")?;
        let input = CustomerPatch {
            external_id: Some(Some(text_arg(c.external_id, "external_id")?.to_owned())),
            name: owned_opt(c.name, "name")?,
            email: sent(c.email, "email")?,
            phone: sent(c.phone, "phone")?,
            company: sent(c.company, "company")?,
            address: country.map(|country| Some(AddressPatch { country: Some(country), ..Default::default() })),
            ..Default::default()
        };
        let w = crm.upsert_customer_patch(&input, UpsertMode::Merge)?;
        write_opt(out_id, w.record.id.0);
        write_opt(out_outcome, w.outcome.into());
        Ok(())
    })
}

/// The store id of the customer with this external id (normalised as on the way in).
///
/// - `external_id`: UTF-8, NUL-terminated; borrowed for the call.
/// - `out_id`: required; written on success only.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (an id that is empty once normalised, or holds a
/// control character), `CRM_ERR_NOT_FOUND` (no such customer), `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_id_by_external_id(
    crm: *const crm_t,
    external_id: *const c_char,
    out_id: *mut i64,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_id, "out_id")?;
        let crm = crm_arg(crm)?;
        out.write(crm.customer_id_by_external_id(text_arg(external_id, "external_id")?)?.0);
        Ok(())
    })
}

/// Reads a customer by id.
///
/// - `out_json`: required; receives the customer as JSON (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_get(crm: *const crm_t, id: i64, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let c = crm_arg(crm)?.get_customer(CustomerId(id))?;
        write_json_opt(out, &c)
    })
}

/// Reads a customer by the host's external id (normalised as on the way in).
///
/// - `external_id`: UTF-8, NUL-terminated; borrowed for the call.
/// - `out_json`: required; receives the customer as JSON (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND`, `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_get_by_external_id(
    crm: *const crm_t,
    external_id: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let c = crm.get_customer_by_external_id(text_arg(external_id, "external_id")?)?;
        write_json_opt(out, &c)
    })
}

/// Applies a partial update given as JSON in the shape of crm-core's `CustomerPatch`
/// (`{"email":null,"add_tags":["vip"],"attributes":{"plan":"gold"}}`: absent fields are left
/// alone, `null` clears a field, attributes merge key by key).
///
/// - `patch_json`: UTF-8 JSON, at most `CRM_MAX_JSON_LEN` bytes; borrowed for the call.
/// - `out_json`: may be NULL; receives the customer as stored (NULL on failure). Free it with
///   `crm_string_free`.
///
/// JSON Schema of `patch_json`: `include/schema/customer_patch.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON`, `CRM_ERR_NOT_FOUND`, `CRM_ERR_VALIDATION`,
/// `CRM_ERR_CONFLICT` (new external id taken), `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_update(
    crm: *const crm_t,
    id: i64,
    patch_json: *const c_char,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        clear_out(out_json);
        let crm = crm_arg(crm)?;
        let patch: CustomerPatch = json_arg(patch_json, "patch_json")?;
        let c = crm.update_customer(CustomerId(id), &patch)?;
        write_json_opt(out_json, &c)
    })
}

/// Deletes a customer with all their orders and interactions.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// `crm` is NULL or a handle value.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_delete(crm: *const crm_t, id: i64) -> crm_status {
    ffi_call(|| Ok(crm_arg(crm)?.delete_customer(CustomerId(id))?))
}

/// One page of customers matching a query given as JSON in the shape of crm-core's
/// `CustomerQuery`: `{"filter":{"country":"SG","min_orders":2,"tags":["vip"]},
/// "sort":"last_order_at","descending":true,"limit":50,"cursor":null}` (every key optional;
/// `limit` 1 to 10000, default 100). NULL means the default query.
///
/// - `out_page_json`: required; receives `{"items":[customer...],"next_cursor":"..."|null}`
///   (NULL on failure). Pass `next_cursor` back as `"cursor"` for the next page, or use
///   `crm_customer_cursor_open`. Free it with `crm_string_free`.
///
/// JSON Schema of `query_json`: `include/schema/customer_query.json`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_INVALID_JSON`, `CRM_ERR_VALIDATION` (`limit`, `cursor`),
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_query(
    crm: *const crm_t,
    query_json: *const c_char,
    out_page_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_page_json, "out_page_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let q = query_arg(query_json)?;
        write_json_opt(out, &crm.query_customers(&q)?)
    })
}

unsafe fn query_arg(query_json: *const c_char) -> FfiResult<CustomerQuery> {
    crate::convert::opt_json_arg(query_json, "query_json")
}

/// Customers whose email or phone starts with, or whose name or company contains, `text`
/// (ASCII case-insensitive), by id, at most `limit` (1 to 10000).
///
/// - `text`: UTF-8, NUL-terminated; borrowed for the call.
/// - `out_json`: required; receives a JSON array of customers (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (`limit`, `text`), `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_search(
    crm: *const crm_t,
    text: *const c_char,
    limit: usize,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        write_json_opt(out, &crm.search_customers(text_arg(text, "text")?, limit)?)
    })
}

/// A customer's statistics, typed.
///
/// - `out`: required; written on success only.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_NOT_FOUND`,
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_stats_get(
    crm: *const crm_t,
    id: i64,
    out: *mut crm_customer_stats,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out, "out")?;
        let s = crm_arg(crm)?.customer_stats(CustomerId(id))?;
        out.write(crm_customer_stats {
            customer_id: s.customer_id.0,
            order_count: s.order_count,
            first_order_at_us: micros(s.first_order_at),
            last_order_at_us: micros(s.last_order_at),
            interaction_count: s.interaction_count,
            last_interaction_at_us: micros(s.last_interaction_at),
        });
        Ok(())
    })
}

/// A customer's statistics as JSON, with spend per currency
/// (`"total_spent":[{"minor":4200,"currency":"GBP"}]`).
///
/// - `out_json`: required; receives the JSON (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: as for `crm_customer_stats_get`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_stats_json(crm: *const crm_t, id: i64, out_json: *mut *mut c_char) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.customer_stats(CustomerId(id))?)
    })
}

#[derive(Serialize)]
struct Spender {
    customer: Customer,
    spent: crm_core::Money,
}

/// The customers who spent most in `currency` (completed orders), largest first, at most
/// `limit` (1 to 10000).
///
/// - `currency`: ISO 4217 code such as `"USD"`; borrowed for the call.
/// - `out_json`: required; receives `[{"customer":{...},"spent":{"minor":..,"currency":".."}}]`
///   (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_VALIDATION` (`currency`, `limit`), `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_top_by_spend(
    crm: *const crm_t,
    currency: *const c_char,
    limit: usize,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let currency = Currency::new(text_arg(currency, "currency")?)?;
        let top: Vec<Spender> = crm
            .top_customers_by_spend(currency, limit)?
            .into_iter()
            .map(|(customer, spent)| Spender { customer, spent })
            .collect();
        write_json_opt(out, &top)
    })
}

/// A customer's orders and interactions, newest first, one page of at most `limit`
/// (1 to 10000) entries.
///
/// - `cursor`: NULL for the first page, else the `next_cursor` of the previous page; borrowed.
/// - `out_page_json`: required; receives `{"items":[{"type":"order"|"interaction",
///   "record":{...}}],"next_cursor":"..."|null}` (NULL on failure). Free it with
///   `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_INVALID_UTF8`,
/// `CRM_ERR_TOO_LONG`, `CRM_ERR_NOT_FOUND`, `CRM_ERR_VALIDATION` (`limit`, `cursor`),
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_timeline(
    crm: *const crm_t,
    id: i64,
    limit: usize,
    cursor: *const c_char,
    out_page_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_page_json, "out_page_json")?;
        clear_out(out);
        let crm = crm_arg(crm)?;
        let cursor = opt_str_arg(cursor, CRM_MAX_STRING_LEN, "cursor")?;
        write_json_opt(out, &crm.timeline(CustomerId(id), limit, cursor)?)
    })
}

/// An iterator over every customer matching a query, fetched page by page with the core's
/// keyset cursors. Opaque.
///
/// Thread safety: may be used from any thread; calls on one cursor are serialised internally
/// (two threads sharing one cursor each get different customers).
pub struct crm_customer_cursor {
    _private: [u8; 0],
}

/// The customer cursor type (`typedef struct crm_customer_cursor crm_customer_cursor_t`).
pub type crm_customer_cursor_t = crm_customer_cursor;

struct CustomerCursor {
    crm: usize,
    query: CustomerQuery,
    buf: VecDeque<Customer>,
    done: bool,
}

static CUSTOMER_CURSORS: Registry<Mutex<CustomerCursor>> = Registry::new("crm_customer_cursor_t");

impl CustomerCursor {
    fn fetch(&mut self) -> FfiResult<()> {
        let crm = CRMS.get(self.crm)?;
        let page = crm.query_customers(&self.query)?;
        self.buf.extend(page.items);
        self.done = page.next_cursor.is_none();
        self.query.cursor = page.next_cursor;
        Ok(())
    }
}

/// Opens a cursor over every customer matching `query_json` (as for `crm_customer_query`;
/// its `limit` is the page size fetched at a time, its `cursor` where to start). The first
/// page is fetched now, so a bad query fails here.
///
/// - `out`: required; receives the cursor (NULL on failure). Free it with
///   `crm_customer_cursor_free`. The cursor fails with `CRM_ERR_INVALID_HANDLE` once `crm` is
///   closed.
///
/// JSON Schema of `query_json`: `include/schema/customer_query.json`.
///
/// Errors: as for `crm_customer_query`. Thread safety: see `crm_customer_cursor_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_cursor_open(
    crm: *const crm_t,
    query_json: *const c_char,
    out: *mut *mut crm_customer_cursor_t,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out, "out")?;
        out.write(std::ptr::null_mut());
        crm_arg(crm)?;
        let mut c =
            CustomerCursor { crm: token_of(crm), query: query_arg(query_json)?, buf: VecDeque::new(), done: false };
        c.fetch()?;
        out.write(ptr_of(CUSTOMER_CURSORS.insert(Mutex::new(c))));
        Ok(())
    })
}

/// The next customer of the cursor as JSON in `*out_json`, or NULL in `*out_json` (with
/// `CRM_OK`) when there are no more. Customers written after the cursor was opened appear if
/// they sort after the current position.
///
/// - `out_json`: required; free each customer with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE` (cursor freed, or its `crm_t`
/// closed), `CRM_ERR_STORAGE`. Thread safety: see `crm_customer_cursor_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_cursor_next(
    cursor: *mut crm_customer_cursor_t,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        if cursor.is_null() {
            return Err(FfiError::null("cursor"));
        }
        let cur = CUSTOMER_CURSORS.get(token_of(cursor))?;
        let mut cur = cur.lock().unwrap_or_else(|e| e.into_inner());
        CRMS.get(cur.crm)?;
        if cur.buf.is_empty() && !cur.done {
            cur.fetch()?;
        }
        match cur.buf.pop_front() {
            Some(c) => write_json_opt(out, &c),
            None => Ok(()),
        }
    })
}

/// Frees a customer cursor. NULL is a no-op returning `CRM_OK`; a cursor already freed gives
/// `CRM_ERR_INVALID_HANDLE`.
///
/// # Safety
/// None beyond passing a cursor value or NULL; any other value is reported.
#[no_mangle]
pub unsafe extern "C" fn crm_customer_cursor_free(cursor: *mut crm_customer_cursor_t) -> crm_status {
    ffi_call(|| {
        if !cursor.is_null() {
            CUSTOMER_CURSORS.remove(token_of(cursor))?;
        }
        Ok(())
    })
}
