//! The in-memory evaluator: the definition of what a checked rule means for one customer.
//! The store's set-at-a-time compiler (SQL on SQLite) must agree with it; a property test
//! proves it on random rules and data.

use std::cmp::Ordering;

use super::ast::{AggFunc, Cmp, Source};
use super::check::{Aggregate, Cond, Field, Scalar, Term};
use crate::customer::RfmScore;
use crate::customer::{Customer, CustomerStats};
use crate::interaction::{Interaction, Score};
use crate::order::{LineItem, Order, OrderStatus};

/// Everything a rule may read about one customer.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The customer.
    pub customer: &'a Customer,
    /// The customer's statistics.
    pub stats: &'a CustomerStats,
    /// The stored RFM scores, if the customer has them.
    pub rfm: Option<&'a RfmScore>,
    /// The stored value tier, if any.
    pub tier: Option<&'a str>,
    /// The customer's orders of every status, with line items (read by aggregates only).
    pub orders: &'a [Order],
    /// The customer's interactions (read by aggregates only).
    pub interactions: &'a [Interaction],
    /// Ids of the static segments the customer is listed in.
    pub static_segments: &'a [i64],
}

/// What a record-level field reads: an order, an order's line item, or an interaction.
#[derive(Clone, Copy)]
enum Rec<'a> {
    None,
    Order(&'a Order),
    Item(&'a Order, &'a LineItem),
    Interaction(&'a Interaction),
}

/// Whether the subject meets the checked rule.
///
/// ```
/// use crm_core::rule::{check, matches, parse, Definitions, Subject};
/// use crm_core::{Customer, CustomerStats};
/// let customer: Customer = serde_json::from_str(r#"{"id": 1, "external_id": null, "kind": "person",
///     "name": "Ada", "email": null, "phone": null, "company": null, "title": null, "industry": null,
///     "address": {"country": "SG"}, "birthday": null, "gender": null, "tags": ["vip"], "attributes": {},
///     "consents": {}, "lifecycle": "active", "created_at": "2026-01-01T00:00:00Z",
///     "updated_at": "2026-01-01T00:00:00Z", "merged_into": null}"#).unwrap();
/// let stats = CustomerStats::default();
/// let subject = Subject { customer: &customer, stats: &stats, rfm: None, tier: None,
///     orders: &[], interactions: &[], static_segments: &[] };
/// let rule = check(&parse(r#"country = "SG" and "vip" in tags"#).unwrap(), &Definitions::default(),
///     chrono::Utc::now()).unwrap();
/// assert!(matches(&subject, &rule));
/// ```
pub fn matches(s: &Subject<'_>, c: &Cond) -> bool {
    cond(s, Rec::None, c)
}

fn cond(s: &Subject<'_>, rec: Rec<'_>, c: &Cond) -> bool {
    match c {
        Cond::Const(b) => *b,
        Cond::And(args) => args.iter().all(|a| cond(s, rec, a)),
        Cond::Or(args) => args.iter().any(|a| cond(s, rec, a)),
        Cond::Not(a) => !cond(s, rec, a),
        Cond::Compare(l, op, r) => {
            let (l, r) = (value(s, rec, l), value(s, rec, r));
            compare(&l, &r).is_some_and(|o| holds(*op, o))
        }
        Cond::In(t, list, negated) => {
            let v = value(s, rec, t);
            if v == Scalar::Null {
                return false;
            }
            let found = list.iter().any(|x| compare(&v, x) == Some(Ordering::Equal));
            if *negated {
                // `not in`: comparable with the list's kind and equal to none of it.
                !found && list.iter().any(|x| compare(&v, x).is_some())
            } else {
                found
            }
        }
        Cond::Contains(t, item) => contains(s, rec, t, item),
        Cond::StartsWith(t, p) => match value(s, rec, t) {
            Scalar::Text(v) => v.starts_with(p.as_str()),
            _ => false,
        },
        Cond::IsNull(Term::Attribute(name), negated) => {
            // Arrays and objects are values here, though they compare with nothing.
            let null = s.customer.attributes.get(name).is_none_or(serde_json::Value::is_null);
            null != *negated
        }
        Cond::IsNull(t, negated) => (value(s, rec, t) == Scalar::Null) != *negated,
        Cond::InStatic(id) => s.static_segments.contains(id),
        Cond::AnyItem(inner) => match rec {
            Rec::Order(o) => o.items.iter().any(|i| cond(s, Rec::Item(o, i), inner)),
            _ => false,
        },
    }
}

fn holds(op: Cmp, o: Ordering) -> bool {
    match op {
        Cmp::Eq => o == Ordering::Equal,
        Cmp::Ne => o != Ordering::Equal,
        Cmp::Lt => o == Ordering::Less,
        Cmp::Le => o != Ordering::Greater,
        Cmp::Gt => o == Ordering::Greater,
        Cmp::Ge => o != Ordering::Less,
    }
}

/// Orders two values of the same kind; `None` when either is null or the kinds differ.
pub(crate) fn compare(a: &Scalar, b: &Scalar) -> Option<Ordering> {
    use Scalar::*;
    match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Int(x), Float(y)) => (*x as f64).partial_cmp(y),
        (Float(x), Int(y)) => x.partial_cmp(&(*y as f64)),
        (Float(x), Float(y)) => x.partial_cmp(y),
        (Text(x), Text(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Time(x), Time(y)) => Some(x.cmp(y)),
        (Date(x), Date(y)) => Some(x.cmp(y)),
        (Money(x, c), Money(y, d)) if c == d => Some(x.cmp(y)),
        _ => None,
    }
}

fn contains(s: &Subject<'_>, rec: Rec<'_>, t: &Term, item: &Scalar) -> bool {
    match t {
        Term::Field(Field::Tags) => match item {
            Scalar::Text(x) => s.customer.tags.contains(x),
            _ => false,
        },
        Term::Attribute(name) => match (s.customer.attributes.get(name), item) {
            (Some(serde_json::Value::String(v)), Scalar::Text(x)) => v.contains(x.as_str()),
            (Some(serde_json::Value::Array(a)), _) => {
                a.iter().any(|e| compare(&json_scalar(e), item) == Some(Ordering::Equal))
            }
            _ => false,
        },
        t => match (value(s, rec, t), item) {
            (Scalar::Text(v), Scalar::Text(x)) => v.contains(x.as_str()),
            _ => false,
        },
    }
}

/// A JSON value as a scalar: arrays and objects compare with nothing (`Null`).
fn json_scalar(v: &serde_json::Value) -> Scalar {
    match v {
        serde_json::Value::String(s) => Scalar::Text(s.clone()),
        serde_json::Value::Bool(b) => Scalar::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Scalar::Int(i),
            None => n.as_f64().map_or(Scalar::Null, Scalar::Float),
        },
        _ => Scalar::Null,
    }
}

fn text(v: &Option<String>) -> Scalar {
    v.as_ref().map_or(Scalar::Null, |s| Scalar::Text(s.clone()))
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Scalar {
    t.map_or(Scalar::Null, |t| Scalar::Time(t.timestamp_micros()))
}

fn name<T: serde::Serialize>(v: &T) -> Scalar {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Scalar::Text(s),
        _ => Scalar::Null,
    }
}

fn value(s: &Subject<'_>, rec: Rec<'_>, t: &Term) -> Scalar {
    match t {
        Term::Const(c) => c.clone(),
        Term::Field(f) => field(s, rec, *f),
        Term::Attribute(name) => s.customer.attributes.get(name).map_or(Scalar::Null, json_scalar),
        Term::Consent(purpose) => s.customer.consents.get(purpose).map_or(Scalar::Null, |c| Scalar::Bool(c.granted)),
        Term::Spend(Some(c)) => {
            Scalar::Money(s.stats.total_spent.iter().find(|m| m.currency == *c).map_or(0, |m| m.minor), *c)
        }
        Term::Spend(None) => Scalar::Null,
        Term::Score(rules) => Scalar::Int(rules.iter().filter(|(c, _)| cond(s, Rec::None, c)).map(|(_, p)| *p).sum()),
        Term::Shift(base, us) => match value(s, rec, base) {
            Scalar::Time(t) => Scalar::Time(t + us),
            _ => Scalar::Null,
        },
        Term::Aggregate(a) => aggregate(s, a),
    }
}

fn field(s: &Subject<'_>, rec: Rec<'_>, f: Field) -> Scalar {
    let c = s.customer;
    let order = match rec {
        Rec::Order(o) | Rec::Item(o, _) => Some(o),
        _ => None,
    };
    let item = match rec {
        Rec::Item(_, i) => Some(i),
        _ => None,
    };
    let ix = match rec {
        Rec::Interaction(i) => Some(i),
        _ => None,
    };
    use Field::*;
    match f {
        Id => Scalar::Int(c.id.0),
        ExternalId => text(&c.external_id),
        Kind => name(&c.kind),
        Name => Scalar::Text(c.name.clone()),
        Email => text(&c.email),
        Phone => text(&c.phone),
        Company => text(&c.company),
        Title => text(&c.title),
        Industry => text(&c.industry),
        Country => text(&c.address.country),
        Region => text(&c.address.region),
        City => text(&c.address.city),
        PostalCode => text(&c.address.postal_code),
        Street => text(&c.address.street),
        Birthday => c.birthday.map_or(Scalar::Null, Scalar::Date),
        Gender => text(&c.gender),
        Tags => Scalar::Null,
        Lifecycle => name(&c.lifecycle),
        CreatedAt => Scalar::Time(c.created_at.timestamp_micros()),
        UpdatedAt => Scalar::Time(c.updated_at.timestamp_micros()),
        OrderCount => Scalar::Int(s.stats.order_count),
        FirstOrderAt => time(s.stats.first_order_at),
        LastOrderAt => time(s.stats.last_order_at),
        InteractionCount => Scalar::Int(s.stats.interaction_count),
        LastInteractionAt => time(s.stats.last_interaction_at),
        RfmR => s.rfm.map_or(Scalar::Null, |r| Scalar::Int(r.r.into())),
        RfmF => s.rfm.map_or(Scalar::Null, |r| Scalar::Int(r.f.into())),
        RfmM => s.rfm.map_or(Scalar::Null, |r| Scalar::Int(r.m.into())),
        RfmScore => s.rfm.map_or(Scalar::Null, |r| Scalar::Int(r.code())),
        RfmSegment => s.rfm.map_or(Scalar::Null, |r| Scalar::Text(r.segment.clone())),
        Tier => s.tier.map_or(Scalar::Null, |t| Scalar::Text(t.to_string())),
        OrderExternalId => order.map_or(Scalar::Null, |o| Scalar::Text(o.external_id.clone())),
        OrderOccurredAt => order.map_or(Scalar::Null, |o| Scalar::Time(o.occurred_at.timestamp_micros())),
        OrderStatus => order.map_or(Scalar::Null, |o| name(&o.status)),
        OrderCurrency => order.map_or(Scalar::Null, |o| Scalar::Text(o.total.currency.code().to_string())),
        OrderTotal => order.map_or(Scalar::Null, |o| Scalar::Money(o.total.minor, o.total.currency)),
        OrderChannel => order.map_or(Scalar::Null, |o| text(&o.channel)),
        ItemSku => item.map_or(Scalar::Null, |i| Scalar::Text(i.sku.clone())),
        ItemCategory => item.map_or(Scalar::Null, |i| text(&i.category)),
        ItemQuantity => item.map_or(Scalar::Null, |i| Scalar::Int(i.quantity)),
        ItemUnitPrice => match (order, item) {
            (Some(o), Some(i)) => Scalar::Money(i.unit_price_minor, o.total.currency),
            _ => Scalar::Null,
        },
        InteractionExternalId => ix.map_or(Scalar::Null, |i| text(&i.external_id)),
        InteractionKind => ix.map_or(Scalar::Null, |i| name(&i.kind)),
        InteractionChannel => ix.map_or(Scalar::Null, |i| text(&i.channel)),
        InteractionDirection => ix.and_then(|i| i.direction).map_or(Scalar::Null, |d| name(&d)),
        InteractionOccurredAt => ix.map_or(Scalar::Null, |i| Scalar::Time(i.occurred_at.timestamp_micros())),
        InteractionSubject => ix.map_or(Scalar::Null, |i| text(&i.subject)),
        InteractionCsat => match ix.and_then(|i| i.score) {
            Some(Score::Csat(v)) => Scalar::Int(v.into()),
            _ => Scalar::Null,
        },
        InteractionNps => match ix.and_then(|i| i.score) {
            Some(Score::Nps(v)) => Scalar::Int(v.into()),
            _ => Scalar::Null,
        },
    }
}

/// Folds the aggregated values; sums use i128 so no order of addition can overflow.
struct Fold {
    func: AggFunc,
    count: i64,
    sum: i128,
    best: Scalar,
}

impl Fold {
    fn add(&mut self, v: Scalar) {
        self.count += 1;
        match self.func {
            AggFunc::Count => {}
            AggFunc::Sum => {
                self.sum += match v {
                    Scalar::Int(i) | Scalar::Money(i, _) => i128::from(i),
                    _ => 0,
                }
            }
            AggFunc::Min | AggFunc::Max => {
                if v == Scalar::Null {
                    return;
                }
                let better = match compare(&v, &self.best) {
                    Some(o) => (o == Ordering::Less) == (self.func == AggFunc::Min) && o != Ordering::Equal,
                    None => self.best == Scalar::Null,
                };
                if better {
                    self.best = v;
                }
            }
        }
    }
}

fn aggregate(s: &Subject<'_>, a: &Aggregate) -> Scalar {
    let mut fold = Fold { func: a.func, count: 0, sum: 0, best: Scalar::Null };
    let in_window = |us: i64| a.from.is_none_or(|f| us >= f) && a.to.is_none_or(|t| us <= t);
    let passes = |rec: Rec<'_>| a.filter.as_ref().is_none_or(|f| cond(s, rec, f));
    let read = |rec: Rec<'_>| a.field.map_or(Scalar::Null, |f| field(s, rec, f));
    match a.source {
        Source::Orders | Source::AllOrders | Source::Items => {
            for o in s.orders {
                if a.source != Source::AllOrders && o.status != OrderStatus::Completed {
                    continue;
                }
                if !in_window(o.occurred_at.timestamp_micros()) || a.currency.is_some_and(|c| c != o.total.currency) {
                    continue;
                }
                if a.source == Source::Items {
                    for i in &o.items {
                        let rec = Rec::Item(o, i);
                        if passes(rec) {
                            fold.add(read(rec));
                        }
                    }
                } else if passes(Rec::Order(o)) {
                    fold.add(read(Rec::Order(o)));
                }
            }
        }
        Source::Interactions => {
            for i in s.interactions {
                let rec = Rec::Interaction(i);
                if in_window(i.occurred_at.timestamp_micros()) && passes(rec) {
                    fold.add(read(rec));
                }
            }
        }
    }
    match a.func {
        AggFunc::Count => Scalar::Int(fold.count),
        AggFunc::Sum => {
            let v = i64::try_from(fold.sum).unwrap_or(if fold.sum < 0 { i64::MIN } else { i64::MAX });
            match a.currency {
                Some(c) => Scalar::Money(v, c),
                None => Scalar::Int(v),
            }
        }
        AggFunc::Min | AggFunc::Max => fold.best,
    }
}

/// What a checked rule reads beyond the customer row and statistics, so a caller loads
/// only that.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// Orders (with line items).
    pub orders: bool,
    /// Only orders at or after this time (microseconds) are read; `None`: all.
    pub orders_since: Option<i64>,
    /// Interactions.
    pub interactions: bool,
    /// Only interactions at or after this time (microseconds) are read; `None`: all.
    pub interactions_since: Option<i64>,
    /// Stored RFM scores.
    pub rfm: bool,
    /// The stored value tier.
    pub tier: bool,
    /// Static segment lists.
    pub static_segments: bool,
}

/// What `c` reads beyond the customer row and its statistics.
pub fn needs(c: &Cond) -> Needs {
    let mut n = Needs { orders_since: Some(i64::MAX), interactions_since: Some(i64::MAX), ..Needs::default() };
    walk_cond(c, &mut n);
    n
}

/// The earlier of two lower bounds, `None` being "since ever".
fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    Some(a?.min(b?))
}

fn walk_cond(c: &Cond, n: &mut Needs) {
    match c {
        Cond::And(v) | Cond::Or(v) => v.iter().for_each(|c| walk_cond(c, n)),
        Cond::Not(c) | Cond::AnyItem(c) => walk_cond(c, n),
        Cond::Compare(l, _, r) => {
            walk_term(l, n);
            walk_term(r, n);
        }
        Cond::In(t, _, _) | Cond::Contains(t, _) | Cond::StartsWith(t, _) | Cond::IsNull(t, _) => walk_term(t, n),
        Cond::InStatic(_) => n.static_segments = true,
        Cond::Const(_) => {}
    }
}

fn walk_term(t: &Term, n: &mut Needs) {
    match t {
        Term::Aggregate(a) => match a.source {
            Source::Interactions => {
                n.interactions = true;
                n.interactions_since = earliest(n.interactions_since, a.from);
            }
            _ => {
                n.orders = true;
                n.orders_since = earliest(n.orders_since, a.from);
            }
        },
        Term::Score(rules) => rules.iter().for_each(|(c, _)| walk_cond(c, n)),
        Term::Shift(b, _) => walk_term(b, n),
        Term::Field(f) => match f {
            Field::RfmR | Field::RfmF | Field::RfmM | Field::RfmScore | Field::RfmSegment => n.rfm = true,
            Field::Tier => n.tier = true,
            _ => {}
        },
        _ => {}
    }
}
