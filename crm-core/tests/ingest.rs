//! Bulk ingest: per-row error reports, every valid row stored, re-ingest changes nothing,
//! streaming readers for CSV and JSON Lines, progress reports.

mod common;

use std::io::Write;
use std::ops::ControlFlow;

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
    assert_eq!((r.rows, r.created, r.unchanged, r.failed), (8, 4, 0, 4), "{r:?}");
    let errs: Vec<_> = r.errors.iter().map(|e| (e.row, e.field.as_deref())).collect();
    assert_eq!(
        errs,
        vec![
            (4, Some("customer_external_id")),
            (6, Some("occurred_at")),
            (7, Some("total_minor")),
            (9, Some("external_id"))
        ]
    );
    assert_eq!(r.errors[3].reason, r#"duplicate external_id "O1": row 2 was applied"#);
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
    assert_eq!((r.created, r.updated, r.unchanged, r.failed), (0, 0, 4, 4));
    assert_eq!(crm.counts().unwrap(), counts);
    assert_eq!(feed_len(&crm), feed);
    assert_eq!(crm.customer_stats(ada.id).unwrap(), s);
}

#[test]
fn jsonl_round_trip_through_export() {
    let dir = tempfile::tempdir().unwrap();
    let crm = common::test_crm();
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
    let mut progress = |p: Progress| {
        calls.push(p);
        ControlFlow::Continue(())
    };
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
    let crm = common::test_crm();
    let rows: Vec<NewCustomer> = (0..30)
        .map(|n| NewCustomer {
            external_id: Some(format!("E{n}")),
            name: if n % 3 == 0 { String::new() } else { format!("N{n}") },
            ..Default::default()
        })
        .collect();
    let mut last = None;
    let mut progress = |p: Progress| {
        last = Some(p);
        ControlFlow::Continue(())
    };
    let r = crm
        .ingest_customers(
            rows,
            IngestOptions { batch_size: 7, max_errors: 4, progress: Some(&mut progress), ..Default::default() },
        )
        .unwrap();
    assert_eq!((r.created, r.failed, r.errors.len()), (20, 10, 4));
    assert_eq!(r.errors[0].row, 1);
    assert_eq!(last, Some(Progress { rows_done: 30, rows_total: Some(30) }));
}

#[test]
fn bad_headers_and_paths_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let crm = common::test_crm();
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
    let crm = common::test_crm();
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
            status: Some(OrderStatus::Refunded),
            currency: "JPY".parse().unwrap(),
            total_minor: 100 * n,
            channel: Some("web, \"quoted\"".into()),
            items: Some(vec![LineItem {
                sku: "S,1".into(),
                category: Some("c".into()),
                quantity: 2,
                unit_price_minor: 50 * n,
            }]),
        })
        .collect();
    let mut buf = Vec::new();
    ingest::write(&mut buf, Format::Csv, orders.clone()).unwrap();
    let back: Vec<NewOrder> = ingest::read::<NewOrder>(std::io::Cursor::new(buf), Format::Csv, false)
        .unwrap()
        .map(|(_, r)| r.unwrap())
        .collect();
    assert_eq!(back, orders);
}

fn customer(n: u32) -> NewCustomer {
    NewCustomer { external_id: Some(format!("C{n}")), name: format!("Customer {n}"), ..Default::default() }
}

fn cells_order(ext: &str, customer: &str, at_us: i64, currency: &str, total: i64) -> Result<NewOrder> {
    use ingest::{Cell, Record};
    let mut cells = vec![None; NewOrder::COLUMNS.len()];
    let positions = ingest::column_positions::<NewOrder>(
        "columns",
        &["external_id", "customer_external_id", "occurred_at", "currency", "total_minor"],
        false,
    )?;
    let values = [Cell::Text(ext), Cell::Text(customer), Cell::Time(at_us), Cell::Text(currency), Cell::Int(total)];
    for (at, v) in positions.into_iter().zip(values) {
        cells[at.unwrap()] = Some(v);
    }
    NewOrder::from_cells(&mut cells)
}

#[test]
fn typed_rows_keep_the_callers_numbers_errors_and_idempotency() {
    let crm = common::test_crm();
    crm.ingest_customers((1..=3).map(customer), IngestOptions::default()).unwrap();
    let t0 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
                                    // Row numbers are the caller's (here every tenth line); conversion errors come along.
    let rows = || {
        [
            (10, cells_order("O1", "C1", t0, "EUR", 500)),
            (20, cells_order("O2", "C2", t0, "XYZ", 500)), // refused by the caller's conversion
            (30, cells_order("O3", "C404", t0, "EUR", 500)), // refused by the store: no such customer
            (40, cells_order("O4", "C3", t0, "EUR", -5)),  // refused by validation
            (50, cells_order("O5", "C3", i64::MAX, "EUR", 5)), // refused by the caller's conversion
            (60, cells_order("O6", "C3", t0 + 1, "EUR", 700)),
        ]
        .into_iter()
        .map(|(n, r)| (n, r.map_err(|e| ingest::RowError::from_error(n, e))))
    };
    let r = crm.ingest_rows(rows(), IngestOptions { batch_size: 4, ..Default::default() }).unwrap();
    assert_eq!((r.rows, r.created, r.failed, r.cancelled), (6, 2, 4, false), "{r:?}");
    let errs: Vec<_> = r.errors.iter().map(|e| (e.row, e.field.as_deref())).collect();
    assert_eq!(
        errs,
        [
            (20, Some("currency")),
            (30, Some("customer_external_id")),
            (40, Some("total_minor")),
            (50, Some("occurred_at"))
        ]
    );
    let o6 = crm.get_order_by_external_id("O6").unwrap();
    assert_eq!((o6.total.minor, o6.occurred_at.timestamp_micros()), (700, t0 + 1));
    let c3 = crm.get_customer_by_external_id("C3").unwrap();
    let stats = crm.customer_stats(c3.id).unwrap();
    assert_eq!((stats.order_count, stats.total_spent[0].minor), (1, 700));

    let (counts, feed) = (crm.counts().unwrap(), feed_len(&crm));
    let again = crm.ingest_rows(rows(), IngestOptions::default()).unwrap();
    assert_eq!((again.created, again.updated, again.unchanged, again.failed), (0, 0, 2, 4));
    assert_eq!((crm.counts().unwrap(), feed_len(&crm)), (counts, feed));
    assert_eq!(crm.customer_stats(c3.id).unwrap(), stats);
}

#[test]
fn cancelling_commits_whole_batches_and_reads_at_most_a_batch_ahead() {
    let crm = common::test_crm();
    let pulled = std::cell::Cell::new(0);
    let rows = (1..=10).map(|n| {
        pulled.set(n);
        customer(n)
    });
    let mut calls = Vec::new();
    let mut stop = |p: Progress| {
        calls.push((p.rows_done, p.rows_total));
        if p.rows_done >= 6 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let opts = IngestOptions { batch_size: 3, progress: Some(&mut stop), ..Default::default() };
    let r = crm.ingest_customers(rows, opts).unwrap();
    assert_eq!((r.rows, r.created, r.cancelled), (6, 6, true));
    assert_eq!(calls, [(3, Some(10)), (6, Some(10))]);
    assert_eq!(pulled.get(), 9, "one batch past the last is read (while the last was written), and no more");
    assert_eq!(crm.counts().unwrap().customers, 6);
    assert!(crm.get_customer_by_external_id("C6").is_ok());
    assert!(matches!(crm.get_customer_by_external_id("C7"), Err(Error::NotFound { .. })));
    assert_eq!(feed_len(&crm), 6);

    // A stop after the last batch leaves nothing behind, so it is no cancellation.
    let mut stop_now = |_: Progress| ControlFlow::Break(());
    let opts = IngestOptions { batch_size: 20, progress: Some(&mut stop_now), ..Default::default() };
    let r = crm.ingest_customers((1..=10).map(customer), opts).unwrap();
    assert_eq!((r.rows, r.created, r.unchanged, r.cancelled), (10, 4, 6, false));
}

#[test]
fn file_progress_counts_the_lines_and_cancels() {
    let dir = tempfile::tempdir().unwrap();
    let crm = common::test_crm();
    let path = file(&dir, "c.csv", CUSTOMERS_CSV);
    let mut seen = Vec::new();
    let mut stop = |p: Progress| {
        seen.push((p.rows_done, p.rows_total));
        ControlFlow::Break(())
    };
    let opts = IngestOptions { batch_size: 2, progress: Some(&mut stop), ..Default::default() };
    let r = crm.ingest_file(RecordKind::Customers, &path, opts).unwrap();
    assert_eq!(seen, [(2, Some(6))]);
    assert_eq!((r.rows, r.created, r.failed, r.cancelled), (2, 1, 1, true));
    assert_eq!(crm.counts().unwrap().customers, 1);
}

#[test]
fn column_checks_are_the_header_checks() {
    use ingest::column_positions;
    let dup = column_positions::<NewCustomer>("columns", &["external_id", "name", "name"], false).unwrap_err();
    assert_eq!(dup.field(), Some("columns"));
    assert!(dup.to_string().contains("twice"), "{dup}");
    let unknown = column_positions::<NewCustomer>("columns", &["external_id", "name", "emial"], false).unwrap_err();
    assert!(unknown.to_string().contains("emial"), "{unknown}");
    let missing = column_positions::<NewInteraction>("columns", &["external_id", "occurred_at"], false).unwrap_err();
    assert!(missing.to_string().contains("\"kind\""), "{missing}");
    let dir = tempfile::tempdir().unwrap();
    let twice = file(&dir, "twice.csv", "external_id,name,name\nC1,A,B\n");
    let e = common::test_crm().ingest_file(RecordKind::Customers, twice, IngestOptions::default()).unwrap_err();
    assert_eq!(e.field(), Some("header"));
}

/// Everything a re-import could change: counts, the whole change feed, every customer with
/// their statistics and points.
fn state(crm: &Crm) -> (Counts, Vec<Change>, Vec<(Customer, CustomerStats, loyalty::Balance)>) {
    let customers = crm.query_customers(&CustomerQuery { limit: 1000, ..Default::default() }).unwrap().items;
    let per_customer = customers
        .into_iter()
        .map(|c| {
            let s = crm.customer_stats(c.id).unwrap();
            let b = crm.points_balance(c.id).unwrap();
            (c, s, b)
        })
        .collect();
    (crm.counts().unwrap(), crm.changes_since(0, 10_000).unwrap(), per_customer)
}

#[test]
fn duplicates_in_one_import_first_row_wins_and_reimport_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Crm::open(dir.path().join("crm.db")).unwrap();
    crm.set_loyalty_program(
        &loyalty::Program::from_toml(
            "name = \"P\"\n[rates.EUR]\npoints = 1\nper_minor = 100\n[[rules]]\nname = \"base\"\nkind = \"base\"\n",
        )
        .unwrap(),
    )
    .unwrap();
    // Duplicates inside a batch and across batches (batch_size 2), with differing content.
    let customers = file(
        &dir,
        "c.csv",
        "external_id,name,email\nC1,Ada,ada@example.com\nC2,Bob,\nC1,Ada Changed,x@example.com\nC3,Cy,\nC2,Bob B,\n",
    );
    let orders = file(
        &dir,
        "o.csv",
        "external_id,customer_external_id,occurred_at,status,currency,total_minor\n\
         O1,C1,2026-01-05T10:00:00Z,completed,EUR,2500\n\
         O1,C1,2026-01-05T10:00:00Z,refunded,EUR,2500\n\
         O2,C404,2026-01-06T10:00:00Z,completed,EUR,100\n\
         O2,C2,2026-01-06T10:00:00Z,completed,EUR,900\n\
         O2,C3,2026-01-06T10:00:00Z,completed,EUR,700\n",
    );
    let interactions = file(
        &dir,
        "i.jsonl",
        "{\"external_id\":\"I1\",\"customer_external_id\":\"C1\",\"kind\":\"call\",\"occurred_at\":\"2026-01-05T10:00:00Z\"}\n\
         {\"external_id\":\"I1\",\"customer_external_id\":\"C2\",\"kind\":\"email\",\"occurred_at\":\"2026-01-05T10:00:00Z\"}\n",
    );
    let opts = || IngestOptions { batch_size: 2, ..Default::default() };
    let import = |crm: &Crm| {
        [
            crm.ingest_file(RecordKind::Customers, &customers, opts()).unwrap(),
            crm.ingest_file(RecordKind::Orders, &orders, opts()).unwrap(),
            crm.ingest_file(RecordKind::Interactions, &interactions, opts()).unwrap(),
        ]
    };
    let [c, o, i] = import(&crm);
    assert_eq!((c.created, c.failed), (3, 2), "{c:?}");
    let reasons: Vec<_> = c.errors.iter().map(|e| (e.row, e.field.as_deref(), e.reason.as_str())).collect();
    assert_eq!(
        reasons,
        [
            (4, Some("external_id"), "duplicate external_id \"C1\": row 2 was applied"),
            (6, Some("external_id"), "duplicate external_id \"C2\": row 3 was applied"),
        ]
    );
    assert_eq!(crm.get_customer_by_external_id("C1").unwrap().name, "Ada", "the first row won");
    // A row refused by the store claims nothing: the next O2 is applied, the one after refused.
    assert_eq!((o.created, o.failed), (2, 3), "{o:?}");
    let reasons: Vec<_> = o.errors.iter().map(|e| (e.row, e.reason.as_str())).collect();
    assert_eq!(reasons[0], (3, "duplicate external_id \"O1\": row 2 was applied"));
    assert_eq!(reasons[2], (6, "duplicate external_id \"O2\": row 5 was applied"));
    assert_eq!(crm.get_order_by_external_id("O1").unwrap().status, OrderStatus::Completed);
    assert_eq!((i.created, i.failed, i.errors[0].row), (1, 1, 2));
    assert_eq!(i.errors[0].reason, "duplicate external_id \"I1\": row 1 was applied");

    // The same files again: nothing created or updated, no feed entry, no statistics or
    // points changed.
    let before = state(&crm);
    let [c, o, i] = import(&crm);
    assert_eq!((c.created, c.updated, c.unchanged, c.failed), (0, 0, 3, 2));
    assert_eq!((o.created, o.updated, o.unchanged, o.failed), (0, 0, 2, 3));
    assert_eq!((i.created, i.updated, i.unchanged, i.failed), (0, 0, 1, 1));
    assert_eq!(state(&crm), before);
    assert_eq!(crm.points_balance(crm.customer_id_by_external_id("C1").unwrap()).unwrap().balance, 25);
}

#[test]
fn csv_headers_match_whatever_their_case_and_unknown_columns_can_be_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let crm = common::test_crm();
    // An ERP export: a BOM, upper case, spaces around names, and columns of its own.
    let path = file(
        &dir,
        "c.csv",
        "\u{feff}External_ID, NAME ,Email,ERP Branch,internal note\nC1,Ada,ADA@example.com,North,x\n",
    );
    let e = crm.ingest_file(RecordKind::Customers, &path, IngestOptions::default()).unwrap_err();
    assert_eq!(e.field(), Some("header"));
    assert!(e.to_string().contains("unknown column \"ERP Branch\""), "{e}");
    assert_eq!(crm.counts().unwrap(), Counts::default());
    let r = crm
        .ingest_file(RecordKind::Customers, &path, IngestOptions { ignore_unknown_columns: true, ..Default::default() })
        .unwrap();
    assert_eq!((r.created, r.failed), (1, 0), "{r:?}");
    assert_eq!(r.ignored_columns, ["ERP Branch", "internal note"]);
    let ada = crm.get_customer_by_external_id("C1").unwrap();
    assert_eq!((ada.name.as_str(), ada.email.as_deref()), ("Ada", Some("ada@example.com")));
    // Names that differ only in case are one column, so twice is an error.
    let twice = file(&dir, "t.csv", "external_id,Name,NAME\nC1,A,B\n");
    let opts = IngestOptions { ignore_unknown_columns: true, ..Default::default() };
    let e = crm.ingest_file(RecordKind::Customers, twice, opts).unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    let orders = file(
        &dir,
        "o.csv",
        "EXTERNAL_ID,Customer_External_Id,Occurred_At,CURRENCY,Total_Minor\nO1,C1,2026-01-01T00:00:00Z,EUR,100\n",
    );
    assert_eq!(crm.ingest_file(RecordKind::Orders, orders, IngestOptions::default()).unwrap().created, 1);
}

#[test]
fn customer_columns_absent_keep_and_empty_cells_clear() {
    let dir = tempfile::tempdir().unwrap();
    let crm = common::test_crm();
    let full = file(
        &dir,
        "full.csv",
        "external_id,name,email,phone,country,city,tags,attributes,consents\n\
         C1,Ada,ada@example.com,+44 20 7946 0958,GB,London,vip;news,\"{\"\"plan\"\":\"\"gold\"\",\"\"n\"\":1}\",\
         \"{\"\"email\"\":{\"\"granted\"\":true,\"\"at\"\":\"\"2026-01-01T00:00:00Z\"\"}}\"\n",
    );
    crm.ingest_file(RecordKind::Customers, &full, IngestOptions::default()).unwrap();
    let before = crm.get_customer_by_external_id("C1").unwrap();
    // A sync file with a few columns: absent columns keep, empty cells clear, objects merge.
    let sync =
        file(&dir, "sync.csv", "external_id,email,city,attributes\nC1,,Leeds,\"{\"\"n\"\":null,\"\"m\"\":2}\"\n");
    let r = crm.ingest_file(RecordKind::Customers, &sync, IngestOptions::default()).unwrap();
    assert_eq!((r.updated, r.failed), (1, 0), "{r:?}");
    let c = crm.get_customer_by_external_id("C1").unwrap();
    assert_eq!(c.email, None, "an empty cell clears");
    assert_eq!(
        (c.name.as_str(), &c.phone, &c.tags, &c.consents),
        ("Ada", &before.phone, &before.tags, &before.consents)
    );
    assert_eq!((c.address.country.as_deref(), c.address.city.as_deref()), (Some("GB"), Some("Leeds")));
    assert_eq!(serde_json::Value::Object(c.attributes), serde_json::json!({"plan": "gold", "m": 2}));
    // Empty tags and consents cells clear them; an empty name keeps the name.
    let clear = file(&dir, "clear.csv", "external_id,name,tags,consents\nC1,,,\n");
    crm.ingest_file(RecordKind::Customers, &clear, IngestOptions::default()).unwrap();
    let c = crm.get_customer_by_external_id("C1").unwrap();
    assert_eq!((c.name.as_str(), c.tags.len(), c.consents.len()), ("Ada", 0, 0));
    // A new customer still needs a name.
    let nameless = file(&dir, "new.csv", "external_id,email\nC2,b@example.com\n");
    let r = crm.ingest_file(RecordKind::Customers, &nameless, IngestOptions::default()).unwrap();
    assert_eq!((r.failed, r.errors[0].field.as_deref()), (1, Some("name")));

    // JSON Lines: an absent key keeps, null clears.
    let jl = file(&dir, "c.jsonl", "{\"external_id\":\"C1\",\"phone\":null,\"address\":{\"city\":null}}\n");
    crm.ingest_file(RecordKind::Customers, &jl, IngestOptions::default()).unwrap();
    let c = crm.get_customer_by_external_id("C1").unwrap();
    assert_eq!((c.phone, c.address.city, c.address.country.as_deref()), (None, None, Some("GB")));
}

#[test]
fn typed_cells_tell_an_absent_column_from_a_null_cell() {
    use ingest::{Cell, Record};
    let crm = common::test_crm();
    crm.upsert_customer_patch(
        &serde_json::from_str(
            r#"{"external_id":"C1","name":"Ada","email":"a@example.com","title":"CEO","tags":["vip"]}"#,
        )
        .unwrap(),
        UpsertMode::Merge,
    )
    .unwrap();
    // Columns external_id, email, tags: email null (clears), tags null (clears); title absent (keeps).
    let positions =
        ingest::column_positions::<CustomerPatch>("columns", &["external_id", "email", "tags"], false).unwrap();
    let mut cells = vec![None; CustomerPatch::COLUMNS.len()];
    for (at, cell) in positions.into_iter().zip([Cell::Text("C1"), Cell::Null, Cell::Null]) {
        cells[at.unwrap()] = Some(cell);
    }
    let row = CustomerPatch::from_cells(&mut cells).unwrap();
    let r = crm.ingest_rows([(1, Ok(row))], IngestOptions::default()).unwrap();
    assert_eq!(r.updated, 1);
    let c = crm.get_customer_by_external_id("C1").unwrap();
    assert_eq!((c.email, c.title.as_deref(), c.tags.len()), (None, Some("CEO"), 0));
    // For orders a null cell is an absent one, as before.
    let mut cells = vec![None; NewOrder::COLUMNS.len()];
    for (name, cell) in [
        ("external_id", Cell::Text("O1")),
        ("customer_external_id", Cell::Text("C1")),
        ("customer_id", Cell::Null),
        ("occurred_at", Cell::Time(1_767_225_600_000_000)),
        ("currency", Cell::Text("EUR")),
        ("total_minor", Cell::Int(5)),
    ] {
        cells[NewOrder::COLUMNS.iter().position(|c| *c == name).unwrap()] = Some(cell);
    }
    assert_eq!(NewOrder::from_cells(&mut cells).unwrap().customer_id, None);
}

/// A store's records as the host knows them (external ids, no store ids or write times),
/// with each customer's statistics, and the change feed as (kind, operation, external id).
type Picture = (Vec<(Customer, CustomerStats)>, Vec<(String, String, Vec<LineItem>)>, Vec<Interaction>, Vec<String>);

fn picture(crm: &Crm) -> Picture {
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let customers = crm.query_customers(&CustomerQuery { limit: 1000, ..Default::default() }).unwrap().items;
    let ext_of = |id: CustomerId| crm.get_customer(id).unwrap().external_id.unwrap();
    let mut by_customer = Vec::new();
    let mut orders = Vec::new();
    let mut interactions = Vec::new();
    for c in customers {
        let mut s = crm.customer_stats(c.id).unwrap();
        s.customer_id = CustomerId(0);
        by_customer.push((Customer { id: CustomerId(0), created_at: epoch, updated_at: epoch, ..c }, s));
    }
    for n in 1..=9 {
        if let Ok(o) = crm.get_order_by_external_id(&format!("O{n}")) {
            let key = format!("{} {:?} {} {:?}", ext_of(o.customer_id), o.status, o.total, o.channel);
            orders.push((o.external_id.clone(), key, o.items.clone()));
        }
        if let Ok(id) = crm.interaction_id_by_external_id(&format!("I{n}")) {
            let mut i = crm.get_interaction(id).unwrap();
            let customer = ext_of(i.customer_id);
            (i.id, i.customer_id, i.created_at, i.body) = (InteractionId(0), CustomerId(0), epoch, Some(customer));
            interactions.push(i);
        }
    }
    by_customer.sort_by(|a, b| a.0.external_id.cmp(&b.0.external_id));
    let feed = crm
        .changes_since(0, 10_000)
        .unwrap()
        .into_iter()
        .map(|ch| {
            let ext = match ch.entity {
                changes::Entity::Customer => ext_of(CustomerId(ch.id)),
                changes::Entity::Order => crm.get_order(OrderId(ch.id)).unwrap().external_id,
                changes::Entity::Interaction => crm.get_interaction(InteractionId(ch.id)).unwrap().external_id.unwrap(),
                other => format!("{other:?} {}", ch.id),
            };
            format!("{:?} {:?} {ext}", ch.entity, ch.op)
        })
        .collect();
    (by_customer, orders, interactions, feed)
}

/// Batches look up what their rows need in one query per kind and store their new records
/// together (binary COPY on PostgreSQL); what they leave must be what the same rows written
/// one by one through the single calls leave: records, statistics, the feed in row order,
/// the outcome of every row and the reason of every refusal.
#[test]
fn batches_leave_what_single_calls_leave() {
    let t = |d: u32| chrono::DateTime::parse_from_rfc3339(&format!("2026-01-{d:02}T10:00:00Z")).unwrap().to_utc();
    let cust = |ext: &str, name: &str, email: Option<&str>| NewCustomer {
        external_id: Some(ext.into()),
        name: name.into(),
        email: email.map(Into::into),
        ..Default::default()
    };
    let order = |ext: &str, c: Option<&str>, status: OrderStatus, total: i64| NewOrder {
        external_id: ext.into(),
        customer_external_id: c.map(Into::into),
        occurred_at: t(3 + total as u32 % 20),
        status: Some(status),
        currency: Currency::new("EUR").unwrap(),
        total_minor: total,
        customer_id: None,
        channel: Some("web".into()),
        items: None,
    };
    let interaction = |ext: &str, c: &str, subject: &str| NewInteraction {
        external_id: Some(ext.into()),
        customer_external_id: Some(c.into()),
        customer_id: None,
        kind: InteractionKind::Call,
        channel: None,
        direction: None,
        occurred_at: t(2),
        subject: Some(subject.into()),
        body: None,
        score: None,
        payload: None,
    };
    let setup = |crm: &Crm| {
        crm.upsert_customer(&cust("C1", "Ada", None)).unwrap();
        crm.upsert_customer(&cust("C2", "Bob", Some("bob@example.com"))).unwrap();
        crm.record_order(&order("O1", Some("C1"), OrderStatus::Completed, 500)).unwrap();
        crm.add_interaction(&interaction("I1", "C1", "hello")).unwrap();
    };
    let customers = vec![
        cust("C3", "Cy", None),
        cust("C1", "Ada", Some("ada@example.com")), // changed
        cust("C2", "Bob", Some("bob@example.com")), // unchanged
        cust("C4", "Di", None),
        cust("C5", "", None),                   // new without a name: refused
        cust("C6", "Ed", Some("not an email")), // refused
        cust("C7", "Flo", None),
    ];
    let c1 = |crm: &Crm| crm.customer_id_by_external_id("C1").unwrap();
    let orders = |crm: &Crm| {
        let mut by_id = order("O4", None, OrderStatus::Completed, 250);
        by_id.customer_id = Some(c1(crm));
        let mut unknown_id = order("O5", None, OrderStatus::Completed, 90);
        unknown_id.customer_id = Some(CustomerId(999_999));
        let mut lines = order("O6", Some("C4"), OrderStatus::Completed, 300);
        lines.items = Some(vec![LineItem { sku: "A".into(), category: None, quantity: 3, unit_price_minor: 100 }]);
        vec![
            order("O2", Some("C3"), OrderStatus::Completed, 1200),
            order("O1", Some("C1"), OrderStatus::Refunded, 500), // a correction
            order("O3", Some("C404"), OrderStatus::Completed, 100), // unknown customer
            by_id,
            unknown_id,
            lines,
            order("O7", None, OrderStatus::Completed, 100), // new, names no customer
            order("O8", Some("C3"), OrderStatus::Cancelled, 700),
        ]
    };
    let interactions = vec![
        interaction("I2", "C4", "hi"),
        interaction("I1", "C1", "hello again"), // a correction
        interaction("I3", "C404", "who"),
        interaction("I4", "C3", "yo"),
    ];

    let bulk = common::test_crm();
    let single = common::test_crm();
    setup(&bulk);
    setup(&single);
    let opts = || IngestOptions { batch_size: 3, ..Default::default() };
    let reports = [
        bulk.ingest_customers(customers.clone(), opts()).unwrap(),
        bulk.ingest_orders(orders(&bulk), opts()).unwrap(),
        bulk.ingest_interactions(interactions.clone(), opts()).unwrap(),
    ];
    let tally = |outcomes: Vec<Result<Outcome>>| {
        let mut r = ingest::IngestReport::default();
        for (n, o) in (1u64..).zip(outcomes) {
            r.rows += 1;
            match o {
                Ok(Outcome::Created) => r.created += 1,
                Ok(Outcome::Updated) => r.updated += 1,
                Ok(Outcome::Unchanged) => r.unchanged += 1,
                Err(e) => {
                    r.failed += 1;
                    r.errors.push(ingest::RowError::from_error(n, e));
                }
            }
        }
        r
    };
    let expected = [
        tally(customers.iter().map(|c| single.upsert_customer(c).map(|w| w.outcome)).collect()),
        tally(orders(&single).iter().map(|o| single.record_order(o).map(|w| w.outcome)).collect()),
        tally(interactions.iter().map(|i| single.add_interaction(i).map(|w| w.outcome)).collect()),
    ];
    assert_eq!(reports, expected);
    assert_eq!(
        [
            (reports[0].created, reports[0].updated, reports[0].unchanged, reports[0].failed),
            (reports[1].created, reports[1].updated, reports[1].unchanged, reports[1].failed)
        ],
        [(3, 1, 1, 2), (4, 1, 0, 3)],
        "the rows cover new, changed, unchanged and refused records"
    );
    assert_eq!(picture(&bulk), picture(&single));
}
