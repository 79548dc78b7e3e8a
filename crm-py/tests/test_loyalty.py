"""Loyalty from Python: the program, orders earning, ledger calls with keys, the statement
frame, threads redeeming at once, the simulator, and each error typed with nothing written."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

import crm
from conftest import order

PROGRAM = {
    "name": "Stars",
    "rates": {"GBP": {"points": 1, "per_minor": 100}},
    "rules": [
        {"name": "base", "kind": "base"},
        {"name": "books", "kind": "multiplier", "by": "category", "value": "books", "multiplier": 2.0},
        {"name": "welcome", "kind": "bonus", "event": "sign_up", "points": 25},
    ],
    "expiry_days": 365,
}


def test_orders_earn_once_and_refunds_reverse(db: crm.Crm, ada: crm.Customer) -> None:
    db.set_loyalty_program(PROGRAM)
    assert db.loyalty_program()["name"] == "Stars"  # type: ignore[index]
    db.record_order(order(total=4200))
    db.record_order(order(total=4200))
    assert db.points_balance(ada.id).balance == 84  # 42 base + 42 books
    db.record_order(order(total=4200, status="refunded"))
    assert db.points_balance(ada.id).balance == 0


def test_refund_undone_and_deletions_settle_the_ledger(db: crm.Crm, ada: crm.Customer) -> None:
    db.set_loyalty_program(PROGRAM)
    w = db.record_order(order(total=4200))
    db.record_order(order(total=4200, status="refunded"))
    db.record_order(order(total=4200))
    assert db.points_balance(ada.id).balance == 0, "an order sent again without a status keeps its status"
    db.record_order(order(total=4200, status="completed"))
    assert db.points_balance(ada.id).balance == 84, "a refund undone gives the points back"
    db.delete_order(w.record.id)
    assert db.points_balance(ada.id).balance == 0, "a deleted order takes its points with it"
    db.record_order(order(total=2000))
    assert db.points_balance(ada.id).balance == 40, "its external id earns again as a new order"
    db.earn_points(ada.id, 10, "E-1")
    db.delete_customer(ada.id)
    newcomer = db.upsert_customer({"external_id": "C-2", "name": "Grace"}).record
    assert newcomer.id == ada.id  # SQLite gives the largest id again
    assert db.points_balance(newcomer.id).balance == 0
    assert db.points_statement(newcomer.id)["entries"] == []


def test_ledger_calls_replay_by_key(db: crm.Crm, ada: crm.Customer) -> None:
    db.set_loyalty_program(PROGRAM)
    e = db.earn_points(ada.id, 100, "E-1")
    assert (e.kind, e.balance_after, e.replayed) == ("earn", 100, False)
    assert db.earn_points(ada.id, 100, "E-1").replayed
    r = db.redeem_points(ada.id, 30, "R-1")
    assert r.balance_after == 70
    again = db.redeem_points(ada.id, 30, "R-1")
    assert again.replayed and again.id == r.id
    bonus = db.award_event(ada.id, "sign_up", "signup:C-1")
    assert bonus is not None and bonus.points == 25
    assert db.award_event(ada.id, "referral", "ref:1") is None
    assert db.adjust_points(ada.id, -5, "A-1", "typo").balance_after == 90
    frame = db.points_statement_frame(ada.id)
    assert list(frame["kind"]) == ["earn", "redeem", "earn", "adjust"]
    assert list(frame["points"]) == [100, -30, 25, -5]
    assert db.points_statement(ada.id)["balance"]["balance"] == 90


def test_balance_as_of_and_tier_history(db: crm.Crm, ada: crm.Customer) -> None:
    tiers = {"basis": {"by": "points"}, "window_days": 365, "levels": [{"name": "silver", "min": 50}]}
    db.set_loyalty_program(dict(PROGRAM, tiers=tiers))
    t1 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    t2 = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
    db.earn_points(ada.id, 40, "E-1", at=t1)
    db.earn_points(ada.id, 20, "E-2", at=t2)
    assert db.points_balance_as_of(ada.id, t1 - dt.timedelta(days=1)) == 0
    assert db.points_balance_as_of(ada.id, t1) == 40
    assert db.points_balance_as_of(ada.id, t2) == 60
    assert db.loyalty_tier_history(ada.id) == []  # points given by hand do not qualify
    db.record_order(order(total=4200))  # 84 qualifying points cross the silver line at once
    history = db.loyalty_tier_history(ada.id)
    assert [(h["tier"], h["reason"]) for h in history] == [("silver", "upgrade")]
    db.set_loyalty_tier(ada.id, None)
    assert db.loyalty_tier_history(ada.id)[-1]["reason"] == "manual"
    with pytest.raises(crm.NotFoundError):
        db.loyalty_tier_history(999_999)
    with pytest.raises(crm.NotFoundError):
        db.points_balance_as_of(999_999, t1)


def test_expiry_runs_once(db: crm.Crm, ada: crm.Customer) -> None:
    db.set_loyalty_program(PROGRAM)
    old = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    db.earn_points(ada.id, 10, "E-old", at=old)
    assert db.expire_points() == (1, 10)
    assert db.expire_points() == (0, 0)


def test_toml_programs(db: crm.Crm) -> None:
    db.set_loyalty_program('name = "Stars"\n[rates.GBP]\npoints = 1\nper_minor = 100\n', toml=True)
    assert db.loyalty_program() is not None


def test_errors_are_typed_and_write_nothing(db: crm.Crm, ada: crm.Customer) -> None:
    db.set_loyalty_program(PROGRAM)
    db.earn_points(ada.id, 50, "E-1")
    before = db.points_statement(ada.id)
    with pytest.raises(crm.InsufficientPointsError) as e:
        db.redeem_points(ada.id, 51, "R-1")
    assert (e.value.available, e.value.requested) == (50, 51)
    assert isinstance(e.value, ValueError) and isinstance(e.value, crm.CrmError)
    for points in (0, -3):
        with pytest.raises(crm.ValidationError) as v:
            db.redeem_points(ada.id, points, "R-2")
        assert v.value.field == "points"
    with pytest.raises(crm.NotFoundError):
        db.redeem_points(999, 5, "R-3")
    with pytest.raises(crm.ConflictError):
        db.earn_points(ada.id, 51, "E-1")
    with pytest.raises(crm.ValidationError) as v:
        db.set_loyalty_tier(ada.id, "platinum")
    with pytest.raises(crm.ValidationError) as v:
        db.set_loyalty_program({"name": "P", "rules": [{"name": "b", "kind": "base", "when": "shoe_size > 3"}]})
    assert v.value.field == "rules[0].when.shoe_size"
    with pytest.raises(crm.ValidationError) as v:
        db.set_loyalty_program({"name": "P", "rules": [{"name": "b", "kind": "base", "caps": {"per_order": 0}}]})
    assert v.value.field == "rules[0].caps.per_order"
    assert db.points_statement(ada.id) == before


def test_threads_never_overspend(db: crm.Crm, ada: crm.Customer) -> None:
    db.earn_points(ada.id, 100, "E-1")
    ok = []

    def spend(t: int) -> None:
        for i in range(20):
            try:
                db.redeem_points(ada.id, 3, f"R-{t}-{i}")
                ok.append(1)
            except crm.InsufficientPointsError:
                pass

    threads = [threading.Thread(target=spend, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ok) == 33
    assert db.points_balance(ada.id).balance == 1


UTC = dt.timezone.utc
BASE = {"name": "Base", "rates": {"GBP": {"points": 1, "per_minor": 100}}, "rules": [{"name": "base", "kind": "base"}]}


def _history(db: crm.Crm) -> None:
    """Ada buys in January (42 + 10 GBP) and March (100 GBP, books), and had one order refunded."""
    for ext, at, total, status in [("S-1", "2026-01-10", 4200, "completed"), ("S-2", "2026-01-20", 1000, "completed"),
                                   ("S-3", "2026-02-02", 9900, "refunded"), ("S-4", "2026-03-05", 10000, "completed")]:
        db.record_order(order(ext, total=total, occurred_at=f"{at}T12:00:00Z", status=status))


def test_simulating_the_stored_program_matches_its_ledger(db: crm.Crm, ada: crm.Customer) -> None:
    db.set_loyalty_program(BASE)
    _history(db)
    until = dt.datetime(2026, 4, 1, tzinfo=UTC)
    sim = db.simulate_loyalty(until=until)
    assert isinstance(sim, crm.LoyaltySimulation)
    assert (sim.program, sim.since, sim.until) == ("Base", None, until)
    assert list(sim.months.index) == ["2026-01", "2026-02", "2026-03"]
    assert sim.months.index.name == "month"
    assert all(str(t) == "int64" for t in sim.months.dtypes)
    assert list(sim.months["issued"]) == [52, 0, 100]
    assert list(sim.months["outstanding"]) == [52, 52, 152]
    assert list(sim.months["orders"]) == [2, 0, 1]  # the refunded order never counts
    assert sim.totals["issued"] == 152 and sim.totals["accounts"] == 1
    assert sim.totals["outstanding"] == db.points_balance(ada.id).balance
    ledger = db.points_statement_frame(ada.id)
    assert list(ledger["points"]) == [42, 10, 100]
    assert sim.by_rule.loc["base"].tolist() == [152, 3]
    assert sim.tiers is None


def test_candidates_and_options_change_the_figures(db: crm.Crm, ada: crm.Customer) -> None:
    db.set_loyalty_program(BASE)
    _history(db)
    until = dt.datetime(2026, 4, 1, tzinfo=UTC)
    double = dict(BASE, name="Double", rates={"GBP": {"points": 2, "per_minor": 100}})
    assert list(db.simulate_loyalty(double, until=until).months["issued"]) == [104, 0, 200]
    # Books earn double on top (the whole of each order is books), from February on: January
    # is history only.
    books = dict(BASE, name="Books", rules=BASE["rules"] + [  # type: ignore[operator]
        {"name": "books", "kind": "multiplier", "by": "category", "value": "books", "multiplier": 2.0}])
    sim = db.simulate_loyalty(json.dumps(books), since=dt.datetime(2026, 2, 1, tzinfo=UTC), until=until)
    assert list(sim.months.index) == ["2026-02", "2026-03"]
    assert list(sim.months["issued"]) == [0, 200]
    assert sim.by_rule["points"].to_dict() == {"base": 100, "books": 100}
    # Half of what is redeemable goes at each month end.
    sim = db.simulate_loyalty(until=until, redemption_rate=0.5)
    assert list(sim.months["redeemed"]) == [26, 13, 56]
    assert list(sim.months["outstanding"]) == [26, 13, 57]
    # The ledger's own redemptions, replayed.
    db.redeem_points(ada.id, 30, "R-1", at=dt.datetime(2026, 2, 10, tzinfo=UTC))
    sim = db.simulate_loyalty(until=until, replay_redemptions=True)
    assert list(sim.months["redeemed"]) == [0, 30, 0]
    assert sim.totals["outstanding"] == db.points_balance(ada.id).balance == 122
    # TOML candidates, tiers and a list of customers.
    toml = ('name = "Tiered"\n[rates.GBP]\npoints = 1\nper_minor = 100\n[[rules]]\nname = "base"\nkind = "base"\n'
            '[tiers]\nbasis = { by = "points" }\nlevels = [{ name = "silver", min = 100 }, { name = "gold", min = 1000 }]\n')
    sim = db.simulate_loyalty(toml, toml=True, until=until, customers=[ada.id])
    assert sim.tiers == {"silver": 1, "gold": 0}
    # Nothing was stored.
    assert db.loyalty_program()["name"] == "Base"  # type: ignore[index]


def test_simulation_errors_are_typed_and_write_nothing(db: crm.Crm, ada: crm.Customer) -> None:
    with pytest.raises(crm.ValidationError) as v:
        db.simulate_loyalty()
    assert v.value.field == "program"
    db.set_loyalty_program(BASE)
    _history(db)
    before = (db.points_statement(ada.id), db.changes_since(0))
    bad_program = {"name": "P", "rules": [{"name": "b", "kind": "base", "caps": {"per_order": 0}}]}
    t = dt.datetime(2026, 3, 1, tzinfo=UTC)
    cases = [
        (lambda: db.simulate_loyalty(bad_program), "rules[0].caps.per_order"),
        (lambda: db.simulate_loyalty('{"name": '), "program"),
        (lambda: db.simulate_loyalty(since=t, until=t), "from"),
        (lambda: db.simulate_loyalty(redemption_rate=1.5), "redemption.rate.permille"),
        (lambda: db.simulate_loyalty(redemption_rate=-0.1), "redemption.rate.permille"),
        (lambda: db.simulate_loyalty(redemption_rate=0.1234), "redemption_rate"),
        (lambda: db.simulate_loyalty(redemption_rate=0.1, replay_redemptions=True), "redemption"),
        (lambda: db.simulate_loyalty(customers=[]), "customers"),
    ]
    for call, field in cases:
        with pytest.raises(crm.ValidationError) as v:
            call()
        assert v.value.field == field
    with pytest.raises(crm.NotFoundError):
        db.simulate_loyalty(customers=[ada.id, 999_999])
    assert (db.points_statement(ada.id), db.changes_since(0)) == before


def test_corrections_keep_what_was_not_sent_and_points_follow(db: crm.Crm, ada: crm.Customer) -> None:
    db.set_loyalty_program(PROGRAM)
    w = db.record_order(order(total=4200))
    assert db.points_balance(ada.id).balance == 84
    # The order sent again without its lines or status: both kept.
    again = order(total=4200)
    del again["items"]
    assert db.record_order(again).outcome == "unchanged"
    # A status-only update, and back.
    s = db.set_order_status("O-1", "refunded")
    assert (s.outcome, s.record.status, len(s.record.items)) == ("updated", "refunded", 1)
    assert db.points_balance(ada.id).balance == 0
    db.update_order(w.record.id, status="completed")
    assert db.points_balance(ada.id).balance == 84
    # A partial refund by lines: one of the two books; a retry changes nothing.
    r = db.refund_order("O-1", "RF-1", lines=[("BOOK-1", 1)])
    assert (r.outcome, r.record.total.minor, r.record.items[0].quantity) == ("updated", 2100, 1)
    assert db.points_balance(ada.id).balance == 42
    assert db.refund_order("O-1", "RF-1", lines=[("BOOK-1", 1)]).outcome == "unchanged"
    assert [x.key for x in db.order_refunds(w.record.id)] == ["RF-1"]
    assert db.customer_stats(ada.id).total_spent[0].minor == 2100
    # The order sent again as sold: the refund stands (the order is kept net of refunds).
    assert db.record_order(order(total=4200, status="completed")).outcome == "unchanged"
    assert db.points_balance(ada.id).balance == 42
    # Refusals name their field and change nothing.
    before = (db.points_statement(ada.id), db.changes_since(0, 10_000))
    with pytest.raises(crm.ConflictError):
        db.refund_order("O-1", "RF-1", amount_minor=5)
    with pytest.raises(crm.ValidationError) as e:
        db.refund_order("O-1", "RF-2", amount_minor=999_999)
    assert e.value.field == "amount_minor"
    with pytest.raises(crm.ValidationError) as e:
        db.refund_order("O-1", "RF-2", lines=[("BOOK-1", 5)])
    assert e.value.field == "lines[0].quantity"
    with pytest.raises(crm.ValidationError) as e:
        db.set_order_status("O-1", "lost")
    assert e.value.field == "status"
    with pytest.raises(crm.NotFoundError):
        db.set_order_status("O-404", "refunded")
    assert (db.points_statement(ada.id), db.changes_since(0, 10_000)) == before
    # Moved to another customer: the points go along.
    bob = db.upsert_customer({"external_id": "C-2", "name": "Bob"}).record
    db.update_order_by_external_id("O-1", customer_external_id="C-2")
    assert (db.points_balance(ada.id).balance, db.points_balance(bob.id).balance) == (0, 42)
    assert db.customer_stats(bob.id).order_count == 1


def test_loyalty_times_are_bounded_and_forecasts_write_nothing(db: crm.Crm, ada: crm.Customer) -> None:
    db.set_loyalty_program({"name": "Short", "expiry_days": 30})
    db.earn_points(ada.id, 100, "E-1")
    far = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)
    old = dt.datetime(1969, 7, 20, tzinfo=dt.timezone.utc)
    before = (db.points_statement(ada.id), db.changes_since(0, 10_000))
    for call, field in [
        (lambda: db.earn_points(ada.id, 5, "E-2", at=far), "at"),
        (lambda: db.earn_points(ada.id, 5, "E-2", at=old), "at"),
        (lambda: db.redeem_points(ada.id, 5, "R-1", at=far), "at"),
        (lambda: db.award_event(ada.id, "birthday", "B-1", at=far), "at"),
        (lambda: db.expire_points(far), "as_of"),
        (lambda: db.review_tiers(far), "as_of"),
        (lambda: db.points_balance_as_of(ada.id, far), "at"),
        (lambda: db.expire_points(dt.datetime(9999, 1, 1, tzinfo=dt.timezone.utc), dry_run=True), "as_of"),
    ]:
        with pytest.raises(crm.ValidationError) as e:
            call()
        assert e.value.field == field
    # The forecast sees the 100 points lapse within 400 days; nothing is written.
    assert db.expire_points(far, dry_run=True) == (1, 100)
    assert db.expire_points() == (0, 0)
    assert (db.points_statement(ada.id), db.changes_since(0, 10_000)) == before


def _yesterday() -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).isoformat()


def test_liability_adds_up_every_account(db: crm.Crm, ada: crm.Customer) -> None:
    db.set_loyalty_program(PROGRAM)
    empty = db.loyalty_liability()
    assert (empty.accounts, empty.outstanding, empty.expiring) == (0, 0, 0)
    db.record_order(order(total=4200, occurred_at=_yesterday()))  # 84 points, expiring in 364 days
    grace = db.upsert_customer({"external_id": "C-2", "name": "Grace"}).record
    db.earn_points(grace.id, 30, "E-1")
    db.redeem_points(grace.id, 10, "R-1")
    owed = db.loyalty_liability(30)
    assert (owed.accounts, owed.holders, owed.outstanding, owed.debt, owed.expiring) == (2, 2, 104, 0, 0)
    assert owed.expiring_by - owed.as_of == dt.timedelta(days=30)
    assert db.loyalty_liability(366).expiring == 104
    assert owed.outstanding == db.points_balance(ada.id).balance + db.points_balance(grace.id).balance


@pytest.mark.parametrize("days", [-1, 3651])
def test_liability_look_ahead_is_bounded(db: crm.Crm, ada: crm.Customer, days: int) -> None:
    db.set_loyalty_program(PROGRAM)
    db.record_order(order(total=4200, occurred_at=_yesterday()))
    with pytest.raises(crm.ValidationError) as e:
        db.loyalty_liability(days)
    assert e.value.field == "expiring_within_days"
    assert db.loyalty_liability(0).outstanding == 84, "nothing changed"
