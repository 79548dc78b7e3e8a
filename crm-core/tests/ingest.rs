//! Bulk ingest: per-row error reports, every valid row stored, re-ingest changes nothing,
//! streaming readers for CSV and JSON Lines, progress reports.

use std::io::Write;

use crm_core::ingest::{self, Format, IngestOptions, Progress, RecordKind};
use crm_core::*;

const CUSTOMERS_CSV: &str = "\
external_id,name,email,phone,country,tags,attributes,birthday
C1,Ada Lovelace,ada@example.com,+44 20 7946 0958,GB,vip;newsletter,\"{\"\"plan\"\":\"\"gold\"\"}\",1990-12-10
C2,Bad Email,not-an-email,,US,,,
C3,Charles Babbage,charles@example.com,,GB,,,
,No Key,nokey@example.com,,,,,
C5,Bad Date,d@example.com,,DE,,,1990-13-45
C6,Grace Hopper,grace@example.com,+1 415 555 2671,us,,,
";

const ORDERS_CSV: &str = "\
external_id,customer_external_id,occurred_at,status,currency,total_minor,channel,items
O1,C1,2026-01-05T10:00:00Z,completed,GBP,2500,web,\"[{\"\"sku\"\":\"\"A\"\",\"\"category\"\":\"\"shoes\"\",\"\"quantity\"\":1,\"\"unit_price_minor\"\":2500}]\"
O2,C1,2026-02-05T10:00:00Z,completed,GBP,1000,store,
O3,C404,2026-02-05T10:00:00Z,completed,GBP,1000,store,
O4,C3,2026-03-05T10:00:00Z,refunded,GBP,700,web,
O5,C3,not-a-date,completed,GBP,700,web,
O6,C6,2026-03-05T10:00:00Z,completed,USD,-3,web,
O7,C6,2026-03-06T10:00:00Z,completed,USD,1999,app,
O1,C1,2026-01-05T10:00:00Z,completed,GBP,2500,web,\"[{\"\"sku\"\":\"\"A\"\",\"\"category\"\":\"\"shoes\"\",\"\"quantity\"\":1,\"\"unit_price_minor\"\":2500}]\"
";

fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::File::create(&p).unwrap().write_all(text.as_bytes()).unwrap();
    p
}

fn feed_len(crm: &Crm) -> usize {
    crm.changes_since(0, 10_000).unwrap().len()
}

#[test]
fn csv_reports_bad_rows_and_stores_the_rest_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Crm::open(dir.path().join("crm.db")).unwrap();
    let customers = file(&dir, "customers.csv", CUSTOMERS_CSV);
    let orders = file(&dir, "orders.csv", ORDERS_CSV);

    let r = crm.ingest_file(RecordKind::Customers, &customers, IngestOptions::default()).unwrap();
    assert_eq!((r.rows, r.created, r.failed), (6, 3, 3));
    let errs: Vec<_> = r.errors.iter().map(|e| (e.row, e.field.as_deref())).collect();
    assert_eq!(errs, vec![(3, Some("email")), (5, Some("external_id")), (6, Some("birthday"))]);
    let ada = crm.get_customer_by_external_id("C1").unwrap();
    assert_eq!(ada.tags.iter().map(String::as_str).collect::<Vec<_>>(), ["newsletter", "vip"]);
    assert_eq!(ada.attributes["plan"], "gold");
    assert_eq!(ada.phone.as_deref(), Some("+442079460958"));
    assert_eq!(crm.get_customer_by_external_id("C6").unwrap().address.country.as_deref(), Some("US"));

    let r =
        crm.ingest_file(RecordKind::Orders, &orders, IngestOptions { batch_size: 3, ..Default::default() }).unwrap();
    assert_eq!((r.rows, r.created, r.unchanged, r.failed), (8, 4, 1, 3), "{r:?}");
    let errs: Vec<_> = r.errors.iter().map(|e| (e.row, e.field.as_deref())).collect();
    assert_eq!(errs, vec![(4, Some("customer_external_id")), (6, Some("occurred_at")), (7, Some("total_minor"))]);
    let o1 = crm.get_order_by_external_id("O1").unwrap();
    assert_eq!(o1.items[0].category.as_deref(), Some("shoes"));
    let s = crm.customer_stats(ada.id).unwrap();
    assert_eq!((s.order_count, s.total_spent[0].minor), (2, 3500));
    let c3 = crm.get_customer_by_external_id("C3").unwrap();
    assert_eq!(crm.customer_stats(c3.id).unwrap().order_count, 0, "refunded orders do not count");

    // Ingesting the same files again changes nothing at all.
    let counts = crm.counts().unwrap();
    let feed = feed_len(&crm);
    let r = crm.ingest_file(RecordKind::Customers, &customers, IngestOptions::default()).unwrap();
    assert_eq!((r.created, r.updated, r.unchanged), (0, 0, 3));
    let r = crm.ingest_file(RecordKind::Orders, &orders, IngestOptions::default()).unwrap();
    assert_eq!((r.created, r.updated, r.unchanged), (0, 0, 5));
    assert_eq!(crm.counts().unwrap(), counts);
    assert_eq!(feed_len(&crm), feed);
    assert_eq!(crm.customer_stats(ada.id).unwrap(), s);
}

#[test]
fn jsonl_round_trip_through_export() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Crm::in_memory().unwrap();
    let customers: Vec<NewCustomer> = (1..=50)
        .map(|n| NewCustomer {
            external_id: Some(format!("K{n}")),
            name: format!("Person {n}"),
            email: Some(format!("p{n}@example.com")),
            ..Default::default()
        })
        .collect();
    let path = dir.path().join("c.jsonl");
    assert_eq!(ingest::write_file(&path, customers.clone()).unwrap(), 50);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n{\"name\": \"broken\"\n{\"external_id\":\"K99\",\"name\":\"X\",\"surprise\":1}\n");
    std::fs::write(&path, text).unwrap();
    let mut calls = Vec::new();
    let mut progress = |p: Progress| calls.push(p);
    let r = crm
        .ingest_file(
            RecordKind::Customers,
            &path,
            IngestOptions { batch_size: 20, progress: Some(&mut progress), ..Default::default() },
        )
        .unwrap();
    assert_eq!((r.rows, r.created, r.failed), (52, 50, 2));
    assert_eq!(r.errors[0].row, 52, "blank lines count as lines");
    assert!(r.errors[1].reason.contains("surprise"), "{:?}", r.errors[1]);
    assert_eq!(calls.iter().map(|p| p.rows_done).collect::<Vec<_>>(), [20, 40, 52]);
    let again = crm.ingest_customers(customers, IngestOptions::default()).unwrap();
    assert_eq!(again.unchanged, 50);
    assert_eq!(crm.counts().unwrap().customers, 50);
}

#[test]
fn iterator_progress_knows_the_total_and_errors_are_capped() {
    let crm = Crm::in_memory().unwrap();
    let rows: Vec<NewCustomer> = (0..30)
        .map(|n| NewCustomer {
            external_id: Some(format!("E{n}")),
            name: if n % 3 == 0 { String::new() } else { format!("N{n}") },
            ..Default::default()
        })
        .collect();
    let mut last = None;
    let mut progress = |p: Progress| last = Some(p);
    let r = crm
        .ingest_customers(rows, IngestOptions { batch_size: 7, max_errors: 4, progress: Some(&mut progress) })
        .unwrap();
    assert_eq!((r.created, r.failed, r.errors.len()), (20, 10, 4));
    assert_eq!(r.errors[0].row, 1);
    assert_eq!(last, Some(Progress { rows_done: 30, rows_total: Some(30) }));
}

#[test]
fn bad_headers_and_paths_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Crm::in_memory().unwrap();
    let unknown = file(&dir, "c.csv", "external_id,name,emial\nC1,A,a@example.com\n");
    let e = crm.ingest_file(RecordKind::Customers, &unknown, IngestOptions::default()).unwrap_err();
    assert_eq!(e.field(), Some("header"));
    assert!(e.to_string().contains("emial"));
    let missing =
        file(&dir, "o.csv", "external_id,customer_external_id,occurred_at,currency\nO1,C1,2026-01-01T00:00:00Z,USD\n");
    let e = crm.ingest_file(RecordKind::Orders, &missing, IngestOptions::default()).unwrap_err();
    assert!(e.to_string().contains("total_minor"), "{e}");
    let e = crm.ingest_file(RecordKind::Orders, dir.path().join("x.parquet"), IngestOptions::default()).unwrap_err();
    assert_eq!(e.field(), Some("path"));
    assert!(matches!(
        crm.ingest_file(RecordKind::Orders, dir.path().join("absent.csv"), IngestOptions::default()),
        Err(Error::Io(_))
    ));
    assert_eq!(crm.counts().unwrap(), Counts::default());
    assert!(crm.changes_since(0, 10).unwrap().is_empty());
}

#[test]
fn a_status_change_in_a_later_file_updates_stats() {
    let crm = Crm::in_memory().unwrap();
    crm.upsert_customer(&NewCustomer { external_id: Some("C1".into()), name: "A".into(), ..Default::default() })
        .unwrap();
    let o = |status: &str| -> NewOrder {
        serde_json::from_str(&format!(
            r#"{{"external_id":"O1","customer_external_id":"C1","occurred_at":"2026-01-01T00:00:00Z","currency":"USD","total_minor":500,"status":"{status}"}}"#
        ))
        .unwrap()
    };
    crm.ingest_orders([o("completed")], IngestOptions::default()).unwrap();
    let id = crm.get_customer_by_external_id("C1").unwrap().id;
    assert_eq!(crm.customer_stats(id).unwrap().order_count, 1);
    let r = crm.ingest_orders([o("refunded")], IngestOptions::default()).unwrap();
    assert_eq!(r.updated, 1);
    let s = crm.customer_stats(id).unwrap();
    assert_eq!((s.order_count, s.total_spent.len(), s.last_order_at), (0, 0, None));
}

#[test]
fn csv_export_reads_back_equal() {
    let orders: Vec<NewOrder> = (0..5)
        .map(|n| NewOrder {
            external_id: format!("O{n}"),
            customer_id: None,
            customer_external_id: Some("C1".into()),
            occurred_at: "2026-01-01T00:00:00.123Z".parse().unwrap(),
            status: OrderStatus::Refunded,
            currency: "JPY".parse().unwrap(),
            total_minor: 100 * n,
            channel: Some("web, \"quoted\"".into()),
            items: vec![LineItem {
                sku: "S,1".into(),
                category: Some("c".into()),
                quantity: 2,
                unit_price_minor: 50 * n,
            }],
        })
        .collect();
    let mut buf = Vec::new();
    ingest::write(&mut buf, Format::Csv, orders.clone()).unwrap();
    let back: Vec<NewOrder> =
        ingest::read::<NewOrder>(std::io::Cursor::new(buf), Format::Csv).unwrap().map(|(_, r)| r.unwrap()).collect();
    assert_eq!(back, orders);
}
