//! The rule language's JSON form (the serde tree programs send): read anything within the
//! limits; a tree that reads back prints as text that parses to the same tree, and checks and
//! evaluates as in `rule_text`.
#![no_main]

use std::sync::OnceLock;

use crm_core::rule::{parse, Expr};
use crm_core::{Crm, CustomerId, Error};
use crm_fuzz::{as_of, assert_typed, fixture};
use libfuzzer_sys::fuzz_target;

static DB: OnceLock<(Crm, Vec<CustomerId>)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let expr = match Expr::from_json(text) {
        Ok(e) => e,
        Err(e) => {
            assert!(matches!(e, Error::Validation { .. }), "{text:?}: {e:?}");
            assert_typed(&e, "from_json");
            return;
        }
    };
    let json = serde_json::to_string(&expr).expect("a rule serialises");
    assert_eq!(Expr::from_json(&json).expect("its own JSON reads back"), expr, "JSON round trip of {text}");

    let (crm, ids) = DB.get_or_init(fixture);
    // The JSON form can say things the checker refuses (a negative span, a list beyond the
    // limits); what the checker accepts must print as text that reads back the same.
    if crm.check_rule(&expr).is_ok() {
        let printed = expr.to_string();
        match parse(&printed) {
            Ok(back) => assert_eq!(back, expr, "text round trip of {json} through {printed:?}"),
            Err(e) => panic!("checked rule {json} prints as {printed:?}, which does not parse: {e}"),
        }
    }
    crm_fuzz::check_and_evaluate(crm, ids, &expr, as_of());
});
