//! Merging and unmerging customers through the facade, on the store under test
//! (tests/common): records, statistics, points and segments follow a merge; the merged
//! customer resolves to its survivor for reads and writes; an unmerge gives each side back
//! what is its own; every refused merge is a typed error that writes nothing; and (a
//! property test) any interleaving of merges, unmerges and writes ends, once everything is
//! unmerged, where the same writes applied to customers never merged end.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{recomputed_stats, test_crm};
use crm_core::identity::{
    MergeErrorKind, MergeRequest, Prefer, Survivorship, UnmergeRequest, MAX_EVIDENCE_BYTES, MAX_MERGE_DEPTH,
};
use crm_core::ingest::IngestOptions;
use crm_core::loyalty::Program;
use crm_core::segment::NewSegment;
use crm_core::*;
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn person(ext: &str, name: &str) -> NewCustomer {
    NewCustomer { external_id: Some(ext.into()), name: name.into(), ..Default::default() }
}

fn order(ext: &str, customer: &str, minor: i64, day: i64) -> NewOrder {
    serde_json::from_value(serde_json::json!({
        "external_id": ext, "customer_external_id": customer, "occurred_at": t0() + Duration::days(day),
        "currency": "USD", "total_minor": minor,
    }))
    .unwrap()
}

fn interaction(ext: &str, customer: &str, day: i64) -> NewInteraction {
    serde_json::from_value(serde_json::json!({
        "external_id": ext, "customer_external_id": customer, "kind": "call", "occurred_at": t0() + Duration::days(day),
    }))
    .unwrap()
}

fn merge_kind(e: Error) -> MergeErrorKind {
    match e {
        Error::Merge { kind, .. } => kind,
        other => panic!("expected a merge error, got {other:?}"),
    }
}

fn why(reason: &str) -> MergeRequest {
    MergeRequest { actor: Some("tests".into()), reason: Some(reason.into()), ..Default::default() }
}

fn orders_of(crm: &Crm, id: CustomerId) -> Vec<String> {
    let mut out: Vec<String> = crm
        .timeline(id, 500, None)
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| match e {
            TimelineEntry::Order(o) => Some(o.external_id),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

#[test]
fn merge_moves_records_resolves_ids_and_unmerge_gives_them_back() {
    let crm = test_crm();
    let mut web = person("WEB-1", "Ada Lovelace");
    web.email = Some("ada@example.com".into());
    web.tags = ["newsletter".to_string()].into();
    let web = crm.upsert_customer(&web).unwrap().record;
    let mut pos = person("POS-9", "Ada L.");
    pos.phone = Some("+6591234567".into());
    let pos = crm.upsert_customer(&pos).unwrap().record;
    for (n, (ext, c)) in [("W1", "WEB-1"), ("W2", "WEB-1"), ("P1", "POS-9")].iter().enumerate() {
        crm.record_order(&order(ext, c, 1_000 * (n as i64 + 1), n as i64)).unwrap();
    }
    crm.add_interaction(&interaction("I1", "WEB-1", 3)).unwrap();
    let pos_before = crm.get_customer(pos.id).unwrap();
    let web_before = crm.get_customer(web.id).unwrap();

    let evidence = serde_json::json!({"score": 0.97, "email": "exact"});
    let done = crm
        .merge_customers(pos.id, web.id, &MergeRequest { evidence: Some(evidence.clone()), ..why("same person") })
        .unwrap();
    assert!(!done.replayed);
    assert_eq!((done.orders_moved, done.interactions_moved), (2, 1));
    assert_eq!(done.survivor.email.as_deref(), Some("ada@example.com"), "filled from the merged side");
    assert_eq!(done.survivor.phone.as_deref(), Some("+6591234567"));
    assert_eq!(done.survivor.name, "Ada L.", "the survivor's own value wins by default");
    assert!(done.survivor.tags.contains("newsletter"));
    assert_eq!(done.merged.merged_into, Some(pos.id));

    // Reads and writes through the merged customer reach the survivor.
    assert_eq!(crm.get_customer(web.id).unwrap().id, pos.id);
    assert_eq!(crm.get_customer_by_external_id("WEB-1").unwrap().id, pos.id);
    assert_eq!(crm.customer_id_by_external_id("WEB-1").unwrap(), pos.id);
    assert_eq!(orders_of(&crm, pos.id), ["P1", "W1", "W2"]);
    let stats = crm.customer_stats(pos.id).unwrap();
    assert_eq!(stats, recomputed_stats(&crm, pos.id));
    assert_eq!(stats.order_count, 3);
    assert_eq!(stats.interaction_count, 1);
    assert_eq!(crm.customer_stats(web.id).unwrap(), stats, "the merged id reads the survivor's statistics");
    crm.record_order(&order("W3", "WEB-1", 500, 5)).unwrap();
    crm.add_interaction(&interaction("I2", "WEB-1", 6)).unwrap();
    crm.ingest_orders([order("W4", "WEB-1", 700, 7), order("P2", "POS-9", 800, 8)], IngestOptions::default()).unwrap();
    crm.set_order_status("W1", OrderStatus::Refunded).unwrap();
    assert_eq!(orders_of(&crm, pos.id), ["P1", "P2", "W1", "W2", "W3", "W4"]);
    crm.upsert_customer(&NewCustomer { title: Some("Countess".into()), ..person("WEB-1", "") }).unwrap();
    let s = crm.get_customer(pos.id).unwrap();
    assert_eq!((s.external_id.as_deref(), s.title.as_deref()), (Some("POS-9"), Some("Countess")));

    // Merged-away customers are out of queries and counts.
    assert_eq!(crm.counts().unwrap().customers, 1);
    assert!(crm.search_customers("Ada", 10).unwrap().iter().all(|c| c.id == pos.id));
    assert_eq!(crm.count_matching(&crm_core::rule::parse("order_count >= 0").unwrap(), None).unwrap(), 1);

    // The log.
    let history = crm.merge_history(web.id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].evidence.as_ref(), Some(&evidence));
    assert_eq!(history[0].actor.as_deref(), Some("tests"));
    assert_eq!(history[0].survivor_before, pos_before);
    assert_eq!(crm.merge_history(pos.id).unwrap(), history);

    // Unmerge: each side gets its own back, with what happened to it since.
    let undone = crm
        .unmerge_customer(web.id, &UnmergeRequest { reason: Some("two people".into()), ..Default::default() })
        .unwrap();
    assert!(undone.merge.unmerged_at.is_some());
    assert_eq!(orders_of(&crm, web.id), ["W1", "W2", "W3", "W4"]);
    assert_eq!(orders_of(&crm, pos.id), ["P1", "P2"]);
    assert_eq!(crm.get_order_by_external_id("W1").unwrap().status, OrderStatus::Refunded, "refunded while merged");
    for id in [web.id, pos.id] {
        assert_eq!(crm.customer_stats(id).unwrap(), recomputed_stats(&crm, id));
    }
    assert_eq!(crm.customer_stats(web.id).unwrap().interaction_count, 2);
    let w = crm.get_customer(web.id).unwrap();
    assert_eq!(w.id, web.id);
    assert_eq!(w.merged_into, None);
    assert_eq!(Customer { updated_at: web_before.updated_at, ..w }, web_before, "the merged side's profile as it was");
    let p = crm.get_customer(pos.id).unwrap();
    assert_eq!(p.email, None, "what the merge filled in goes");
    assert!(p.tags.is_empty());
    assert_eq!(p.title.as_deref(), Some("Countess"), "what changed after the merge stays");
    assert_eq!(crm.counts().unwrap().customers, 2);
    assert_eq!(crm.get_customer_by_external_id("WEB-1").unwrap().id, web.id);

    // Replays write nothing.
    let feed = crm.changes_since(0, 10_000).unwrap().len();
    assert!(crm.unmerge_customer(web.id, &UnmergeRequest::default()).unwrap().replayed);
    assert_eq!(crm.changes_since(0, 10_000).unwrap().len(), feed);
    let again = crm.merge_customers(pos.id, web.id, &why("after all")).unwrap();
    assert!(crm.merge_customers(pos.id, web.id, &why("after all")).unwrap().replayed);
    assert_eq!(crm.merge_history(web.id).unwrap().len(), 2);
    assert_eq!(again.orders_moved, 4);
}

#[test]
fn survivorship_rules_per_field() {
    let crm = test_crm();
    let mut a = person("A", "Bob");
    a.email = Some("bob@old.example".into());
    a.address = Address { city: Some("Leeds".into()), ..Default::default() };
    let a = crm.upsert_customer(&a).unwrap().record;
    let mut b = person("B", "Robert Smith");
    b.email = Some("bob@new.example".into());
    b.address = Address { city: Some("Leeds".into()), postal_code: Some("LS1 4AP".into()), ..Default::default() };
    b.consents = [("email_marketing".to_string(), Consent { granted: false, at: t0(), source: None })].into();
    let b = crm.upsert_customer(&b).unwrap().record;
    let rules = Survivorship {
        default: Prefer::Survivor,
        fields: [
            ("name".to_string(), Prefer::MostComplete),
            ("email".to_string(), Prefer::MostRecent),
            ("address".to_string(), Prefer::MostComplete),
        ]
        .into(),
        ..Default::default()
    };
    let s =
        crm.merge_customers(a.id, b.id, &MergeRequest { survivorship: rules, ..Default::default() }).unwrap().survivor;
    assert_eq!(s.name, "Robert Smith");
    assert_eq!(s.email.as_deref(), Some("bob@new.example"), "b changed last");
    assert_eq!(s.address.postal_code.as_deref(), Some("LS1 4AP"));
    assert!(!s.consents["email_marketing"].granted);
    assert_eq!(s.external_id.as_deref(), Some("A"));
}

#[test]
fn source_priority_prefers_the_more_trusted_system() {
    let crm = test_crm();
    let mut erp = person("E-1", "Bob");
    erp.email = Some("bob@erp.example".into());
    let erp = crm.upsert_customer(&erp).unwrap().record;
    let mut crm_web = person("W-1", "Robert");
    crm_web.email = Some("robert@web.example".into());
    crm_web.title = Some("CFO".into());
    let web = crm.upsert_customer_from("webshop", &crm_web).unwrap().record;
    let rules = |priority: &[&str]| Survivorship {
        default: Prefer::SourcePriority,
        source_priority: priority.iter().map(|p| p.to_string()).collect(),
        ..Default::default()
    };
    let done = crm
        .merge_customers(
            erp.id,
            web.id,
            &MergeRequest { survivorship: rules(&["webshop", "primary"]), ..Default::default() },
        )
        .unwrap();
    assert_eq!((done.survivor.name.as_str(), done.survivor.email.as_deref()), ("Robert", Some("robert@web.example")));
    crm.unmerge_customer(web.id, &UnmergeRequest::default()).unwrap();
    let done = crm
        .merge_customers(
            erp.id,
            web.id,
            &MergeRequest { survivorship: rules(&["primary", "webshop"]), ..Default::default() },
        )
        .unwrap();
    assert_eq!(
        (done.survivor.name.as_str(), done.survivor.title.as_deref()),
        ("Bob", Some("CFO")),
        "filled, not overwritten"
    );
    let bad = MergeRequest { survivorship: rules(&["point of sale"]), ..Default::default() };
    let other = crm.upsert_customer(&person("X", "X")).unwrap().record;
    assert!(matches!(crm.merge_customers(other.id, erp.id, &bad),
        Err(Error::Validation { ref field, .. }) if field == "survivorship.source_priority[0]"));
}

#[test]
fn points_and_static_segments_follow_and_come_back() {
    let crm = test_crm();
    let p = Program::from_json(
        r#"{"name": "P", "rates": {"USD": {"points": 1, "per_minor": 100}}, "rules": [{"name": "base", "kind": "base"}]}"#,
    )
    .unwrap();
    crm.set_loyalty_program(&p).unwrap();
    let a = crm.upsert_customer(&person("A", "Ann")).unwrap().record.id;
    let b = crm.upsert_customer(&person("B", "Ann")).unwrap().record.id;
    crm.record_order(&order("OA", "A", 10_000, 0)).unwrap(); // 100 points to A
    crm.record_order(&order("OB", "B", 5_000, 1)).unwrap(); // 50 points to B
    crm.earn_points(b, 30, "welcome-B").unwrap();
    crm.create_segment(&NewSegment { name: "vip".into(), members: vec![b], ..Default::default() }).unwrap();

    let done = crm.merge_customers(a, b, &MergeRequest::default()).unwrap();
    assert_eq!(done.points_moved, 30, "unspent points move as lots; the order's points follow the order");
    assert_eq!(crm.points_balance(a).unwrap().balance, 180);
    assert_eq!(crm.points_balance(b).unwrap().balance, 180, "the merged id reads the survivor's points");
    assert!(crm.is_member(a, "vip").unwrap());
    crm.redeem_points(b, 120, "spend-1").unwrap(); // through the merged id: the survivor's points
    assert_eq!(crm.points_balance(a).unwrap().balance, 60);

    crm.unmerge_customer(b, &UnmergeRequest::default()).unwrap();
    assert!(!crm.is_member(a, "vip").unwrap());
    assert!(crm.is_member(b, "vip").unwrap());
    let (ba, bb) = (crm.points_balance(a).unwrap().balance, crm.points_balance(b).unwrap().balance);
    // The redemption drew on the oldest lots (A's order, then B's order as moved to A); B's
    // order goes back and earns for B again, taking its points from A (its own lot, then
    // the rest of A's lots); what is left of B's moved welcome points (10) goes back.
    assert_eq!((ba, bb), (0, 60));
    assert_eq!(ba + bb, 180 - 120, "no point made or lost");
    for c in [a, b] {
        let s = crm.points_statement(c).unwrap();
        let sum: i64 = s.entries.iter().map(|e| e.points).sum();
        assert_eq!(s.balance.balance, sum, "balance = sum of entries");
        let held: i64 = s.lots.iter().filter(|l| !l.expired).map(|l| l.remaining).sum();
        assert_eq!(held, sum.max(0), "lots cover the balance");
    }
}

#[test]
fn refused_merges_are_typed_and_write_nothing() {
    let crm = test_crm();
    let ids: Vec<CustomerId> =
        (0..4).map(|i| crm.upsert_customer(&person(&format!("C{i}"), "X")).unwrap().record.id).collect();
    crm.merge_customers(ids[1], ids[0], &MergeRequest::default()).unwrap();
    let feed = crm.changes_since(0, 10_000).unwrap().len();
    let history = crm.merge_history(ids[1]).unwrap();
    let cases: Vec<(Result<identity::MergeOutcome>, MergeErrorKind)> = vec![
        (crm.merge_customers(ids[2], ids[2], &MergeRequest::default()), MergeErrorKind::SelfMerge),
        (crm.merge_customers(ids[0], ids[2], &MergeRequest::default()), MergeErrorKind::MergedAway),
        (crm.merge_customers(ids[2], ids[0], &MergeRequest::default()), MergeErrorKind::MergedAway),
        (crm.merge_customers(ids[0], ids[1], &MergeRequest::default()), MergeErrorKind::Cycle),
        (crm.unmerge_customer(ids[2], &UnmergeRequest::default()), MergeErrorKind::NotMerged),
        (crm.unmerge_customer(ids[1], &UnmergeRequest::default()), MergeErrorKind::NotMerged),
    ];
    for (got, want) in cases {
        assert_eq!(merge_kind(got.unwrap_err()), want);
    }
    assert!(matches!(
        crm.merge_customers(CustomerId(999), ids[2], &MergeRequest::default()),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(crm.unmerge_customer(CustomerId(999), &UnmergeRequest::default()), Err(Error::NotFound { .. })));
    // Bad requests.
    let long = MergeRequest { reason: Some("x".repeat(2_001)), ..Default::default() };
    assert!(
        matches!(crm.merge_customers(ids[2], ids[3], &long), Err(Error::Validation { ref field, .. }) if field == "reason")
    );
    let big = MergeRequest { evidence: Some(serde_json::json!("x".repeat(MAX_EVIDENCE_BYTES))), ..Default::default() };
    assert!(
        matches!(crm.merge_customers(ids[2], ids[3], &big), Err(Error::Validation { ref field, .. }) if field == "evidence")
    );
    let rules = Survivorship { fields: [("shoe_size".to_string(), Prefer::Merged)].into(), ..Default::default() };
    let bad = MergeRequest { survivorship: rules, ..Default::default() };
    assert!(matches!(crm.merge_customers(ids[2], ids[3], &bad), Err(Error::Validation { .. })));
    assert!(matches!(crm.delete_customer(ids[0]), Err(Error::Merge { kind: MergeErrorKind::MergedAway, .. })));
    assert_eq!(crm.changes_since(0, 10_000).unwrap().len(), feed, "nothing written");
    assert_eq!(crm.merge_history(ids[1]).unwrap(), history);

    // Unmerge in order: the outer merge first.
    crm.merge_customers(ids[2], ids[1], &MergeRequest::default()).unwrap();
    assert_eq!(
        merge_kind(crm.unmerge_customer(ids[0], &UnmergeRequest::default()).unwrap_err()),
        MergeErrorKind::Order
    );
    assert_eq!(crm.get_customer(ids[0]).unwrap().id, ids[2], "a chain resolves to its end");
    crm.unmerge_customer(ids[1], &UnmergeRequest::default()).unwrap();
    crm.unmerge_customer(ids[0], &UnmergeRequest::default()).unwrap();

    // Deleting a survivor deletes the customers merged into it.
    crm.merge_customers(ids[3], ids[2], &MergeRequest::default()).unwrap();
    crm.delete_customer(ids[3]).unwrap();
    assert!(matches!(crm.get_customer(ids[2]), Err(Error::NotFound { .. })));
    assert!(crm.merge_history(ids[2]).is_err());
}

#[test]
fn chains_longer_than_the_limit_are_refused() {
    let crm = test_crm();
    let ids: Vec<CustomerId> = (0..=MAX_MERGE_DEPTH + 1)
        .map(|i| crm.upsert_customer(&person(&format!("D{i}"), "X")).unwrap().record.id)
        .collect();
    for w in ids.windows(2).take(MAX_MERGE_DEPTH) {
        crm.merge_customers(w[1], w[0], &MergeRequest::default()).unwrap();
    }
    let last = ids[MAX_MERGE_DEPTH + 1];
    let err = crm.merge_customers(last, ids[MAX_MERGE_DEPTH], &MergeRequest::default()).unwrap_err();
    assert_eq!(merge_kind(err), MergeErrorKind::TooDeep);
    assert_eq!(crm.get_customer(ids[0]).unwrap().id, ids[MAX_MERGE_DEPTH]);
}

// ---- property: merges and unmerges interleaved with writes --------------------------------

#[derive(Debug, Clone)]
enum Op {
    /// An order for customer n.
    Order(usize, i64),
    /// A refund of the k-th order.
    Refund(usize),
    /// An interaction of customer n.
    Interaction(usize),
    /// Points earned by customer n.
    Earn(usize, i64),
    /// Merge customer a into b.
    Merge(usize, usize),
    /// Unmerge customer n.
    Unmerge(usize),
    /// Orders for customers by bulk ingest.
    Bulk(Vec<(usize, i64)>),
}

const N: usize = 4;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..N, 100i64..50_000).prop_map(|(c, m)| Op::Order(c, m)),
        1 => (0usize..30).prop_map(Op::Refund),
        1 => (0..N).prop_map(Op::Interaction),
        1 => (0..N, 1i64..100).prop_map(|(c, p)| Op::Earn(c, p)),
        2 => (0..N, 0..N).prop_map(|(a, b)| Op::Merge(a, b)),
        1 => (0..N).prop_map(Op::Unmerge),
        1 => proptest::collection::vec((0..N, 100i64..9_000), 1..4).prop_map(Op::Bulk),
    ]
}

fn world() -> (Crm, Vec<CustomerId>) {
    let crm = test_crm();
    let p = Program::from_json(
        r#"{"name": "P", "rates": {"USD": {"points": 1, "per_minor": 100}}, "rules": [{"name": "base", "kind": "base"}]}"#,
    )
    .unwrap();
    crm.set_loyalty_program(&p).unwrap();
    let ids =
        (0..N).map(|i| crm.upsert_customer(&person(&format!("C{i}"), &format!("P{i}"))).unwrap().record.id).collect();
    (crm, ids)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn unmerged_ends_where_never_merged_ends(ops in proptest::collection::vec(op(), 1..25)) {
        let (merged, ids) = world();
        let (plain, plain_ids) = world();
        let mut orders = 0usize;
        let mut standing: Vec<usize> = Vec::new();
        for (n, op) in ops.iter().enumerate() {
            let day = n as i64;
            match op {
                Op::Order(c, m) => {
                    let o = order(&format!("O{orders}"), &format!("C{c}"), *m, day);
                    orders += 1;
                    merged.record_order(&o).unwrap();
                    plain.record_order(&o).unwrap();
                }
                Op::Refund(k) if *k < orders => {
                    merged.set_order_status(&format!("O{k}"), OrderStatus::Refunded).unwrap();
                    plain.set_order_status(&format!("O{k}"), OrderStatus::Refunded).unwrap();
                }
                Op::Refund(_) => {}
                Op::Interaction(c) => {
                    let i = interaction(&format!("I{n}"), &format!("C{c}"), day);
                    merged.add_interaction(&i).unwrap();
                    plain.add_interaction(&i).unwrap();
                }
                Op::Earn(c, p) => {
                    // Points earned while merged are the survivor's (documented): earn only
                    // for customers standing on their own, in both worlds.
                    if merged.get_customer(ids[*c]).unwrap().id == ids[*c] {
                        merged.earn_points(ids[*c], *p, &format!("E{n}")).unwrap();
                        plain.earn_points(plain_ids[*c], *p, &format!("E{n}")).unwrap();
                    }
                }
                Op::Merge(a, b) => {
                    match merged.merge_customers(ids[*b], ids[*a], &MergeRequest::default()) {
                        Ok(o) => { if !o.replayed { standing.push(*a); } }
                        Err(Error::Merge { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                Op::Unmerge(c) => {
                    match merged.unmerge_customer(ids[*c], &UnmergeRequest::default()) {
                        Ok(o) => { if !o.replayed { standing.retain(|x| x != c); } }
                        Err(Error::Merge { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                Op::Bulk(rows) => {
                    let rows: Vec<NewOrder> = rows.iter().map(|(c, m)| {
                        let o = order(&format!("O{orders}"), &format!("C{c}"), *m, day);
                        orders += 1;
                        o
                    }).collect();
                    merged.ingest_orders(rows.clone(), IngestOptions::default()).unwrap();
                    plain.ingest_orders(rows, IngestOptions::default()).unwrap();
                }
            }
            for id in &ids {
                let live = merged.get_customer(*id).unwrap().id;
                prop_assert_eq!(merged.customer_stats(live).unwrap(), recomputed_stats(&merged, live));
            }
            prop_assert_eq!(common::check_summaries_replay(&merged), Ok(()));
        }
        // Undo the standing merges, the last made first.
        while let Some(c) = standing.pop() {
            merged.unmerge_customer(ids[c], &UnmergeRequest::default()).unwrap();
        }
        for c in 0..N {
            let (a, b) = (ids[c], plain_ids[c]);
            prop_assert_eq!(merged.get_customer(a).unwrap().id, a);
            prop_assert_eq!(orders_of(&merged, a), orders_of(&plain, b));
            let (sa, sb) = (merged.customer_stats(a).unwrap(), plain.customer_stats(b).unwrap());
            prop_assert_eq!(CustomerStats { customer_id: b, ..sa }, sb);
            let (pa, pb) = (merged.points_statement(a).unwrap(), plain.points_statement(b).unwrap());
            let sum: i64 = pa.entries.iter().map(|e| e.points).sum();
            prop_assert_eq!(pa.balance.balance, sum);
            let held: i64 = pa.lots.iter().filter(|l| !l.expired).map(|l| l.remaining).sum();
            prop_assert_eq!(held, sum.max(0));
            // Points: without redemptions, each side's points equal the never-merged world's.
            prop_assert_eq!(pa.balance.balance, pb.balance.balance, "customer {}", c);
            let (ca, cb) = (merged.get_customer(a).unwrap(), plain.get_customer(b).unwrap());
            prop_assert_eq!((ca.name, ca.email, ca.tags), (cb.name, cb.email, cb.tags));
        }
    }
}
