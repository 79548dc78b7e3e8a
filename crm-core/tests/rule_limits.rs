//! The checker's limits are the only limits: a rule at a limit runs on every path (counts,
//! members, saved segments, lifecycle and tier classification, scores) with the same result
//! as the in-memory evaluator, and one just over it is a short validation error naming the
//! limit that writes nothing. Errors never carry SQL. JSON nested thousands deep is the
//! crate's error too.

mod common;

use chrono::{DateTime, Duration, Utc};
use crm_core::loyalty::Program;
use crm_core::rule::{
    parse, AggFunc, Cmp, Expr, Literal, Source, Value, MAX_DEPTH, MAX_JSON_DEPTH, MAX_LIST_VALUES, MAX_RULE_SIZE,
};
use crm_core::segment::{LifecycleRules, NewSegment, ScoringPlan, ScoringRule, StageRule, TierConfig};
use crm_core::{Crm, CustomerId, Error, LifecycleStage, NewCustomer, NewOrder};

const COUNTRIES: [&str; 5] = ["CN", "SG", "US", "DE", "FR"];

fn field(name: &str) -> Value {
    Value::Field { name: name.into() }
}

fn lit(l: Literal) -> Value {
    Value::Literal { value: l }
}

fn text(s: &str) -> Literal {
    Literal::Text(s.into())
}

/// `country = "<c>"`: three nodes (the condition and its two values).
fn country_is(c: &str) -> Expr {
    Expr::Compare { left: field("country"), cmp: Cmp::Eq, right: lit(text(c)) }
}

/// An `or` of `n` country tests, none but the last few real: `1 + 3n` nodes.
fn long_or(n: usize, real: &[&str]) -> Expr {
    let mut args: Vec<Expr> = (0..n - real.len()).map(|i| country_is(&format!("X{i}"))).collect();
    args.extend(real.iter().map(|c| country_is(c)));
    Expr::Or { args }
}

/// An `and` of `n` negated country tests (`not (country = "Xi")`): `1 + 4n` nodes.
fn long_and(n: usize) -> Expr {
    Expr::And { args: (0..n).map(|i| Expr::Not { arg: Box::new(country_is(&format!("X{i}"))) }).collect() }
}

fn as_of() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn setup() -> (Crm, Vec<CustomerId>) {
    let crm = common::test_crm();
    let mut ids = Vec::new();
    for i in 0..12 {
        let c = crm
            .create_customer(&NewCustomer {
                external_id: Some(format!("C{i}")),
                name: format!("C{i}"),
                address: crm_core::Address {
                    country: (i % 6 != 5).then(|| COUNTRIES[i % 5].to_string()),
                    ..Default::default()
                },
                ..Default::default()
            })
            .unwrap();
        if i % 3 == 0 {
            let order: NewOrder = serde_json::from_str(&format!(
                r#"{{"external_id": "O{i}", "customer_id": {}, "occurred_at": "{}", "currency": "USD",
                    "total_minor": {}, "items": [{{"sku": "S", "category": "shoes", "quantity": 1,
                    "unit_price_minor": 100}}]}}"#,
                c.id,
                (as_of() - Duration::days(i as i64 * 10)).to_rfc3339(),
                100 * (i + 1)
            ))
            .unwrap();
            crm.record_order(&order).unwrap();
        }
        ids.push(c.id);
    }
    (crm, ids)
}

/// Members by SQL (count and pages) equal members by the in-memory evaluator.
fn agrees(crm: &Crm, ids: &[CustomerId], e: &Expr) -> Vec<CustomerId> {
    let sql = crm.members_matching(e, Some(as_of()), None, 100_000).unwrap();
    let mem: Vec<CustomerId> =
        ids.iter().copied().filter(|&id| crm.matches_at(id, e, Some(as_of())).unwrap()).collect();
    assert_eq!(sql, mem);
    assert_eq!(crm.count_matching(e, Some(as_of())).unwrap(), sql.len() as i64);
    sql
}

/// A short validation error on `field` naming `limit`, without SQL.
fn refused(r: crm_core::Result<impl std::fmt::Debug>, field: &str, limit: &str) {
    match r {
        Err(e @ Error::Validation { .. }) => {
            let msg = e.to_string();
            assert_eq!(e.field(), Some(field), "{msg}");
            assert!(msg.contains(limit), "{msg}");
            assert!(msg.len() < 400 && !msg.contains("SELECT"), "{msg}");
        }
        other => panic!("expected a validation error naming {limit}, got {other:?}"),
    }
}

fn size_limit() -> String {
    MAX_RULE_SIZE.to_string()
}

#[test]
fn long_chains_run_up_to_the_size_limit_on_every_path() {
    let (crm, ids) = setup();
    // At the limit exactly: 1 + 3 * 3333 = 10,000 nodes.
    let n = (MAX_RULE_SIZE - 1) / 3;
    let or = long_or(n, &["SG", "DE"]);
    assert_eq!(agrees(&crm, &ids, &or).len(), 4);
    let and = long_and((MAX_RULE_SIZE - 1) / 4);
    assert_eq!(agrees(&crm, &ids, &and).len(), 12);
    // One more condition: refused, with the limit named.
    refused(crm.check_rule(&long_or(n + 1, &["SG"])), "rule", &size_limit());
    refused(crm.count_matching(&long_or(n + 1, &["SG"]), None), "rule", &size_limit());
    refused(crm.members_matching(&long_or(n + 1, &["SG"]), None, None, 10), "rule", &size_limit());

    // Saved segments: the rule alone at the limit; used by another rule, the sum counts.
    crm.create_segment(&NewSegment { name: "big".into(), rule: Some(or.clone()), ..Default::default() }).unwrap();
    assert_eq!(crm.segment_count("big").unwrap(), 4);
    assert_eq!(crm.segment_members("big", None, 100).unwrap(), agrees(&crm, &ids, &or));
    assert_eq!(crm.snapshot_segment("big").unwrap().members, 4);
    let uses = Expr::And { args: vec![Expr::InSegment { name: "big".into() }, country_is("SG")] };
    refused(crm.count_matching(&uses, None), "rule", &size_limit());
    let before = crm.segments().unwrap();
    refused(
        crm.create_segment(&NewSegment { name: "uses".into(), rule: Some(uses), ..Default::default() }),
        "rule",
        &size_limit(),
    );
    refused(
        crm.create_segment(&NewSegment {
            name: "over".into(),
            rule: Some(long_or(n + 1, &["SG"])),
            ..Default::default()
        }),
        "rule",
        &size_limit(),
    );
    assert_eq!(crm.segments().unwrap(), before, "nothing written");

    // Lifecycle: twelve rules at the limit (their parameters exceed one statement's, so the
    // classification runs in several), each stage as the in-memory evaluation says.
    let stages = [LifecycleStage::Loyal, LifecycleStage::Active, LifecycleStage::AtRisk];
    let rules: Vec<StageRule> =
        (0..12).map(|i| StageRule { stage: stages[i % 3], when: long_or(n, &[COUNTRIES[i % 5]]) }).collect();
    crm.set_lifecycle_rules(&LifecycleRules { rules: rules.clone() }).unwrap();
    crm.refresh_lifecycle(Some(as_of())).unwrap();
    for &id in &ids {
        let want = rules.iter().find(|r| crm.matches_at(id, &r.when, Some(as_of())).unwrap()).map(|r| r.stage);
        let got = crm.get_customer(id).unwrap().lifecycle;
        assert_eq!(got, want.unwrap_or(LifecycleStage::Prospect), "customer {id}");
    }
    let stored = crm.lifecycle_rules().unwrap();
    let mut over = rules.clone();
    over[3].when = long_or(n + 1, &["SG"]);
    match crm.set_lifecycle_rules(&LifecycleRules { rules: over }) {
        Err(Error::Validation { field, reason }) => {
            assert_eq!(field, "rules[3].when.rule");
            assert!(reason.contains(&size_limit()), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(crm.lifecycle_rules().unwrap(), stored, "nothing written");

    // Value tiers by rules: the same classification.
    let tiers: TierConfig = serde_json::from_value(serde_json::json!({
        "basis": {"by": "rules", "tiers": [
            {"name": "gold", "when": serde_json::to_value(long_or(n, &["CN"])).unwrap()},
            {"name": "silver", "when": serde_json::to_value(long_or(n, &["US", "FR"])).unwrap()},
        ]},
    }))
    .unwrap();
    crm.set_tier_config(&tiers).unwrap();
    crm.refresh_tiers(Some(as_of())).unwrap();
    for (i, &id) in ids.iter().enumerate() {
        let want = match (i % 6 != 5).then(|| COUNTRIES[i % 5]) {
            Some("CN") => Some("gold"),
            Some("US" | "FR") => Some("silver"),
            _ => None,
        };
        assert_eq!(crm.tier_of(id).unwrap().as_deref(), want, "customer {id}");
    }
}

#[test]
fn loyalty_conditions_are_held_to_the_same_limits() {
    let n = (MAX_RULE_SIZE - 1) / 3;
    let program = |when: &Expr| {
        serde_json::json!({"name": "p", "rates": {"USD": {"points": 1, "per_minor": 100}},
            "rules": [{"name": "base", "kind": "base", "when": when}]})
        .to_string()
    };
    Program::from_json(&program(&long_or(n, &["SG"]))).unwrap();
    match Program::from_json(&program(&long_or(n + 1, &["SG"]))) {
        Err(Error::Validation { field, reason }) => {
            assert_eq!(field, "rules[0].when.rule");
            assert!(reason.contains(&size_limit()), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn scores_run_at_the_size_limit() {
    let (crm, ids) = setup();
    // Three rules summing to within 4 of the limit with a rule using the plan
    // (`score.big > 3`: 3 nodes more): 3 * (1 + 3 * 1110) + 3 = 9,996.
    let n = (MAX_RULE_SIZE - 3 - 3) / 9;
    let plan = ScoringPlan {
        name: "big".into(),
        rules: vec![
            ScoringRule { when: long_or(n, &["SG"]), points: 5 },
            ScoringRule { when: long_or(n, &["SG", "US"]), points: 7 },
            ScoringRule { when: long_or(n, &["DE"]), points: -2 },
        ],
    };
    crm.put_scoring_plan(&plan).unwrap();
    let all = crm.scores("big").unwrap();
    assert_eq!(all.len(), ids.len());
    for (id, score) in all {
        assert_eq!(crm.score(id, "big").unwrap(), score);
    }
    assert!(crm.scores("big").unwrap().iter().any(|&(_, s)| s == 12));
    // A rule using the plan counts the plan in: at the limit alone, over it with more.
    agrees(&crm, &ids, &parse("score.big > 3").unwrap());
    let more = parse(r#"score.big > 3 and country = "SG" and country = "US""#).unwrap();
    refused(crm.count_matching(&more, None), "rule", &size_limit());
    // One more condition in the plan: refused, the stored plan unchanged.
    let mut over = plan.clone();
    over.rules[0].when = long_or(n + 2, &["SG"]);
    refused(crm.put_scoring_plan(&over), "rule", &size_limit());
    assert_eq!(crm.scoring_plans().unwrap(), vec![plan]);
}

#[test]
fn big_lists_run_up_to_the_list_limit() {
    let (crm, ids) = setup();
    let list = |n: usize, real: &[&str]| {
        let mut l: Vec<Literal> = (0..n - real.len()).map(|i| text(&format!("Z{i}"))).collect();
        l.extend(real.iter().map(|c| text(c)));
        l
    };
    let at = Expr::In { value: field("country"), list: list(MAX_LIST_VALUES, &["SG", "US"]), negated: false };
    assert_eq!(agrees(&crm, &ids, &at).len(), 4);
    let not_in = Expr::In { value: field("country"), list: list(MAX_LIST_VALUES, &["SG"]), negated: true };
    assert_eq!(agrees(&crm, &ids, &not_in).len(), 8);
    // Numbers, in an order filter, as one list of ids.
    let by_id = Expr::In {
        value: field("id"),
        list: (0..MAX_LIST_VALUES as i64 / 2).map(|i| Literal::Int(i * 2)).collect(),
        negated: false,
    };
    agrees(&crm, &ids, &by_id);
    let in_filter = Expr::Compare {
        left: Value::Aggregate {
            func: AggFunc::Count,
            source: Source::Items,
            field: None,
            filter: Some(Box::new(Expr::In {
                value: field("category"),
                list: list(50_000, &["shoes"]),
                negated: false,
            })),
            within: None,
        },
        cmp: Cmp::Ge,
        right: lit(Literal::Int(1)),
    };
    assert_eq!(agrees(&crm, &ids, &in_filter).len(), 4);
    let over = Expr::In { value: field("country"), list: list(MAX_LIST_VALUES + 1, &["SG"]), negated: false };
    refused(crm.count_matching(&over, None), "country", &MAX_LIST_VALUES.to_string());
    // The lists of the saved segments a rule uses count at each use.
    let half = Expr::In { value: field("country"), list: list(MAX_LIST_VALUES / 2 + 1, &["SG"]), negated: false };
    crm.create_segment(&NewSegment { name: "half".into(), rule: Some(half), ..Default::default() }).unwrap();
    let twice =
        Expr::Or { args: vec![Expr::InSegment { name: "half".into() }, Expr::InSegment { name: "half".into() }] };
    refused(crm.count_matching(&twice, None), "country", &MAX_LIST_VALUES.to_string());
}

/// A rule of a given nesting.
type Shape = Box<dyn Fn(usize) -> Expr>;

/// The deepest rule of each shape the checker accepts runs and agrees; one level more is
/// refused naming the limit.
#[test]
fn the_deepest_rules_run_on_sqlite() {
    let (crm, ids) = setup();
    let filter_leaf = |inner: Expr| Expr::Compare {
        left: Value::Aggregate {
            func: AggFunc::Count,
            source: Source::Orders,
            field: None,
            filter: Some(Box::new(inner)),
            within: Some(crm_core::rule::Span { count: 400, unit: crm_core::rule::Unit::Days }),
        },
        cmp: Cmp::Ge,
        right: lit(Literal::Int(1)),
    };
    let shoes = || Expr::Compare { left: field("category"), cmp: Cmp::Eq, right: lit(text("shoes")) };
    let shapes: Vec<(&str, Shape)> = vec![
        ("not", Box::new(|n| (0..n).fold(country_is("SG"), |e, _| Expr::Not { arg: Box::new(e) }))),
        (
            "and/or",
            Box::new(|n| {
                (0..n).fold(country_is("SG"), |e, i| {
                    // Four arguments: the most written with SQL's AND and OR (one level each).
                    let args = vec![country_is(COUNTRIES[i % 5]), long_or(3, &["US"]), country_is("FR"), e];
                    if i % 2 == 0 {
                        Expr::Or { args }
                    } else {
                        Expr::And { args }
                    }
                })
            }),
        ),
        (
            "filter",
            Box::new(move |n| {
                let inner = (0..n).fold(shoes(), |e, i| {
                    let args = vec![shoes(), shoes(), shoes(), e];
                    if i % 2 == 0 {
                        Expr::Or { args }
                    } else {
                        Expr::And { args }
                    }
                });
                Expr::Or { args: vec![filter_leaf(inner), country_is("SG")] }
            }),
        ),
    ];
    for (name, shape) in &shapes {
        let mut n = 0;
        while crm.check_rule(&shape(n + 1)).is_ok() {
            n += 1;
        }
        assert!(n > 20, "{name}: only {n} levels");
        agrees(&crm, &ids, &shape(n));
        refused(crm.count_matching(&shape(n + 1), None), "rule", &format!("deeper than {MAX_DEPTH}"));
    }
    // Saved segments and scoring plans count at their depth: a chain of them as deep as
    // accepted runs.
    let mut k = 0;
    loop {
        let prev = if k == 0 { country_is("SG") } else { Expr::InSegment { name: format!("s{}", k - 1) } };
        let rule = Expr::Not { arg: Box::new(Expr::Not { arg: Box::new(prev) }) };
        match crm.create_segment(&NewSegment { name: format!("s{k}"), rule: Some(rule), ..Default::default() }) {
            Ok(_) => k += 1,
            Err(e) => {
                refused(Err::<(), _>(e), "rule", &format!("deeper than {MAX_DEPTH}"));
                break;
            }
        }
    }
    assert!(k > 15, "{k}");
    // The last segment's rule is at the limit: it runs as a saved segment; a rule using it
    // is one level deeper, refused; the one before can be used.
    let last = format!("s{}", k - 1);
    assert_eq!(crm.segment_count(&last).unwrap(), 2);
    assert_eq!(crm.segment_members(&last, None, 100).unwrap().len(), 2);
    refused(crm.count_matching(&Expr::InSegment { name: last }, None), "rule", &format!("deeper than {MAX_DEPTH}"));
    assert_eq!(agrees(&crm, &ids, &Expr::InSegment { name: format!("s{}", k - 2) }).len(), 2);
    let mut p = 0;
    loop {
        let when = if p == 0 { country_is("SG") } else { parse(&format!("score.p{} > 0", p - 1)).unwrap() };
        let plan = ScoringPlan { name: format!("p{p}"), rules: vec![ScoringRule { when, points: 1 }] };
        match crm.put_scoring_plan(&plan) {
            Ok(()) => p += 1,
            Err(e) => {
                refused(Err::<(), _>(e), "rule", &format!("deeper than {MAX_DEPTH}"));
                break;
            }
        }
    }
    assert!(p > 10);
    let top = format!("p{}", p - 1);
    for (id, score) in crm.scores(&top).unwrap() {
        assert_eq!(crm.score(id, &top).unwrap(), score);
    }
    agrees(&crm, &ids, &parse(&format!("score.{top} > 0")).unwrap());
}

#[test]
fn inlining_cannot_explode() {
    // Each segment uses the one before twice: written out, 2^k copies. The size limit stops
    // the check as it walks, long before that.
    let (crm, _) = setup();
    crm.create_segment(&NewSegment { name: "s0".into(), rule: Some(country_is("SG")), ..Default::default() }).unwrap();
    let start = std::time::Instant::now();
    let mut refused_at = None;
    for k in 1..40 {
        let prev = || Expr::InSegment { name: format!("s{}", k - 1) };
        let rule = Expr::Or { args: vec![prev(), prev()] };
        if let Err(e) =
            crm.create_segment(&NewSegment { name: format!("s{k}"), rule: Some(rule), ..Default::default() })
        {
            refused(Err::<(), _>(e), "rule", &size_limit());
            refused_at = Some(k);
            break;
        }
    }
    assert!(refused_at.is_some_and(|k| k < 16), "{refused_at:?}");
    assert!(start.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn messages_stay_short() {
    let (crm, _) = setup();
    let long = "x".repeat(1_000_000);
    for e in [
        crm.count_matching(&Expr::Compare { left: field(&long), cmp: Cmp::Eq, right: lit(text("a")) }, None),
        crm.count_matching(&Expr::Compare { left: field("lifecycle"), cmp: Cmp::Eq, right: lit(text(&long)) }, None),
        crm.count_matching(&Expr::InSegment { name: long.clone() }, None),
        crm.count_matching(&parse(&format!("score.{long} > 1")).unwrap(), None),
    ] {
        let e = e.unwrap_err();
        let msg = e.to_string();
        assert!(msg.len() < 700, "{} bytes: {}", msg.len(), &msg[..200]);
        if let Error::Validation { field, reason } = &e {
            assert!(field.len() <= 120 && reason.len() <= 480);
        }
    }
}

#[test]
fn json_nested_thousands_deep_is_the_crates_error() {
    let deep = format!("{}true{}", r#"{"op": "not", "arg": "#.repeat(5_000), "}".repeat(5_000));
    let e = Expr::from_json(&deep).unwrap_err();
    assert_eq!(e.field(), Some("rule"));
    assert!(e.to_string().contains(&MAX_JSON_DEPTH.to_string()), "{e}");
    let program = format!(r#"{{"name": "p", "currency": "USD", "rules": [{{"when": {deep}}}]}}"#);
    let e = Program::from_json(&program).unwrap_err();
    assert_eq!(e.field(), Some("program"));
    assert!(e.to_string().contains(&MAX_JSON_DEPTH.to_string()), "{e}");
    // The deepest rules the checker accepts fit the JSON limit, inside a record too.
    let crm = common::test_crm();
    let mut e = country_is("SG");
    while crm.check_rule(&Expr::And { args: vec![country_is("US"), e.clone()] }).is_ok() {
        e = Expr::And { args: vec![country_is("US"), e] };
    }
    let tiers = serde_json::json!({"basis": {"by": "rules", "tiers": [{"name": "t", "when": e}]}});
    let text = tiers.to_string();
    crm_core::rule::check_json_depth(&text, "tiers").unwrap();
    let back: TierConfig = serde_json::from_str(&text).unwrap();
    crm.set_tier_config(&back).unwrap();
    assert_eq!(Expr::from_json(&serde_json::to_string(&e).unwrap()).unwrap(), e);
}
