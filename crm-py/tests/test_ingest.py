"""Bulk ingest from every source, reports, DataFrame round trips, progress."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest

import crm


@pytest.fixture(scope="module")
def data():
    return crm.synth.generate(customers=300, seed=3)


def test_synth_frames_dtypes(data):
    c, o, i = data["customers"], data["orders"], data["interactions"]
    assert list(o.columns) == crm.ORDER_COLUMNS and list(c.columns) == crm.CUSTOMER_COLUMNS
    assert o["total_minor"].dtype == "int64" and str(o["occurred_at"].dt.tz) == "UTC"
    assert str(c["created_at"].dtype).startswith("datetime64") and len(c) == 300
    assert crm.synth.generate(customers=300, seed=3)["orders"].equals(o)  # deterministic


def test_dataframe_ingest_round_trip(db, data):
    r = db.ingest_customers(data["customers"])
    assert (r.rows, r.created, r.failed) == (300, 300, 0) and r.ok
    r = db.ingest_orders(data["orders"])
    assert r.created == len(data["orders"]) and r.failed == 0
    r = db.ingest_interactions(data["interactions"])
    assert r.created == len(data["interactions"])
    again = db.ingest_orders(data["orders"])
    assert again.unchanged == len(data["orders"])
    f = db.query_frame()
    merged = f.merge(data["customers"], on="external_id", suffixes=("", "_in"))
    assert len(merged) == 300 and (merged["name"] == merged["name_in"]).all()
    assert (merged["created_at"] == merged["created_at_in"]).all()
    one = db.get_order_by_external_id(data["orders"]["external_id"][0])
    row = data["orders"].iloc[0]
    assert one.total.minor == row["total_minor"] and one.occurred_at == row["occurred_at"].to_pydatetime()
    assert [x.sku for x in one.items] == [x["sku"] for x in json.loads(row["items"])]


def test_dataframe_bad_rows_reported_by_position(db, data):
    db.ingest_customers(data["customers"])
    o = data["orders"].head(10).copy()
    o.loc[2, "currency"] = "XYZ"
    o.loc[5, "customer_external_id"] = "nobody"
    o.loc[7, "external_id"] = None
    o["items"] = [json.loads(x) for x in o["items"]]  # lists of dicts are accepted too
    before = db.counts()
    r = db.ingest_orders(o)
    assert (r.rows, r.created, r.failed) == (10, 7, 3)
    assert [(e.row, e.field) for e in r.errors] == [(3, "currency"), (6, "customer_external_id"), (8, "external_id")]
    ef = r.errors_frame()
    assert list(ef.columns) == ["row", "field", "reason"] and ef["row"].dtype == "int64"
    assert db.counts().orders == before.orders + 7


def test_dataframe_column_errors_change_nothing(db):
    before = db.counts()
    with pytest.raises(crm.ValidationError) as e:
        db.ingest_orders(pd.DataFrame({"external_id": ["a"], "colour": ["red"]}))
    assert e.value.field == "columns"
    with pytest.raises(crm.ValidationError):
        db.ingest_orders(pd.DataFrame({"external_id": ["a"]}))
    money_as_float = pd.DataFrame({"external_id": ["a"], "customer_external_id": ["x"], "currency": ["USD"],
                                   "occurred_at": pd.to_datetime(["2026-01-01"], utc=True), "total_minor": [12.5]})
    r = db.ingest_orders(money_as_float)
    assert r.failed == 1 and r.errors[0].field == "total_minor"
    assert db.counts() == before


def test_arrow_csv_jsonl_and_dicts(db, data, tmp_path):
    r = db.ingest_customers(pa.Table.from_pandas(data["customers"]))
    assert r.created == 300
    paths = crm.synth.write(tmp_path, customers=300, seed=3)
    assert db.ingest_customers(paths["customers"]).unchanged == 300
    assert db.ingest_orders(paths["orders"]).created == len(data["orders"])
    jl = crm.synth.write(tmp_path / "j", customers=300, seed=3, format="jsonl", kinds=["interactions"])
    assert db.ingest_interactions(jl["interactions"]).created == len(data["interactions"])
    recs = [{"external_id": "N1", "name": "New"}, {"external_id": "N2", "name": "x", "email": "bad"},
            {"name": "no external id"}]
    r = db.ingest_customers(recs)
    assert (r.created, r.failed) == (1, 2) and [(e.row, e.field) for e in r.errors] == [(2, "email"), (3, "external_id")]
    csv = tmp_path / "bad.csv"
    csv.write_text("external_id,name,email\nA,Ann,ann@example.com\nB,Bob,nope\n")
    r = db.ingest_customers(str(csv))
    assert r.errors[0].row == 3 and r.errors[0].field == "email"


def test_progress_callback(db, data):
    calls = []
    db.ingest_customers(data["customers"], batch_size=100, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(100, 300), (200, 300), (300, 300)]
    seen = []
    db.ingest_customers(data["customers"].to_dict("records"), batch_size=150, progress=lambda d, t: seen.append(d))
    assert seen == [150, 300]

    def boom(done, total):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        db.ingest_customers(data["customers"], batch_size=100, progress=boom)
