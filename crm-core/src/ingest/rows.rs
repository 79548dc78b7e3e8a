//! Flat CSV rows for customers, orders and interactions: the column layout read by bulk
//! ingest and written by the generator. Nested values travel as JSON text in one cell
//! (`attributes`, `consents`, `items`, `payload`); tags are separated by `;`; a score is
//! `csat:4` or `nps:9`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::{Address, NewCustomer};
use crate::error::{Error, Result};
use crate::interaction::{NewInteraction, Score};
use crate::order::NewOrder;
use crate::CustomerId;

/// Column names accepted in a customers CSV file.
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

/// One customers CSV row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CustomerRow {
    pub external_id: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub industry: Option<String>,
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub street: Option<String>,
    pub birthday: Option<String>,
    pub gender: Option<String>,
    pub tags: Option<String>,
    pub attributes: Option<String>,
    pub consents: Option<String>,
    pub lifecycle: Option<String>,
    pub created_at: Option<String>,
}

/// One orders CSV row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct OrderRow {
    pub external_id: Option<String>,
    pub customer_external_id: Option<String>,
    pub customer_id: Option<String>,
    pub occurred_at: Option<String>,
    pub status: Option<String>,
    pub currency: Option<String>,
    pub total_minor: Option<String>,
    pub channel: Option<String>,
    pub items: Option<String>,
}

/// One interactions CSV row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct InteractionRow {
    pub external_id: Option<String>,
    pub customer_external_id: Option<String>,
    pub customer_id: Option<String>,
    pub kind: Option<String>,
    pub channel: Option<String>,
    pub direction: Option<String>,
    pub occurred_at: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub score: Option<String>,
    pub payload: Option<String>,
}

fn required(field: &str, v: Option<String>) -> Result<String> {
    v.ok_or_else(|| Error::validation(field, "is required"))
}

fn snake_enum<T: serde::de::DeserializeOwned>(field: &str, v: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(v.trim().to_owned()))
        .map_err(|_| Error::validation(field, format!("{v:?} is not a known value")))
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

fn json_cell<T: serde::de::DeserializeOwned>(field: &str, v: &str) -> Result<T> {
    serde_json::from_str(v)
        .map_err(|e| Error::validation(field, format!("is not valid JSON of the expected shape: {e}")))
}

fn to_json(v: &impl Serialize) -> String {
    serde_json::to_string(v).expect("in-memory values serialise")
}

impl TryFrom<CustomerRow> for NewCustomer {
    type Error = Error;
    fn try_from(r: CustomerRow) -> Result<NewCustomer> {
        Ok(NewCustomer {
            external_id: r.external_id,
            kind: r.kind.map(|k| snake_enum("kind", &k)).transpose()?.unwrap_or_default(),
            name: required("name", r.name)?,
            email: r.email,
            phone: r.phone,
            company: r.company,
            title: r.title,
            industry: r.industry,
            address: Address {
                country: r.country,
                region: r.region,
                city: r.city,
                postal_code: r.postal_code,
                street: r.street,
            },
            birthday: r
                .birthday
                .map(|b| {
                    b.trim()
                        .parse::<NaiveDate>()
                        .map_err(|_| Error::validation("birthday", format!("{b:?} is not a YYYY-MM-DD date")))
                })
                .transpose()?,
            gender: r.gender,
            tags: r
                .tags
                .map(|t| t.split(';').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default(),
            attributes: r.attributes.map(|a| json_cell("attributes", &a)).transpose()?.unwrap_or_default(),
            consents: r.consents.map(|c| json_cell("consents", &c)).transpose()?.unwrap_or_default(),
            lifecycle: r.lifecycle.map(|l| snake_enum("lifecycle", &l)).transpose()?,
            created_at: r.created_at.map(|t| time("created_at", &t)).transpose()?,
        })
    }
}

impl From<&NewCustomer> for CustomerRow {
    fn from(c: &NewCustomer) -> CustomerRow {
        CustomerRow {
            external_id: c.external_id.clone(),
            kind: Some(enum_text(&c.kind)),
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
            created_at: c.created_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        }
    }
}

impl TryFrom<OrderRow> for NewOrder {
    type Error = Error;
    fn try_from(r: OrderRow) -> Result<NewOrder> {
        Ok(NewOrder {
            external_id: required("external_id", r.external_id)?,
            customer_id: r.customer_id.map(|c| int("customer_id", &c).map(CustomerId)).transpose()?,
            customer_external_id: r.customer_external_id,
            occurred_at: time("occurred_at", &required("occurred_at", r.occurred_at)?)?,
            status: r.status.map(|s| snake_enum("status", &s)).transpose()?.unwrap_or_default(),
            currency: required("currency", r.currency)?.parse()?,
            total_minor: int("total_minor", &required("total_minor", r.total_minor)?)?,
            channel: r.channel,
            items: r.items.map(|i| json_cell("items", &i)).transpose()?.unwrap_or_default(),
        })
    }
}

impl From<&NewOrder> for OrderRow {
    fn from(o: &NewOrder) -> OrderRow {
        OrderRow {
            external_id: Some(o.external_id.clone()),
            customer_external_id: o.customer_external_id.clone(),
            customer_id: o.customer_id.map(|c| c.0.to_string()),
            occurred_at: Some(o.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            status: Some(o.status.as_str().to_owned()),
            currency: Some(o.currency.code().to_owned()),
            total_minor: Some(o.total_minor.to_string()),
            channel: o.channel.clone(),
            items: (!o.items.is_empty()).then(|| to_json(&o.items)),
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

impl TryFrom<InteractionRow> for NewInteraction {
    type Error = Error;
    fn try_from(r: InteractionRow) -> Result<NewInteraction> {
        Ok(NewInteraction {
            external_id: r.external_id,
            customer_id: r.customer_id.map(|c| int("customer_id", &c).map(CustomerId)).transpose()?,
            customer_external_id: r.customer_external_id,
            kind: snake_enum("kind", &required("kind", r.kind)?)?,
            channel: r.channel,
            direction: r.direction.map(|d| snake_enum("direction", &d)).transpose()?,
            occurred_at: time("occurred_at", &required("occurred_at", r.occurred_at)?)?,
            subject: r.subject,
            body: r.body,
            score: r.score.map(|s| parse_score(&s)).transpose()?,
            payload: r.payload.map(|p| json_cell("payload", &p)).transpose()?,
        })
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
            occurred_at: Some(i.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
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
}
