//! The rule language's text form: parse anything; what parses prints back to the same tree
//! (text and JSON forms), and checks and evaluates against a small database without a panic,
//! with a typed error, and with the store (SQL) agreeing with the in-memory evaluator.
#![no_main]

use std::sync::OnceLock;

use crm_core::rule::{parse, Expr};
use crm_core::{Crm, CustomerId, Error};
use crm_fuzz::{as_of, assert_typed, fixture};
use libfuzzer_sys::fuzz_target;

static DB: OnceLock<(Crm, Vec<CustomerId>)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let expr = match parse(text) {
        Ok(e) => e,
        Err(e) => {
            assert!(matches!(e, Error::Parse { .. } | Error::Validation { .. }), "{text:?}: {e:?}");
            assert_typed(&e, "parse");
            return;
        }
    };
    // Printing then parsing gives back the same tree (rule/mod.rs), and so does JSON.
    let printed = expr.to_string();
    let reparsed = parse(&printed).unwrap_or_else(|e| panic!("printed {printed:?} does not parse: {e}"));
    assert_eq!(reparsed, expr, "text round trip of {text:?} through {printed:?}");
    let json = serde_json::to_string(&expr).expect("a rule serialises");
    let back = Expr::from_json(&json).unwrap_or_else(|e| panic!("JSON {json} does not read back: {e}"));
    assert_eq!(back, expr, "JSON round trip of {text:?}");

    let (crm, ids) = DB.get_or_init(fixture);
    crm_fuzz::check_and_evaluate(crm, ids, &expr, as_of());
});
