//! Bulk ingest of CSV and JSON Lines files into an in-memory database: any bytes are read
//! without a panic; a file is refused as a whole only with a typed error, and otherwise every
//! row is accounted for in the report (stored, unchanged or refused with its row number).
#![no_main]

use std::io::Cursor;
use std::sync::OnceLock;

use crm_core::ingest::{Format, IngestOptions, RecordKind};
use crm_core::{Crm, CustomerId};
use crm_fuzz::{assert_typed, fixture};
use libfuzzer_sys::fuzz_target;

static DB: OnceLock<(Crm, Vec<CustomerId>)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some((&flags, file)) = data.split_first() else { return };
    let kind = RecordKind::ALL[usize::from(flags & 3) % 3];
    let format = if flags & 4 == 0 { Format::Csv } else { Format::JsonLines };
    let opts = || IngestOptions {
        ignore_unknown_columns: flags & 8 != 0,
        // Small batches now and then, so that rows split across transactions too.
        batch_size: if flags & 16 != 0 { 2 } else { IngestOptions::default().batch_size },
        ..Default::default()
    };
    // The fixture, so that orders and interactions find their customers (C1..C4); rows it
    // stores stay for later inputs, which the external ids make harmless.
    let (crm, _) = DB.get_or_init(fixture);
    let report = match crm.ingest_reader(kind, Cursor::new(file.to_vec()), format, opts()) {
        Ok(r) => r,
        Err(e) => {
            assert_typed(&e, "ingest_reader");
            return;
        }
    };
    assert!(!report.cancelled);
    assert_eq!(
        report.created + report.updated + report.unchanged + report.failed,
        report.rows,
        "every row is accounted for: {report:?}"
    );
    assert!(report.errors.len() as u64 <= report.failed, "{report:?}");
    for e in &report.errors {
        assert!(!e.reason.is_empty(), "{report:?}");
    }
    // Ingesting the same file again changes nothing that has an external id; customers and
    // interactions without one would be created again, so only orders (which always carry
    // one) are held to it.
    if kind == RecordKind::Orders {
        let again = crm.ingest_reader(kind, Cursor::new(file.to_vec()), format, opts()).expect("read it once");
        assert_eq!((again.created, again.updated), (0, 0), "re-ingest changed rows: {report:?} then {again:?}");
    }
});
