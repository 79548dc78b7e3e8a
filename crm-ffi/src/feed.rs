//! The change feed (JSON pull call and a typed tailing cursor) and row counts.

use std::collections::VecDeque;
use std::ffi::{c_char, CStr};
use std::sync::Mutex;

use crm_core::{Change, Entity, Op};

use crate::convert::{clear_out, out_ptr, write_json_opt};
use crate::error::{crm_status, ffi_call, guard, FfiError, FfiResult};
use crate::handle::{crm_arg, crm_t, ptr_of, token_of, Registry, CRMS};

/// Kinds of record in the change feed.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum crm_entity {
    /// A customer.
    CRM_ENTITY_CUSTOMER = 0,
    /// An interaction.
    CRM_ENTITY_INTERACTION = 1,
    /// An order.
    CRM_ENTITY_ORDER = 2,
    /// A saved segment.
    CRM_ENTITY_SEGMENT = 3,
    /// A scoring plan.
    CRM_ENTITY_SCORING_PLAN = 4,
    /// The loyalty program (`id` is always 1).
    CRM_ENTITY_LOYALTY_PROGRAM = 5,
    /// An entry of a loyalty ledger.
    CRM_ENTITY_LOYALTY_ENTRY = 6,
}

/// What happened to a record.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum crm_op {
    /// Created.
    CRM_OP_INSERT = 0,
    /// Changed.
    CRM_OP_UPDATE = 1,
    /// Removed.
    CRM_OP_DELETE = 2,
    /// A customer (`ref_id`) entered a segment (`id`).
    CRM_OP_ENTER = 3,
    /// A customer (`ref_id`) left a segment (`id`).
    CRM_OP_LEAVE = 4,
}

/// One entry of the change feed.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct crm_change {
    /// Position in the feed; strictly increasing, never reused.
    pub seq: i64,
    /// Kind of record.
    pub entity: crm_entity,
    /// Store id of the record.
    pub id: i64,
    /// What happened.
    pub op: crm_op,
    /// When the transaction that made the change ran, microseconds since the Unix epoch.
    pub at_us: i64,
    /// The related record, 0 when there is none: the customer who entered or left a segment.
    pub ref_id: i64,
}

impl From<&Change> for crm_change {
    fn from(c: &Change) -> crm_change {
        crm_change {
            seq: c.seq,
            entity: match c.entity {
                Entity::Customer => crm_entity::CRM_ENTITY_CUSTOMER,
                Entity::Interaction => crm_entity::CRM_ENTITY_INTERACTION,
                Entity::Order => crm_entity::CRM_ENTITY_ORDER,
                Entity::Segment => crm_entity::CRM_ENTITY_SEGMENT,
                Entity::ScoringPlan => crm_entity::CRM_ENTITY_SCORING_PLAN,
                Entity::LoyaltyProgram => crm_entity::CRM_ENTITY_LOYALTY_PROGRAM,
                Entity::LoyaltyEntry => crm_entity::CRM_ENTITY_LOYALTY_ENTRY,
            },
            id: c.id,
            op: match c.op {
                Op::Insert => crm_op::CRM_OP_INSERT,
                Op::Update => crm_op::CRM_OP_UPDATE,
                Op::Delete => crm_op::CRM_OP_DELETE,
                Op::Enter => crm_op::CRM_OP_ENTER,
                Op::Leave => crm_op::CRM_OP_LEAVE,
            },
            at_us: c.at.timestamp_micros(),
            ref_id: c.ref_id.unwrap_or(0),
        }
    }
}

/// Each entity kind's name as the JSON feed spells it (crm-core's `Entity::as_str`; a unit
/// test holds the two together).
const ENTITY_NAMES: [(crm_entity, &CStr); 7] = [
    (crm_entity::CRM_ENTITY_CUSTOMER, c"customer"),
    (crm_entity::CRM_ENTITY_INTERACTION, c"interaction"),
    (crm_entity::CRM_ENTITY_ORDER, c"order"),
    (crm_entity::CRM_ENTITY_SEGMENT, c"segment"),
    (crm_entity::CRM_ENTITY_SCORING_PLAN, c"scoring_plan"),
    (crm_entity::CRM_ENTITY_LOYALTY_PROGRAM, c"loyalty_program"),
    (crm_entity::CRM_ENTITY_LOYALTY_ENTRY, c"loyalty_entry"),
];

/// Each operation's name as the JSON feed spells it (crm-core's `Op::as_str`).
const OP_NAMES: [(crm_op, &CStr); 5] = [
    (crm_op::CRM_OP_INSERT, c"insert"),
    (crm_op::CRM_OP_UPDATE, c"update"),
    (crm_op::CRM_OP_DELETE, c"delete"),
    (crm_op::CRM_OP_ENTER, c"enter"),
    (crm_op::CRM_OP_LEAVE, c"leave"),
];

/// The name of a change-feed record kind as a static string, spelt as in the JSON feed
/// (`"customer"`, `"loyalty_entry"`, ...), or `"unknown"` for a value that is not a
/// `crm_entity`; never NULL. Takes an `int` so that any value is safe to pass, and so a host
/// needs no table of its own that goes stale when kinds are added. Never free the result.
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn crm_entity_name(entity: i32) -> *const c_char {
    guard(c"unknown".as_ptr(), || {
        ENTITY_NAMES.iter().find(|(e, _)| *e as i32 == entity).map_or(c"unknown", |(_, n)| n).as_ptr()
    })
}

/// The name of a change-feed operation as a static string, spelt as in the JSON feed
/// (`"insert"`, `"update"`, `"delete"`, `"enter"`, `"leave"`), or `"unknown"` for a value
/// that is not a `crm_op`; never NULL. Takes an `int` so that any value is safe to pass.
/// Never free the result. Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn crm_op_name(op: i32) -> *const c_char {
    guard(c"unknown".as_ptr(), || {
        OP_NAMES.iter().find(|(o, _)| *o as i32 == op).map_or(c"unknown", |(_, n)| n).as_ptr()
    })
}

/// Row counts of the main tables.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct crm_counts {
    /// Customers.
    pub customers: i64,
    /// Orders.
    pub orders: i64,
    /// Interactions.
    pub interactions: i64,
}

/// Change-feed entries with `seq > after_seq` (0 for the start), oldest first, at most
/// `limit` (1 to 10000). Keep the last `seq` you processed and pass it next time.
///
/// - `out_json`: required; receives `[{"seq":1,"entity":"customer","id":1,"op":"insert",
///   "at":"2026-03-01T12:00:00Z"}, ...]` (NULL on failure). Free it with `crm_string_free`.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_VALIDATION` (`limit`),
/// `CRM_ERR_STORAGE`. Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_changes_since(
    crm: *const crm_t,
    after_seq: i64,
    limit: usize,
    out_json: *mut *mut c_char,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_json, "out_json")?;
        clear_out(out);
        write_json_opt(out, &crm_arg(crm)?.changes_since(after_seq, limit)?)
    })
}

/// Row counts.
///
/// - `out`: required; written on success only.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_STORAGE`.
/// Thread safety: see `crm_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_counts_get(crm: *const crm_t, out: *mut crm_counts) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out, "out")?;
        let c = crm_arg(crm)?.counts()?;
        out.write(crm_counts { customers: c.customers, orders: c.orders, interactions: c.interactions });
        Ok(())
    })
}

/// A typed, tailing iterator over the change feed. Opaque.
///
/// Thread safety: may be used from any thread; calls on one cursor are serialised internally.
pub struct crm_change_cursor {
    _private: [u8; 0],
}

/// The change cursor type (`typedef struct crm_change_cursor crm_change_cursor_t`).
pub type crm_change_cursor_t = crm_change_cursor;

struct ChangeCursor {
    crm: usize,
    after: i64,
    page: usize,
    buf: VecDeque<Change>,
}

static CHANGE_CURSORS: Registry<Mutex<ChangeCursor>> = Registry::new("crm_change_cursor_t");

/// Opens a cursor over the change feed after `after_seq` (0 for the start), fetching
/// `page_size` (1 to 10000) entries at a time.
///
/// - `out`: required; receives the cursor (NULL on failure). Free it with
///   `crm_change_cursor_free`. The cursor fails with `CRM_ERR_INVALID_HANDLE` once `crm` is
///   closed.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`, `CRM_ERR_VALIDATION` (`limit`:
/// the page size), `CRM_ERR_STORAGE`. Thread safety: see `crm_change_cursor_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_change_cursor_open(
    crm: *const crm_t,
    after_seq: i64,
    page_size: usize,
    out: *mut *mut crm_change_cursor_t,
) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out, "out")?;
        out.write(std::ptr::null_mut());
        let db = crm_arg(crm)?;
        // Fetch once now so that a bad page size fails here, not at the first `next`.
        let buf = db.changes_since(after_seq, page_size)?.into();
        let c = ChangeCursor { crm: token_of(crm), after: after_seq, page: page_size, buf };
        out.write(ptr_of(CHANGE_CURSORS.insert(Mutex::new(c))));
        Ok(())
    })
}

fn cursor_arg(cursor: *const crm_change_cursor_t) -> FfiResult<std::sync::Arc<Mutex<ChangeCursor>>> {
    if cursor.is_null() {
        return Err(FfiError::null("cursor"));
    }
    CHANGE_CURSORS.get(token_of(cursor))
}

/// The next change into `*out_change`, with `*out_has_change` set to true; or, when the cursor
/// has caught up with the feed, `*out_has_change` false (and `CRM_OK`). Calling again later
/// returns changes committed since: the cursor tails the feed.
///
/// - `out_change`, `out_has_change`: required.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE` (cursor freed, or its `crm_t`
/// closed), `CRM_ERR_STORAGE`. Thread safety: see `crm_change_cursor_t`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_change_cursor_next(
    cursor: *mut crm_change_cursor_t,
    out_change: *mut crm_change,
    out_has_change: *mut bool,
) -> crm_status {
    ffi_call(|| {
        let out_change = out_ptr(out_change, "out_change")?;
        let out_has = out_ptr(out_has_change, "out_has_change")?;
        out_has.write(false);
        let cur = cursor_arg(cursor)?;
        let mut cur = cur.lock().unwrap_or_else(|e| e.into_inner());
        let crm = CRMS.get(cur.crm)?;
        if cur.buf.is_empty() {
            cur.buf = crm.changes_since(cur.after, cur.page)?.into();
        }
        if let Some(c) = cur.buf.pop_front() {
            cur.after = c.seq;
            out_change.write((&c).into());
            out_has.write(true);
        }
        Ok(())
    })
}

/// The `seq` of the last change the cursor returned (or the `after_seq` it was opened with):
/// persist it to resume with `crm_change_cursor_open` later.
///
/// - `out_seq`: required.
///
/// Errors: `CRM_ERR_NULL_ARGUMENT`, `CRM_ERR_INVALID_HANDLE`.
///
/// # Safety
/// Pointers are NULL or valid for their documented use.
#[no_mangle]
pub unsafe extern "C" fn crm_change_cursor_seq(cursor: *const crm_change_cursor_t, out_seq: *mut i64) -> crm_status {
    ffi_call(|| {
        let out = out_ptr(out_seq, "out_seq")?;
        let cur = cursor_arg(cursor)?;
        out.write(cur.lock().unwrap_or_else(|e| e.into_inner()).after);
        Ok(())
    })
}

/// Frees a change cursor. NULL is a no-op returning `CRM_OK`; a cursor already freed gives
/// `CRM_ERR_INVALID_HANDLE`.
///
/// # Safety
/// None beyond passing a cursor value or NULL; any other value is reported.
#[no_mangle]
pub unsafe extern "C" fn crm_change_cursor_free(cursor: *mut crm_change_cursor_t) -> crm_status {
    ffi_call(|| {
        if !cursor.is_null() {
            CHANGE_CURSORS.remove(token_of(cursor))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(p: *const c_char) -> &'static str {
        unsafe { CStr::from_ptr(p) }.to_str().unwrap()
    }

    #[test]
    fn names_are_the_feeds() {
        let entities = [
            Entity::Customer,
            Entity::Interaction,
            Entity::Order,
            Entity::Segment,
            Entity::ScoringPlan,
            Entity::LoyaltyProgram,
            Entity::LoyaltyEntry,
        ];
        let ops = [Op::Insert, Op::Update, Op::Delete, Op::Enter, Op::Leave];
        assert_eq!((entities.len(), ops.len()), (ENTITY_NAMES.len(), OP_NAMES.len()));
        for (i, entity) in entities.into_iter().enumerate() {
            let op = ops[i % ops.len()];
            let c = crm_change::from(&Change { seq: 1, entity, id: 1, op, at: chrono::Utc::now(), ref_id: None });
            assert_eq!(name(crm_entity_name(c.entity as i32)), entity.as_str());
            assert_eq!(name(crm_op_name(c.op as i32)), op.as_str());
        }
        for bad in [-1, 7, 99, i32::MIN] {
            assert_eq!(name(crm_entity_name(bad)), "unknown");
        }
        assert_eq!(name(crm_op_name(5)), "unknown");
    }
}
