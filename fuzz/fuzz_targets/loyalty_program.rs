//! Loyalty programs as people write them (TOML) and programs send them (JSON): read anything;
//! a program that reads is valid, survives its own JSON, is stored and given back unchanged,
//! and earns, reviews tiers and simulates on a small database without a panic.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use chrono::Duration;
use crm_core::loyalty::{Event, Program, SimulationOptions};
use crm_core::{Crm, CustomerId, Error, NewOrder};
use crm_fuzz::{as_of, assert_typed, fixture};
use libfuzzer_sys::fuzz_target;

static DB: OnceLock<(Crm, Vec<CustomerId>)> = OnceLock::new();
static ORDER: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let read = if flags & 1 == 0 { Program::from_json(text) } else { Program::from_toml(text) };
    let program = match read {
        Ok(p) => p,
        Err(e) => {
            assert!(matches!(e, Error::Validation { .. }), "{text:?}: {e:?}");
            assert_typed(&e, "program");
            return;
        }
    };
    program.validate().expect("a program that reads is valid");
    let json = program.to_json();
    let back = Program::from_json(&json).unwrap_or_else(|e| panic!("{json} does not read back: {e}"));
    assert_eq!(back, program, "JSON round trip");

    let (crm, ids) = DB.get_or_init(fixture);
    if let Err(e) = crm.set_loyalty_program(&program) {
        assert_typed(&e, "set_loyalty_program");
        return;
    }
    assert_eq!(crm.loyalty_program().unwrap().as_ref(), Some(&program), "stored program differs");

    // Earn through an order (rates, rules, caps, tiers, first-order events), an event, then
    // read back and review.
    let n = ORDER.fetch_add(1, Ordering::Relaxed);
    let currency = ["USD", "EUR", "CNY", "JPY"][(flags >> 1) as usize % 4];
    let order: NewOrder = serde_json::from_value(serde_json::json!({
        "external_id": format!("LO{n}"), "customer_id": ids[(flags >> 3) as usize % ids.len()].0,
        "occurred_at": (as_of() - Duration::days(i64::from(flags >> 5))).to_rfc3339(), "currency": currency,
        "total_minor": 12345, "channel": "web",
        "items": [{"sku": "S1", "category": "shoes", "quantity": 3, "unit_price_minor": 4115}]
    }))
    .unwrap();
    if let Err(e) = crm.record_order(&order) {
        assert_typed(&e, "record_order");
    }
    for (i, event) in [Event::SignUp, Event::Birthday, Event::SurveyAnswered, Event::Referral].into_iter().enumerate() {
        if let Err(e) = crm.award_event(ids[i % ids.len()], event, &format!("ev{n}"), as_of()) {
            assert_typed(&e, "award_event");
        }
    }
    for &id in ids {
        crm.points_balance(id).unwrap();
        crm.points_statement(id).unwrap();
    }
    if let Err(e) = crm.review_tiers(as_of()) {
        assert_typed(&e, "review_tiers");
    }
    crm.loyalty_liability(90).unwrap();
    if let Err(e) = crm.simulate_loyalty(Some(&program), &SimulationOptions::default()) {
        assert_typed(&e, "simulate_loyalty");
    }
});
