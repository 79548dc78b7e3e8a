"""Loyalty from Python: the program, orders earning, ledger calls with keys, the statement
frame, threads redeeming at once, and each error typed with nothing written."""

from __future__ import annotations

import datetime as dt
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
