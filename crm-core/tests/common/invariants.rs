//! The invariants every committed state keeps, checked through the public API. Shared by the
//! crash tests (tests/crash.rs) and the soak (benches/soak.rs), for stores whose records are
//! never deleted or merged (each check says where that matters).

use std::collections::{BTreeSet, HashMap};

use crm_core::changes::{Entity, Op};
use crm_core::{Crm, CustomerId, CustomerQuery};

/// What a check saw, for the caller's own checks.
#[derive(Debug, Default)]
pub struct Census {
    /// Every customer, ascending by id.
    pub customers: Vec<CustomerId>,
    /// Orders stored.
    pub orders: usize,
    /// The sum of every customer's points balance.
    pub points: i64,
    /// The replay of the feed's enter and leave entries: members per (entity, id).
    pub members: HashMap<(Entity, i64), BTreeSet<i64>>,
    /// The last sequence number of the feed.
    pub last_seq: i64,
}

/// Checks, naming the first broken one in the error:
///
/// - each customer's statistics equal a recomputation from its orders and interactions
///   (read through the timeline, which does not look at the statistics), and so do the
///   purchase summaries read from the period states;
/// - each ledger's balance is the sum of its entries, and its unexpired lots hold exactly the
///   spendable part;
/// - the change feed is contiguous (1, 2, 3, ...), has one insert entry per stored customer
///   and order (no record is deleted or merged away where this is called), and its enter
///   and leave entries replay without contradiction.
pub fn check_invariants(crm: &Crm) -> Result<Census, String> {
    let mut census = Census::default();
    let mut q = CustomerQuery { limit: 10_000, ..Default::default() };
    loop {
        let page = crm.query_customers(&q).map_err(|e| format!("query_customers: {e}"))?;
        census.customers.extend(page.items.iter().map(|c| c.id));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    let counts = crm.counts().map_err(|e| format!("counts: {e}"))?;
    if counts.customers as usize != census.customers.len() {
        return Err(format!("counts() says {} customers, the listing {}", counts.customers, census.customers.len()));
    }
    census.orders = counts.orders as usize;
    for id in &census.customers {
        let stats = crm.customer_stats(*id).map_err(|e| format!("customer_stats({id}): {e}"))?;
        let want = super::recomputed_stats(crm, *id);
        if stats != want {
            return Err(format!("statistics of customer {id}: stored {stats:?}, recomputed {want:?}"));
        }
        let s = crm.points_statement(*id).map_err(|e| format!("points_statement({id}): {e}"))?;
        let sum: i64 = s.entries.iter().map(|e| e.points).sum();
        if s.balance.balance != sum {
            return Err(format!("ledger of customer {id}: balance {} but entries sum to {sum}", s.balance.balance));
        }
        let held: i64 = s.lots.iter().filter(|l| !l.expired).map(|l| l.remaining).sum();
        if held != sum.max(0) {
            return Err(format!("ledger of customer {id}: lots hold {held} of a balance of {sum}"));
        }
        census.points += sum;
    }

    super::check_summaries_replay(crm)?;

    let mut inserted: HashMap<Entity, BTreeSet<i64>> = HashMap::new();
    loop {
        let page = crm.changes_since(census.last_seq, 10_000).map_err(|e| format!("changes_since: {e}"))?;
        if page.is_empty() {
            break;
        }
        for c in page {
            if c.seq != census.last_seq + 1 {
                return Err(format!("the feed skips from {} to {}", census.last_seq, c.seq));
            }
            census.last_seq = c.seq;
            let fine = match c.op {
                Op::Insert => inserted.entry(c.entity).or_default().insert(c.id),
                Op::Enter => census.members.entry((c.entity, c.id)).or_default().insert(c.ref_id.unwrap_or(-1)),
                Op::Leave => census.members.entry((c.entity, c.id)).or_default().remove(&c.ref_id.unwrap_or(-1)),
                Op::Update | Op::Delete => true,
            };
            if !fine {
                return Err(format!("feed entry {c:?} contradicts the ones before it"));
            }
        }
    }
    let stored: BTreeSet<i64> = census.customers.iter().map(|c| c.0).collect();
    if inserted.remove(&Entity::Customer).unwrap_or_default() != stored {
        return Err("the feed's customer inserts are not the customers stored".into());
    }
    let orders = inserted.get(&Entity::Order).map_or(0, BTreeSet::len);
    if orders != census.orders {
        return Err(format!("the feed has {orders} order inserts for {} orders stored", census.orders));
    }
    Ok(census)
}
