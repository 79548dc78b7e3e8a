//! Helpers shared by the integration tests.

use std::collections::BTreeMap;

use crm_core::store::prelude::*;
use crm_core::{Crm, CustomerId, CustomerStats, Money, OrderStatus, TimelineEntry};

/// Statistics recomputed from the customer's stored orders and interactions (read through
/// the timeline, which does not look at the statistics tables).
pub fn recomputed_stats<S: Store>(crm: &Crm<S>, id: CustomerId) -> CustomerStats {
    let mut s = CustomerStats { customer_id: id, ..Default::default() };
    let mut spend: BTreeMap<&str, i64> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = crm.timeline(id, 500, cursor.as_deref()).unwrap();
        for e in &page.items {
            match e {
                TimelineEntry::Order(o) if o.status == OrderStatus::Completed => {
                    s.order_count += 1;
                    s.first_order_at = Some(s.first_order_at.map_or(o.occurred_at, |t| t.min(o.occurred_at)));
                    s.last_order_at = Some(s.last_order_at.map_or(o.occurred_at, |t| t.max(o.occurred_at)));
                    *spend.entry(o.total.currency.code()).or_default() += o.total.minor;
                }
                TimelineEntry::Order(_) => {}
                TimelineEntry::Interaction(i) => {
                    s.interaction_count += 1;
                    s.last_interaction_at = Some(s.last_interaction_at.map_or(i.occurred_at, |t| t.max(i.occurred_at)));
                }
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    s.total_spent =
        spend.into_iter().filter(|(_, m)| *m != 0).map(|(k, m)| Money::new(m, k.parse().unwrap())).collect();
    s
}
