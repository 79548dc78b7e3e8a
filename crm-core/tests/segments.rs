//! Saved segments, snapshots, scoring plans, lifecycle stages and value tiers through the
//! facade, on the store under test (tests/common); and every kind of bad rule refused with
//! nothing changed.

mod common;

use chrono::{DateTime, Duration, Utc};
use crm_core::rule::{parse, Expr};
use crm_core::segment::{LifecycleRules, NewSegment, ScoringPlan, SegmentKind, SegmentPatch, StageRule, TierConfig};
use crm_core::{Change, Crm, CustomerId, Entity, Error, LifecycleStage, NewCustomer, NewOrder, Op};

fn rule(text: &str) -> Expr {
    parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn db() -> (tempfile::TempDir, Crm) {
    let dir = tempfile::tempdir().unwrap();
    let crm = common::test_crm();
    (dir, crm)
}

fn customer(crm: &Crm, ext: &str, country: &str, tags: &[&str]) -> CustomerId {
    crm.create_customer(&NewCustomer {
        external_id: Some(ext.into()),
        name: ext.into(),
        address: crm_core::Address { country: Some(country.into()), ..Default::default() },
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    })
    .unwrap()
    .id
}

fn order(crm: &Crm, ext: &str, c: CustomerId, at: DateTime<Utc>, total: i64, cur: &str) {
    crm.record_order(&NewOrder {
        external_id: ext.into(),
        customer_id: Some(c),
        customer_external_id: None,
        occurred_at: at,
        status: None,
        currency: cur.parse().unwrap(),
        total_minor: total,
        channel: None,
        items: None,
    })
    .unwrap();
}

fn feed(crm: &Crm) -> Vec<Change> {
    crm.changes_since(0, 10_000).unwrap()
}

#[test]
fn dynamic_segment_counts_members_and_snapshots_diffs() {
    let (_d, crm) = db();
    let a = customer(&crm, "a", "CN", &["vip"]);
    let b = customer(&crm, "b", "SG", &[]);
    let c = customer(&crm, "c", "US", &["vip"]);
    let now = Utc::now();
    order(&crm, "o1", a, now - Duration::days(10), 150_000, "CNY");
    order(&crm, "o2", b, now - Duration::days(400), 150_000, "CNY");

    let seg = crm
        .create_segment(&NewSegment {
            name: "asia big".into(),
            rule: Some(rule(r#"country in ["CN", "SG"] and total_spent >= 1000.00 CNY"#)),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(seg.kind, SegmentKind::Dynamic);
    assert_eq!(crm.segment_count("asia big").unwrap(), 2);
    assert_eq!(crm.segment_members("asia big", None, 10).unwrap(), vec![a, b]);
    assert_eq!(crm.segment_members("asia big", Some(a), 10).unwrap(), vec![b]);
    assert!(crm.is_member(a, "asia big").unwrap());
    assert!(!crm.is_member(c, "asia big").unwrap());

    let s1 = crm.snapshot_segment("asia big").unwrap();
    assert_eq!((s1.members, s1.entered.clone(), s1.left.clone()), (2, vec![a, b], vec![]));
    // Narrow the rule: b leaves, a stays; a second snapshot reports only the difference.
    crm.update_segment(
        "asia big",
        &SegmentPatch { rule: Some(rule("last_order_at within 90 days")), ..Default::default() },
    )
    .unwrap();
    let s2 = crm.snapshot_segment("asia big").unwrap();
    assert_eq!((s2.members, s2.entered, s2.left), (1, vec![], vec![b]));
    let membership: Vec<(Op, Option<i64>)> = feed(&crm)
        .into_iter()
        .filter(|f| f.entity == Entity::Segment && f.id == seg.id.0)
        .map(|f| (f.op, f.ref_id))
        .collect();
    assert_eq!(
        membership,
        vec![
            (Op::Insert, None),
            (Op::Enter, Some(a.0)),
            (Op::Enter, Some(b.0)),
            (Op::Update, None),
            (Op::Leave, Some(b.0))
        ]
    );
    // A third snapshot with nothing changed writes no membership entries.
    let before = feed(&crm).len();
    let s3 = crm.snapshot_segment("asia big").unwrap();
    assert!(s3.entered.is_empty() && s3.left.is_empty());
    assert_eq!(feed(&crm).len(), before);
}

#[test]
fn static_segments_list_members_and_nest_in_rules() {
    let (_d, crm) = db();
    let a = customer(&crm, "a", "CN", &[]);
    let b = customer(&crm, "b", "SG", &[]);
    crm.create_segment(&NewSegment { name: "pilot".into(), members: vec![a], ..Default::default() }).unwrap();
    assert_eq!(crm.add_segment_members("pilot", &[a, b, b]).unwrap(), 1);
    assert_eq!(crm.segment_members("pilot", None, 10).unwrap(), vec![a, b]);
    assert_eq!(crm.remove_segment_members("pilot", &[a]).unwrap(), 1);
    assert_eq!(crm.segment_count("pilot").unwrap(), 1);
    crm.create_segment(&NewSegment {
        name: "pilot in SG".into(),
        rule: Some(rule(r#"in segment "pilot" and country = "SG""#)),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(crm.segment_members("pilot in SG", None, 10).unwrap(), vec![b]);
    assert!(crm.is_member(b, "pilot in SG").unwrap());
    // Still referred to: cannot be deleted or renamed.
    assert!(matches!(crm.delete_segment("pilot"), Err(Error::Conflict(_))));
    assert!(matches!(
        crm.update_segment("pilot", &SegmentPatch { name: Some("x".into()), ..Default::default() }),
        Err(Error::Conflict(_))
    ));
    crm.delete_segment("pilot in SG").unwrap();
    crm.delete_segment("pilot").unwrap();
    assert!(crm.segments().unwrap().is_empty());
    // Deleting a customer removes it from every list.
    crm.create_segment(&NewSegment { name: "p2".into(), members: vec![a, b], ..Default::default() }).unwrap();
    crm.delete_customer(a).unwrap();
    assert_eq!(crm.segment_members("p2", None, 10).unwrap(), vec![b]);
}

#[test]
fn cycles_between_segments_and_plans_are_refused() {
    let (_d, crm) = db();
    crm.create_segment(&NewSegment { name: "a".into(), rule: Some(rule("order_count > 0")), ..Default::default() })
        .unwrap();
    crm.create_segment(&NewSegment { name: "b".into(), rule: Some(rule(r#"in segment "a""#)), ..Default::default() })
        .unwrap();
    let err = crm
        .update_segment("a", &SegmentPatch { rule: Some(rule(r#"in segment "b""#)), ..Default::default() })
        .unwrap_err();
    assert!(err.to_string().contains("cyclic"), "{err}");
    let err = crm
        .create_segment(&NewSegment {
            name: "self".into(),
            rule: Some(rule(r#"in segment "self""#)),
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("cyclic"), "{err}");
    // A plan whose rule refers to a segment that uses the plan.
    let plan: ScoringPlan =
        serde_json::from_str(r#"{"name": "p", "rules": [{"when": "order_count > 1", "points": 3}]}"#).unwrap();
    crm.put_scoring_plan(&plan).unwrap();
    crm.create_segment(&NewSegment { name: "scored".into(), rule: Some(rule("score.p > 2")), ..Default::default() })
        .unwrap();
    let cyclic: ScoringPlan =
        serde_json::from_str(r#"{"name": "p", "rules": [{"when": "in segment \"scored\"", "points": 3}]}"#).unwrap();
    let err = crm.put_scoring_plan(&cyclic).unwrap_err();
    assert!(err.to_string().contains("cyclic"), "{err}");
    assert_eq!(crm.scoring_plans().unwrap(), vec![plan]);
    assert_eq!(crm.segment("a").unwrap().rule, Some(rule("order_count > 0")));
    assert!(matches!(crm.delete_scoring_plan("p"), Err(Error::Conflict(_))));
}

#[test]
fn scoring_plans_score_one_and_all() {
    let (_d, crm) = db();
    let a = customer(&crm, "a", "CN", &["vip"]);
    let b = customer(&crm, "b", "SG", &[]);
    order(&crm, "o1", a, Utc::now() - Duration::days(1), 500, "USD");
    let plan: ScoringPlan = serde_json::from_str(
        r#"{"name": "engagement", "rules": [
            {"when": "\"vip\" in tags", "points": 20},
            {"when": "order_count >= 1", "points": 10},
            {"when": "country = \"SG\"", "points": -5}]}"#,
    )
    .unwrap();
    crm.put_scoring_plan(&plan).unwrap();
    assert_eq!(crm.score(a, "engagement").unwrap(), 30);
    assert_eq!(crm.score(b, "engagement").unwrap(), -5);
    assert_eq!(crm.scores("engagement").unwrap(), vec![(a, 30), (b, -5)]);
    assert_eq!(crm.count_matching(&rule("score.engagement >= 30"), None).unwrap(), 1);
    assert!(matches!(crm.score(a, "nope"), Err(Error::NotFound { entity: Entity::ScoringPlan, .. })));
}

#[test]
fn lifecycle_refresh_assigns_stages_in_order_and_records_history() {
    let (_d, crm) = db();
    let now = Utc::now();
    let prospect = customer(&crm, "p", "CN", &[]);
    let fresh = customer(&crm, "n", "CN", &[]);
    let gone = customer(&crm, "g", "CN", &[]);
    order(&crm, "o1", fresh, now - Duration::days(5), 100, "USD");
    order(&crm, "o2", gone, now - Duration::days(500), 100, "USD");
    let r = crm.refresh_lifecycle(Some(now - Duration::hours(2))).unwrap();
    assert_eq!(r.customers, 3);
    let stage = |id| crm.get_customer(id).unwrap().lifecycle;
    assert_eq!(stage(prospect), LifecycleStage::Prospect);
    assert_eq!(stage(fresh), LifecycleStage::New);
    assert_eq!(stage(gone), LifecycleStage::Churned);
    assert_eq!(r.changed, 2);
    assert_eq!(r.counts["churned"], 1);
    // The churned customer buys again: won back, and the history shows each stage's start.
    order(&crm, "o3", gone, now - Duration::days(1), 100, "USD");
    let later = now - Duration::hours(1);
    crm.refresh_lifecycle(Some(later)).unwrap();
    assert_eq!(stage(gone), LifecycleStage::WonBack);
    let h = crm.stage_history(gone).unwrap();
    let stages: Vec<LifecycleStage> = h.iter().map(|(s, _)| *s).collect();
    assert_eq!(stages, vec![LifecycleStage::Prospect, LifecycleStage::Churned, LifecycleStage::WonBack]);
    assert!(h[2].1 > h[1].1 && h[1].1 >= h[0].1);
    // A second refresh at the same time changes nothing.
    assert_eq!(crm.refresh_lifecycle(Some(later)).unwrap().changed, 0);
    // Custom rules, evaluated in order.
    crm.set_lifecycle_rules(&LifecycleRules {
        rules: vec![StageRule { stage: LifecycleStage::Loyal, when: rule(r#"country = "CN""#) }],
    })
    .unwrap();
    crm.refresh_lifecycle(Some(later + Duration::minutes(1))).unwrap();
    assert_eq!(stage(prospect), LifecycleStage::Loyal);
    // A host setting the stage by hand is recorded too.
    let patch: crm_core::CustomerPatch = serde_json::from_str(r#"{"lifecycle": "at_risk"}"#).unwrap();
    crm.update_customer(prospect, &patch).unwrap();
    let h: Vec<LifecycleStage> = crm.stage_history(prospect).unwrap().into_iter().map(|(s, _)| s).collect();
    assert_eq!(h, vec![LifecycleStage::Prospect, LifecycleStage::Loyal, LifecycleStage::AtRisk]);
}

#[test]
fn value_tiers_by_spend_percentile_and_rules() {
    let (_d, crm) = db();
    let ids: Vec<CustomerId> = (0..10).map(|i| customer(&crm, &format!("c{i}"), "US", &[])).collect();
    for (i, id) in ids.iter().enumerate() {
        order(&crm, &format!("o{i}"), *id, Utc::now() - Duration::days(1), (i as i64 + 1) * 1000, "USD");
    }
    let pct: TierConfig = serde_json::from_str(
        r#"{"basis": {"by": "percentile", "currency": "USD", "tiers": [
            {"name": "high", "top_percent": 10}, {"name": "medium", "top_percent": 40}]}, "default": "low"}"#,
    )
    .unwrap();
    crm.set_tier_config(&pct).unwrap();
    let r = crm.refresh_tiers(None).unwrap();
    assert_eq!((r.counts["high"], r.counts["medium"], r.counts["low"]), (1, 3, 6));
    assert_eq!(crm.tier_of(ids[9]).unwrap().as_deref(), Some("high"));
    assert_eq!(crm.count_matching(&rule(r#"tier = "medium""#), None).unwrap(), 3);
    let spend: TierConfig = serde_json::from_str(
        r#"{"basis": {"by": "spend", "currency": "USD", "tiers": [{"name": "high", "min_minor": 9500}]}}"#,
    )
    .unwrap();
    crm.set_tier_config(&spend).unwrap();
    let r = crm.refresh_tiers(None).unwrap();
    assert_eq!(r.counts.get("high"), Some(&1));
    assert_eq!(crm.tier_of(ids[0]).unwrap(), None);
    let h = crm.tier_history(ids[9]).unwrap();
    assert_eq!(h.len(), 1);
    let by_rule: TierConfig = serde_json::from_str(
        r#"{"basis": {"by": "rules", "tiers": [{"name": "top", "when": "total_spent >= 50.00 USD"}]}, "default": "rest"}"#,
    )
    .unwrap();
    crm.set_tier_config(&by_rule).unwrap();
    let r = crm.refresh_tiers(None).unwrap();
    assert_eq!((r.counts["top"], r.counts["rest"]), (6, 4));
}

/// The state a refused call must leave untouched.
fn state(crm: &Crm) -> (Vec<Change>, usize, usize, Option<TierConfig>, LifecycleRules) {
    (
        feed(crm),
        crm.segments().unwrap().len(),
        crm.scoring_plans().unwrap().len(),
        crm.tier_config().unwrap(),
        crm.lifecycle_rules().unwrap(),
    )
}

#[test]
fn bad_rules_are_refused_and_change_nothing() {
    let (_d, crm) = db();
    let a = customer(&crm, "a", "CN", &[]);
    crm.create_segment(&NewSegment { name: "s".into(), members: vec![a], ..Default::default() }).unwrap();
    let before = state(&crm);
    let seg = |text: &str| -> Error {
        match parse(text) {
            Err(e) => e,
            Ok(r) => {
                crm.create_segment(&NewSegment { name: "bad".into(), rule: Some(r), ..Default::default() }).unwrap_err()
            }
        }
    };
    // Unknown fields, type mismatches, money across currencies, shifts of fields by months.
    for (text, field) in [
        ("colour = \"red\"", "colour"),
        ("country > 5", "country"),
        ("order_count = \"x\"", "order_count"),
        ("total_spent > 5", "total_spent"),
        ("lifecycle = \"sleepy\"", "lifecycle"),
        ("lifecycle > \"new\"", "lifecycle"),
        ("tags = \"vip\"", "tags"),
        ("100.00 USD < 90.00 EUR", "rule"),
        ("total_spent between 1.00 USD and 2.00 EUR", "total_spent"),
        ("count(orders where colour = \"x\") > 1", "colour"),
        ("sum(orders.quantity) > 1", "quantity"),
        ("last_order_at < first_order_at - 1 month", "first_order_at"),
        ("attributes.a > attributes.b", "attributes.a"),
        ("sum(orders.total) > sum(orders.total)", "rule"),
    ] {
        match seg(text) {
            Error::Validation { field: f, reason } => assert_eq!(f, field, "{text}: {reason}"),
            e => panic!("{text}: {e}"),
        }
    }
    // Unknown references.
    assert!(matches!(seg(r#"in segment "nope""#), Error::NotFound { entity: Entity::Segment, .. }));
    assert!(matches!(seg("score.nope > 1"), Error::NotFound { entity: Entity::ScoringPlan, .. }));
    // Nesting deeper than the limit, built as a tree (the parser refuses it as text).
    let mut deep = rule("order_count > 0");
    for _ in 0..100 {
        deep = Expr::Not { arg: Box::new(deep) };
    }
    assert!(crm.create_segment(&NewSegment { name: "deep".into(), rule: Some(deep), ..Default::default() }).is_err());
    // Hostile strings are values, never SQL: the table survives and nobody matches.
    let hostile = r#"name = "x'); DROP TABLE customers; --" or email = "\" OR 1=1 --""#;
    assert_eq!(crm.count_matching(&rule(hostile), None).unwrap(), 0);
    assert_eq!(crm.counts().unwrap().customers, 1);
    // Bad names, duplicate names, a dynamic segment with a member list, static with a rule patch.
    assert!(crm.create_segment(&NewSegment { name: "".into(), ..Default::default() }).is_err());
    assert!(matches!(
        crm.create_segment(&NewSegment { name: "s".into(), ..Default::default() }),
        Err(Error::Conflict(_))
    ));
    assert!(crm
        .create_segment(&NewSegment {
            name: "x".into(),
            rule: Some(rule("true")),
            members: vec![a],
            ..Default::default()
        })
        .is_err());
    assert!(crm.update_segment("s", &SegmentPatch { rule: Some(rule("true")), ..Default::default() }).is_err());
    assert!(matches!(crm.add_segment_members("s", &[CustomerId(999)]), Err(Error::NotFound { .. })));
    assert!(crm.members_matching(&rule("true"), None, None, 0).is_err());
    // Bad tiers and lifecycle rules.
    let overlapping: TierConfig = serde_json::from_str(
        r#"{"basis": {"by": "spend", "currency": "USD", "tiers": [{"name": "a", "min_minor": 10}, {"name": "b", "min_minor": 20}]}}"#,
    )
    .unwrap();
    assert!(crm.set_tier_config(&overlapping).is_err());
    assert!(
        serde_json::from_str::<TierConfig>(r#"{"basis": {"by": "spend", "currency": "XXQ", "tiers": []}}"#).is_err()
    );
    assert!(crm.refresh_tiers(None).is_err());
    assert!(crm
        .set_lifecycle_rules(&LifecycleRules {
            rules: vec![StageRule { stage: LifecycleStage::Loyal, when: rule("x = 1") }]
        })
        .is_err());
    assert!(crm.set_lifecycle_rules(&LifecycleRules { rules: vec![] }).is_err());
    let plan: Result<ScoringPlan, _> = serde_json::from_str(r#"{"name": "bad name", "rules": []}"#);
    assert!(crm.put_scoring_plan(&plan.unwrap()).is_err());
    assert_eq!(state(&crm), before);
}
