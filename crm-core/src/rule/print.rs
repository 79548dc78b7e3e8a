//! The canonical text of a rule tree: one line, lower-case keywords, `<`/`>` for
//! `before`/`after`, plural units, money with exactly its currency's decimal places, and only
//! the parentheses needed so that [`parse`](super::parse) gives back the same tree.
//!
//! `parse(&e.to_string()) == e` holds for every tree the parser can produce; the trees it
//! cannot (only built by hand or from JSON, and refused by the checker) are listed on
//! [`parse`](super::parse) under *Round trip*. Printing recurses over the tree, which is
//! bounded by [`MAX_DEPTH`](super::MAX_DEPTH) for trees from text and by serde_json's own
//! recursion limit for trees from JSON.

use std::fmt::{self, Display, Formatter, Write};

use chrono::Timelike;

use super::ast::{Expr, Literal, Sign, Span, Value};
use crate::money::Money;

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Bool { value } => write!(f, "{value}"),
            Expr::And { args } => junction(f, args, Junction::And),
            Expr::Or { args } => junction(f, args, Junction::Or),
            Expr::Not { arg } => {
                f.write_str("not ")?;
                operand(f, arg, is_junction(arg))
            }
            Expr::Compare { left, cmp, right } => write!(f, "{left} {} {right}", cmp.symbol()),
            Expr::In { value, list, negated } => {
                write!(f, "{value} {}in [", if *negated { "not " } else { "" })?;
                for (i, item) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Expr::Contains { value, item } => write!(f, "{value} contains {item}"),
            Expr::StartsWith { value, prefix } => write!(f, "{value} starts with {prefix}"),
            Expr::IsNull { value, negated } => write!(f, "{value} is {}null", if *negated { "not " } else { "" }),
            Expr::Within { value, span } => write!(f, "{value} within {span}"),
            Expr::Between { value, low, high } => write!(f, "{value} between {low} and {high}"),
            Expr::InSegment { name } => {
                f.write_str("in segment ")?;
                text(f, name)
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Junction {
    And,
    Or,
}

fn is_junction(e: &Expr) -> bool {
    matches!(e, Expr::And { .. } | Expr::Or { .. })
}

/// Whether an operand of `parent` needs parentheses: an `or` always does inside an `and`
/// (precedence), and a junction of the same kind does so that the parser keeps it a node of
/// its own rather than flattening it into the parent.
fn needs_parens(parent: Junction, arg: &Expr) -> bool {
    match arg {
        Expr::And { .. } => parent == Junction::And,
        Expr::Or { .. } => true,
        _ => false,
    }
}

/// `a and b and c`. Junctions of fewer than two conditions cannot be written: an empty `and`
/// prints as `true`, an empty `or` as `false`, and one of a single condition as that condition.
fn junction(f: &mut Formatter<'_>, args: &[Expr], kind: Junction) -> fmt::Result {
    let word = match kind {
        Junction::And => " and ",
        Junction::Or => " or ",
    };
    match args {
        [] => f.write_str(if kind == Junction::And { "true" } else { "false" }),
        [only] => only.fmt(f),
        _ => {
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    f.write_str(word)?;
                }
                operand(f, arg, needs_parens(kind, arg))?;
            }
            Ok(())
        }
    }
}

fn operand(f: &mut Formatter<'_>, e: &Expr, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({e})")
    } else {
        e.fmt(f)
    }
}

/// Whether the printed condition ends with a bare `true` or `false`, which an aggregate's
/// `within` right after would turn into the value of a Within predicate
/// (`count(orders where true within 5 days)`).
fn ends_with_bare_bool(e: &Expr) -> bool {
    match e {
        Expr::Bool { .. } => true,
        Expr::Not { arg } => !is_junction(arg) && ends_with_bare_bool(arg),
        Expr::And { args } | Expr::Or { args } => {
            let kind = if matches!(e, Expr::And { .. }) { Junction::And } else { Junction::Or };
            match args.as_slice() {
                [] => true,
                [only] => ends_with_bare_bool(only),
                [.., last] => !needs_parens(kind, last) && ends_with_bare_bool(last),
            }
        }
        _ => false,
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::Field { name } => f.write_str(name),
            Value::Literal { value } => value.fmt(f),
            Value::Now => f.write_str("now()"),
            Value::Shift { base, sign, span } => {
                let sign = match sign {
                    Sign::Plus => '+',
                    Sign::Minus => '-',
                };
                write!(f, "{base} {sign} {span}")
            }
            Value::Aggregate { func, source, field, filter, within } => {
                write!(f, "{}({}", func.name(), source.name())?;
                if let Some(field) = field {
                    write!(f, ".{field}")?;
                }
                if let Some(filter) = filter {
                    f.write_str(" where ")?;
                    operand(f, filter, within.is_some() && ends_with_bare_bool(filter))?;
                }
                if let Some(span) = within {
                    write!(f, " within {span}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Text(s) => text(f, s),
            Literal::Int(n) => write!(f, "{n}"),
            // Debug is the shortest text that reads back to the same f64, and always has a
            // `.` or an exponent, so it reads back as a float rather than an integer.
            Literal::Float(x) if x.is_finite() => write!(f, "{x:?}"),
            Literal::Float(x) if x.is_nan() => f.write_str("NaN"),
            Literal::Float(x) => f.write_str(if *x > 0.0 { "inf" } else { "-inf" }),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Literal::Time(t) => {
                write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S"))?;
                // A leap second's nanoseconds run past 10^9; %S has already printed `60`.
                let nanos = t.nanosecond() % 1_000_000_000;
                if nanos != 0 {
                    write!(f, ".{}", format!("{nanos:09}").trim_end_matches('0'))?;
                }
                f.write_char('Z')
            }
            Literal::Money { minor, currency } => Money::new(*minor, *currency).fmt(f),
        }
    }
}

impl Display for Span {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.count, self.unit.name())
    }
}

/// A string literal with the least escaping that reads back the same: quotes, backslashes
/// and control characters.
fn text(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use crate::rule::{AggFunc, Cmp, Source, Unit};

    fn field(name: &str) -> Value {
        Value::Field { name: name.into() }
    }

    fn int(n: i64) -> Value {
        Value::Literal { value: Literal::Int(n) }
    }

    fn eq(name: &str, n: i64) -> Expr {
        Expr::Compare { left: field(name), cmp: Cmp::Eq, right: int(n) }
    }

    fn round_trip(e: &Expr) -> String {
        let text = e.to_string();
        assert_eq!(&parse(&text).unwrap_or_else(|err| panic!("{text}: {err}")), e, "{text}");
        text
    }

    #[test]
    fn parentheses_only_where_the_tree_needs_them() {
        let and = |args: Vec<Expr>| Expr::And { args };
        let or = |args: Vec<Expr>| Expr::Or { args };
        assert_eq!(round_trip(&and(vec![eq("a", 1), eq("b", 2), eq("c", 3)])), "a = 1 and b = 2 and c = 3");
        assert_eq!(
            round_trip(&and(vec![eq("a", 1), and(vec![eq("b", 2), eq("c", 3)])])),
            "a = 1 and (b = 2 and c = 3)"
        );
        assert_eq!(round_trip(&or(vec![or(vec![eq("a", 1), eq("b", 2)]), eq("c", 3)])), "(a = 1 or b = 2) or c = 3");
        assert_eq!(round_trip(&or(vec![and(vec![eq("a", 1), eq("b", 2)]), eq("c", 3)])), "a = 1 and b = 2 or c = 3");
        assert_eq!(round_trip(&and(vec![or(vec![eq("a", 1), eq("b", 2)]), eq("c", 3)])), "(a = 1 or b = 2) and c = 3");
        let not = |e: Expr| Expr::Not { arg: Box::new(e) };
        assert_eq!(round_trip(&not(not(eq("a", 1)))), "not not a = 1");
        assert_eq!(round_trip(&not(and(vec![eq("a", 1), eq("b", 2)]))), "not (a = 1 and b = 2)");
    }

    #[test]
    fn aggregate_filters_keep_their_within() {
        let days = |count| Span { count, unit: Unit::Days };
        let agg = |filter: Expr, within| Value::Aggregate {
            func: AggFunc::Count,
            source: Source::Orders,
            field: None,
            filter: Some(Box::new(filter)),
            within,
        };
        let gt0 = |v| Expr::Compare { left: v, cmp: Cmp::Gt, right: int(0) };
        let recent = Expr::Within { value: field("occurred_at"), span: days(5) };
        let filter = Expr::And { args: vec![eq("a", 1), recent.clone()] };
        assert_eq!(
            round_trip(&gt0(agg(filter.clone(), None))),
            "count(orders where a = 1 and occurred_at within 5 days) > 0"
        );
        assert_eq!(
            round_trip(&gt0(agg(filter, Some(days(30))))),
            "count(orders where a = 1 and occurred_at within 5 days within 30 days) > 0"
        );
        let t = Expr::Bool { value: true };
        assert_eq!(round_trip(&gt0(agg(t.clone(), Some(days(3))))), "count(orders where (true) within 3 days) > 0");
        assert_eq!(round_trip(&gt0(agg(t.clone(), None))), "count(orders where true) > 0");
        let not_t = Expr::Not { arg: Box::new(t.clone()) };
        assert_eq!(
            round_trip(&gt0(agg(Expr::Or { args: vec![recent, not_t] }, Some(days(3))))),
            "count(orders where (occurred_at within 5 days or not true) within 3 days) > 0"
        );
        let bool_within = Expr::Within { value: Value::Literal { value: Literal::Bool(true) }, span: days(5) };
        assert_eq!(
            round_trip(&gt0(agg(bool_within, Some(days(3))))),
            "count(orders where true within 5 days within 3 days) > 0"
        );
    }

    #[test]
    fn literals_print_so_they_read_back() {
        let lit = |l: Literal| Expr::Compare { left: field("x"), cmp: Cmp::Eq, right: Value::Literal { value: l } };
        assert_eq!(round_trip(&lit(Literal::Float(1000.0))), "x = 1000.0");
        assert_eq!(round_trip(&lit(Literal::Float(1e300))), "x = 1e300");
        assert_eq!(round_trip(&lit(Literal::Float(-2.5e-7))), "x = -2.5e-7");
        assert_eq!(round_trip(&lit(Literal::Text("a\"b\\c\nd\u{0}é#".into()))), r#"x = "a\"b\\c\nd\u{0}é#""#);
        let t = chrono::DateTime::from_timestamp(1_769_860_800, 120_000_000).unwrap();
        assert_eq!(round_trip(&lit(Literal::Time(t))), "x = 2026-01-31T12:00:00.12Z");
        assert_eq!(lit(Literal::Float(f64::NAN)).to_string(), "x = NaN");
        assert_eq!(lit(Literal::Float(f64::NEG_INFINITY)).to_string(), "x = -inf");
        assert!(parse("x = inf").is_err());
    }

    #[test]
    fn junctions_the_parser_never_builds_print_as_what_they_mean() {
        assert_eq!(Expr::And { args: vec![] }.to_string(), "true");
        assert_eq!(Expr::Or { args: vec![] }.to_string(), "false");
        assert_eq!(Expr::Or { args: vec![eq("a", 1)] }.to_string(), "a = 1");
        assert_eq!(Expr::In { value: field("a"), list: vec![], negated: false }.to_string(), "a in []");
    }
}
