//! Incremental matching through the facade, on the store under test (tests/common): one
//! record against the stored customers through the keys every write keeps (creates,
//! updates, upserts, bulk ingest, merges, unmerges, deletes); the match policy suggests or
//! merges as customers are created; every bad option is a typed error naming its field.

mod common;

use common::test_crm;
use crm_core::identity::{
    FieldModel, LevelModel, MatchField, MatchModel, MatchOptions, MatchPolicy, MatchSettings, MergeRequest, PolicyMode,
    SuggestionStatus, UnmergeRequest,
};
use crm_core::ingest::IngestOptions;
use crm_core::*;

fn person(ext: &str, name: &str, email: Option<&str>, phone: Option<&str>) -> NewCustomer {
    NewCustomer {
        external_id: Some(ext.into()),
        name: name.into(),
        email: email.map(Into::into),
        phone: phone.map(Into::into),
        ..Default::default()
    }
}

/// A hand-written model: agreement on the mailbox or the phone is strong evidence, names
/// weaker; a pair agreeing on nothing is unlikely.
fn model() -> MatchModel {
    let field = |f: MatchField, m: &[f64], u: &[f64]| FieldModel {
        field: f,
        levels: f
            .levels()
            .iter()
            .zip(m.iter().zip(u))
            .map(|(l, (m, u))| LevelModel { level: (*l).to_string(), m: *m, u: *u })
            .collect(),
    };
    MatchModel {
        prior: 1e-4,
        fields: vec![
            field(MatchField::Name, &[0.7, 0.1, 0.1, 0.05, 0.05], &[0.001, 0.001, 0.01, 0.05, 0.938]),
            field(MatchField::Email, &[0.8, 0.1, 0.04, 0.03, 0.03], &[1e-6, 1e-6, 1e-4, 1e-3, 0.998_898]),
            field(MatchField::Phone, &[0.8, 0.1, 0.05, 0.05], &[1e-6, 1e-5, 1e-4, 0.999_889]),
        ],
        estimation: None,
    }
}

/// Thirty distinct people with mailboxes and phones.
fn load(crm: &Crm) -> Vec<CustomerId> {
    (0..30)
        .map(|i| {
            crm.upsert_customer(&person(
                &format!("C{i}"),
                &format!("Person{i} Surname{i}"),
                Some(&format!("p{i}@example.com")),
                Some(&format!("+44 20 7946 {:04}", 1000 + i)),
            ))
            .unwrap()
            .record
            .id
        })
        .collect()
}

fn opts() -> MatchOptions {
    MatchOptions { model: Some(model()), ..Default::default() }
}

#[test]
fn a_record_finds_its_stored_duplicate_with_evidence() {
    let crm = test_crm();
    let ids = load(&crm);
    let found =
        crm.match_customer(&person("X", "Person7 Surname7", Some("P7+shop@Example.com"), None), &opts()).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].customer, ids[7]);
    assert!(found[0].probability > 0.99);
    let email = found[0].evidence.iter().find(|e| e.field == MatchField::Email).unwrap();
    assert_eq!(email.level, Some("same_mailbox"));
    // A phone alone, in national notation with the country.
    let mut by_phone = person("Y", "Someone Else", None, Some("020 7946 1003"));
    by_phone.address.country = Some("GB".into());
    let found = crm.match_customer(&by_phone, &opts()).unwrap();
    assert_eq!(found.iter().map(|m| m.customer).collect::<Vec<_>>(), [ids[3]]);
    // A stranger matches nobody; a threshold of 0 returns every candidate, no more than the limit.
    assert!(crm.match_customer(&person("Z", "Nobody", Some("z@z.example"), None), &opts()).unwrap().is_empty());
    let all = MatchOptions { threshold: 0.0, limit: 1, ..opts() };
    assert_eq!(
        crm.match_customer(&person("X", "Person7 Surname7", Some("p7@example.com"), None), &all).unwrap().len(),
        1
    );
    // Companies are not compared with people.
    let mut company = person("Q", "Person7 Surname7", Some("p7@example.com"), None);
    company.kind = Some(CustomerKind::Company);
    assert!(crm.match_customer(&company, &opts()).unwrap().is_empty());
}

#[test]
fn every_write_keeps_the_keys() {
    let crm = test_crm();
    let ids = load(&crm);
    let probe = |email: &str| {
        crm.match_customer(&person("X", "Unrelated Name", Some(email), None), &opts())
            .unwrap()
            .into_iter()
            .map(|m| m.customer)
            .collect::<Vec<_>>()
    };
    assert_eq!(probe("p1@example.com"), [ids[1]]);
    // An update moves the customer from its old mailbox to its new one.
    crm.update_customer(ids[1], &serde_json::from_str(r#"{"email": "new1@example.com"}"#).unwrap()).unwrap();
    assert!(probe("p1@example.com").is_empty());
    assert_eq!(probe("new1@example.com"), [ids[1]]);
    // So does an upsert, and bulk ingest.
    crm.upsert_customer(&person("C2", "", Some("up2@example.com"), None)).unwrap();
    assert_eq!(probe("up2@example.com"), [ids[2]]);
    crm.ingest_customers(
        [
            person("C3", "", Some("bulk3@example.com"), None),
            person("NEW", "Fresh Person", Some("fresh@example.com"), None),
        ],
        IngestOptions::default(),
    )
    .unwrap();
    assert_eq!(probe("bulk3@example.com"), [ids[3]]);
    let fresh = crm.customer_id_by_external_id("NEW").unwrap();
    assert_eq!(probe("fresh@example.com"), [fresh]);
    // A merged-away customer is no candidate; unmerged, it is again.
    crm.merge_customers(ids[4], ids[5], &MergeRequest::default()).unwrap();
    assert!(
        probe("p5@example.com").is_empty(),
        "the merged customer is no candidate; the survivor kept its own mailbox"
    );
    assert_eq!(probe("p4@example.com"), [ids[4]]);
    crm.unmerge_customer(ids[5], &UnmergeRequest::default()).unwrap();
    assert_eq!(probe("p5@example.com"), [ids[5]]);
    // Deleted: gone.
    crm.delete_customer(ids[6]).unwrap();
    assert!(probe("p6@example.com").is_empty());
}

#[test]
fn the_policy_suggests_or_merges_as_customers_are_created() {
    let crm = test_crm();
    let ids = load(&crm);
    crm.set_match_model(&model()).unwrap();
    assert_eq!(crm.match_model().unwrap(), Some(model()));
    crm.set_match_policy(&MatchPolicy { mode: PolicyMode::Suggest, ..Default::default() }).unwrap();
    let dup = crm.upsert_customer(&person("WEB-8", "Person8 Surname8", Some("p8@example.com"), None)).unwrap();
    assert_eq!(dup.outcome, Outcome::Created);
    let open = crm.match_suggestions(Some(SuggestionStatus::Open), 0, 100).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].customer, open[0].candidate), (dup.record.id, ids[8]));
    assert!(open[0].probability >= 0.95);
    crm.resolve_suggestion(open[0].id, SuggestionStatus::Dismissed).unwrap();
    assert!(crm.match_suggestions(Some(SuggestionStatus::Open), 0, 100).unwrap().is_empty());
    assert!(matches!(crm.resolve_suggestion(9_999, SuggestionStatus::Merged), Err(Error::Validation { .. })));
    assert!(matches!(crm.resolve_suggestion(open[0].id, SuggestionStatus::Open), Err(Error::Validation { .. })));

    // Auto-merge: a single upsert and a bulk ingest each end at the stored customer.
    crm.set_match_policy(&MatchPolicy { mode: PolicyMode::AutoMerge, ..Default::default() }).unwrap();
    let w = crm.upsert_customer(&person("WEB-9", "Person9 Surname9", Some("p9@example.com"), None)).unwrap();
    assert_eq!(w.record.id, ids[9], "the write ends at the survivor");
    assert_eq!(crm.get_customer_by_external_id("WEB-9").unwrap().id, ids[9]);
    let history = crm.merge_history(ids[9]).unwrap();
    assert_eq!(history[0].actor.as_deref(), Some("auto-match"));
    assert!(history[0].evidence.as_ref().unwrap()["probability"].as_f64().unwrap() >= 0.95);
    crm.ingest_customers(
        [
            person("WEB-10", "Person10 Surname10", Some("p10@example.com"), None),
            person("WEB-NEW", "Brand New", Some("brand@new.example"), None),
        ],
        IngestOptions::default(),
    )
    .unwrap();
    assert_eq!(crm.get_customer_by_external_id("WEB-10").unwrap().id, ids[10]);
    assert_ne!(crm.get_customer_by_external_id("WEB-NEW").unwrap().id, ids[10]);
    // Off again: nothing happens.
    crm.set_match_policy(&MatchPolicy::default()).unwrap();
    let w = crm.upsert_customer(&person("WEB-11", "Person11 Surname11", Some("p11@example.com"), None)).unwrap();
    assert_ne!(w.record.id, ids[11]);
}

#[test]
fn a_trained_model_is_stored_and_used() {
    let crm = test_crm();
    let ids = load(&crm);
    crm.upsert_customer(&person("DUP", "SURNAME12 Person12", Some("p12@example.com"), None)).unwrap();
    let m = crm.train_match_model(&MatchSettings::default()).unwrap();
    assert_eq!(crm.match_model().unwrap(), Some(m));
    let found = crm
        .match_customer(&person("X", "Person12 Surname12", Some("p12@example.com"), None), &MatchOptions::default())
        .unwrap();
    assert!(found.iter().any(|c| c.customer == ids[12]));
}

#[test]
fn bad_options_are_typed_errors_naming_the_field() {
    let crm = test_crm();
    load(&crm);
    let field = |r: Result<Vec<identity::MatchCandidate>>| match r {
        Err(Error::Validation { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    };
    let rec = person("X", "A", Some("a@example.com"), None);
    assert_eq!(field(crm.match_customer(&rec, &MatchOptions::default())), "model", "no model stored");
    for (o, f) in [
        (MatchOptions { threshold: 1.5, ..opts() }, "threshold"),
        (MatchOptions { threshold: f64::NAN, ..opts() }, "threshold"),
        (MatchOptions { limit: 0, ..opts() }, "limit"),
        (MatchOptions { limit: 1_001, ..opts() }, "limit"),
        (MatchOptions { max_block_size: 1, ..opts() }, "max_block_size"),
        (MatchOptions { model: Some(MatchModel { prior: 2.0, ..model() }), ..opts() }, "model.prior"),
    ] {
        assert_eq!(field(crm.match_customer(&rec, &o)), f);
    }
    assert_eq!(field(crm.match_customer(&person("X", "A", Some("not an email"), None), &opts())), "email");
    let policy = |p: MatchPolicy| match crm.set_match_policy(&p) {
        Err(Error::Validation { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    };
    assert_eq!(policy(MatchPolicy { mode: PolicyMode::Suggest, ..Default::default() }), "model");
    assert_eq!(policy(MatchPolicy { threshold: -0.1, ..Default::default() }), "threshold");
    assert_eq!(policy(MatchPolicy { max_block_size: 0, ..Default::default() }), "max_block_size");
    assert_eq!(crm.match_policy().unwrap(), MatchPolicy::default(), "nothing stored");
    assert!(matches!(crm.match_suggestions(None, 0, 0), Err(Error::Validation { .. })));
    assert!(matches!(
        crm.train_match_model(&MatchSettings { model: Some(model()), ..Default::default() }),
        Err(Error::Validation { .. })
    ));
}
