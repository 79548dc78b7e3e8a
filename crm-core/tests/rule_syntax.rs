//! The rule language's text form: the examples of DESIGN.md and the segmentation issue parse
//! to the trees they mean and print back canonically; errors name the line, column, token and
//! expectation; hostile input is an error, never a panic or a stack overflow; and for random
//! trees, text and JSON both give back the same tree.

use chrono::{DateTime, NaiveDate, Utc};
use crm_core::rule::{parse, AggFunc, Cmp, Expr, Literal, Sign, Source, Span, Unit, Value, MAX_DEPTH};
use crm_core::{Currency, Error, MAX_MINOR};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn field(name: &str) -> Value {
    Value::Field { name: name.into() }
}

fn lit(value: Literal) -> Value {
    Value::Literal { value }
}

fn string(s: &str) -> Value {
    lit(Literal::Text(s.into()))
}

fn int(n: i64) -> Value {
    lit(Literal::Int(n))
}

fn money(minor: i64, code: &str) -> Value {
    lit(Literal::Money { minor, currency: code.parse().unwrap() })
}

fn cmp(left: Value, cmp: Cmp, right: Value) -> Expr {
    Expr::Compare { left, cmp, right }
}

fn days(count: i64) -> Span {
    Span { count, unit: Unit::Days }
}

fn agg(func: AggFunc, source: Source, field: Option<&str>, filter: Option<Expr>, within: Option<Span>) -> Value {
    Value::Aggregate { func, source, field: field.map(Into::into), filter: filter.map(Box::new), within }
}

/// Parses `text`, checks it against `tree`, and checks that the tree prints as `canonical`
/// and that the canonical text and the JSON form both read back to the same tree.
fn check(text: &str, tree: &Expr, canonical: &str) {
    let parsed = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(&parsed, tree, "{text}");
    assert_eq!(tree.to_string(), canonical);
    assert_eq!(&parse(canonical).unwrap(), tree, "{canonical}");
    let json = serde_json::to_string(tree).unwrap();
    assert_eq!(&serde_json::from_str::<Expr>(&json).unwrap(), tree, "{json}");
}

#[test]
fn the_design_example() {
    let text = r#"country in ["CN", "SG"] and total_spent >= 1000.00 CNY
  and last_order_at within 90 days and "vip" in tags
  and count(orders where category = "shoes" within 180 days) >= 2"#;
    let tree = Expr::And {
        args: vec![
            Expr::In {
                value: field("country"),
                list: vec![Literal::Text("CN".into()), Literal::Text("SG".into())],
                negated: false,
            },
            cmp(field("total_spent"), Cmp::Ge, money(100_000, "CNY")),
            Expr::Within { value: field("last_order_at"), span: days(90) },
            Expr::Contains { value: field("tags"), item: string("vip") },
            cmp(
                agg(
                    AggFunc::Count,
                    Source::Orders,
                    None,
                    Some(cmp(field("category"), Cmp::Eq, string("shoes"))),
                    Some(days(180)),
                ),
                Cmp::Ge,
                int(2),
            ),
        ],
    };
    check(
        text,
        &tree,
        r#"country in ["CN", "SG"] and total_spent >= 1000.00 CNY and last_order_at within 90 days and tags contains "vip" and count(orders where category = "shoes" within 180 days) >= 2"#,
    );
}

#[test]
fn the_issue_aggregates() {
    check(
        r#"sum(orders.total where channel = "web") > 500.00 USD"#,
        &cmp(
            agg(AggFunc::Sum, Source::Orders, Some("total"), Some(cmp(field("channel"), Cmp::Eq, string("web"))), None),
            Cmp::Gt,
            money(50_000, "USD"),
        ),
        r#"sum(orders.total where channel = "web") > 500.00 USD"#,
    );
    check(
        r#"COUNT( Interactions WHERE kind = "complaint" Within 30 DAY ) > 0"#,
        &cmp(
            agg(
                AggFunc::Count,
                Source::Interactions,
                None,
                Some(cmp(field("kind"), Cmp::Eq, string("complaint"))),
                Some(days(30)),
            ),
            Cmp::Gt,
            int(0),
        ),
        r#"count(interactions where kind = "complaint" within 30 days) > 0"#,
    );
    // A `within` right after a value is the Within predicate, not the aggregate's window.
    check(
        "count(orders where occurred_at within 30 days) >= 1",
        &cmp(
            agg(
                AggFunc::Count,
                Source::Orders,
                None,
                Some(Expr::Within { value: field("occurred_at"), span: days(30) }),
                None,
            ),
            Cmp::Ge,
            int(1),
        ),
        "count(orders where occurred_at within 30 days) >= 1",
    );
    check(
        "max(all_orders.occurred_at within 1 year) after now() - 6 months",
        &cmp(
            agg(AggFunc::Max, Source::AllOrders, Some("occurred_at"), None, Some(Span { count: 1, unit: Unit::Years })),
            Cmp::Gt,
            Value::Shift { base: Box::new(Value::Now), sign: Sign::Minus, span: Span { count: 6, unit: Unit::Months } },
        ),
        "max(all_orders.occurred_at within 1 years) > now() - 6 months",
    );
}

#[test]
fn the_issue_fields_and_operators() {
    check(
        "rfm.segment = \"Champions\" or rfm.score >= 444 or score.lead > 50",
        &Expr::Or {
            args: vec![
                cmp(field("rfm.segment"), Cmp::Eq, string("Champions")),
                cmp(field("rfm.score"), Cmp::Ge, int(444)),
                cmp(field("score.lead"), Cmp::Gt, int(50)),
            ],
        },
        "rfm.segment = \"Champions\" or rfm.score >= 444 or score.lead > 50",
    );
    check(
        "not (tier = \"gold\" or lifecycle = \"churned\") and in segment \"vip buyers\"",
        &Expr::And {
            args: vec![
                Expr::Not {
                    arg: Box::new(Expr::Or {
                        args: vec![
                            cmp(field("tier"), Cmp::Eq, string("gold")),
                            cmp(field("lifecycle"), Cmp::Eq, string("churned")),
                        ],
                    }),
                },
                Expr::InSegment { name: "vip buyers".into() },
            ],
        },
        "not (tier = \"gold\" or lifecycle = \"churned\") and in segment \"vip buyers\"",
    );
    let jan = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let march_end_utc = NaiveDate::from_ymd_opt(2026, 3, 30).unwrap().and_hms_opt(16, 0, 0).unwrap().and_utc();
    check(
        "first_order_at between 2026-01-01 and 2026-03-31T00:00:00+08:00 and last_order_at before now() - 30 days - 2 hours",
        &Expr::And {
            args: vec![
                Expr::Between {
                    value: field("first_order_at"),
                    low: lit(Literal::Date(jan)),
                    high: lit(Literal::Time(march_end_utc)),
                },
                cmp(
                    field("last_order_at"),
                    Cmp::Lt,
                    Value::Shift {
                        base: Box::new(Value::Shift {
                            base: Box::new(Value::Now),
                            sign: Sign::Minus,
                            span: days(30),
                        }),
                        sign: Sign::Minus,
                        span: Span { count: 2, unit: Unit::Hours },
                    },
                ),
            ],
        },
        "first_order_at between 2026-01-01 and 2026-03-30T16:00:00Z and last_order_at < now() - 30 days - 2 hours",
    );
    check(
        "attributes.plan starts with \"pro\" AND email IS NOT NULL and phone is null and x NOT IN [1, 2.5, -3, true] \
         and attributes.active = true and name contains \"Lovelace\"",
        &Expr::And {
            args: vec![
                Expr::StartsWith { value: field("attributes.plan"), prefix: string("pro") },
                Expr::IsNull { value: field("email"), negated: true },
                Expr::IsNull { value: field("phone"), negated: false },
                Expr::In {
                    value: field("x"),
                    list: vec![Literal::Int(1), Literal::Float(2.5), Literal::Int(-3), Literal::Bool(true)],
                    negated: true,
                },
                cmp(field("attributes.active"), Cmp::Eq, lit(Literal::Bool(true))),
                Expr::Contains { value: field("name"), item: string("Lovelace") },
            ],
        },
        "attributes.plan starts with \"pro\" and email is not null and phone is null and x not in [1, 2.5, -3, true] \
         and attributes.active = true and name contains \"Lovelace\"",
    );
}

#[test]
fn chains_flatten_but_groups_stay() {
    let (a, b, c) =
        (cmp(field("a"), Cmp::Eq, int(1)), cmp(field("b"), Cmp::Eq, int(2)), cmp(field("c"), Cmp::Eq, int(3)));
    check(
        "a = 1 and b = 2 and c = 3",
        &Expr::And { args: vec![a.clone(), b.clone(), c.clone()] },
        "a = 1 and b = 2 and c = 3",
    );
    check(
        "a = 1 and (b = 2 and c = 3)",
        &Expr::And { args: vec![a.clone(), Expr::And { args: vec![b.clone(), c.clone()] }] },
        "a = 1 and (b = 2 and c = 3)",
    );
    check(
        "((a = 1)) or b = 2 and c = 3",
        &Expr::Or { args: vec![a.clone(), Expr::And { args: vec![b.clone(), c.clone()] }] },
        "a = 1 or b = 2 and c = 3",
    );
    check(
        "not a = 1 and true",
        &Expr::And { args: vec![Expr::Not { arg: Box::new(a) }, Expr::Bool { value: true }] },
        "not a = 1 and true",
    );
}

#[test]
fn json_is_the_same_tree() {
    let json = r#"{"op": "contains", "value": {"kind": "field", "name": "tags"},
                   "item": {"kind": "literal", "value": {"type": "text", "value": "vip"}}}"#;
    assert_eq!(serde_json::from_str::<Expr>(json).unwrap(), parse("\"vip\" in tags").unwrap());
}

/// An input and its error's line, column, found and expected.
type ErrorCase<'a> = (&'a str, (usize, usize, &'a str, &'a str));

/// Each error's line, column, found and expected.
#[test]
fn errors_point_at_the_token() {
    let predicate =
        "a comparison (=, !=, <, <=, >, >=, before, after), in, not in, contains, starts with, is, within or between";
    let cases: &[ErrorCase] = &[
        ("(country = \"CN\"", (1, 16, "end of input", "`and`, `or` or `)`")),
        ("country = \"CN\")", (1, 15, "`)`", "`and`, `or` or end of input")),
        ("country = \"CN\"\n\tand tags contains\n\t\t)", (3, 3, "`)`", "a value")),
        ("country\n  \"CN\"", (2, 3, "`\"CN\"`", predicate)),
        ("x = 1 y = 2", (1, 7, "identifier `y`", "`and`, `or` or end of input")),
        ("and x = 1", (1, 1, "`and`", "a condition")),
        ("x = ", (1, 5, "end of input", "a value")),
        ("x = (1)", (1, 5, "`(`", "a value")),
        ("name = \"Ada\n\"", (1, 8, "unterminated string `\"Ada`", "a closing `\"` on the same line")),
        (r#"x = "a\qb""#, (1, 7, r"`\q`", r#"an escape: \", \\, \n, \t, \r or \u{hex}"#)),
        (
            "last_order_at within 3 fortnights",
            (1, 24, "identifier `fortnights`", "a unit (hours, days, weeks, months or years)"),
        ),
        ("x within 100001 days", (1, 10, "`100001`", "a count from 0 to 100000")),
        ("x within 1.5 days", (1, 10, "`1.5`", "a count from 0 to 100000")),
        ("x = 2026-02-30", (1, 5, "`2026-02-30`", "a valid date (YYYY-MM-DD)")),
        ("x = 2026-1-30", (1, 5, "`2026-1-30`", "a valid date (YYYY-MM-DD)")),
        (
            "x > 2026-01-31T12:00:00",
            (
                1,
                5,
                "`2026-01-31T12:00:00`",
                "a valid RFC 3339 time with `Z` or an offset, such as `2026-01-31T12:00:00Z`",
            ),
        ),
        ("total_spent >= 1.005 USD", (1, 16, "`1.005 USD`", "at most 2 decimal places for USD")),
        ("total_spent >= 5 ZZZ", (1, 18, "identifier `ZZZ`", "an ISO 4217 currency code")),
        (
            "x = 99999999999999999999",
            (1, 5, "`99999999999999999999`", "an integer from -9223372036854775808 to 9223372036854775807"),
        ),
        ("x in []", (1, 7, "`]`", "a literal")),
        ("x in [1 2]", (1, 9, "`2`", "`,` or `]`")),
        ("x in tags", (1, 6, "identifier `tags`", "`[`")),
        ("\"vip\" not in tags", (1, 14, "identifier `tags`", "`[`")),
        ("x starts \"a\"", (1, 10, "`\"a\"`", "`with`")),
        ("x is nul", (1, 6, "identifier `nul`", "`null` or `not null`")),
        ("x between 1 or 2", (1, 13, "`or`", "`and`")),
        ("in segment vip", (1, 12, "identifier `vip`", "the segment's name in double quotes")),
        (
            "count(orderz) > 1",
            (
                1,
                7,
                "identifier `orderz`",
                "an aggregate source (orders, all_orders, items or interactions), with `.field` for sum, min and max",
            ),
        ),
        ("count(orders where a = 1 within 5 days within 3 days) > 0", (1, 40, "`within`", "`)`")),
        ("count(orders where a = 1 b) > 0", (1, 26, "identifier `b`", "`and`, `or`, `within` or `)`")),
        ("count(orders b) > 0", (1, 14, "identifier `b`", "`where`, `within` or `)`")),
        ("x = now(", (1, 9, "end of input", "`)`")),
        ("x ! 1", (1, 3, "`!`", predicate)),
        ("客户 = 1", (1, 1, "`客`", "a condition")),
        ("naïve = 1", (1, 3, "`ï`", predicate)),
        ("x = \0", (1, 5, r"`\u{0}`", "a value")),
    ];
    for (input, (line, column, found, expected)) in cases {
        match parse(input) {
            Err(Error::Parse { line: l, column: c, found: f, expected: e }) => {
                assert_eq!((l, c, f.as_str(), e.as_str()), (*line, *column, *found, *expected), "{input:?}");
            }
            other => panic!("{input:?} gave {other:?}"),
        }
    }
    assert_eq!(
        parse("x in [1,\n 2").unwrap_err().to_string(),
        "parse error at line 2, column 3: expected `,` or `]`, found end of input"
    );
}

/// Runs `f` on a thread with the default 2 MiB stack of spawned threads, so that a parser or
/// printer that recursed without bound would overflow it.
fn on_default_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(2 << 20).spawn(f).unwrap().join().unwrap()
}

fn too_deep(input: &str, column: usize) {
    match parse(input) {
        Err(Error::Parse { line: 1, column: c, found, expected }) => {
            assert_eq!(c, column, "{}", &input[..80.min(input.len())]);
            assert!(found.ends_with(&format!("nesting deeper than {MAX_DEPTH}")), "{found}");
            assert!(expected.starts_with(&format!("at most {MAX_DEPTH} levels of nesting")), "{expected}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_input_is_an_error_not_a_crash() {
    on_default_stack(|| {
        let n = 100_000;
        too_deep(&"(".repeat(n), MAX_DEPTH + 1);
        too_deep(&format!("{}true", "not ".repeat(n)), 4 * MAX_DEPTH + 1);
        too_deep(&format!("{}true", "not (".repeat(n)), 5 * (MAX_DEPTH / 2) + 1);
        let prefix = "count(orders where ";
        too_deep(&prefix.repeat(n), prefix.len() * MAX_DEPTH + prefix.find("where").unwrap() + 1);
        too_deep(&format!("x = now(){}", " - 1 day".repeat(n)), "x = now()".len() + 8 * MAX_DEPTH + 2);
        assert!(parse(&format!("x in {}", "[".repeat(n))).is_err());
        assert!(parse(&"-".repeat(n)).is_err());
        assert!(parse(&")".repeat(n)).is_err());
        assert!(parse(&"\0".repeat(n)).is_err());

        let long = "é\"\\".repeat(n);
        let e = cmp(field("name"), Cmp::Eq, lit(Literal::Text(long.clone())));
        assert_eq!(parse(&e.to_string()).unwrap(), e);
        let Err(Error::Parse { found, .. }) = parse(&format!("name = \"{}", "a".repeat(n))) else { panic!() };
        assert!(found.len() < 100, "{found}");

        let wide = vec!["x = 1"; n].join(" and ");
        let Expr::And { args } = parse(&wide).unwrap() else { panic!() };
        assert_eq!(args.len(), n);
        assert_eq!(Expr::And { args }.to_string(), wide);

        assert!(matches!(parse("x = \"a\0b\""), Ok(Expr::Compare { .. })));
    });
}

/// The deepest nesting allowed parses, prints, compares and drops on the default stack.
#[test]
fn max_depth_is_usable() {
    on_default_stack(|| {
        let parens = format!("{}x = 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(parse(&parens).unwrap().to_string(), "x = 1");
        let nots = format!("{}x = 1", "not ".repeat(MAX_DEPTH));
        assert_eq!(parse(&nots).unwrap().to_string(), nots);
        let aggs = format!("{}true{}", "count(orders where ".repeat(MAX_DEPTH), ") > 0".repeat(MAX_DEPTH));
        let tree = parse(&aggs).unwrap();
        assert_eq!(tree.to_string(), aggs);
        assert_eq!(parse(&tree.to_string()).unwrap(), tree);
        let json = serde_json::to_string(&tree).unwrap();
        drop(json);
        let mixed = format!("{}x = 1{}", "not (a = 1 and ".repeat(MAX_DEPTH / 2), ")".repeat(MAX_DEPTH / 2));
        let tree = parse(&mixed).unwrap();
        assert_eq!(parse(&tree.to_string()).unwrap(), tree);
    });
}

// ---- random trees ----

/// Words the parser never reads as a field name when they stand alone.
const RESERVED: &[&str] = &[
    "and", "or", "not", "in", "contains", "starts", "with", "is", "null", "within", "between", "before", "after",
    "true", "false", "where", "segment", "nan", "inf", "infinity",
];

fn ident() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,6}"
}

fn field_name() -> BoxedStrategy<String> {
    prop_oneof![
        4 => ident().prop_filter("a keyword", |s| !RESERVED.iter().any(|k| s.eq_ignore_ascii_case(k))),
        // Dotted names are fields whatever their parts: `rfm.segment`, `attributes.in`.
        2 => prop::collection::vec(prop_oneof![ident(), prop::sample::select(RESERVED).prop_map(String::from)], 2..4)
            .prop_map(|parts| parts.join(".")),
        // Names that are also functions, sources, units or currency codes elsewhere.
        1 => prop::sample::select(&["now", "count", "sum", "min", "max", "orders", "days", "USD", "e5"][..])
            .prop_map(String::from),
    ]
    .boxed()
}

fn span() -> impl Strategy<Value = Span> {
    (
        prop_oneof![0..=3i64, 0..=100_000i64],
        prop::sample::select(&[Unit::Hours, Unit::Days, Unit::Weeks, Unit::Months, Unit::Years][..]),
    )
        .prop_map(|(count, unit)| Span { count, unit })
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z: the years a four-digit date can write.
    let seconds = -62_167_219_200i64..=253_402_300_799;
    let nanos = prop_oneof![Just(0u32), (0..1_000_000u32).prop_map(|micros| micros * 1000), 0..1_000_000_000u32];
    (seconds, nanos).prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
}

/// Up to seven significant digits and a small exponent: `-12.5`, `3e-7`, `40000.0`.
fn short_float() -> impl Strategy<Value = f64> {
    (-9_999_999..=9_999_999i64, -10..=10i32).prop_map(|(m, e)| format!("{m}e{e}").parse().unwrap())
}

fn literal() -> BoxedStrategy<Literal> {
    let float = any::<f64>().prop_filter("finite", |x| x.is_finite());
    prop_oneof![
        any::<String>().prop_map(Literal::Text),
        "[ -~]{0,8}".prop_map(Literal::Text),
        any::<i64>().prop_map(Literal::Int),
        (-1000..1000i64).prop_map(Literal::Int),
        float.prop_map(Literal::Float),
        short_float().prop_map(Literal::Float),
        any::<bool>().prop_map(Literal::Bool),
        (0..=9999i32, 1..=366u32)
            .prop_filter_map("a day of the year", |(y, o)| NaiveDate::from_yo_opt(y, o).map(Literal::Date)),
        time().prop_map(Literal::Time),
        (
            prop_oneof![-MAX_MINOR..=MAX_MINOR, -100_000..100_000i64],
            prop::sample::select(&["USD", "CNY", "JPY", "KWD", "EUR", "CLF"][..]),
        )
            .prop_map(|(minor, code)| Literal::Money { minor, currency: Currency::new(code).unwrap() }),
    ]
    .boxed()
}

/// Values; aggregates take their filters from `filter` when there is one.
fn value(filter: Option<BoxedStrategy<Expr>>) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        2 => field_name().prop_map(|name| Value::Field { name }),
        2 => literal().prop_map(|value| Value::Literal { value }),
        1 => Just(Value::Now),
    ];
    leaf.prop_recursive(2, 6, 2, move |inner| {
        let shift = (inner, prop_oneof![Just(Sign::Plus), Just(Sign::Minus)], span())
            .prop_map(|(base, sign, span)| Value::Shift { base: Box::new(base), sign, span });
        let aggregate = (
            prop::sample::select(&[AggFunc::Count, AggFunc::Sum, AggFunc::Min, AggFunc::Max][..]),
            prop::sample::select(&[Source::Orders, Source::AllOrders, Source::Items, Source::Interactions][..]),
            prop::option::of(field_name()),
            prop::option::of(filter.clone().unwrap_or_else(|| Just(Expr::Bool { value: true }).boxed())),
            prop::option::of(span()),
        )
            .prop_map(|(func, source, field, filter, within)| Value::Aggregate {
                func,
                source,
                field,
                filter: filter.map(Box::new),
                within,
            });
        prop_oneof![shift, aggregate]
    })
    .boxed()
}

fn predicate(v: BoxedStrategy<Value>) -> BoxedStrategy<Expr> {
    let cmps = prop::sample::select(&[Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge][..]);
    prop_oneof![
        3 => (v.clone(), cmps, v.clone()).prop_map(|(left, cmp, right)| Expr::Compare { left, cmp, right }),
        1 => (v.clone(), prop::collection::vec(literal(), 1..4), any::<bool>())
            .prop_map(|(value, list, negated)| Expr::In { value, list, negated }),
        1 => (v.clone(), v.clone()).prop_map(|(value, item)| Expr::Contains { value, item }),
        1 => (v.clone(), v.clone()).prop_map(|(value, prefix)| Expr::StartsWith { value, prefix }),
        1 => (v.clone(), any::<bool>()).prop_map(|(value, negated)| Expr::IsNull { value, negated }),
        2 => (v.clone(), span()).prop_map(|(value, span)| Expr::Within { value, span }),
        1 => (v.clone(), v.clone(), v).prop_map(|(value, low, high)| Expr::Between { value, low, high }),
    ]
    .boxed()
}

fn expr() -> BoxedStrategy<Expr> {
    let leaf = prop_oneof![
        1 => any::<bool>().prop_map(|value| Expr::Bool { value }),
        1 => any::<String>().prop_map(|name| Expr::InSegment { name }),
        4 => predicate(value(None)),
    ];
    leaf.prop_recursive(4, 24, 3, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|args| Expr::And { args }),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|args| Expr::Or { args }),
            inner.clone().prop_map(|arg| Expr::Not { arg: Box::new(arg) }),
            predicate(value(Some(inner))),
        ]
    })
    .boxed()
}

/// Aggregates whose filter ends in a Within predicate or a bare `true`, with and without a
/// window: the places where the aggregate's `within` could be misread.
fn tricky_aggregate() -> BoxedStrategy<Expr> {
    let last = prop_oneof![
        (field_name(), span()).prop_map(|(name, span)| Expr::Within { value: Value::Field { name }, span }),
        Just(Expr::Bool { value: false }),
        Just(Expr::Not { arg: Box::new(Expr::Bool { value: true }) }),
        span().prop_map(|span| Expr::Within { value: Value::Literal { value: Literal::Bool(true) }, span }),
    ];
    (prop::collection::vec(expr(), 0..3), last, any::<bool>(), prop::option::of(span()))
        .prop_map(|(mut args, last, or, within)| {
            args.push(last);
            let filter = match (args.len(), or) {
                (1, _) => args.pop().unwrap(),
                (_, true) => Expr::Or { args },
                (_, false) => Expr::And { args },
            };
            let count = Value::Aggregate {
                func: AggFunc::Count,
                source: Source::Orders,
                field: None,
                filter: Some(Box::new(filter)),
                within,
            };
            Expr::Compare { left: count, cmp: Cmp::Gt, right: Value::Literal { value: Literal::Int(0) } }
        })
        .boxed()
}

/// Pieces of the grammar, for gluing into text that is often nearly right.
const PIECES: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    ",",
    "and",
    "OR",
    "not",
    "in",
    "x",
    "a.b",
    "=",
    "<",
    ">=",
    "!=",
    "1",
    "-",
    "+",
    "2.5",
    "1e3",
    "\"s\"",
    "true",
    "false",
    "null",
    "is",
    "within",
    "3",
    "days",
    "between",
    "contains",
    "starts",
    "with",
    "count(",
    "orders",
    "where",
    "sum(",
    "orders.total",
    "now()",
    "USD",
    "5 USD",
    "2026-01-31",
    "2026-01-31T00:00:00Z",
    "segment",
    "before",
    "after",
    "# c\n",
    "\n",
    "\t",
];

proptest! {
    #![proptest_config(Config { cases: 512, ..Config::default() })]

    #[test]
    fn printed_text_parses_to_the_same_tree(tree in expr()) {
        let text = tree.to_string();
        prop_assert_eq!(parse(&text).map_err(|e| format!("{text}\n{e}")), Ok(tree));
    }

    #[test]
    fn aggregate_windows_survive_printing(tree in tricky_aggregate()) {
        let text = tree.to_string();
        prop_assert_eq!(parse(&text).map_err(|e| format!("{text}\n{e}")), Ok(tree));
    }

    #[test]
    fn json_gives_the_same_tree(tree in expr()) {
        let json = serde_json::to_string(&tree).unwrap();
        prop_assert_eq!(serde_json::from_str::<Expr>(&json).map_err(|e| format!("{json}\n{e}")), Ok(tree));
    }

    #[test]
    fn json_floats_are_exact(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        let tree = Expr::Compare { left: field("x"), cmp: Cmp::Eq, right: lit(Literal::Float(x)) };
        let json = serde_json::to_string(&tree).unwrap();
        prop_assert_eq!(serde_json::from_str::<Expr>(&json).unwrap(), tree, "{}", json);
    }

    #[test]
    fn any_text_parses_or_fails_cleanly(text in prop_oneof![
        any::<String>(),
        prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|p| p.join(" ")),
    ]) {
        parses_or_fails_cleanly(&text)?;
    }

    /// Valid text with a few words deleted, doubled or replaced: mostly errors next to
    /// valid text, and some other valid text.
    #[test]
    fn edited_text_parses_or_fails_cleanly(
        tree in expr(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, prop::sample::select(PIECES)), 1..3),
    ) {
        let text = tree.to_string();
        let mut words: Vec<&str> = text.split(' ').collect();
        for (at, edit, piece) in edits {
            let i = at.index(words.len());
            match edit {
                0 => drop(words.remove(i)),
                1 => words.insert(i, words[i]),
                _ => words[i] = piece,
            }
            if words.is_empty() {
                break;
            }
        }
        parses_or_fails_cleanly(&words.join(" "))?;
    }
}

/// `text` parses to a tree that prints and reads back the same, or fails with an
/// [`Error::Parse`] whose position is inside the text.
fn parses_or_fails_cleanly(text: &str) -> Result<(), TestCaseError> {
    match parse(text) {
        Ok(tree) => prop_assert_eq!(parse(&tree.to_string()).ok(), Some(tree), "{:?}", text),
        Err(Error::Parse { line, column, .. }) => {
            let line_chars = text.split('\n').nth(line.wrapping_sub(1)).map(|l| l.chars().count());
            prop_assert!(
                line_chars.is_some_and(|n| (1..=n + 1).contains(&column)),
                "{:?} at {}:{}",
                text,
                line,
                column
            );
        }
        Err(e) => prop_assert!(false, "{:?}: {}", text, e),
    }
    Ok(())
}
