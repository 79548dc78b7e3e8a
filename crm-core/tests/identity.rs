//! Identity resolution through the facade, on the store under test (tests/common): the
//! duplicates people and systems make are found with their evidence and clustered,
//! different people who look alike are not, a model round-trips, and every bad setting is
//! a typed error naming its field.

mod common;

use common::test_crm;
use crm_core::identity::{FieldModel, LevelModel, MatchField, MatchModel, MatchSettings, FIELDS};
use crm_core::{Address, Crm, CustomerId, CustomerKind, Error, NewCustomer};

fn person(
    name: &str,
    email: Option<&str>,
    phone: Option<&str>,
    postal: Option<&str>,
    birthday: Option<&str>,
) -> NewCustomer {
    NewCustomer {
        name: name.into(),
        email: email.map(Into::into),
        phone: phone.map(Into::into),
        address: Address {
            country: postal.map(|_| "GB".into()),
            postal_code: postal.map(Into::into),
            city: postal.map(|_| "London".into()),
            ..Default::default()
        },
        birthday: birthday.map(|b| b.parse().unwrap()),
        ..Default::default()
    }
}

/// 200 distinct people (distinct names, mailboxes, phones, postcodes, birthdays), then
/// variants of five of them as other systems would enter them. Returns the facade, and
/// for each variant the pair (original, variant).
fn fixture() -> (Crm, Vec<(CustomerId, CustomerId)>) {
    let crm = test_crm();
    const FIRST: [&str; 20] = [
        "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Ivy", "Leo", "Lily", "Oscar",
        "Freya", "Charlie", "Grace", "Henry", "Ella", "Theo", "Sophia",
    ];
    const LAST: [&str; 10] =
        ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson"];
    let mut ids = Vec::new();
    for i in 0..200 {
        let (first, last) = (FIRST[i % 20], LAST[i / 20]);
        let c = crm
            .create_customer(&person(
                &format!("{first} {last}"),
                Some(&format!("{}.{}{i}@example.com", first.to_lowercase(), last.to_lowercase())),
                Some(&format!("+44 20 7946 {:04}", 1000 + i)),
                Some(&format!("SW{} {}AA", 1 + i % 9, i)),
                Some(&format!("19{:02}-{:02}-{:02}", 50 + i % 40, 1 + i % 12, 1 + i % 28)),
            ))
            .unwrap();
        ids.push(c.id);
    }
    let variant = |n: usize, c: NewCustomer| (ids[n], crm.create_customer(&c).unwrap().id);
    let pairs = vec![
        // The POS: surname first, upper case, no email, the same phone written nationally.
        variant(0, person("SMITH OLIVER", None, Some("020 7946 1000"), Some("sw1 0aa"), None)),
        // The web shop: a typo in the name, no phone.
        variant(
            21,
            person("Amelia Jnoes", Some("amelia.jones21@example.com"), None, Some("SW4 21AA"), Some("1971-10-22")),
        ),
        // The call centre: full-width letters, no address, a typo in the birthday.
        variant(
            43,
            person(
                "Ｉｓｌａ　Ｔａｙｌｏｒ",
                Some("ISLA.TAYLOR43@EXAMPLE.COM"),
                Some("+44 20 7946 1043"),
                None,
                Some("1993-08-18"),
            ),
        ),
        // A new phone and mailbox, but the same name, postcode and birthday.
        variant(
            70,
            person(
                "Leo Brown",
                Some("leo@elsewhere.org"),
                Some("+44 7911 123456"),
                Some("SW8 70AA"),
                Some("1980-11-15"),
            ),
        ),
        // Only the mailbox, written with a +tag, and a misspelt name.
        variant(99, person("Sophia Wiliams", Some("sophia.williams99+shop@example.com"), None, None, None)),
    ];
    (crm, pairs)
}

fn pair_of(a: CustomerId, b: CustomerId) -> (CustomerId, CustomerId) {
    (a.min(b), a.max(b))
}

#[test]
fn the_variants_other_systems_make_are_found_with_their_evidence_and_clustered() {
    let (crm, variants) = fixture();
    let report = crm.find_duplicates(&MatchSettings { threshold: 0.9, ..Default::default() }).unwrap();
    assert_eq!(report.stats.customers, 205);
    let found: Vec<_> = report.pairs.iter().map(|p| (p.a, p.b)).collect();
    for &(a, b) in &variants {
        assert!(found.contains(&pair_of(a, b)), "{a}/{b} not found: {:#?}", report.pairs);
    }
    // Nothing else: the 200 originals are different people.
    assert_eq!(report.pairs.len(), variants.len(), "{:#?}", report.pairs);
    let mut clusters: Vec<Vec<CustomerId>> = variants.iter().map(|&(a, b)| vec![a.min(b), a.max(b)]).collect();
    clusters.sort();
    assert_eq!(report.clusters, clusters);
    // The evidence of the first variant: the name is the same parts, the phone exact (one
    // number in two notations), no email on one side.
    let p = report.pairs.iter().find(|p| (p.a, p.b) == pair_of(variants[0].0, variants[0].1)).unwrap();
    let level = |f: MatchField| p.evidence.iter().find(|e| e.field == f).unwrap().level;
    assert_eq!(level(MatchField::Name), Some("same_parts"));
    assert_eq!(level(MatchField::Phone), Some("exact"));
    assert_eq!(level(MatchField::Email), None);
    assert_eq!(level(MatchField::Address), Some("same_postcode"));
    let total: f64 =
        p.evidence.iter().map(|e| e.weight).sum::<f64>() + (report.model.prior / (1.0 - report.model.prior)).log2();
    assert!((total - p.weight).abs() < 1e-9, "{total} vs {}", p.weight);
    assert!(p.probability >= 0.9 && p.probability <= 1.0);
    // Evidence lists every compared field, in order.
    assert_eq!(p.evidence.iter().map(|e| e.field).collect::<Vec<_>>(), FIELDS);
    // The model says how it was estimated.
    let est = report.model.estimation.as_ref().unwrap();
    assert!(est.candidate_pairs >= 5 && est.u_pairs > 0 && est.iterations >= 1);
}

#[test]
fn the_same_data_and_settings_give_the_same_report_and_a_returned_model_scores_alike() {
    let (crm, _) = fixture();
    let settings = MatchSettings { threshold: 0.5, ..Default::default() };
    let first = crm.find_duplicates(&settings).unwrap();
    assert_eq!(crm.find_duplicates(&settings).unwrap(), first);
    // Scoring with the returned model (now the host's) gives the same pairs.
    let mut model = first.model.clone();
    model.estimation = None;
    let again = crm.find_duplicates(&MatchSettings { model: Some(model), ..settings.clone() }).unwrap();
    assert_eq!(again.pairs, first.pairs);
    assert_eq!(again.model.estimation, None);
    // The JSON form of the model is accepted back.
    let json = serde_json::json!({ "threshold": 0.5, "model": first.model }).to_string();
    let parsed = MatchSettings::from_json(&json).unwrap();
    assert_eq!(crm.find_duplicates(&parsed).unwrap().pairs, first.pairs);
}

#[test]
fn the_threshold_decides_what_is_reported_and_a_host_model_compares_only_its_fields() {
    let (crm, variants) = fixture();
    let all = crm.find_duplicates(&MatchSettings { threshold: 0.0, ..Default::default() }).unwrap();
    assert_eq!(all.pairs.len() as u64, all.stats.candidate_pairs);
    assert!(all.pairs.windows(2).all(|w| w[0].probability >= w[1].probability));
    // A host model that compares mailboxes only: only the +tag variant and those with the
    // same mailbox can reach it.
    let email = FieldModel {
        field: MatchField::Email,
        levels: ["exact", "same_mailbox", "same_local", "similar", "different"]
            .iter()
            .zip([(0.6, 1e-5), (0.3, 1e-5), (0.02, 1e-5), (0.03, 1e-3), (0.05, 0.99898)])
            .map(|(l, (m, u))| LevelModel { level: l.to_string(), m, u })
            .collect(),
    };
    let model = MatchModel { prior: 0.01, fields: vec![email], estimation: None };
    let report =
        crm.find_duplicates(&MatchSettings { threshold: 0.9, model: Some(model), ..Default::default() }).unwrap();
    let (a, b) = variants[4];
    let tagged = report.pairs.iter().find(|p| (p.a, p.b) == pair_of(a, b)).expect("the +tag variant");
    assert_eq!(tagged.evidence.len(), 1);
    assert_eq!(tagged.evidence[0].level, Some("same_mailbox"));
    // The POS variant has no email: no evidence, so only the prior, below the threshold.
    let (a, b) = variants[0];
    assert!(!report.pairs.iter().any(|p| (p.a, p.b) == pair_of(a, b)));
}

#[test]
fn people_are_not_compared_with_companies_and_an_empty_store_has_no_pairs() {
    let crm = test_crm();
    let empty = crm.find_duplicates(&MatchSettings::default()).unwrap();
    assert_eq!((empty.pairs.len(), empty.clusters.len(), empty.stats.customers), (0, 0, 0));
    let mut acme = person("Acme", Some("info@acme.example"), Some("+44 20 7946 0000"), None, None);
    crm.create_customer(&acme).unwrap();
    acme.kind = Some(CustomerKind::Company);
    acme.company = Some("Acme Ltd".into());
    crm.create_customer(&acme).unwrap();
    let report = crm.find_duplicates(&MatchSettings { threshold: 0.0, ..Default::default() }).unwrap();
    assert_eq!(report.stats.candidate_pairs, 0);
}

#[test]
fn blocks_larger_than_the_limit_form_no_pairs_and_are_counted() {
    let crm = test_crm();
    // Twelve records on one switchboard number and nothing else in common.
    for i in 0..12 {
        crm.create_customer(&person(
            &format!("Caller {}", ["Ann", "Bob", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ida", "Jo", "Kim", "Lu"][i]),
            None,
            Some("+44 20 7946 0999"),
            None,
            None,
        ))
        .unwrap();
    }
    let capped =
        crm.find_duplicates(&MatchSettings { threshold: 0.0, max_block_size: 10, ..Default::default() }).unwrap();
    assert_eq!((capped.stats.skipped_blocks, capped.stats.largest_skipped_block), (1, 12));
    assert!(capped.stats.candidate_pairs < 66, "{:?}", capped.stats);
    let open =
        crm.find_duplicates(&MatchSettings { threshold: 0.0, max_block_size: 12, ..Default::default() }).unwrap();
    assert_eq!((open.stats.skipped_blocks, open.stats.candidate_pairs), (0, 66));
}

fn field_of(e: Error) -> String {
    match e {
        Error::Validation { field, .. } => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn every_bad_setting_is_a_validation_error_naming_its_field() {
    let (crm, _) = fixture();
    let bad = |s: MatchSettings| field_of(crm.find_duplicates(&s).unwrap_err());
    let d = MatchSettings::default;
    for t in [-0.01, 1.01, f64::NAN, f64::INFINITY] {
        assert_eq!(bad(MatchSettings { threshold: t, ..d() }), "threshold");
    }
    assert_eq!(bad(MatchSettings { max_block_size: 1, ..d() }), "max_block_size");
    assert_eq!(bad(MatchSettings { max_block_size: 100_001, ..d() }), "max_block_size");
    assert_eq!(bad(MatchSettings { max_iterations: 0, ..d() }), "max_iterations");
    assert_eq!(bad(MatchSettings { max_iterations: 1_001, ..d() }), "max_iterations");
    assert_eq!(bad(MatchSettings { u_pairs: 0, ..d() }), "u_pairs");
    assert_eq!(bad(MatchSettings { u_pairs: 100_000_001, ..d() }), "u_pairs");

    let good = crm.find_duplicates(&MatchSettings::default()).unwrap().model;
    let with = |f: &dyn Fn(&mut MatchModel)| {
        let mut m = good.clone();
        f(&mut m);
        bad(MatchSettings { model: Some(m), ..d() })
    };
    assert_eq!(with(&|m| m.prior = 0.0), "model.prior");
    assert_eq!(with(&|m| m.prior = 1.0), "model.prior");
    assert_eq!(with(&|m| m.prior = f64::NAN), "model.prior");
    assert_eq!(with(&|m| m.fields.clear()), "model.fields");
    assert_eq!(with(&|m| m.fields[1] = m.fields[0].clone()), "model.fields[1].field");
    assert_eq!(
        with(&|m| {
            m.fields[2].levels.pop();
        }),
        "model.fields[2].levels"
    );
    assert_eq!(with(&|m| m.fields[0].levels.swap(0, 1)), "model.fields[0].levels");
    assert_eq!(with(&|m| m.fields[3].levels[1].m = 0.0), "model.fields[3].levels[1].m");
    assert_eq!(with(&|m| m.fields[3].levels[1].u = 1.5), "model.fields[3].levels[1].u");
    assert_eq!(with(&|m| m.fields[0].levels[0].m = f64::INFINITY), "model.fields[0].levels[0].m");

    // JSON: not an object, unknown keys and wrong types are the document's error; bounds
    // are checked on the way in.
    for text in ["[]", "{\"threshold\":\"high\"}", "{\"thresh\":0.5}", "not json", "{\"model\":{\"prior\":0.5}}"] {
        assert_eq!(field_of(MatchSettings::from_json(text).unwrap_err()), "match_settings", "{text}");
    }
    assert_eq!(field_of(MatchSettings::from_json("{\"threshold\":2}").unwrap_err()), "threshold");
    assert_eq!(
        field_of(MatchSettings::from_json(&format!("{}{}", "[".repeat(500), "]".repeat(500))).unwrap_err()),
        "match_settings"
    );
}

/// Pairwise precision and recall of `clusters` against the generator's truth (a record's
/// external id up to the `~`).
fn scores(crm: &Crm, clusters: &[Vec<CustomerId>]) -> (f64, f64) {
    let truth = |id: CustomerId| {
        let e = crm.get_customer(id).unwrap().external_id.unwrap();
        e.split('~').next().unwrap().to_owned()
    };
    let (mut said, mut right) = (0u64, 0u64);
    for c in clusters {
        let t: Vec<String> = c.iter().map(|&id| truth(id)).collect();
        for i in 0..t.len() {
            for j in i + 1..t.len() {
                said += 1;
                right += u64::from(t[i] == t[j]);
            }
        }
    }
    (right as f64 / said.max(1) as f64, right as f64 / crm_core::synth::Synth::new(config()).duplicate_count() as f64)
}

fn config() -> crm_core::synth::SynthConfig {
    crm_core::synth::SynthConfig {
        customers: 3_000,
        duplicates: 0.05,
        orders_per_customer: 0.0,
        interactions_per_customer: 0.0,
        seed: 11,
        ..Default::default()
    }
}

#[test]
fn generated_duplicates_are_found_with_high_precision_and_recall() {
    let crm = test_crm();
    let synth = crm_core::synth::Synth::new(config());
    let r = crm.ingest_customers(synth.customers(), crm_core::ingest::IngestOptions::default()).unwrap();
    assert_eq!((r.created, r.failed), (3_150, 0));
    let report = crm.find_duplicates(&MatchSettings::default()).unwrap();
    let (precision, recall) = scores(&crm, &report.clusters);
    // The benchmark measures 0.998 and 0.988 on 1,000,000; a small store gives the model
    // less to learn from.
    assert!(precision >= 0.95 && recall >= 0.9, "precision {precision:.3}, recall {recall:.3}");
    // Every reported pair has its evidence, and a pair of one true identity that was not
    // reported had a probability under the threshold, not an error.
    assert!(report.pairs.iter().all(|p| p.probability >= 0.95 && p.evidence.len() == 6));
}
