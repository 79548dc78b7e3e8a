//! Merging and unmerging customers (see [`crate::identity::merge`]), and resolving a
//! merged-away customer to its survivor: the one place both live.

use chrono::{DateTime, Utc};

use super::{change_order, now, Crm, UnitOfWork};
use crate::changes::{Entity, Op};
use crate::customer::{Customer, CustomerId};
use crate::error::{Error, Result};
use crate::identity::merge::{check_request, check_survivorship, merge_error, restore, source_rank, survive, Moved};
use crate::identity::{
    MergeErrorKind, MergeId, MergeOutcome, MergeRecord, MergeRequest, UnmergeRequest, MAX_MERGE_DEPTH,
};
use crate::loyalty::ledger::{self, Draft, EntryKind};
use crate::order::OrderId;
use crate::segment::SegmentId;
use crate::store::prelude::*;

/// A customer a write named, resolved: the customer to write to, and the merges passed on
/// the way when the one named was merged away (innermost first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Target {
    /// The customer written to.
    pub id: CustomerId,
    /// The standing merges from the customer named to `id`.
    pub via: Vec<MergeId>,
}

impl Target {
    pub(crate) fn direct(id: CustomerId) -> Target {
        Target { id, via: Vec::new() }
    }
}

/// Where `id` resolves: itself when it is not merged away, else the survivor at the end of
/// its chain of merges.
pub(crate) fn resolve(tx: &mut (impl MergeStore + ?Sized), id: CustomerId) -> Result<Target> {
    let mut t = Target::direct(id);
    while let Some((m, s)) = tx.merge_link(t.id)? {
        t.via.push(m);
        t.id = s;
        if t.via.len() > MAX_MERGE_DEPTH {
            return Err(Error::Storage {
                kind: crate::StorageErrorKind::Corrupt,
                message: format!("customer {id} has a chain of merges longer than {MAX_MERGE_DEPTH}"),
                source: None,
            });
        }
    }
    Ok(t)
}

/// [`resolve`] of a customer read: the customer itself, or its survivor as stored.
pub(crate) fn resolve_customer_record(
    tx: &mut (impl CustomerStore + MergeStore + ?Sized),
    c: Customer,
) -> Result<Customer> {
    if c.merged_into.is_none() {
        return Ok(c);
    }
    let t = resolve(tx, c.id)?;
    tx.get_customer(t.id)?.ok_or_else(|| Error::not_found(Entity::Customer, t.id))
}

/// The customer an upsert writes to, given `old`, the stored customer with its key: a
/// merged-away customer's survivor, whose own external id the upsert then keeps.
pub(crate) fn upsert_target(
    tx: &mut (impl ReadTx + ?Sized),
    old: Option<Customer>,
    u: &mut super::CustomerUpsert,
) -> Result<Option<Customer>> {
    match old {
        Some(c) if c.merged_into.is_some() => {
            let s = resolve_customer_record(tx, c)?;
            u.patch.patch.external_id = Some(s.external_id.clone());
            Ok(Some(s))
        }
        other => Ok(other),
    }
}

/// Lists a record written through a merged-away customer with each merge on the way, so
/// each unmerge hands it back.
pub(crate) fn list_written(tx: &mut (impl StoreTx + ?Sized), via: &[MergeId], kind: Moved, id: i64) -> Result<()> {
    for m in via {
        tx.add_merge_moves(*m, kind.as_str(), &[id])?;
    }
    Ok(())
}

impl<S: Store> Crm<S> {
    /// Merges customer `merged` into `survivor` in one transaction.
    ///
    /// The survivor's profile takes fields from the merged customer by
    /// `request.survivorship` (a value is never replaced by nothing; tags are united;
    /// consents take the most restrictive answer per purpose). The merged customer's
    /// orders and interactions move to the survivor (their statistics and loyalty points
    /// follow, as when an order is moved), its unspent loyalty points move as lots with
    /// their own dates, and the survivor joins the static segments it was in. The merged
    /// customer stays stored with [`merged_into`](Customer::merged_into) set: its id and
    /// external id resolve to the survivor from then on (reads, upserts, orders,
    /// interactions, points), and it is left out of queries, segments and identity
    /// resolution. The merge is logged with `request`'s actor, reason and evidence
    /// ([`Crm::merge_history`]); [`Crm::unmerge_customer`] undoes it.
    ///
    /// Refused with [`Error::Merge`], nothing written: a customer merged with itself
    /// ([`MergeErrorKind::SelfMerge`]); a survivor or merged customer already merged away
    /// ([`MergeErrorKind::MergedAway`]), or a survivor merged into the customer to merge
    /// ([`MergeErrorKind::Cycle`]); a chain of merges longer than
    /// [`MAX_MERGE_DEPTH`] ([`MergeErrorKind::TooDeep`]). Repeating a merge that stands
    /// returns it with `replayed` set and writes nothing.
    ///
    /// ```
    /// use crm_core::{Crm, NewCustomer};
    /// use crm_core::identity::MergeRequest;
    /// let crm = Crm::in_memory()?;
    /// let new = |ext: &str, email: Option<&str>| NewCustomer { external_id: Some(ext.into()), name: "Ada".into(),
    ///     email: email.map(Into::into), ..Default::default() };
    /// let web = crm.upsert_customer(&new("WEB-1", Some("ada@example.com")))?.record;
    /// let pos = crm.upsert_customer(&new("POS-9", None))?.record;
    /// let done = crm.merge_customers(pos.id, web.id, &MergeRequest { reason: Some("same email".into()), ..Default::default() })?;
    /// assert_eq!(done.survivor.email.as_deref(), Some("ada@example.com"));
    /// assert_eq!(crm.get_customer_by_external_id("WEB-1")?.id, pos.id, "the merged id resolves to the survivor");
    /// crm.unmerge_customer(web.id, &Default::default())?;
    /// assert_eq!(crm.get_customer(pos.id)?.email, None, "the survivor's own profile is back");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn merge_customers(
        &self,
        survivor: CustomerId,
        merged: CustomerId,
        request: &MergeRequest,
    ) -> Result<MergeOutcome> {
        check_request(request.actor.as_deref(), request.reason.as_deref(), request.evidence.as_ref())?;
        check_survivorship(&request.survivorship)?;
        if survivor == merged {
            return Err(merge_error(
                MergeErrorKind::SelfMerge,
                format!("customer {survivor} cannot be merged with itself"),
            ));
        }
        self.store.write_alone(|tx| merge(tx, survivor, merged, request, now()))
    }

    /// Undoes the standing merge of customer `merged` (see [`Crm::merge_customers`]).
    ///
    /// Each side gets back what is its own: the records the merge moved and the records
    /// written through the merged customer's id or external id since, in their current
    /// state (an order refunded after the merge comes back refunded), go back to it, with
    /// their statistics and points; of the unspent points the merge moved, what the
    /// survivor has not spent goes back as lots with their own dates; the static segments
    /// are as before. Every profile field the merge set and nobody changed since goes back
    /// to the survivor's own value; a field changed after the merge keeps its new value.
    /// The merged customer gets its profile back and stops resolving to the survivor. What
    /// was written for the survivor through its own id stays with it, as do points it spent.
    ///
    /// Refused with [`Error::Merge`], nothing written: a customer never merged
    /// ([`MergeErrorKind::NotMerged`]); one whose survivor was since merged into another
    /// ([`MergeErrorKind::Order`]: undo that merge first). Repeating an unmerge returns the
    /// undone merge with `replayed` set and writes nothing.
    pub fn unmerge_customer(&self, merged: CustomerId, request: &UnmergeRequest) -> Result<MergeOutcome> {
        check_request(request.actor.as_deref(), request.reason.as_deref(), None)?;
        self.store.write_alone(|tx| unmerge(tx, merged, request, now()))
    }

    /// The merges a customer took part in, as survivor or as merged customer, oldest
    /// first, standing and undone.
    pub fn merge_history(&self, customer: CustomerId) -> Result<Vec<MergeRecord>> {
        self.store.read(|tx| {
            if !tx.customer_exists(customer)? {
                return Err(Error::not_found(Entity::Customer, customer));
            }
            tx.merges_of(customer)
        })
    }
}

fn read(tx: &mut (impl StoreTx + ?Sized), id: CustomerId) -> Result<Customer> {
    tx.get_customer(id)?.ok_or_else(|| Error::not_found(Entity::Customer, id))
}

/// The longest chain of standing merges that ends at `c` (0 when nothing is merged into it).
fn depth_into(tx: &mut (impl StoreTx + ?Sized), c: CustomerId) -> Result<usize> {
    let mut level = vec![c];
    let mut depth = 0;
    loop {
        let mut next = Vec::new();
        for id in &level {
            next.extend(tx.merged_into(*id)?);
        }
        if next.is_empty() || depth > MAX_MERGE_DEPTH {
            return Ok(depth);
        }
        depth += 1;
        level = next;
    }
}

fn outcome(
    tx: &mut (impl StoreTx + ?Sized),
    merge: MergeRecord,
    counts: (u64, u64, i64),
    replayed: bool,
) -> Result<MergeOutcome> {
    let survivor = read(tx, merge.survivor)?;
    let merged = read(tx, merge.merged)?;
    Ok(MergeOutcome {
        merge,
        survivor,
        merged,
        orders_moved: counts.0,
        interactions_moved: counts.1,
        points_moved: counts.2,
        replayed,
    })
}

pub(crate) fn merge(
    tx: &mut (impl StoreTx + ?Sized),
    survivor: CustomerId,
    merged: CustomerId,
    request: &MergeRequest,
    at: DateTime<Utc>,
) -> Result<MergeOutcome> {
    let s = read(tx, survivor)?;
    let m = read(tx, merged)?;
    if let Some((id, to)) = tx.merge_link(merged)? {
        if to == survivor {
            let rec = tx.get_merge(id)?.ok_or_else(|| Error::not_found(Entity::Customer, merged))?;
            return outcome(tx, rec, (0, 0, 0), true);
        }
        let end = resolve(tx, merged)?.id;
        return Err(merge_error(
            MergeErrorKind::MergedAway,
            format!("customer {merged} is already merged into customer {to} (which resolves to {end})"),
        ));
    }
    if s.merged_into.is_some() {
        let end = resolve(tx, survivor)?.id;
        if end == merged {
            return Err(merge_error(
                MergeErrorKind::Cycle,
                format!(
                    "customer {survivor} is merged into customer {merged}: merging {merged} into it would make a cycle"
                ),
            ));
        }
        return Err(merge_error(
            MergeErrorKind::MergedAway,
            format!("customer {survivor} is merged into customer {end}; merge into {end} instead"),
        ));
    }
    if depth_into(tx, merged)? + 1 > MAX_MERGE_DEPTH {
        return Err(merge_error(
            MergeErrorKind::TooDeep,
            format!("merging customer {merged} would make a chain of more than {MAX_MERGE_DEPTH} merges"),
        ));
    }
    let rank = |tx: &mut _, c: &Customer| -> Result<usize> {
        let ids = IdentityStore::identities_of(tx, &[c.id])?;
        let primary = c.external_id.as_ref().map(|_| "primary");
        Ok(source_rank(&request.survivorship.source_priority, ids.iter().map(|i| i.source.as_str()).chain(primary)))
    };
    let ranks = if request.survivorship.source_priority.is_empty() { (0, 0) } else { (rank(tx, &s)?, rank(tx, &m)?) };
    let after = survive(&s, &m, &request.survivorship, ranks, at);
    let mut rec = MergeRecord {
        id: MergeId(0),
        survivor,
        merged,
        actor: request.actor.clone(),
        reason: request.reason.clone(),
        evidence: request.evidence.clone(),
        survivorship: request.survivorship.clone(),
        merged_at: at,
        survivor_before: s.clone(),
        merged_before: m.clone(),
        survivor_after: after.clone(),
        unmerged_at: None,
        unmerged_by: None,
        unmerge_reason: None,
    };
    rec.id = tx.insert_merge(&rec)?;

    // Records: orders through the one path of every order change (statistics and points
    // follow), then interactions.
    let orders = tx.order_ids_of(merged)?;
    let interaction_ids = tx.interaction_ids_of(merged)?;
    let (orders_moved, interactions) = move_records(tx, Some(rec.id), &orders, &interaction_ids, merged, survivor, at)?;
    let points = move_points(tx, rec.id, merged, survivor, &format!("merge:{}", rec.id), at)?;
    for (kind, id) in &points.1 {
        tx.add_merge_moves(rec.id, kind.as_str(), &[*id])?;
    }

    // Static segments: the survivor joins those the merged customer was in.
    let own: std::collections::HashSet<i64> = tx.static_segments_of(survivor)?.into_iter().collect();
    for seg in tx.static_segments_of(merged)? {
        tx.change_members(SegmentId(seg), &[], &[merged], at)?;
        tx.add_merge_moves(rec.id, Moved::SegmentLeft.as_str(), &[seg])?;
        if !own.contains(&seg) {
            tx.change_members(SegmentId(seg), &[survivor], &[], at)?;
            tx.add_merge_moves(rec.id, Moved::SegmentJoined.as_str(), &[seg])?;
        }
    }

    // Profiles.
    super::matching::update_customer(tx, &s, &after)?;
    tx.append_change(Entity::Customer, survivor.0, Op::Update, at)?;
    let gone = Customer { merged_into: Some(survivor), updated_at: at, ..m.clone() };
    super::matching::update_customer(tx, &m, &gone)?;
    tx.append_change(Entity::Customer, merged.0, Op::Update, at)?;
    outcome(tx, rec, (orders_moved, interactions, points.0), false)
}

/// Moves orders and interactions from `from` to `to` (the orders through the one path of
/// every order change), listing them with merge `list` (when merging). Those no longer
/// `from`'s (deleted, or moved by the host since) are left alone. Returns the orders and
/// interactions moved.
fn move_records(
    tx: &mut (impl StoreTx + ?Sized),
    list: Option<MergeId>,
    orders: &[OrderId],
    interactions: &[crate::interaction::InteractionId],
    from: CustomerId,
    to: CustomerId,
    at: DateTime<Utc>,
) -> Result<(u64, u64)> {
    let mut acc = UnitOfWork::default();
    let mut orders_moved = 0;
    for o in orders {
        let Some(old) = tx.get_order(*o)? else { continue };
        if old.customer_id != from {
            continue;
        }
        let new = crate::order::Order { customer_id: to, ..old.clone() };
        change_order(tx, old, new, at, &mut acc)?;
        orders_moved += 1;
    }
    if let Some(id) = list {
        let ids: Vec<i64> = orders.iter().map(|o| o.0).collect();
        tx.add_merge_moves(id, Moved::Order.as_str(), &ids)?;
    }
    let mut moved = 0;
    let mut listed = Vec::new();
    for i in interactions {
        let Some(mut it) = tx.get_interaction(*i)? else { continue };
        if it.customer_id != from {
            continue;
        }
        it.customer_id = to;
        tx.update_interaction(&it)?;
        tx.append_change(Entity::Interaction, it.id.0, Op::Update, at)?;
        listed.push(it.id.0);
        moved += 1;
    }
    if moved > 0 {
        acc.recompute(from);
        acc.recompute(to);
    }
    if let Some(id) = list {
        tx.add_merge_moves(id, Moved::Interaction.as_str(), &listed)?;
    }
    acc.flush(tx)?;
    Ok((orders_moved, moved))
}

/// Moves what is left of `from`'s lots (`only`: these lots; else every open one) to `to`,
/// each as a lot with its own dates: an `adjust` entry down on `from` and one up on `to`,
/// keyed `<key>:lot:<lot id>`. Returns the points moved and the entries that credited `to`.
fn move_points_of(
    tx: &mut (impl StoreTx + ?Sized),
    from: CustomerId,
    to: CustomerId,
    only: Option<&[i64]>,
    key: &str,
    note: &str,
    at: DateTime<Utc>,
) -> Result<(i64, Vec<(Moved, i64)>)> {
    let lots: Vec<_> = tx
        .open_lots(from)?
        .into_iter()
        .filter(|l| l.remaining > 0 && !l.expired && only.is_none_or(|o| o.contains(&l.id)))
        .collect();
    if lots.is_empty() {
        return Ok((0, Vec::new()));
    }
    let mut out_acct = ledger::account(tx, from, at)?;
    let mut in_acct = ledger::account(tx, to, at)?;
    let (mut total, mut credited) = (0, Vec::new());
    for l in lots {
        let k_out = format!("{key}:lot:{}:out", l.id);
        let k_in = format!("{key}:lot:{}:in", l.id);
        ledger::take_from_lots(tx, from, l.remaining, Some(l.id), None)?;
        fn d<'k>(customer: CustomerId, points: i64, key: &'k str, note: &str, at: DateTime<Utc>) -> Draft<'k> {
            Draft {
                customer_id: customer,
                kind: EntryKind::Adjust,
                points,
                qualifying: 0,
                key,
                order_id: None,
                amount_minor: None,
                at,
                note: Some(note.to_string()),
            }
        }
        ledger::append(tx, &mut out_acct, d(from, -l.remaining, &k_out, note, at), at)?;
        let e =
            ledger::credit(tx, &mut in_acct, d(to, l.remaining, &k_in, note, at), l.available_at, l.expires_at, at)?;
        credited.push((Moved::PointsIn, e.id.0));
        // A lot that came in by an earlier merge still belongs to that merge's merged
        // side: its continuation is listed with that merge too.
        for m in tx.merges_listing(Moved::PointsIn.as_str(), l.entry_id.0)? {
            tx.add_merge_moves(m, Moved::PointsIn.as_str(), &[e.id.0])?;
        }
        total += l.remaining;
    }
    tx.put_loyalty_account(&out_acct)?;
    tx.put_loyalty_account(&in_acct)?;
    Ok((total, credited))
}

fn move_points(
    tx: &mut (impl StoreTx + ?Sized),
    id: MergeId,
    from: CustomerId,
    to: CustomerId,
    key: &str,
    at: DateTime<Utc>,
) -> Result<(i64, Vec<(Moved, i64)>)> {
    move_points_of(tx, from, to, None, key, &format!("merge {id}: customer {from} merged into {to}"), at)
}

fn unmerge(
    tx: &mut (impl StoreTx + ?Sized),
    merged: CustomerId,
    request: &UnmergeRequest,
    at: DateTime<Utc>,
) -> Result<MergeOutcome> {
    let m = read(tx, merged)?;
    let Some((id, survivor)) = tx.merge_link(merged)? else {
        return match tx.last_merge_of(merged)? {
            Some(rec) => outcome(tx, rec, (0, 0, 0), true),
            None => Err(merge_error(MergeErrorKind::NotMerged, format!("customer {merged} was never merged"))),
        };
    };
    let s = read(tx, survivor)?;
    if s.merged_into.is_some() {
        let end = resolve(tx, survivor)?.id;
        return Err(merge_error(
            MergeErrorKind::Order,
            format!("customer {merged} was merged into {survivor}, since merged into {end}: unmerge {survivor} first"),
        ));
    }
    let rec = tx.get_merge(id)?.ok_or_else(|| Error::not_found(Entity::Customer, merged))?;
    let moves = tx.merge_moves(id)?;
    let of = |kind: Moved| -> Vec<i64> {
        moves.iter().filter(|(k, _)| Moved::parse(k) == Some(kind)).map(|(_, id)| *id).collect()
    };
    let orders: Vec<OrderId> = of(Moved::Order).into_iter().map(OrderId).collect();
    let interactions: Vec<_> = of(Moved::Interaction).into_iter().map(crate::interaction::InteractionId).collect();
    let (orders_back, interactions_back) = move_records(tx, None, &orders, &interactions, survivor, merged, at)?;

    // Points: what is left of the lots the merge credited goes back.
    let mut lots = Vec::new();
    for e in of(Moved::PointsIn) {
        if let Some(l) = tx.lot_of_entry(crate::loyalty::EntryId(e))? {
            lots.push(l.id);
        }
    }
    let note = format!("unmerge {id}: customer {merged} split from {survivor}");
    let points = move_points_of(tx, survivor, merged, Some(&lots), &format!("unmerge:{id}"), &note, at)?;

    for seg in of(Moved::SegmentJoined) {
        if tx.static_segments_of(survivor)?.contains(&seg) {
            tx.change_members(SegmentId(seg), &[], &[survivor], at)?;
        }
    }
    let statics: std::collections::HashSet<i64> = tx
        .list_segments()?
        .into_iter()
        .filter(|g| g.kind == crate::segment::SegmentKind::Static)
        .map(|g| g.id.0)
        .collect();
    for seg in of(Moved::SegmentLeft) {
        if statics.contains(&seg) {
            tx.change_members(SegmentId(seg), &[merged], &[], at)?;
        }
    }

    let back = restore(&s, &rec.survivor_before, &rec.survivor_after, at);
    super::matching::update_customer(tx, &s, &back)?;
    tx.append_change(Entity::Customer, survivor.0, Op::Update, at)?;
    let own = Customer { merged_into: None, updated_at: at, ..m.clone() };
    super::matching::update_customer(tx, &m, &own)?;
    tx.append_change(Entity::Customer, merged.0, Op::Update, at)?;
    tx.close_merge(id, at, request.actor.as_deref(), request.reason.as_deref())?;
    let rec = tx.get_merge(id)?.ok_or_else(|| Error::not_found(Entity::Customer, merged))?;
    outcome(tx, rec, (orders_back, interactions_back, points.0), false)
}
