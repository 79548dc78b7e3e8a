//! Compiles a checked rule ([`Cond`]) to one boolean SQL expression over the customers
//! table (alias `c`), for set-at-a-time evaluation, in the dialect of either store
//! ([`Dialect`]): one compiler, two spellings. Every constant is a numbered parameter
//! ([`Param`], engine-neutral: each store binds it with its own driver); no text from a rule
//! is ever spliced into SQL. The in-memory evaluator ([`crate::rule::matches`]) is the
//! definition; both dialects must agree with it, which `tests/rule_agreement.rs` checks on
//! random rules and data:
//! - every comparison is wrapped in `coalesce(.., 0)` (`coalesce(.., false)`), so null makes
//!   it false and `not` sees two values, as in memory;
//! - custom attributes are compared only with constants of the same JSON kind: SQLite guards
//!   with `json_type` (it would otherwise order text after numbers), PostgreSQL with
//!   `jsonb_typeof`, comparing numbers and booleans as `jsonb` (exact numbers: `2 = 2.0`) and
//!   strings as text;
//! - amounts of record fields compare only within one currency.
//!
//! The dialects differ in spelling only:
//!
//! | | SQLite | PostgreSQL |
//! |---|---|---|
//! | parameters | `?N` | `$N::type` (every one cast: the server infers nothing) |
//! | booleans | integers `0` and `1` | `true` and `false` |
//! | attributes | `json_extract`, `json_type`, `json_each` on JSON text | `->`, `->>`, `jsonb_typeof`, `@>` on `JSONB` |
//! | tags | `json_each(c.tags)` | `c.tags ? $N` |
//! | `in` lists | up to two parameters, longer one `rarray` | one array, `= ANY($N::bigint[])` |
//! | text order | bytes (`BINARY`) | bytes (`COLLATE "C"`, whatever the database's collation) |
//! | "some row exists" | `coalesce((SELECT 1 .. LIMIT 1), 0)` | `((SELECT 1 .. LIMIT 1) IS NOT NULL)` |
//! | substring | `instr(a, b) > 0` | `strpos(a, b) > 0` |
//! | interaction scores | `json_extract(x.score, '$.csat')` | `((x.score::jsonb) ->> 'csat')::bigint` |
//!
//! PostgreSQL is strictly typed, so every parameter carries the type its column has: times,
//! amounts and counts `bigint`; dates (`c.birthday`, `'YYYY-MM-DD'` text) `text`; booleans
//! `boolean`; floats `float8` (an integer column compared with a float is compared as
//! `float8`, as in memory, where an integer meets a float as an `f64`).
//!
//! What the compiled SQL costs the engine is bounded by the checker's limits, so that every
//! rule the checker accepts runs (see [`crate::rule::MAX_DEPTH`] and
//! [`crate::rule::MAX_RULE_SIZE`]):
//! - expression depth: `and` and `or` of more than four arguments compile to one `CASE`
//!   (whose branches are a list, one level deep, evaluated in order and stopping at the first
//!   that decides), and a score's sum to a balanced tree of `+`; so each level of the checked
//!   tree adds a few levels of SQL, never one per argument, and the depth stays far below
//!   SQLITE_MAX_EXPR_DEPTH (1000) at the checker's deepest rule, and far within
//!   PostgreSQL's `max_stack_depth` (whose parser and executor recurse once per level);
//! - parameters: an `in` list is bound as one array parameter whatever its length (SQLite:
//!   longer than two values, `rarray`; PostgreSQL: always, two arrays when integers and
//!   floats mix), and every other node binds at most a few constants: at most
//!   [`PARAMS_PER_NODE`] per node the checker counts, in either dialect, so a rule at the
//!   checker's size limit stays below SQLITE_MAX_VARIABLE_NUMBER (32766) and PostgreSQL's
//!   65535. Statements that combine several rules (classification, scores) are split by
//!   [`batches`] where the sum would not fit.

use crate::rule::{AggFunc, Aggregate, Cmp, Cond, Field, Scalar, Source, Term};

/// The SQL dialect a rule is compiled to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite: booleans are integers, parameters `?N`, lists through `rarray`.
    Sqlite,
    /// PostgreSQL: real booleans, typed parameters `$N::type`, `jsonb`, arrays.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres,
}

impl Dialect {
    /// Most parameters one statement may bind.
    pub(crate) const fn max_params(self) -> usize {
        match self {
            Dialect::Sqlite => SQLITE_MAX_PARAMS,
            Dialect::Postgres => PG_MAX_PARAMS,
        }
    }

    /// The boolean constant.
    fn bool(self, b: bool) -> &'static str {
        match (self, b) {
            (Dialect::Sqlite, true) => "1",
            (Dialect::Sqlite, false) => "0",
            (Dialect::Postgres, true) => "true",
            (Dialect::Postgres, false) => "false",
        }
    }

    /// What precedes a parameter's number.
    fn sigil(self) -> char {
        match self {
            Dialect::Sqlite => '?',
            Dialect::Postgres => '$',
        }
    }
}

/// A bound parameter, engine-neutral: each store converts it to its driver's values
/// (SQLite: booleans as 0 and 1, lists as one `rarray`; PostgreSQL: lists as arrays).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    /// SQL null.
    Null,
    /// An integer (also times, amounts and booleans' SQLite form).
    Int(i64),
    /// A float.
    Real(f64),
    /// Text (also dates, `YYYY-MM-DD`).
    Text(String),
    /// A boolean (SQLite binds 0 or 1).
    Bool(bool),
    /// A list bound as one parameter (SQLite: `rarray(?N)`; PostgreSQL: an array, whose
    /// elements are all of one kind).
    List(Vec<Param>),
}

impl Param {
    /// PostgreSQL's type of the parameter, as written in its cast (`$3::bigint`).
    fn pg_type(&self) -> &'static str {
        match self {
            Param::Null | Param::Text(_) => "text",
            Param::Int(_) => "bigint",
            Param::Real(_) => "float8",
            Param::Bool(_) => "boolean",
            Param::List(v) => match v.first() {
                Some(Param::Int(_)) => "bigint[]",
                Some(Param::Real(_)) => "float8[]",
                Some(Param::Bool(_)) => "boolean[]",
                _ => "text[]",
            },
        }
    }
}

/// Most parameters one compiled node binds (a checked rule of `n` nodes binds at most
/// `PARAMS_PER_NODE * n`), in either dialect; the worst is `max(orders.occurred_at) within
/// 30 days`: three nodes as counted (the value counts twice), eight parameters.
pub(crate) const PARAMS_PER_NODE: usize = 3;

/// Most arguments of an `and` or `or` written with SQL's `AND` or `OR` (which nest one level
/// per argument); longer ones are one `CASE`. `AND` is the faster of the two (a count over
/// 500,000 rows of three cheap conditions on SQLite: 78 ms with `AND`, 89 ms with `CASE`),
/// and four levels per level of the rule keep the deepest rule far within either engine's
/// depth.
const MAX_PLAIN_ARGS: usize = 4;

/// SQLite: most values of an `in` list bound one parameter each; longer lists are one
/// `rarray` parameter, which costs a little more for the shortest (a count over 500,000 rows
/// with two values: 30 ms bound each, 34 ms as an array; equal from five values). Two keeps
/// every node within [`PARAMS_PER_NODE`]. (PostgreSQL binds every list as an array.)
const MAX_LISTED_VALUES: usize = 2;

/// SQLITE_MAX_VARIABLE_NUMBER of the bundled SQLite: most parameters of one statement.
pub(crate) const SQLITE_MAX_PARAMS: usize = 32_766;

/// Most parameters of one PostgreSQL statement (the protocol counts them in 16 bits).
pub(crate) const PG_MAX_PARAMS: usize = 65_535;

// A rule at the checker's size limit fits one statement, with a page's two parameters, in
// either dialect.
const _: () = assert!(crate::rule::MAX_RULE_SIZE * PARAMS_PER_NODE + 2 <= SQLITE_MAX_PARAMS);
const _: () = assert!(SQLITE_MAX_PARAMS <= PG_MAX_PARAMS);

/// The SQL text of a condition and its parameters.
pub(crate) struct Compiled {
    /// A boolean expression over `customers c` (and the joins in `joins`).
    pub sql: String,
    /// Parameters `?1..` (`$1..`).
    pub params: Vec<Param>,
    /// `LEFT JOIN`s the expression needs, to append after `FROM customers c`.
    pub joins: String,
}

/// Compiles `c` to `dialect`.
pub(crate) fn compile(c: &Cond, dialect: Dialect) -> Compiled {
    let mut k = Compiler { d: dialect, params: Vec::new(), stats: false, rfm: false, tier: false };
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

/// Several rules compiled into one statement: their SQL renumbered into one list of
/// parameters, and the joins they need.
#[derive(Default)]
pub(crate) struct Batch {
    /// The compiled rules, with the index of each among all the rules.
    pub parts: Vec<(usize, String)>,
    /// Their parameters, in order.
    pub params: Vec<Param>,
    /// The `LEFT JOIN`s they need, each once.
    pub joins: String,
}

/// Compiles `rules` into as few statements as the engine's limit on parameters allows (one,
/// unless the rules are large): each rule alone fits one statement (the checker's size limit
/// sees to it), their sum may not. `extra` parameters are bound per rule besides its own.
pub(crate) fn batches<'a>(rules: impl Iterator<Item = &'a Cond>, extra: usize, dialect: Dialect) -> Vec<Batch> {
    let mut out = vec![Batch::default()];
    for (i, r) in rules.enumerate() {
        let c = compile(r, dialect);
        let last = out.last_mut().expect("one batch at least");
        let batch = if !last.parts.is_empty() && last.params.len() + c.params.len() + extra > dialect.max_params() {
            out.push(Batch::default());
            out.last_mut().expect("just pushed")
        } else {
            last
        };
        let sql = renumber(&c.sql, batch.params.len(), dialect);
        batch.params.extend(c.params);
        for j in c.joins.split(" LEFT JOIN ").filter(|j| !j.is_empty()) {
            let j = format!(" LEFT JOIN {j}");
            if !batch.joins.contains(&j) {
                batch.joins.push_str(&j);
            }
        }
        batch.parts.push((i, sql));
    }
    out
}

/// Shifts every parameter number (`?N`, `$N`) in compiled `sql` by `by`. (Compiled SQL holds
/// no other `?` or `$` followed by a digit: no text from a rule is in it.)
pub(crate) fn renumber(sql: &str, by: usize, dialect: Dialect) -> String {
    if by == 0 {
        return sql.to_string();
    }
    let sigil = dialect.sigil();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.char_indices().peekable();
    let bytes = sql.as_bytes();
    while let Some((i, ch)) = chars.next() {
        out.push(ch);
        if ch == sigil {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            if end > start {
                let n: usize = sql[start..end].parse().unwrap_or(0);
                out.push_str(&(n + by).to_string());
                while chars.peek().is_some_and(|(j, _)| *j < end) {
                    chars.next();
                }
            }
        }
    }
    out
}

struct Compiler {
    d: Dialect,
    params: Vec<Param>,
    stats: bool,
    rfm: bool,
    tier: bool,
}

/// A compiled value: its SQL, the SQL of its currency when it is a record's amount, and
/// the JSON document and path (key) when it is a custom attribute (for `json_type` and
/// `jsonb_typeof` guards).
struct Sql {
    expr: String,
    currency: Option<String>,
    /// PostgreSQL: an amount constant's currency code, bound only where a guard compares it
    /// (PostgreSQL refuses a parameter it cannot type, as one no expression uses).
    code: Option<String>,
    json: Option<(String, String)>,
    /// For constants: the JSON kinds they compare with (SQLite's `json_type` names).
    kind: Option<&'static str>,
}

impl Sql {
    fn plain(expr: String) -> Sql {
        Sql { expr, currency: None, code: None, json: None, kind: None }
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

/// The JSON kind (`jsonb_typeof`) a constant compares with, if any.
fn jsonb_kind(s: &Scalar) -> Option<&'static str> {
    match s {
        Scalar::Text(_) => Some("string"),
        Scalar::Int(_) | Scalar::Float(_) => Some("number"),
        Scalar::Bool(_) => Some("boolean"),
        _ => None,
    }
}

/// A number or boolean constant as JSON text (exact: integers as written, floats as the
/// shortest text that reads back the same `f64`), to bind as `$N::text::jsonb`.
fn json_text(s: &Scalar) -> String {
    match s {
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => serde_json::to_string(f).unwrap_or_else(|_| "null".into()),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Text(t) => serde_json::to_string(t).unwrap_or_else(|_| "null".into()),
        _ => "null".into(),
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

/// Whether a field holds text (text, fixed names, dates as `YYYY-MM-DD`), which PostgreSQL
/// must order byte by byte (`COLLATE "C"`) as memory does.
fn text_field(f: Field) -> bool {
    use Field::*;
    match f {
        ExternalId
        | Kind
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
        | Birthday
        | Gender
        | Lifecycle
        | RfmSegment
        | Tier
        | OrderExternalId
        | OrderStatus
        | OrderCurrency
        | OrderChannel
        | ItemSku
        | ItemCategory
        | InteractionExternalId
        | InteractionKind
        | InteractionChannel
        | InteractionDirection
        | InteractionSubject => true,
        Id
        | Tags
        | CreatedAt
        | UpdatedAt
        | OrderCount
        | FirstOrderAt
        | LastOrderAt
        | InteractionCount
        | LastInteractionAt
        | RfmR
        | RfmF
        | RfmM
        | RfmScore
        | OrderOccurredAt
        | OrderTotal
        | ItemQuantity
        | ItemUnitPrice
        | InteractionOccurredAt
        | InteractionCsat
        | InteractionNps => false,
    }
}

/// Whether a (non-attribute) term holds text.
fn text_term(t: &Term) -> bool {
    match t {
        Term::Const(s) => matches!(s, Scalar::Text(_) | Scalar::Date(_)),
        Term::Field(f) => text_field(*f),
        Term::Aggregate(a) => matches!(a.func, AggFunc::Min | AggFunc::Max) && a.field.is_some_and(text_field),
        _ => false,
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
    /// Binds `p`; its placeholder (`?N`, or `$N::type` with its PostgreSQL type).
    fn param(&mut self, p: Param) -> String {
        let ty = p.pg_type();
        self.params.push(p);
        let n = self.params.len();
        match self.d {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}::{ty}"),
        }
    }

    /// The SQL of a compiled value's currency (binding a constant's code now).
    fn currency_of(&mut self, s: &Sql) -> String {
        match (&s.currency, &s.code) {
            (Some(c), _) => c.clone(),
            (None, Some(code)) => self.param(Param::Text(code.clone())),
            (None, None) => "NULL".into(),
        }
    }

    fn scalar(&mut self, s: &Scalar) -> String {
        self.param(param_of(s))
    }

    fn yes(&self) -> &'static str {
        self.d.bool(true)
    }

    fn no(&self) -> &'static str {
        self.d.bool(false)
    }

    /// SQLite: a list of constants: up to [`MAX_LISTED_VALUES`] as parameters `(?1, ?2)`,
    /// longer as one parameter read as rows by `(SELECT value FROM rarray(?N))`.
    fn list(&mut self, list: &[Scalar]) -> String {
        if list.len() <= MAX_LISTED_VALUES {
            let items: Vec<String> = list.iter().map(|s| self.scalar(s)).collect();
            return format!("({})", items.join(", "));
        }
        let values: Vec<Param> = list.iter().map(param_of).collect();
        self.params.push(Param::List(values));
        format!("(SELECT value FROM rarray(?{}))", self.params.len())
    }

    /// PostgreSQL: whether `x` equals one of `list`, as arrays of the list's types: integers
    /// (also times and amounts) `bigint[]`, floats `float8[]` (against which `x` is a
    /// `float8`, as in memory), text and dates `text[]`, booleans `boolean[]`. Null when `x`
    /// is.
    fn any_of(&mut self, x: &str, list: &[Scalar]) -> String {
        let (mut ints, mut reals, mut texts, mut bools) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for s in list {
            match param_of(s) {
                p @ Param::Int(_) => ints.push(p),
                p @ Param::Real(_) => reals.push(p),
                p @ Param::Text(_) => texts.push(p),
                p @ Param::Bool(_) => bools.push(p),
                _ => {}
            }
        }
        let mut parts = Vec::new();
        for (values, float) in [(ints, false), (reals, true), (texts, false), (bools, false)] {
            if values.is_empty() {
                continue;
            }
            let p = self.param(Param::List(values));
            parts.push(if float { format!("({x})::float8 = ANY({p})") } else { format!("{x} = ANY({p})") });
        }
        match parts.len() {
            0 => "NULL".into(),
            1 => parts.remove(0),
            _ => format!("({})", parts.join(" OR ")),
        }
    }

    /// "Some row exists", as a scalar subquery rather than `EXISTS` in both dialects, so that
    /// it runs per customer and only for those the cheaper conditions before it let through
    /// (the cost order of `and`): SQLite turns `EXISTS` into a join it may run first, and
    /// PostgreSQL into a hashed subplan over every order whenever it estimates that many
    /// customers reach it (a five-condition count on 100,000 customers: 85 ms this way, 350
    /// ms with `EXISTS`; an `EXISTS` alone is somewhat faster hashed, 330 ms against 500).
    fn exists(&self, select: &str) -> String {
        match self.d {
            Dialect::Sqlite => format!("coalesce(({select} LIMIT 1), 0)"),
            Dialect::Postgres => format!("(({select} LIMIT 1) IS NOT NULL)"),
        }
    }

    fn cond(&mut self, c: &Cond) -> String {
        match c {
            Cond::Const(b) => self.d.bool(*b).into(),
            Cond::And(args) | Cond::Or(args) => {
                let and = matches!(c, Cond::And(_));
                if args.is_empty() {
                    return self.d.bool(and).into();
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
                // as `AND` and `OR` do. Every compiled condition is false or true, never null.
                let (yes, no) = (self.yes(), self.no());
                let mut sql = String::from("(CASE");
                for a in sorted {
                    let a = self.cond(a);
                    if and {
                        sql.push_str(&format!(" WHEN NOT {a} THEN {no}"));
                    } else {
                        sql.push_str(&format!(" WHEN {a} THEN {yes}"));
                    }
                }
                sql.push_str(&format!(" ELSE {} END)", if and { yes } else { no }));
                sql
            }
            Cond::Not(a) => format!("(NOT {})", self.cond(a)),
            Cond::Compare(l, cmp, r) => {
                // `count(..) >= 1` and the like ask whether one record exists: stop at the first.
                if let Some((a, some)) = existence(l, *cmp, r) {
                    let select = self.aggregate(a, Some("1"));
                    let found = self.exists(&select[1..select.len() - 1]);
                    return if some { found } else { format!("(NOT {found})") };
                }
                if self.d == Dialect::Postgres {
                    if let Some(sql) = self.pg_attribute_compare(l, *cmp, r) {
                        return sql;
                    }
                }
                let collate =
                    self.d == Dialect::Postgres && !matches!(cmp, Cmp::Eq | Cmp::Ne) && (text_term(l) || text_term(r));
                let l = self.term(l);
                let r = self.term(r);
                let mut guards = Vec::new();
                let priced = |s: &Sql| s.currency.is_some() || s.code.is_some();
                if priced(&l) && priced(&r) {
                    let (a, b) = (self.currency_of(&l), self.currency_of(&r));
                    guards.push(format!("{a} = {b}"));
                }
                for (side, other) in [(&l, &r), (&r, &l)] {
                    if let Some((doc, path)) = &side.json {
                        guards.push(format!("json_type({doc}, {path}) IN {}", other_kind(other)));
                    }
                }
                let collation = if collate { " COLLATE \"C\"" } else { "" };
                guards.push(format!("{}{collation} {} {}", l.expr, op(*cmp), r.expr));
                format!("coalesce(({}), {})", guards.join(" AND "), self.no())
            }
            Cond::In(t, list, negated) => match self.d {
                Dialect::Sqlite => self.sqlite_in(t, list, *negated),
                Dialect::Postgres => self.pg_in(t, list, *negated),
            },
            Cond::Contains(t, item) => match self.d {
                Dialect::Sqlite => self.sqlite_contains(t, item),
                Dialect::Postgres => self.pg_contains(t, item),
            },
            Cond::StartsWith(t, prefix) => {
                let t = self.term(t);
                let p = self.param(Param::Text(prefix.clone()));
                match self.d {
                    Dialect::Sqlite => {
                        let guard = match &t.json {
                            Some((doc, path)) => format!("json_type({doc}, {path}) = 'text' AND "),
                            None => String::new(),
                        };
                        format!("coalesce(({guard}substr({}, 1, length({p})) = {p}), 0)", t.expr)
                    }
                    Dialect::Postgres => {
                        let guard = match &t.json {
                            Some((doc, key)) => format!("jsonb_typeof({doc} -> {key}) = 'string' AND "),
                            None => String::new(),
                        };
                        format!("coalesce(({guard}starts_with({}, {p})), false)", t.expr)
                    }
                }
            }
            Cond::IsNull(t, negated) => {
                // An attribute's expression is null for a missing key and for JSON null in
                // both dialects (`json_extract`, `->>`); arrays and objects are not null.
                let t = self.term(t);
                format!("({} IS {}NULL)", t.expr, if *negated { "NOT " } else { "" })
            }
            Cond::InStatic(id) => {
                let p = self.param(Param::Int(*id));
                self.exists(&format!(
                    "SELECT 1 FROM segment_members m WHERE m.segment_id = {p} AND m.customer_id = c.id"
                ))
            }
            Cond::AnyItem(inner) => {
                let inner = self.cond(inner);
                self.exists(&format!("SELECT 1 FROM order_items i WHERE i.order_id = o.id AND {inner}"))
            }
        }
    }

    fn sqlite_in(&mut self, t: &Term, list: &[Scalar], negated: bool) -> String {
        let t = self.term(t);
        let mut guards = Vec::new();
        let items = self.list(list);
        if let Some(cur) = &t.currency {
            if let Some(Scalar::Money(_, c)) = list.first() {
                let p = self.param(Param::Text(c.code().to_string()));
                guards.push(format!("{cur} = {p}"));
            }
        }
        if let (Some((doc, path)), Some(first)) = (&t.json, list.first()) {
            guards.push(format!("json_type({doc}, {path}) IN {}", json_kinds(first)));
        }
        let not = if negated { "NOT " } else { "" };
        guards.push(format!("{} {not}IN {items}", t.expr));
        format!("coalesce(({}), 0)", guards.join(" AND "))
    }

    /// PostgreSQL's `in`: one array (two when integers and floats mix); an attribute's list
    /// (of one kind, the checker sees to it) as text for strings, as `jsonb` otherwise.
    fn pg_in(&mut self, t: &Term, list: &[Scalar], negated: bool) -> String {
        let t = self.term(t);
        let mut guards = Vec::new();
        let test = if let Some((doc, key)) = &t.json {
            let Some(kind) = list.first().and_then(jsonb_kind) else { return "false".into() };
            guards.push(format!("jsonb_typeof({doc} -> {key}) = '{kind}'"));
            if kind == "string" {
                let values = list.iter().map(param_of).collect();
                let p = self.param(Param::List(values));
                format!("{} = ANY({p})", t.expr)
            } else {
                let values = list.iter().map(|s| Param::Text(json_text(s))).collect();
                let p = self.param(Param::List(values));
                format!("({doc} -> {key}) = ANY({p}::jsonb[])")
            }
        } else {
            if let (Some(cur), Some(Scalar::Money(_, c))) = (&t.currency, list.first()) {
                let p = self.param(Param::Text(c.code().to_string()));
                guards.push(format!("{cur} = {p}"));
            }
            self.any_of(&t.expr, list)
        };
        guards.push(if negated { format!("NOT ({test})") } else { test });
        format!("coalesce(({}), false)", guards.join(" AND "))
    }

    /// PostgreSQL: a comparison with a custom attribute (the checker allows only a constant
    /// on the other side): strings as text, numbers and booleans as `jsonb`, each guarded by
    /// `jsonb_typeof`. `None` when neither side is an attribute.
    fn pg_attribute_compare(&mut self, l: &Term, cmp: Cmp, r: &Term) -> Option<String> {
        let (name, konst, attr_left) = match (l, r) {
            (Term::Attribute(n), Term::Const(s)) => (n, s, true),
            (Term::Const(s), Term::Attribute(n)) => (n, s, false),
            (Term::Attribute(_), _) | (_, Term::Attribute(_)) => return Some("false".into()),
            _ => return None,
        };
        let Some(kind) = jsonb_kind(konst) else { return Some("false".into()) };
        let key = self.param(Param::Text(name.clone()));
        let (attr, value) = if kind == "string" {
            (format!("(c.attributes ->> {key}) COLLATE \"C\""), self.scalar(konst))
        } else {
            (format!("(c.attributes -> {key})"), format!("{}::jsonb", self.param(Param::Text(json_text(konst)))))
        };
        let (a, b) = if attr_left { (attr, value) } else { (value, attr) };
        Some(format!("coalesce((jsonb_typeof(c.attributes -> {key}) = '{kind}' AND {a} {} {b}), false)", op(cmp)))
    }

    fn sqlite_contains(&mut self, t: &Term, item: &Scalar) -> String {
        match t {
            Term::Field(Field::Tags) => {
                let p = self.scalar(item);
                self.exists(&format!("SELECT 1 FROM json_each(c.tags) WHERE json_each.value = {p}"))
            }
            Term::Attribute(name) => {
                let path = self.param(Param::Text(json_path(name)));
                let v = self.scalar(item);
                let element = self.exists(&format!(
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

    /// PostgreSQL's `contains`: a tag (`?`), a substring (`strpos`), or an attribute's
    /// substring or array element (`@>`: a direct element equal as `jsonb`, so `2 = 2.0`).
    fn pg_contains(&mut self, t: &Term, item: &Scalar) -> String {
        match t {
            Term::Field(Field::Tags) => {
                if !matches!(item, Scalar::Text(_)) {
                    return "false".into();
                }
                let p = self.scalar(item);
                format!("coalesce((c.tags ? {p}), false)")
            }
            Term::Attribute(name) => {
                let key = self.param(Param::Text(name.clone()));
                let a = format!("(c.attributes -> {key})");
                match item {
                    Scalar::Text(_) => {
                        let v = self.scalar(item);
                        format!(
                            "(CASE jsonb_typeof({a}) WHEN 'string' THEN coalesce(strpos(c.attributes ->> {key}, {v}) > 0, \
                             false) WHEN 'array' THEN {a} @> jsonb_build_array({v}) ELSE false END)"
                        )
                    }
                    Scalar::Int(_) | Scalar::Float(_) => {
                        let v = self.param(Param::Text(format!("[{}]", json_text(item))));
                        format!("coalesce((jsonb_typeof({a}) = 'array' AND {a} @> {v}::jsonb), false)")
                    }
                    _ => "false".into(),
                }
            }
            t => {
                let t = self.term(t);
                let v = self.scalar(item);
                format!("coalesce((strpos({}, {v}) > 0), false)", t.expr)
            }
        }
    }

    fn term(&mut self, t: &Term) -> Sql {
        match t {
            Term::Const(s) => {
                let (currency, code) = match (s, self.d) {
                    (Scalar::Money(_, c), Dialect::Sqlite) => {
                        (Some(self.param(Param::Text(c.code().to_string()))), None)
                    }
                    (Scalar::Money(_, c), Dialect::Postgres) => (None, Some(c.code().to_string())),
                    _ => (None, None),
                };
                let expr = self.scalar(s);
                Sql { expr, currency, code, json: None, kind: Some(json_kinds(s)) }
            }
            Term::Field(f) => self.field(*f),
            Term::Attribute(name) => match self.d {
                Dialect::Sqlite => {
                    let path = self.param(Param::Text(json_path(name)));
                    Sql {
                        expr: format!("json_extract(c.attributes, {path})"),
                        currency: None,
                        code: None,
                        json: Some(("c.attributes".into(), path)),
                        kind: None,
                    }
                }
                Dialect::Postgres => {
                    let key = self.param(Param::Text(name.clone()));
                    Sql {
                        expr: format!("(c.attributes ->> {key})"),
                        currency: None,
                        code: None,
                        json: Some(("c.attributes".into(), key)),
                        kind: None,
                    }
                }
            },
            Term::Consent(purpose) => match self.d {
                Dialect::Sqlite => {
                    let path = self.param(Param::Text(format!("{}.granted", json_path(purpose))));
                    Sql::plain(format!("json_extract(c.consents, {path})"))
                }
                Dialect::Postgres => {
                    let key = self.param(Param::Text(purpose.clone()));
                    Sql::plain(format!("((c.consents -> {key}) ->> 'granted')::boolean"))
                }
            },
            Term::Spend(cur) => {
                let code = cur.map(|c| c.code().to_string());
                let p = self.param(code.map_or(Param::Null, Param::Text));
                Sql::plain(format!(
                    "coalesce((SELECT sp.total_minor FROM customer_spend sp WHERE sp.customer_id = c.id AND sp.currency = {p}), 0)"
                ))
            }
            Term::Score(rules) => {
                let mut parts = Vec::with_capacity(rules.len());
                for (c, points) in rules {
                    let c = self.cond(c);
                    let p = self.param(Param::Int(*points));
                    parts.push(format!("(CASE WHEN {c} THEN {p} ELSE 0 END)"));
                }
                Sql::plain(sum(&parts))
            }
            Term::Shift(base, us) => {
                let b = self.term(base);
                let p = self.param(Param::Int(*us));
                Sql::plain(format!("({} + {p})", b.expr))
            }
            Term::Aggregate(a) => Sql::plain(self.aggregate(a, None)),
        }
    }

    fn field(&mut self, f: Field) -> Sql {
        use Field::*;
        let col = |c: &str| Sql::plain(c.to_string());
        let pg = self.d == Dialect::Postgres;
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
            OrderTotal => Sql {
                expr: "o.total_minor".into(),
                currency: Some("o.currency".into()),
                code: None,
                json: None,
                kind: None,
            },
            OrderChannel => col("o.channel"),
            ItemSku => col("i.sku"),
            ItemCategory => col("i.category"),
            ItemQuantity => col("i.quantity"),
            ItemUnitPrice => Sql {
                expr: "i.unit_price_minor".into(),
                currency: Some("o.currency".into()),
                code: None,
                json: None,
                kind: None,
            },
            InteractionExternalId => col("x.external_id"),
            InteractionKind => col("x.kind"),
            InteractionChannel => col("x.channel"),
            InteractionDirection => col("x.direction"),
            InteractionOccurredAt => col("x.occurred_at"),
            InteractionSubject => col("x.subject"),
            // The score is JSON text on both stores (`{"csat": 4}`).
            InteractionCsat if pg => col("((x.score::jsonb) ->> 'csat')::bigint"),
            InteractionNps if pg => col("((x.score::jsonb) ->> 'nps')::bigint"),
            InteractionCsat => col("json_extract(x.score, '$.csat')"),
            InteractionNps => col("json_extract(x.score, '$.nps')"),
        }
    }

    /// The aggregate as a scalar subquery in parentheses; `select` replaces what it selects.
    fn aggregate(&mut self, a: &Aggregate, select: Option<&str>) -> String {
        let value = a.field.map(|f| self.field(f).expr);
        // PostgreSQL orders text by the database's collation unless told otherwise.
        let collation =
            if self.d == Dialect::Postgres && a.field.is_some_and(text_field) { " COLLATE \"C\"" } else { "" };
        let what = match (select, a.func, value) {
            (Some(s), _, _) => s.to_string(),
            (None, AggFunc::Count, _) | (None, _, None) => "count(*)".to_string(),
            (None, AggFunc::Sum, Some(v)) => format!("coalesce(sum({v}), 0)"),
            (None, AggFunc::Min, Some(v)) => format!("min({v}{collation})"),
            (None, AggFunc::Max, Some(v)) => format!("max({v}{collation})"),
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
            let p = self.param(Param::Int(f));
            sql.push_str(&format!(" AND {time} >= {p}"));
        }
        if let Some(t) = a.to {
            let p = self.param(Param::Int(t));
            sql.push_str(&format!(" AND {time} <= {p}"));
        }
        if let Some(c) = a.currency {
            let p = self.param(Param::Text(c.code().to_string()));
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

/// A constant as both stores store it: times and amounts as integers, dates as text.
fn param_of(s: &Scalar) -> Param {
    match s {
        Scalar::Null => Param::Null,
        Scalar::Int(i) | Scalar::Time(i) | Scalar::Money(i, _) => Param::Int(*i),
        Scalar::Float(f) => Param::Real(*f),
        Scalar::Text(t) => Param::Text(t.clone()),
        Scalar::Bool(b) => Param::Bool(*b),
        Scalar::Date(d) => Param::Text(d.to_string()),
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

/// SQLite: the JSON kinds a compiled constant compares with, for a guard on the other side.
fn other_kind(s: &Sql) -> &'static str {
    s.kind.unwrap_or("('text', 'integer', 'real', 'true', 'false')")
}

/// SQLite: a JSON path to one top-level key, quoted so any key is safe (`$."key"`).
fn json_path(key: &str) -> String {
    format!("$.\"{key}\"")
}
