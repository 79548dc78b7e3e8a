//! The `Crm` facade: upserts, partial updates, refunds and deletions keeping statistics
//! right, the change feed, and JSON round trips of every public record type.

mod common;

use chrono::{TimeZone, Utc};
use crm_core::*;
use serde::{de::DeserializeOwned, Serialize};

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: &T) {
    let json = serde_json::to_string(v).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, v, "{json}");
}

fn order(ext: &str, customer: &str, day: u32, minor: i64, status: OrderStatus) -> NewOrder {
    NewOrder {
        external_id: ext.into(),
        customer_id: None,
        customer_external_id: Some(customer.into()),
        occurred_at: Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap(),
        status: Some(status),
        currency: "EUR".parse().unwrap(),
        total_minor: minor,
        channel: Some("web".into()),
        items: Some(vec![LineItem {
            sku: "SKU-1".into(),
            category: Some("shoes".into()),
            quantity: 2,
            unit_price_minor: minor / 2,
        }]),
    }
}

fn full_customer() -> NewCustomer {
    serde_json::from_value(serde_json::json!({
        "external_id": "C-1", "kind": "company", "name": "Acme GmbH", "email": "Sales@Acme.example",
        "phone": "+49 151 23456789", "company": "Acme", "title": "Buyer", "industry": "Retail",
        "address": {"country": "de", "region": "BE", "city": "Berlin", "postal_code": "10115", "street": "Hauptstr. 1"},
        "birthday": "1980-05-06", "gender": "n/a", "tags": ["b2b", "vip"],
        "attributes": {"erp_code": 17, "flags": {"net30": true}},
        "consents": {"email_marketing": {"granted": true, "at": "2026-01-01T00:00:00Z", "source": "form"}},
        "lifecycle": "active", "created_at": "2025-01-01T08:00:00.123456789Z"
    }))
    .unwrap()
}

#[test]
fn json_round_trips_of_every_public_type() {
    let crm = common::test_crm();
    let input = full_customer();
    round_trip(&input);
    let c = crm.upsert_customer(&input).unwrap();
    round_trip(&c);
    round_trip(&c.record);
    let o = crm.record_order(&order("O-1", "C-1", 1, 1000, OrderStatus::Completed)).unwrap().record;
    round_trip(&o);
    round_trip(&order("O-1", "C-1", 1, 1000, OrderStatus::Cancelled));
    let i: NewInteraction = serde_json::from_value(serde_json::json!({
        "external_id": "I-1", "customer_external_id": "C-1", "kind": "survey", "direction": "inbound",
        "occurred_at": "2026-03-02T00:00:00Z", "score": {"nps": 9}, "payload": {"q": "recommend?"}
    }))
    .unwrap();
    round_trip(&i);
    round_trip(&crm.add_interaction(&i).unwrap().record);
    round_trip(&crm.customer_stats(c.record.id).unwrap());
    round_trip(&crm.changes_since(0, 100).unwrap());
    round_trip(&crm.timeline(c.record.id, 10, None).unwrap());
    round_trip(&crm.query_customers(&CustomerQuery::default()).unwrap());
    round_trip(&CustomerQuery {
        filter: CustomerFilter { tags: ["vip".into()].into(), ..Default::default() },
        ..Default::default()
    });
    round_trip(&CustomerPatch { email: Some(None), name: Some("N".into()), ..Default::default() });
    round_trip(&crm.counts().unwrap());
    round_trip(&CrmConfig::default());
    let cfg: CrmConfig = serde_json::from_str(r#"{"sqlite": {"busy_timeout_ms": 2500}}"#).unwrap();
    assert_eq!(cfg.sqlite.busy_timeout, std::time::Duration::from_millis(2500));
}

#[test]
fn normalisation_and_microsecond_times() {
    let crm = common::test_crm();
    let c = crm.upsert_customer(&full_customer()).unwrap().record;
    assert_eq!(c.email.as_deref(), Some("sales@acme.example"));
    assert_eq!(c.phone.as_deref(), Some("+4915123456789"));
    assert_eq!(c.address.country.as_deref(), Some("DE"));
    assert_eq!(c.created_at.timestamp_subsec_nanos(), 123_456_000, "times keep microseconds");
    assert_eq!(crm.get_customer(c.id).unwrap(), c, "what a write returns is what a read returns");
}

#[test]
fn upsert_is_idempotent_and_keeps_what_it_is_not_given() {
    let crm = common::test_crm();
    let first = crm.upsert_customer(&full_customer()).unwrap();
    assert_eq!(first.outcome, Outcome::Created);
    let again = crm.upsert_customer(&full_customer()).unwrap();
    assert_eq!(again.outcome, Outcome::Unchanged);
    assert_eq!(again.record, first.record);
    assert_eq!(crm.changes_since(0, 100).unwrap().len(), 1);
    let mut changed = full_customer();
    changed.title = Some("Head of Buying".into());
    changed.lifecycle = None;
    changed.created_at = None;
    let w = crm.upsert_customer(&changed).unwrap();
    assert_eq!(w.outcome, Outcome::Updated);
    assert_eq!(w.record.lifecycle, LifecycleStage::Active, "absent lifecycle is kept");
    assert_eq!(w.record.created_at, first.record.created_at, "absent created_at is kept");
    assert_eq!(w.record.id, first.record.id);
    let feed = crm.changes_since(0, 100).unwrap();
    assert_eq!((feed.len(), feed[1].op, feed[1].entity, feed[1].id), (2, Op::Update, Entity::Customer, w.record.id.0));
}

#[test]
fn partial_update_semantics() {
    let crm = common::test_crm();
    let c = crm.upsert_customer(&full_customer()).unwrap().record;
    let patch: CustomerPatch = serde_json::from_value(serde_json::json!({
        "email": null, "add_tags": ["gold"], "remove_tags": ["b2b"],
        "attributes": {"erp_code": null, "tier": 2}
    }))
    .unwrap();
    let u = crm.update_customer(c.id, &patch).unwrap();
    assert_eq!(u.email, None);
    assert_eq!(u.phone, c.phone);
    assert_eq!(u.tags.iter().map(String::as_str).collect::<Vec<_>>(), ["gold", "vip"]);
    assert_eq!(u.attributes.get("erp_code"), None);
    assert_eq!(u.attributes["tier"], 2);
    assert_eq!(u.attributes["flags"]["net30"], true);
    assert!(u.updated_at >= c.updated_at);
    assert_eq!(crm.get_customer(c.id).unwrap(), u);
    // An empty patch changes nothing and logs nothing.
    let n = crm.changes_since(0, 100).unwrap().len();
    assert_eq!(crm.update_customer(c.id, &CustomerPatch::default()).unwrap(), u);
    assert_eq!(crm.changes_since(0, 100).unwrap().len(), n);
    // Bad values in a patch are validated like any input.
    let bad = CustomerPatch { phone: Some(Some("123".into())), ..Default::default() };
    assert_eq!(crm.update_customer(c.id, &bad).unwrap_err().field(), Some("phone"));
}

#[test]
fn refunds_cancellations_and_deletions_update_stats() {
    let crm = common::test_crm();
    let c = crm.upsert_customer(&full_customer()).unwrap().record;
    for (n, day) in [(1, 3), (2, 9), (3, 20)] {
        let w = crm.record_order(&order(&format!("O-{n}"), "C-1", day, 1000 * n, OrderStatus::Completed)).unwrap();
        assert_eq!(w.outcome, Outcome::Created);
    }
    let s = crm.customer_stats(c.id).unwrap();
    assert_eq!((s.order_count, s.total_spent[0].minor), (3, 6000));
    let top = crm.top_customers_by_spend("EUR".parse().unwrap(), 5).unwrap();
    assert_eq!(top, vec![(c.clone(), Money::new(6000, "EUR".parse().unwrap()))]);
    assert!(crm.top_customers_by_spend("USD".parse().unwrap(), 5).unwrap().is_empty());
    assert_eq!(crm.top_customers_by_spend("EUR".parse().unwrap(), 0).unwrap_err().field(), Some("limit"));
    // Retry: nothing changes.
    let w = crm.record_order(&order("O-3", "C-1", 20, 3000, OrderStatus::Completed)).unwrap();
    assert_eq!(w.outcome, Outcome::Unchanged);
    // Refund of the latest order moves last_order_at back.
    let w = crm.record_order(&order("O-3", "C-1", 20, 3000, OrderStatus::Refunded)).unwrap();
    assert_eq!((w.outcome, w.record.status), (Outcome::Updated, OrderStatus::Refunded));
    let s = crm.customer_stats(c.id).unwrap();
    assert_eq!((s.order_count, s.total_spent[0].minor), (2, 3000));
    assert_eq!(s.last_order_at, Some(Utc.with_ymd_and_hms(2026, 3, 9, 12, 0, 0).unwrap()));
    // Cancel the first; delete the second: nothing left.
    crm.record_order(&order("O-1", "C-1", 3, 1000, OrderStatus::Cancelled)).unwrap();
    let o2 = crm.get_order_by_external_id("O-2").unwrap();
    crm.delete_order(o2.id).unwrap();
    let s = crm.customer_stats(c.id).unwrap();
    assert_eq!(s, CustomerStats { customer_id: c.id, ..Default::default() });
    // Back to completed counts again.
    crm.record_order(&order("O-3", "C-1", 20, 3000, OrderStatus::Completed)).unwrap();
    assert_eq!(crm.customer_stats(c.id).unwrap().order_count, 1);
}

#[test]
fn interactions_update_stats_and_are_idempotent() {
    let crm = common::test_crm();
    let c = crm.upsert_customer(&full_customer()).unwrap().record;
    let mk = |ext: Option<&str>, day: u32, kind: InteractionKind| NewInteraction {
        external_id: ext.map(str::to_owned),
        customer_id: Some(c.id),
        customer_external_id: None,
        kind,
        channel: None,
        direction: None,
        occurred_at: Utc.with_ymd_and_hms(2026, 4, day, 0, 0, 0).unwrap(),
        subject: None,
        body: None,
        score: None,
        payload: None,
    };
    assert_eq!(crm.add_interaction(&mk(Some("I-1"), 2, InteractionKind::Call)).unwrap().outcome, Outcome::Created);
    assert_eq!(crm.add_interaction(&mk(Some("I-1"), 2, InteractionKind::Call)).unwrap().outcome, Outcome::Unchanged);
    let w = crm.add_interaction(&mk(Some("I-1"), 5, InteractionKind::Complaint)).unwrap();
    assert_eq!(w.outcome, Outcome::Updated);
    assert_eq!(crm.get_interaction(w.record.id).unwrap().kind, InteractionKind::Complaint);
    let other = crm.add_interaction(&mk(None, 3, InteractionKind::Email)).unwrap().record;
    let s = crm.customer_stats(c.id).unwrap();
    assert_eq!(
        (s.interaction_count, s.last_interaction_at),
        (2, Some(Utc.with_ymd_and_hms(2026, 4, 5, 0, 0, 0).unwrap()))
    );
    crm.delete_interaction(w.record.id).unwrap();
    let s = crm.customer_stats(c.id).unwrap();
    assert_eq!((s.interaction_count, s.last_interaction_at), (1, Some(other.occurred_at)));
}

#[test]
fn deleting_a_customer_removes_everything_and_logs_each_row() {
    let crm = common::test_crm();
    let c = crm.upsert_customer(&full_customer()).unwrap().record;
    crm.record_order(&order("O-1", "C-1", 1, 100, OrderStatus::Completed)).unwrap();
    crm.record_order(&order("O-2", "C-1", 2, 100, OrderStatus::Completed)).unwrap();
    let before = crm.changes_since(0, 100).unwrap().last().unwrap().seq;
    crm.delete_customer(c.id).unwrap();
    assert_eq!(crm.counts().unwrap(), Counts::default());
    let tail = crm.changes_since(before, 100).unwrap();
    let ops: Vec<_> = tail.iter().map(|ch| (ch.entity, ch.op)).collect();
    assert_eq!(ops, [(Entity::Order, Op::Delete), (Entity::Order, Op::Delete), (Entity::Customer, Op::Delete)]);
    assert!(matches!(crm.customer_stats(c.id), Err(Error::NotFound { .. })));
    // The external id is free again.
    assert_eq!(crm.upsert_customer(&full_customer()).unwrap().outcome, Outcome::Created);
}

#[test]
fn crm_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Crm>();
}
