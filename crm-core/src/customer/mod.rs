//! Customers: profile, tags, custom attributes, consents, lifecycle stage, and the
//! per-customer statistics kept up to date by every write that changes them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Money;

pub mod query;
mod store;

pub use store::{CustomerStore, CustomerStoreMut};

/// Store-assigned customer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct CustomerId(pub i64);

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A person or a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CustomerKind {
    /// An individual.
    #[default]
    Person,
    /// An organisation.
    Company,
}

/// Where a customer is in their relationship with the business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStage {
    /// Known, has not bought yet.
    #[default]
    Prospect,
    /// Recently made a first purchase.
    New,
    /// Buying regularly.
    Active,
    /// Buying often and for long.
    Loyal,
    /// Buying less than their rhythm suggests.
    AtRisk,
    /// Has stopped buying.
    Churned,
    /// Came back after churning.
    WonBack,
}

/// Postal address. `country` is an ISO 3166-1 alpha-2 code.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Address {
    /// ISO 3166-1 alpha-2 country code, upper case (`"SG"`).
    pub country: Option<String>,
    /// State, province or region.
    pub region: Option<String>,
    /// City or town.
    pub city: Option<String>,
    /// Postal or ZIP code.
    pub postal_code: Option<String>,
    /// Street and house number.
    pub street: Option<String>,
}

/// A customer's answer for one consent purpose (`"email_marketing"`, `"profiling"`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// Whether the customer agreed.
    pub granted: bool,
    /// When the answer was given.
    pub at: DateTime<Utc>,
    /// Where it was collected (web form, call, ...).
    #[serde(default)]
    pub source: Option<String>,
}

/// A stored customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Store-assigned id.
    pub id: CustomerId,
    /// The host system's key; unique when present.
    pub external_id: Option<String>,
    /// Person or company.
    pub kind: CustomerKind,
    /// Display name.
    pub name: String,
    /// Email address (validated and lower-cased).
    pub email: Option<String>,
    /// Phone number in E.164 form (`+6591234567`).
    pub phone: Option<String>,
    /// Company the person works for (or the company's legal name).
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Postal address.
    pub address: Address,
    /// Date of birth.
    pub birthday: Option<NaiveDate>,
    /// Gender as the host records it.
    pub gender: Option<String>,
    /// Free-form labels.
    pub tags: BTreeSet<String>,
    /// Custom fields: a JSON object.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Consents by purpose.
    pub consents: BTreeMap<String, Consent>,
    /// Lifecycle stage.
    pub lifecycle: LifecycleStage,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
    /// Set when this record was merged into another during de-duplication.
    pub merged_into: Option<CustomerId>,
}

/// The fields of a customer that identity resolution compares, read without the rest
/// (tags, attributes, consents) by [`CustomerStore::identity_fields`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IdentityFields {
    /// Store-assigned id.
    pub id: CustomerId,
    /// Person or company.
    pub kind: CustomerKind,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone number in E.164 form.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Postal address.
    pub address: Address,
    /// Date of birth.
    pub birthday: Option<NaiveDate>,
}

impl From<&Customer> for IdentityFields {
    fn from(c: &Customer) -> IdentityFields {
        IdentityFields {
            id: c.id,
            kind: c.kind,
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            company: c.company.clone(),
            address: c.address.clone(),
            birthday: c.birthday,
        }
    }
}

/// Input for creating (or upserting) a customer. Every field but `name` is optional.
///
/// Upserted with [`Crm::upsert_customer`](crate::Crm::upsert_customer) (a merge), a field
/// that is `None` or an empty collection (and an empty `name`) counts as not sent: the
/// stored value is kept. To clear a field through an upsert, send a [`CustomerPatch`] with
/// [`Crm::upsert_customer_patch`](crate::Crm::upsert_customer_patch); to replace the whole
/// profile, use [`UpsertMode::Replace`].
///
/// ```
/// let c: crm_core::NewCustomer = serde_json::from_str(
///     r#"{"external_id":"C-1","name":"Ada Lovelace","email":"ada@example.com"}"#).unwrap();
/// assert_eq!(c.name, "Ada Lovelace");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct NewCustomer {
    /// The host system's key (see [`normalize_external_id`](crate::validate::normalize_external_id)).
    /// Upserting twice with the same key stores one customer.
    pub external_id: Option<String>,
    /// Person or company; `person` for a new customer, unchanged on a merge upsert when absent.
    pub kind: Option<CustomerKind>,
    /// Display name (required to create a customer; empty on a merge upsert keeps the stored name).
    pub name: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone number in any common notation; stored as E.164.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Postal address.
    pub address: Address,
    /// Date of birth.
    pub birthday: Option<NaiveDate>,
    /// Gender.
    pub gender: Option<String>,
    /// Labels.
    pub tags: BTreeSet<String>,
    /// Custom fields.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Consents by purpose.
    pub consents: BTreeMap<String, Consent>,
    /// Lifecycle stage; `prospect` for a new customer, unchanged on upsert when absent.
    pub lifecycle: Option<LifecycleStage>,
    /// Creation time as the host knows it; now for a new customer, unchanged on upsert when absent.
    pub created_at: Option<DateTime<Utc>>,
}

/// A set of changes to a customer, in the shape of JSON Merge Patch (RFC 7396): a field
/// that is absent (`None`) is left alone, and for nullable fields `Some(None)` (JSON
/// `null`) clears the value. Objects merge member by member: `address` per part,
/// `attributes` per key (a `null` value removes the key), `consents` per purpose (a `null`
/// value removes the purpose); `null` for the whole object clears it. `tags` replaces the
/// whole set when sent (`null` or `[]` clears it); `add_tags` and `remove_tags` then edit
/// it. `name`, `kind`, `lifecycle` and `created_at` cannot be empty: `null` leaves them
/// as they are.
///
/// It is what [`Crm::update_customer`](crate::Crm::update_customer) applies to a customer,
/// and what [`Crm::upsert_customer_patch`](crate::Crm::upsert_customer_patch) (the JSON
/// upsert of C and Python, and bulk ingest) applies to the customer with its `external_id`,
/// or creates one from (`name` is then required).
///
/// ```
/// let p: crm_core::CustomerPatch = serde_json::from_str(
///     r#"{"email":null,"add_tags":["vip"],"attributes":{"plan":"gold"},"address":{"city":null}}"#).unwrap();
/// assert_eq!(p.email, Some(None));
/// assert!(p.phone.is_none());
/// assert_eq!(p.address.unwrap().unwrap().city, Some(None));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CustomerPatch {
    /// The external id: on an upsert the key (required); on an update a new key (or `null`
    /// to remove it).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Option<String>>,
    /// New kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<CustomerKind>,
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New email.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub email: Option<Option<String>>,
    /// New phone. A number without a `+` country code is read as a number of the
    /// customer's country after this change (sent here, else stored), else of the default region.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub phone: Option<Option<String>>,
    /// New company.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub company: Option<Option<String>>,
    /// New title.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub title: Option<Option<String>>,
    /// New industry.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub industry: Option<Option<String>>,
    /// Address parts to change (merged part by part), or `null` to clear the whole address.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub address: Option<Option<AddressPatch>>,
    /// New birthday.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub birthday: Option<Option<NaiveDate>>,
    /// New gender.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub gender: Option<Option<String>>,
    /// Replace all tags (`null` or `[]`: no tags).
    #[serde(deserialize_with = "null_as_empty", skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeSet<String>>,
    /// Tags to add (after `tags`).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub add_tags: BTreeSet<String>,
    /// Tags to remove (after `add_tags`).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub remove_tags: BTreeSet<String>,
    /// Attributes to merge, a `null` value removing the key; or `null` to remove them all.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Option<serde_json::Map<String, serde_json::Value>>>,
    /// Consents to set by purpose, a `null` value removing the purpose; or `null` to remove them all.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub consents: Option<Option<BTreeMap<String, Option<Consent>>>>,
    /// New lifecycle stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<LifecycleStage>,
    /// Creation time as the host knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
}

/// Changes to an address, part by part, as in [`CustomerPatch`]: `None` leaves a part
/// alone, `Some(None)` (JSON `null`) clears it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AddressPatch {
    /// ISO 3166-1 alpha-2 country code.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub country: Option<Option<String>>,
    /// State, province or region.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub region: Option<Option<String>>,
    /// City or town.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub city: Option<Option<String>>,
    /// Postal or ZIP code.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<Option<String>>,
    /// Street and house number.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub street: Option<Option<String>>,
}

impl AddressPatch {
    /// Whether no part is sent.
    pub fn is_empty(&self) -> bool {
        *self == AddressPatch::default()
    }
}

impl From<Address> for AddressPatch {
    /// The parts of `a` that are present, as changes; absent parts are left alone.
    fn from(a: Address) -> AddressPatch {
        AddressPatch {
            country: a.country.map(Some),
            region: a.region.map(Some),
            city: a.city.map(Some),
            postal_code: a.postal_code.map(Some),
            street: a.street.map(Some),
        }
    }
}

impl From<NewCustomer> for CustomerPatch {
    /// The changes a merge upsert of `c` makes: every field that is `None` or an empty
    /// collection (and an empty `name`) is not sent.
    fn from(c: NewCustomer) -> CustomerPatch {
        let address = AddressPatch::from(c.address);
        CustomerPatch {
            external_id: c.external_id.map(Some),
            kind: c.kind,
            name: (!c.name.is_empty()).then_some(c.name),
            email: c.email.map(Some),
            phone: c.phone.map(Some),
            company: c.company.map(Some),
            title: c.title.map(Some),
            industry: c.industry.map(Some),
            address: (!address.is_empty()).then_some(Some(address)),
            birthday: c.birthday.map(Some),
            gender: c.gender.map(Some),
            tags: (!c.tags.is_empty()).then_some(c.tags),
            add_tags: BTreeSet::new(),
            remove_tags: BTreeSet::new(),
            attributes: (!c.attributes.is_empty()).then_some(Some(c.attributes)),
            consents: (!c.consents.is_empty())
                .then(|| Some(c.consents.into_iter().map(|(k, v)| (k, Some(v))).collect())),
            lifecycle: c.lifecycle,
            created_at: c.created_at,
        }
    }
}

impl From<&NewCustomer> for CustomerPatch {
    /// As `From<NewCustomer>`, from a borrowed customer.
    fn from(c: &NewCustomer) -> CustomerPatch {
        CustomerPatch::from(c.clone())
    }
}

/// How an upsert treats a customer that exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpsertMode {
    /// The input is merged into the stored profile: what it does not send is kept, what it
    /// sends as null is cleared (see [`CustomerPatch`]).
    #[default]
    Merge,
    /// The input replaces the whole profile: what it does not send is cleared, except the
    /// lifecycle stage and the creation time, which are kept when absent.
    Replace,
}

pub(crate) fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A collection sent as `null` is sent empty.
fn null_as_empty<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de> + Default,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(|v| Some(v.unwrap_or_default()))
}

/// Per-customer statistics, maintained in the same transaction as every write that
/// changes them. Only orders with status `completed` count towards order figures.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomerStats {
    /// The customer.
    pub customer_id: CustomerId,
    /// Number of completed orders.
    pub order_count: i64,
    /// Time of the first completed order.
    pub first_order_at: Option<DateTime<Utc>>,
    /// Time of the latest completed order.
    pub last_order_at: Option<DateTime<Utc>>,
    /// Sum of completed order totals, one entry per currency, sorted by currency code.
    pub total_spent: Vec<Money>,
    /// Number of interactions.
    pub interaction_count: i64,
    /// Time of the latest interaction.
    pub last_interaction_at: Option<DateTime<Utc>>,
}

/// A customer's RFM values and scores, as stored by the last refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmScore {
    /// The customer.
    pub customer_id: CustomerId,
    /// Whole days from the last completed order to the as-of time.
    pub recency_days: i64,
    /// Completed orders up to the as-of time.
    pub frequency: i64,
    /// Spend in the model's currency, minor units.
    pub monetary_minor: i64,
    /// Recency score, 1 (longest ago) to 5 (most recent).
    pub r: u8,
    /// Frequency score, 1 to 5.
    pub f: u8,
    /// Monetary score, 1 to 5.
    pub m: u8,
    /// The named segment (`Champions`, `At Risk`, ...).
    pub segment: String,
}

impl RfmScore {
    /// The three scores as one number, `r * 100 + f * 10 + m` (`555` is best); `rfm.score` in rules.
    ///
    /// ```
    /// use crm_core::segment::rfm::RfmScore;
    /// use crm_core::CustomerId;
    /// let s = RfmScore { customer_id: CustomerId(1), recency_days: 3, frequency: 9, monetary_minor: 90_000,
    ///     r: 5, f: 4, m: 5, segment: "Champions".into() };
    /// assert_eq!(s.code(), 545);
    /// ```
    pub fn code(&self) -> i64 {
        i64::from(self.r) * 100 + i64::from(self.f) * 10 + i64::from(self.m)
    }
}
