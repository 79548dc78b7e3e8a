//! Input validation and normalisation. Every write passes through here before the
//! store sees it, so a failure leaves nothing written.
//!
//! Event times are checked against the wall clock: no earlier than `min_time` and no more
//! than `max_future_secs` ahead of now, so replaying data stamped in the future fails.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::customer::{Address, Consent, NewCustomer};
use crate::error::{Error, Result};
use crate::interaction::{NewInteraction, Score};
use crate::money::MAX_MINOR;
use crate::order::NewOrder;

mod phones;

/// Limits and defaults applied to every input. The defaults suit most hosts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ValidationConfig {
    /// ISO 3166-1 region used to read phone numbers written without a `+` country code.
    pub default_region: Option<String>,
    /// Longest external id, in bytes.
    pub max_id_len: usize,
    /// Longest short text field (name, company, city, tag, sku, ...), in bytes.
    pub max_short_len: usize,
    /// Longest interaction body, in bytes. (A subject may be four times `max_short_len`.)
    pub max_text_len: usize,
    /// Largest custom-attribute object or interaction payload, serialised as JSON, in bytes.
    pub max_json_bytes: usize,
    /// Most tags on one customer.
    pub max_tags: usize,
    /// Most line items in one order.
    pub max_items: usize,
    /// Earliest accepted event time.
    pub min_time: DateTime<Utc>,
    /// How far into the future an event time may lie (clock skew between hosts), in seconds.
    pub max_future_secs: i64,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            default_region: None,
            max_id_len: 128,
            max_short_len: 256,
            max_text_len: 65_536,
            max_json_bytes: 16_384,
            max_tags: 100,
            max_items: 1_000,
            min_time: Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            max_future_secs: 86_400,
        }
    }
}

/// Applies a [`ValidationConfig`].
#[derive(Debug, Clone)]
pub struct Validator {
    cfg: ValidationConfig,
    region: Option<phonenumber::country::Id>,
    phones: phones::Phones,
}

/// Truncates a time to whole microseconds, the precision the store keeps, so that
/// what a write returns equals what a later read returns.
pub(crate) fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

impl Validator {
    /// Builds a validator, checking the configuration itself.
    pub fn new(cfg: ValidationConfig) -> Result<Validator> {
        let region = match &cfg.default_region {
            Some(r) => Some(parse_region(r).map_err(|_| {
                Error::validation("default_region", format!("{r:?} is not an ISO 3166-1 alpha-2 region"))
            })?),
            None => None,
        };
        Ok(Validator { cfg, region, phones: phones::Phones::default() })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ValidationConfig {
        &self.cfg
    }

    fn text(&self, field: &str, value: &str, max: usize) -> Result<String> {
        let v = value.trim();
        if v.len() > max {
            return Err(Error::validation(field, format!("is {} bytes long; the limit is {max}", v.len())));
        }
        if v.chars().any(|c| c == '\0') {
            return Err(Error::validation(field, "contains a NUL character"));
        }
        Ok(v.to_owned())
    }

    /// A required short text: trimmed, non-empty, within the limit.
    pub(crate) fn required(&self, field: &str, value: &str) -> Result<String> {
        let v = self.text(field, value, self.cfg.max_short_len)?;
        if v.is_empty() {
            return Err(Error::validation(field, "must not be empty"));
        }
        Ok(v)
    }

    /// An optional short text: trimmed; empty becomes absent.
    pub(crate) fn short(&self, field: &str, value: Option<&str>) -> Result<Option<String>> {
        self.opt(field, value, self.cfg.max_short_len)
    }

    fn opt(&self, field: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
        match value {
            None => Ok(None),
            Some(v) => {
                let v = self.text(field, v, max)?;
                Ok(if v.is_empty() { None } else { Some(v) })
            }
        }
    }

    /// An external id: non-empty, within the id limit, no surrounding spaces kept.
    pub(crate) fn external_id(&self, field: &str, value: &str) -> Result<String> {
        let v = self.text(field, value, self.cfg.max_id_len)?;
        if v.is_empty() {
            return Err(Error::validation(field, "must not be empty"));
        }
        Ok(v)
    }

    pub(crate) fn opt_external_id(&self, field: &str, value: Option<&str>) -> Result<Option<String>> {
        value.map(|v| self.external_id(field, v)).transpose()
    }

    /// An email address, checked for RFC 5322 syntax and lower-cased.
    pub(crate) fn email(&self, value: Option<&str>) -> Result<Option<String>> {
        let Some(v) = self.opt("email", value, 254)? else { return Ok(None) };
        if !v.contains('@')
            || !email_address::EmailAddress::is_valid(&v)
            || !v.rsplit('@').next().is_some_and(|d| d.contains('.'))
        {
            return Err(Error::validation("email", format!("{v:?} is not a valid email address")));
        }
        Ok(Some(v.to_lowercase()))
    }

    /// A phone number normalised to E.164 (`+14155550123`).
    pub(crate) fn phone(&self, value: Option<&str>) -> Result<Option<String>> {
        let Some(v) = self.opt("phone", value, 64)? else { return Ok(None) };
        let bad = || {
            let hint = if self.region.is_none() && !v.starts_with('+') {
                " (no country code, and no default region is configured)"
            } else {
                ""
            };
            Error::validation("phone", format!("{v:?} is not a valid phone number{hint}"))
        };
        self.phones.e164(self.region, &v).map(Some).ok_or_else(bad)
    }

    /// A country: ISO 3166-1 alpha-2, upper-cased.
    pub(crate) fn country(&self, value: Option<&str>) -> Result<Option<String>> {
        let Some(v) = self.opt("address.country", value, 8)? else { return Ok(None) };
        let up = v.to_ascii_uppercase();
        parse_region(&up).map_err(|_| {
            Error::validation("address.country", format!("{v:?} is not an ISO 3166-1 alpha-2 country code"))
        })?;
        Ok(Some(up))
    }

    /// An event time: within `[min_time, now + max_future_secs]`, truncated to microseconds.
    pub(crate) fn time(&self, field: &str, t: DateTime<Utc>) -> Result<DateTime<Utc>> {
        let max = Utc::now() + chrono::Duration::seconds(self.cfg.max_future_secs);
        if t < self.cfg.min_time || t > max {
            return Err(Error::validation(
                field,
                format!(
                    "{} is outside the accepted range {} .. {}",
                    t.to_rfc3339(),
                    self.cfg.min_time.to_rfc3339(),
                    max.to_rfc3339()
                ),
            ));
        }
        Ok(to_micros(t))
    }

    /// A money amount in minor units: non-negative and at most [`MAX_MINOR`].
    pub(crate) fn amount(&self, field: &str, minor: i64) -> Result<i64> {
        if !(0..=MAX_MINOR).contains(&minor) {
            return Err(Error::validation(field, format!("{minor} is outside 0 ..= {MAX_MINOR} minor units")));
        }
        Ok(minor)
    }

    fn json_size(&self, field: &str, v: &impl serde::Serialize) -> Result<()> {
        let n = serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX);
        if n > self.cfg.max_json_bytes {
            return Err(Error::validation(
                field,
                format!("is {n} bytes as JSON; the limit is {}", self.cfg.max_json_bytes),
            ));
        }
        Ok(())
    }

    pub(crate) fn attributes(&self, attrs: &serde_json::Map<String, serde_json::Value>) -> Result<()> {
        for k in attrs.keys() {
            if k.is_empty() || k.len() > self.cfg.max_short_len {
                return Err(Error::validation(
                    "attributes",
                    format!("key {k:?} must be 1 to {} bytes", self.cfg.max_short_len),
                ));
            }
        }
        self.json_size("attributes", attrs)
    }

    pub(crate) fn tags<'a>(
        &self,
        tags: impl IntoIterator<Item = &'a String>,
    ) -> Result<std::collections::BTreeSet<String>> {
        let mut out = std::collections::BTreeSet::new();
        for t in tags {
            out.insert(self.required("tags", t)?);
        }
        if out.len() > self.cfg.max_tags {
            return Err(Error::validation("tags", format!("{} tags; the limit is {}", out.len(), self.cfg.max_tags)));
        }
        Ok(out)
    }

    pub(crate) fn address(&self, a: &Address) -> Result<Address> {
        Ok(Address {
            country: self.country(a.country.as_deref())?,
            region: self.short("address.region", a.region.as_deref())?,
            city: self.short("address.city", a.city.as_deref())?,
            postal_code: self.short("address.postal_code", a.postal_code.as_deref())?,
            street: self.short("address.street", a.street.as_deref())?,
        })
    }

    pub(crate) fn birthday(&self, b: Option<NaiveDate>) -> Result<Option<NaiveDate>> {
        if let Some(d) = b {
            let min = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
            if d < min || d > Utc::now().date_naive() {
                return Err(Error::validation("birthday", format!("{d} is not between 1900-01-01 and today")));
            }
        }
        Ok(b)
    }

    pub(crate) fn consents(
        &self,
        c: &std::collections::BTreeMap<String, Consent>,
    ) -> Result<std::collections::BTreeMap<String, Consent>> {
        c.iter()
            .map(|(purpose, consent)| {
                Ok((
                    self.required("consents", purpose)?,
                    Consent {
                        granted: consent.granted,
                        at: self.time(&format!("consents.{purpose}.at"), consent.at)?,
                        source: self.short(&format!("consents.{purpose}.source"), consent.source.as_deref())?,
                    },
                ))
            })
            .collect()
    }

    /// Validates and normalises a new customer.
    pub fn customer(&self, c: &NewCustomer) -> Result<NewCustomer> {
        self.attributes(&c.attributes)?;
        Ok(NewCustomer {
            external_id: self.opt_external_id("external_id", c.external_id.as_deref())?,
            kind: c.kind,
            name: self.required("name", &c.name)?,
            email: self.email(c.email.as_deref())?,
            phone: self.phone(c.phone.as_deref())?,
            company: self.short("company", c.company.as_deref())?,
            title: self.short("title", c.title.as_deref())?,
            industry: self.short("industry", c.industry.as_deref())?,
            address: self.address(&c.address)?,
            birthday: self.birthday(c.birthday)?,
            gender: self.short("gender", c.gender.as_deref())?,
            tags: self.tags(&c.tags)?,
            attributes: c.attributes.clone(),
            consents: self.consents(&c.consents)?,
            lifecycle: c.lifecycle,
            created_at: c.created_at.map(|t| self.time("created_at", t)).transpose()?,
        })
    }

    /// Validates and normalises a new interaction (the customer reference is checked by the caller).
    pub fn interaction(&self, i: &NewInteraction) -> Result<NewInteraction> {
        match i.score {
            Some(Score::Csat(s)) if !(1..=5).contains(&s) => {
                return Err(Error::validation("score", format!("CSAT {s} is outside 1 ..= 5")))
            }
            Some(Score::Nps(s)) if s > 10 => {
                return Err(Error::validation("score", format!("NPS {s} is outside 0 ..= 10")))
            }
            _ => {}
        }
        if let Some(p) = &i.payload {
            self.json_size("payload", p)?;
        }
        Ok(NewInteraction {
            external_id: self.opt_external_id("external_id", i.external_id.as_deref())?,
            customer_id: i.customer_id,
            customer_external_id: self.opt_external_id("customer_external_id", i.customer_external_id.as_deref())?,
            kind: i.kind,
            channel: self.short("channel", i.channel.as_deref())?,
            direction: i.direction,
            occurred_at: self.time("occurred_at", i.occurred_at)?,
            subject: self.opt("subject", i.subject.as_deref(), self.cfg.max_short_len * 4)?,
            body: self.opt("body", i.body.as_deref(), self.cfg.max_text_len)?,
            score: i.score,
            payload: i.payload.clone(),
        })
    }

    /// Validates and normalises a new order (the customer reference is checked by the caller).
    pub fn order(&self, o: &NewOrder) -> Result<NewOrder> {
        if o.items.len() > self.cfg.max_items {
            return Err(Error::validation(
                "items",
                format!("{} line items; the limit is {}", o.items.len(), self.cfg.max_items),
            ));
        }
        let mut items = Vec::with_capacity(o.items.len());
        for (n, it) in o.items.iter().enumerate() {
            if !(1..=1_000_000).contains(&it.quantity) {
                return Err(Error::validation(
                    format!("items[{n}].quantity"),
                    format!("{} is outside 1 ..= 1000000", it.quantity),
                ));
            }
            let unit = self.amount(&format!("items[{n}].unit_price_minor"), it.unit_price_minor)?;
            if unit.checked_mul(it.quantity).is_none_or(|t| t > MAX_MINOR) {
                return Err(Error::validation(format!("items[{n}]"), "quantity times unit price is out of range"));
            }
            items.push(crate::order::LineItem {
                sku: self.required(&format!("items[{n}].sku"), &it.sku)?,
                category: self.short(&format!("items[{n}].category"), it.category.as_deref())?,
                quantity: it.quantity,
                unit_price_minor: unit,
            });
        }
        Ok(NewOrder {
            external_id: self.external_id("external_id", &o.external_id)?,
            customer_id: o.customer_id,
            customer_external_id: self.opt_external_id("customer_external_id", o.customer_external_id.as_deref())?,
            occurred_at: self.time("occurred_at", o.occurred_at)?,
            status: o.status,
            currency: o.currency,
            total_minor: self.amount("total_minor", o.total_minor)?,
            channel: self.short("channel", o.channel.as_deref())?,
            items,
        })
    }
}

fn parse_region(s: &str) -> std::result::Result<phonenumber::country::Id, ()> {
    if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(());
    }
    phonenumber::country::Id::from_str(s).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(region: Option<&str>) -> Validator {
        Validator::new(ValidationConfig { default_region: region.map(str::to_owned), ..Default::default() }).unwrap()
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(v(None).phone(Some("+1 (415) 555-2671")).unwrap().unwrap(), "+14155552671");
        assert_eq!(v(Some("SG")).phone(Some("9123 4567")).unwrap().unwrap(), "+6591234567");
        let e = v(None).phone(Some("9123 4567")).unwrap_err();
        assert!(e.to_string().contains("no default region"), "{e}");
        assert!(v(None).phone(Some("+1 123")).is_err());
        assert!(Validator::new(ValidationConfig { default_region: Some("XX".into()), ..Default::default() }).is_err());
    }

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(v(None).email(Some(" Ada@Example.COM ")).unwrap().unwrap(), "ada@example.com");
        for bad in ["ada", "ada@", "@example.com", "a b@example.com", "ada@localhost"] {
            assert_eq!(v(None).email(Some(bad)).unwrap_err().field(), Some("email"), "{bad}");
        }
        assert_eq!(v(None).email(Some("  ")).unwrap(), None);
    }

    #[test]
    fn countries_and_times() {
        assert_eq!(v(None).country(Some("sg")).unwrap().unwrap(), "SG");
        assert!(v(None).country(Some("ZZ")).is_err());
        assert!(v(None).country(Some("SGP")).is_err());
        let old = Utc.with_ymd_and_hms(1969, 12, 31, 0, 0, 0).unwrap();
        assert!(v(None).time("occurred_at", old).is_err());
        assert!(v(None).time("occurred_at", Utc::now() + chrono::Duration::days(3)).is_err());
    }
}
