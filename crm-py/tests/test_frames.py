"""Every DataFrame the package returns keeps one rule for its dtypes, with data and empty:
integers (ids, counts, points, money in minor units) ``int64``, or pandas' nullable
``Int64`` for the few columns documented as possibly missing; times ``datetime64[us, UTC]``;
model outputs ``float64``; flags ``bool``; text ``object`` (or categorical), never numbers
or times hiding in an ``object`` column. A frame added to the package goes in FRAMES below;
a column that breaks the rule fails here."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pandas as pd
import pytest

import crm
from crm.analytics import BetaGeoFitter

END = "2026-10-31T23:59:59Z"
UTC = dt.timezone.utc
TIME = "datetime64[us, UTC]"

# Columns documented as possibly missing, hence nullable Int64 (and only these).
NULLABLE_INTS = {"merged_into", "ref_id", "order_id", "amount_minor", "total_minor@timeline", "customer_id@synth"}
# Float columns: model expectations, probabilities, shares and lifetimes' float periods.
FLOATS = {
    "recency", "T", "monetary_value", "recency_cal", "T_cal", "monetary_value_cal", "monetary_value_holdout",
    "p_alive", "expected_purchases", "expected_average_value", "clv_expected", "gap", "rhythm", "overdue", "risk",
    "similarity", "score@recommend", "score@recommend_for", "item_share", "spend_share", "retention",
}
BOOLS = {"at_risk"}
# Times by name: any column named like this must be a UTC time.
TIME_NAMES = {"at", "period_start", "cohort"}
# Integers by name, besides *_id, *_minor and the nullable ones.
INT_NAMES = {
    "id", "seq", "frequency", "frequency_cal", "frequency_holdout", "duration_holdout", "periods", "orders",
    "customers", "new_customers", "returning_customers", "active_customers", "cohort_customers", "months_since",
    "items", "points", "qualifying", "balance_after", "recency_days", "r", "f", "m", "score", "row",
    "earning_orders", "customers_earning", "issued", "redeemed", "expired", "outstanding", "accounts_with_balance",
}


# Text by name where a name above would say otherwise.
TEXTS = {"items@synth", "score@synth"}


def expected(name: str, frame: str) -> str:
    """The dtype rule for column ``name`` of the frame called ``frame``."""
    if f"{name}@{frame}" in TEXTS:
        return "text"
    if name.endswith("_cal"):  # calibration columns: as the plain ones
        name = name[: -len("_cal")]
    for key in (f"{name}@{frame}", name):
        if key in NULLABLE_INTS:
            return "Int64"
        if key in FLOATS:
            return "float64"
    if name in BOOLS:
        return "bool"
    if name in TIME_NAMES or name.endswith("_at"):
        return TIME
    if name.endswith("external_id"):
        return "text"
    if name in INT_NAMES or name.endswith("_id") or name.endswith("_minor"):
        return "int64"
    return "text"


def check_frame(frame: Any, name: str) -> None:
    assert isinstance(frame, pd.DataFrame), f"{name}: {type(frame)}"
    columns = [(c, frame[c]) for c in frame.columns]
    if frame.index.name is not None:
        columns.append((frame.index.name, frame.index.to_series()))
    for col, s in columns:
        want = expected(str(col), name)
        got = str(s.dtype)
        if want == "text":
            assert got in ("object", "category", "str", "string"), f"{name}.{col}: {got}, expected text"
            values = [v for v in s.tolist() if v is not None and not (isinstance(v, float) and np.isnan(v))]
            bad = [v for v in values if isinstance(v, (int, float, np.number, dt.datetime, pd.Timestamp))]
            assert not bad or isinstance(bad[0], bool), f"{name}.{col} hides {type(bad[0]).__name__} in text: {bad[:3]}"
        else:
            assert got == want, f"{name}.{col}: {got}, expected {want}"


PROGRAM = {
    "name": "Stars",
    "rates": {"USD": {"points": 1, "per_minor": 100}, "EUR": {"points": 1, "per_minor": 100}},
    "rules": [{"name": "base", "kind": "base"}],
    "expiry_days": 365,
}


def _fill(db: crm.Crm) -> Dict[str, Any]:
    """A small shop: generated customers, orders and interactions, a loyalty program with
    earning, a redemption and a refund, segments, a scoring plan and RFM."""
    db.set_loyalty_program(PROGRAM)
    data = crm.synth.generate(customers=250, seed=11)
    db.ingest_customers(data["customers"])
    assert db.ingest_orders(data["orders"]).failed == 0
    assert db.ingest_interactions(data["interactions"]).failed == 0
    ada = db.upsert_customer({"external_id": "ADA", "name": "Ada"}).record
    for n, status in enumerate(["completed", "completed", "refunded"]):
        db.record_order({"external_id": f"ADA-{n}", "customer_id": ada.id, "occurred_at": f"2026-0{n + 3}-01T12:00:00Z",
                         "currency": "USD", "total_minor": 5000,
                         "items": [{"sku": "BOOK-1", "category": "books", "quantity": 1, "unit_price_minor": 5000}]})
    db.record_order({"external_id": "ADA-2", "customer_id": ada.id, "occurred_at": "2026-05-01T12:00:00Z",
                     "currency": "USD", "total_minor": 5000, "status": "refunded"})
    db.redeem_points(ada.id, 10, "R-1")
    db.create_segment("buyers", "order_count >= 2")
    db.create_segment("listed", members=[ada.id])
    db.snapshot_segment("buyers")
    db.put_scoring_plan({"name": "value", "rules": [{"when": "order_count >= 3", "points": 10}]})
    db.refresh_rfm("USD")
    return {"ada": ada.id, "data": data}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Tuple[crm.Crm, Dict[str, Any]]:
    db = crm.open(tmp_path_factory.mktemp("frames") / "shop.db")
    ctx = _fill(db)
    ctx["model"] = BetaGeoFitter(penalizer_coef=0.001)
    s = crm.analytics.summary(db, "USD", END)
    ctx["model"].fit(s["frequency"], s["recency"], s["T"])
    ctx["copurchase"] = crm.analytics.co_purchase_model(db)
    first = ctx["data"]["orders"].iloc[0]
    ctx["sku"] = json.loads(first["items"])[0]["sku"]
    ctx["buyer"] = db.get_customer_by_external_id(first["customer_external_id"]).id
    yield db, ctx
    db.close()


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Tuple[crm.Crm, Dict[str, Any]]:
    """A store with one customer and nothing else, for the empty results."""
    db = crm.open(tmp_path_factory.mktemp("frames") / "empty.db")
    db.set_loyalty_program(PROGRAM)
    ada = db.create_customer({"name": "Ada"}).id
    db.create_segment("nobody", members=[])
    db.put_scoring_plan({"name": "value", "rules": [{"when": "order_count >= 3", "points": 10}]})
    yield db, {"ada": ada}
    db.close()


Frame = Callable[[crm.Crm, Dict[str, Any]], Any]
UNTIL = dt.datetime(2026, 11, 1, tzinfo=UTC)

# Every function of the package that returns a DataFrame (or frames), by name; "empty" says
# whether it also runs on the empty store (those that raise there by design do not).
FRAMES: List[Tuple[str, Frame, bool]] = [
    ("query_frame", lambda db, c: db.query_frame(), True),
    ("top_customers", lambda db, c: db.top_customers_frame("USD", 5), True),
    ("timeline", lambda db, c: db.timeline_frame(c["ada"]), True),
    ("changes", lambda db, c: db.changes_frame(0, 10_000), True),
    ("members", lambda db, c: db.members_frame("order_count >= 2"), True),
    ("segment_members", lambda db, c: db.segment_members_frame("listed" if "data" in c else "nobody"), True),
    ("scores", lambda db, c: db.scores_frame("value"), True),
    ("statement", lambda db, c: db.points_statement_frame(c["ada"]), True),
    ("rfm", lambda db, c: db.compute_rfm("USD"), True),
    ("simulation_months", lambda db, c: db.simulate_loyalty(until=UNTIL).months, "data"),
    ("simulation_rules", lambda db, c: db.simulate_loyalty(until=UNTIL).by_rule, "data"),
    ("ingest_errors", lambda db, c: db.ingest_customers([{"name": ""}, {"external_id": "x", "name": "X"}],
                                                        progress=False).errors_frame(), True),
    ("summary", lambda db, c: crm.analytics.summary(db, "USD", END), False),
    ("holdout", lambda db, c: crm.analytics.calibration_and_holdout(db, "USD", "2026-05-01T00:00:00Z", END), False),
    ("summaries", lambda db, c: crm.analytics.summaries(db, END), False),
    ("values", lambda db, c: crm.analytics.customer_values(db, "USD", END, penalizer_coef=0.001), False),
    ("churn", lambda db, c: crm.analytics.churn_risk(db, "USD", END, model=c["model"]), False),
    ("at_risk", lambda db, c: crm.analytics.customers_at_risk(db, "USD", END, model=c["model"]), False),
    ("alive_path", lambda db, c: crm.analytics.probability_alive_path(db, c["model"], c["ada"], "USD", END), False),
    ("similar", lambda db, c: c["copurchase"].similar_items(c["sku"]), False),
    ("recommend", lambda db, c: c["copurchase"].recommend([c["sku"]]), False),
    ("recommend_for", lambda db, c: c["copurchase"].recommend_for_customer(db, c["buyer"]), False),
    ("affinity", lambda db, c: crm.analytics.category_affinity(db, "USD"), True),
    ("reports", lambda db, c: crm.analytics.reports(db, "USD", segments=["buyers" if "data" in c else "nobody"]),
     True),
    ("synth", lambda db, c: crm.synth.generate(customers=5 if "data" in c else 0, seed=1), True),
]


def _frames(name: str, result: Any) -> List[Tuple[str, Any]]:
    if isinstance(result, crm.analytics.Reports):
        tables = ("revenue", "channels", "cohorts", "frequency", "segments")
        return [(f"{name}.{t}", getattr(result, t)) for t in tables]
    if isinstance(result, dict):
        return [(f"{name}@{k}" if name != "synth" else "synth", v) for k, v in result.items()]
    return [(name, result)]


@pytest.mark.parametrize("name, call, on_empty", FRAMES, ids=[f[0] for f in FRAMES])
def test_every_frame_keeps_the_dtype_rule(shop, empty, name: str, call: Frame, on_empty: Any) -> None:
    db, ctx = shop
    frames = _frames(name, call(db, ctx))
    assert any(len(f) > 0 for _, f in frames), f"{name}: the shop should fill it"
    for label, f in frames:
        check_frame(f, label.split(".")[0] if "." in label else label)
    if on_empty is True:
        db0, ctx0 = empty
        for label, f in _frames(name, call(db0, ctx0)):
            check_frame(f, label.split(".")[0] if "." in label else label)


def test_the_rule_catches_what_it_should() -> None:
    """The checker itself: each kind of break is caught."""
    bad = {
        "points as object": pd.DataFrame({"points": pd.Series([1, 2], dtype=object)}),
        "naive time": pd.DataFrame({"at": pd.to_datetime(["2026-01-01"])}),
        "ns time": pd.DataFrame({"at": pd.to_datetime(["2026-01-01"], utc=True).as_unit("ns")}),
        "float id": pd.DataFrame({"customer_id": [1.0]}),
        "Int64 not documented as missing": pd.DataFrame({"customer_id": pd.array([1], dtype="Int64")}),
        "money as float": pd.DataFrame({"spend_minor": [1.5]}),
        "ints hidden in text": pd.DataFrame({"label": pd.Series([1, 2], dtype=object)}),
        "empty int column as object": pd.DataFrame({"orders": pd.Series([], dtype=object)}),
    }
    for why, frame in bad.items():
        with pytest.raises(AssertionError):
            check_frame(frame, "test")
        assert why
    check_frame(pd.DataFrame({"order_id": pd.array([1, None], dtype="Int64")}), "x")
    check_frame(pd.DataFrame({"at": pd.Series([], dtype=TIME), "orders": pd.Series([], dtype="int64")}), "x")


def test_statement_keeps_every_ledger_field(shop) -> None:
    db, ctx = shop
    entries = db.points_statement(ctx["ada"])["entries"]
    frame = db.points_statement_frame(ctx["ada"])
    assert set(entries[0]) <= set(frame.columns), "no field of an entry is dropped"
    earned = frame[frame["kind"] == "earn"]
    assert (earned["amount_minor"] == 5000).all() and earned["order_id"].notna().all()
    assert frame["amount_minor"].dtype == "Int64" and frame["points"].dtype == "int64"
    assert {"redeem", "reverse"} <= set(frame["kind"])
