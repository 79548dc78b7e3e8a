//! Several systems' keys for one customer, through the facade on the store under test
//! (tests/common): identities linked and unlinked, upserts and bulk ingest addressed by any
//! of them, resolution through merges, and every bad argument a typed error that writes
//! nothing.

mod common;

use chrono::{TimeZone, Utc};
use common::test_crm;
use crm_core::identity::{MergeRequest, UnmergeRequest};
use crm_core::ingest::IngestOptions;
use crm_core::*;

fn person(ext: &str, name: &str) -> NewCustomer {
    NewCustomer { external_id: Some(ext.into()), name: name.into(), ..Default::default() }
}

fn order(ext: &str, customer: &str) -> NewOrder {
    serde_json::from_value(serde_json::json!({
        "external_id": ext, "customer_external_id": customer,
        "occurred_at": Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap(), "currency": "EUR", "total_minor": 1000,
    }))
    .unwrap()
}

#[test]
fn upserts_address_a_customer_by_any_identity() {
    let crm = test_crm();
    let erp = crm.upsert_customer(&person("C-1", "Ada")).unwrap().record;
    let linked = crm.add_identity(erp.id, "pos", "P-77").unwrap();
    assert_eq!((linked.customer, linked.source.as_str(), linked.external_id.as_str()), (erp.id, "pos", "P-77"));
    assert_eq!(crm.add_identity(erp.id, "pos", " P-77\u{200b}").unwrap(), linked, "linking again: the same");

    // Known identity: the customer takes the changes and keeps its own external id.
    let w = crm
        .upsert_customer_from("pos", &NewCustomer { email: Some("ada@example.com".into()), ..person("P-77", "") })
        .unwrap();
    assert_eq!(w.outcome, Outcome::Updated);
    assert_eq!((w.record.id, w.record.external_id.as_deref()), (erp.id, Some("C-1")));
    let again = crm
        .upsert_customer_from("pos", &NewCustomer { email: Some("ada@example.com".into()), ..person("P-77", "") })
        .unwrap();
    assert_eq!(again.outcome, Outcome::Unchanged);

    // Unknown identity: a new customer, no primary external id, named by the identity.
    let web = crm.upsert_customer_from("webshop", &person("W-9", "Bo")).unwrap();
    assert_eq!((web.outcome, web.record.external_id.clone()), (Outcome::Created, None));
    assert_eq!(crm.customer_by_identity("webshop", "W-9").unwrap().id, web.record.id);
    assert!(matches!(crm.get_customer_by_external_id("W-9"), Err(Error::NotFound { .. })), "not a primary key");
    // The same key in another system is another customer.
    let other = crm.upsert_customer_from("pos", &person("W-9", "Cy")).unwrap().record;
    assert_ne!(other.id, web.record.id);

    let ids = crm.identities(erp.id).unwrap();
    assert_eq!(ids.iter().map(|i| (i.source.as_str(), i.external_id.as_str())).collect::<Vec<_>>(), [("pos", "P-77")]);
    assert!(matches!(crm.add_identity(web.record.id, "pos", "P-77"), Err(Error::Conflict(_))));
    crm.remove_identity("pos", "P-77").unwrap();
    assert!(matches!(crm.customer_by_identity("pos", "P-77"), Err(Error::NotFound { .. })));
    assert!(matches!(crm.remove_identity("pos", "P-77"), Err(Error::NotFound { .. })));
}

#[test]
fn bulk_ingest_from_a_source_creates_links_and_addresses_orders() {
    let crm = test_crm();
    let erp = crm.upsert_customer(&person("C-1", "Ada")).unwrap().record;
    crm.add_identity(erp.id, "pos", "P-1").unwrap();
    let opts = || IngestOptions { source: Some("pos"), ..Default::default() };
    let r = crm
        .ingest_customers(
            [
                NewCustomer { email: Some("ada@example.com".into()), ..person("P-1", "") },
                person("P-2", "Bo"),
                person("P-2", "Bo again"), // a duplicated row: the first wins
            ],
            opts(),
        )
        .unwrap();
    assert_eq!((r.created, r.updated, r.failed), (1, 1, 1));
    let ada = crm.get_customer(erp.id).unwrap();
    assert_eq!((ada.email.as_deref(), ada.external_id.as_deref()), (Some("ada@example.com"), Some("C-1")));
    let bo = crm.customer_by_identity("pos", "P-2").unwrap();
    assert_eq!((bo.name.as_str(), bo.external_id.clone()), ("Bo", None));
    // Orders naming the system's keys.
    let r = crm.ingest_orders([order("O-1", "P-1"), order("O-2", "P-2"), order("O-3", "P-404")], opts()).unwrap();
    assert_eq!((r.created, r.failed), (2, 1));
    assert_eq!(r.errors[0].field.as_deref(), Some("customer_external_id"));
    assert_eq!(crm.customer_stats(erp.id).unwrap().order_count, 1);
    assert_eq!(crm.customer_stats(bo.id).unwrap().order_count, 1);
    // Ingesting the same rows again changes nothing.
    let r = crm.ingest_customers([person("P-2", "Bo")], opts()).unwrap();
    assert_eq!(r.unchanged, 1);
    // A bad source is refused before anything is read.
    let bad = IngestOptions { source: Some("point of sale"), ..Default::default() };
    assert!(
        matches!(crm.ingest_customers([person("P-3", "Cy")], bad), Err(Error::Validation { ref field, .. }) if field == "source")
    );
    assert!(matches!(crm.customer_by_identity("pos", "P-3"), Err(Error::NotFound { .. })));
}

#[test]
fn identities_resolve_through_merges_and_go_with_deletes() {
    let crm = test_crm();
    let a = crm.upsert_customer(&person("A", "Ada")).unwrap().record.id;
    let b = crm.upsert_customer_from("pos", &person("P-9", "Ada L.")).unwrap().record.id;
    crm.merge_customers(a, b, &MergeRequest::default()).unwrap();
    assert_eq!(crm.customer_by_identity("pos", "P-9").unwrap().id, a);
    let w =
        crm.upsert_customer_from("pos", &NewCustomer { title: Some("Countess".into()), ..person("P-9", "") }).unwrap();
    assert_eq!((w.record.id, w.record.external_id.as_deref()), (a, Some("A")), "the survivor, with its own key");
    let listed = crm.identities(a).unwrap();
    assert_eq!(listed.iter().map(|i| (i.customer, i.external_id.as_str())).collect::<Vec<_>>(), [(b, "P-9")]);
    assert_eq!(crm.identities(b).unwrap(), listed, "the merged id lists its survivor's");
    // Linking to a merged-away customer links to its survivor.
    assert_eq!(crm.add_identity(b, "web", "W-1").unwrap().customer, a);
    crm.unmerge_customer(b, &UnmergeRequest::default()).unwrap();
    assert_eq!(crm.customer_by_identity("pos", "P-9").unwrap().id, b);
    crm.delete_customer(b).unwrap();
    assert!(matches!(crm.customer_by_identity("pos", "P-9"), Err(Error::NotFound { .. })));
    assert_eq!(crm.customer_by_identity("web", "W-1").unwrap().id, a);
}

#[test]
fn bad_identities_are_typed_errors_and_write_nothing() {
    let crm = test_crm();
    let a = crm.upsert_customer(&person("A", "Ada")).unwrap().record.id;
    let feed = crm.changes_since(0, 10_000).unwrap().len();
    let field = |e: Error| match e {
        Error::Validation { field, .. } => field,
        other => panic!("expected a validation error, got {other:?}"),
    };
    for bad in ["", "  ", "point of sale", &"x".repeat(65), "pos\u{0}", "a/b"] {
        assert_eq!(field(crm.add_identity(a, bad, "K").unwrap_err()), "source", "{bad:?}");
        assert_eq!(field(crm.upsert_customer_from(bad, &person("K", "X")).unwrap_err()), "source");
    }
    assert_eq!(field(crm.add_identity(a, "pos", "").unwrap_err()), "external_id");
    assert_eq!(field(crm.add_identity(a, "pos", &"k".repeat(300)).unwrap_err()), "external_id");
    assert!(matches!(crm.add_identity(CustomerId(999), "pos", "K"), Err(Error::NotFound { .. })));
    assert_eq!(field(crm.upsert_customer_from("pos", &person("", "X")).unwrap_err()), "external_id");
    assert!(matches!(crm.identities(CustomerId(999)), Err(Error::NotFound { .. })));
    assert_eq!(crm.changes_since(0, 10_000).unwrap().len(), feed, "nothing written");
    assert!(crm.identities(a).unwrap().is_empty());
}
