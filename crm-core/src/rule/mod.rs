//! The rule language shared by segments, scoring plans, lifecycle and value-tier rules and
//! loyalty conditions: a text form for people ([`parse`], and `Display` to print) and a JSON
//! form (serde) for programs; printing then parsing gives back the same tree.
//!
//! ```
//! use crm_core::rule::parse;
//! let rule = parse(r#"country in ["CN", "SG"] and total_spent >= 1000.00 CNY
//!   and last_order_at within 90 days and "vip" in tags
//!   and count(orders where category = "shoes" within 180 days) >= 2"#).unwrap();
//! assert_eq!(parse(&rule.to_string()).unwrap(), rule);
//! ```
//!
//! A tree is given its meaning by [`check`] (fields, types, currencies, references), then
//! evaluated for one customer in memory by [`matches()`] or for every customer at once by the
//! store (SQL on SQLite); both agree.

mod ast;
mod check;
mod eval;
mod json;
mod parse;
mod print;

pub use ast::{
    AggFunc, Cmp, Expr, Literal, Sign, Source, Span, Unit, Value, MAX_DEPTH, MAX_JSON_DEPTH, MAX_LIST_VALUES,
    MAX_RULE_SIZE, MAX_SPAN,
};
pub use check::{check, Aggregate, Cond, Definitions, Field, Scalar, SegmentDef, Term};
pub use eval::{matches, needs, Needs, Subject};
pub use json::{check_json_depth, json_too_deep};
pub use parse::parse;
