//! The store conformance suite: written once against the `Store` trait (and the facade
//! over it) and run on every store: `SqliteStore` in memory and on a file, and
//! `PostgresStore` (a fresh schema per test on the server at `CRM_TEST_PG`).
//! The facade's suites (loyalty, RFM, segments, statistics, ...) run on each store too:
//! see `tests/common`.

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use crm_core::order::OrderScan;
use crm_core::stats::{PeriodState, StatsDelta};
use crm_core::store::prelude::*;
use crm_core::store::SqliteStore;
use crm_core::TimelineEntry;
use crm_core::*;

fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, day, hour, 0, 0).unwrap()
}

fn usd() -> Currency {
    "USD".parse().unwrap()
}

fn customer(name: &str) -> Customer {
    Customer {
        id: CustomerId(0),
        external_id: Some(format!("ext-{name}")),
        kind: CustomerKind::Person,
        name: name.into(),
        email: Some(format!("{}@example.com", name.to_lowercase())),
        phone: None,
        company: None,
        title: None,
        industry: None,
        address: Address { country: Some("SG".into()), ..Default::default() },
        birthday: None,
        gender: None,
        tags: BTreeSet::new(),
        attributes: Default::default(),
        consents: Default::default(),
        lifecycle: LifecycleStage::Prospect,
        created_at: t(1, 0),
        updated_at: t(1, 0),
        merged_into: None,
    }
}

fn order(ext: &str, c: CustomerId, at: DateTime<Utc>, minor: i64) -> Order {
    Order {
        id: OrderId(0),
        external_id: ext.into(),
        customer_id: c,
        occurred_at: at,
        status: OrderStatus::Completed,
        total: Money::new(minor, usd()),
        channel: Some("web".into()),
        items: vec![
            LineItem { sku: "A".into(), category: Some("shoes".into()), quantity: 1, unit_price_minor: minor / 2 },
            LineItem { sku: "B".into(), category: None, quantity: 2, unit_price_minor: minor / 4 },
        ],
        created_at: t(1, 0),
        updated_at: t(1, 0),
    }
}

fn interaction(ext: Option<&str>, c: CustomerId, at: DateTime<Utc>) -> Interaction {
    Interaction {
        id: InteractionId(0),
        external_id: ext.map(str::to_owned),
        customer_id: c,
        kind: InteractionKind::Call,
        channel: Some("phone".into()),
        direction: Some(Direction::Inbound),
        occurred_at: at,
        subject: Some("hello".into()),
        body: None,
        score: Some(Score::Csat(4)),
        payload: Some(serde_json::json!({"k": [1, 2]})),
        created_at: t(1, 0),
    }
}

mod checks {
    use super::*;

    pub fn customer_round_trip<S: Store>(s: S) {
        let mut c = customer("Ada");
        c.tags.insert("vip".into());
        c.attributes.insert("plan".into(), serde_json::json!({"tier": "gold", "seats": 3}));
        c.birthday = Some("1990-02-03".parse().unwrap());
        c.consents.insert("email".into(), Consent { granted: true, at: t(2, 3), source: Some("web".into()) });
        let id = s.write(|tx| tx.insert_customer(&c)).unwrap();
        c.id = id;
        s.read(|tx| {
            assert_eq!(tx.get_customer(id)?.as_ref(), Some(&c));
            assert_eq!(tx.customer_by_external_id("ext-Ada")?.as_ref(), Some(&c));
            assert_eq!(tx.customer_id_by_external_id("ext-Ada")?, Some(id));
            assert_eq!(tx.customer_id_by_external_id("nope")?, None);
            assert!(tx.customer_exists(id)?);
            assert!(!tx.customer_exists(CustomerId(id.0 + 100))?);
            assert_eq!(tx.get_stats(id)?, CustomerStats { customer_id: id, ..Default::default() });
            Ok(())
        })
        .unwrap();
        c.name = "Ada L".into();
        c.tags.clear();
        s.write(|tx| tx.update_customer(&c)).unwrap();
        assert_eq!(s.read(|tx| tx.get_customer(id)).unwrap(), Some(c.clone()));
        let missing = Customer { id: CustomerId(999_999), ..c.clone() };
        assert!(matches!(s.write(|tx| tx.update_customer(&missing)), Err(Error::NotFound { .. })));
        s.write(|tx| tx.delete_customer(id)).unwrap();
        assert_eq!(s.read(|tx| tx.get_customer(id)).unwrap(), None);
        assert_eq!(s.read(|tx| tx.count_customers()).unwrap(), 0);
    }

    pub fn identity_fields_page_by_id_without_merged_customers<S: Store>(s: S) {
        let mut ids = Vec::new();
        for (i, name) in ["Ada", "Bo", "Cy", "Di", "Ed"].iter().enumerate() {
            let mut c = customer(name);
            c.phone = Some(format!("+659123456{i}"));
            c.company = (i == 1).then(|| "Acme Ltd".into());
            c.birthday = (i == 2).then(|| "1990-02-03".parse().unwrap());
            c.address.street = Some("1 Main St".into());
            c.address.postal_code = Some("018956".into());
            c.address.city = Some("Singapore".into());
            ids.push(s.write(|tx| tx.insert_customer(&c)).unwrap());
        }
        // Cy merged into Ada: left out.
        let mut cy = s.read(|tx| tx.get_customer(ids[2])).unwrap().unwrap();
        cy.merged_into = Some(ids[0]);
        s.write(|tx| tx.update_customer(&cy)).unwrap();
        let page = |after: CustomerId, limit| s.read(|tx| tx.identity_fields(after, limit)).unwrap();
        let first = page(CustomerId(0), 2);
        assert_eq!(first.iter().map(|f| f.id).collect::<Vec<_>>(), [ids[0], ids[1]]);
        let bo = s.read(|tx| tx.get_customer(ids[1])).unwrap().unwrap();
        assert_eq!(first[1], IdentityFields::from(&bo));
        let rest = page(ids[1], 10);
        assert_eq!(rest.iter().map(|f| f.id).collect::<Vec<_>>(), [ids[3], ids[4]]);
        assert!(page(ids[4], 10).is_empty());
    }

    pub fn merge_log_records_links_and_moves<S: Store>(s: S) {
        use crm_core::identity::{MergeId, MergeRecord, Survivorship};
        let a = s.write(|tx| tx.insert_customer(&customer("Ada"))).unwrap();
        let b = s.write(|tx| tx.insert_customer(&customer("Bo"))).unwrap();
        let c = s.write(|tx| tx.insert_customer(&customer("Cy"))).unwrap();
        let ada = s.read(|tx| tx.get_customer(a)).unwrap().unwrap();
        let bo = s.read(|tx| tx.get_customer(b)).unwrap().unwrap();
        let rec = MergeRecord {
            id: MergeId(0),
            survivor: a,
            merged: b,
            actor: Some("ops".into()),
            reason: Some("same".into()),
            evidence: Some(serde_json::json!({"score": 0.9})),
            survivorship: Survivorship::default(),
            merged_at: t(2, 0),
            survivor_before: ada.clone(),
            merged_before: bo.clone(),
            survivor_after: ada.clone(),
            unmerged_at: None,
            unmerged_by: None,
            unmerge_reason: None,
        };
        assert!(!s.read(|tx| tx.any_merge()).unwrap());
        let id = s.write(|tx| tx.insert_merge(&rec)).unwrap();
        let stored = MergeRecord { id, ..rec.clone() };
        assert_eq!(s.read(|tx| tx.get_merge(id)).unwrap(), Some(stored.clone()));
        assert!(s.read(|tx| tx.any_merge()).unwrap());
        assert_eq!(s.read(|tx| tx.merge_link(b)).unwrap(), Some((id, a)));
        assert_eq!(s.read(|tx| tx.merge_link(a)).unwrap(), None);
        let links = s.read(|tx| tx.merge_links(&[a, b, c])).unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[&b], (id, a));
        assert_eq!(s.read(|tx| tx.merged_into(a)).unwrap(), [b]);
        assert_eq!(s.read(|tx| tx.merges_of(a)).unwrap(), std::slice::from_ref(&stored));
        assert_eq!(s.read(|tx| tx.merges_of(b)).unwrap(), std::slice::from_ref(&stored));
        assert!(s.read(|tx| tx.merges_of(c)).unwrap().is_empty());
        // Moves: listed once each.
        s.write(|tx| tx.add_merge_moves(id, "order", &[7, 3, 7])).unwrap();
        s.write(|tx| tx.add_merge_moves(id, "order", &[3])).unwrap();
        s.write(|tx| tx.add_merge_moves(id, "interaction", &[])).unwrap();
        assert_eq!(s.read(|tx| tx.merge_moves(id)).unwrap(), [("order".to_string(), 3), ("order".to_string(), 7)]);
        assert_eq!(s.read(|tx| tx.merges_listing("order", 7)).unwrap(), [id]);
        // Closed: no longer a link, still in the log.
        s.write(|tx| tx.close_merge(id, t(3, 0), Some("ops"), Some("two people"))).unwrap();
        assert_eq!(s.read(|tx| tx.merge_link(b)).unwrap(), None);
        assert!(!s.read(|tx| tx.any_merge()).unwrap());
        let closed = s.read(|tx| tx.last_merge_of(b)).unwrap().unwrap();
        assert_eq!(closed.unmerged_at, Some(t(3, 0)));
        assert_eq!(closed.unmerge_reason.as_deref(), Some("two people"));
        // Deleting a customer's log.
        s.write(|tx| tx.delete_merges_of(b)).unwrap();
        assert!(s.read(|tx| tx.merges_of(a)).unwrap().is_empty());
        assert!(s.read(|tx| tx.merge_moves(id)).unwrap().is_empty());
    }

    pub fn match_keys_and_suggestions<S: Store>(s: S) {
        use crm_core::identity::{MatchSuggestion, SuggestionStatus};
        let a = s.write(|tx| tx.insert_customer(&customer("Ada"))).unwrap();
        let b = s.write(|tx| tx.insert_customer(&customer("Bo"))).unwrap();
        s.write(|tx| tx.add_match_keys(&[(7, a), (7, b), (-3, a), (7, a)])).unwrap();
        assert_eq!(s.read(|tx| tx.match_candidates(7, 10)).unwrap(), [a, b]);
        assert_eq!(s.read(|tx| tx.match_candidates(7, 1)).unwrap(), [a]);
        assert_eq!(s.read(|tx| tx.match_candidates(-3, 10)).unwrap(), [a]);
        s.write(|tx| tx.remove_match_keys(&[(7, a), (99, b)])).unwrap();
        assert_eq!(s.read(|tx| tx.match_candidates(7, 10)).unwrap(), [b]);
        let fields = s.read(|tx| tx.identity_fields_of(&[b, a, CustomerId(999)])).unwrap();
        assert_eq!(fields.iter().map(|f| f.id).collect::<Vec<_>>(), [a, b]);
        let mut bo = s.read(|tx| tx.get_customer(b)).unwrap().unwrap();
        bo.merged_into = Some(a);
        s.write(|tx| tx.update_customer(&bo)).unwrap();
        assert_eq!(s.read(|tx| tx.identity_fields_of(&[a, b])).unwrap().len(), 1, "merged away: left out");

        let sug = MatchSuggestion {
            id: 0,
            customer: b,
            candidate: a,
            probability: 0.97,
            evidence: serde_json::json!([{"field": "email", "level": "exact", "weight": 9.5}]),
            status: SuggestionStatus::Open,
            created_at: t(2, 0),
        };
        let id = s.write(|tx| tx.insert_match_suggestion(&sug)).unwrap().expect("new");
        assert_eq!(s.write(|tx| tx.insert_match_suggestion(&sug)).unwrap(), None, "one per pair");
        let all = s.read(|tx| tx.match_suggestions(None, 0, 10)).unwrap();
        assert_eq!(all, [MatchSuggestion { id, ..sug.clone() }]);
        assert!(s.write(|tx| tx.set_suggestion_status(id, SuggestionStatus::Dismissed)).unwrap());
        assert!(!s.write(|tx| tx.set_suggestion_status(id + 1, SuggestionStatus::Dismissed)).unwrap());
        assert!(s.read(|tx| tx.match_suggestions(Some(SuggestionStatus::Open), 0, 10)).unwrap().is_empty());
        assert_eq!(s.read(|tx| tx.match_suggestions(Some(SuggestionStatus::Dismissed), 0, 10)).unwrap().len(), 1);
        assert!(s.read(|tx| tx.match_suggestions(None, id, 10)).unwrap().is_empty());
        s.write(|tx| tx.delete_suggestions_of(a)).unwrap();
        assert!(s.read(|tx| tx.match_suggestions(None, 0, 10)).unwrap().is_empty());
    }

    pub fn identities_by_source_and_key<S: Store>(s: S) {
        use crm_core::identity::Identity;
        let a = s.write(|tx| tx.insert_customer(&customer("Ada"))).unwrap();
        let b = s.write(|tx| tx.insert_customer(&customer("Bo"))).unwrap();
        let id = |src: &str, ext: &str, c| Identity {
            source: src.into(),
            external_id: ext.into(),
            customer: c,
            created_at: t(2, 0),
        };
        s.write(|tx| tx.add_identities(&[id("pos", "P-1", a), id("web", "P-1", b), id("pos", "P-2", a)])).unwrap();
        assert_eq!(s.read(|tx| tx.identity("pos", "P-1")).unwrap(), Some(a));
        assert_eq!(s.read(|tx| tx.identity("web", "P-1")).unwrap(), Some(b));
        assert_eq!(s.read(|tx| tx.identity("pos", "P-3")).unwrap(), None);
        let found = s.read(|tx| tx.identities_by_keys("pos", &["P-1", "P-2", "P-3"])).unwrap();
        assert_eq!((found.len(), found["P-2"]), (2, a));
        let customers = s.write(|tx| tx.customers_by_identities("pos", &["P-1", "P-3"])).unwrap();
        let ada = s.read(|tx| tx.get_customer(a)).unwrap().unwrap();
        assert_eq!((customers.len(), &customers["P-1"]), (1, &ada));
        assert_eq!(s.read(|tx| tx.identities_of(&[a])).unwrap(), [id("pos", "P-1", a), id("pos", "P-2", a)]);
        assert!(s.write(|tx| tx.add_identities(&[id("pos", "P-1", b)])).is_err(), "one customer per identity");
        assert!(s.write(|tx| tx.remove_identity("pos", "P-1")).unwrap());
        assert!(!s.write(|tx| tx.remove_identity("pos", "P-1")).unwrap());
        s.write(|tx| tx.delete_identities_of(a)).unwrap();
        assert!(s.read(|tx| tx.identities_of(&[a, b])).unwrap() == [id("web", "P-1", b)]);
    }

    pub fn orders_are_keyed_by_external_id<S: Store>(s: S) {
        let c = s.write(|tx| tx.insert_customer(&customer("Bo"))).unwrap();
        let mut o = order("O-1", c, t(3, 0), 1000);
        let id = s.write(|tx| tx.insert_order(&o)).unwrap().expect("new order");
        o.id = id;
        assert_eq!(s.read(|tx| tx.get_order(id)).unwrap(), Some(o.clone()));
        // A second insert with the same external id writes nothing.
        let dup = order("O-1", c, t(4, 0), 5);
        assert_eq!(s.write(|tx| tx.insert_order(&dup)).unwrap(), None);
        assert_eq!(s.read(|tx| tx.order_by_external_id("O-1")).unwrap(), Some(o.clone()));
        assert_eq!(s.read(|tx| tx.count_orders()).unwrap(), 1);
        // Update replaces fields and items.
        o.status = OrderStatus::Refunded;
        o.items.truncate(1);
        s.write(|tx| tx.update_order(&o)).unwrap();
        assert_eq!(s.read(|tx| tx.get_order(id)).unwrap(), Some(o.clone()));
        assert_eq!(s.read(|tx| tx.order_ids_of(c)).unwrap(), vec![id]);
        s.write(|tx| tx.delete_order(id)).unwrap();
        assert_eq!(s.read(|tx| tx.get_order(id)).unwrap(), None);
        assert_eq!(s.read(|tx| tx.order_ids_of(c)).unwrap(), vec![]);
    }

    pub fn order_aggregates_by_status<S: Store>(s: S) {
        let c = s.write(|tx| tx.insert_customer(&customer("Cy"))).unwrap();
        s.write(|tx| {
            tx.insert_order(&order("a", c, t(3, 0), 100))?;
            tx.insert_order(&order("b", c, t(9, 0), 250))?;
            let mut eur = order("c", c, t(5, 0), 70);
            eur.total.currency = "EUR".parse().unwrap();
            tx.insert_order(&eur)?;
            let mut refunded = order("d", c, t(20, 0), 999);
            refunded.status = OrderStatus::Refunded;
            tx.insert_order(&refunded)?;
            Ok(())
        })
        .unwrap();
        let agg = s.read(|tx| tx.aggregate_orders(c, OrderStatus::Completed)).unwrap();
        assert_eq!(agg.count, 3);
        assert_eq!(agg.first_at, Some(t(3, 0)));
        assert_eq!(agg.last_at, Some(t(9, 0)));
        assert_eq!(agg.spend, vec![("EUR".parse().unwrap(), 70), (usd(), 350)]);
        let r = s.read(|tx| tx.aggregate_orders(c, OrderStatus::Refunded)).unwrap();
        assert_eq!((r.count, r.last_at), (1, Some(t(20, 0))));
    }

    pub fn interactions_round_trip<S: Store>(s: S) {
        let c = s.write(|tx| tx.insert_customer(&customer("Di"))).unwrap();
        let mut i = interaction(Some("I-1"), c, t(2, 0));
        i.id = s.write(|tx| tx.insert_interaction(&i)).unwrap().unwrap();
        assert_eq!(s.read(|tx| tx.get_interaction(i.id)).unwrap(), Some(i.clone()));
        assert_eq!(s.write(|tx| tx.insert_interaction(&interaction(Some("I-1"), c, t(5, 0)))).unwrap(), None);
        // Without external ids, every insert is new.
        let a = s.write(|tx| tx.insert_interaction(&interaction(None, c, t(3, 0)))).unwrap();
        let b = s.write(|tx| tx.insert_interaction(&interaction(None, c, t(4, 0)))).unwrap();
        assert!(a.is_some() && b.is_some() && a != b);
        i.kind = InteractionKind::Complaint;
        i.score = Some(Score::Nps(2));
        s.write(|tx| tx.update_interaction(&i)).unwrap();
        assert_eq!(s.read(|tx| tx.interaction_by_external_id("I-1")).unwrap(), Some(i.clone()));
        assert_eq!(s.read(|tx| tx.aggregate_interactions(c)).unwrap(), (3, Some(t(4, 0))));
        s.write(|tx| tx.delete_interaction(i.id)).unwrap();
        assert_eq!(s.read(|tx| tx.count_interactions()).unwrap(), 2);
        assert_eq!(s.read(|tx| tx.interaction_ids_of(c)).unwrap().len(), 2);
    }

    pub fn stats_fold_and_overwrite<S: Store>(s: S) {
        let c = s.write(|tx| tx.insert_customer(&customer("Ed"))).unwrap();
        let eur: Currency = "EUR".parse().unwrap();
        s.write(|tx| {
            tx.add_stats(&StatsDelta {
                customer_id: c,
                orders: 2,
                first_order_at: Some(t(5, 0)),
                last_order_at: Some(t(7, 0)),
                spend: vec![(usd(), 300)],
                ..Default::default()
            })?;
            tx.add_stats(&StatsDelta {
                customer_id: c,
                orders: 1,
                first_order_at: Some(t(2, 0)),
                last_order_at: Some(t(3, 0)),
                spend: vec![(usd(), 5), (eur, 9)],
                interactions: 4,
                last_interaction_at: Some(t(8, 0)),
                ..Default::default()
            })?;
            // A delta with no times must not erase the known ones.
            tx.add_stats(&StatsDelta { customer_id: c, interactions: 1, ..Default::default() })
        })
        .unwrap();
        let st = s.read(|tx| tx.get_stats(c)).unwrap();
        assert_eq!(st.order_count, 3);
        assert_eq!(st.first_order_at, Some(t(2, 0)));
        assert_eq!(st.last_order_at, Some(t(7, 0)));
        assert_eq!(st.total_spent, vec![Money::new(9, eur), Money::new(305, usd())]);
        assert_eq!((st.interaction_count, st.last_interaction_at), (5, Some(t(8, 0))));
        let d = s.write(|tx| tx.insert_customer(&customer("Dee"))).unwrap();
        s.write(|tx| {
            tx.add_stats(&StatsDelta { customer_id: d, orders: 1, spend: vec![(usd(), 305)], ..Default::default() })
        })
        .unwrap();
        assert_eq!(s.read(|tx| tx.top_spenders(usd(), 10)).unwrap(), vec![(c, 305), (d, 305)], "ties by id");
        assert_eq!(s.read(|tx| tx.top_spenders(eur, 1)).unwrap(), vec![(c, 9)]);
        assert_eq!(s.read(|tx| tx.top_spenders("JPY".parse().unwrap(), 5)).unwrap(), vec![]);
        let fresh = CustomerStats {
            customer_id: c,
            order_count: 1,
            total_spent: vec![Money::new(1, usd())],
            ..Default::default()
        };
        s.write(|tx| tx.put_stats(&fresh)).unwrap();
        assert_eq!(s.read(|tx| tx.get_stats(c)).unwrap(), fresh);

        // Period states: kept beside the spend rows (one is made, with a total of 0, where
        // none is), read per customer and scanned per currency with the spend total.
        let state = |currency: Currency, orders: i64, days: i64| PeriodState {
            currency,
            orders,
            first_at: t(2, 0),
            last_at: t(9, 0),
            days,
            first_day_minor: 4,
            weeks: 2,
            first_week_minor: 6,
        };
        let jpy: Currency = "JPY".parse().unwrap();
        s.write(|tx| tx.put_period_states(&[(c, state(usd(), 3, 3)), (c, state(jpy, 1, 1)), (d, state(eur, 2, 2))]))
            .unwrap();
        assert_eq!(
            s.read(|tx| tx.period_states_of(&[d, c])).unwrap(),
            vec![(c, state(jpy, 1, 1)), (c, state(usd(), 3, 3)), (d, state(eur, 2, 2))]
        );
        s.write(|tx| tx.put_period_states(&[(c, state(usd(), 0, 3)), (d, state(eur, 0, 2))])).unwrap();
        let mut scanned = Vec::new();
        s.read(|tx| {
            tx.scan_period_states(None, &mut |id, st, total| {
                scanned.push((id, st.currency, st.orders, total));
                Ok(())
            })
        })
        .unwrap();
        assert_eq!(scanned, vec![(c, jpy, 1, 0)], "states without orders are not scanned");
        assert_eq!(s.read(|tx| tx.get_stats(c)).unwrap(), fresh, "a total of 0 is no spend");
    }

    pub fn failed_or_panicking_transactions_leave_nothing<S: Store + std::panic::RefUnwindSafe>(s: S) {
        let r: Result<()> = s.write(|tx| {
            tx.insert_customer(&customer("Fay"))?;
            Err(Error::validation("x", "forced"))
        });
        assert!(r.is_err());
        let caught = std::panic::catch_unwind(|| {
            let _ = s.write(|tx| -> Result<()> {
                tx.insert_customer(&customer("Gus"))?;
                panic!("boom");
            });
        });
        assert!(caught.is_err());
        assert_eq!(s.read(|tx| tx.count_customers()).unwrap(), 0);
        // The store still works after the panic.
        s.write(|tx| tx.insert_customer(&customer("Hal"))).unwrap();
        assert_eq!(s.read(|tx| tx.count_customers()).unwrap(), 1);
    }

    pub fn change_feed_is_ordered<S: Store>(s: S) {
        s.write(|tx| {
            (0..5).try_for_each(|n| {
                tx.append_change(Entity::Order, n, if n % 2 == 0 { Op::Insert } else { Op::Update }, t(1, n as u32))
            })
        })
        .unwrap();
        let all = s.read(|tx| tx.changes_since(0, 100)).unwrap();
        let seqs: Vec<i64> = all.iter().map(|c| c.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(all.iter().map(|c| c.id).collect::<Vec<_>>(), [0, 1, 2, 3, 4], "in the order appended");
        assert_eq!(all[1].op, Op::Update);
        assert_eq!(all[3].at, t(1, 3));
        let page = s.read(|tx| tx.changes_since(seqs[1], 2)).unwrap();
        assert_eq!(page.iter().map(|c| c.id).collect::<Vec<_>>(), vec![2, 3]);
    }

    pub fn timeline_pages_newest_first<S: Store>(s: S) {
        let crm = Crm::with_store(s, ValidationConfig::default()).unwrap();
        let c = crm.create_customer(&NewCustomer { name: "Ivy".into(), ..Default::default() }).unwrap();
        // Same timestamps on purpose: ties are ordered (time, orders before interactions, id), newest first.
        for n in 0..7u32 {
            let at = t(10 + n / 3, 0);
            crm.record_order(&NewOrder {
                external_id: format!("o{n}"),
                customer_id: Some(c.id),
                customer_external_id: None,
                occurred_at: at,
                status: Some(OrderStatus::Completed),
                currency: usd(),
                total_minor: 100,
                channel: None,
                items: None,
            })
            .unwrap();
            crm.add_interaction(&NewInteraction {
                external_id: None,
                customer_id: Some(c.id),
                customer_external_id: None,
                kind: InteractionKind::Email,
                channel: None,
                direction: None,
                occurred_at: at,
                subject: None,
                body: None,
                score: None,
                payload: None,
            })
            .unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = crm.timeline(c.id, 3, cursor.as_deref()).unwrap();
            seen.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 14);
        let keys: Vec<_> = seen.iter().map(TimelineEntry::key).collect();
        assert!(keys.windows(2).all(|w| w[0] > w[1]), "{keys:?}");
    }

    pub fn query_filters_sorts_and_pages<S: Store>(s: S) {
        let crm = Crm::with_store(s, ValidationConfig::default()).unwrap();
        let names = ["delta", "alpha", "echo", "bravo", "charlie", "alpha"];
        for (n, name) in names.iter().enumerate() {
            let c = crm
                .create_customer(&NewCustomer {
                    name: (*name).into(),
                    address: Address {
                        country: Some(if n % 2 == 0 { "SG" } else { "CN" }.into()),
                        ..Default::default()
                    },
                    tags: if n < 3 { ["vip".to_string()].into() } else { BTreeSet::new() },
                    kind: Some(if n == 5 { CustomerKind::Company } else { CustomerKind::Person }),
                    ..Default::default()
                })
                .unwrap();
            for k in 0..n {
                crm.record_order(&NewOrder {
                    external_id: format!("{n}-{k}"),
                    customer_id: Some(c.id),
                    customer_external_id: None,
                    occurred_at: t(1 + k as u32, n as u32),
                    status: Some(OrderStatus::Completed),
                    currency: usd(),
                    total_minor: 10,
                    channel: None,
                    items: None,
                })
                .unwrap();
            }
        }
        let all = |q: CustomerQuery| -> Vec<Customer> {
            let mut q = q;
            let mut out = Vec::new();
            loop {
                let p = crm.query_customers(&q).unwrap();
                assert!(p.items.len() <= q.limit);
                out.extend(p.items);
                match p.next_cursor {
                    Some(c) => q.cursor = Some(c),
                    None => return out,
                }
            }
        };
        let by_name = all(CustomerQuery { sort: SortKey::Name, limit: 2, ..Default::default() });
        let got: Vec<_> = by_name.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(got, ["alpha", "alpha", "bravo", "charlie", "delta", "echo"]);
        let desc = all(CustomerQuery { sort: SortKey::OrderCount, descending: true, limit: 4, ..Default::default() });
        let counts: Vec<_> = desc.iter().map(|c| crm.customer_stats(c.id).unwrap().order_count).collect();
        assert_eq!(counts, [5, 4, 3, 2, 1, 0]);
        let last = all(CustomerQuery { sort: SortKey::LastOrderAt, limit: 1, ..Default::default() });
        assert_eq!(last.first().unwrap().name, "delta", "no orders sorts first ascending");
        let f = |filter: CustomerFilter| all(CustomerQuery { filter, limit: 3, ..Default::default() }).len();
        assert_eq!(f(CustomerFilter { country: Some("sg".into()), ..Default::default() }), 3);
        assert_eq!(f(CustomerFilter { tags: ["vip".to_string()].into(), ..Default::default() }), 3);
        assert_eq!(f(CustomerFilter { kind: Some(CustomerKind::Company), ..Default::default() }), 1);
        assert_eq!(f(CustomerFilter { min_orders: Some(2), max_orders: Some(4), ..Default::default() }), 3);
        assert_eq!(f(CustomerFilter { last_order_from: Some(t(5, 0)), ..Default::default() }), 1);
        assert_eq!(f(CustomerFilter { lifecycle: Some(LifecycleStage::Churned), ..Default::default() }), 0);
        // A cursor from another sort is refused.
        let p = crm.query_customers(&CustomerQuery { sort: SortKey::Name, limit: 1, ..Default::default() }).unwrap();
        let wrong = CustomerQuery { sort: SortKey::Id, cursor: p.next_cursor, ..Default::default() };
        assert_eq!(crm.query_customers(&wrong).unwrap_err().field(), Some("cursor"));
    }

    pub fn order_records_stream_whole_in_customer_time_order<S: Store>(s: S) {
        let ids: Vec<CustomerId> =
            ["A", "B", "C"].iter().map(|n| s.write(|tx| tx.insert_customer(&customer(n))).unwrap()).collect();
        let mut stored = Vec::new();
        for (k, (c, day, hour)) in
            [(2, 5, 0), (0, 9, 0), (0, 3, 0), (1, 4, 0), (0, 3, 0), (2, 1, 0), (1, 4, 2)].into_iter().enumerate()
        {
            let mut o = order(&format!("O-{k}"), ids[c], t(day, hour), 100 * (k as i64 + 1));
            match k {
                1 => o.items.clear(),
                3 => o.status = OrderStatus::Refunded,
                6 => o.channel = None,
                _ => {}
            }
            let id = s.write(|tx| tx.insert_order(&o)).unwrap().unwrap();
            stored.push(s.read(|tx| tx.get_order(id)).unwrap().unwrap());
        }
        stored.sort_by_key(|o| (o.customer_id, o.occurred_at, o.id));
        let scan = |scan: OrderScan, items: bool| {
            let mut out = Vec::new();
            s.read(|tx| {
                tx.scan_order_records(&scan, items, &mut |o| {
                    out.push(o.clone());
                    Ok(())
                })
            })
            .unwrap();
            out
        };
        assert_eq!(scan(OrderScan::default(), true), stored, "whole records, every status");
        let bare: Vec<Order> = stored.iter().map(|o| Order { items: vec![], ..o.clone() }).collect();
        assert_eq!(scan(OrderScan::default(), false), bare);
        let pick = |f: &dyn Fn(&Order) -> bool| stored.iter().filter(|o| f(o)).cloned().collect::<Vec<_>>();
        let range = OrderScan { customers: Some((ids[1], ids[2])), ..Default::default() };
        assert_eq!(scan(range, true), pick(&|o| o.customer_id >= ids[1]));
        let one = OrderScan { customer: Some(ids[0]), before: Some(t(9, 0)), ..Default::default() };
        assert_eq!(scan(one, true), pick(&|o| o.customer_id == ids[0] && o.occurred_at < t(9, 0)));
        let completed = OrderScan { status: Some(OrderStatus::Completed), ..Default::default() };
        assert_eq!(scan(completed, true), pick(&|o| o.status == OrderStatus::Completed));
        // The first error of the callback stops the scan and is returned.
        let mut seen = 0;
        let r = s.read(|tx| {
            tx.scan_order_records(&OrderScan::default(), true, &mut |_| {
                seen += 1;
                Err(Error::validation("stop", "here"))
            })
        });
        assert!(matches!(r, Err(Error::Validation { .. })));
        assert_eq!(seen, 1);
    }

    pub fn search_by_name_email_phone_company<S: Store>(s: S) {
        let crm = Crm::with_store(s, ValidationConfig::default()).unwrap();
        let mk = |name: &str, email: &str, phone: Option<&str>, company: Option<&str>| {
            crm.create_customer(&NewCustomer {
                name: name.into(),
                email: Some(email.into()),
                phone: phone.map(str::to_owned),
                company: company.map(str::to_owned),
                ..Default::default()
            })
            .unwrap()
        };
        let a = mk("Ada Lovelace", "ada@analytical.org", Some("+44 20 7946 0958"), None);
        let b = mk("Bob 100% Real", "bob@example.com", None, Some("Acme_Widgets"));
        let names = |q: &str| crm.search_customers(q, 10).unwrap().into_iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(names("lovelace"), vec![a.id]);
        assert_eq!(names("ADA@ANALYT"), vec![a.id]);
        assert_eq!(names("7946 0958"), vec![a.id]);
        assert_eq!(names("acme_"), vec![b.id]);
        assert_eq!(names("100%"), vec![b.id]);
        assert_eq!(names("%"), vec![b.id], "LIKE wildcards are escaped");
        assert_eq!(names("_"), vec![b.id]);
        assert!(names("zzz").is_empty());
        assert!(names("   ").is_empty());
    }
}

macro_rules! conformance {
    ($store:ident, $make:expr) => {
        mod $store {
            use super::*;
            #[test]
            fn customer_round_trip() {
                checks::customer_round_trip($make);
            }
            #[test]
            fn orders_are_keyed_by_external_id() {
                checks::orders_are_keyed_by_external_id($make);
            }
            #[test]
            fn order_aggregates_by_status() {
                checks::order_aggregates_by_status($make);
            }
            #[test]
            fn interactions_round_trip() {
                checks::interactions_round_trip($make);
            }
            #[test]
            fn stats_fold_and_overwrite() {
                checks::stats_fold_and_overwrite($make);
            }
            #[test]
            fn failed_or_panicking_transactions_leave_nothing() {
                checks::failed_or_panicking_transactions_leave_nothing($make);
            }
            #[test]
            fn change_feed_is_ordered() {
                checks::change_feed_is_ordered($make);
            }
            #[test]
            fn timeline_pages_newest_first() {
                checks::timeline_pages_newest_first($make);
            }
            #[test]
            fn query_filters_sorts_and_pages() {
                checks::query_filters_sorts_and_pages($make);
            }
            #[test]
            fn order_records_stream_whole_in_customer_time_order() {
                checks::order_records_stream_whole_in_customer_time_order($make);
            }
            #[test]
            fn identity_fields_page_by_id_without_merged_customers() {
                checks::identity_fields_page_by_id_without_merged_customers($make);
            }
            #[test]
            fn identities_by_source_and_key() {
                checks::identities_by_source_and_key($make);
            }
            #[test]
            fn match_keys_and_suggestions() {
                checks::match_keys_and_suggestions($make);
            }
            #[test]
            fn merge_log_records_links_and_moves() {
                checks::merge_log_records_links_and_moves($make);
            }
            #[test]
            fn search_by_name_email_phone_company() {
                checks::search_by_name_email_phone_company($make);
            }
        }
    };
}

conformance!(sqlite_memory, SqliteStore::in_memory().unwrap());
conformance!(sqlite_memory_path, SqliteStore::open(":memory:").unwrap());

fn sqlite_file() -> SqliteStore {
    // Each store gets its own directory, kept for the life of the test process.
    let dir = tempfile::tempdir().unwrap().keep();
    SqliteStore::open(dir.join("crm.db")).unwrap()
}
conformance!(sqlite_file_store, sqlite_file());

#[cfg(feature = "postgres")]
conformance!(
    postgres_store,
    match common::pg_store() {
        Some(s) => s,
        None => return,
    }
);
