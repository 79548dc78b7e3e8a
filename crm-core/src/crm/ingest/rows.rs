//! Flat CSV rows for customers, orders and interactions: the column layout read by bulk
//! ingest and written by the generator. Nested values travel as JSON text in one cell
//! (`attributes`, `consents`, `items`, `payload`); tags are separated by `;`; a score is
//! `csat:4` or `nps:9`.
//!
//! The rows are generic over the cell: `String` for CSV files, [`Cell`] for the typed
//! columns of a DataFrame or an Arrow table. One conversion per record kind serves both, so
//! a text cell obeys the same rule whichever way it arrives, and an integer or a time is
//! used as it is instead of being printed and parsed again.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::{Deserialize, Serialize};

use crate::customer::{Address, AddressPatch, CustomerPatch, NewCustomer};
use crate::error::{Error, Result};
use crate::interaction::{NewInteraction, Score};
use crate::order::NewOrder;
use crate::CustomerId;

/// Column names accepted in a customers CSV file (matched whatever their case). Each row is
/// merged into the customer with its `external_id`: a column that is absent from the header
/// keeps the stored value; a present column with an empty cell clears the field (`name`,
/// `kind`, `lifecycle` and `created_at` cannot be cleared: an empty cell keeps them);
/// `attributes` and `consents` hold JSON objects merged key by key (a `null` value removes
/// the key); `tags` (`;`-separated) replaces the set. `external_id` is required, and `name`
/// when the row creates the customer.
pub const CUSTOMER_COLUMNS: &[&str] = &[
    "external_id",
    "kind",
    "name",
    "email",
    "phone",
    "company",
    "title",
    "industry",
    "country",
    "region",
    "city",
    "postal_code",
    "street",
    "birthday",
    "gender",
    "tags",
    "attributes",
    "consents",
    "lifecycle",
    "created_at",
];
/// Column names accepted in an orders CSV file.
pub const ORDER_COLUMNS: &[&str] = &[
    "external_id",
    "customer_external_id",
    "customer_id",
    "occurred_at",
    "status",
    "currency",
    "total_minor",
    "channel",
    "items",
];
/// Column names accepted in an interactions CSV file.
pub const INTERACTION_COLUMNS: &[&str] = &[
    "external_id",
    "customer_external_id",
    "customer_id",
    "kind",
    "channel",
    "direction",
    "occurred_at",
    "subject",
    "body",
    "score",
    "payload",
];

/// One cell of a typed column, as a binding hands DataFrame or Arrow data to
/// [`Record::from_cells`](super::Record::from_cells). Text is read by the rule of its
/// column in a CSV file. An integer or a time is used as it is where the column holds one
/// (`total_minor`, `customer_id`, `occurred_at`, ...), and printed where the column holds
/// text (an integer as decimal digits, a time in RFC 3339), so no value depends on which
/// of the two a host sent.
///
/// [`Cell::Null`] and text that is empty once trimmed (an empty CSV cell) are null: on a
/// customer they clear the field (a column that is absent keeps it); elsewhere, and on
/// customer fields that cannot be empty (`name`, `kind`, `lifecycle`, `created_at`), a
/// null cell is the same as an absent column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    /// A missing value (a null in a DataFrame or Arrow column).
    Null,
    /// Text, read as the same cell of a CSV file.
    Text(&'a str),
    /// An integer. In a time column it counts microseconds since 1970-01-01 UTC.
    Int(i64),
    /// A time: microseconds since 1970-01-01 UTC (the unit of Arrow and pandas timestamps).
    Time(i64),
}

/// What a row conversion needs from a cell; implemented by `String` (CSV) and [`Cell`].
pub(crate) trait CellValue: Sized {
    /// Whether the cell holds no value (see [`Cell`]).
    fn is_null(&self) -> bool;
    /// The cell as owned text, for text fields.
    fn into_text(self) -> String;
    /// Applies a text rule to the cell's text.
    fn read<T>(self, rule: impl FnOnce(&str) -> Result<T>) -> Result<T>;
    /// The integer in the cell.
    fn int(self, field: &str) -> Result<i64> {
        self.read(|v| int(field, v))
    }
    /// The time in the cell.
    fn time(self, field: &str) -> Result<DateTime<Utc>> {
        self.read(|v| time(field, v))
    }
}

impl CellValue for String {
    fn is_null(&self) -> bool {
        self.trim().is_empty()
    }
    fn into_text(self) -> String {
        self
    }
    fn read<T>(self, rule: impl FnOnce(&str) -> Result<T>) -> Result<T> {
        rule(&self)
    }
}

fn micros(us: i64) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| format!("{us} microseconds since 1970 is out of range"))
}

impl CellValue for Cell<'_> {
    fn is_null(&self) -> bool {
        match self {
            Cell::Null => true,
            Cell::Text(t) => t.trim().is_empty(),
            Cell::Int(_) | Cell::Time(_) => false,
        }
    }
    fn into_text(self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Text(t) => t.to_owned(),
            Cell::Int(i) => i.to_string(),
            Cell::Time(us) => match micros(us) {
                Ok(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                Err(e) => e,
            },
        }
    }
    fn read<T>(self, rule: impl FnOnce(&str) -> Result<T>) -> Result<T> {
        match self {
            Cell::Text(t) => rule(t),
            other => rule(&other.into_text()),
        }
    }
    fn int(self, field: &str) -> Result<i64> {
        match self {
            Cell::Int(i) => Ok(i),
            other => other.read(|v| int(field, v)),
        }
    }
    fn time(self, field: &str) -> Result<DateTime<Utc>> {
        match self {
            Cell::Int(us) | Cell::Time(us) => micros(us).map_err(|e| Error::validation(field, e)),
            Cell::Text(t) => time(field, t),
            Cell::Null => time(field, ""),
        }
    }
}

/// One customers CSV row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CustomerRow<C = String> {
    pub external_id: Option<C>,
    pub kind: Option<C>,
    pub name: Option<C>,
    pub email: Option<C>,
    pub phone: Option<C>,
    pub company: Option<C>,
    pub title: Option<C>,
    pub industry: Option<C>,
    pub country: Option<C>,
    pub region: Option<C>,
    pub city: Option<C>,
    pub postal_code: Option<C>,
    pub street: Option<C>,
    pub birthday: Option<C>,
    pub gender: Option<C>,
    pub tags: Option<C>,
    pub attributes: Option<C>,
    pub consents: Option<C>,
    pub lifecycle: Option<C>,
    pub created_at: Option<C>,
}

/// One orders CSV row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct OrderRow<C = String> {
    pub external_id: Option<C>,
    pub customer_external_id: Option<C>,
    pub customer_id: Option<C>,
    pub occurred_at: Option<C>,
    pub status: Option<C>,
    pub currency: Option<C>,
    pub total_minor: Option<C>,
    pub channel: Option<C>,
    pub items: Option<C>,
}

/// One interactions CSV row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct InteractionRow<C = String> {
    pub external_id: Option<C>,
    pub customer_external_id: Option<C>,
    pub customer_id: Option<C>,
    pub kind: Option<C>,
    pub channel: Option<C>,
    pub direction: Option<C>,
    pub occurred_at: Option<C>,
    pub subject: Option<C>,
    pub body: Option<C>,
    pub score: Option<C>,
    pub payload: Option<C>,
}

/// The all-empty row (derived `Default` would ask for `C: Default`), and the row of one
/// row's cells in the column order of the row type.
macro_rules! from_cells {
    ($row:ident { $($field:ident),* $(,)? }) => {
        impl<C> Default for $row<C> {
            fn default() -> Self {
                $row { $($field: None),* }
            }
        }

        impl<C> $row<C> {
            /// The row of `cells`, one per column in the order of the column list (the
            /// fields' order); each cell is taken, leaving `None`.
            ///
            /// # Panics
            /// When `cells` is shorter than the column list.
            pub(crate) fn from_cells(cells: &mut [Option<C>]) -> Self {
                let mut it = cells.iter_mut();
                $row { $($field: it.next().expect("one cell per column").take()),* }
            }

            /// The row with its null cells as absent ones.
            fn without_nulls(self) -> Self
            where
                C: CellValue,
            {
                $row { $($field: self.$field.filter(|c| !c.is_null())),* }
            }
        }
    };
}

from_cells!(CustomerRow {
    external_id,
    kind,
    name,
    email,
    phone,
    company,
    title,
    industry,
    country,
    region,
    city,
    postal_code,
    street,
    birthday,
    gender,
    tags,
    attributes,
    consents,
    lifecycle,
    created_at,
});
from_cells!(OrderRow {
    external_id,
    customer_external_id,
    customer_id,
    occurred_at,
    status,
    currency,
    total_minor,
    channel,
    items
});
from_cells!(InteractionRow {
    external_id,
    customer_external_id,
    customer_id,
    kind,
    channel,
    direction,
    occurred_at,
    subject,
    body,
    score,
    payload,
});

fn required<C>(field: &str, v: Option<C>) -> Result<C> {
    v.ok_or_else(|| Error::validation(field, "is required"))
}

fn text<C: CellValue>(v: Option<C>) -> Option<String> {
    v.map(C::into_text)
}

fn snake_enum<T: DeserializeOwned>(field: &str, v: &str) -> Result<T> {
    let de: StrDeserializer<'_, ValueError> = v.trim().into_deserializer();
    T::deserialize(de).map_err(|_| Error::validation(field, format!("{v:?} is not a known value")))
}

fn enum_text<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => unreachable!("unit enum variants serialise as strings"),
    }
}

fn time(field: &str, v: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::validation(field, format!("{v:?} is not an RFC 3339 time: {e}")))
}

fn int(field: &str, v: &str) -> Result<i64> {
    v.trim().parse().map_err(|_| Error::validation(field, format!("{v:?} is not an integer")))
}

fn json_cell<T: DeserializeOwned>(field: &str, v: &str) -> Result<T> {
    serde_json::from_str(v)
        .map_err(|e| Error::validation(field, format!("is not valid JSON of the expected shape: {e}")))
}

fn to_json(v: &impl Serialize) -> String {
    serde_json::to_string(v).expect("in-memory values serialise")
}

fn date(v: &str) -> Result<NaiveDate> {
    v.trim().parse::<NaiveDate>().map_err(|_| Error::validation("birthday", format!("{v:?} is not a YYYY-MM-DD date")))
}

fn tags(v: &str) -> Result<std::collections::BTreeSet<String>> {
    Ok(v.split(';').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect())
}

/// A customer from a row of any cell type, null cells being absent (see [`customer_patch`]
/// for the rules of each cell).
pub(crate) fn customer<C: CellValue>(r: CustomerRow<C>) -> Result<NewCustomer> {
    let r = r.without_nulls();
    Ok(NewCustomer {
        external_id: text(r.external_id),
        kind: r.kind.map(|k| k.read(|k| snake_enum("kind", k))).transpose()?,
        name: required("name", r.name)?.into_text(),
        email: text(r.email),
        phone: text(r.phone),
        company: text(r.company),
        title: text(r.title),
        industry: text(r.industry),
        address: Address {
            country: text(r.country),
            region: text(r.region),
            city: text(r.city),
            postal_code: text(r.postal_code),
            street: text(r.street),
        },
        birthday: r.birthday.map(|b| b.read(date)).transpose()?,
        gender: text(r.gender),
        tags: r.tags.map(|t| t.read(tags)).transpose()?.unwrap_or_default(),
        attributes: r.attributes.map(|a| a.read(|a| json_cell("attributes", a))).transpose()?.unwrap_or_default(),
        consents: r.consents.map(|c| c.read(|c| json_cell("consents", c))).transpose()?.unwrap_or_default(),
        lifecycle: r.lifecycle.map(|l| l.read(|l| snake_enum("lifecycle", l))).transpose()?,
        created_at: r.created_at.map(|t| t.time("created_at")).transpose()?,
    })
}

/// A cell of a customer field that can be cleared: absent (`None`), null (`Some(None)`,
/// clears) or a value read by `rule`.
fn nullable<C: CellValue, T>(v: Option<C>, rule: impl FnOnce(C) -> Result<T>) -> Result<Option<Option<T>>> {
    match v {
        None => Ok(None),
        Some(c) if c.is_null() => Ok(Some(None)),
        Some(c) => rule(c).map(|v| Some(Some(v))),
    }
}

/// The changes a customers row makes, from a row of any cell type: the one set of rules
/// for customer cells. A column that is absent changes nothing; a null (empty) cell clears
/// the field, except the fields that cannot be empty (`name`, `kind`, `lifecycle`,
/// `created_at`), which it leaves alone. `tags` (`;`-separated) replaces the whole set;
/// `attributes` and `consents` (JSON objects) merge key by key, as [`CustomerPatch`] does.
pub(crate) fn customer_patch<C: CellValue>(r: CustomerRow<C>) -> Result<CustomerPatch> {
    let address = AddressPatch {
        country: nullable(r.country, |c| Ok(c.into_text()))?,
        region: nullable(r.region, |c| Ok(c.into_text()))?,
        city: nullable(r.city, |c| Ok(c.into_text()))?,
        postal_code: nullable(r.postal_code, |c| Ok(c.into_text()))?,
        street: nullable(r.street, |c| Ok(c.into_text()))?,
    };
    let present = |v: Option<C>| v.filter(|c| !c.is_null());
    Ok(CustomerPatch {
        external_id: nullable(r.external_id, |c| Ok(c.into_text()))?,
        kind: present(r.kind).map(|k| k.read(|k| snake_enum("kind", k))).transpose()?,
        name: present(r.name).map(C::into_text),
        email: nullable(r.email, |c| Ok(c.into_text()))?,
        phone: nullable(r.phone, |c| Ok(c.into_text()))?,
        company: nullable(r.company, |c| Ok(c.into_text()))?,
        title: nullable(r.title, |c| Ok(c.into_text()))?,
        industry: nullable(r.industry, |c| Ok(c.into_text()))?,
        address: (!address.is_empty()).then_some(Some(address)),
        birthday: nullable(r.birthday, |b| b.read(date))?,
        gender: nullable(r.gender, |c| Ok(c.into_text()))?,
        tags: nullable(r.tags, |t| t.read(tags))?.map(Option::unwrap_or_default),
        add_tags: Default::default(),
        remove_tags: Default::default(),
        attributes: nullable(r.attributes, |a| a.read(|a| json_cell("attributes", a)))?,
        consents: nullable(r.consents, |c| c.read(|c| json_cell("consents", c)))?,
        lifecycle: present(r.lifecycle).map(|l| l.read(|l| snake_enum("lifecycle", l))).transpose()?,
        created_at: present(r.created_at).map(|t| t.time("created_at")).transpose()?,
    })
}

impl TryFrom<CustomerRow> for NewCustomer {
    type Error = Error;
    fn try_from(r: CustomerRow) -> Result<NewCustomer> {
        customer(r)
    }
}

impl From<&NewCustomer> for CustomerRow {
    fn from(c: &NewCustomer) -> CustomerRow {
        CustomerRow {
            external_id: c.external_id.clone(),
            kind: c.kind.map(|k| enum_text(&k)),
            name: Some(c.name.clone()),
            email: c.email.clone(),
            phone: c.phone.clone(),
            company: c.company.clone(),
            title: c.title.clone(),
            industry: c.industry.clone(),
            country: c.address.country.clone(),
            region: c.address.region.clone(),
            city: c.address.city.clone(),
            postal_code: c.address.postal_code.clone(),
            street: c.address.street.clone(),
            birthday: c.birthday.map(|b| b.to_string()),
            gender: c.gender.clone(),
            tags: (!c.tags.is_empty()).then(|| c.tags.iter().cloned().collect::<Vec<_>>().join(";")),
            attributes: (!c.attributes.is_empty()).then(|| to_json(&c.attributes)),
            consents: (!c.consents.is_empty()).then(|| to_json(&c.consents)),
            lifecycle: c.lifecycle.map(|l| enum_text(&l)),
            created_at: c.created_at.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }
}

/// An order from a row of any cell type: the one set of rules for order cells.
pub(crate) fn order<C: CellValue>(r: OrderRow<C>) -> Result<NewOrder> {
    let r = r.without_nulls();
    Ok(NewOrder {
        external_id: required("external_id", r.external_id)?.into_text(),
        customer_id: r.customer_id.map(|c| c.int("customer_id").map(CustomerId)).transpose()?,
        customer_external_id: text(r.customer_external_id),
        occurred_at: required("occurred_at", r.occurred_at)?.time("occurred_at")?,
        status: r.status.map(|s| s.read(|s| snake_enum("status", s))).transpose()?,
        currency: required("currency", r.currency)?.read(str::parse)?,
        total_minor: required("total_minor", r.total_minor)?.int("total_minor")?,
        channel: text(r.channel),
        items: r.items.map(|i| i.read(|i| json_cell("items", i))).transpose()?,
    })
}

impl TryFrom<OrderRow> for NewOrder {
    type Error = Error;
    fn try_from(r: OrderRow) -> Result<NewOrder> {
        order(r)
    }
}

impl From<&NewOrder> for OrderRow {
    fn from(o: &NewOrder) -> OrderRow {
        OrderRow {
            external_id: Some(o.external_id.clone()),
            customer_external_id: o.customer_external_id.clone(),
            customer_id: o.customer_id.map(|c| c.0.to_string()),
            occurred_at: Some(o.occurred_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            status: o.status.map(|s| s.as_str().to_owned()),
            currency: Some(o.currency.code().to_owned()),
            total_minor: Some(o.total_minor.to_string()),
            channel: o.channel.clone(),
            items: o.items.as_ref().map(to_json),
        }
    }
}

fn parse_score(v: &str) -> Result<Score> {
    let bad = || Error::validation("score", format!("{v:?} is not csat:N or nps:N"));
    let (kind, n) = v.trim().split_once(':').ok_or_else(bad)?;
    let n: u8 = n.trim().parse().map_err(|_| bad())?;
    match kind.trim() {
        "csat" => Ok(Score::Csat(n)),
        "nps" => Ok(Score::Nps(n)),
        _ => Err(bad()),
    }
}

/// An interaction from a row of any cell type: the one set of rules for interaction cells.
pub(crate) fn interaction<C: CellValue>(r: InteractionRow<C>) -> Result<NewInteraction> {
    let r = r.without_nulls();
    Ok(NewInteraction {
        external_id: text(r.external_id),
        customer_id: r.customer_id.map(|c| c.int("customer_id").map(CustomerId)).transpose()?,
        customer_external_id: text(r.customer_external_id),
        kind: required("kind", r.kind)?.read(|k| snake_enum("kind", k))?,
        channel: text(r.channel),
        direction: r.direction.map(|d| d.read(|d| snake_enum("direction", d))).transpose()?,
        occurred_at: required("occurred_at", r.occurred_at)?.time("occurred_at")?,
        subject: text(r.subject),
        body: text(r.body),
        score: r.score.map(|s| s.read(parse_score)).transpose()?,
        payload: r.payload.map(|p| p.read(|p| json_cell("payload", p))).transpose()?,
    })
}

impl TryFrom<InteractionRow> for NewInteraction {
    type Error = Error;
    fn try_from(r: InteractionRow) -> Result<NewInteraction> {
        interaction(r)
    }
}

impl From<&NewInteraction> for InteractionRow {
    fn from(i: &NewInteraction) -> InteractionRow {
        InteractionRow {
            external_id: i.external_id.clone(),
            customer_external_id: i.customer_external_id.clone(),
            customer_id: i.customer_id.map(|c| c.0.to_string()),
            kind: Some(enum_text(&i.kind)),
            channel: i.channel.clone(),
            direction: i.direction.map(|d| enum_text(&d)),
            occurred_at: Some(i.occurred_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            subject: i.subject.clone(),
            body: i.body.clone(),
            score: i.score.map(|s| match s {
                Score::Csat(n) => format!("csat:{n}"),
                Score::Nps(n) => format!("nps:{n}"),
            }),
            payload: i.payload.as_ref().map(to_json),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of<T: Serialize + Default>() -> Vec<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(T::default()).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        text.lines().next().unwrap().split(',').map(str::to_owned).collect()
    }

    #[test]
    fn row_fields_are_in_column_order() {
        assert_eq!(header_of::<CustomerRow>(), CUSTOMER_COLUMNS);
        assert_eq!(header_of::<OrderRow>(), ORDER_COLUMNS);
        assert_eq!(header_of::<InteractionRow>(), INTERACTION_COLUMNS);
    }

    /// The row `from_cells` builds from cells holding their own column names, as JSON.
    fn named_cells<R: Serialize>(columns: &[&str], from_cells: impl Fn(&mut [Option<String>]) -> R) -> bool {
        let mut cells: Vec<_> = columns.iter().map(|c| Some(c.to_string())).collect();
        let row = serde_json::to_value(from_cells(&mut cells)).unwrap();
        cells.iter().all(Option::is_none) && columns.iter().all(|c| row[c] == *c)
    }

    #[test]
    fn cells_land_in_their_columns() {
        assert!(named_cells(CUSTOMER_COLUMNS, CustomerRow::from_cells));
        assert!(named_cells(ORDER_COLUMNS, OrderRow::from_cells));
        assert!(named_cells(INTERACTION_COLUMNS, InteractionRow::from_cells));
    }

    #[test]
    fn typed_and_text_cells_follow_one_rule() {
        let t = "2026-01-01T00:00:00Z";
        let us = 1_767_225_600_000_000;
        let text = |total: &str, at: &str| OrderRow {
            external_id: Some("O1".to_string()),
            occurred_at: Some(at.to_string()),
            currency: Some("EUR".to_string()),
            total_minor: Some(total.to_string()),
            ..Default::default()
        };
        let typed = |total: Cell<'static>, at: Cell<'static>| OrderRow {
            external_id: Some(Cell::Text("O1")),
            occurred_at: Some(at),
            currency: Some(Cell::Text("EUR")),
            total_minor: Some(total),
            ..Default::default()
        };
        let want = order(text("120", t)).unwrap();
        assert_eq!(order(typed(Cell::Int(120), Cell::Time(us))).unwrap(), want);
        assert_eq!(order(typed(Cell::Text(" 120"), Cell::Text(t))).unwrap(), want);
        assert_eq!(order(typed(Cell::Int(120), Cell::Int(us))).unwrap(), want, "integer times are microseconds");
        // A typed value where text is wanted is printed, then read by the text rule.
        let id = OrderRow { external_id: Some(Cell::Int(7)), ..typed(Cell::Int(1), Cell::Time(us)) };
        assert_eq!(order(id).unwrap().external_id, "7");
        let e = order(typed(Cell::Time(us), Cell::Time(us))).unwrap_err();
        assert_eq!(e.field(), Some("total_minor"));
        assert!(e.to_string().contains("2026-01-01T00:00:00Z"), "{e}");
        let e = order(typed(Cell::Int(1), Cell::Time(i64::MAX))).unwrap_err();
        assert_eq!(e.field(), Some("occurred_at"));
        assert!(e.to_string().contains("out of range"), "{e}");
        let e = order(OrderRow { status: Some(Cell::Text("lost")), ..typed(Cell::Int(1), Cell::Time(us)) });
        assert_eq!(e.unwrap_err().to_string(), r#"invalid status: "lost" is not a known value"#);
    }

    #[test]
    fn rows_refuse_unknown_fields() {
        let e = serde_json::from_str::<OrderRow>(r#"{"external_id":"O1","colour":"red"}"#).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        // Straight from CSV, without the header check of `read`: every row says why.
        let mut r = csv::Reader::from_reader("external_id,name,colour\nC1,Ada,red\n".as_bytes());
        let headers = r.headers().unwrap().clone();
        let rec = r.records().next().unwrap().unwrap();
        let e = rec.deserialize::<CustomerRow>(Some(&headers)).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }
}
