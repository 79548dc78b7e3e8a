//! Item-to-item recommendations from co-purchases, and category affinity.
//!
//! Each customer is the set of distinct SKUs of their completed orders (all currencies). Two
//! SKUs are similar by the cosine of their customer-incidence vectors: customers who bought
//! both over the square root of the product of their buyer counts. To bound the pair counting
//! (quadratic in a customer's items), only the `max_items_per_customer` SKUs each customer
//! bought most recently are paired (50 by default: 1,225 pairs at most per customer); item
//! buyer counts use the same capped sets. Memory is one counter per distinct co-bought pair
//! plus the kept neighbour lists.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::customer::CustomerId;
use crate::error::{Error, Result};
use crate::money::Currency;

/// Settings of a co-purchase model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CoPurchaseOptions {
    /// SKUs per customer taken into the pair counting (the most recently bought), 2 ..= 1000.
    pub max_items_per_customer: usize,
    /// Neighbours kept per SKU, 1 ..= 1000.
    pub neighbors: usize,
    /// Fewest customers who bought both for a pair to count (noise floor), at least 1.
    pub min_customers: u32,
}

impl Default for CoPurchaseOptions {
    fn default() -> Self {
        CoPurchaseOptions { max_items_per_customer: 50, neighbors: 50, min_customers: 1 }
    }
}

impl CoPurchaseOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        if !(2..=1000).contains(&self.max_items_per_customer) {
            return Err(Error::validation(
                "max_items_per_customer",
                format!("{} is outside 2 ..= 1000", self.max_items_per_customer),
            ));
        }
        if !(1..=1000).contains(&self.neighbors) {
            return Err(Error::validation("neighbors", format!("{} is outside 1 ..= 1000", self.neighbors)));
        }
        if self.min_customers == 0 {
            return Err(Error::validation("min_customers", "must be at least 1"));
        }
        Ok(())
    }
}

/// A SKU similar to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarItem {
    /// The similar SKU.
    pub sku: String,
    /// Cosine similarity in `(0, 1]`.
    pub similarity: f64,
    /// Customers who bought both.
    pub customers: u32,
}

/// A recommended SKU for a customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The SKU.
    pub sku: String,
    /// Sum of its similarities to the SKUs the customer bought.
    pub score: f64,
}

/// Co-purchase similarities between SKUs, built by [`Crm::co_purchase_model`](crate::Crm::co_purchase_model).
#[derive(Debug, Clone, PartialEq)]
pub struct CoPurchaseModel {
    skus: Vec<String>,
    buyers: Vec<u32>,
    /// Per SKU: (neighbour SKU, cosine, customers who bought both), most similar first.
    neighbors: Vec<Vec<(u32, f64, u32)>>,
    index: HashMap<String, u32>,
    customers: u64,
}

impl CoPurchaseModel {
    /// Number of SKUs seen.
    pub fn len(&self) -> usize {
        self.skus.len()
    }

    /// Whether no SKU was seen.
    pub fn is_empty(&self) -> bool {
        self.skus.is_empty()
    }

    /// Number of customers counted.
    pub fn customers(&self) -> u64 {
        self.customers
    }

    /// Customers who bought `sku` (within the per-customer cap), or `None` for an unknown SKU.
    pub fn buyers(&self, sku: &str) -> Option<u32> {
        self.id(sku).map(|i| self.buyers[i as usize])
    }

    fn id(&self, sku: &str) -> Option<u32> {
        self.index.get(sku).copied()
    }

    /// "Customers who bought `sku` also bought": the `k` most similar SKUs, most similar first
    /// (ties: more common buyers, then SKU).
    pub fn similar_items(&self, sku: &str, k: usize) -> Result<Vec<SimilarItem>> {
        check_k(k)?;
        let i = self.id(sku).ok_or_else(|| Error::validation("sku", format!("{sku:?} is in no completed order")))?;
        Ok(self.neighbors[i as usize]
            .iter()
            .take(k)
            .map(|&(j, s, c)| SimilarItem { sku: self.skus[j as usize].clone(), similarity: s, customers: c })
            .collect())
    }

    /// The `k` best SKUs for a customer who owns `owned`, leaving out what they own: each
    /// candidate scores the sum of its similarities to the owned SKUs. Unknown owned SKUs are
    /// skipped; an empty list comes back when nothing is similar.
    pub fn recommend<S: AsRef<str>>(&self, owned: &[S], k: usize) -> Result<Vec<Recommendation>> {
        check_k(k)?;
        let own: Vec<u32> = owned.iter().filter_map(|s| self.id(s.as_ref())).collect();
        let mut score: HashMap<u32, f64> = HashMap::new();
        for &i in &own {
            for &(j, s, _) in &self.neighbors[i as usize] {
                *score.entry(j).or_insert(0.0) += s;
            }
        }
        let mut out: Vec<(u32, f64)> = score.into_iter().filter(|(j, _)| !own.contains(j)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| self.skus[a.0 as usize].cmp(&self.skus[b.0 as usize])));
        out.truncate(k);
        Ok(out.into_iter().map(|(j, s)| Recommendation { sku: self.skus[j as usize].clone(), score: s }).collect())
    }
}

fn check_k(k: usize) -> Result<()> {
    if (1..=1000).contains(&k) {
        Ok(())
    } else {
        Err(Error::validation("k", format!("{k} is outside 1 ..= 1000")))
    }
}

/// Builds a [`CoPurchaseModel`] from line items sorted by customer.
#[derive(Debug)]
pub(crate) struct CoPurchaseBuilder {
    opts: CoPurchaseOptions,
    skus: Vec<String>,
    index: HashMap<String, u32>,
    buyers: Vec<u32>,
    pairs: HashMap<u64, u32>,
    current: Option<CustomerId>,
    /// The current customer's (sequence number, SKU id).
    basket: Vec<(u64, u32)>,
    seq: u64,
    customers: u64,
}

impl CoPurchaseBuilder {
    pub(crate) fn new(opts: &CoPurchaseOptions) -> Result<CoPurchaseBuilder> {
        opts.validate()?;
        Ok(CoPurchaseBuilder {
            opts: *opts,
            skus: Vec::new(),
            index: HashMap::new(),
            buyers: Vec::new(),
            pairs: HashMap::new(),
            current: None,
            basket: Vec::new(),
            seq: 0,
            customers: 0,
        })
    }

    pub(crate) fn push(&mut self, customer: CustomerId, sku: &str) {
        if self.current != Some(customer) {
            self.flush();
            self.current = Some(customer);
        }
        let id = match self.index.get(sku) {
            Some(&i) => i,
            None => {
                let i = self.skus.len() as u32;
                self.skus.push(sku.to_owned());
                self.index.insert(sku.to_owned(), i);
                self.buyers.push(0);
                i
            }
        };
        self.seq += 1;
        self.basket.push((self.seq, id));
    }

    fn flush(&mut self) {
        if self.basket.is_empty() {
            return;
        }
        // Most recent first, one entry per SKU, capped.
        self.basket.sort_unstable_by_key(|k| std::cmp::Reverse(k.0));
        let mut items: Vec<u32> = Vec::with_capacity(self.opts.max_items_per_customer);
        for &(_, id) in &self.basket {
            if !items.contains(&id) {
                items.push(id);
                if items.len() == self.opts.max_items_per_customer {
                    break;
                }
            }
        }
        self.basket.clear();
        self.customers += 1;
        items.sort_unstable();
        for (n, &i) in items.iter().enumerate() {
            self.buyers[i as usize] += 1;
            for &j in &items[n + 1..] {
                *self.pairs.entry((u64::from(i) << 32) | u64::from(j)).or_insert(0) += 1;
            }
        }
    }

    pub(crate) fn finish(mut self) -> CoPurchaseModel {
        self.flush();
        let mut neighbors: Vec<Vec<(u32, f64, u32)>> = vec![Vec::new(); self.skus.len()];
        for (key, c) in self.pairs {
            if c < self.opts.min_customers {
                continue;
            }
            let (i, j) = ((key >> 32) as u32, key as u32);
            let s = f64::from(c) / (f64::from(self.buyers[i as usize]) * f64::from(self.buyers[j as usize])).sqrt();
            neighbors[i as usize].push((j, s, c));
            neighbors[j as usize].push((i, s, c));
        }
        let skus = &self.skus;
        for list in &mut neighbors {
            list.sort_by(|a, b| {
                b.1.total_cmp(&a.1).then(b.2.cmp(&a.2)).then_with(|| skus[a.0 as usize].cmp(&skus[b.0 as usize]))
            });
            list.truncate(self.opts.neighbors);
            list.shrink_to_fit();
        }
        CoPurchaseModel {
            skus: self.skus,
            buyers: self.buyers,
            neighbors,
            index: self.index,
            customers: self.customers,
        }
    }
}

/// A customer's share of items and of spend in one category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryAffinity {
    /// The customer.
    pub customer_id: CustomerId,
    /// The category (`None` for line items without one).
    pub category: Option<String>,
    /// Units bought in this category.
    pub items: i64,
    /// Spend on this category (quantity times unit price), minor units of `currency`.
    pub spend_minor: i64,
    /// The currency of `spend_minor`.
    pub currency: Currency,
    /// `items` over the customer's units in all categories.
    pub item_share: f64,
    /// `spend_minor` over the customer's spend in all categories (0 when that is 0).
    pub spend_share: f64,
}

/// Gathers category totals per customer from line items sorted by customer.
#[derive(Debug)]
pub(crate) struct AffinityBuilder {
    currency: Currency,
    current: Option<CustomerId>,
    cats: Vec<(Option<String>, i64, i64)>,
    pub(crate) rows: Vec<CategoryAffinity>,
}

impl AffinityBuilder {
    pub(crate) fn new(currency: Currency) -> AffinityBuilder {
        AffinityBuilder { currency, current: None, cats: Vec::new(), rows: Vec::new() }
    }

    pub(crate) fn push(&mut self, customer: CustomerId, category: Option<&str>, quantity: i64, unit_minor: i64) {
        if self.current != Some(customer) {
            self.flush();
            self.current = Some(customer);
        }
        let spend = quantity.saturating_mul(unit_minor);
        match self.cats.iter_mut().find(|c| c.0.as_deref() == category) {
            Some(c) => {
                c.1 = c.1.saturating_add(quantity);
                c.2 = c.2.saturating_add(spend);
            }
            None => self.cats.push((category.map(str::to_owned), quantity, spend)),
        }
    }

    fn flush(&mut self) {
        let Some(customer_id) = self.current else { return };
        let items: i64 = self.cats.iter().map(|c| c.1).sum();
        let spend: i64 = self.cats.iter().map(|c| c.2).sum();
        let share = |v: i64, total: i64| if total == 0 { 0.0 } else { v as f64 / total as f64 };
        let mut cats = std::mem::take(&mut self.cats);
        cats.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then_with(|| a.0.cmp(&b.0)));
        for (category, n, s) in cats {
            self.rows.push(CategoryAffinity {
                customer_id,
                category,
                items: n,
                spend_minor: s,
                currency: self.currency,
                item_share: share(n, items),
                spend_share: share(s, spend),
            });
        }
    }

    pub(crate) fn finish(mut self) -> Vec<CategoryAffinity> {
        self.flush();
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_and_recommendations() {
        let mut b = CoPurchaseBuilder::new(&CoPurchaseOptions::default()).unwrap();
        // Customers: {A, B}, {A, B, C}, {A, C}, {D}
        for (c, skus) in [(1, vec!["A", "B"]), (2, vec!["A", "B", "C", "A"]), (3, vec!["A", "C"]), (4, vec!["D"])] {
            for s in skus {
                b.push(CustomerId(c), s);
            }
        }
        let m = b.finish();
        assert_eq!((m.len(), m.customers(), m.buyers("A")), (4, 4, Some(3)));
        let sim = m.similar_items("B", 5).unwrap();
        assert_eq!(sim[0].sku, "A");
        assert!((sim[0].similarity - 2.0 / (3.0f64 * 2.0).sqrt()).abs() < 1e-12);
        assert_eq!(sim[1].sku, "C");
        assert!((sim[1].similarity - 0.5).abs() < 1e-12);
        assert!(m.similar_items("D", 3).unwrap().is_empty());
        assert!(m.similar_items("Z", 3).is_err());
        assert!(m.similar_items("A", 0).is_err());
        let r = m.recommend(&["B"], 5).unwrap();
        assert_eq!(r.iter().map(|r| r.sku.as_str()).collect::<Vec<_>>(), ["A", "C"]);
        let r = m.recommend(&["A", "B"], 5).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].sku, "C");
        assert!((r[0].score - (2.0 / 6.0f64.sqrt() + 0.5)).abs() < 1e-12);
    }

    #[test]
    fn the_cap_keeps_the_most_recent_items() {
        let opts = CoPurchaseOptions { max_items_per_customer: 2, ..Default::default() };
        let mut b = CoPurchaseBuilder::new(&opts).unwrap();
        for s in ["OLD", "MID", "NEW", "MID"] {
            b.push(CustomerId(1), s);
        }
        let m = b.finish();
        assert_eq!(m.buyers("OLD"), Some(0));
        assert_eq!(m.similar_items("NEW", 3).unwrap()[0].sku, "MID");
        assert!(CoPurchaseBuilder::new(&CoPurchaseOptions { max_items_per_customer: 1, ..opts }).is_err());
    }
}
