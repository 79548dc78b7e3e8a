//! Segments, rule evaluation, scoring, tiers and lifecycle: the facade over [`segment`](crate::segment).

use crate::changes::{Entity, Op};
use crate::config::ConfigKey;
use crate::crm::Crm;
use crate::customer::{CustomerId, LifecycleStage};
use crate::error::{Error, Result};
use crate::money::Money;
use crate::rule::{self, check, Cmp, Cond, Expr, SegmentDef, Value};
use crate::segment::api::*;
use crate::segment::lifecycle::LifecycleRules;
use crate::segment::scoring::ScoringPlan;
use crate::segment::tiers::{TierBasis, TierConfig};
use crate::segment::HistoryEntry;
use crate::segment::{check_name, NewSegment, Segment, SegmentId, SegmentKind, SegmentPatch};
use crate::store::prelude::*;
use chrono::{DateTime, Utc};

use std::collections::BTreeMap;

impl<S: Store> Crm<S> {
    /// Checks a rule against the stored segments and scoring plans without evaluating it.
    ///
    /// ```
    /// let crm = crm_core::Crm::in_memory().unwrap();
    /// assert!(crm.check_rule(&crm_core::rule::parse("country > 5").unwrap()).is_err());
    /// ```
    pub fn check_rule(&self, rule: &Expr) -> Result<()> {
        self.store.read(|tx| check(rule, &definitions(tx)?, Utc::now()).map(|_| ()))
    }

    /// Number of customers meeting `rule` now (set-at-a-time in the store; SQL on SQLite).
    ///
    /// ```
    /// use crm_core::{rule::parse, Crm, NewCustomer};
    /// let crm = Crm::in_memory().unwrap();
    /// crm.create_customer(&NewCustomer { name: "Ada".into(), ..Default::default() }).unwrap();
    /// assert_eq!(crm.count_matching(&parse(r#"name starts with "A""#).unwrap(), None).unwrap(), 1);
    /// ```
    pub fn count_matching(&self, rule: &Expr, as_of: Option<DateTime<Utc>>) -> Result<i64> {
        let as_of = self.rule_time(as_of)?;
        self.store.read(|tx| {
            let c = check(rule, &definitions(tx)?, as_of)?;
            tx.rule_count(&c)
        })
    }

    /// The time a rule is evaluated at: `as_of` (from `min_time` to
    /// [`max_forecast_days`](crate::ValidationConfig::max_forecast_days) ahead, so that
    /// "who will have lapsed next quarter" can be asked), or now.
    fn rule_time(&self, as_of: Option<DateTime<Utc>>) -> Result<DateTime<Utc>> {
        as_of.map_or_else(|| Ok(Utc::now()), |t| self.validator.forecast_time("as_of", t))
    }

    /// Customers meeting `rule` now, ascending by id, strictly after `after`, at most
    /// `limit` (1 to 100,000). Pass the last id back for the next page.
    pub fn members_matching(
        &self,
        rule: &Expr,
        as_of: Option<DateTime<Utc>>,
        after: Option<CustomerId>,
        limit: usize,
    ) -> Result<Vec<CustomerId>> {
        check_page(limit)?;
        let as_of = self.rule_time(as_of)?;
        self.store.read(|tx| {
            let c = check(rule, &definitions(tx)?, as_of)?;
            tx.rule_members(&c, after, limit)
        })
    }

    /// Whether one customer meets `rule` now, evaluated in memory (the real-time check).
    ///
    /// ```
    /// use crm_core::{rule::parse, Crm, NewCustomer};
    /// let crm = Crm::in_memory().unwrap();
    /// let ada = crm.create_customer(&NewCustomer { name: "Ada".into(), tags: ["vip".to_string()].into(),
    ///     ..Default::default() }).unwrap();
    /// assert!(crm.matches(ada.id, &parse(r#""vip" in tags and order_count = 0"#).unwrap()).unwrap());
    /// ```
    pub fn matches(&self, customer: CustomerId, rule: &Expr) -> Result<bool> {
        self.matches_at(customer, rule, None)
    }

    /// [`Crm::matches`] as of a time (`now()` in the rule), default now.
    pub fn matches_at(&self, customer: CustomerId, rule: &Expr, as_of: Option<DateTime<Utc>>) -> Result<bool> {
        let as_of = self.rule_time(as_of)?;
        self.store.read(|tx| {
            let c = check(rule, &definitions(tx)?, as_of)?;
            evaluate_one(tx, customer, &c)
        })
    }

    /// Creates a saved segment: dynamic when it has a rule, static (a list) otherwise.
    /// The rule is checked (fields, types, references; cycles are refused).
    ///
    /// ```
    /// use crm_core::{rule::parse, segment::NewSegment, Crm};
    /// let crm = Crm::in_memory().unwrap();
    /// let s = crm.create_segment(&NewSegment { name: "vip".into(),
    ///     rule: Some(parse(r#""vip" in tags"#).unwrap()), ..Default::default() }).unwrap();
    /// assert_eq!(crm.segment_count("vip").unwrap(), 0);
    /// # let _ = s;
    /// ```
    pub fn create_segment(&self, new: &NewSegment) -> Result<Segment> {
        check_name("name", &new.name)?;
        check_description(&new.description)?;
        if new.rule.is_some() && !new.members.is_empty() {
            return Err(Error::validation("members", "a segment with a rule has no member list"));
        }
        let now = crate::crm::now();
        self.store.write(|tx| {
            if tx.segment_by_name(&new.name)?.is_some() {
                return Err(Error::Conflict(format!("a segment named {:?} exists", new.name)));
            }
            let kind = if new.rule.is_some() { SegmentKind::Dynamic } else { SegmentKind::Static };
            let mut seg = Segment {
                id: SegmentId(0),
                name: new.name.clone(),
                kind,
                rule: new.rule.clone(),
                description: new.description.clone(),
                created_at: now,
                updated_at: now,
                snapshot_at: None,
            };
            if let Some(r) = &new.rule {
                let mut defs = definitions(tx)?;
                defs.segments.insert(new.name.clone(), SegmentDef::Dynamic(r.clone()));
                check(r, &defs, now)?;
            }
            let mut members = new.members.clone();
            members.sort();
            members.dedup();
            for m in &members {
                if !tx.customer_exists(*m)? {
                    return Err(Error::not_found(Entity::Customer, m));
                }
            }
            seg.id = tx.insert_segment(&seg)?;
            tx.append_change(Entity::Segment, seg.id.0, Op::Insert, now)?;
            tx.change_members(seg.id, &members, &[], now)?;
            Ok(seg)
        })
    }

    /// Changes a segment's name, description or rule (dynamic segments only). A segment
    /// other rules refer to cannot be renamed.
    pub fn update_segment(&self, name: &str, patch: &SegmentPatch) -> Result<Segment> {
        if let Some(n) = &patch.name {
            check_name("name", n)?;
        }
        if let Some(d) = &patch.description {
            check_description(d)?;
        }
        let now = crate::crm::now();
        self.store.write(|tx| {
            let mut seg = segment_named(tx, name)?;
            if let Some(n) = &patch.name {
                if n != name {
                    if tx.segment_by_name(n)?.is_some() {
                        return Err(Error::Conflict(format!("a segment named {n:?} exists")));
                    }
                    let deps = dependents(tx, Some(name), None)?;
                    if !deps.is_empty() {
                        return Err(Error::Conflict(format!("segment {name:?} is used by {}", deps.join(", "))));
                    }
                    seg.name = n.clone();
                }
            }
            if let Some(d) = &patch.description {
                seg.description = d.clone();
            }
            if let Some(r) = &patch.rule {
                if seg.kind == SegmentKind::Static {
                    return Err(Error::validation("rule", "a static segment has no rule"));
                }
                let mut defs = definitions(tx)?;
                defs.segments.remove(name);
                defs.segments.insert(seg.name.clone(), SegmentDef::Dynamic(r.clone()));
                check(r, &defs, now)?;
                seg.rule = Some(r.clone());
            }
            seg.updated_at = now;
            tx.update_segment(&seg)?;
            tx.append_change(Entity::Segment, seg.id.0, Op::Update, now)?;
            Ok(seg)
        })
    }

    /// Deletes a segment and its stored members. A segment other rules refer to is refused
    /// ([`Error::Conflict`] naming them).
    pub fn delete_segment(&self, name: &str) -> Result<()> {
        let now = crate::crm::now();
        self.store.write(|tx| {
            let seg = segment_named(tx, name)?;
            let deps = dependents(tx, Some(name), None)?;
            if !deps.is_empty() {
                return Err(Error::Conflict(format!("segment {name:?} is used by {}", deps.join(", "))));
            }
            tx.delete_segment(seg.id)?;
            tx.append_change(Entity::Segment, seg.id.0, Op::Delete, now)?;
            Ok(())
        })
    }

    /// A saved segment by name.
    pub fn segment(&self, name: &str) -> Result<Segment> {
        self.store.read(|tx| segment_named(tx, name))
    }

    /// Every saved segment, by name.
    pub fn segments(&self) -> Result<Vec<Segment>> {
        self.store.read(|tx| tx.list_segments())
    }

    /// Number of members now: a dynamic segment's rule is evaluated, a static one's list counted.
    pub fn segment_count(&self, name: &str) -> Result<i64> {
        self.store.read(|tx| {
            let seg = segment_named(tx, name)?;
            match seg.kind {
                SegmentKind::Static => tx.count_stored_members(seg.id),
                SegmentKind::Dynamic => {
                    let c = membership(&seg, &definitions(tx)?, Utc::now())?;
                    tx.rule_count(&c)
                }
            }
        })
    }

    /// Members now, ascending by id, strictly after `after`, at most `limit` (1 to 100,000).
    pub fn segment_members(&self, name: &str, after: Option<CustomerId>, limit: usize) -> Result<Vec<CustomerId>> {
        check_page(limit)?;
        self.store.read(|tx| {
            let seg = segment_named(tx, name)?;
            match seg.kind {
                SegmentKind::Static => tx.stored_members(seg.id, after, limit),
                SegmentKind::Dynamic => {
                    let c = membership(&seg, &definitions(tx)?, Utc::now())?;
                    tx.rule_members(&c, after, limit)
                }
            }
        })
    }

    /// Whether a customer is a member now (a dynamic segment's rule is evaluated in memory).
    pub fn is_member(&self, customer: CustomerId, segment: &str) -> Result<bool> {
        self.store.read(|tx| {
            let seg = segment_named(tx, segment)?;
            let c = membership(&seg, &definitions(tx)?, Utc::now())?;
            evaluate_one(tx, customer, &c)
        })
    }

    /// Adds customers to a static segment; returns how many were not members yet. Each
    /// entry appends an `enter` feed entry. Unknown customers are refused, nothing written.
    pub fn add_segment_members(&self, segment: &str, customers: &[CustomerId]) -> Result<usize> {
        self.edit_static(segment, customers, true)
    }

    /// Removes customers from a static segment; returns how many were members.
    pub fn remove_segment_members(&self, segment: &str, customers: &[CustomerId]) -> Result<usize> {
        self.edit_static(segment, customers, false)
    }

    fn edit_static(&self, segment: &str, customers: &[CustomerId], add: bool) -> Result<usize> {
        if customers.len() > MAX_MEMBERS_PAGE {
            return Err(Error::validation("customers", format!("at most {MAX_MEMBERS_PAGE} per call")));
        }
        let now = crate::crm::now();
        self.store.write(|tx| {
            let seg = segment_named(tx, segment)?;
            if seg.kind != SegmentKind::Static {
                return Err(Error::validation(
                    "segment",
                    format!("{segment:?} is dynamic: its rule decides its members"),
                ));
            }
            let mut ids = customers.to_vec();
            ids.sort();
            ids.dedup();
            let mut changed = Vec::new();
            for id in ids {
                if add && !tx.customer_exists(id)? {
                    return Err(Error::not_found(Entity::Customer, id));
                }
                let member = tx.static_segments_of(id)?.contains(&seg.id.0);
                if member != add {
                    changed.push(id);
                }
            }
            if add {
                tx.change_members(seg.id, &changed, &[], now)?;
            } else {
                tx.change_members(seg.id, &[], &changed, now)?;
            }
            Ok(changed.len())
        })
    }

    /// Evaluates a dynamic segment now, stores its members and appends an `enter` or
    /// `leave` feed entry for each customer who entered or left since the last snapshot.
    pub fn snapshot_segment(&self, name: &str) -> Result<Snapshot> {
        let now = Utc::now();
        self.store.write(|tx| {
            let mut seg = segment_named(tx, name)?;
            if seg.kind != SegmentKind::Dynamic {
                return Err(Error::validation("segment", format!("{name:?} is static: its list is its membership")));
            }
            let c = membership(&seg, &definitions(tx)?, now)?;
            let current = all_members(tx, &c)?;
            let mut before = Vec::new();
            let mut after = None;
            loop {
                let page = tx.stored_members(seg.id, after, MAX_MEMBERS_PAGE)?;
                after = page.last().copied();
                let done = page.len() < MAX_MEMBERS_PAGE;
                before.extend(page);
                if done {
                    break;
                }
            }
            let (entered, left) = diff_sorted(&before, &current);
            tx.change_members(seg.id, &entered, &left, now)?;
            seg.snapshot_at = Some(now);
            tx.update_segment(&seg)?;
            Ok(Snapshot { segment: seg.id, at: now, members: current.len() as i64, entered, left })
        })
    }

    /// Stores a scoring plan (replacing one of the same name); its rules are checked.
    /// Storing a plan exactly as it is stored changes nothing.
    ///
    /// ```
    /// use crm_core::{Crm, NewCustomer, segment::ScoringPlan};
    /// let crm = Crm::in_memory().unwrap();
    /// let ada = crm.create_customer(&NewCustomer { name: "Ada".into(), email: Some("ada@example.com".into()),
    ///     ..Default::default() }).unwrap();
    /// let plan: ScoringPlan = serde_json::from_str(r#"{"name": "lead", "rules": [
    ///     {"when": "email is not null", "points": 10}, {"when": "phone is not null", "points": 5}]}"#).unwrap();
    /// crm.put_scoring_plan(&plan).unwrap();
    /// assert_eq!(crm.score(ada.id, "lead").unwrap(), 10);
    /// assert!(crm.matches(ada.id, &crm_core::rule::parse("score.lead >= 10").unwrap()).unwrap());
    /// ```
    pub fn put_scoring_plan(&self, plan: &ScoringPlan) -> Result<()> {
        plan.validate()?;
        let now = Utc::now();
        self.store.write(|tx| {
            let mut defs = definitions(tx)?;
            defs.plans.insert(plan.name.clone(), plan.as_pairs());
            let probe = Expr::Compare {
                left: Value::Field { name: format!("score.{}", plan.name) },
                cmp: Cmp::Ge,
                right: Value::Literal { value: rule::Literal::Int(0) },
            };
            check(&probe, &defs, now)?;
            // Storing the plan as it is stored is a no-op: no feed entry for a change that is none.
            if tx.list_plans()?.iter().any(|p| p == plan) {
                return Ok(());
            }
            let (id, created) = tx.put_plan(plan, now)?;
            tx.append_change(Entity::ScoringPlan, id, if created { Op::Insert } else { Op::Update }, now)?;
            Ok(())
        })
    }

    /// Every scoring plan, by name.
    pub fn scoring_plans(&self) -> Result<Vec<ScoringPlan>> {
        self.store.read(|tx| tx.list_plans())
    }

    /// Deletes a scoring plan; refused while a stored rule uses `score.<name>`.
    pub fn delete_scoring_plan(&self, name: &str) -> Result<()> {
        let now = Utc::now();
        self.store.write(|tx| {
            let deps = dependents(tx, None, Some(name))?;
            if !deps.is_empty() {
                return Err(Error::Conflict(format!("scoring plan {name:?} is used by {}", deps.join(", "))));
            }
            let id = tx.delete_plan(name)?.ok_or_else(|| Error::not_found(Entity::ScoringPlan, name))?;
            tx.append_change(Entity::ScoringPlan, id, Op::Delete, now)?;
            Ok(())
        })
    }

    /// A customer's score under a plan now.
    pub fn score(&self, customer: CustomerId, plan: &str) -> Result<i64> {
        self.store.read(|tx| {
            let defs = definitions(tx)?;
            let rules = plan_conditions(&defs, plan)?;
            let mut total = 0;
            for (c, points) in &rules {
                if evaluate_one(tx, customer, c)? {
                    total += points;
                }
            }
            Ok(total)
        })
    }

    /// Every customer's score under a plan now, ascending by customer id.
    pub fn scores(&self, plan: &str) -> Result<Vec<(CustomerId, i64)>> {
        self.store.read(|tx| {
            let defs = definitions(tx)?;
            let rules = plan_conditions(&defs, plan)?;
            tx.score_all(&rules)
        })
    }

    /// Stores the lifecycle rules (checked first).
    pub fn set_lifecycle_rules(&self, rules: &LifecycleRules) -> Result<()> {
        rules.validate()?;
        self.store.write(|tx| {
            let defs = definitions(tx)?;
            for (i, r) in rules.rules.iter().enumerate() {
                check(&r.when, &defs, Utc::now()).map_err(|e| at_rule(e, &format!("rules[{i}].when")))?;
            }
            tx.put_config(
                ConfigKey::LifecycleRules,
                &serde_json::to_string(rules).map_err(|e| Error::validation("rules", e.to_string()))?,
                crate::crm::now(),
            )
        })
    }

    /// The stored lifecycle rules, or the defaults ([`LifecycleRules::default`]).
    pub fn lifecycle_rules(&self) -> Result<LifecycleRules> {
        self.store.read(|tx| Ok(lifecycle_rules(tx)?.unwrap_or_default()))
    }

    /// Re-evaluates every customer's lifecycle stage as of `as_of` (default now): the first
    /// rule met gives the stage; customers meeting none keep theirs. Each change updates
    /// the customer, is recorded in its stage history at `as_of` and appends an `update`
    /// feed entry. One transaction, which no other write runs beside: it reads every
    /// customer's stage and writes the changed ones, so a stage a concurrent call set (an
    /// upsert with `lifecycle`) is either seen or set after it, never overwritten unseen.
    pub fn refresh_lifecycle(&self, as_of: Option<DateTime<Utc>>) -> Result<Refresh> {
        let as_of = as_of.unwrap_or_else(Utc::now);
        let as_of = self.validator.time("as_of", as_of)?;
        self.store.write_alone(|tx| {
            let rules = lifecycle_rules(tx)?.unwrap_or_default();
            let defs = definitions(tx)?;
            let conds = rules
                .rules
                .iter()
                .enumerate()
                .map(|(i, r)| check(&r.when, &defs, as_of).map_err(|e| at_rule(e, &format!("rules[{i}].when"))))
                .collect::<Result<Vec<_>>>()?;
            let rows = tx.classify(&conds)?;
            let mut counts: BTreeMap<String, i64> = BTreeMap::new();
            let mut changes = Vec::new();
            let mut history = Vec::new();
            for row in &rows {
                let stage = row.rule.map_or(row.stage, |i| rules.rules[i].stage);
                *counts.entry(name_of(&stage)).or_default() += 1;
                if stage != row.stage {
                    changes.push((row.customer_id, stage));
                    history.push(HistoryEntry {
                        customer_id: row.customer_id,
                        previous: Some((name_of(&row.stage), row.created_at.min(as_of))),
                        value: name_of(&stage),
                        at: as_of,
                    });
                }
            }
            tx.set_stages(&changes, as_of)?;
            tx.append_history("lifecycle", &history)?;
            for (id, _) in &changes {
                tx.append_change(Entity::Customer, id.0, Op::Update, as_of)?;
            }
            Ok(Refresh { as_of, customers: rows.len() as i64, changed: changes.len() as i64, counts })
        })
    }

    /// When each lifecycle stage of a customer began, oldest first. A customer whose stage
    /// never changed has no history (its stage began when it was created).
    pub fn stage_history(&self, customer: CustomerId) -> Result<Vec<(LifecycleStage, DateTime<Utc>)>> {
        self.store.read(|tx| {
            if !tx.customer_exists(customer)? {
                return Err(Error::not_found(Entity::Customer, customer));
            }
            tx.history(customer, "lifecycle")?
                .into_iter()
                .map(|(v, at)| {
                    serde_json::from_value(serde_json::Value::String(v.clone()))
                        .map(|s| (s, at))
                        .map_err(|_| Error::validation("lifecycle", format!("stored stage {v:?} is unknown")))
                })
                .collect()
        })
    }

    /// Stores the value-tier settings (checked first).
    ///
    /// ```
    /// use crm_core::{Crm, segment::TierConfig};
    /// let crm = Crm::in_memory().unwrap();
    /// let t: TierConfig = serde_json::from_str(r#"{"basis": {"by": "spend", "currency": "USD",
    ///     "tiers": [{"name": "high", "min_minor": 100000}, {"name": "medium", "min_minor": 10000}]},
    ///     "default": "low"}"#).unwrap();
    /// crm.set_tier_config(&t).unwrap();
    /// assert_eq!(crm.refresh_tiers(None).unwrap().changed, 0);
    /// ```
    pub fn set_tier_config(&self, config: &TierConfig) -> Result<()> {
        config.validate()?;
        self.store.write(|tx| {
            if let TierBasis::Rules { tiers } = &config.basis {
                let defs = definitions(tx)?;
                for (i, t) in tiers.iter().enumerate() {
                    check(&t.when, &defs, Utc::now()).map_err(|e| at_rule(e, &format!("basis.tiers[{i}].when")))?;
                }
            }
            tx.put_config(
                ConfigKey::ValueTiers,
                &serde_json::to_string(config).map_err(|e| Error::validation("tiers", e.to_string()))?,
                crate::crm::now(),
            )
        })
    }

    /// The stored value-tier settings, if any.
    pub fn tier_config(&self) -> Result<Option<TierConfig>> {
        self.store.read(|tx| tier_config(tx))
    }

    /// Re-evaluates every customer's value tier as of `as_of` (default now) with the stored
    /// settings; changes are stored, recorded in the tier history and fed as customer updates.
    pub fn refresh_tiers(&self, as_of: Option<DateTime<Utc>>) -> Result<Refresh> {
        let as_of = as_of.unwrap_or_else(Utc::now);
        let as_of = self.validator.time("as_of", as_of)?;
        self.store.write(|tx| {
            let config = tier_config(tx)?.ok_or_else(|| {
                Error::validation("tiers", "no value-tier settings stored; call set_tier_config first")
            })?;
            let defs = definitions(tx)?;
            let (names, conds): (Vec<String>, Vec<Cond>) = match &config.basis {
                TierBasis::Rules { tiers } => {
                    let mut out = (Vec::new(), Vec::new());
                    for (i, t) in tiers.iter().enumerate() {
                        out.0.push(t.name.clone());
                        out.1.push(
                            check(&t.when, &defs, as_of).map_err(|e| at_rule(e, &format!("basis.tiers[{i}].when")))?,
                        );
                    }
                    out
                }
                TierBasis::Spend { currency, tiers } => tiers
                    .iter()
                    .map(|t| (t.name.clone(), spend_at_least(Money { minor: t.min_minor, currency: *currency })))
                    .unzip(),
                TierBasis::Percentile { currency, tiers } => {
                    let values = tx.spend_values(*currency)?;
                    tiers
                        .iter()
                        .map(|t| {
                            let min = percentile_cutoff(&values, t.top_percent);
                            (t.name.clone(), spend_at_least(Money { minor: min, currency: *currency }))
                        })
                        .unzip()
                }
            };
            let rows = tx.classify(&conds)?;
            let mut old: BTreeMap<CustomerId, String> = tx.all_tiers()?.into_iter().collect();
            let mut counts: BTreeMap<String, i64> = BTreeMap::new();
            let mut changes = Vec::new();
            let mut history = Vec::new();
            for row in &rows {
                let id = &row.customer_id;
                let tier = row.rule.map(|i| names[i].clone()).or_else(|| config.default.clone());
                if let Some(t) = &tier {
                    *counts.entry(t.clone()).or_default() += 1;
                }
                let before = old.remove(id);
                if before != tier {
                    if let Some(t) = &tier {
                        history.push(HistoryEntry { customer_id: *id, previous: None, value: t.clone(), at: as_of });
                    }
                    changes.push((*id, tier));
                }
            }
            tx.set_tiers(&changes, as_of)?;
            tx.append_history("tier", &history)?;
            for (id, _) in &changes {
                tx.append_change(Entity::Customer, id.0, Op::Update, as_of)?;
            }
            Ok(Refresh { as_of, customers: rows.len() as i64, changed: changes.len() as i64, counts })
        })
    }

    /// A customer's value tier, if any.
    pub fn tier_of(&self, customer: CustomerId) -> Result<Option<String>> {
        self.store.read(|tx| {
            if !tx.customer_exists(customer)? {
                return Err(Error::not_found(Entity::Customer, customer));
            }
            tx.tier_of(customer)
        })
    }

    /// When each value tier of a customer began, oldest first.
    pub fn tier_history(&self, customer: CustomerId) -> Result<Vec<(String, DateTime<Utc>)>> {
        self.store.read(|tx| {
            if !tx.customer_exists(customer)? {
                return Err(Error::not_found(Entity::Customer, customer));
            }
            tx.history(customer, "tier")
        })
    }
}
