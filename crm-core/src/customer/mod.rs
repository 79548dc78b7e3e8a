//! Customers: profile, tags, custom attributes, consents, lifecycle stage, and the
//! per-customer statistics kept up to date by every write that changes them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Money;

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

/// Input for creating (or upserting) a customer. Every field but `name` is optional.
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
    /// The host system's key. Upserting twice with the same key stores one customer.
    pub external_id: Option<String>,
    /// Person or company.
    pub kind: CustomerKind,
    /// Display name (required, non-empty).
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

/// A partial update. Absent fields are left alone; for nullable fields `Some(None)`
/// (JSON `null`) clears the value. Attributes are merged key by key, a `null` value
/// removing the key; tags can be replaced whole or added and removed.
///
/// ```
/// let p: crm_core::CustomerPatch = serde_json::from_str(
///     r#"{"email":null,"add_tags":["vip"],"attributes":{"plan":"gold"}}"#).unwrap();
/// assert_eq!(p.email, Some(None));
/// assert!(p.phone.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CustomerPatch {
    /// New external id (or `null` to remove it).
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
    /// New phone.
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
    /// New address (replaces the whole address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// New birthday.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub birthday: Option<Option<NaiveDate>>,
    /// New gender.
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub gender: Option<Option<String>>,
    /// Replace all tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeSet<String>>,
    /// Tags to add (after `tags`).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub add_tags: BTreeSet<String>,
    /// Tags to remove (after `add_tags`).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub remove_tags: BTreeSet<String>,
    /// Attributes to merge; a `null` value removes the key.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Consents to set, by purpose.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub consents: BTreeMap<String, Consent>,
    /// New lifecycle stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<LifecycleStage>,
}

pub(crate) fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
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
