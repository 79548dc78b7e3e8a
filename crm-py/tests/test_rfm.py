"""RFM from Python: crm-core's hand-computed example with ties (crm-core/tests/rfm.rs), the
frame's values and dtypes, Arrow, the stored model and single-customer scoring against the
batch, and bad input raising the right exception with its field and changing nothing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import crm

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)

# (days since the last order, completed EUR orders, EUR spend) of customers 1 to 10.
PLAN = [(1, 9, 50_000), (1, 8, 50_000), (5, 8, 20_000), (5, 1, 1_000), (30, 3, 20_000), (30, 3, 5_000),
        (60, 2, 5_000), (90, 1, 1_000), (200, 5, 30_000), (200, 1, 500)]

# What crm-core computes for them as of AS_OF in EUR:
# (customer_id, recency_days, frequency, monetary_minor, r, f, m, segment).
EXPECTED = [
    (1, 1, 10, 50_000, 5, 5, 5, "Champions"),
    (2, 1, 8, 50_000, 5, 4, 5, "Champions"),
    (3, 5, 8, 20_000, 4, 4, 3, "Loyal"),
    (4, 5, 1, 1_000, 4, 1, 1, "Promising"),
    (5, 30, 3, 20_000, 3, 3, 3, "Need Attention"),
    (6, 30, 3, 5_000, 3, 3, 2, "Need Attention"),
    (7, 60, 2, 5_000, 2, 2, 2, "Hibernating"),
    (8, 90, 1, 1_000, 2, 1, 1, "Hibernating"),
    (9, 200, 5, 30_000, 1, 4, 4, "Can't Lose Them"),
    (10, 200, 1, 500, 1, 1, 1, "Lost"),
]

GRID_NAMES = ["New Customers", "Potential Loyalist", "Champions", "Promising", "Loyal", "About to Sleep",
              "Need Attention", "Hibernating", "At Risk", "Can't Lose Them", "Lost"]

INT_COLUMNS = ["customer_id", "recency_days", "frequency", "monetary_minor", "r", "f", "m"]


def _order(db: crm.Crm, ext: str, customer: int, at: dt.datetime, minor: int, currency: str = "EUR",
           status: str = "completed") -> None:
    db.record_order({"external_id": ext, "customer_id": customer, "occurred_at": at, "status": status,
                     "currency": currency, "total_minor": minor})


@pytest.fixture
def ten(db: crm.Crm) -> crm.Crm:
    """Customers 1 to 10 in the EUR population; 11 (USD only), 12 (refunded only), 13 (no
    orders) and 14 (zero spend) outside it. Last orders lie 3 hours before whole days."""
    for n in range(1, 15):
        assert db.create_customer({"name": f"C{n}"}).id == n
    for n, (days, k, spend) in enumerate(PLAN, start=1):
        last = AS_OF - dt.timedelta(days=days, hours=3)
        for j in range(k):
            minor = spend // k + (spend % k if j == 0 else 0)
            _order(db, f"O{n}-{j}", n, last - dt.timedelta(days=2 * j), minor)
    _order(db, "O1-usd", 1, AS_OF - dt.timedelta(days=100), 999, "USD")
    _order(db, "O4-refund", 4, AS_OF - dt.timedelta(hours=1), 1_000_000, status="refunded")
    _order(db, "O10-cancel", 10, AS_OF - dt.timedelta(hours=1), 1_000_000, status="cancelled")
    _order(db, "O11", 11, AS_OF - dt.timedelta(days=3), 7_000, "USD")
    _order(db, "O12", 12, AS_OF - dt.timedelta(days=3), 7_000, status="refunded")
    _order(db, "O14", 14, AS_OF - dt.timedelta(days=3), 0)
    return db


def rows(frame: pd.DataFrame) -> list:
    return [tuple(r) for r in frame[[*INT_COLUMNS, "segment"]].itertuples(index=False)]


def test_frame_values_and_dtypes(ten):
    frame = ten.compute_rfm("EUR", as_of=AS_OF)
    assert list(frame.columns) == crm.rfm.RFM_COLUMNS
    assert rows(frame) == EXPECTED
    for c in INT_COLUMNS:
        assert frame[c].dtype == np.int64, c
    assert isinstance(frame["segment"].dtype, pd.CategoricalDtype)
    assert list(frame["segment"].cat.categories) == GRID_NAMES
    assert frame["segment"].value_counts(sort=False).to_dict() == {
        **dict.fromkeys(GRID_NAMES, 0), "Champions": 2, "Loyal": 1, "Promising": 1, "Need Attention": 2,
        "Hibernating": 2, "Can't Lose Them": 1, "Lost": 1}
    assert isinstance(frame["currency"].dtype, pd.CategoricalDtype)
    assert set(frame["currency"]) == {"EUR"}
    model = frame.attrs["rfm_model"]
    assert isinstance(model, crm.RfmModel)
    assert (model.currency, model.as_of, model.source, model.population) == ("EUR", AS_OF, "stats", 10)
    assert model.config.as_of == AS_OF and model.config.grid == crm.rfm.DEFAULT_GRID
    assert model.boundaries == crm.RfmBoundaries((90, 30, 5, 1), (2, 3, 5, 10), (5_000, 20_000, 30_000, 50_000))
    # The frame owns writable columns.
    frame.loc[0, "r"] = 1
    assert frame["r"].iloc[0] == 1

    # The USD population: customers 1 and 11, frequency over every completed order.
    usd = ten.compute_rfm("usd", as_of=AS_OF)
    assert usd[["customer_id", "frequency", "monetary_minor"]].values.tolist() == [[1, 10, 999], [11, 1, 7_000]]


@pytest.mark.parametrize(
    "as_of",
    [AS_OF, "2026-06-01T00:00:00Z", "2026-06-01T08:00:00+08:00", dt.datetime(2026, 6, 1), dt.date(2026, 6, 1),
     pd.Timestamp("2026-06-01", tz="UTC")],
)
def test_as_of_forms(ten, as_of):
    assert rows(ten.compute_rfm("EUR", as_of=as_of)) == EXPECTED


def test_empty_population_keeps_the_dtypes(ten):
    frame = ten.compute_rfm("JPY")
    assert len(frame) == 0 and list(frame.columns) == crm.rfm.RFM_COLUMNS
    assert all(frame[c].dtype == np.int64 for c in INT_COLUMNS)
    assert frame.attrs["rfm_model"].population == 0
    assert ten.compute_rfm("JPY", to="arrow").num_rows == 0


def test_arrow(ten):
    table = ten.compute_rfm("EUR", as_of=AS_OF, to="arrow")
    assert isinstance(table, pa.Table)
    assert table.column_names == crm.rfm.RFM_COLUMNS
    for c in INT_COLUMNS:
        assert table.schema.field(c).type == pa.int64(), c
    assert table.schema.field("segment").type == pa.dictionary(pa.int16(), pa.string())
    assert [tuple(r.values()) for r in table.select([*INT_COLUMNS, "segment"]).to_pylist()] == EXPECTED
    assert set(table.column("currency").to_pylist()) == {"EUR"}
    model = crm.RfmModel.from_json(table.schema.metadata[b"crm.rfm_model"].decode())
    assert model.population == 10
    assert rows(table.to_pandas()) == EXPECTED


def test_custom_grid(ten):
    grid = [list(row) for row in crm.rfm.DEFAULT_GRID]
    grid[0][4] = "Stars"  # R = 5, FM = 5
    frame = ten.compute_rfm("EUR", as_of=AS_OF, grid=grid)
    assert frame["segment"].tolist()[:2] == ["Stars", "Stars"]
    assert "Stars" in frame["segment"].cat.categories
    assert frame.attrs["rfm_model"].config.grid[0][4] == "Stars"


def test_refresh_and_single_scores_agree_with_the_batch(ten):
    assert ten.rfm_model() is None and ten.rfm_segment_sizes() == {} and ten.rfm_of(1) is None
    model = ten.refresh_rfm("EUR", as_of=AS_OF)
    assert isinstance(model, crm.RfmModel) and model.population == 10
    assert ten.rfm_model() == model
    for t in EXPECTED:
        want = crm.RfmScore(*t)
        assert ten.rfm_of(t[0]) == want
        assert ten.score_rfm(t[0], as_of=AS_OF) == want
    for outside in (11, 12, 13, 14):
        assert ten.rfm_of(outside) is None
        assert ten.score_rfm(outside, as_of=AS_OF) is None
    sizes = ten.rfm_segment_sizes()
    assert list(sizes) == GRID_NAMES
    assert sizes == ten.compute_rfm("EUR", as_of=AS_OF)["segment"].value_counts(sort=False).to_dict()
    # Now, later than the model: the same customer, recency counted to now.
    now = ten.score_rfm(3)
    assert now is not None and now.recency_days >= 5 and (now.frequency, now.monetary_minor) == (8, 20_000)


def test_frame_equals_the_stored_scores_on_generated_data(db):
    data = crm.synth.generate(customers=300, seed=3, kinds=["customers", "orders"])
    db.ingest_customers(data["customers"], progress=False)
    db.ingest_orders(data["orders"], progress=False)
    currency = data["orders"]["currency"].value_counts().index[0]
    as_of = data["orders"]["occurred_at"].max()
    frame = db.compute_rfm(currency, as_of=as_of)
    assert len(frame) > 50
    db.refresh_rfm(currency, as_of=as_of)
    stored = [db.rfm_of(int(i)) for i in frame["customer_id"]]
    assert [tuple(vars(s).values()) for s in stored if s is not None] == rows(frame)


def snapshot(db):
    return db.rfm_model(), db.rfm_segment_sizes(), db.counts()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "EUR", "as_of": "2999-01-01T00:00:00Z"}, "as_of"),
        ({"currency": "EUR", "as_of": dt.date(1969, 12, 31)}, "as_of"),
        ({"currency": "EUR", "as_of": "yesterday"}, "as_of"),
        ({"currency": "EUR", "grid": [["A"]]}, "grid"),
        ({"currency": "EUR", "grid": [["A"] * 5] * 4 + [["A"] * 4]}, "grid[4]"),
        ({"currency": "EUR", "grid": [["A"] * 5] * 2 + [["A", "B", " ", "D", "E"]] + [["A"] * 5] * 2}, "grid[2][2]"),
        ({"currency": "EUR", "grid": [["A"] * 5] * 4 + [["A"] * 4 + ["x" * 65]]}, "grid[4][4]"),
    ],
)
@pytest.mark.parametrize("stored", [False, True])
def test_bad_config(ten, kwargs, field, stored):
    if stored:
        ten.refresh_rfm("EUR", as_of=AS_OF)
    before = snapshot(ten)
    for call in (ten.compute_rfm, ten.refresh_rfm):
        with pytest.raises(crm.ValidationError) as e:
            call(**kwargs)
        assert e.value.field == field and e.value.reason and isinstance(e.value, ValueError), e.value
    assert snapshot(ten) == before


def test_bad_arguments(ten):
    before = snapshot(ten)
    with pytest.raises(crm.ValidationError) as e:
        ten.compute_rfm("EUR", to="polars")
    assert e.value.field == "to"
    for bad_grid in ("ABCDE", [[1, 2, 3, 4, 5]] * 5, ["ABCDE"] * 5):
        with pytest.raises(TypeError):
            ten.compute_rfm("EUR", grid=bad_grid)
    with pytest.raises(TypeError):
        ten.compute_rfm("EUR", as_of=1_780_272_000)
    assert snapshot(ten) == before


def test_scoring_needs_a_model_and_a_known_customer(ten):
    with pytest.raises(crm.ValidationError) as e:
        ten.score_rfm(1)
    assert e.value.field == "rfm_model"
    ten.refresh_rfm("EUR", as_of=AS_OF)
    before = snapshot(ten)
    for call in (lambda: ten.rfm_of(999), lambda: ten.score_rfm(999, as_of=AS_OF)):
        with pytest.raises(crm.NotFoundError) as nf:
            call()
        assert isinstance(nf.value, KeyError) and (nf.value.entity, nf.value.id) == ("customer", "999")
    with pytest.raises(crm.ValidationError) as e:
        ten.score_rfm(1, as_of="2999-01-01T00:00:00Z")
    assert e.value.field == "as_of"
    assert snapshot(ten) == before


def test_closed_handle(ten):
    ten.close()
    with pytest.raises(crm.CrmError):
        ten.compute_rfm("EUR")
    with pytest.raises(crm.CrmError):
        ten.rfm_of(1)
