"""crm.analytics: lifetimes-style fitters, frames from the store, and bad input."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pandas as pd
import pytest

import crm
from crm.analytics import BetaGeoFitter, GammaGammaFitter

END = "2026-10-31T23:59:59Z"
CDNOW = Path(__file__).resolve().parents[2] / "crm-core" / "tests" / "fixtures" / "cdnow_summary.csv"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory):
    data = crm.synth.generate(customers=400, seed=5, kinds=("customers", "orders"))
    with crm.open(tmp_path_factory.mktemp("shop") / "shop.db") as db:
        db.ingest_customers(data["customers"])
        assert db.ingest_orders(data["orders"]).failed == 0
        yield db, data["orders"]


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(CDNOW)


def test_summary_matches_a_recomputation(shop) -> None:
    db, orders = shop
    s = crm.analytics.summary(db, "USD", END)
    assert s.index.name == "customer_id" and len(s) > 50
    usd = orders[(orders["currency"] == "USD") & (orders["status"] == "completed")].copy()
    ids = {c.external_id: c.id for c in db.query_customers(limit=1000).items}
    usd["customer_id"] = usd["customer_external_id"].map(ids)
    usd["day"] = usd["occurred_at"].dt.floor("D")
    end_day = pd.Timestamp(END).floor("D")
    for cid, g in usd.groupby("customer_id"):
        days = sorted(g["day"].unique())
        row = s.loc[cid]
        assert row["frequency"] == len(days) - 1
        assert row["recency"] == (days[-1] - days[0]).days
        assert row["T"] == (end_day - days[0]).days
        repeat = g[g["day"] != days[0]]["total_minor"].sum()
        assert row["repeat_spend_minor"] == repeat
    assert s["repeat_spend_minor"].dtype == "int64"


def test_calibration_and_holdout(shop) -> None:
    db, _ = shop
    # 2026-05-01 is a Friday: its week's later orders count in the calibration, and are warned of.
    with pytest.warns(crm.analytics.SummaryWarning, match="calibration_end"):
        s = crm.analytics.calibration_and_holdout(db, "USD", "2026-05-01T00:00:00Z", END, freq="W")
    assert {"frequency_cal", "T_cal", "frequency_holdout", "monetary_value_holdout", "duration_holdout"} <= set(s)
    assert (s["duration_holdout"] > 20).all() and (s["frequency_holdout"] >= 0).all()
    all_ = crm.analytics.summaries(db, END)
    assert set(all_["currency"]) >= {"USD", "EUR"}


def test_fitters_agree_with_lifetimes_on_cdnow(cdnow: pd.DataFrame) -> None:
    # Reference values: lifetimes 0.11.3 in a scratch virtualenv (see crm-core/tests/analytics.rs).
    bgf = BetaGeoFitter().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert bgf.params_ is not None and bgf.standard_errors_ is not None
    for k, v in {"r": 0.242592928279822, "alpha": 4.413532265271825, "a": 0.7928859664406758,
                 "b": 2.4257523826258134}.items():
        assert bgf.params_[k] == pytest.approx(v, rel=1e-4)
    assert bgf.standard_errors_["alpha"] == pytest.approx(0.3782214570439278, rel=2e-2)
    assert bgf.log_likelihood_ == pytest.approx(-9582.43, rel=1e-5)
    repeat = cdnow[cdnow["x"] > 0]
    ggf = GammaGammaFitter().fit(repeat["x"], repeat["zbar"])
    assert ggf.params_ is not None
    assert ggf.params_["p"] == pytest.approx(6.248802496075072, rel=1e-3)
    assert ggf.params_["q"] == pytest.approx(3.744588460923138, rel=1e-3)
    assert ggf.params_["gamma"] == pytest.approx(15.44774806492988, rel=1e-3)
    p = bgf.conditional_probability_alive(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert len(p) == len(cdnow) and ((p > 0) & (p <= 1)).all()


def test_predictions_agree_with_lifetimes() -> None:
    bgf = BetaGeoFitter.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    assert bgf.expected_number_of_purchases_up_to_time(39.0) == pytest.approx(1.1967231933207985, rel=1e-9)
    e = bgf.conditional_expected_number_of_purchases_up_to_time(52.0, pd.Series([7]), [29.43], [38.86])
    assert list(e) == pytest.approx([4.198855584925059], rel=1e-9)
    assert bgf.predict(100.0, 40, 35.0, 38.0) == pytest.approx(41.2010755303962, rel=1e-9)
    assert bgf.conditional_probability_alive(2, 30.43, 38.86) == pytest.approx(0.726578570080673, rel=1e-9)
    ggf = GammaGammaFitter.from_params(p=6.25, q=3.74, gamma=15.44)
    assert ggf.conditional_expected_average_profit(3, 42.5) == pytest.approx(41.571661237785015, rel=1e-9)
    clv = ggf.customer_lifetime_value(bgf, [2, 7], [30.43, 29.43], [38.86, 38.86], [35.0, 12.5], time=12,
                                      discount_rate=0.01, freq="W")
    assert list(clv) == pytest.approx([51.55554038196245, 54.90174183454599], rel=1e-9)
    path = bgf.probability_alive_path([0, 2, 5], 12)
    assert len(path) == 13 and path[0] == 1.0 and path[12] < path[5]


def test_unfitted_models_raise() -> None:
    with pytest.raises(crm.ValidationError) as e:
        BetaGeoFitter().predict(10, 1, 5.0, 10.0)
    assert e.value.field == "model"
    with pytest.raises(crm.ValidationError) as e:
        GammaGammaFitter().conditional_expected_average_profit(1, 10.0)
    assert e.value.field == "model"
    with pytest.raises(crm.ValidationError) as e:
        GammaGammaFitter.from_params(1, 1, 1).customer_lifetime_value(BetaGeoFitter(), 1, 1.0, 2.0, 10.0)
    assert e.value.field == "model"
    with pytest.raises(crm.ValidationError) as e:
        BetaGeoFitter.from_params(r=-1, alpha=1, a=1, b=1)
    assert e.value.field == "r"


def test_bad_input_raises_validation_errors(tmp_path: Path) -> None:
    def field(fn) -> str:  # type: ignore[no-untyped-def]
        with pytest.raises(crm.ValidationError) as e:
            fn()
        return str(e.value.field)

    assert field(lambda: BetaGeoFitter().fit([], [], [])) == "data"
    assert field(lambda: BetaGeoFitter().fit([1], [5.0], [4.0])) == "recency"
    assert field(lambda: BetaGeoFitter().fit([1.5], [1.0], [4.0])) == "frequency"
    assert field(lambda: BetaGeoFitter().fit([0], [0.0], [10.0])) == "model"  # no interior maximum
    assert field(lambda: GammaGammaFitter().fit([2, 1], [10.0, 0.0])) == "monetary_value"
    assert field(lambda: GammaGammaFitter().fit([2], [-3.0])) == "monetary_value"
    bgf = BetaGeoFitter.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    ggf = GammaGammaFitter.from_params(p=6.25, q=3.74, gamma=15.44)
    assert field(lambda: ggf.customer_lifetime_value(bgf, 1, 2.0, 5.0, 10.0, freq="M")) == "freq"
    assert field(lambda: bgf.predict(-1.0, 1, 2.0, 5.0)) == "t"
    with crm.open(tmp_path / "empty.db") as db:
        assert field(lambda: crm.analytics.summary(db, "USD", END)) == "orders"
        db.upsert_customer({"external_id": "C-1", "name": "Ada"})
        db.record_order({"external_id": "O-1", "customer_external_id": "C-1", "currency": "USD",
                         "occurred_at": "2026-02-01T10:00:00Z", "total_minor": 500})
        assert field(lambda: crm.analytics.summary(db, "USD", "2026-01-01T00:00:00Z")) == "observation_end"
        assert field(lambda: crm.analytics.calibration_and_holdout(db, "USD", "2026-01-01T00:00:00Z", END)) \
            == "calibration_end"
        assert field(lambda: crm.analytics.summary(db, "USD", dt.datetime(2026, 3, 1))) == "observation_end"
        assert field(lambda: crm.analytics.reports(db, "USD", period="year")) == "period"


def test_non_convergence_is_an_error(shop) -> None:
    db, _ = shop
    s = crm.analytics.summary(db, "USD", END)
    with pytest.raises(crm.ValidationError, match="did not converge") as e:
        BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"], max_iterations=1)
    assert e.value.field == "model"


def test_values_churn_and_paths_from_the_store(shop) -> None:
    db, _ = shop
    v = crm.analytics.customer_values(db, "USD", END, penalizer_coef=0.001, months=6)
    assert v.index.name == "customer_id" and v["clv_minor"].dtype == "int64"
    assert ((v["p_alive"] >= 0) & (v["p_alive"] <= 1)).all() and (v["clv_expected"] >= 0).all()
    assert ((v["clv_minor"] - v["clv_expected"]).abs() <= 0.5).all()
    risk = crm.analytics.churn_risk(db, "USD", END, penalizer_coef=0.001, threshold=0.6)
    at = crm.analytics.customers_at_risk(db, "USD", END, penalizer_coef=0.001, threshold=0.6)
    assert len(at) == int(risk["at_risk"].sum()) and at["risk"].is_monotonic_decreasing
    s = crm.analytics.summary(db, "USD", END)
    bgf = BetaGeoFitter(penalizer_coef=0.001).fit(s["frequency"], s["recency"], s["T"])
    given = crm.analytics.churn_risk(db, "USD", END, model=bgf)
    assert given["p_alive"].to_numpy() == pytest.approx(bgf.conditional_probability_alive(
        s["frequency"], s["recency"], s["T"]))
    who = int(s[s["frequency"] >= 2].index[0])
    path = crm.analytics.probability_alive_path(db, bgf, who, "USD", END)
    assert len(path) == s.loc[who, "T"] + 1
    assert path["p_alive"].iloc[-1] == pytest.approx(bgf.conditional_probability_alive(
        int(s.loc[who, "frequency"]), float(s.loc[who, "recency"]), float(s.loc[who, "T"])))
    with pytest.raises(crm.NotFoundError):
        crm.analytics.probability_alive_path(db, bgf, 10**9, "USD", END)


def test_recommendations_and_affinity(shop) -> None:
    db, orders = shop
    model = crm.analytics.co_purchase_model(db, max_items_per_customer=20)
    assert len(model) > 50 and model.customers > 100
    sku = json.loads(orders["items"].iloc[0])[0]["sku"]
    sim = model.similar_items(sku, 5)
    assert list(sim.columns) == ["sku", "similarity", "customers"] and sku not in set(sim["sku"])
    assert sim["similarity"].is_monotonic_decreasing
    cust = db.get_customer_by_external_id(orders["customer_external_id"].iloc[0])
    recs = model.recommend_for_customer(db, cust.id, 10)
    owned = {i["sku"] for _, o in orders[(orders["customer_external_id"] == cust.external_id)
                                         & (orders["status"] == "completed")].iterrows()
             for i in json.loads(o["items"])}
    assert len(recs) > 0 and not (set(recs["sku"]) & owned)
    with pytest.raises(crm.ValidationError) as e:
        model.similar_items("NO-SUCH-SKU")
    assert e.value.field == "sku"
    with pytest.raises(crm.NotFoundError):
        model.recommend_for_customer(db, 10**9)
    aff = crm.analytics.category_affinity(db, "USD")
    assert aff.groupby("customer_id")["spend_share"].sum().round(9).eq(1.0).all()
    assert aff["spend_minor"].dtype == "int64"


def test_reports(shop) -> None:
    db, orders = shop
    r = crm.analytics.reports(db, "USD")
    done = orders[(orders["currency"] == "USD") & (orders["status"] == "completed")]
    assert r.revenue["revenue_minor"].sum() == done["total_minor"].sum()
    assert r.channels["revenue_minor"].sum() == done["total_minor"].sum()
    assert (r.frequency["orders"] * r.frequency["customers"]).sum() == len(done)
    assert (r.cohorts[r.cohorts["months_since"] == 0]["retention"] == 1.0).all()
    weekly = crm.analytics.reports(db, "USD", period="week", before="2026-06-01T00:00:00Z")
    assert (weekly.revenue["period_start"].dt.day_of_week == 0).all()
    assert weekly.revenue["period_start"].max() < pd.Timestamp("2026-06-01", tz="UTC")
    assert r.segments.empty
    # Revenue of a saved segment's current members.
    if "repeat" not in {s.name for s in db.segments()}:
        db.create_segment("repeat", "order_count >= 2")
    by_segment = crm.analytics.reports(db, "USD", segments=["repeat"])
    members = set(db.segment_members_frame("repeat")["customer_id"])
    ids = {c.external_id: c.id for c in db.query_customers(limit=1000).items}
    mine = done[done["customer_external_id"].map(ids).isin(members)]
    assert set(by_segment.segments["segment"]) == {"repeat"}
    assert by_segment.segments["revenue_minor"].sum() == mine["total_minor"].sum() > 0
    assert by_segment.segments["revenue_minor"].dtype == "int64"
    with pytest.raises(crm.NotFoundError):
        crm.analytics.reports(db, "USD", segments=["nope"])


def test_long_calls_release_the_gil(tmp_path) -> None:
    # A thread that ticks every millisecond, counting only while a native call is running,
    # can tick during the call only if the call released the GIL; with the GIL held it could
    # tick at most once per call, at its boundary.
    import time

    data = crm.synth.generate(customers=3000, seed=9, kinds=("customers", "orders"))
    in_call = threading.Event()
    done = threading.Event()
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            if in_call.is_set():
                ticks += 1
            time.sleep(0.001)

    with crm.open(tmp_path / "gil.db") as db:
        db.ingest_customers(data["customers"])
        db.ingest_orders(data["orders"], progress=False)
        t = threading.Thread(target=tick)
        t.start()
        calls, native = 0, 0.0
        try:
            while native < 0.3:
                start = time.perf_counter()
                in_call.set()
                crm.analytics.customer_values(db, "USD", END, penalizer_coef=0.001, months=3)
                in_call.clear()
                native += time.perf_counter() - start
                calls += 1
        finally:
            done.set()
            t.join()
    assert ticks > 2 * calls + 10, (ticks, calls, native)
