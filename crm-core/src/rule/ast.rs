//! The syntax tree of the rule language, shared by the text form (parsed and printed by
//! [`parse`](super::parse) and [`Display`](std::fmt::Display)) and the JSON form (serde).
//!
//! The tree says what was written; [`check`](super::check) gives it meaning (field types,
//! currencies, segment and scoring-plan references) before anything is evaluated.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Currency;

/// A condition over one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Expr {
    /// `true` or `false`.
    Bool {
        /// The value.
        value: bool,
    },
    /// `a and b and ...` (two or more).
    And {
        /// The conditions, all of which must hold.
        args: Vec<Expr>,
    },
    /// `a or b or ...` (two or more).
    Or {
        /// The conditions, one of which must hold.
        args: Vec<Expr>,
    },
    /// `not a`.
    Not {
        /// The negated condition.
        arg: Box<Expr>,
    },
    /// `left <op> right`; `before` and `after` are written `<` and `>` in the tree.
    Compare {
        /// Left operand.
        left: Value,
        /// The comparison.
        cmp: Cmp,
        /// Right operand.
        right: Value,
    },
    /// `value in [a, b, ...]` or `value not in [...]`.
    In {
        /// The tested value.
        value: Value,
        /// The literals to look for (at least one).
        list: Vec<Literal>,
        /// `not in`.
        negated: bool,
    },
    /// `text contains "x"`, `tags contains "vip"` (also written `"vip" in tags`), or
    /// `attributes.x contains "y"` (a substring of a string, an element of an array).
    Contains {
        /// The text, tag set or attribute.
        value: Value,
        /// What it must contain.
        item: Value,
    },
    /// `text starts with "x"`.
    StartsWith {
        /// The text.
        value: Value,
        /// The prefix.
        prefix: Value,
    },
    /// `value is null` or `value is not null`.
    IsNull {
        /// The tested value.
        value: Value,
        /// `is not null`.
        negated: bool,
    },
    /// `time within N days`: at most that long before now, and not after now.
    Within {
        /// A time.
        value: Value,
        /// How far back.
        span: Span,
    },
    /// `value between low and high`, both ends included.
    Between {
        /// The tested value.
        value: Value,
        /// Lower bound.
        low: Value,
        /// Upper bound.
        high: Value,
    },
    /// `in segment "name"`: membership of a saved segment.
    InSegment {
        /// The segment's name.
        name: String,
    },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Cmp {
    /// `=`
    #[serde(rename = "=")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
    /// `<` (also `before`)
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>` (also `after`)
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

impl Cmp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> Cmp {
        match self {
            Cmp::Eq => Cmp::Eq,
            Cmp::Ne => Cmp::Ne,
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
        }
    }
}

/// Something that has a value for a customer: a field, a literal, `now()`, time arithmetic
/// or an aggregate over the customer's orders, line items or interactions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Value {
    /// A field by its dotted name: `country`, `total_spent`, `attributes.plan`, `rfm.r`,
    /// `score.lead`, or inside an aggregate's filter a field of the aggregated records.
    Field {
        /// The dotted name.
        name: String,
    },
    /// A constant.
    Literal {
        /// The constant.
        value: Literal,
    },
    /// `now()`: the evaluation time.
    Now,
    /// `time + span` or `time - span`.
    Shift {
        /// The time shifted.
        base: Box<Value>,
        /// `+` (later) or `-` (earlier).
        sign: Sign,
        /// By how much.
        span: Span,
    },
    /// `count(orders where ... within ...)`, `sum(orders.total ...)`, `max(interactions.occurred_at)`.
    Aggregate {
        /// The function.
        func: AggFunc,
        /// The records aggregated.
        source: Source,
        /// The field aggregated (none for `count`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        /// Only records meeting this condition (over the records' fields).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Box<Expr>>,
        /// Only records of the last span before now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        within: Option<Span>,
    },
}

/// A constant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Literal {
    /// `"text"` (double quotes; `\"`, `\\`, `\n`, `\t`, `\u{..}` escapes).
    Text(String),
    /// `42`, `-3`.
    Int(i64),
    /// `4.5`, `-0.25`, `1e3`.
    Float(f64),
    /// `true`, `false`.
    Bool(bool),
    /// `2026-01-31`: a calendar date; compared with a time it means midnight UTC.
    Date(NaiveDate),
    /// `2026-01-31T12:00:00Z`: an instant (RFC 3339, printed in UTC).
    Time(DateTime<Utc>),
    /// `1000.00 CNY`: an amount in minor units and its ISO 4217 currency.
    Money {
        /// Amount in minor units (cents for USD).
        minor: i64,
        /// The currency.
        currency: Currency,
    },
}

/// `+` or `-` in time arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Sign {
    /// Later.
    Plus,
    /// Earlier.
    Minus,
}

/// A length of time: `30 days`, `2 weeks`, `6 months`, `1 year`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Span {
    /// How many units (`0..=100000`).
    pub count: i64,
    /// The unit.
    pub unit: Unit,
}

/// A unit of time. Hours, days and weeks are fixed lengths; months and years are calendar
/// units (the same day of the month, clamped to the month's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// 3,600 seconds.
    Hours,
    /// 86,400 seconds.
    Days,
    /// 7 days.
    Weeks,
    /// Calendar months.
    Months,
    /// Calendar years (12 months).
    Years,
}

impl Unit {
    /// The plural name used in text (the parser also accepts the singular).
    pub fn name(self) -> &'static str {
        match self {
            Unit::Hours => "hours",
            Unit::Days => "days",
            Unit::Weeks => "weeks",
            Unit::Months => "months",
            Unit::Years => "years",
        }
    }

    /// Whether the unit has a fixed length (hours, days, weeks).
    pub fn is_fixed(self) -> bool {
        matches!(self, Unit::Hours | Unit::Days | Unit::Weeks)
    }
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AggFunc {
    /// Number of records (0 when none).
    Count,
    /// Sum of a numeric or money field (0 when none).
    Sum,
    /// Smallest value (null when none).
    Min,
    /// Largest value (null when none).
    Max,
}

impl AggFunc {
    /// The name as written.
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
        }
    }
}

/// The records an aggregate runs over, all of one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Completed orders (those the statistics count).
    Orders,
    /// Orders of every status (completed, refunded, cancelled).
    AllOrders,
    /// Line items of completed orders.
    Items,
    /// Interactions.
    Interactions,
}

impl Source {
    /// The name as written.
    pub fn name(self) -> &'static str {
        match self {
            Source::Orders => "orders",
            Source::AllOrders => "all_orders",
            Source::Items => "items",
            Source::Interactions => "interactions",
        }
    }
}

/// Largest count of a span (`within 100000 days`).
pub const MAX_SPAN: i64 = 100_000;

/// Deepest nesting of conditions and values accepted in text and JSON.
///
/// The parser counts each `(`, `not`, aggregate `where` and time shift; the checker counts
/// every condition and value, through the saved segments and scoring plans a rule uses (a
/// segment's rule sits at the depth of its `in segment`). Chosen so that every rule the
/// checker accepts also fits [`MAX_JSON_DEPTH`] in its JSON form, inside any record (a
/// tree of depth `d` nests at most `2d + 2` JSON levels, a record at most 4 more), and
/// compiles to SQL far within SQLite's expression depth.
pub const MAX_DEPTH: usize = 60;

/// Largest rule the checker accepts: conditions and values counted with the saved segments
/// and scoring plans it uses written out in full (each use counts again), and the value
/// tested by `between` or `within` counted twice (it is compared twice). The literals of an
/// `in` list count as one value; they are bounded by [`MAX_LIST_VALUES`].
pub const MAX_RULE_SIZE: usize = 10_000;

/// Most literals in all the `in` lists of a rule, counted as for [`MAX_RULE_SIZE`].
pub const MAX_LIST_VALUES: usize = 100_000;

/// Deepest nesting of JSON arrays and objects read as a rule or a record holding rules: the
/// limit of every JSON document ([`crate::json::MAX_JSON_DEPTH`], serde_json's own).
pub const MAX_JSON_DEPTH: usize = crate::json::MAX_JSON_DEPTH;
