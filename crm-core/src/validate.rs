//! Input validation and normalisation. Every write passes through here before the
//! store sees it, so a failure leaves nothing written.
//!
//! Event times are checked against the wall clock: no earlier than `min_time` and no more
//! than `max_future_secs` ahead of now, so replaying data stamped in the future fails.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use unicode_normalization::UnicodeNormalization;

use crate::customer::{Address, AddressPatch, Consent, CustomerPatch, NewCustomer};
use crate::error::{Error, Result};
use crate::interaction::{NewInteraction, Score};
use crate::money::MAX_MINOR;
use crate::order::{LineItem, NewOrder, OrderPatch, Refund, RefundLine};

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
    /// Earliest accepted event time (1900 or later).
    pub min_time: DateTime<Utc>,
    /// How far into the future an event time may lie (clock skew between hosts), in seconds.
    pub max_future_secs: i64,
    /// How far ahead a forecast may look (such as
    /// [`Crm::expire_points_dry_run`](crate::Crm::expire_points_dry_run)), in days.
    pub max_forecast_days: i64,
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
            max_forecast_days: 3_650,
        }
    }
}

/// Largest [`ValidationConfig::max_future_secs`]: a year.
pub const MAX_FUTURE_SECS: i64 = 366 * 86_400;
/// Largest [`ValidationConfig::max_forecast_days`]: a century.
pub const MAX_FORECAST_DAYS: i64 = 36_525;

/// A [`CustomerPatch`] whose values passed [`Validator::customer_patch`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckedPatch {
    pub(crate) patch: CustomerPatch,
    /// The patch's phone is still the caller's text: it has no `+` country code and the
    /// patch sends no country, so it is read once the customer's country is known.
    pub(crate) phone_pending: bool,
}

/// Applies a [`ValidationConfig`].
#[derive(Debug, Clone)]
pub struct Validator {
    cfg: ValidationConfig,
    region: Option<phonenumber::country::Id>,
    phones: phones::Phones,
    /// Validators for other threads, kept between calls (see [`Validator::take_lanes`]);
    /// shared by the copies of this validator.
    lanes: std::sync::Arc<std::sync::Mutex<Vec<Validator>>>,
}

/// A time for a message: RFC 3339 to the second, UTC (`2026-12-07T22:50:49Z`).
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Truncates a time to whole microseconds, the precision the store keeps, so that
/// what a write returns equals what a later read returns.
/// The transaction time: one per public call, truncated to what the store keeps.
pub(crate) fn now() -> DateTime<Utc> {
    to_micros(Utc::now())
}

pub(crate) fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// The one normalisation of an external id (a customer's, an order's, an interaction's, a
/// `customer_external_id` reference, and every lookup by external id), so that one key
/// spelled two ways by two systems is one key:
///
/// 1. Unicode NFC: a composed `é` and an `e` followed by a combining accent are one key.
/// 2. Leading and trailing characters that cannot be seen are removed: Unicode White_Space
///    (spaces, tabs, line breaks, NBSP U+00A0, ...) and Default_Ignorable_Code_Point
///    characters (zero-width space U+200B, ZWNJ U+200C, ZWJ U+200D, direction marks,
///    word joiner U+2060, BOM U+FEFF, soft hyphen U+00AD, variation selectors, ...), which
///    spreadsheets and copied text leave behind.
/// 3. A control character (U+0000 to U+001F, U+007F to U+009F) left inside is refused:
///    it is a broken export, not a key. Invisible characters inside are kept, since
///    ZWNJ and ZWJ spell words in some scripts.
/// 4. The result must not be empty, and at most `max_len` bytes long (the
///    [`ValidationConfig::max_id_len`] of the store).
///
/// Errors are [`Error::Validation`] on `field`.
///
/// ```
/// use crm_core::validate::normalize_external_id;
/// assert_eq!(normalize_external_id("external_id", " C-1\u{200b}\u{a0}", 128).unwrap(), "C-1");
/// assert_eq!(normalize_external_id("external_id", "Cafe\u{301}", 128).unwrap(), "Caf\u{e9}");
/// assert!(normalize_external_id("external_id", "C\u{0}1", 128).is_err());
/// assert!(normalize_external_id("external_id", "\u{feff} ", 128).is_err());
/// ```
pub fn normalize_external_id(field: &str, value: &str, max_len: usize) -> Result<String> {
    // Most ids are printable ASCII without surrounding spaces: nothing to do but copy.
    let plain = |v: &str| v.bytes().all(|b| (0x21..0x7f).contains(&b));
    let v = if plain(value) {
        value.to_owned()
    } else {
        let nfc: String = match unicode_normalization::is_nfc_quick(value.chars()) {
            unicode_normalization::IsNormalized::Yes => value.to_owned(),
            _ => value.nfc().collect(),
        };
        let trimmed = nfc.trim_matches(|c: char| c.is_whitespace() || is_default_ignorable(c));
        if let Some(c) = trimmed.chars().find(|c| c.is_control()) {
            return Err(Error::validation(field, format!("contains the control character U+{:04X}", c as u32)));
        }
        trimmed.to_owned()
    };
    if v.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    if v.len() > max_len {
        return Err(Error::validation(field, format!("is {} bytes long; the limit is {max_len}", v.len())));
    }
    Ok(v)
}

/// Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt, stable
/// since Unicode 4.0 save for additions in unassigned ranges that it already covers):
/// characters that render as nothing. No crate we already use exposes it.
fn is_default_ignorable(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

impl Validator {
    /// Builds a validator, checking the configuration itself.
    pub fn new(cfg: ValidationConfig) -> Result<Validator> {
        // Time bounds are added to the clock on every check: out-of-range settings would
        // overflow the date arithmetic instead of bounding anything.
        if !(0..=MAX_FUTURE_SECS).contains(&cfg.max_future_secs) {
            return Err(Error::validation(
                "max_future_secs",
                format!("{} is outside 0 ..= {MAX_FUTURE_SECS} (a year)", cfg.max_future_secs),
            ));
        }
        if !(0..=MAX_FORECAST_DAYS).contains(&cfg.max_forecast_days) {
            return Err(Error::validation(
                "max_forecast_days",
                format!("{} is outside 0 ..= {MAX_FORECAST_DAYS} (a century)", cfg.max_forecast_days),
            ));
        }
        let earliest = Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap();
        if cfg.min_time < earliest || cfg.min_time > Utc::now() {
            return Err(Error::validation(
                "min_time",
                format!("{} is not between {} and now", rfc3339(cfg.min_time), rfc3339(earliest)),
            ));
        }
        let region = match &cfg.default_region {
            Some(r) => Some(parse_region(r).map_err(|_| {
                Error::validation("default_region", format!("{r:?} is not an ISO 3166-1 alpha-2 region"))
            })?),
            None => None,
        };
        Ok(Validator { cfg, region, phones: phones::Phones::default(), lanes: Default::default() })
    }

    /// `n` validators with this one's rules for validating on other threads at the same
    /// time: each with phone metadata of its own (see [`phones::Phones::own`]), taken from
    /// those kept by [`give_lanes`](Self::give_lanes) or new.
    pub(crate) fn take_lanes(&self, n: usize) -> Vec<Validator> {
        let mut kept = self.lanes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let have = n.min(kept.len());
        let mut lanes: Vec<Validator> = kept.drain(..have).collect();
        lanes.resize_with(n, || self.independent());
        lanes
    }

    /// A validator with the same rules for validating on another thread at the same time as
    /// this one: phone numbers are checked against metadata of its own (built on its first
    /// phone number, about 60 ms and 2 MB, and freed with it). Validators that share the
    /// metadata (every [`Validator::new`] while one is alive, and their clones) check phone
    /// numbers one at a time, whatever the thread: the regex cache of the phonenumber crate
    /// is held for each match.
    ///
    /// ```
    /// use crm_core::validate::{ValidationConfig, Validator};
    /// use crm_core::NewCustomer;
    /// let v = Validator::new(ValidationConfig::default()).unwrap();
    /// let rows: Vec<NewCustomer> = (0..4)
    ///     .map(|i| NewCustomer { name: format!("N{i}"), phone: Some(format!("+1 415 555 26{i:02}")), ..Default::default() })
    ///     .collect();
    /// let (a, b) = rows.split_at(2);
    /// let other = v.independent();
    /// let checked = std::thread::scope(|s| {
    ///     let there = s.spawn(|| b.iter().map(|c| other.customer(c)).collect::<Vec<_>>());
    ///     let mut here: Vec<_> = a.iter().map(|c| v.customer(c)).collect();
    ///     here.extend(there.join().unwrap());
    ///     here
    /// });
    /// assert_eq!(checked[3].as_ref().unwrap().phone.as_deref(), Some("+14155552603"));
    /// ```
    pub fn independent(&self) -> Validator {
        Validator {
            cfg: self.cfg.clone(),
            region: self.region,
            phones: phones::Phones::own(),
            lanes: Default::default(),
        }
    }

    /// Keeps lanes for the next [`take_lanes`](Self::take_lanes), so that their metadata
    /// is built once per handle; freed with the validator.
    pub(crate) fn give_lanes(&self, lanes: Vec<Validator>) {
        self.lanes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(lanes);
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

    /// An external id, normalised by [`normalize_external_id`] and within the id limit.
    pub(crate) fn external_id(&self, field: &str, value: &str) -> Result<String> {
        normalize_external_id(field, value, self.cfg.max_id_len)
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

    /// A phone number normalised to E.164 (`+14155550123`). A number written without a `+`
    /// country code is read as a number of `country` (the ISO 3166-1 code on the same
    /// customer record, already checked by [`Validator::country`]) or, when the record has
    /// no country, of the configured default region.
    pub(crate) fn phone(&self, value: Option<&str>, country: Option<&str>) -> Result<Option<String>> {
        let Some(v) = self.opt("phone", value, 64)? else { return Ok(None) };
        let region = match country {
            // A number with its country code needs no region, and giving one costs the
            // parser a look at that region's international prefix (more regexes per row).
            _ if v.starts_with('+') => None,
            Some(c) => Some(parse_region(c).map_err(|_| {
                Error::validation("address.country", format!("{c:?} is not an ISO 3166-1 alpha-2 country code"))
            })?),
            None => self.region,
        };
        let bad = || {
            let hint = match (region, country) {
                _ if v.starts_with('+') => String::new(),
                (None, _) => " (no country code, and neither a country on the record nor a default region)".into(),
                (Some(_), Some(c)) => format!(" (read as a number of the record's country {c})"),
                (Some(r), None) => format!(" (read as a number of the default region {r:?})"),
            };
            Error::validation("phone", format!("{v:?} is not a valid phone number{hint}"))
        };
        self.phones.e164(region, &v).map(Some).ok_or_else(bad)
    }

    /// A country: ISO 3166-1 alpha-2, upper-cased.
    pub(crate) fn country(&self, value: Option<&str>) -> Result<Option<String>> {
        let Some(v) = self.opt("address.country", value, self.cfg.max_short_len)? else { return Ok(None) };
        let up = v.to_ascii_uppercase();
        parse_region(&up).map_err(|_| {
            Error::validation(
                "address.country",
                format!("{} is not an ISO 3166-1 alpha-2 country code (such as \"SG\")", crate::error::quoted(&v)),
            )
        })?;
        Ok(Some(up))
    }

    /// An event time: within `[min_time, now + max_future_secs]`, truncated to microseconds.
    pub(crate) fn time(&self, field: &str, t: DateTime<Utc>) -> Result<DateTime<Utc>> {
        self.between(field, t, chrono::Duration::seconds(self.cfg.max_future_secs), "")
    }

    /// A time a forecast looks at: within `[min_time, now + max_forecast_days]`.
    pub(crate) fn forecast_time(&self, field: &str, t: DateTime<Utc>) -> Result<DateTime<Utc>> {
        self.between(field, t, chrono::Duration::days(self.cfg.max_forecast_days), " (max_forecast_days ahead)")
    }

    /// `t` within `[min_time, now + ahead]`, truncated to microseconds.
    fn between(&self, field: &str, t: DateTime<Utc>, ahead: chrono::Duration, why: &str) -> Result<DateTime<Utc>> {
        let max = Utc::now() + ahead;
        if t < self.cfg.min_time || t > max {
            return Err(Error::validation(
                field,
                format!(
                    "{} is outside the accepted range {} .. {}{why}",
                    rfc3339(t),
                    rfc3339(self.cfg.min_time),
                    rfc3339(max)
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
                let purpose = self.required("consents", purpose)?;
                let consent = self.consent(&purpose, consent)?;
                Ok((purpose, consent))
            })
            .collect()
    }

    fn consent(&self, purpose: &str, c: &Consent) -> Result<Consent> {
        Ok(Consent {
            granted: c.granted,
            at: self.time(&format!("consents.{purpose}.at"), c.at)?,
            source: self.short(&format!("consents.{purpose}.source"), c.source.as_deref())?,
        })
    }

    /// Validates and normalises a new customer.
    pub fn customer(&self, c: &NewCustomer) -> Result<NewCustomer> {
        self.attributes(&c.attributes)?;
        let address = self.address(&c.address)?;
        Ok(NewCustomer {
            external_id: self.opt_external_id("external_id", c.external_id.as_deref())?,
            kind: c.kind,
            name: self.required("name", &c.name)?,
            email: self.email(c.email.as_deref())?,
            phone: self.phone(c.phone.as_deref(), address.country.as_deref())?,
            company: self.short("company", c.company.as_deref())?,
            title: self.short("title", c.title.as_deref())?,
            industry: self.short("industry", c.industry.as_deref())?,
            address,
            birthday: self.birthday(c.birthday)?,
            gender: self.short("gender", c.gender.as_deref())?,
            tags: self.tags(&c.tags)?,
            attributes: c.attributes.clone(),
            consents: self.consents(&c.consents)?,
            lifecycle: c.lifecycle,
            created_at: c.created_at.map(|t| self.time("created_at", t)).transpose()?,
        })
    }

    /// Validates and normalises each value a patch sends. What depends on the stored
    /// customer is checked by [`Validator::finish_customer`] once the patch is applied.
    pub(crate) fn customer_patch(&self, p: &CustomerPatch) -> Result<CheckedPatch> {
        type Nullable<T> = Option<Option<T>>;
        let short = |field: &str, v: &Nullable<String>| -> Result<Nullable<String>> {
            v.as_ref().map(|v| self.short(field, v.as_deref())).transpose()
        };
        let address = match &p.address {
            Some(Some(a)) => Some(Some(AddressPatch {
                country: a.country.as_ref().map(|c| self.country(c.as_deref())).transpose()?,
                region: short("address.region", &a.region)?,
                city: short("address.city", &a.city)?,
                postal_code: short("address.postal_code", &a.postal_code)?,
                street: short("address.street", &a.street)?,
            })),
            other => other.clone(),
        };
        // The country the patch sends, if it sends one (`Some(None)`: it clears it).
        let country: Option<Option<&str>> = match &address {
            None => None,
            Some(None) => Some(None),
            Some(Some(a)) => a.country.as_ref().map(|c| c.as_deref()),
        };
        let mut phone_pending = false;
        let phone = match (&p.phone, country) {
            (Some(Some(v)), None) if !v.trim_start().starts_with('+') => {
                phone_pending = true;
                Some(Some(v.clone()))
            }
            (Some(v), country) => Some(self.phone(v.as_deref(), country.flatten())?),
            (None, _) => None,
        };
        let attributes = match &p.attributes {
            Some(Some(a)) => {
                self.attributes(a)?;
                Some(Some(a.clone()))
            }
            other => other.clone(),
        };
        let consents = match &p.consents {
            Some(Some(c)) => Some(Some(
                c.iter()
                    .map(|(purpose, consent)| {
                        let purpose = self.required("consents", purpose)?;
                        let consent = match consent {
                            Some(c) => Some(self.consent(&purpose, c)?),
                            None => None,
                        };
                        Ok((purpose, consent))
                    })
                    .collect::<Result<_>>()?,
            )),
            other => other.clone(),
        };
        let patch = CustomerPatch {
            external_id: p
                .external_id
                .as_ref()
                .map(|e| self.opt_external_id("external_id", e.as_deref()))
                .transpose()?,
            kind: p.kind,
            name: p.name.as_deref().map(|n| self.required("name", n)).transpose()?,
            email: p.email.as_ref().map(|e| self.email(e.as_deref())).transpose()?,
            phone,
            company: short("company", &p.company)?,
            title: short("title", &p.title)?,
            industry: short("industry", &p.industry)?,
            address,
            birthday: p.birthday.map(|b| self.birthday(b)).transpose()?,
            gender: short("gender", &p.gender)?,
            tags: p.tags.as_ref().map(|t| self.tags(t)).transpose()?,
            add_tags: p.add_tags.iter().map(|t| self.required("tags", t)).collect::<Result<_>>()?,
            remove_tags: p.remove_tags.iter().map(|t| t.trim().to_owned()).collect(),
            attributes,
            consents,
            lifecycle: p.lifecycle,
            created_at: p.created_at.map(|t| self.time("created_at", t)).transpose()?,
        };
        Ok(CheckedPatch { patch, phone_pending })
    }

    /// The checks a customer needs once a checked patch is applied to it (by
    /// `crm::apply_patch`): a name, a pending phone read with the customer's country as it
    /// now is, and the limits on tags and attributes, which merging can exceed.
    pub(crate) fn finish_customer(&self, c: &mut NewCustomer, phone_pending: bool, merged: bool) -> Result<()> {
        if c.name.is_empty() {
            return Err(Error::validation("name", "is required to create a customer"));
        }
        if phone_pending {
            c.phone = self.phone(c.phone.as_deref(), c.address.country.as_deref())?;
        }
        if c.tags.len() > self.cfg.max_tags {
            return Err(Error::validation(
                "tags",
                format!("{} tags; the limit is {}", c.tags.len(), self.cfg.max_tags),
            ));
        }
        if merged {
            self.json_size("attributes", &c.attributes)?;
        }
        Ok(())
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
        Ok(NewOrder {
            external_id: self.external_id("external_id", &o.external_id)?,
            customer_id: o.customer_id,
            customer_external_id: self.opt_external_id("customer_external_id", o.customer_external_id.as_deref())?,
            occurred_at: self.time("occurred_at", o.occurred_at)?,
            status: o.status,
            currency: o.currency,
            total_minor: self.amount("total_minor", o.total_minor)?,
            channel: self.short("channel", o.channel.as_deref())?,
            items: o.items.as_deref().map(|items| self.items(items)).transpose()?,
        })
    }

    /// Validates and normalises a partial update of an order.
    pub fn order_patch(&self, p: &OrderPatch) -> Result<OrderPatch> {
        Ok(OrderPatch {
            customer_id: p.customer_id,
            customer_external_id: self.opt_external_id("customer_external_id", p.customer_external_id.as_deref())?,
            occurred_at: p.occurred_at.map(|t| self.time("occurred_at", t)).transpose()?,
            status: p.status,
            currency: p.currency,
            total_minor: p.total_minor.map(|m| self.amount("total_minor", m)).transpose()?,
            channel: p.channel.as_ref().map(|c| self.short("channel", c.as_deref())).transpose()?,
            items: p.items.as_deref().map(|items| self.items(items)).transpose()?,
        })
    }

    /// Validates a refund (what it refunds is checked against the order by the caller).
    pub fn refund(&self, r: &Refund) -> Result<Refund> {
        idempotency_key("key", &r.key)?;
        let key = r.key.as_str();
        if r.amount_minor.is_none() && r.lines.is_empty() {
            return Err(Error::validation("amount_minor", "a refund needs an amount or lines"));
        }
        if let Some(m) = r.amount_minor {
            if !(1..=MAX_MINOR).contains(&m) {
                return Err(Error::validation("amount_minor", format!("{m} is outside 1 ..= {MAX_MINOR} minor units")));
            }
        }
        if r.lines.len() > self.cfg.max_items {
            return Err(Error::validation(
                "lines",
                format!("{} lines; the limit is {}", r.lines.len(), self.cfg.max_items),
            ));
        }
        let mut lines: Vec<RefundLine> = Vec::with_capacity(r.lines.len());
        for (n, l) in r.lines.iter().enumerate() {
            let sku = self.required(&format!("lines[{n}].sku"), &l.sku)?;
            if lines.iter().any(|x| x.sku == sku) {
                return Err(Error::validation(format!("lines[{n}].sku"), format!("{sku:?} is listed twice")));
            }
            if !(1..=MAX_QUANTITY).contains(&l.quantity) {
                return Err(Error::validation(
                    format!("lines[{n}].quantity"),
                    format!("{} is outside 1 ..= {MAX_QUANTITY}", l.quantity),
                ));
            }
            lines.push(RefundLine { sku, quantity: l.quantity });
        }
        Ok(Refund {
            key: key.to_owned(),
            amount_minor: r.amount_minor,
            lines,
            at: r.at.map(|t| self.time("at", t)).transpose()?,
        })
    }

    fn items(&self, items: &[LineItem]) -> Result<Vec<LineItem>> {
        if items.len() > self.cfg.max_items {
            return Err(Error::validation(
                "items",
                format!("{} line items; the limit is {}", items.len(), self.cfg.max_items),
            ));
        }
        let mut out = Vec::with_capacity(items.len());
        for (n, it) in items.iter().enumerate() {
            if !(1..=MAX_QUANTITY).contains(&it.quantity) {
                return Err(Error::validation(
                    format!("items[{n}].quantity"),
                    format!("{} is outside 1 ..= {MAX_QUANTITY}", it.quantity),
                ));
            }
            let unit = self.amount(&format!("items[{n}].unit_price_minor"), it.unit_price_minor)?;
            if unit.checked_mul(it.quantity).is_none_or(|t| t > MAX_MINOR) {
                return Err(Error::validation(format!("items[{n}]"), "quantity times unit price is out of range"));
            }
            out.push(LineItem {
                sku: self.required(&format!("items[{n}].sku"), &it.sku)?,
                category: self.short(&format!("items[{n}].category"), it.category.as_deref())?,
                quantity: it.quantity,
                unit_price_minor: unit,
            });
        }
        Ok(out)
    }
}

/// Most units of one line item.
pub const MAX_QUANTITY: i64 = 1_000_000;

/// Longest idempotency key (of a loyalty entry, a refund), in bytes.
pub const MAX_KEY_LEN: usize = 256;

/// An idempotency key: 1 to [`MAX_KEY_LEN`] bytes, not blank, without control characters,
/// kept as given (a key is the caller's, compared byte for byte).
pub(crate) fn idempotency_key(field: &str, key: &str) -> Result<()> {
    if key.trim().is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            format!("{}: 1 to {MAX_KEY_LEN} bytes, not blank, without control characters", crate::error::quoted(key)),
        ));
    }
    Ok(())
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
        assert_eq!(v(None).phone(Some("+1 (415) 555-2671"), None).unwrap().unwrap(), "+14155552671");
        assert_eq!(v(Some("SG")).phone(Some("9123 4567"), None).unwrap().unwrap(), "+6591234567");
        let e = v(None).phone(Some("9123 4567"), None).unwrap_err();
        assert!(e.to_string().contains("nor a default region"), "{e}");
        assert!(v(None).phone(Some("+1 123"), None).is_err());
        assert!(Validator::new(ValidationConfig { default_region: Some("XX".into()), ..Default::default() }).is_err());
    }

    #[test]
    fn a_national_number_is_read_with_the_records_country_first() {
        // The record's country wins over the default region, which is the fallback.
        assert_eq!(v(None).phone(Some("9123 4567"), Some("SG")).unwrap().unwrap(), "+6591234567");
        assert_eq!(v(Some("US")).phone(Some("9123 4567"), Some("SG")).unwrap().unwrap(), "+6591234567");
        assert_eq!(v(Some("SG")).phone(Some("9123 4567"), None).unwrap().unwrap(), "+6591234567");
        assert_eq!(v(Some("SG")).phone(Some("020 7946 0958"), Some("GB")).unwrap().unwrap(), "+442079460958");
        // libphonenumber finds no British number in 9123 4567: refused, naming the region used.
        let e = v(Some("SG")).phone(Some("9123 4567"), Some("GB")).unwrap_err();
        assert_eq!(e.field(), Some("phone"));
        assert!(e.to_string().contains("record's country GB"), "{e}");
        // A number with its country code ignores the record's country.
        assert_eq!(v(None).phone(Some("+65 9123 4567"), Some("GB")).unwrap().unwrap(), "+6591234567");
    }

    #[test]
    fn external_ids_have_one_normal_form() {
        let n = |s: &str| normalize_external_id("external_id", s, 16);
        for spelling in ["C-1", " C-1 ", "C-1\u{200b}", "\u{feff}C-1", "C-1\u{a0}", "\u{2060}C-1\u{200d}\t", "C-1\r\n"]
        {
            assert_eq!(n(spelling).unwrap(), "C-1", "{spelling:?}");
        }
        assert_eq!(n("M\u{fc}ller").unwrap(), n("Mu\u{308}ller").unwrap(), "NFC: one key for both spellings");
        assert_eq!(n("A B").unwrap(), "A B", "spaces inside are part of the key");
        for (bad, why) in [("C\u{0}1", "U+0000"), ("C\n1", "U+000A"), ("C\u{85}1", "U+0085"), (" \u{200b} ", "empty")] {
            let e = n(bad).unwrap_err();
            assert_eq!(e.field(), Some("external_id"));
            assert!(e.to_string().contains(why), "{bad:?}: {e}");
        }
        assert!(n(&"x".repeat(17)).unwrap_err().to_string().contains("limit is 16"));
        assert_eq!(n(&format!("{}\u{200b}", "x".repeat(16))).unwrap().len(), 16, "the limit applies after trimming");
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
