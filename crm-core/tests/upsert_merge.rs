//! Customer upserts never lose what the caller did not send (absent keeps, null clears,
//! objects merge, `UpsertMode::Replace` only on request); one external-id normalisation on
//! every way in and every lookup; phones read with the record's country; typed id lookups.

mod common;

use crm_core::*;
use serde_json::json;

fn patch(v: serde_json::Value) -> CustomerPatch {
    serde_json::from_value(v).unwrap()
}

fn snapshot(crm: &Crm) -> (Counts, Vec<Change>, Vec<Customer>) {
    let customers = crm.query_customers(&CustomerQuery { limit: 1000, ..Default::default() }).unwrap().items;
    (crm.counts().unwrap(), crm.changes_since(0, 10_000).unwrap(), customers)
}

/// A customer with every kind of data a marketing system sets besides the ERP.
fn rich(crm: &Crm) -> Customer {
    crm.upsert_customer_patch(
        &patch(json!({
            "external_id": "C-1", "kind": "company", "name": "Acme", "email": "sales@acme.example",
            "phone": "+49 151 23456789", "title": "Buyer",
            "address": {"country": "DE", "city": "Berlin", "street": "Hauptstr. 1"},
            "tags": ["vip", "newsletter"], "attributes": {"plan": "gold", "score": 7},
            "consents": {"email_marketing": {"granted": true, "at": "2026-01-01T00:00:00Z"},
                         "profiling": {"granted": false, "at": "2026-01-02T00:00:00Z"}},
            "lifecycle": "active"
        })),
        UpsertMode::Merge,
    )
    .unwrap()
    .record
}

#[test]
fn an_erp_sync_keeps_what_it_does_not_send() {
    let crm = common::test_crm();
    let before = rich(&crm);
    // The nightly sync knows the name, the email and the city only (a NewCustomer, as the
    // typed C call and Rust hosts send it).
    let sync = NewCustomer {
        external_id: Some("C-1".into()),
        name: "Acme GmbH".into(),
        email: Some("info@acme.example".into()),
        address: Address { city: Some("Hamburg".into()), ..Default::default() },
        ..Default::default()
    };
    let w = crm.upsert_customer(&sync).unwrap();
    assert_eq!(w.outcome, Outcome::Updated);
    let after = w.record;
    assert_eq!((after.name.as_str(), after.email.as_deref()), ("Acme GmbH", Some("info@acme.example")));
    assert_eq!(after.address.city.as_deref(), Some("Hamburg"));
    assert_eq!(after.address.country, before.address.country, "address parts merge one by one");
    assert_eq!(after.address.street, before.address.street);
    assert_eq!((after.kind, &after.phone, &after.title), (before.kind, &before.phone, &before.title));
    assert_eq!(after.tags, before.tags);
    assert_eq!(after.attributes, before.attributes);
    assert_eq!(after.consents, before.consents);
    assert_eq!((after.lifecycle, after.created_at), (before.lifecycle, before.created_at));
    // The same sync again is a no-op: no write, no feed entry.
    let (_, feed, _) = snapshot(&crm);
    assert_eq!(crm.upsert_customer(&sync).unwrap().outcome, Outcome::Unchanged);
    assert_eq!(snapshot(&crm).1, feed);
}

#[test]
fn json_absent_keeps_null_clears_and_objects_merge() {
    let crm = common::test_crm();
    let before = rich(&crm);
    let w = crm
        .upsert_customer_patch(
            &patch(json!({
                "external_id": "C-1", "email": null, "title": null,
                "address": {"city": null, "region": "BE"},
                "attributes": {"score": null, "segment": "b2b"},
                "consents": {"profiling": null, "sms": {"granted": true, "at": "2026-02-01T00:00:00Z"}},
                "name": null, "kind": null
            })),
            UpsertMode::Merge,
        )
        .unwrap();
    assert_eq!(w.outcome, Outcome::Updated);
    let c = w.record;
    assert_eq!((c.email, c.title), (None, None), "null clears");
    assert_eq!((c.name.as_str(), c.kind), ("Acme", CustomerKind::Company), "null on a required field keeps it");
    assert_eq!(c.phone, before.phone, "absent keeps");
    assert_eq!(
        (c.address.country.as_deref(), c.address.region.as_deref(), c.address.city, c.address.street),
        (Some("DE"), Some("BE"), None, before.address.street.clone())
    );
    assert_eq!(serde_json::Value::Object(c.attributes), json!({"plan": "gold", "segment": "b2b"}));
    assert_eq!(c.consents.keys().map(String::as_str).collect::<Vec<_>>(), ["email_marketing", "sms"]);
    assert_eq!(c.tags, before.tags, "tags not sent are kept");

    // Arrays replace the whole set; null or [] clears it; whole objects clear with null.
    let c = crm.upsert_customer_patch(&patch(json!({"external_id": "C-1", "tags": ["x"]})), UpsertMode::Merge);
    assert_eq!(c.unwrap().record.tags.into_iter().collect::<Vec<_>>(), ["x"]);
    for cleared in [json!(null), json!([])] {
        let c = crm.upsert_customer_patch(&patch(json!({"external_id": "C-1", "tags": cleared})), UpsertMode::Merge);
        assert!(c.unwrap().record.tags.is_empty());
    }
    let c = crm
        .upsert_customer_patch(
            &patch(json!({"external_id": "C-1", "address": null, "attributes": null, "consents": null})),
            UpsertMode::Merge,
        )
        .unwrap()
        .record;
    assert_eq!((c.address, c.attributes.len(), c.consents.len()), (Address::default(), 0, 0));
    assert_eq!(c.name, "Acme");
}

#[test]
fn update_and_upsert_share_the_merge() {
    let crm = common::test_crm();
    let c = rich(&crm);
    let p = patch(json!({"address": {"city": "Munich"}, "attributes": {"plan": null}, "add_tags": ["b2b"]}));
    let u = crm.update_customer(c.id, &p).unwrap();
    assert_eq!((u.address.city.as_deref(), u.address.street.as_deref()), (Some("Munich"), Some("Hauptstr. 1")));
    assert_eq!(serde_json::Value::Object(u.attributes), json!({"score": 7}));
    assert!(u.tags.contains("b2b") && u.tags.contains("vip"));
}

#[test]
fn replace_mode_keeps_the_old_behaviour() {
    let crm = common::test_crm();
    let before = rich(&crm);
    let input = NewCustomer { external_id: Some("C-1".into()), name: "Acme".into(), ..Default::default() };
    let c = crm.upsert_customer_with(&input, UpsertMode::Replace).unwrap().record;
    assert_eq!((c.email, c.phone, c.title), (None, None, None));
    assert_eq!((c.address, c.tags.len(), c.attributes.len(), c.consents.len()), (Address::default(), 0, 0, 0));
    assert_eq!(c.kind, CustomerKind::Person, "a replace without a kind resets it");
    assert_eq!((c.lifecycle, c.created_at, c.id), (before.lifecycle, before.created_at, before.id));
    // The JSON body of a replace is the same shape.
    let c = crm
        .upsert_customer_patch(&patch(json!({"external_id": "C-1", "name": "A", "tags": ["t"]})), UpsertMode::Replace)
        .unwrap()
        .record;
    assert_eq!((c.name.as_str(), c.tags.len()), ("A", 1));
}

#[test]
fn a_name_is_needed_to_create_and_merges_stay_within_limits() {
    let crm = Crm::open_with(
        ":memory:",
        CrmConfig {
            validation: ValidationConfig { max_json_bytes: 64, max_tags: 3, ..Default::default() },
            ..Default::default()
        },
    )
    .unwrap();
    let refused = |p: serde_json::Value, field: &str| {
        let before = snapshot(&crm);
        let e = crm.upsert_customer_patch(&patch(p.clone()), UpsertMode::Merge).unwrap_err();
        assert_eq!(e.field(), Some(field), "{p}: {e}");
        assert_eq!(snapshot(&crm), before, "{p}: nothing may change");
    };
    refused(json!({"external_id": "C-1", "email": "a@example.com"}), "name");
    refused(json!({"name": "No key"}), "external_id");
    refused(json!({"external_id": null, "name": "No key"}), "external_id");
    crm.upsert_customer_patch(
        &patch(json!({"external_id": "C-1", "name": "A", "tags": ["a", "b"], "attributes": {"k1": "x".repeat(20)}})),
        UpsertMode::Merge,
    )
    .unwrap();
    // Without a name, an existing customer keeps theirs.
    let w = crm.upsert_customer_patch(&patch(json!({"external_id": "C-1", "title": "CEO"})), UpsertMode::Merge);
    assert_eq!(w.unwrap().record.name, "A");
    // Each patch alone is within the limits; merged into what is stored it is not.
    refused(json!({"external_id": "C-1", "attributes": {"k2": "y".repeat(30)}}), "attributes");
    let c = crm.get_customer_by_external_id("C-1").unwrap();
    refused(json!({"external_id": "C-1", "add_tags": ["c", "d"]}), "tags");
    let e = crm.update_customer(c.id, &patch(json!({"add_tags": ["c", "d"]}))).unwrap_err();
    assert_eq!(e.field(), Some("tags"));
    refused(json!({"external_id": "C-1", "name": "  "}), "name");
}

#[test]
fn external_ids_have_one_normal_form_on_every_way_in() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Crm::open(dir.path().join("crm.db")).unwrap();
    let ada = crm
        .upsert_customer(&NewCustomer { external_id: Some("C-1".into()), name: "Ada".into(), ..Default::default() })
        .unwrap()
        .record;
    // The example, and its cousins: one customer, not a second one.
    for spelling in ["C-1\u{200b}", "\u{feff}C-1", " C-1\u{a0}", "C-1\u{2060}"] {
        let w = crm
            .upsert_customer(&NewCustomer {
                external_id: Some(spelling.into()),
                name: "Ada".into(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!((w.record.id, w.outcome), (ada.id, Outcome::Unchanged), "{spelling:?}");
        assert_eq!(crm.get_customer_by_external_id(spelling).unwrap().id, ada.id);
        assert_eq!(crm.customer_id_by_external_id(spelling).unwrap(), ada.id);
    }
    let nfd = crm
        .upsert_customer(&NewCustomer {
            external_id: Some("Mu\u{308}ller".into()),
            name: "M".into(),
            ..Default::default()
        })
        .unwrap()
        .record;
    assert_eq!(nfd.external_id.as_deref(), Some("M\u{fc}ller"), "stored in NFC");
    assert_eq!(crm.customer_id_by_external_id("M\u{fc}ller").unwrap(), nfd.id);

    // References and keys of orders and interactions, and their lookups.
    let order: NewOrder = serde_json::from_value(json!({
        "external_id": "O-1\u{200b}", "customer_external_id": "\u{200b}C-1", "occurred_at": "2026-03-01T12:00:00Z",
        "currency": "EUR", "total_minor": 500}))
    .unwrap();
    let o = crm.record_order(&order).unwrap().record;
    assert_eq!((o.external_id.as_str(), o.customer_id), ("O-1", ada.id));
    assert_eq!(crm.order_id_by_external_id(" O-1").unwrap(), o.id);
    assert_eq!(crm.get_order_by_external_id("O-1\u{feff}").unwrap().id, o.id);
    let i: NewInteraction = serde_json::from_value(json!({
        "external_id": "I-1\u{200c}", "customer_external_id": "C-1\u{a0}", "kind": "call",
        "occurred_at": "2026-03-01T12:00:00Z"}))
    .unwrap();
    let i = crm.add_interaction(&i).unwrap().record;
    assert_eq!((i.external_id.as_deref(), i.customer_id), (Some("I-1"), ada.id));
    assert_eq!(crm.interaction_id_by_external_id("I-1\u{200b}").unwrap(), i.id);
    assert_eq!(crm.counts().unwrap(), Counts { customers: 2, orders: 1, interactions: 1 });

    // Bulk ingest normalises the same way.
    let path = dir.path().join("c.csv");
    std::fs::write(&path, "external_id,name\nC-1\u{200b},Ada\n\u{feff}C-1 ,Ada\n").unwrap();
    let r = crm.ingest_file(ingest::RecordKind::Customers, &path, Default::default()).unwrap();
    assert_eq!(
        (r.unchanged, r.failed, r.errors[0].reason.as_str()),
        (1, 1, "duplicate external_id \"C-1\": row 2 was applied")
    );
    assert_eq!(crm.counts().unwrap().customers, 2);

    // A control character inside is refused, nothing written; lookups say why too.
    let before = snapshot(&crm);
    let e = crm
        .upsert_customer(&NewCustomer { external_id: Some("C\u{7}1".into()), name: "B".into(), ..Default::default() })
        .unwrap_err();
    assert_eq!(e.field(), Some("external_id"));
    assert_eq!(snapshot(&crm), before);
    assert_eq!(crm.customer_id_by_external_id("\u{200b}").unwrap_err().field(), Some("external_id"));
}

#[test]
fn typed_lookups_say_not_found() {
    let crm = common::test_crm();
    assert!(matches!(crm.customer_id_by_external_id("C-9"), Err(Error::NotFound { entity: Entity::Customer, .. })));
    assert!(matches!(crm.order_id_by_external_id("O-9"), Err(Error::NotFound { entity: Entity::Order, .. })));
    assert!(matches!(
        crm.interaction_id_by_external_id("I-9"),
        Err(Error::NotFound { entity: Entity::Interaction, .. })
    ));
}

#[test]
fn national_phone_numbers_are_read_with_the_records_country() {
    let crm = common::test_crm(); // no default region
    let up = |v: serde_json::Value| crm.upsert_customer_patch(&patch(v), UpsertMode::Merge);
    let sg = up(json!({"external_id": "C-SG", "name": "S", "phone": "9123 4567", "address": {"country": "SG"}}));
    assert_eq!(sg.unwrap().record.phone.as_deref(), Some("+6591234567"));
    let before = snapshot(&crm);
    let gb = up(json!({"external_id": "C-GB", "name": "G", "phone": "9123 4567", "address": {"country": "GB"}}));
    assert_eq!(gb.unwrap_err().field(), Some("phone"), "not a British number: refused");
    let none = up(json!({"external_id": "C-X", "name": "X", "phone": "9123 4567"}));
    assert!(none.unwrap_err().to_string().contains("nor a default region"));
    assert_eq!(snapshot(&crm), before);
    // On a merge, the country may come from the stored record.
    let c = up(json!({"external_id": "C-SG", "phone": "8123 4567"})).unwrap().record;
    assert_eq!(c.phone.as_deref(), Some("+6581234567"));
    // A country sent with the phone wins over the stored one; a cleared one falls back.
    let c = up(json!({"external_id": "C-SG", "phone": "020 7946 0958", "address": {"country": "GB"}})).unwrap();
    assert_eq!(c.record.phone.as_deref(), Some("+442079460958"));
    let e = up(json!({"external_id": "C-SG", "phone": "9123 4567", "address": {"country": null}})).unwrap_err();
    assert_eq!(e.field(), Some("phone"));

    // The default region is the fallback when a record has no country.
    let crm = Crm::open_with(
        ":memory:",
        CrmConfig {
            validation: ValidationConfig { default_region: Some("SG".into()), ..Default::default() },
            ..Default::default()
        },
    )
    .unwrap();
    let c = crm
        .upsert_customer(&NewCustomer {
            external_id: Some("C-1".into()),
            name: "A".into(),
            phone: Some("9123 4567".into()),
            ..Default::default()
        })
        .unwrap()
        .record;
    assert_eq!(c.phone.as_deref(), Some("+6591234567"));
    let us = crm.create_customer(&NewCustomer {
        name: "B".into(),
        phone: Some("(415) 555-2671".into()),
        address: Address { country: Some("us".into()), ..Default::default() },
        ..Default::default()
    });
    assert_eq!(us.unwrap().phone.as_deref(), Some("+14155552671"), "the record's country beats the default region");
}
