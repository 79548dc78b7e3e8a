//! Compiles a checked rule ([`Cond`]) to one SQLite boolean expression over the customers
//! table (alias `c`), for set-at-a-time evaluation. Every constant is a numbered parameter;
//! no text from a rule is ever spliced into SQL. The in-memory evaluator
//! ([`crate::rule::matches`]) is the definition; this must agree with it, which
//! `tests/rule_agreement.rs` checks on random rules and data:
//! - every comparison is wrapped in `coalesce(.., 0)`, so null makes it false and `not`
//!   sees two values, as in memory;
//! - custom attributes are compared only with constants of the same JSON kind
//!   (`json_type` guards), because SQLite would otherwise order text after numbers;
//! - amounts of record fields compare only within one currency.
//!
//! What the compiled SQL costs SQLite is bounded by the checker's limits, so that every rule
//! the checker accepts runs (see [`crate::rule::MAX_DEPTH`] and [`crate::rule::MAX_RULE_SIZE`]):
//! - expression depth: `and` and `or` of more than four arguments compile to one `CASE`
//!   (whose branches are a list, one level deep, evaluated in order and stopping at the first
//!   that decides), and a score's sum to a balanced tree of `+`; so each level of the checked
//!   tree adds a few levels of SQL, never one per argument, and the depth stays far below
//!   SQLITE_MAX_EXPR_DEPTH (1000) at the checker's deepest rule;
//! - parameters: an `in` list longer than two values is bound as one array parameter
//!   (`rarray`), whatever its length, and every other node binds at most a few constants: at most
//!   [`PARAMS_PER_NODE`] per node the checker counts, so a rule at the checker's size limit
//!   stays below SQLITE_MAX_VARIABLE_NUMBER (32766). Statements that combine several rules
//!   (classification, scores) are split by the caller where the sum would not fit.

use std::rc::Rc;

use rusqlite::types::{ToSql, ToSqlOutput, Value};
use rusqlite::vtab::array::Array;

use crate::rule::{AggFunc, Aggregate, Cmp, Cond, Field, Scalar, Source, Term};

/// A bound parameter: a value, or a list bound as one array (read with `rarray(?N)`).
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Value(Value),
    List(Array),
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Param::Value(v) => v.to_sql(),
            Param::List(a) => a.to_sql(),
        }
    }
}

/// Most parameters one compiled node binds (a checked rule of `n` nodes binds at most
/// `PARAMS_PER_NODE * n`); the worst is `max(orders.occurred_at) within 30 days`: three
/// nodes as counted (the value counts twice), eight parameters.
pub(crate) const PARAMS_PER_NODE: usize = 3;

/// Most arguments of an `and` or `or` written with SQL's `AND` or `OR` (which nest one level
/// per argument); longer ones are one `CASE`. `AND` is the faster of the two (a count over
/// 500,000 rows of three cheap conditions: 78 ms with `AND`, 89 ms with `CASE`), and four
/// levels per level of the rule keep the deepest rule far within SQLite's depth.
const MAX_PLAIN_ARGS: usize = 4;

/// Most values of an `in` list bound one parameter each; longer lists are one `rarray`
/// parameter, which costs a little more for the shortest (a count over 500,000 rows with two
/// values: 30 ms bound each, 34 ms as an array; equal from five values). Two keeps every node
/// within [`PARAMS_PER_NODE`].
const MAX_LISTED_VALUES: usize = 2;

/// SQLITE_MAX_VARIABLE_NUMBER of the bundled SQLite: most parameters of one statement.
pub(crate) const MAX_PARAMS: usize = 32_766;

// A rule at the checker's size limit fits one statement, with a page's two parameters.
const _: () = assert!(crate::rule::MAX_RULE_SIZE * PARAMS_PER_NODE + 2 <= MAX_PARAMS);

/// The SQL text of a condition and its parameters.
pub(crate) struct Compiled {
    /// A boolean expression over `customers c` (and the joins in `joins`).
    pub sql: String,
    /// Parameters `?1..`.
    pub params: Vec<Param>,
    /// `LEFT JOIN`s the expression needs, to append after `FROM customers c`.
    pub joins: String,
}

/// Compiles `c`.
pub(crate) fn compile(c: &Cond) -> Compiled {
    let mut k = Compiler { params: Vec::new(), stats: false, rfm: false, tier: false };
    let sql = k.cond(c);
    let mut joins = String::new();
    if k.stats {
        joins.push_str(" LEFT JOIN customer_stats s ON s.customer_id = c.id");
    }
    if k.rfm {
        joins.push_str(" LEFT JOIN customer_rfm rf ON rf.customer_id = c.id");
    }
    if k.tier {
        joins.push_str(" LEFT JOIN customer_tiers tr ON tr.customer_id = c.id");
    }
    Compiled { sql, params: k.params, joins }
}

struct Compiler {
    params: Vec<Param>,
    stats: bool,
    rfm: bool,
    tier: bool,
}

/// A compiled value: its SQL, the SQL of its currency when it is a record's amount, and
/// the JSON document and path when it is a custom attribute (for `json_type` guards).
struct Sql {
    expr: String,
    currency: Option<String>,
    json: Option<(String, String)>,
    /// For constants: the JSON kinds they compare with.
    kind: Option<&'static str>,
}

impl Sql {
    fn plain(expr: String) -> Sql {
        Sql { expr, currency: None, json: None, kind: None }
    }
}

/// The JSON kinds (`json_type`) a constant compares with.
fn json_kinds(s: &Scalar) -> &'static str {
    match s {
        Scalar::Text(_) => "('text')",
        Scalar::Int(_) | Scalar::Float(_) => "('integer', 'real')",
        Scalar::Bool(_) => "('true', 'false')",
        _ => "()",
    }
}

fn op(c: Cmp) -> &'static str {
    match c {
        Cmp::Eq => "=",
        Cmp::Ne => "<>",
        Cmp::Lt => "<",
        Cmp::Le => "<=",
        Cmp::Gt => ">",
        Cmp::Ge => ">=",
    }
}

/// Rough cost, so cheap conditions run first (`and` and `or` commute in two-valued logic).
fn cost(c: &Cond) -> u32 {
    match c {
        Cond::Const(_) => 0,
        Cond::And(v) | Cond::Or(v) => v.iter().map(cost).sum(),
        Cond::Not(c) => cost(c),
        Cond::Compare(l, _, r) => term_cost(l) + term_cost(r),
        Cond::In(t, _, _) | Cond::StartsWith(t, _) | Cond::IsNull(t, _) => term_cost(t),
        Cond::Contains(t, _) => term_cost(t) + 5,
        Cond::InStatic(_) => 5,
        Cond::AnyItem(c) => 20 + cost(c),
    }
}

fn term_cost(t: &Term) -> u32 {
    match t {
        Term::Const(_) => 0,
        Term::Field(_) => 1,
        Term::Attribute(_) | Term::Consent(_) => 4,
        Term::Spend(_) => 5,
        Term::Shift(b, _) => term_cost(b),
        Term::Score(rules) => rules.iter().map(|(c, _)| cost(c)).sum::<u32>() + 1,
        Term::Aggregate(a) => 100 + a.filter.as_ref().map_or(0, cost),
    }
}

impl Compiler {
    fn param(&mut self, v: Value) -> String {
        self.params.push(Param::Value(v));
        format!("?{}", self.params.len())
    }

    fn scalar(&mut self, s: &Scalar) -> String {
        self.param(sql_value(s))
    }

    /// A list of constants: up to [`MAX_LISTED_VALUES`] as parameters `(?1, ?2)`, longer as
    /// one parameter read as rows by `(SELECT value FROM rarray(?N))`.
    fn list(&mut self, list: &[Scalar]) -> String {
        if list.len() <= MAX_LISTED_VALUES {
            let items: Vec<String> = list.iter().map(|s| self.scalar(s)).collect();
            return format!("({})", items.join(", "));
        }
        let values: Vec<Value> = list.iter().map(sql_value).collect();
        self.params.push(Param::List(Rc::new(values)));
        format!("(SELECT value FROM rarray(?{}))", self.params.len())
    }

    fn cond(&mut self, c: &Cond) -> String {
        match c {
            Cond::Const(b) => if *b { "1" } else { "0" }.into(),
            Cond::And(args) | Cond::Or(args) => {
                let and = matches!(c, Cond::And(_));
                if args.is_empty() {
                    return if and { "1" } else { "0" }.into();
                }
                let mut sorted: Vec<&Cond> = args.iter().collect();
                sorted.sort_by_key(|c| cost(c));
                if sorted.len() <= MAX_PLAIN_ARGS {
                    let joiner = if and { " AND " } else { " OR " };
                    let parts: Vec<String> = sorted.into_iter().map(|a| self.cond(a)).collect();
                    return format!("({})", parts.join(joiner));
                }
                // Longer: one CASE whatever the number of arguments (`a AND b AND c` nests one
                // level per argument): the first argument that decides stops the evaluation,
                // as `AND` and `OR` do. Every compiled condition is 0 or 1, never null.
                let mut sql = String::from("(CASE");
                for a in sorted {
                    let a = self.cond(a);
                    if and {
                        sql.push_str(&format!(" WHEN NOT {a} THEN 0"));
                    } else {
                        sql.push_str(&format!(" WHEN {a} THEN 1"));
                    }
                }
                sql.push_str(if and { " ELSE 1 END)" } else { " ELSE 0 END)" });
                sql
            }
            Cond::Not(a) => format!("(NOT {})", self.cond(a)),
            Cond::Compare(l, cmp, r) => {
                // `count(..) >= 1` and the like ask whether one record exists: stop at the first.
                if let Some((a, some)) = existence(l, *cmp, r) {
                    let select = self.aggregate(a, Some("1"));
                    let found = format!("coalesce(({} LIMIT 1), 0)", &select[1..select.len() - 1]);
                    return if some { found } else { format!("(NOT {found})") };
                }
                let l = self.term(l);
                let r = self.term(r);
                let mut guards = Vec::new();
                if let (Some(a), Some(b)) = (&l.currency, &r.currency) {
                    guards.push(format!("{a} = {b}"));
                }
                for (side, other) in [(&l, &r), (&r, &l)] {
                    if let Some((doc, path)) = &side.json {
                        guards.push(format!("json_type({doc}, {path}) IN {}", other_kind(other)));
                    }
                }
                guards.push(format!("{} {} {}", l.expr, op(*cmp), r.expr));
                format!("coalesce(({}), 0)", guards.join(" AND "))
            }
            Cond::In(t, list, negated) => {
                let t = self.term(t);
                let mut guards = Vec::new();
                let items = self.list(list);
                if let Some(cur) = &t.currency {
                    if let Some(Scalar::Money(_, c)) = list.first() {
                        let p = self.param(Value::Text(c.code().to_string()));
                        guards.push(format!("{cur} = {p}"));
                    }
                }
                if let (Some((doc, path)), Some(first)) = (&t.json, list.first()) {
                    guards.push(format!("json_type({doc}, {path}) IN {}", json_kinds(first)));
                }
                let not = if *negated { "NOT " } else { "" };
                guards.push(format!("{} {not}IN {items}", t.expr));
                format!("coalesce(({}), 0)", guards.join(" AND "))
            }
            Cond::Contains(t, item) => self.contains(t, item),
            Cond::StartsWith(t, prefix) => {
                let t = self.term(t);
                let p = self.param(Value::Text(prefix.clone()));
                let guard = match &t.json {
                    Some((doc, path)) => format!("json_type({doc}, {path}) = 'text' AND "),
                    None => String::new(),
                };
                format!("coalesce(({guard}substr({}, 1, length({p})) = {p}), 0)", t.expr)
            }
            Cond::IsNull(t, negated) => {
                let t = self.term(t);
                format!("({} IS {}NULL)", t.expr, if *negated { "NOT " } else { "" })
            }
            Cond::InStatic(id) => {
                let p = self.param(Value::Integer(*id));
                exists(&format!("SELECT 1 FROM segment_members m WHERE m.segment_id = {p} AND m.customer_id = c.id"))
            }
            Cond::AnyItem(inner) => {
                exists(&format!("SELECT 1 FROM order_items i WHERE i.order_id = o.id AND {}", self.cond(inner)))
            }
        }
    }

    fn contains(&mut self, t: &Term, item: &Scalar) -> String {
        match t {
            Term::Field(Field::Tags) => {
                let p = self.scalar(item);
                exists(&format!("SELECT 1 FROM json_each(c.tags) WHERE json_each.value = {p}"))
            }
            Term::Attribute(name) => {
                let path = self.param(Value::Text(json_path(name)));
                let v = self.scalar(item);
                let element = exists(&format!(
                    "SELECT 1 FROM json_each(c.attributes, {path}) e WHERE e.type IN {} AND e.value = {v}",
                    json_kinds(item)
                ));
                match item {
                    Scalar::Text(_) => format!(
                        "(CASE json_type(c.attributes, {path}) WHEN 'text' THEN coalesce(instr(json_extract(c.attributes, \
                         {path}), {v}) > 0, 0) WHEN 'array' THEN {element} ELSE 0 END)"
                    ),
                    _ => format!("(json_type(c.attributes, {path}) = 'array' AND {element})"),
                }
            }
            t => {
                let t = self.term(t);
                let v = self.scalar(item);
                format!("coalesce((instr({}, {v}) > 0), 0)", t.expr)
            }
        }
    }

    fn term(&mut self, t: &Term) -> Sql {
        match t {
            Term::Const(s) => {
                let currency = match s {
                    Scalar::Money(_, c) => Some(self.param(Value::Text(c.code().to_string()))),
                    _ => None,
                };
                let expr = self.scalar(s);
                Sql { expr, currency, json: None, kind: Some(json_kinds(s)) }
            }
            Term::Field(f) => self.field(*f),
            Term::Attribute(name) => {
                let path = self.param(Value::Text(json_path(name)));
                Sql {
                    expr: format!("json_extract(c.attributes, {path})"),
                    currency: None,
                    json: Some(("c.attributes".into(), path)),
                    kind: None,
                }
            }
            Term::Consent(purpose) => {
                let path = self.param(Value::Text(format!("{}.granted", json_path(purpose))));
                Sql::plain(format!("json_extract(c.consents, {path})"))
            }
            Term::Spend(cur) => {
                let code = cur.map(|c| c.code().to_string());
                let p = self.param(code.map_or(Value::Null, Value::Text));
                Sql::plain(format!(
                    "coalesce((SELECT sp.total_minor FROM customer_spend sp WHERE sp.customer_id = c.id AND sp.currency = {p}), 0)"
                ))
            }
            Term::Score(rules) => {
                let mut parts = Vec::with_capacity(rules.len());
                for (c, points) in rules {
                    let c = self.cond(c);
                    let p = self.param(Value::Integer(*points));
                    parts.push(format!("(CASE WHEN {c} THEN {p} ELSE 0 END)"));
                }
                Sql::plain(sum(&parts))
            }
            Term::Shift(base, us) => {
                let b = self.term(base);
                let p = self.param(Value::Integer(*us));
                Sql::plain(format!("({} + {p})", b.expr))
            }
            Term::Aggregate(a) => Sql::plain(self.aggregate(a, None)),
        }
    }

    fn field(&mut self, f: Field) -> Sql {
        use Field::*;
        let col = |c: &str| Sql::plain(c.to_string());
        match f {
            Id => col("c.id"),
            ExternalId => col("c.external_id"),
            Kind => col("c.kind"),
            Name => col("c.name"),
            Email => col("c.email"),
            Phone => col("c.phone"),
            Company => col("c.company"),
            Title => col("c.title"),
            Industry => col("c.industry"),
            Country => col("c.country"),
            Region => col("c.region"),
            City => col("c.city"),
            PostalCode => col("c.postal_code"),
            Street => col("c.street"),
            Birthday => col("c.birthday"),
            Gender => col("c.gender"),
            Tags => col("NULL"),
            Lifecycle => col("c.lifecycle"),
            CreatedAt => col("c.created_at"),
            UpdatedAt => col("c.updated_at"),
            OrderCount | FirstOrderAt | LastOrderAt | InteractionCount | LastInteractionAt => {
                self.stats = true;
                col(match f {
                    OrderCount => "coalesce(s.order_count, 0)",
                    FirstOrderAt => "s.first_order_at",
                    LastOrderAt => "s.last_order_at",
                    InteractionCount => "coalesce(s.interaction_count, 0)",
                    _ => "s.last_interaction_at",
                })
            }
            RfmR | RfmF | RfmM | RfmScore | RfmSegment => {
                self.rfm = true;
                col(match f {
                    RfmR => "rf.r",
                    RfmF => "rf.f",
                    RfmM => "rf.m",
                    RfmScore => "(rf.r * 100 + rf.f * 10 + rf.m)",
                    _ => "rf.segment",
                })
            }
            Tier => {
                self.tier = true;
                col("tr.tier")
            }
            OrderExternalId => col("o.external_id"),
            OrderOccurredAt => col("o.occurred_at"),
            OrderStatus => col("o.status"),
            OrderCurrency => col("o.currency"),
            OrderTotal => {
                Sql { expr: "o.total_minor".into(), currency: Some("o.currency".into()), json: None, kind: None }
            }
            OrderChannel => col("o.channel"),
            ItemSku => col("i.sku"),
            ItemCategory => col("i.category"),
            ItemQuantity => col("i.quantity"),
            ItemUnitPrice => {
                Sql { expr: "i.unit_price_minor".into(), currency: Some("o.currency".into()), json: None, kind: None }
            }
            InteractionExternalId => col("x.external_id"),
            InteractionKind => col("x.kind"),
            InteractionChannel => col("x.channel"),
            InteractionDirection => col("x.direction"),
            InteractionOccurredAt => col("x.occurred_at"),
            InteractionSubject => col("x.subject"),
            InteractionCsat => col("json_extract(x.score, '$.csat')"),
            InteractionNps => col("json_extract(x.score, '$.nps')"),
        }
    }

    /// The aggregate as a scalar subquery in parentheses; `select` replaces what it selects.
    fn aggregate(&mut self, a: &Aggregate, select: Option<&str>) -> String {
        let value = a.field.map(|f| self.field(f).expr);
        let what = match (select, a.func, value) {
            (Some(s), _, _) => s.to_string(),
            (None, AggFunc::Count, _) | (None, _, None) => "count(*)".to_string(),
            (None, AggFunc::Sum, Some(v)) => format!("coalesce(sum({v}), 0)"),
            (None, AggFunc::Min, Some(v)) => format!("min({v})"),
            (None, AggFunc::Max, Some(v)) => format!("max({v})"),
        };
        let (from, time) = match a.source {
            Source::Orders | Source::AllOrders => ("orders o", "o.occurred_at"),
            Source::Items => ("orders o JOIN order_items i ON i.order_id = o.id", "o.occurred_at"),
            Source::Interactions => ("interactions x", "x.occurred_at"),
        };
        let mut sql = format!("(SELECT {what} FROM {from} WHERE ");
        sql.push_str(if a.source == Source::Interactions { "x.customer_id = c.id" } else { "o.customer_id = c.id" });
        if matches!(a.source, Source::Orders | Source::Items) {
            sql.push_str(" AND o.status = 'completed'");
        }
        if let Some(f) = a.from {
            let p = self.param(Value::Integer(f));
            sql.push_str(&format!(" AND {time} >= {p}"));
        }
        if let Some(t) = a.to {
            let p = self.param(Value::Integer(t));
            sql.push_str(&format!(" AND {time} <= {p}"));
        }
        if let Some(c) = a.currency {
            let p = self.param(Value::Text(c.code().to_string()));
            sql.push_str(&format!(" AND o.currency = {p}"));
        }
        if let Some(f) = &a.filter {
            let f = self.cond(f);
            sql.push_str(&format!(" AND {f}"));
        }
        sql.push(')');
        sql
    }
}

/// `count(..) >= 1`, `count(..) > 0` (some record exists: `true`) or `count(..) = 0`,
/// `count(..) < 1`, `count(..) <= 0` (none does: `false`), either way round.
fn existence<'a>(l: &'a Term, cmp: Cmp, r: &'a Term) -> Option<(&'a Aggregate, bool)> {
    let (a, cmp, k) = match (l, r) {
        (Term::Aggregate(a), Term::Const(Scalar::Int(k))) => (a, cmp, *k),
        (Term::Const(Scalar::Int(k)), Term::Aggregate(a)) => (a, cmp.flipped(), *k),
        _ => return None,
    };
    if a.func != AggFunc::Count {
        return None;
    }
    match (cmp, k) {
        (Cmp::Ge, 1) | (Cmp::Gt, 0) | (Cmp::Ne, 0) => Some((a, true)),
        (Cmp::Lt, 1) | (Cmp::Le, 0) | (Cmp::Eq, 0) => Some((a, false)),
        _ => None,
    }
}

/// A constant as SQLite stores it.
fn sql_value(s: &Scalar) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Int(i) | Scalar::Time(i) | Scalar::Money(i, _) => Value::Integer(*i),
        Scalar::Float(f) => Value::Real(*f),
        Scalar::Text(t) => Value::Text(t.clone()),
        Scalar::Bool(b) => Value::Integer(i64::from(*b)),
        Scalar::Date(d) => Value::Text(d.to_string()),
    }
}

/// The sum of `parts` as a balanced tree of `+` (`0` when empty), so that a plan of a
/// thousand rules adds ten levels of SQL rather than a thousand.
pub(crate) fn sum(parts: &[String]) -> String {
    match parts {
        [] => "0".into(),
        [one] => one.clone(),
        _ => {
            let (a, b) = parts.split_at(parts.len() / 2);
            format!("({} + {})", sum(a), sum(b))
        }
    }
}

/// The JSON kinds a compiled constant compares with, for a guard on the other side.
fn other_kind(s: &Sql) -> &'static str {
    s.kind.unwrap_or("('text', 'integer', 'real', 'true', 'false')")
}

/// "Some row exists" as a scalar subquery rather than `EXISTS`: SQLite turns `EXISTS` into
/// a join it may run before cheaper conditions, defeating the cost order of `and`.
fn exists(select: &str) -> String {
    format!("coalesce(({select} LIMIT 1), 0)")
}

/// A JSON path to one top-level key, quoted so any key is safe (`$."key"`).
fn json_path(key: &str) -> String {
    format!("$.\"{key}\"")
}
