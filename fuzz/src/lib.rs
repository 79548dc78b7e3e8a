//! What the fuzz targets share: a small in-memory database to check and evaluate rules
//! against, and the contracts every target asserts on the errors it gets back.

use chrono::{DateTime, Utc};
use crm_core::segment::{NewSegment, ScoringPlan, ScoringRule};
use crm_core::{Crm, CustomerId, Error, NewCustomer, NewInteraction, NewOrder};

/// The fixed evaluation time of the rule targets, so that a crash reproduces on any day.
pub fn as_of() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

/// The fixture's customers, orders and interactions as the JSON a host sends.
pub const CUSTOMERS: &[&str] = &[
    r#"{"external_id": "C1", "name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0958",
        "kind": "person", "address": {"country": "GB", "city": "London"}, "tags": ["vip", "early"],
        "attributes": {"plan": "gold", "seats": 3, "beta": true, "list": [1, "x"]},
        "birthday": "1985-12-10", "lifecycle": "loyal", "created_at": "2024-01-01T00:00:00Z",
        "consents": {"email": {"granted": true, "at": "2025-01-01T00:00:00Z"}}}"#,
    r#"{"external_id": "C2", "name": "王伟", "email": "wei@example.cn", "address": {"country": "CN"},
        "tags": ["new"], "attributes": {"plan": "free", "seats": 1.5}, "lifecycle": "active",
        "created_at": "2025-06-01T00:00:00Z"}"#,
    r#"{"external_id": "C3", "name": "Acme Pte Ltd", "kind": "company", "company": "Acme",
        "address": {"country": "SG"}, "created_at": "2025-11-30T00:00:00Z"}"#,
    r#"{"external_id": "C4", "name": "Zoë"}"#,
];

#[allow(missing_docs)]
pub const ORDERS: &[&str] = &[
    r#"{"external_id": "O1", "customer_external_id": "C1", "occurred_at": "2025-12-01T10:00:00Z", "currency": "USD",
        "total_minor": 12000, "channel": "web", "items": [
        {"sku": "S1", "category": "shoes", "quantity": 2, "unit_price_minor": 5000},
        {"sku": "S2", "category": "bags", "quantity": 1, "unit_price_minor": 2000}]}"#,
    r#"{"external_id": "O2", "customer_external_id": "C1", "occurred_at": "2025-03-01T10:00:00Z", "currency": "EUR",
        "total_minor": 999, "status": "refunded", "items": [{"sku": "S3", "category": "hats", "quantity": 1,
        "unit_price_minor": 999}]}"#,
    r#"{"external_id": "O3", "customer_external_id": "C2", "occurred_at": "2025-12-20T08:30:00Z", "currency": "CNY",
        "total_minor": 100000, "channel": "store", "items": [{"sku": "S1", "category": "shoes", "quantity": 1,
        "unit_price_minor": 100000}]}"#,
    r#"{"external_id": "O4", "customer_external_id": "C3", "occurred_at": "2024-06-01T00:00:00Z", "currency": "JPY",
        "total_minor": 5000}"#,
];

#[allow(missing_docs)]
pub const INTERACTIONS: &[&str] = &[
    r#"{"external_id": "I1", "customer_external_id": "C1", "kind": "survey", "occurred_at": "2025-12-02T00:00:00Z",
        "score": {"nps": 9}, "channel": "email"}"#,
    r#"{"external_id": "I2", "customer_external_id": "C2", "kind": "complaint", "occurred_at": "2025-12-21T00:00:00Z",
        "subject": "late"}"#,
];

/// A fresh in-memory database with a few customers (varied fields, attributes, tags and
/// consents), orders in several currencies with line items, interactions, a rule segment
/// `buyers`, a static segment `vip` and a scoring plan `p`, so that every field and reference
/// of the rule language resolves. Returns the customers' ids.
pub fn fixture() -> (Crm, Vec<CustomerId>) {
    let crm = Crm::in_memory().expect("in-memory database");
    let ids: Vec<CustomerId> = CUSTOMERS
        .iter()
        .map(|c| crm.create_customer(&serde_json::from_str::<NewCustomer>(c).unwrap()).unwrap().id)
        .collect();
    for o in ORDERS {
        crm.record_order(&serde_json::from_str::<NewOrder>(o).unwrap()).unwrap();
    }
    for i in INTERACTIONS {
        crm.add_interaction(&serde_json::from_str::<NewInteraction>(i).unwrap()).unwrap();
    }
    let rule = |t: &str| crm_core::rule::parse(t).unwrap();
    crm.create_segment(&NewSegment {
        name: "buyers".into(),
        rule: Some(rule("order_count > 0")),
        ..Default::default()
    })
    .unwrap();
    crm.create_segment(&NewSegment { name: "vip".into(), members: vec![ids[0]], ..Default::default() }).unwrap();
    crm.put_scoring_plan(&ScoringPlan {
        name: "p".into(),
        rules: vec![
            ScoringRule { when: rule(r#""vip" in tags"#), points: 10 },
            ScoringRule { when: rule("order_count >= 1"), points: 5 },
        ],
    })
    .unwrap();
    (crm, ids)
}

/// The errors bad input may get. A storage error means the input reached the engine
/// unchecked (SQLite's own limits: expression depth, variables, string size), which the
/// project treats as a bug: bounds are enforced, with a typed error, before the store.
pub fn assert_typed(e: &Error, what: &str) {
    match e {
        Error::Storage { .. } | Error::Io(_) => panic!("{what}: bad input reached the store: {e:?}"),
        _ => {}
    }
    // The message is the contract's other half: never empty.
    assert!(!e.to_string().is_empty(), "{what}: empty message for {e:?}");
}

/// Checks `expr` against the database; if it checks, counts its members in the store (SQL)
/// and evaluates it for each customer in memory: both must agree.
pub fn check_and_evaluate(crm: &Crm, ids: &[CustomerId], expr: &crm_core::rule::Expr, at: DateTime<Utc>) {
    if let Err(e) = crm.check_rule(expr) {
        assert_typed(&e, "check_rule");
        return;
    }
    let count = match crm.count_matching(expr, Some(at)) {
        Ok(n) => n,
        Err(e) => {
            // It checked "now"; at the fixed time a relative span may still be refused.
            assert_typed(&e, "count_matching");
            return;
        }
    };
    let mut matching = 0;
    for &id in ids {
        match crm.matches_at(id, expr, Some(at)) {
            Ok(true) => matching += 1,
            Ok(false) => {}
            Err(e) => panic!("count_matching accepted the rule but matches_at refused it: {e:?}"),
        }
    }
    assert_eq!(count, matching, "the store and the evaluator disagree on {expr}");
    let members = crm.members_matching(expr, Some(at), None, 100);
    match members {
        Ok(m) => assert_eq!(m.len() as i64, count, "members_matching and count_matching disagree on {expr}"),
        Err(e) => panic!("count_matching accepted the rule but members_matching refused it: {e:?}"),
    }
}

/// Helpers for the targets that go through the C API.
pub mod c {
    use std::ffi::{c_char, CStr, CString};

    use crm::error::crm_status::{self, *};
    use crm::handle::crm_t;

    /// A NUL-terminated copy of `bytes` for a `const char *` argument. An embedded NUL ends
    /// the string early, as it would for a C caller.
    pub fn cstr(bytes: &[u8]) -> CString {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        CString::new(&bytes[..end]).unwrap()
    }

    /// Frees a string the library handed out (NULL is fine), after checking it is UTF-8.
    pub fn take(s: *mut c_char) {
        if !s.is_null() {
            unsafe {
                CStr::from_ptr(s).to_str().expect("the library's output is UTF-8");
                crm::memory::crm_string_free(s);
            }
        }
    }

    /// The C API's contract on a status: never a panic caught at the boundary, never bad
    /// input reaching the storage engine, and a failure always comes with a message.
    pub fn check(st: crm_status, what: &str) -> crm_status {
        if st != CRM_OK {
            let msg = unsafe { CStr::from_ptr(crm::error::crm_last_error_message()) }.to_string_lossy();
            assert_eq!(crm::error::crm_last_error_code(), st, "{what}: last error code");
            assert!(!msg.is_empty(), "{what}: {st:?} without a message");
            assert!(![CRM_ERR_INTERNAL, CRM_ERR_STORAGE, CRM_ERR_IO].contains(&st), "{what}: {st:?}: {msg}");
        }
        st
    }

    /// A fresh in-memory database (`crm_open_in_memory`) holding the fixture's records,
    /// written through the C API.
    pub fn open_fixture() -> *mut crm_t {
        // The phone metadata is shared by the open handles and dropped with the last one;
        // one handle kept open saves parsing it again for every input (a second each).
        static KEEP: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        KEEP.get_or_init(|| {
            let mut keep = std::ptr::null_mut();
            assert_eq!(unsafe { crm::handle::crm_open_in_memory(&mut keep) }, CRM_OK);
            let c = cstr(super::CUSTOMERS[0].as_bytes());
            let st = unsafe {
                crm::customers::crm_customer_create(keep, c.as_ptr(), std::ptr::null_mut(), std::ptr::null_mut())
            };
            assert_eq!(st, CRM_OK);
            keep as usize
        });
        let mut db = std::ptr::null_mut();
        unsafe {
            assert_eq!(crm::handle::crm_open_in_memory(&mut db), CRM_OK);
            for c in super::CUSTOMERS {
                let j = cstr(c.as_bytes());
                let st =
                    crm::customers::crm_customer_create(db, j.as_ptr(), std::ptr::null_mut(), std::ptr::null_mut());
                assert_eq!(st, CRM_OK);
            }
            for o in super::ORDERS {
                let j = cstr(o.as_bytes());
                let (p, q, r) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
                assert_eq!(crm::orders::crm_order_record_json(db, j.as_ptr(), p, q, r), CRM_OK);
            }
            for i in super::INTERACTIONS {
                let j = cstr(i.as_bytes());
                let (p, q, r) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
                assert_eq!(crm::interactions::crm_interaction_add(db, j.as_ptr(), p, q, r), CRM_OK);
            }
            let seg = cstr(br#"{"name": "buyers", "rule": "order_count > 0"}"#);
            let mut out = std::ptr::null_mut();
            assert_eq!(crm::segments::crm_segment_create(db, seg.as_ptr(), &mut out), CRM_OK);
            take(out);
        }
        db
    }
}
