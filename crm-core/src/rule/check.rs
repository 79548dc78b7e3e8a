//! Gives a syntax tree its meaning: resolves field names in their scope, checks that each
//! comparison compares like with like, fixes the currency of every amount, folds time
//! arithmetic on constants (so `now()` is one instant for the whole evaluation), desugars
//! `within` and `between`, and inlines saved segments and scoring plans (refusing cycles).
//!
//! The result, a [`Cond`], is what both evaluators run: [`eval`](super::eval) in memory for
//! one customer and the store's compiler (SQL on SQLite) for every customer at once.
//!
//! Semantics both evaluators share, stated once here:
//! - Two-valued logic: a comparison involving a missing value (null) is false, and so is a
//!   comparison of values of different kinds (an attribute holding text compared with a
//!   number) or of amounts in different currencies. `not` negates the result, so
//!   `not (email = "a@b.c")` holds for a customer without an email.
//! - `total_spent` and money aggregates are per currency: the currency is the one of the
//!   amount they are compared with, and orders in other currencies do not count.
//! - In a filter over `orders`, a comparison on a line-item field (`category`, `sku`,
//!   `quantity`, `unit_price`) holds when some line item of the order meets it.
//! - `t within N days` means `now() - N days <= t <= now()`; `between` includes both ends.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};

use super::ast::{
    AggFunc, Cmp, Expr, Literal, Sign, Source, Span, Unit, Value, MAX_DEPTH, MAX_LIST_VALUES, MAX_RULE_SIZE, MAX_SPAN,
};
use crate::error::{quoted, Entity, Error, Result};
use crate::money::Currency;

/// A checked condition, ready to evaluate. Built by [`check`].
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Always true or always false.
    Const(bool),
    /// All hold (true when empty).
    And(Vec<Cond>),
    /// One holds (false when empty).
    Or(Vec<Cond>),
    /// Does not hold.
    Not(Box<Cond>),
    /// A comparison; false when either side is null or the kinds differ.
    Compare(Term, Cmp, Term),
    /// The value equals one of the constants (`negated`: is not null and equals none).
    In(Term, Vec<Scalar>, bool),
    /// Text contains the text; a tag set holds the tag; an attribute's string contains the
    /// text or its array holds the element.
    Contains(Term, Scalar),
    /// Text starts with the prefix.
    StartsWith(Term, String),
    /// The value is null (`true`: is not null).
    IsNull(Term, bool),
    /// The customer is on the list of the static segment with this id.
    InStatic(i64),
    /// In a filter over orders: some line item of the order meets the condition.
    AnyItem(Box<Cond>),
}

/// A checked value.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// A constant.
    Const(Scalar),
    /// A field of the customer or, inside an aggregate's filter, of the record.
    Field(Field),
    /// `attributes.<name>`: whatever JSON value the customer holds there.
    Attribute(String),
    /// `consent.<purpose>`: whether the consent is granted (null when never recorded).
    Consent(String),
    /// `total_spent` in a currency (0 when none). The checker always sets the currency.
    Spend(Option<Currency>),
    /// `score.<plan>`: the sum of the points of the plan's conditions the customer meets.
    Score(Vec<(Cond, i64)>),
    /// A time shifted by a fixed number of microseconds.
    Shift(Box<Term>, i64),
    /// An aggregate over the customer's records.
    Aggregate(Box<Aggregate>),
}

/// A checked aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// The function.
    pub func: AggFunc,
    /// The records.
    pub source: Source,
    /// The field aggregated (none for `count`).
    pub field: Option<Field>,
    /// Only records meeting this.
    pub filter: Option<Cond>,
    /// Only records at or after this time (microseconds since the epoch).
    pub from: Option<i64>,
    /// Only records at or before this time (microseconds since the epoch).
    pub to: Option<i64>,
    /// For money fields: only records in this currency.
    pub currency: Option<Currency>,
}

/// A constant value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// No value.
    Null,
    /// An integer.
    Int(i64),
    /// A finite float.
    Float(f64),
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// An instant, microseconds since the epoch.
    Time(i64),
    /// A calendar date.
    Date(NaiveDate),
    /// An amount in minor units and its currency.
    Money(i64, Currency),
}

/// Every field the language knows, in every scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Field {
    // Customer profile.
    Id,
    ExternalId,
    Kind,
    Name,
    Email,
    Phone,
    Company,
    Title,
    Industry,
    Country,
    Region,
    City,
    PostalCode,
    Street,
    Birthday,
    Gender,
    Tags,
    Lifecycle,
    CreatedAt,
    UpdatedAt,
    // Customer statistics.
    OrderCount,
    FirstOrderAt,
    LastOrderAt,
    InteractionCount,
    LastInteractionAt,
    // Stored segmentation results.
    RfmR,
    RfmF,
    RfmM,
    RfmScore,
    RfmSegment,
    Tier,
    // Order records (also readable for line items, as their order's).
    OrderExternalId,
    OrderOccurredAt,
    OrderStatus,
    OrderCurrency,
    OrderTotal,
    OrderChannel,
    // Line items.
    ItemSku,
    ItemCategory,
    ItemQuantity,
    ItemUnitPrice,
    // Interactions.
    InteractionExternalId,
    InteractionKind,
    InteractionChannel,
    InteractionDirection,
    InteractionOccurredAt,
    InteractionSubject,
    InteractionCsat,
    InteractionNps,
}

/// What kind of value a field or term holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Int,
    Float,
    Text,
    /// Text restricted to these values, without order.
    Enum(&'static [&'static str]),
    Bool,
    Date,
    Time,
    /// Money in this currency, or (`None`) in whichever currency it is compared with.
    Money(Option<Currency>),
    Tags,
    Json,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Int => "an integer",
            Ty::Float => "a number",
            Ty::Text => "text",
            Ty::Enum(_) => "one of fixed names",
            Ty::Bool => "a boolean",
            Ty::Date => "a date",
            Ty::Time => "a time",
            Ty::Money(_) => "an amount of money",
            Ty::Tags => "a set of tags",
            Ty::Json => "a custom attribute",
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float)
    }
}

const KINDS: &[&str] = &["person", "company"];
const STAGES: &[&str] = &["prospect", "new", "active", "loyal", "at_risk", "churned", "won_back"];
const STATUSES: &[&str] = &["completed", "refunded", "cancelled"];
const INTERACTION_KINDS: &[&str] =
    &["call", "email", "meeting", "chat", "visit", "note", "feedback", "complaint", "survey", "web", "custom"];
const DIRECTIONS: &[&str] = &["inbound", "outbound"];

/// The record scope a name is resolved in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Customer,
    Records(Source),
}

impl Field {
    /// The type of the field.
    pub(crate) fn ty(self) -> Ty {
        use Field::*;
        match self {
            Id | OrderCount | InteractionCount | RfmR | RfmF | RfmM | RfmScore | ItemQuantity | InteractionCsat
            | InteractionNps => Ty::Int,
            ExternalId
            | Name
            | Email
            | Phone
            | Company
            | Title
            | Industry
            | Country
            | Region
            | City
            | PostalCode
            | Street
            | Gender
            | RfmSegment
            | Tier
            | OrderExternalId
            | OrderCurrency
            | OrderChannel
            | ItemSku
            | ItemCategory
            | InteractionExternalId
            | InteractionChannel
            | InteractionSubject => Ty::Text,
            Kind => Ty::Enum(KINDS),
            Lifecycle => Ty::Enum(STAGES),
            OrderStatus => Ty::Enum(STATUSES),
            InteractionKind => Ty::Enum(INTERACTION_KINDS),
            InteractionDirection => Ty::Enum(DIRECTIONS),
            Birthday => Ty::Date,
            CreatedAt
            | UpdatedAt
            | FirstOrderAt
            | LastOrderAt
            | LastInteractionAt
            | OrderOccurredAt
            | InteractionOccurredAt => Ty::Time,
            OrderTotal | ItemUnitPrice => Ty::Money(None),
            Tags => Ty::Tags,
        }
    }

    /// Whether the field belongs to a line item (inside an order filter: "some item").
    pub(crate) fn is_item(self) -> bool {
        matches!(self, Field::ItemSku | Field::ItemCategory | Field::ItemQuantity | Field::ItemUnitPrice)
    }

    fn customer(name: &str) -> Option<Field> {
        use Field::*;
        Some(match name {
            "id" => Id,
            "external_id" => ExternalId,
            "kind" => Kind,
            "name" => Name,
            "email" => Email,
            "phone" => Phone,
            "company" => Company,
            "title" => Title,
            "industry" => Industry,
            "country" => Country,
            "region" => Region,
            "city" => City,
            "postal_code" => PostalCode,
            "street" => Street,
            "birthday" => Birthday,
            "gender" => Gender,
            "tags" => Tags,
            "lifecycle" => Lifecycle,
            "created_at" => CreatedAt,
            "updated_at" => UpdatedAt,
            "order_count" => OrderCount,
            "first_order_at" => FirstOrderAt,
            "last_order_at" => LastOrderAt,
            "interaction_count" => InteractionCount,
            "last_interaction_at" => LastInteractionAt,
            "rfm.r" => RfmR,
            "rfm.f" => RfmF,
            "rfm.m" => RfmM,
            "rfm.score" => RfmScore,
            "rfm.segment" => RfmSegment,
            "tier" => Tier,
            _ => return None,
        })
    }

    fn record(source: Source, name: &str) -> Option<Field> {
        use Field::*;
        let order = |name: &str| {
            Some(match name {
                "external_id" => OrderExternalId,
                "occurred_at" => OrderOccurredAt,
                "status" => OrderStatus,
                "currency" => OrderCurrency,
                "total" => OrderTotal,
                "channel" => OrderChannel,
                "sku" => ItemSku,
                "category" => ItemCategory,
                "quantity" => ItemQuantity,
                "unit_price" => ItemUnitPrice,
                _ => return None,
            })
        };
        match source {
            Source::Orders | Source::AllOrders | Source::Items => order(name),
            Source::Interactions => Some(match name {
                "external_id" => InteractionExternalId,
                "kind" => InteractionKind,
                "channel" => InteractionChannel,
                "direction" => InteractionDirection,
                "occurred_at" => InteractionOccurredAt,
                "subject" => InteractionSubject,
                "csat" => InteractionCsat,
                "nps" => InteractionNps,
                _ => return None,
            }),
        }
    }
}

const CUSTOMER_FIELDS: &str = "id, external_id, kind, name, email, phone, company, title, industry, country, region, \
     city, postal_code, street, birthday, gender, tags, lifecycle, created_at, updated_at, order_count, \
     first_order_at, last_order_at, total_spent, interaction_count, last_interaction_at, rfm.r, rfm.f, rfm.m, \
     rfm.score, rfm.segment, tier, attributes.<name>, consent.<purpose>, score.<plan>";
const ORDER_FIELDS: &str = "external_id, occurred_at, status, currency, total, channel, and of line items sku, \
     category, quantity, unit_price";
const INTERACTION_FIELDS: &str = "external_id, kind, channel, direction, occurred_at, subject, csat, nps";

/// A saved segment as the checker sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentDef {
    /// Members are the customers meeting this rule.
    Dynamic(Expr),
    /// Members are a stored list; the segment's id.
    Static(i64),
}

/// Named definitions a rule may refer to: saved segments (`in segment "name"`) and scoring
/// plans (`score.<plan>`), each a list of `(condition, points)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Definitions {
    /// Segments by name.
    pub segments: HashMap<String, SegmentDef>,
    /// Scoring plans by name.
    pub plans: HashMap<String, Vec<(Expr, i64)>>,
}

/// Checks `expr` and resolves it against `defs`, with `now` as the time of evaluation.
///
/// Errors: [`Error::Validation`] naming the field (or `rule`) for unknown fields, type
/// mismatches, amounts in different currencies, bad spans, cyclic references and rules
/// beyond the limits ([`MAX_DEPTH`], [`MAX_RULE_SIZE`], [`MAX_LIST_VALUES`], each counted
/// with the saved segments and scoring plans the rule uses); [`Error::NotFound`] for
/// unknown segments or plans.
///
/// The limits are the checker's so that every store runs whatever it accepts: within them
/// the SQL compiled for SQLite stays within SQLite's expression depth and number of
/// parameters, on every path (counts, members, lifecycle and tier classification, scores).
///
/// ```
/// use crm_core::rule::{check, Cmp, Definitions, Expr, Literal, Value};
/// let e = Expr::Compare {
///     left: Value::Field { name: "country".into() },
///     cmp: Cmp::Eq,
///     right: Value::Literal { value: Literal::Text("CN".into()) },
/// };
/// assert!(check(&e, &Definitions::default(), chrono::Utc::now()).is_ok());
/// let bad = Expr::Compare {
///     left: Value::Field { name: "country".into() },
///     cmp: Cmp::Gt,
///     right: Value::Literal { value: Literal::Int(5) },
/// };
/// assert!(check(&bad, &Definitions::default(), chrono::Utc::now()).is_err());
/// ```
pub fn check(expr: &Expr, defs: &Definitions, now: DateTime<Utc>) -> Result<Cond> {
    let mut c = Checker { defs, now: now.timestamp_micros(), stack: Vec::new(), size: 0, list_values: 0 };
    c.cond(expr, Scope::Customer, 0)
}

struct Checker<'a> {
    defs: &'a Definitions,
    now: i64,
    /// Segments and plans being inlined, to refuse cycles.
    stack: Vec<String>,
    /// Conditions and values so far, as [`MAX_RULE_SIZE`] counts them. Counted as the tree
    /// is walked, so a rule that inlines a segment that inlines another, each many times,
    /// is refused at the limit rather than written out in full first.
    size: usize,
    /// Literals of `in` lists so far.
    list_values: usize,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::validation(field, reason)
}

/// A name for error messages: the field's name or the literal as written.
fn describe(v: &Value) -> String {
    match v {
        Value::Field { name } => name.clone(),
        Value::Literal { value: Literal::Text(t) } => quoted(t),
        Value::Literal { value } => crate::error::clip(&value.to_string(), 60).into_owned(),
        Value::Now => "now()".into(),
        Value::Shift { .. } => "a shifted time".into(),
        Value::Aggregate { func, source, .. } => format!("{}({})", func.name(), source.name()),
    }
}

fn field_of(v: &Value) -> String {
    match v {
        Value::Field { name } => name.clone(),
        _ => "rule".into(),
    }
}

fn too_deep() -> Error {
    invalid(
        "rule",
        format!("nesting deeper than {MAX_DEPTH} levels (the saved segments and scoring plans it uses count at their depth)"),
    )
}

impl Checker<'_> {
    /// Counts `n` more conditions and values.
    fn charge(&mut self, n: usize) -> Result<()> {
        self.size += n;
        if self.size > MAX_RULE_SIZE {
            return Err(invalid(
                "rule",
                format!(
                    "larger than {MAX_RULE_SIZE} conditions and values, counting the saved segments and scoring \
                     plans it uses at each use"
                ),
            ));
        }
        Ok(())
    }

    fn cond(&mut self, e: &Expr, scope: Scope, depth: usize) -> Result<Cond> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        self.charge(1)?;
        let d = depth + 1;
        Ok(match e {
            Expr::Bool { value } => Cond::Const(*value),
            Expr::And { args } | Expr::Or { args } => {
                if args.len() < 2 {
                    return Err(invalid("rule", "`and` and `or` need at least two conditions"));
                }
                let args = args.iter().map(|a| self.cond(a, scope, d)).collect::<Result<Vec<_>>>()?;
                if matches!(e, Expr::And { .. }) {
                    Cond::And(args)
                } else {
                    Cond::Or(args)
                }
            }
            Expr::Not { arg } => Cond::Not(Box::new(self.cond(arg, scope, d)?)),
            Expr::Compare { left, cmp, right } => {
                let (lt, lty, li) = self.value(left, scope, d)?;
                let (rt, rty, ri) = self.value(right, scope, d)?;
                let (l, r) = self.comparable(left, (lt, lty), *cmp, right, (rt, rty))?;
                self.any_item(scope, Cond::Compare(l.0, *cmp, r.0), &[li, ri])
            }
            Expr::In { value, list, negated } => {
                if list.is_empty() {
                    return Err(invalid(field_of(value), "`in` needs at least one value"));
                }
                self.list_values += list.len();
                if self.list_values > MAX_LIST_VALUES {
                    return Err(invalid(
                        field_of(value),
                        format!(
                            "more than {MAX_LIST_VALUES} values in `in` lists, counting the saved segments and \
                             scoring plans it uses at each use"
                        ),
                    ));
                }
                let (t, ty, item) = self.value(value, scope, d)?;
                let mut out = Vec::with_capacity(list.len());
                let mut resolved = ty;
                for lit in list {
                    let lv = Value::Literal { value: lit.clone() };
                    let (lt, lty) = self.literal(lit)?;
                    let lt = Term::Const(lt);
                    let ((_, _), (lt, lty2)) = self.comparable(value, (t.clone(), ty), Cmp::Eq, &lv, (lt, lty))?;
                    if let Ty::Money(Some(c)) = lty2 {
                        if let Ty::Money(Some(prev)) = resolved {
                            if prev != c {
                                return Err(invalid(field_of(value), format!("the list mixes {prev} and {c}")));
                            }
                        }
                        resolved = Ty::Money(Some(c));
                    }
                    match lt {
                        Term::Const(s) => out.push(s),
                        _ => return Err(invalid(field_of(value), "`in` lists hold constants only")),
                    }
                }
                if let (Ty::Json, Some(first)) = (ty, out.first()) {
                    if out.iter().any(|s| std::mem::discriminant(s) != std::mem::discriminant(first)) {
                        return Err(invalid(
                            field_of(value),
                            "a list compared with an attribute holds one kind of value",
                        ));
                    }
                }
                let t = match resolved {
                    Ty::Money(Some(c)) => with_currency(t, c),
                    _ => t,
                };
                self.any_item(scope, Cond::In(t, out, *negated), &[item])
            }
            Expr::Contains { value, item } => {
                let (t, ty, is_item) = self.value(value, scope, d)?;
                let lit = match item {
                    Value::Literal { value: l } => l,
                    _ => return Err(invalid(field_of(value), "`contains` takes a constant (text or number)")),
                };
                let s = self.literal(lit)?.0;
                let ok = matches!(
                    (ty, &s),
                    (Ty::Tags | Ty::Text, Scalar::Text(_))
                        | (Ty::Json, Scalar::Text(_) | Scalar::Int(_) | Scalar::Float(_))
                );
                if !ok {
                    return Err(invalid(
                        field_of(value),
                        format!("{} cannot contain {}", describe(value), describe(item)),
                    ));
                }
                self.any_item(scope, Cond::Contains(t, s), &[is_item])
            }
            Expr::StartsWith { value, prefix } => {
                let (t, ty, is_item) = self.value(value, scope, d)?;
                let p = match prefix {
                    Value::Literal { value: Literal::Text(p) } => p.clone(),
                    _ => return Err(invalid(field_of(value), "`starts with` takes text in quotes")),
                };
                if !matches!(ty, Ty::Text | Ty::Json | Ty::Enum(_)) {
                    return Err(invalid(field_of(value), format!("{} is {}, not text", describe(value), ty.name())));
                }
                self.any_item(scope, Cond::StartsWith(t, p), &[is_item])
            }
            Expr::IsNull { value, negated } => {
                let (t, ty, is_item) = self.value(value, scope, d)?;
                if ty == Ty::Tags || matches!(t, Term::Spend(_)) {
                    return Err(invalid(field_of(value), format!("{} is never null", describe(value))));
                }
                self.any_item(scope, Cond::IsNull(t, *negated), &[is_item])
            }
            Expr::Within { value, span } => {
                // The value is compared twice (from and to): it counts twice.
                let before = self.size;
                let (t, ty, is_item) = self.value(value, scope, d)?;
                self.charge(self.size - before)?;
                if ty != Ty::Time {
                    return Err(invalid(
                        field_of(value),
                        format!("`within` needs a time; {} is {}", describe(value), ty.name()),
                    ));
                }
                let from = self.shift_const(self.now, Sign::Minus, span, &field_of(value))?;
                let c = Cond::And(vec![
                    Cond::Compare(t.clone(), Cmp::Ge, Term::Const(Scalar::Time(from))),
                    Cond::Compare(t, Cmp::Le, Term::Const(Scalar::Time(self.now))),
                ]);
                self.any_item(scope, c, &[is_item])
            }
            Expr::Between { value, low, high } => {
                // The value is compared twice (with low and with high): it counts twice.
                let before = self.size;
                let v = self.value(value, scope, d)?;
                self.charge(self.size - before)?;
                let lo = self.value(low, scope, d)?;
                let hi = self.value(high, scope, d)?;
                let items = [v.2, lo.2, hi.2];
                let (a, b) = self.comparable(value, (v.0.clone(), v.1), Cmp::Ge, low, (lo.0, lo.1))?;
                let (c, e) = self.comparable(value, (v.0, v.1), Cmp::Le, high, (hi.0, hi.1))?;
                if let (Ty::Money(Some(x)), Ty::Money(Some(y))) = (b.1, e.1) {
                    if x != y {
                        return Err(invalid(field_of(value), format!("`between` compares {x} with {y}")));
                    }
                }
                let c = Cond::And(vec![Cond::Compare(a.0, Cmp::Ge, b.0), Cond::Compare(c.0, Cmp::Le, e.0)]);
                self.any_item(scope, c, &items)
            }
            Expr::InSegment { name } => {
                if scope != Scope::Customer {
                    return Err(invalid("segment", "`in segment` cannot be used inside an aggregate's filter"));
                }
                match self.defs.segments.get(name) {
                    None => return Err(Error::not_found(Entity::Segment, name)),
                    Some(SegmentDef::Static(id)) => Cond::InStatic(*id),
                    Some(SegmentDef::Dynamic(rule)) => {
                        let key = format!("segment \"{name}\"");
                        self.enter(&key)?;
                        let c = self.cond(rule, Scope::Customer, d);
                        self.stack.pop();
                        c?
                    }
                }
            }
        })
    }

    fn enter(&mut self, key: &str) -> Result<()> {
        if let Some(at) = self.stack.iter().position(|k| k == key) {
            let mut path = self.stack[at..].to_vec();
            path.push(key.to_string());
            return Err(invalid("rule", format!("cyclic reference: {}", path.join(" -> "))));
        }
        self.stack.push(key.to_string());
        Ok(())
    }

    /// Wraps an atom on line-item fields, inside an order filter, in "some item meets it".
    fn any_item(&self, scope: Scope, c: Cond, items: &[bool]) -> Cond {
        if scope == Scope::Records(Source::Orders) || scope == Scope::Records(Source::AllOrders) {
            if items.iter().any(|&i| i) {
                Cond::AnyItem(Box::new(c))
            } else {
                c
            }
        } else {
            c
        }
    }

    /// Checks that two operands can be compared with `cmp`; fixes money currencies.
    #[allow(clippy::type_complexity)]
    fn comparable(
        &self,
        lv: &Value,
        l: (Term, Ty),
        cmp: Cmp,
        rv: &Value,
        r: (Term, Ty),
    ) -> Result<((Term, Ty), (Term, Ty))> {
        let field = if matches!(lv, Value::Field { .. }) { field_of(lv) } else { field_of(rv) };
        let mismatch = || {
            invalid(
                field.clone(),
                format!("cannot compare {} ({}) with {} ({})", describe(lv), l.1.name(), describe(rv), r.1.name()),
            )
        };
        let ordered = !matches!(cmp, Cmp::Eq | Cmp::Ne);
        let is_const = |t: &Term| matches!(t, Term::Const(_));
        match (l.1, r.1) {
            (Ty::Json, Ty::Json) => {
                Err(invalid(field, "compare a custom attribute with a constant, not with another attribute"))
            }
            (Ty::Json, other) | (other, Ty::Json) => {
                let (konst, other_term) = if l.1 == Ty::Json { (&r.0, &r.1) } else { (&l.0, &l.1) };
                let _ = other_term;
                if !is_const(konst) {
                    return Err(invalid(field, "compare a custom attribute with a constant (text, number or boolean)"));
                }
                match other {
                    Ty::Text | Ty::Int | Ty::Float => {}
                    Ty::Bool if !ordered => {}
                    Ty::Bool => return Err(invalid(field, "booleans have no order; use = or !=")),
                    _ => {
                        return Err(invalid(
                            field,
                            format!("a custom attribute cannot be compared with {}", other.name()),
                        ))
                    }
                }
                Ok(((l.0, l.1), (r.0, r.1)))
            }
            (Ty::Tags, _) | (_, Ty::Tags) => {
                Err(invalid(field, "tags are a set; use `tags contains \"x\"` or `\"x\" in tags`"))
            }
            (Ty::Money(a), Ty::Money(b)) => {
                let (a, b) = match (a, b) {
                    (None, None) => {
                        return Err(invalid(
                            field,
                            format!(
                                "comparing {} with {} needs an amount with its currency on one side",
                                describe(lv),
                                describe(rv)
                            ),
                        ))
                    }
                    (Some(a), Some(b)) => {
                        if a != b && is_const(&l.0) && is_const(&r.0) {
                            return Err(invalid(field, format!("cannot compare money in {a} with money in {b}")));
                        }
                        (a, b)
                    }
                    (None, Some(b)) => (b, b),
                    (Some(a), None) => (a, a),
                };
                Ok(((with_currency(l.0, a), Ty::Money(Some(a))), (with_currency(r.0, b), Ty::Money(Some(b)))))
            }
            (Ty::Money(_), _) | (_, Ty::Money(_)) => Err(invalid(
                field,
                format!(
                    "cannot compare {} with {}: write amounts with their currency, e.g. 100.00 USD",
                    describe(lv),
                    describe(rv)
                ),
            )),
            (a, b) if a.numeric() && b.numeric() => Ok(((l.0, l.1), (r.0, r.1))),
            (Ty::Enum(allowed), Ty::Text | Ty::Enum(_)) | (Ty::Text, Ty::Enum(allowed)) => {
                if ordered {
                    return Err(invalid(
                        field,
                        format!(
                            "{} has no order; use = , != or in",
                            describe(if matches!(l.1, Ty::Enum(_)) { lv } else { rv })
                        ),
                    ));
                }
                for t in [&l.0, &r.0] {
                    if let Term::Const(Scalar::Text(s)) = t {
                        if !allowed.contains(&s.as_str()) {
                            return Err(invalid(field, format!("{} is not one of {}", quoted(s), allowed.join(", "))));
                        }
                    }
                }
                Ok(((l.0, l.1), (r.0, r.1)))
            }
            (Ty::Text, Ty::Text) | (Ty::Time, Ty::Time) | (Ty::Date, Ty::Date) => Ok(((l.0, l.1), (r.0, r.1))),
            (Ty::Bool, Ty::Bool) if !ordered => Ok(((l.0, l.1), (r.0, r.1))),
            (Ty::Bool, Ty::Bool) => Err(invalid(field, "booleans have no order; use = or !=")),
            // A date constant compared with a time means midnight UTC.
            (Ty::Time, Ty::Date) if is_const(&r.0) => Ok(((l.0, l.1), (date_to_time(r.0), Ty::Time))),
            (Ty::Date, Ty::Time) if is_const(&l.0) => Ok(((date_to_time(l.0), Ty::Time), (r.0, r.1))),
            _ => Err(mismatch()),
        }
    }

    /// Checks a value; returns the term, its type and whether it reads a line-item field.
    fn value(&mut self, v: &Value, scope: Scope, depth: usize) -> Result<(Term, Ty, bool)> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        self.charge(1)?;
        let d = depth + 1;
        Ok(match v {
            Value::Literal { value } => {
                let (s, ty) = self.literal(value)?;
                (Term::Const(s), ty, false)
            }
            Value::Now => (Term::Const(Scalar::Time(self.now)), Ty::Time, false),
            Value::Shift { base, sign, span } => {
                let (t, ty, item) = self.value(base, scope, d)?;
                let field = field_of(base);
                match (t, ty) {
                    (Term::Const(Scalar::Time(at)), Ty::Time) => {
                        (Term::Const(Scalar::Time(self.shift_const(at, *sign, span, &field)?)), Ty::Time, item)
                    }
                    (Term::Const(Scalar::Date(day)), Ty::Date) => {
                        let at = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_micros()).unwrap_or(0);
                        (Term::Const(Scalar::Time(self.shift_const(at, *sign, span, &field)?)), Ty::Time, item)
                    }
                    (t, Ty::Time) => {
                        check_span(span, &field)?;
                        if !span.unit.is_fixed() {
                            return Err(invalid(
                                field,
                                "months and years can shift now() and dates only; shift a field by hours, days or weeks",
                            ));
                        }
                        let us = fixed_micros(span);
                        (Term::Shift(Box::new(t), if *sign == Sign::Plus { us } else { -us }), Ty::Time, item)
                    }
                    (_, ty) => {
                        return Err(invalid(
                            field,
                            format!("only times can be shifted; {} is {}", describe(base), ty.name()),
                        ))
                    }
                }
            }
            Value::Field { name } => self.field(name, scope, d)?,
            Value::Aggregate { func, source, field, filter, within } => {
                if scope != Scope::Customer {
                    return Err(invalid("rule", "aggregates cannot be nested in an aggregate's filter"));
                }
                let what = format!("{}({})", func.name(), source.name());
                let f = match (func, field) {
                    (AggFunc::Count, None) => None,
                    (AggFunc::Count, Some(_)) => {
                        return Err(invalid(what, "count takes no field: count(orders where ...)"))
                    }
                    (_, None) => {
                        return Err(invalid(
                            what,
                            format!("{} needs a field, e.g. {}({}.total)", func.name(), func.name(), source.name()),
                        ))
                    }
                    (_, Some(name)) => {
                        let f = Field::record(*source, name).ok_or_else(|| unknown_record_field(*source, name))?;
                        if f.is_item() && *source != Source::Items {
                            return Err(invalid(
                                name.clone(),
                                format!(
                                    "{name} is a line-item field; aggregate it over items: {}(items.{name})",
                                    func.name()
                                ),
                            ));
                        }
                        Some(f)
                    }
                };
                let ty = match (func, f.map(Field::ty)) {
                    (AggFunc::Count, _) => Ty::Int,
                    (AggFunc::Sum, Some(t @ (Ty::Int | Ty::Money(_)))) => t,
                    (AggFunc::Sum, Some(t)) => return Err(invalid(what, format!("cannot sum {}", t.name()))),
                    (_, Some(t @ (Ty::Int | Ty::Money(_) | Ty::Time | Ty::Text))) => t,
                    (_, Some(t)) => {
                        return Err(invalid(what, format!("{} of {} is not defined", func.name(), t.name())))
                    }
                    (_, None) => Ty::Int,
                };
                let filter = match filter {
                    Some(e) => Some(self.cond(e, Scope::Records(*source), d)?),
                    None => None,
                };
                let from = match within {
                    Some(span) => Some(self.shift_const(self.now, Sign::Minus, span, &what)?),
                    None => None,
                };
                let agg = Aggregate {
                    func: *func,
                    source: *source,
                    field: f,
                    filter,
                    from,
                    to: within.map(|_| self.now),
                    currency: None,
                };
                (Term::Aggregate(Box::new(agg)), ty, false)
            }
        })
    }

    /// A field; a scoring plan's conditions are checked at `depth`.
    fn field(&mut self, name: &str, scope: Scope, depth: usize) -> Result<(Term, Ty, bool)> {
        match scope {
            Scope::Records(source) => {
                let f = Field::record(source, name).ok_or_else(|| unknown_record_field(source, name))?;
                Ok((Term::Field(f), f.ty(), f.is_item()))
            }
            Scope::Customer => {
                if name == "total_spent" {
                    return Ok((Term::Spend(None), Ty::Money(None), false));
                }
                if let Some(f) = Field::customer(name) {
                    return Ok((Term::Field(f), f.ty(), false));
                }
                let (head, rest) = name.split_once('.').unwrap_or((name, ""));
                let ident = !rest.is_empty()
                    && rest.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                match head {
                    "attributes" | "consent" | "score" if !ident => Err(invalid(
                        name,
                        format!("`{head}.` must be followed by a name of letters, digits and underscores"),
                    )),
                    "attributes" => Ok((Term::Attribute(rest.to_string()), Ty::Json, false)),
                    "consent" => Ok((Term::Consent(rest.to_string()), Ty::Bool, false)),
                    "score" => {
                        let plan =
                            self.defs.plans.get(rest).ok_or_else(|| Error::not_found(Entity::ScoringPlan, rest))?;
                        let key = format!("plan \"{rest}\"");
                        self.enter(&key)?;
                        let checked = plan
                            .iter()
                            .map(|(e, pts)| Ok((self.cond(e, Scope::Customer, depth)?, *pts)))
                            .collect::<Result<Vec<_>>>();
                        self.stack.pop();
                        Ok((Term::Score(checked?), Ty::Int, false))
                    }
                    _ => Err(invalid(name, format!("unknown field {}; known fields: {CUSTOMER_FIELDS}", quoted(name)))),
                }
            }
        }
    }

    fn literal(&self, l: &Literal) -> Result<(Scalar, Ty)> {
        Ok(match l {
            Literal::Text(s) => (Scalar::Text(s.clone()), Ty::Text),
            Literal::Int(i) => (Scalar::Int(*i), Ty::Int),
            Literal::Float(f) if f.is_finite() => (Scalar::Float(*f), Ty::Float),
            Literal::Float(f) => return Err(invalid("rule", format!("{f} is not a finite number"))),
            Literal::Bool(b) => (Scalar::Bool(*b), Ty::Bool),
            Literal::Date(d) if (0..=9999).contains(&d.year()) => (Scalar::Date(*d), Ty::Date),
            Literal::Time(t) if (0..=9999).contains(&t.year()) => (Scalar::Time(t.timestamp_micros()), Ty::Time),
            Literal::Date(_) | Literal::Time(_) => {
                return Err(invalid("rule", "dates and times lie in the years 0 to 9999"))
            }
            Literal::Money { minor, currency } => {
                if minor.unsigned_abs() > crate::money::MAX_MINOR as u64 {
                    return Err(invalid("rule", format!("amount {minor} is out of range")));
                }
                (Scalar::Money(*minor, *currency), Ty::Money(Some(*currency)))
            }
        })
    }

    /// `at ± span` on a constant time, with calendar months and years.
    fn shift_const(&self, at: i64, sign: Sign, span: &Span, field: &str) -> Result<i64> {
        check_span(span, field)?;
        let t = DateTime::from_timestamp_micros(at).ok_or_else(|| invalid(field, "time out of range"))?;
        let out = if span.unit.is_fixed() {
            let d = TimeDelta::microseconds(fixed_micros(span));
            match sign {
                Sign::Plus => t.checked_add_signed(d),
                Sign::Minus => t.checked_sub_signed(d),
            }
        } else {
            let months = Months::new(
                u32::try_from(span.count * if span.unit == Unit::Years { 12 } else { 1 }).unwrap_or(u32::MAX),
            );
            match sign {
                Sign::Plus => t.checked_add_months(months),
                Sign::Minus => t.checked_sub_months(months),
            }
        };
        out.map(|t| t.timestamp_micros()).ok_or_else(|| invalid(field, "time out of range"))
    }
}

fn check_span(span: &Span, field: &str) -> Result<()> {
    if !(0..=MAX_SPAN).contains(&span.count) {
        return Err(invalid(field, format!("a span counts 0 to {MAX_SPAN} {}, not {}", span.unit.name(), span.count)));
    }
    Ok(())
}

fn fixed_micros(span: &Span) -> i64 {
    let unit: i64 = match span.unit {
        Unit::Hours => 3_600,
        Unit::Days => 86_400,
        Unit::Weeks => 7 * 86_400,
        Unit::Months | Unit::Years => 0,
    };
    span.count * unit * 1_000_000
}

fn date_to_time(t: Term) -> Term {
    match t {
        Term::Const(Scalar::Date(d)) => {
            Term::Const(Scalar::Time(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_micros()).unwrap_or(0)))
        }
        t => t,
    }
}

/// Sets the currency of a currency-less amount (`total_spent`, a money aggregate).
fn with_currency(t: Term, c: Currency) -> Term {
    match t {
        Term::Spend(_) => Term::Spend(Some(c)),
        Term::Aggregate(mut a) => {
            if a.field.map(|f| matches!(f.ty(), Ty::Money(_))).unwrap_or(false) {
                a.currency = Some(c);
            }
            Term::Aggregate(a)
        }
        t => t,
    }
}

fn unknown_record_field(source: Source, name: &str) -> Error {
    let known = if source == Source::Interactions { INTERACTION_FIELDS } else { ORDER_FIELDS };
    invalid(name, format!("unknown field {} of {}; known fields: {known}", quoted(name), source.name()))
}

// The enums whose names the checker lists must stay in step with the model's serde names.
#[cfg(test)]
mod names {
    use super::*;
    use crate::customer::{CustomerKind, LifecycleStage};
    use crate::interaction::{Direction, InteractionKind};
    use crate::order::OrderStatus;

    fn name<T: serde::Serialize>(v: T) -> String {
        serde_json::to_value(v).unwrap().as_str().unwrap().to_string()
    }

    #[test]
    fn fixed_names_match_the_model() {
        assert_eq!(KINDS, [CustomerKind::Person, CustomerKind::Company].map(name));
        let stages = [
            LifecycleStage::Prospect,
            LifecycleStage::New,
            LifecycleStage::Active,
            LifecycleStage::Loyal,
            LifecycleStage::AtRisk,
            LifecycleStage::Churned,
            LifecycleStage::WonBack,
        ];
        assert_eq!(STAGES, stages.map(name));
        assert_eq!(STATUSES, [OrderStatus::Completed, OrderStatus::Refunded, OrderStatus::Cancelled].map(name));
        assert_eq!(INTERACTION_KINDS, InteractionKind::ALL.map(name));
        assert_eq!(DIRECTIONS, [Direction::Inbound, Direction::Outbound].map(name));
    }
}
