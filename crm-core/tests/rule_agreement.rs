//! The store's set-at-a-time evaluation (SQL on SQLite) and the in-memory evaluator agree:
//! random rules over random customers, orders, line items, interactions, segments and a
//! scoring plan give the same members both ways.

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use crm_core::rule::{AggFunc, Cmp, Expr, Literal, Source, Span, Unit, Value};
use crm_core::segment::{NewSegment, ScoringPlan, ScoringRule};
use crm_core::{Consent, Crm, CustomerId, CustomerKind, LineItem, NewCustomer, NewInteraction, NewOrder, OrderStatus};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn as_of() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn field(name: &str) -> Value {
    Value::Field { name: name.into() }
}

fn lit(l: Literal) -> Value {
    Value::Literal { value: l }
}

fn text(s: &str) -> Literal {
    Literal::Text(s.into())
}

fn money(minor: i64, cur: &str) -> Literal {
    Literal::Money { minor, currency: cur.parse().unwrap() }
}

fn cmp() -> impl Strategy<Value = Cmp> {
    prop_oneof![Just(Cmp::Eq), Just(Cmp::Ne), Just(Cmp::Lt), Just(Cmp::Le), Just(Cmp::Gt), Just(Cmp::Ge)]
}

fn eq_cmp() -> impl Strategy<Value = Cmp> {
    prop_oneof![Just(Cmp::Eq), Just(Cmp::Ne)]
}

fn span() -> impl Strategy<Value = Span> {
    (0i64..400, prop_oneof![Just(Unit::Days), Just(Unit::Weeks), Just(Unit::Months), Just(Unit::Hours)])
        .prop_map(|(count, unit)| Span { count, unit })
}

fn time_lit() -> impl Strategy<Value = Literal> {
    (0i64..500).prop_map(|d| Literal::Time(as_of() - Duration::days(d)))
}

const COUNTRIES: [&str; 4] = ["CN", "SG", "US", "DE"];
const CATEGORIES: [&str; 3] = ["shoes", "bags", "hats"];
const SKUS: [&str; 4] = ["S1", "S2", "S3", "S4"];
const CHANNELS: [&str; 2] = ["web", "store"];

fn country() -> impl Strategy<Value = Literal> {
    prop::sample::select(&COUNTRIES[..]).prop_map(text)
}

fn json_lit() -> impl Strategy<Value = Literal> {
    prop_oneof![
        prop::sample::select(&["gold", "silver", "a"][..]).prop_map(text),
        (-3i64..10).prop_map(Literal::Int),
        (-3.0f64..10.0).prop_map(|f| Literal::Float((f * 4.0).round() / 4.0)),
        any::<bool>().prop_map(Literal::Bool),
    ]
}

/// Conditions over one order, line item or interaction.
fn record_leaf(source: Source) -> BoxedStrategy<Expr> {
    let order = prop_oneof![
        prop::sample::select(&CATEGORIES[..]).prop_map(|c| Expr::Compare {
            left: field("category"),
            cmp: Cmp::Eq,
            right: lit(text(c))
        }),
        prop::collection::vec(prop::sample::select(&SKUS[..]), 1..3).prop_map(|s| Expr::In {
            value: field("sku"),
            list: s.into_iter().map(text).collect(),
            negated: false
        }),
        (cmp(), 0i64..30000, prop::sample::select(&["USD", "EUR"][..])).prop_map(|(c, m, cur)| Expr::Compare {
            left: field("total"),
            cmp: c,
            right: lit(money(m, cur))
        }),
        prop::sample::select(&CHANNELS[..]).prop_map(|c| Expr::Compare {
            left: field("channel"),
            cmp: Cmp::Eq,
            right: lit(text(c))
        }),
        (cmp(), 0i64..4).prop_map(|(c, q)| Expr::Compare {
            left: field("quantity"),
            cmp: c,
            right: lit(Literal::Int(q))
        }),
        (eq_cmp(), prop::sample::select(&["completed", "refunded", "cancelled"][..]))
            .prop_map(|(c, s)| { Expr::Compare { left: field("status"), cmp: c, right: lit(text(s)) } }),
        span().prop_map(|s| Expr::Within { value: field("occurred_at"), span: s }),
        Just(Expr::IsNull { value: field("channel"), negated: false }),
    ];
    let interaction = prop_oneof![
        (eq_cmp(), prop::sample::select(&["complaint", "call", "survey"][..])).prop_map(|(c, k)| Expr::Compare {
            left: field("kind"),
            cmp: c,
            right: lit(text(k))
        }),
        (cmp(), 0i64..11).prop_map(|(c, v)| Expr::Compare { left: field("nps"), cmp: c, right: lit(Literal::Int(v)) }),
        (cmp(), 1i64..6).prop_map(|(c, v)| Expr::Compare { left: field("csat"), cmp: c, right: lit(Literal::Int(v)) }),
        span().prop_map(|s| Expr::Within { value: field("occurred_at"), span: s }),
    ];
    let leaf = if source == Source::Interactions { interaction.boxed() } else { order.boxed() };
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..3).prop_map(|args| Expr::And { args }),
            prop::collection::vec(inner.clone(), 2..3).prop_map(|args| Expr::Or { args }),
            inner.prop_map(|e| Expr::Not { arg: Box::new(e) }),
        ]
    })
    .boxed()
}

fn aggregate() -> BoxedStrategy<Expr> {
    let source =
        prop_oneof![Just(Source::Orders), Just(Source::AllOrders), Just(Source::Items), Just(Source::Interactions)];
    source
        .prop_flat_map(|src| {
            let filter = prop::option::of(record_leaf(src));
            let within = prop::option::of(span());
            let func_field: BoxedStrategy<(AggFunc, Option<&'static str>)> = match src {
                Source::Interactions => prop_oneof![
                    Just((AggFunc::Count, None)),
                    Just((AggFunc::Max, Some("occurred_at"))),
                    Just((AggFunc::Sum, Some("nps"))),
                ]
                .boxed(),
                Source::Items => prop_oneof![
                    Just((AggFunc::Count, None)),
                    Just((AggFunc::Sum, Some("quantity"))),
                    Just((AggFunc::Sum, Some("unit_price"))),
                    Just((AggFunc::Min, Some("unit_price"))),
                    Just((AggFunc::Max, Some("category"))),
                ]
                .boxed(),
                _ => prop_oneof![
                    Just((AggFunc::Count, None)),
                    Just((AggFunc::Sum, Some("total"))),
                    Just((AggFunc::Max, Some("total"))),
                    Just((AggFunc::Min, Some("occurred_at"))),
                    Just((AggFunc::Max, Some("channel"))),
                ]
                .boxed(),
            };
            (
                Just(src),
                func_field,
                filter,
                within,
                cmp(),
                0i64..5,
                0i64..40000,
                prop::sample::select(&["USD", "EUR"][..]),
                time_lit(),
            )
        })
        .prop_map(|(source, (func, f), filter, within, c, n, m, cur, t)| {
            let agg =
                Value::Aggregate { func, source, field: f.map(String::from), filter: filter.map(Box::new), within };
            let right = match f {
                Some("total") | Some("unit_price") => lit(money(m, cur)),
                Some("occurred_at") => lit(t),
                Some("category") => lit(text("hats")),
                Some("channel") => lit(text("store")),
                _ => lit(Literal::Int(n)),
            };
            if f == Some("channel") && n == 0 {
                return Expr::IsNull { value: agg, negated: c == Cmp::Eq };
            }
            Expr::Compare { left: agg, cmp: c, right }
        })
        .boxed()
}

fn customer_leaf() -> BoxedStrategy<Expr> {
    prop_oneof![
        (eq_cmp(), country()).prop_map(|(c, l)| Expr::Compare { left: field("country"), cmp: c, right: lit(l) }),
        (prop::collection::vec(country(), 1..3), any::<bool>()).prop_map(|(list, negated)| Expr::In {
            value: field("country"),
            list,
            negated
        }),
        (cmp(), 0i64..6).prop_map(|(c, n)| Expr::Compare {
            left: field("order_count"),
            cmp: c,
            right: lit(Literal::Int(n))
        }),
        (cmp(), 0i64..60000, prop::sample::select(&["USD", "EUR"][..])).prop_map(|(c, m, cur)| Expr::Compare {
            left: field("total_spent"),
            cmp: c,
            right: lit(money(m, cur))
        }),
        (cmp(), time_lit()).prop_map(|(c, t)| Expr::Compare { left: field("last_order_at"), cmp: c, right: lit(t) }),
        span().prop_map(|s| Expr::Within { value: field("last_order_at"), span: s }),
        span().prop_map(|s| Expr::Compare {
            left: field("first_order_at"),
            cmp: Cmp::Lt,
            right: Value::Shift { base: Box::new(Value::Now), sign: crm_core::rule::Sign::Minus, span: s }
        }),
        (0i64..3, 2i64..5).prop_map(|(lo, hi)| Expr::Between {
            value: field("interaction_count"),
            low: lit(Literal::Int(lo)),
            high: lit(Literal::Int(hi))
        }),
        prop::sample::select(&["vip", "new", "x"][..])
            .prop_map(|t| Expr::Contains { value: field("tags"), item: lit(text(t)) }),
        (cmp(), json_lit(), prop::sample::select(&["attributes.a", "attributes.b"][..])).prop_map(|(c, l, f)| {
            let c = if matches!(l, Literal::Bool(_)) && !matches!(c, Cmp::Eq | Cmp::Ne) { Cmp::Eq } else { c };
            Expr::Compare { left: field(f), cmp: c, right: lit(l) }
        }),
        (json_lit(), any::<bool>()).prop_map(|(l, negated)| Expr::In {
            value: field("attributes.a"),
            list: vec![l],
            negated
        }),
        // Longer lists (bound as one array) of one kind, text or numbers.
        (any::<bool>(), any::<bool>()).prop_map(|(numbers, negated)| Expr::In {
            value: field("attributes.a"),
            list: if numbers {
                vec![Literal::Float(2.0), Literal::Float(2.5), Literal::Float(-3.0), Literal::Float(9.75)]
            } else {
                ["gold", "a", "silverish"].into_iter().map(text).collect()
            },
            negated
        }),
        prop_oneof![Just(text("gold")), Just(Literal::Int(2)), Just(text("o"))]
            .prop_map(|l| Expr::Contains { value: field("attributes.list"), item: lit(l) }),
        prop::sample::select(&["attributes.a", "email", "last_order_at", "birthday", "rfm.segment", "tier"][..])
            .prop_flat_map(|f| any::<bool>().prop_map(move |n| Expr::IsNull { value: field(f), negated: n })),
        prop::sample::select(&["A", "B", "Al"][..])
            .prop_map(|p| Expr::StartsWith { value: field("name"), prefix: lit(text(p)) }),
        prop::sample::select(&["a", "example"][..])
            .prop_map(|p| Expr::Contains { value: field("email"), item: lit(text(p)) }),
        (eq_cmp(), prop::sample::select(&["prospect", "active", "loyal"][..])).prop_map(|(c, s)| Expr::Compare {
            left: field("lifecycle"),
            cmp: c,
            right: lit(text(s))
        }),
        any::<bool>().prop_map(|b| Expr::Compare {
            left: field("consent.email"),
            cmp: Cmp::Eq,
            right: lit(Literal::Bool(b))
        }),
        (cmp(), 0i64..40).prop_map(|(c, d)| Expr::Compare {
            left: field("birthday"),
            cmp: c,
            right: lit(Literal::Date(NaiveDate::from_ymd_opt(1980 + d as i32, 6, 1).unwrap()))
        }),
        (cmp(), -10i64..30).prop_map(|(c, n)| Expr::Compare {
            left: field("score.lead"),
            cmp: c,
            right: lit(Literal::Int(n))
        }),
        prop::sample::select(&["static", "dynamic"][..]).prop_map(|n| Expr::InSegment { name: n.into() }),
        aggregate(),
        any::<bool>().prop_map(|value| Expr::Bool { value }),
    ]
    .boxed()
}

fn expr() -> impl Strategy<Value = Expr> {
    customer_leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|args| Expr::And { args }),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|args| Expr::Or { args }),
            inner.prop_map(|e| Expr::Not { arg: Box::new(e) }),
        ]
    })
}

#[derive(Debug, Clone)]
struct OrderSpec {
    customer: usize,
    days_ago: i64,
    status: OrderStatus,
    eur: bool,
    total: i64,
    channel: Option<&'static str>,
    items: Vec<(usize, usize, i64, i64)>,
}

#[derive(Debug, Clone)]
struct CustomerSpec {
    name: &'static str,
    country: Option<&'static str>,
    email: bool,
    tags: Vec<&'static str>,
    a: Option<serde_json::Value>,
    b: Option<serde_json::Value>,
    list: Option<serde_json::Value>,
    consent: Option<bool>,
    birthday: Option<i32>,
    lifecycle: usize,
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        prop::sample::select(&["gold", "silver", "a", "golden"][..]).prop_map(serde_json::Value::from),
        (-3i64..10).prop_map(serde_json::Value::from),
        (-3.0f64..10.0).prop_map(|f| serde_json::Value::from((f * 4.0).round() / 4.0)),
        any::<bool>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        Just(serde_json::json!(["gold", 2])),
        Just(serde_json::json!({"k": 1})),
    ]
}

fn customer_spec() -> impl Strategy<Value = CustomerSpec> {
    (
        prop::sample::select(&["Ada", "Bob", "Alan", "Cy"][..]),
        prop::option::of(prop::sample::select(&COUNTRIES[..])),
        any::<bool>(),
        prop::collection::vec(prop::sample::select(&["vip", "new", "y"][..]), 0..3),
        (prop::option::of(json_value()), prop::option::of(json_value()), prop::option::of(json_value())),
        prop::option::of(any::<bool>()),
        prop::option::of(0i32..40),
        0usize..3,
    )
        .prop_map(|(name, country, email, tags, (a, b, list), consent, birthday, lifecycle)| CustomerSpec {
            name,
            country,
            email,
            tags,
            a,
            b,
            list,
            consent,
            birthday,
            lifecycle,
        })
}

fn order_spec(customers: usize) -> impl Strategy<Value = OrderSpec> {
    (
        0..customers,
        0i64..600,
        prop_oneof![4 => Just(OrderStatus::Completed), 1 => Just(OrderStatus::Refunded), 1 => Just(OrderStatus::Cancelled)],
        any::<bool>(),
        0i64..30000,
        prop::option::of(prop::sample::select(&CHANNELS[..])),
        prop::collection::vec((0..SKUS.len(), 0..CATEGORIES.len(), 1i64..4, 0i64..10000), 0..3),
    )
        .prop_map(|(customer, days_ago, status, eur, total, channel, items)| OrderSpec {
            customer,
            days_ago,
            status,
            eur,
            total,
            channel,
            items,
        })
}

/// An interaction: customer, kind (complaint, call, survey), days ago, score.
type InteractionSpec = (usize, usize, i64, u8);

/// Customers, orders, interactions and the members of the static segment.
type Dataset = (Vec<CustomerSpec>, Vec<OrderSpec>, Vec<InteractionSpec>, Vec<usize>);

fn dataset() -> impl Strategy<Value = Dataset> {
    prop::collection::vec(customer_spec(), 1..12).prop_flat_map(|cs| {
        let n = cs.len();
        (
            Just(cs),
            prop::collection::vec(order_spec(n), 0..30),
            prop::collection::vec((0..n, 0usize..3, 0i64..400, 0u8..11), 0..15),
            prop::collection::vec(0..n, 0..4),
        )
    })
}

fn build(cs: &[CustomerSpec], os: &[OrderSpec], is: &[InteractionSpec], statics: &[usize]) -> (Crm, Vec<CustomerId>) {
    let crm = common::test_crm();
    let mut ids = Vec::new();
    for (n, c) in cs.iter().enumerate() {
        let mut attrs = serde_json::Map::new();
        for (k, v) in [("a", &c.a), ("b", &c.b), ("list", &c.list)] {
            if let Some(v) = v {
                attrs.insert(k.into(), v.clone());
            }
        }
        let mut consents = std::collections::BTreeMap::new();
        if let Some(g) = c.consent {
            consents.insert("email".to_string(), Consent { granted: g, at: as_of() - Duration::days(3), source: None });
        }
        let stages =
            [crm_core::LifecycleStage::Prospect, crm_core::LifecycleStage::Active, crm_core::LifecycleStage::Loyal];
        let customer = crm
            .create_customer(&NewCustomer {
                external_id: Some(format!("C{n}")),
                kind: Some(CustomerKind::Person),
                name: c.name.into(),
                email: c.email.then(|| format!("{}{n}@example.com", c.name.to_lowercase())),
                address: crm_core::Address { country: c.country.map(String::from), ..Default::default() },
                tags: c.tags.iter().map(|t| t.to_string()).collect::<BTreeSet<_>>(),
                attributes: attrs,
                consents,
                birthday: c.birthday.map(|d| NaiveDate::from_ymd_opt(1980 + d, 6, 1).unwrap()),
                lifecycle: Some(stages[c.lifecycle]),
                created_at: Some(as_of() - Duration::days(700)),
                ..Default::default()
            })
            .unwrap();
        ids.push(customer.id);
    }
    for (n, o) in os.iter().enumerate() {
        crm.record_order(&NewOrder {
            external_id: format!("O{n}"),
            customer_id: Some(ids[o.customer]),
            customer_external_id: None,
            occurred_at: as_of() - Duration::days(o.days_ago) - Duration::hours(n as i64 % 5),
            status: Some(o.status),
            currency: if o.eur { "EUR" } else { "USD" }.parse().unwrap(),
            total_minor: o.total,
            channel: o.channel.map(String::from),
            items: o
                .items
                .iter()
                .map(|&(s, c, q, p)| LineItem {
                    sku: SKUS[s].into(),
                    category: Some(CATEGORIES[c].into()),
                    quantity: q,
                    unit_price_minor: p,
                })
                .collect::<Vec<_>>()
                .into(),
        })
        .unwrap();
    }
    for (n, &(c, kind, days, score)) in is.iter().enumerate() {
        let kind =
            [crm_core::InteractionKind::Complaint, crm_core::InteractionKind::Call, crm_core::InteractionKind::Survey]
                [kind];
        let score = match (kind, score) {
            (crm_core::InteractionKind::Survey, s) => Some(crm_core::Score::Nps(s)),
            (crm_core::InteractionKind::Call, s) if (1..=5).contains(&s) => Some(crm_core::Score::Csat(s)),
            _ => None,
        };
        crm.add_interaction(&NewInteraction {
            external_id: Some(format!("I{n}")),
            customer_id: Some(ids[c]),
            customer_external_id: None,
            kind,
            channel: None,
            direction: None,
            occurred_at: as_of() - Duration::days(days),
            subject: None,
            body: None,
            score,
            payload: None,
        })
        .unwrap();
    }
    crm.create_segment(&NewSegment {
        name: "static".into(),
        members: statics.iter().map(|&i| ids[i]).collect(),
        ..Default::default()
    })
    .unwrap();
    crm.create_segment(&NewSegment {
        name: "dynamic".into(),
        rule: Some(Expr::Or {
            args: vec![
                Expr::Contains { value: field("tags"), item: lit(text("vip")) },
                Expr::InSegment { name: "static".into() },
            ],
        }),
        ..Default::default()
    })
    .unwrap();
    crm.put_scoring_plan(&ScoringPlan {
        name: "lead".into(),
        rules: vec![
            ScoringRule { when: Expr::IsNull { value: field("email"), negated: true }, points: 10 },
            ScoringRule {
                when: Expr::Compare { left: field("order_count"), cmp: Cmp::Ge, right: lit(Literal::Int(2)) },
                points: 15,
            },
            ScoringRule { when: Expr::InSegment { name: "dynamic".into() }, points: -5 },
        ],
    })
    .unwrap();
    // Stored RFM scores (USD spenders) for the `rfm.*` fields.
    let mut rfm = crm_core::segment::RfmConfig::new("USD".parse().unwrap());
    rfm.as_of = Some(as_of());
    crm.refresh_rfm(&rfm).unwrap();
    (crm, ids)
}

proptest! {
    #![proptest_config(Config { cases: 96, ..Config::default() })]

    #[test]
    fn sql_and_memory_agree(
        (cs, os, is, statics) in dataset(),
        exprs in prop::collection::vec(expr(), 12),
    ) {
        let (crm, ids) = build(&cs, &os, &is, &statics);
        for e in &exprs {
            let sql: BTreeSet<CustomerId> =
                crm.members_matching(e, Some(as_of()), None, 100_000).unwrap().into_iter().collect();
            let mem: BTreeSet<CustomerId> =
                ids.iter().copied().filter(|&id| crm.matches_at(id, e, Some(as_of())).unwrap()).collect();
            prop_assert_eq!(&sql, &mem, "rule: {:?}", e);
            prop_assert_eq!(crm.count_matching(e, Some(as_of())).unwrap(), sql.len() as i64);
        }
    }
}

/// Long `and`/`or` chains (past SQLite's expression depth if compiled one level per
/// argument) and big `in` lists (past its parameter limit if bound one value each), of the
/// same leaves as above.
fn long_expr() -> impl Strategy<Value = Expr> {
    let chain = (prop::collection::vec(customer_leaf(), 1..8), 1000usize..1300, any::<bool>(), any::<bool>()).prop_map(
        |(leaves, n, and, negate)| {
            let args: Vec<Expr> = (0..n)
                .map(|i| {
                    let e = leaves[i % leaves.len()].clone();
                    if negate && i % 2 == 1 {
                        Expr::Not { arg: Box::new(e) }
                    } else {
                        e
                    }
                })
                .collect();
            if and {
                Expr::And { args }
            } else {
                Expr::Or { args }
            }
        },
    );
    let list = (prop::collection::vec(country(), 0..3), 33_000usize..40_000, any::<bool>(), any::<bool>()).prop_map(
        |(real, n, negated, ids)| {
            if ids {
                let list = (0..n as i64).map(|i| Literal::Int(i * 3 % 50)).collect();
                return Expr::In { value: field("id"), list, negated };
            }
            let mut list: Vec<Literal> = (0..n).map(|i| text(&format!("Q{i}"))).collect();
            list.extend(real);
            Expr::In { value: field("country"), list, negated }
        },
    );
    prop_oneof![chain, list]
}

proptest! {
    #![proptest_config(Config { cases: 6, ..Config::default() })]

    #[test]
    fn sql_and_memory_agree_on_long_rules(
        (cs, os, is, statics) in dataset(),
        exprs in prop::collection::vec(long_expr(), 3),
    ) {
        let (crm, ids) = build(&cs, &os, &is, &statics);
        for e in &exprs {
            // A chain of many large leaves may pass the size limit: refused as such, never
            // by SQLite.
            if let Err(err) = crm.check_rule(e) {
                prop_assert!(err.to_string().contains("larger than 10000"), "{}", err);
                continue;
            }
            let sql: BTreeSet<CustomerId> =
                crm.members_matching(e, Some(as_of()), None, 100_000).unwrap().into_iter().collect();
            let mem: BTreeSet<CustomerId> =
                ids.iter().copied().filter(|&id| crm.matches_at(id, e, Some(as_of())).unwrap()).collect();
            prop_assert_eq!(&sql, &mem);
            prop_assert_eq!(crm.count_matching(e, Some(as_of())).unwrap(), sql.len() as i64);
        }
    }
}
