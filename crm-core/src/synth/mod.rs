//! Deterministic synthetic data: customers, orders and interactions for benchmarks,
//! examples and tests.
//!
//! A [`Synth`] turns a [`SynthConfig`] (most importantly a seed and a customer count) into
//! three independent, streaming iterators — [`Synth::customers`], [`Synth::orders`] and
//! [`Synth::interactions`] — that agree with each other: every order and interaction names
//! a generated customer by external id, and happens after that customer was created.
//!
//! # Determinism
//!
//! Everything derives from the seed through ChaCha8 (a portable, specified generator):
//! customer `n` has its own random streams, so each iterator recomputes what it needs for
//! a customer from scratch instead of keeping state for the whole run, and the output does
//! not depend on which iterators are consumed or in what order. Only integer arithmetic
//! and IEEE-exact float operations (`+ - * /`, `sqrt`) feed the output, never `ln`/`exp`,
//! so the same configuration produces the same rows on every platform. Changing the
//! generator's code changes its output; a fingerprint test pins it.
//!
//! # Shape of the data
//!
//! * Customers in ten countries (US, GB, DE, FR, SG, CN, JP, AU, IN, BR; US heaviest), with
//!   culturally matching names, unique emails on reserved example domains (RFC 2606),
//!   mobile numbers that libphonenumber accepts as valid for the country, addresses,
//!   companies (about 8 %), job titles, birthdays, genders, tags, custom attributes and
//!   consents for some of them.
//! * Orders per customer skewed like real shops: about 10 % of customers never buy, about
//!   37 % buy once, and the rest follow a heavy (Lomax-like, tail index 2) tail capped at
//!   2,000 orders, the whole averaging [`SynthConfig::orders_per_customer`]. Each order has
//!   1–5 line items from a 500-SKU catalogue with skewed popularity, in the customer's
//!   currency (converted at fixed rates, respecting the currency's minor digits), with a
//!   total equal to the sum of its lines.
//! * Interactions of every [`InteractionKind`], weighted towards email, web, chat and
//!   calls, with NPS scores on surveys and CSAT scores on feedback.
//!
//! All times are whole seconds in `[end - years, end)` (never before 1970), with a
//! day/night rhythm in the customer's local time; a customer's orders and interactions are
//! yielded in time order.
//!
//! # Labelled duplicates
//!
//! For measuring identity resolution (fuzzy de-duplication), [`SynthConfig::duplicates`]
//! adds perturbed copies of customers, as a shop's till, a call centre or a second web shop
//! would have recorded the same people: a typo in the name, a nickname, a Chinese name in
//! Han characters, an email on another domain, a phone in national notation, an
//! abbreviated street, a legal form spelled otherwise, a field missing (the full list is on
//! [`Synth::duplicate`]). [`Synth::customers`] yields them after the originals. The ground
//! truth is in the external id: a copy of `C00000042` is `C00000042~1`, so two records are
//! the same customer exactly when their external ids agree up to the first `~`
//! ([`Synth::duplicate_source`] gives it as a number). Orders and interactions name
//! originals only. With the default of no duplicates, the output is what it was before
//! duplicates existed.
//!
//! ```
//! use crm_core::synth::{Synth, SynthConfig};
//! let synth = Synth::new(SynthConfig { customers: 1_000, duplicates: 0.1, ..Default::default() });
//! let identity = |id: &str| id.split('~').next().unwrap().to_owned();
//! let records: Vec<_> = synth.customers().collect();
//! assert_eq!(records.len(), 1_100);
//! let copy = &records[1_000];
//! let original = &records[synth.duplicate_source(1) as usize - 1];
//! assert_eq!(identity(copy.external_id.as_deref().unwrap()), original.external_id.clone().unwrap());
//! ```
//!
//! # Speed
//!
//! On one core in release mode (the ignored `throughput` test) the generator yields about
//! 1,000,000 customers/s, 4,000,000 orders/s and 3,000,000 interactions/s: 1,000,000
//! customers with their 10,000,000 orders take under 4 seconds, in constant memory. A
//! duplicate costs about two customers (its original is generated again).

mod data;
mod dupes;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Months, NaiveDate, TimeZone, Utc};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::{
    Address, Consent, Currency, CustomerKind, Direction, InteractionKind, LineItem, NewCustomer, NewInteraction,
    NewOrder, OrderStatus, Score,
};
use data::{City, Country, PhoneStyle, COUNTRIES, CULTURES};

/// Most orders one customer gets.
const MAX_ORDERS: u32 = 2_000;
/// Most interactions one customer gets.
const MAX_INTERACTIONS: u32 = 1_000;
const DAY: i64 = 86_400;

/// Independent random domains; each has its own ChaCha key, and customer `n` uses stream `n`.
const PLAN: usize = 0;
const PROFILE: usize = 1;
const ORDERS: usize = 2;
const INTERACTIONS: usize = 3;
const CATALOGUE: usize = 4;
/// Duplicate `k` uses stream `k`; stream 0 keys the choice of originals.
const DUPLICATES: usize = 5;

/// What to generate. Two generators with equal configurations produce identical data.
///
/// ```
/// use crm_core::synth::SynthConfig;
/// let cfg = SynthConfig { seed: 7, customers: 1_000, ..Default::default() };
/// assert_eq!(cfg.orders_per_customer, 10.0);
/// assert_eq!(cfg.end.to_rfc3339(), "2026-11-01T00:00:00+00:00");
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    /// Seed of every random choice (default 42).
    pub seed: u64,
    /// Number of customers, exactly (default 10,000). Their external ids run from
    /// `C00000001` (see [`Synth::customer_external_id`]).
    pub customers: u64,
    /// Mean number of orders per customer, including customers without any (default 10).
    /// Means below about 1.7 use a Poisson shape instead of the skewed one; means beyond
    /// about 500 are not reachable with the 2,000-order cap and give fewer orders.
    pub orders_per_customer: f64,
    /// Mean number of interactions per customer (default 3). Same shape as orders: about
    /// 15 % of customers without any, 25 % with one, a long tail capped at 1,000.
    pub interactions_per_customer: f64,
    /// End of the time window, exclusive (default 2026-11-01T00:00:00Z: fixed, not "now",
    /// so that output does not depend on the day it is generated). Ends before 1970-01-02
    /// are treated as 1970-01-02.
    pub end: DateTime<Utc>,
    /// Length of the time window in years (default 3): every timestamp lies in
    /// `[end - years, end)`, clipped to start no earlier than 1970 and widened to at least
    /// one day.
    pub years: u32,
    /// Extra duplicate customer records, as a share of `customers`, in `0.0..=1.0`
    /// (default 0: none). [`Synth::customers`] yields `round(customers × duplicates)`
    /// perturbed copies of distinct customers after the originals; a copy's external id is
    /// its original's followed by `~1` (`C00000042~1`), so the true identity of any record is
    /// its external id up to the `~`. Values below 0 (and NaN) count as 0, values above 1 as
    /// 1. See [`Synth::duplicate`] for what a copy changes.
    pub duplicates: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 42,
            customers: 10_000,
            orders_per_customer: 10.0,
            interactions_per_customer: 3.0,
            end: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            years: 3,
            duplicates: 0.0,
        }
    }
}

/// One catalogue entry. Order line items copy its `sku` and `category`, and price it in
/// the order's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Stock-keeping unit, such as `"SHO-1001"`.
    pub sku: String,
    /// Category, such as `"shoes"`.
    pub category: String,
    /// List price in US cents.
    pub price_minor_usd: i64,
}

/// A deterministic synthetic data generator.
///
/// Construction builds the product catalogue and a few small tables; the rows themselves
/// are generated lazily by the iterators, which may be consumed independently, several
/// times, and from different threads (`Synth` is `Sync`).
///
/// ```
/// use crm_core::synth::{Synth, SynthConfig};
/// use crm_core::Crm;
///
/// let synth = Synth::new(SynthConfig { customers: 50, ..Default::default() });
/// let customers: Vec<_> = synth.customers().collect();
/// assert_eq!(customers.len(), 50);
/// assert_eq!(customers[0].external_id.as_deref(), Some("C00000001"));
///
/// // Orders come customer by customer, each referring to its customer by external id.
/// let first = synth.orders().next().unwrap();
/// assert_eq!(first.external_id, "O000000001");
/// assert!(first.customer_external_id.as_deref().unwrap().starts_with('C'));
/// assert_eq!(first.total_minor, first.items.iter().flatten().map(|i| i.quantity * i.unit_price_minor).sum::<i64>());
///
/// // Same configuration, same data.
/// assert_eq!(Synth::new(synth.config().clone()).orders().next(), Some(first));
///
/// // Everything loads into a store.
/// let crm = Crm::in_memory()?;
/// for c in &customers {
///     crm.upsert_customer(c)?;
/// }
/// for o in synth.orders().take(100) {
///     crm.record_order(&o)?;
/// }
/// for i in synth.interactions().take(100) {
///     crm.add_interaction(&i)?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Synth {
    cfg: SynthConfig,
    keys: [[u8; 32]; 6],
    /// Round keys of the permutation that picks each duplicate's original.
    shuffle: [u64; 4],
    /// Window start and end, Unix seconds; `end` exclusive.
    start: i64,
    end: i64,
    order_counts: CountDist,
    interaction_counts: CountDist,
    catalogue: Vec<Product>,
    /// Cumulative popularity weights over the whole catalogue.
    popularity: Vec<u32>,
    /// Per category: product indices and their cumulative popularity weights.
    by_category: Vec<(Vec<u32>, Vec<u32>)>,
    /// Unit price of each product in each country's currency, in minor units.
    prices: Vec<[i64; COUNTRIES.len()]>,
    currencies: [Currency; COUNTRIES.len()],
}

/// What a customer's record was drawn from, beyond the record itself: for duplicates.
#[derive(Debug, Clone, Copy)]
struct Origin {
    country: usize,
    culture: usize,
    first: &'static str,
    last: &'static str,
    /// A person, whose name is `"{first} {last}"` (a company's is its company name).
    person: bool,
}

/// The per-customer facts every iterator needs, recomputed from the customer's plan stream.
#[derive(Debug, Clone, Copy)]
struct Plan {
    country: usize,
    company: bool,
    orders: u32,
    interactions: u32,
    /// When the customer was created (Unix seconds).
    created: i64,
    /// Orders happen in `[created, active_until)`; before `end` for churned customers.
    active_until: i64,
    favourite_category: usize,
    channel: usize,
    /// Signed up while placing their first order.
    checkout_signup: bool,
}

impl Synth {
    /// Builds a generator: derives the random keys and the catalogue from the seed.
    pub fn new(cfg: SynthConfig) -> Synth {
        let mut base = ChaCha8Rng::seed_from_u64(cfg.seed);
        // Keys come off the seed's stream in order, so a domain added at the end leaves the
        // earlier domains' keys, and so their output, as they were.
        let mut keys = [[0u8; 32]; 6];
        for k in &mut keys {
            base.fill_bytes(k);
        }
        let mut r = stream(&keys[DUPLICATES], 0);
        let shuffle = std::array::from_fn(|_| r.next_u64());

        let end = cfg.end.timestamp().max(DAY);
        let start = cfg
            .end
            .checked_sub_months(Months::new(cfg.years.saturating_mul(12)))
            .map_or(0, |d| d.timestamp())
            .clamp(0, end - DAY);

        let currencies: [Currency; COUNTRIES.len()] =
            std::array::from_fn(|i| Currency::new(COUNTRIES[i].currency).expect("built-in currency codes are valid"));

        let mut r = stream(&keys[CATALOGUE], 0);
        let mut catalogue = Vec::with_capacity(500);
        let mut category_of = Vec::with_capacity(500);
        for (ci, &(name, code, count, lo, hi)) in data::CATEGORIES.iter().enumerate() {
            for j in 0..count {
                // Squaring a uniform skews prices towards the cheap end of the range.
                let u = i64::from(below(&mut r, 1_001));
                let raw = lo + (hi - lo) * u * u / 1_000_000;
                let price = if chance(&mut r, 800) { raw / 100 * 100 + 99 } else { (raw / 100).max(1) * 100 };
                catalogue.push(Product {
                    sku: format!("{code}-{}", 1_001 + j),
                    category: name.to_owned(),
                    price_minor_usd: price,
                });
                category_of.push(ci);
            }
        }

        // Popularity: a random permutation of ranks, weight ~ 1 / (rank + 10) (Zipf-like).
        let mut rank: Vec<u32> = (0..catalogue.len() as u32).collect();
        for i in (1..rank.len()).rev() {
            let j = below(&mut r, i as u32 + 1) as usize;
            rank.swap(i, j);
        }
        let weight = |p: usize| 1_000_000 / (rank[p] + 10);
        let mut popularity = Vec::with_capacity(catalogue.len());
        let mut by_category: Vec<(Vec<u32>, Vec<u32>)> = vec![(Vec::new(), Vec::new()); data::CATEGORIES.len()];
        let mut total = 0u32;
        for (p, &ci) in category_of.iter().enumerate() {
            total += weight(p);
            popularity.push(total);
            let (idx, cum) = &mut by_category[ci];
            let prev = cum.last().copied().unwrap_or(0);
            idx.push(p as u32);
            cum.push(prev + weight(p));
        }

        let prices = catalogue
            .iter()
            .map(|p| {
                std::array::from_fn(|c| {
                    convert(p.price_minor_usd, COUNTRIES[c].per_1000_usd, currencies[c].minor_digits())
                })
            })
            .collect();

        Synth {
            order_counts: CountDist::new(cfg.orders_per_customer, 0.10, 0.37, MAX_ORDERS),
            interaction_counts: CountDist::new(cfg.interactions_per_customer, 0.15, 0.25, MAX_INTERACTIONS),
            cfg,
            keys,
            shuffle,
            start,
            end,
            catalogue,
            popularity,
            by_category,
            prices,
            currencies,
        }
    }

    /// The configuration this generator was built with.
    pub fn config(&self) -> &SynthConfig {
        &self.cfg
    }

    /// The external id of customer `n` (1-based): `"C"` and the number padded to 8 digits,
    /// such as `"C00000001"` (wider beyond 99,999,999).
    ///
    /// ```
    /// assert_eq!(crm_core::synth::Synth::customer_external_id(42), "C00000042");
    /// ```
    pub fn customer_external_id(n: u64) -> String {
        format!("C{n:08}")
    }

    /// Writes the generated records of one kind to a CSV or JSON Lines file (format from the
    /// extension), in the layout bulk ingest reads; returns how many were written.
    pub fn write_file(&self, kind: crate::ingest::RecordKind, path: impl AsRef<std::path::Path>) -> crate::Result<u64> {
        use crate::ingest::{write_file, RecordKind};
        match kind {
            RecordKind::Customers => write_file(path, self.customers()),
            RecordKind::Orders => write_file(path, self.orders()),
            RecordKind::Interactions => write_file(path, self.interactions()),
        }
    }

    /// The product catalogue (about 500 SKUs in 12 categories), in SKU order per category.
    pub fn catalogue(&self) -> &[Product] {
        &self.catalogue
    }

    /// All customers, `C00000001` to `config().customers`, in order, then the
    /// [`duplicate_count`](Self::duplicate_count) duplicates, `duplicate(1)` first.
    pub fn customers(&self) -> impl Iterator<Item = NewCustomer> + '_ {
        (1..=self.cfg.customers)
            .map(move |n| self.customer(n))
            .chain((1..=self.duplicate_count()).map(move |k| self.duplicate(k)))
    }

    /// Customer `n` (1-based), exactly as [`customers`](Self::customers) yields it; costs the
    /// same whatever `n` is.
    pub fn customer(&self, n: u64) -> NewCustomer {
        self.profile(n).0
    }

    /// How many duplicates [`customers`](Self::customers) yields after the originals:
    /// `round(customers × duplicates)`, the share clamped to `0.0..=1.0` (NaN as 0).
    ///
    /// ```
    /// use crm_core::synth::{Synth, SynthConfig};
    /// let synth = Synth::new(SynthConfig { customers: 1_000, duplicates: 0.05, ..Default::default() });
    /// assert_eq!(synth.duplicate_count(), 50);
    /// assert_eq!(synth.customers().count(), 1_050);
    /// ```
    pub fn duplicate_count(&self) -> u64 {
        let share = if self.cfg.duplicates.is_nan() { 0.0 } else { self.cfg.duplicates.clamp(0.0, 1.0) };
        ((self.cfg.customers as f64 * share).round() as u64).min(self.cfg.customers)
    }

    /// Duplicate `k` (1-based), exactly as [`customers`](Self::customers) yields it: a
    /// perturbed copy of customer [`duplicate_source(k)`](Self::duplicate_source), as another
    /// system (a shop's till, a call centre, a second web shop) would have recorded the same
    /// person or company. Its external id is the original's followed by `~1` (`~2` for the
    /// second run of copies when `k` exceeds `customers`, and so on), so that the true
    /// identity of every record is its external id up to the `~`. Costs about two customers,
    /// whatever `k` is.
    ///
    /// A copy has one to three of these changes (about 50 %, 35 % and 15 % of copies), each
    /// on a different part of the record:
    ///
    /// * name: one ASCII letter substituted, deleted, inserted, or two adjacent ones
    ///   transposed; first and last name swapped; a nickname (`Bill` for `William`); a
    ///   Chinese name in Han characters, surname first (`王伟` for `Wei Wang`); full-width
    ///   letters (`Ｗｅｉ`); all upper case;
    /// * email: another domain; a typo in the local part; a `+tag`, or dots between letters,
    ///   for `example.com` addresses (the generator's stand-in for a provider that, like
    ///   Gmail, ignores both); upper case; dropped;
    /// * phone: national notation (`(415) 555-0123`), or other separators (`+1.415.555.0123`,
    ///   `+14155550123`), both the same number in E.164; one of the last four digits changed
    ///   (another valid number); dropped;
    /// * address: a street word abbreviated (`Street` as `St`, `Hauptstraße` as
    ///   `Hauptstr.`); the postal code dropped;
    /// * birthday: dropped, or day and month swapped when the day is 12 or less;
    /// * company: the legal form spelled another way (`Ltd` as `Limited`) or dropped.
    ///
    /// The rest is copied, except the title, gender, tags, attributes and consents, which are
    /// each dropped from some copies; `created_at` is a time of its own in the window. Every
    /// copy passes validation. Orders and interactions name originals only.
    ///
    /// ```
    /// use crm_core::synth::{Synth, SynthConfig};
    /// let synth = Synth::new(SynthConfig { customers: 100, duplicates: 0.1, ..Default::default() });
    /// let copy = synth.duplicate(1);
    /// let id = copy.external_id.as_deref().unwrap();
    /// let (original, _) = id.split_once('~').unwrap();
    /// assert_eq!(original, Synth::customer_external_id(synth.duplicate_source(1)));
    /// assert_eq!(synth.customers().nth(100), Some(copy));
    /// ```
    ///
    /// # Panics
    ///
    /// When `k` is 0 or the configuration has no customers.
    pub fn duplicate(&self, k: u64) -> NewCustomer {
        self.perturbed(k).0
    }

    /// The number `n` of the customer that duplicate `k` copies. Duplicates `1..=customers`
    /// copy distinct customers, in an order that the seed shuffles; each further run of
    /// `customers` duplicates copies every customer once more. Costs the same whatever `k` is.
    ///
    /// ```
    /// use crm_core::synth::{Synth, SynthConfig};
    /// let synth = Synth::new(SynthConfig { customers: 10, ..Default::default() });
    /// let mut sources: Vec<u64> = (1..=10).map(|k| synth.duplicate_source(k)).collect();
    /// sources.sort();
    /// assert_eq!(sources, (1..=10).collect::<Vec<_>>());
    /// ```
    ///
    /// # Panics
    ///
    /// When `k` is 0 or the configuration has no customers.
    pub fn duplicate_source(&self, k: u64) -> u64 {
        self.source_and_run(k).0
    }

    /// Duplicate `k`'s original and which run of copies (from 0) it belongs to.
    fn source_and_run(&self, k: u64) -> (u64, u64) {
        let customers = self.cfg.customers;
        assert!(k >= 1 && customers >= 1, "duplicate {k} of {customers} customers does not exist");
        let (run, i) = ((k - 1) / customers, (k - 1) % customers);
        (1 + shuffle(&self.shuffle, customers, i, run), run)
    }

    /// Customer `n`, and where its name came from.
    fn profile(&self, n: u64) -> (NewCustomer, Origin) {
        let plan = self.plan(n);
        let r = &mut stream(&self.keys[PROFILE], n);
        let country = &COUNTRIES[plan.country];
        let (primary, secondary) = country.cultures;
        let culture = match below(r, 100) {
            0..75 => primary,
            75..85 => secondary,
            _ => below(r, CULTURES.len() as u32) as usize,
        };
        let culture_data = &CULTURES[culture];
        let &(first, first_slug, female) = pick(r, culture_data.first);
        let &(last, last_slug) = pick(r, culture_data.last);
        let city = pick(r, country.cities);
        let origin = Origin { country: plan.country, culture, first, last, person: !plan.company };

        let mut c = NewCustomer {
            external_id: Some(Self::customer_external_id(n)),
            created_at: Some(ts(plan.created)),
            ..Default::default()
        };

        if plan.company {
            let (name, slug) = company_name(r, country, culture_data);
            c.kind = Some(CustomerKind::Company);
            if chance(r, 950) {
                c.email = Some(format!("{}.{n}@{slug}.example", pick(r, data::COMPANY_MAILBOXES)));
            }
            c.company = Some(name.clone());
            c.name = name;
            c.industry = Some(pick(r, data::INDUSTRIES).to_string());
            if chance(r, 500) {
                c.title = Some(pick(r, data::CONTACT_TITLES).to_string());
            }
            if chance(r, 900) {
                c.phone = Some(phone(r, country, city));
            }
        } else {
            c.kind = Some(CustomerKind::Person);
            c.name = format!("{first} {last}");
            if chance(r, 950) {
                c.email = Some(person_email(r, first_slug, last_slug, n));
            }
            if chance(r, 780) {
                c.phone = Some(phone(r, country, city));
            }
            if chance(r, 200) {
                c.company = Some(company_name(r, country, culture_data).0);
            }
            if chance(r, 400) {
                c.title = Some(pick(r, data::JOB_TITLES).to_string());
            }
            if chance(r, 450) {
                // Two uniforms summed: a triangular distribution of birth years over 1940..=2006.
                let year = 2006 - (below(r, 34) + below(r, 34)) as i32;
                c.birthday = NaiveDate::from_yo_opt(year, 1 + below(r, 365));
            }
            if chance(r, 600) {
                let g = if chance(r, 15) {
                    "non-binary"
                } else if female {
                    "female"
                } else {
                    "male"
                };
                c.gender = Some(g.to_owned());
            }
        }

        c.address = self.address(r, country, city);
        c.tags = tags(r, &plan, &c);
        if chance(r, 350) {
            c.attributes = attributes(r, n, culture);
        }
        if chance(r, 400) {
            c.consents = consents(r, plan.created, c.phone.is_some());
        }
        (c, origin)
    }

    /// All orders: customer 1's orders in time order, then customer 2's, and so on. External
    /// ids run `O000000001`, `O000000002`, ... in the order yielded. About
    /// `customers × orders_per_customer` items.
    pub fn orders(&self) -> impl Iterator<Item = NewOrder> + '_ {
        RowStream::<OrderGen>::new(self)
    }

    /// All interactions, customer by customer, each customer's in time order. External ids
    /// run `I000000001`, `I000000002`, ... in the order yielded.
    pub fn interactions(&self) -> impl Iterator<Item = NewInteraction> + '_ {
        RowStream::<InteractionGen>::new(self)
    }

    fn plan(&self, n: u64) -> Plan {
        let r = &mut stream(&self.keys[PLAN], n);
        let country = pick_weighted(r, &COUNTRIES, |c| c.weight);
        let company = chance(r, 80);
        let orders = self.order_counts.sample(r);
        let interactions = self.interaction_counts.sample(r);
        // Acquisition grows over time (density rising linearly across the window); heavy
        // buyers tend to be older customers.
        let age = if orders >= 50 {
            0.4
        } else if orders >= 15 {
            0.7
        } else {
            1.0
        };
        let span = self.end - self.start;
        let created = (self.start + (unit(r).sqrt() * age * span as f64) as i64).clamp(self.start, self.end - 1);
        let active_until = if orders > 0 && chance(r, 250) {
            // Churned: stopped buying somewhere between 30 % and 100 % of the way to `end`.
            let rest = self.end - created;
            created + 1 + ((rest - 1) as f64 * (0.3 + 0.7 * unit(r))) as i64
        } else {
            self.end
        };
        Plan {
            country,
            company,
            orders,
            interactions,
            created,
            active_until,
            favourite_category: below(r, data::CATEGORIES.len() as u32) as usize,
            channel: pick_weighted(r, &data::ORDER_CHANNELS, |c| c.1),
            checkout_signup: chance(r, 500),
        }
    }

    fn address(&self, r: &mut ChaCha8Rng, country: &Country, city: &City) -> Address {
        let mut a = Address {
            country: Some(country.code.to_owned()),
            region: Some(city.region.to_owned()),
            city: Some(city.name.to_owned()),
            ..Default::default()
        };
        if chance(r, 920) {
            a.postal_code = Some(fill_template(r, city.postal));
        }
        if chance(r, 850) {
            let street = pick(r, country.streets);
            let mut s = String::with_capacity(32);
            if country.code == "JP" {
                let _ = write!(s, "{}-{}-{} {street}", 1 + below(r, 5), 1 + below(r, 30), 1 + below(r, 20));
            } else if country.number_first {
                let _ = write!(s, "{} {street}", 1 + below(r, 199));
            } else if country.code == "BR" {
                let _ = write!(s, "{street}, {}", 1 + below(r, 1999));
            } else {
                let _ = write!(s, "{street} {}", 1 + below(r, 199));
            }
            a.street = Some(s);
        }
        a
    }

    fn product(&self, r: &mut ChaCha8Rng, favourite: usize) -> usize {
        if chance(r, 400) {
            let (idx, cum) = &self.by_category[favourite];
            let x = below(r, *cum.last().expect("every category has products"));
            idx[cum.partition_point(|&c| c <= x)] as usize
        } else {
            let x = below(r, *self.popularity.last().expect("the catalogue is not empty"));
            self.popularity.partition_point(|&c| c <= x)
        }
    }

    /// Times of a customer's orders, sorted.
    fn order_times(&self, r: &mut ChaCha8Rng, p: &Plan, out: &mut Vec<i64>) {
        out.clear();
        let tz = COUNTRIES[p.country].utc_offset_min * 60;
        let mut k = p.orders;
        if p.checkout_signup && k > 0 {
            out.push(p.created + i64::from(below(r, 1_800)).min(p.active_until - p.created - 1));
            k -= 1;
        }
        for _ in 0..k {
            out.push(event_time(r, p.created, p.active_until, tz));
        }
        out.sort_unstable();
    }

    fn order(&self, r: &mut ChaCha8Rng, p: &Plan, at: i64, seq: u64, customer: &str) -> NewOrder {
        let n_items = 1 + pick_weighted(r, &[55u32, 25, 10, 6, 4], |w| *w);
        let mut items: Vec<LineItem> = Vec::with_capacity(n_items);
        let mut picked = [usize::MAX; 5];
        let mut total = 0i64;
        for slot in 0..n_items {
            let mut prod = self.product(r, p.favourite_category);
            // Re-draw a few times rather than repeat a SKU within one order.
            for _ in 0..3 {
                if !picked[..slot].contains(&prod) {
                    break;
                }
                prod = self.product(r, p.favourite_category);
            }
            let quantity = 1 + pick_weighted(r, &[75u32, 18, 7], |w| *w) as i64;
            let unit_price = self.prices[prod][p.country];
            if let Some(pos) = picked[..slot].iter().position(|&q| q == prod) {
                items[pos].quantity += quantity;
            } else {
                picked[items.len()] = prod;
                let product = &self.catalogue[prod];
                items.push(LineItem {
                    sku: product.sku.clone(),
                    category: Some(product.category.clone()),
                    quantity,
                    unit_price_minor: unit_price,
                });
            }
            total += quantity * unit_price;
        }
        let status = match below(r, 1_000) {
            0..940 => OrderStatus::Completed,
            940..980 => OrderStatus::Refunded,
            _ => OrderStatus::Cancelled,
        };
        let channel = if chance(r, 650) { p.channel } else { pick_weighted(r, &data::ORDER_CHANNELS, |c| c.1) };
        NewOrder {
            external_id: format!("O{seq:09}"),
            customer_id: None,
            customer_external_id: Some(customer.to_owned()),
            occurred_at: ts(at),
            status: Some(status),
            currency: self.currencies[p.country],
            total_minor: total,
            channel: Some(data::ORDER_CHANNELS[channel].0.to_owned()),
            items: Some(items),
        }
    }

    fn interaction(&self, r: &mut ChaCha8Rng, p: &Plan, at: i64, seq: u64, customer: &str) -> NewInteraction {
        use InteractionKind as K;
        const PERSON: [(InteractionKind, u32); 11] = [
            (K::Email, 26),
            (K::Web, 22),
            (K::Chat, 14),
            (K::Call, 12),
            (K::Visit, 5),
            (K::Feedback, 5),
            (K::Note, 4),
            (K::Survey, 4),
            (K::Custom, 4),
            (K::Complaint, 3),
            (K::Meeting, 1),
        ];
        const COMPANY: [(InteractionKind, u32); 11] = [
            (K::Email, 25),
            (K::Call, 18),
            (K::Meeting, 12),
            (K::Web, 10),
            (K::Note, 10),
            (K::Chat, 8),
            (K::Feedback, 4),
            (K::Custom, 4),
            (K::Visit, 3),
            (K::Survey, 3),
            (K::Complaint, 3),
        ];
        let kinds = if p.company { &COMPANY } else { &PERSON };
        let kind = kinds[pick_weighted(r, kinds, |k| k.1)].0;
        let inbound = Some(Direction::Inbound);
        let outbound = Some(Direction::Outbound);
        let mut payload = None;
        let mut score = None;
        let (channel, direction, subject, body_per_mille): (Option<&str>, _, &str, u32) = match kind {
            K::Call => {
                let d = if chance(r, 600) { inbound } else { outbound };
                (Some("phone"), d, *pick(r, data::CALL_SUBJECTS), 250)
            }
            K::Email => {
                if chance(r, 650) {
                    (Some("email"), outbound, *pick(r, data::EMAIL_OUT_SUBJECTS), 0)
                } else {
                    (Some("email"), inbound, *pick(r, data::EMAIL_IN_SUBJECTS), 150)
                }
            }
            K::Meeting => {
                let ch = if chance(r, 550) { "video" } else { "in_person" };
                (Some(ch), outbound, *pick(r, data::MEETING_SUBJECTS), 400)
            }
            K::Chat => {
                let ch = *pick_item(r, &[("chat", 60), ("whatsapp", 25), ("messenger", 15)]);
                let d = if chance(r, 900) { inbound } else { outbound };
                (Some(ch), d, *pick(r, data::CHAT_SUBJECTS), 200)
            }
            K::Visit => (Some("store"), inbound, *pick(r, data::VISIT_SUBJECTS), 0),
            K::Note => (None, None, *pick(r, data::NOTE_SUBJECTS), 600),
            K::Feedback => {
                let ch = *pick_item(r, &[("web", 50), ("app", 30), ("email", 20)]);
                if chance(r, 900) {
                    score = Some(Score::Csat(1 + pick_weighted(r, &[7u32, 6, 12, 30, 45], |w| *w) as u8));
                }
                (Some(ch), inbound, *pick(r, data::FEEDBACK_SUBJECTS), 300)
            }
            K::Complaint => {
                let ch = *pick_item(r, &[("phone", 35), ("email", 35), ("chat", 30)]);
                if chance(r, 100) {
                    score = Some(Score::Csat(1 + below(r, 2) as u8));
                }
                (Some(ch), inbound, *pick(r, data::COMPLAINT_SUBJECTS), 500)
            }
            K::Survey => {
                let ch = if chance(r, 600) { "email" } else { "web" };
                if chance(r, 950) {
                    let nps = [3u32, 2, 2, 3, 3, 6, 7, 12, 20, 20, 22];
                    score = Some(Score::Nps(pick_weighted(r, &nps, |w| *w) as u8));
                }
                (Some(ch), inbound, *pick(r, data::SURVEY_SUBJECTS), 100)
            }
            K::Web => {
                let ch = if chance(r, 650) { "web" } else { "app" };
                let event = *pick(r, data::WEB_EVENTS);
                if chance(r, 700) {
                    let sku = &self.catalogue[self.product(r, p.favourite_category)].sku;
                    payload = Some(json!({
                        "event": event,
                        "path": format!("/products/{sku}"),
                        "session": format!("{:016x}", r.next_u64()),
                    }));
                }
                (Some(ch), inbound, event, 0)
            }
            K::Custom => {
                let (subject, kind) = *pick(r, data::CUSTOM_SUBJECTS);
                if chance(r, 800) {
                    payload = Some(match kind {
                        "warranty" => {
                            let sku = &self.catalogue[self.product(r, p.favourite_category)].sku;
                            json!({ "type": kind, "sku": sku, "months": 12 * (1 + below(r, 3)) })
                        }
                        "gift_card" => json!({ "type": kind, "amount_usd": 25 * (1 + below(r, 8)) }),
                        _ => json!({ "type": kind, "points": 10 * (1 + below(r, 500)) }),
                    });
                }
                (None, None, subject, 0)
            }
        };
        if payload.is_none() && matches!(kind, K::Call | K::Chat | K::Complaint) && chance(r, 150) {
            let priority = if kind == K::Complaint || chance(r, 100) { "high" } else { "normal" };
            payload = Some(json!({ "ticket": format!("T{seq:09}"), "priority": priority }));
        }
        let body = chance(r, body_per_mille).then(|| pick(r, data::BODIES).to_string());
        NewInteraction {
            external_id: Some(format!("I{seq:09}")),
            customer_id: None,
            customer_external_id: Some(customer.to_owned()),
            kind,
            channel: channel.map(str::to_owned),
            direction,
            occurred_at: ts(at),
            subject: Some(subject.to_owned()),
            body,
            score,
            payload,
        }
    }
}

/// One kind of per-customer row stream (orders or interactions).
trait RowGen {
    type Row;
    const DOMAIN: usize;
    fn count(p: &Plan) -> u32;
    fn times(s: &Synth, r: &mut ChaCha8Rng, p: &Plan, out: &mut Vec<i64>);
    fn row(s: &Synth, r: &mut ChaCha8Rng, p: &Plan, at: i64, seq: u64, customer: &str) -> Self::Row;
}

struct OrderGen;
impl RowGen for OrderGen {
    type Row = NewOrder;
    const DOMAIN: usize = ORDERS;
    fn count(p: &Plan) -> u32 {
        p.orders
    }
    fn times(s: &Synth, r: &mut ChaCha8Rng, p: &Plan, out: &mut Vec<i64>) {
        s.order_times(r, p, out)
    }
    fn row(s: &Synth, r: &mut ChaCha8Rng, p: &Plan, at: i64, seq: u64, customer: &str) -> NewOrder {
        s.order(r, p, at, seq, customer)
    }
}

struct InteractionGen;
impl RowGen for InteractionGen {
    type Row = NewInteraction;
    const DOMAIN: usize = INTERACTIONS;
    fn count(p: &Plan) -> u32 {
        p.interactions
    }
    fn times(s: &Synth, r: &mut ChaCha8Rng, p: &Plan, out: &mut Vec<i64>) {
        out.clear();
        let tz = COUNTRIES[p.country].utc_offset_min * 60;
        for _ in 0..p.interactions {
            out.push(event_time(r, p.created, s.end, tz));
        }
        out.sort_unstable();
    }
    fn row(s: &Synth, r: &mut ChaCha8Rng, p: &Plan, at: i64, seq: u64, customer: &str) -> NewInteraction {
        s.interaction(r, p, at, seq, customer)
    }
}

/// Walks the customers, expanding each into its rows; holds one customer's state at a time.
struct RowStream<'a, G: RowGen> {
    synth: &'a Synth,
    /// Next customer to expand.
    next_customer: u64,
    /// Rows yielded so far (the external-id counter).
    seq: u64,
    plan: Option<Plan>,
    rng: ChaCha8Rng,
    times: Vec<i64>,
    pos: usize,
    customer: String,
    _gen: std::marker::PhantomData<G>,
}

impl<'a, G: RowGen> RowStream<'a, G> {
    fn new(synth: &'a Synth) -> Self {
        RowStream {
            synth,
            next_customer: 1,
            seq: 0,
            plan: None,
            rng: stream(&synth.keys[G::DOMAIN], 0),
            times: Vec::new(),
            pos: 0,
            customer: String::new(),
            _gen: std::marker::PhantomData,
        }
    }
}

impl<G: RowGen> Iterator for RowStream<'_, G> {
    type Item = G::Row;

    fn next(&mut self) -> Option<G::Row> {
        loop {
            if let Some(plan) = &self.plan {
                if let Some(&at) = self.times.get(self.pos) {
                    self.pos += 1;
                    self.seq += 1;
                    return Some(G::row(self.synth, &mut self.rng, plan, at, self.seq, &self.customer));
                }
            }
            let n = self.next_customer;
            if n > self.synth.cfg.customers {
                self.plan = None;
                return None;
            }
            self.next_customer += 1;
            let plan = self.synth.plan(n);
            if G::count(&plan) == 0 {
                self.plan = None;
                continue;
            }
            self.rng = stream(&self.synth.keys[G::DOMAIN], n);
            G::times(self.synth, &mut self.rng, &plan, &mut self.times);
            self.pos = 0;
            self.customer.clear();
            let _ = write!(self.customer, "C{n:08}");
            self.plan = Some(plan);
        }
    }
}

/// A discrete distribution over `0..=cap`, sampled by binary search over cumulative
/// probabilities scaled to 2^53.
#[derive(Debug, Clone)]
struct CountDist {
    cum: Vec<u64>,
}

impl CountDist {
    /// `p0` zeros and `p1` ones, the rest `2 + X` where `X` has weights `1 / (x + c)^3` (a
    /// discretised Lomax tail, index 2) with `c` found by bisection so that the mean is
    /// `mean`. Small means, which that shape cannot reach, get a Poisson distribution.
    fn new(mean: f64, p0: f64, p1: f64, cap: u32) -> CountDist {
        let cap = cap as usize;
        let mean = if mean.is_finite() { mean.max(0.0) } else { 0.0 };
        let mut p = vec![0f64; cap + 1];
        let p_tail = 1.0 - p0 - p1;
        if mean <= 0.0 {
            p[0] = 1.0;
        } else if mean < p1 + 2.0 * p_tail + 0.25 {
            // Poisson, by the recurrence p(k) = p(k-1) * mean / k, then normalised.
            p[0] = 1.0;
            for k in 1..=cap {
                p[k] = p[k - 1] * mean / k as f64;
                if p[k] < 1e-30 {
                    break;
                }
            }
        } else {
            let target = (mean - p1) / p_tail - 2.0;
            let m = cap - 2;
            let tail_mean = |c: f64| {
                let (mut w_sum, mut x_sum) = (0.0, 0.0);
                for x in 0..=m {
                    let d = x as f64 + c;
                    let w = 1.0 / (d * d * d);
                    w_sum += w;
                    x_sum += w * x as f64;
                }
                x_sum / w_sum
            };
            let (mut lo, mut hi) = (1e-3f64, 1e7f64);
            for _ in 0..80 {
                let mid = (lo * hi).sqrt();
                if tail_mean(mid) < target {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let c = (lo * hi).sqrt();
            let w_sum: f64 = (0..=m).map(|x| 1.0 / ((x as f64 + c) * (x as f64 + c) * (x as f64 + c))).sum();
            p[0] = p0;
            p[1] = p1;
            for x in 0..=m {
                let d = x as f64 + c;
                p[x + 2] = p_tail / (d * d * d) / w_sum;
            }
        }
        let total: f64 = p.iter().sum();
        let scale = (1u64 << 53) as f64;
        let mut acc = 0.0;
        let mut cum: Vec<u64> = p
            .iter()
            .map(|&q| {
                acc += q / total;
                (acc * scale).min(scale) as u64
            })
            .collect();
        *cum.last_mut().expect("cap + 1 entries") = 1u64 << 53;
        CountDist { cum }
    }

    fn sample(&self, r: &mut ChaCha8Rng) -> u32 {
        let u = r.next_u64() >> 11;
        self.cum.partition_point(|&c| c <= u) as u32
    }
}

/// The random stream of customer `n` (or of the catalogue, stream 0) in one domain.
fn stream(key: &[u8; 32], n: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::from_seed(*key);
    r.set_stream(n);
    r
}

/// Element `i` of a permutation of `0..n` (`i < n`) chosen by `keys` and `run`: a four-round
/// Feistel network over the smallest even number of bits that holds `n - 1`, walked until it
/// lands below `n` (under four steps on average), so it costs the same for any `i`.
fn shuffle(keys: &[u64; 4], n: u64, i: u64, run: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    let half = (64 - (n - 1).leading_zeros()).div_ceil(2);
    let mask = u64::MAX >> (64 - half);
    let tweak = mix(run.wrapping_add(0x9e37_79b9_7f4a_7c15));
    let mut x = i;
    loop {
        let (mut left, mut right) = (x >> half, x & mask);
        for k in keys {
            (left, right) = (right, left ^ (mix(right ^ k ^ tweak) & mask));
        }
        x = (left << half) | right;
        if x < n {
            return x;
        }
    }
}

/// SplitMix64's finaliser: a bijective mix of all 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Uniform in `0..n` (n > 0), by multiply-shift: tiny bias, no rejection loop, portable.
fn below(r: &mut ChaCha8Rng, n: u32) -> u32 {
    ((u64::from(r.next_u32()) * u64::from(n)) >> 32) as u32
}

fn below64(r: &mut ChaCha8Rng, n: u64) -> u64 {
    ((u128::from(r.next_u64()) * u128::from(n)) >> 64) as u64
}

/// Uniform in `[0, 1)` with 53 random bits.
fn unit(r: &mut ChaCha8Rng) -> f64 {
    (r.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn chance(r: &mut ChaCha8Rng, per_mille: u32) -> bool {
    below(r, 1_000) < per_mille
}

fn pick<'a, T>(r: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[below(r, items.len() as u32) as usize]
}

/// Index of an item chosen with probability proportional to its weight.
fn pick_weighted<T>(r: &mut ChaCha8Rng, items: &[T], weight: impl Fn(&T) -> u32) -> usize {
    let total: u32 = items.iter().map(&weight).sum();
    let mut x = below(r, total);
    for (i, item) in items.iter().enumerate() {
        let w = weight(item);
        if x < w {
            return i;
        }
        x -= w;
    }
    items.len() - 1
}

fn pick_item<'a, T>(r: &mut ChaCha8Rng, items: &'a [(T, u32)]) -> &'a T {
    &items[pick_weighted(r, items, |i| i.1)].0
}

fn ts(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("generated times are within chrono's range")
}

/// A time in `[lo, hi)`: a uniformly chosen local day, an hour following the daily rhythm,
/// a uniform second within the hour. Falls back to uniform when that lands outside.
fn event_time(r: &mut ChaCha8Rng, lo: i64, hi: i64, utc_offset_secs: i64) -> i64 {
    let span = (hi - lo).max(1);
    if span < 2 * DAY {
        return lo + below64(r, span as u64) as i64;
    }
    let first_day = (lo + utc_offset_secs).div_euclid(DAY);
    let last_day = (hi - 1 + utc_offset_secs).div_euclid(DAY);
    let day = first_day + below64(r, (last_day - first_day + 1) as u64) as i64;
    let hour = data::HOUR_WEIGHTS[pick_weighted(r, &data::HOUR_WEIGHTS, |h| h.1)].0;
    let t = day * DAY + hour * 3_600 + i64::from(below(r, 3_600)) - utc_offset_secs;
    if (lo..hi).contains(&t) {
        t
    } else {
        lo + below64(r, span as u64) as i64
    }
}

/// Converts a USD price to another currency at `per_1000_usd` units per 1,000 USD, then
/// rounds it to a shelf price: `x.99` for currencies with minor units, tens for those
/// without (JPY).
fn convert(usd_cents: i64, per_1000_usd: i64, digits: u32) -> i64 {
    if per_1000_usd == 1_000 && digits == 2 {
        return usd_cents;
    }
    let num = i128::from(usd_cents) * i128::from(per_1000_usd) * 10i128.pow(digits);
    let den = 100_000i128;
    let minor = (num + den / 2) / den;
    let shelf = if digits == 0 {
        ((minor + 5) / 10 * 10).max(10)
    } else {
        let unit = 10i128.pow(digits);
        ((minor + unit - 1) / unit * unit - 1).max(unit - 1)
    };
    shelf as i64
}

/// Replaces `#` with a digit, `%` with a digit 1-9 and `@` with a letter.
fn fill_template(r: &mut ChaCha8Rng, template: &str) -> String {
    const LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
    template
        .chars()
        .map(|ch| match ch {
            '#' => char::from(b'0' + below(r, 10) as u8),
            '%' => char::from(b'1' + below(r, 9) as u8),
            '@' => char::from(*pick(r, LETTERS)),
            other => other,
        })
        .collect()
}

fn digits(r: &mut ChaCha8Rng, s: &mut String, n: usize) {
    for _ in 0..n {
        s.push(char::from(b'0' + below(r, 10) as u8));
    }
}

/// A mobile number inside libphonenumber's valid ranges for the country, in a common
/// human notation.
fn phone(r: &mut ChaCha8Rng, country: &Country, city: &City) -> String {
    let mut s = String::with_capacity(20);
    match country.phone {
        PhoneStyle::Us => {
            let _ = write!(s, "+1 {}-{}", city.area, 2 + below(r, 8));
            digits(r, &mut s, 2);
            s.push('-');
            digits(r, &mut s, 4);
        }
        PhoneStyle::Gb => {
            let _ = write!(
                s,
                "+44 {} ",
                pick(r, &["7400", "7412", "7712", "7723", "7811", "7956", "7123", "7234", "7345", "7588"])
            );
            digits(r, &mut s, 6);
        }
        PhoneStyle::De => {
            let _ = write!(s, "+49 {} ", pick(r, &["151", "152", "157", "160", "170", "171", "176"]));
            digits(r, &mut s, 8);
        }
        PhoneStyle::Fr => {
            let _ = write!(s, "+33 6 {}", pick(r, &["0", "1", "2", "4", "5", "6", "7", "8"]));
            for i in 0..7 {
                if i % 2 == 1 {
                    s.push(' ');
                }
                digits(r, &mut s, 1);
            }
        }
        PhoneStyle::Sg => {
            let lead = if chance(r, 600) { 90 + below(r, 9) } else { 81 + below(r, 9) };
            let _ = write!(s, "+65 {lead}");
            digits(r, &mut s, 2);
            s.push(' ');
            digits(r, &mut s, 4);
        }
        PhoneStyle::Cn => {
            let _ = write!(
                s,
                "+86 {} ",
                pick(r, &["134", "135", "136", "137", "138", "139", "150", "151", "158", "186", "188"])
            );
            digits(r, &mut s, 4);
            s.push(' ');
            digits(r, &mut s, 4);
        }
        PhoneStyle::Jp => {
            let _ = write!(s, "+81 {}-{}", pick(r, &["90", "80", "70"]), 1 + below(r, 9));
            digits(r, &mut s, 3);
            s.push('-');
            digits(r, &mut s, 4);
        }
        PhoneStyle::Au => {
            let _ = write!(s, "+61 4{}", below(r, 4));
            digits(r, &mut s, 1);
            s.push(' ');
            digits(r, &mut s, 3);
            s.push(' ');
            digits(r, &mut s, 3);
        }
        PhoneStyle::In => {
            s.push_str("+91 9");
            digits(r, &mut s, 4);
            s.push(' ');
            digits(r, &mut s, 5);
        }
        PhoneStyle::Br => {
            let _ = write!(s, "+55 {} 9", city.area);
            digits(r, &mut s, 4);
            s.push('-');
            digits(r, &mut s, 4);
        }
    }
    s
}

/// A company name and a domain-safe slug for it.
fn company_name(r: &mut ChaCha8Rng, country: &Country, culture: &data::Culture) -> (String, String) {
    let suffix = pick(r, country.company_suffixes);
    let (biz, biz_slug) = *pick(r, data::BUSINESS_WORDS);
    match below(r, 3) {
        0 => {
            let (word, slug) = *pick(r, data::COMPANY_WORDS);
            (format!("{word} {biz} {suffix}"), format!("{slug}-{biz_slug}"))
        }
        1 => {
            let (last, slug) = *pick(r, culture.last);
            (format!("{last} {biz} {suffix}"), format!("{slug}-{biz_slug}"))
        }
        _ => {
            let (a, a_slug) = *pick(r, culture.last);
            let (b, b_slug) = *pick(r, culture.last);
            (format!("{a} & {b} {suffix}"), format!("{a_slug}-{b_slug}"))
        }
    }
}

/// A person's email: a name-based local part that always ends with the customer number
/// (so it is unique), on a reserved example domain.
fn person_email(r: &mut ChaCha8Rng, first: &str, last: &str, n: u64) -> String {
    let domain = pick_item(r, data::EMAIL_DOMAINS);
    let initial = &first[..1];
    match below(r, 5) {
        0 => format!("{first}.{last}{n}@{domain}"),
        1 => format!("{first}{last}{n}@{domain}"),
        2 => format!("{initial}{last}{n}@{domain}"),
        3 => format!("{first}_{last}.{n}@{domain}"),
        _ => format!("{last}.{first}{n}@{domain}"),
    }
}

fn tags(r: &mut ChaCha8Rng, p: &Plan, c: &NewCustomer) -> BTreeSet<String> {
    let mut tags = BTreeSet::new();
    let mut tag = |on: bool, name: &str| {
        if on {
            tags.insert(name.to_owned());
        }
    };
    tag(chance(r, 300), "newsletter");
    tag(chance(r, if p.orders >= 40 { 700 } else { 10 }), "vip");
    tag(p.company && chance(r, 900), "b2b");
    tag(p.company && chance(r, 300), "wholesale");
    let young = c.birthday.is_some_and(|b| b >= NaiveDate::from_ymd_opt(1998, 1, 1).expect("valid date"));
    tag(!p.company && chance(r, if young { 400 } else { 20 }), "student");
    tag(chance(r, 150), "loyalty");
    tag(chance(r, 30), "beta");
    tags
}

fn attributes(r: &mut ChaCha8Rng, n: u64, culture: usize) -> serde_json::Map<String, Value> {
    let mut a = serde_json::Map::new();
    a.insert("source".into(), Value::from(*pick_item(r, data::ACQUISITION_SOURCES)));
    a.insert("plan".into(), Value::from(*pick_item(r, data::PLANS)));
    if chance(r, 500) {
        a.insert("language".into(), Value::from(data::LANGUAGES[culture]));
    }
    if chance(r, 300) {
        a.insert("marketing_score".into(), Value::from(below(r, 101)));
    }
    if n > 1 && chance(r, 150) {
        let referrer = 1 + below64(r, n - 1);
        a.insert("referred_by".into(), Value::from(Synth::customer_external_id(referrer)));
    }
    a
}

fn consents(r: &mut ChaCha8Rng, created: i64, has_phone: bool) -> BTreeMap<String, Consent> {
    let mut c = BTreeMap::new();
    let source = Some(if chance(r, 700) { "signup_form" } else { "checkout" }.to_owned());
    c.insert(
        "email_marketing".to_owned(),
        Consent { granted: chance(r, 800), at: ts(created), source: source.clone() },
    );
    if has_phone && chance(r, 400) {
        c.insert("sms_marketing".to_owned(), Consent { granted: chance(r, 600), at: ts(created), source });
    }
    c
}
