//! Customer queries: filters, sort orders and opaque keyset cursors.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::{CustomerKind, LifecycleStage};
use crate::error::{Error, Result};

/// Conditions a customer must all meet. Empty means every customer.
/// (The segmentation rule language covers anything richer.)
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CustomerFilter {
    /// Person or company.
    pub kind: Option<CustomerKind>,
    /// Country code (case-insensitive).
    pub country: Option<String>,
    /// City (exact).
    pub city: Option<String>,
    /// Lifecycle stage.
    pub lifecycle: Option<LifecycleStage>,
    /// Tags the customer must all carry.
    pub tags: BTreeSet<String>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
    /// At least this many completed orders.
    pub min_orders: Option<i64>,
    /// At most this many completed orders.
    pub max_orders: Option<i64>,
    /// Latest completed order at or after.
    pub last_order_from: Option<DateTime<Utc>>,
    /// Latest completed order before.
    pub last_order_to: Option<DateTime<Utc>>,
}

/// What to sort customers by. Ties are broken by id, so paging is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Store id.
    #[default]
    Id,
    /// Name (binary order).
    Name,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Latest completed order (customers without orders sort first ascending).
    LastOrderAt,
    /// Number of completed orders.
    OrderCount,
}

impl SortKey {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SortKey::Id => "id",
            SortKey::Name => "name",
            SortKey::CreatedAt => "created_at",
            SortKey::UpdatedAt => "updated_at",
            SortKey::LastOrderAt => "last_order_at",
            SortKey::OrderCount => "order_count",
        }
    }
}

/// A customer query: filter, sort, page size and the cursor from the previous page.
///
/// ```
/// let q: crm_core::CustomerQuery = serde_json::from_str(
///     r#"{"filter":{"country":"SG","min_orders":2},"sort":"last_order_at","descending":true,"limit":50}"#).unwrap();
/// assert_eq!(q.limit, 50);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CustomerQuery {
    /// Conditions.
    pub filter: CustomerFilter,
    /// Sort key.
    pub sort: SortKey,
    /// Largest first.
    pub descending: bool,
    /// Page size, 1 to [`MAX_PAGE`].
    pub limit: usize,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Largest page a query returns.
pub const MAX_PAGE: usize = 10_000;

impl Default for CustomerQuery {
    fn default() -> Self {
        CustomerQuery {
            filter: CustomerFilter::default(),
            sort: SortKey::Id,
            descending: false,
            limit: 100,
            cursor: None,
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The records.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The sort value of the last row of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    /// Integer keys (ids, counts, times in microseconds).
    Int(i64),
    /// Text keys.
    Text(String),
}

/// Where the next page starts: after this (value, id) in sort order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Sort value of the last row returned.
    pub value: SortValue,
    /// Id of the last row returned.
    pub id: i64,
}

impl Cursor {
    pub(crate) fn encode(&self, sort: SortKey, descending: bool) -> String {
        let dir = if descending { 'd' } else { 'a' };
        match &self.value {
            SortValue::Int(v) => format!("{}.{dir}.{}.i.{v}", sort.as_str(), self.id),
            SortValue::Text(v) => format!("{}.{dir}.{}.t.{v}", sort.as_str(), self.id),
        }
    }

    pub(crate) fn decode(text: &str, sort: SortKey, descending: bool) -> Result<Cursor> {
        let bad = || {
            Error::validation(
                "cursor",
                format!("{text:?} is not a cursor of this query (sort {}, descending {descending})", sort.as_str()),
            )
        };
        let mut parts = text.splitn(5, '.');
        let (Some(key), Some(dir), Some(id), Some(kind), Some(value)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if key != sort.as_str() || dir != if descending { "d" } else { "a" } {
            return Err(bad());
        }
        let id = id.parse().map_err(|_| bad())?;
        let value = match kind {
            "i" => SortValue::Int(value.parse().map_err(|_| bad())?),
            "t" => SortValue::Text(value.to_owned()),
            _ => return Err(bad()),
        };
        Ok(Cursor { value, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_mismatch() {
        let c = Cursor { value: SortValue::Text("a.b.c".into()), id: 7 };
        let s = c.encode(SortKey::Name, true);
        assert_eq!(Cursor::decode(&s, SortKey::Name, true).unwrap(), c);
        assert!(Cursor::decode(&s, SortKey::Name, false).is_err());
        assert!(Cursor::decode(&s, SortKey::Id, true).is_err());
        assert!(Cursor::decode("garbage", SortKey::Id, false).is_err());
    }
}
