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


def _orders(n: int = 3, **columns) -> pd.DataFrame:
    base = {
        "external_id": [f"T{i}" for i in range(n)],
        "customer_external_id": ["C-1"] * n,
        "occurred_at": pd.to_datetime(["2026-01-02T03:04:05.123456Z"] * n, utc=True),
        "currency": ["EUR"] * n,
        "total_minor": [100 + i for i in range(n)],
    }
    base.update(columns)
    return pd.DataFrame(base)


T = pd.Timestamp("2026-01-02T03:04:05.123456Z")


@pytest.mark.parametrize(
    "times",
    [
        pd.Series([T] * 3).astype("datetime64[ns, UTC]"),
        pd.Series([T] * 3).astype("datetime64[us, UTC]"),
        pd.Series([T] * 3).dt.tz_convert("Asia/Singapore"),
        pd.Series([T] * 3).dt.tz_convert(None).astype("datetime64[ns]"),  # naive: read as UTC
        pd.Series([T.value // 1000] * 3, dtype="int64"),  # microseconds since 1970
        pd.Series(["2026-01-02T11:04:05.123456+08:00"] * 3, dtype=object),  # RFC 3339 text
    ],
    ids=["ns-utc", "us-utc", "ns-singapore", "naive-ns", "int-micros", "text"],
)
def test_dataframe_time_dtypes(db, ada, times):
    r = db.ingest_orders(_orders(occurred_at=times))
    assert (r.created, r.failed) == (3, 0), r.errors
    assert db.get_order_by_external_id("T2").occurred_at == T.to_pydatetime()


def test_dataframe_money_and_items_dtypes(db, ada):
    items = [{"sku": "S-1", "category": "books", "quantity": 2, "unit_price_minor": 50}]
    frame = _orders(
        4,
        total_minor=pd.array([100, None, 300, 400], dtype="Int64"),
        items=[items, json.dumps(items), None, items],
        status=pd.array(["completed", "refunded", None, "cancelled"], dtype="string"),
    )
    r = db.ingest_orders(frame)
    assert (r.created, r.failed) == (3, 1)
    assert [(e.row, e.field, e.reason) for e in r.errors] == [(2, "total_minor", "is required")]
    t0, t3 = db.get_order_by_external_id("T0"), db.get_order_by_external_id("T3")
    assert (t0.total.minor, t0.status, t3.status) == (100, "completed", "cancelled")
    assert [(i.sku, i.quantity) for i in t0.items] == [("S-1", 2)] and db.get_order_by_external_id("T2").items == []


def test_conversion_errors_keep_rows_and_fields(db, ada):
    frame = _orders(
        6,
        occurred_at=["2026-01-01T00:00:00Z", "yesterday", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z",
                     "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"],
        # A lone surrogate is not text (object dtype: Arrow-backed strings cannot hold one).
        channel=pd.Series(["web", "web", "caf\udce9", "café", None, "web"], dtype=object),
        items=["[]", "[]", "[]", "[]", "[{]", "[]"],
    )
    r = db.ingest_orders(frame, batch_size=2)
    assert [(e.row, e.field) for e in r.errors] == [(2, "occurred_at"), (3, "channel"), (5, "items")]
    assert (r.rows, r.created) == (6, 3)
    assert db.get_order_by_external_id("T3").channel == "café"


def test_unknown_fields_are_refused_everywhere(db, ada, tmp_path):
    with pytest.raises(crm.ValidationError) as e:
        db.ingest_orders(_orders(colour=["red"] * 3))
    assert e.value.field == "columns" and "colour" in str(e.value)
    with pytest.raises(crm.ValidationError) as e:
        db.ingest_orders(pa.Table.from_pandas(_orders(colour=["red"] * 3)))
    assert e.value.field == "columns"
    twice = pd.concat([_orders(), _orders()[["currency"]]], axis=1)
    with pytest.raises(crm.ValidationError, match="twice"):
        db.ingest_orders(twice)
    r = db.ingest_customers([{"external_id": "X1", "name": "X", "colour": "red"}])
    assert r.failed == 1 and "colour" in r.errors[0].reason
    path = tmp_path / "o.csv"
    path.write_text("external_id,name,colour\nX2,X,red\n")
    with pytest.raises(crm.ValidationError) as e:
        db.ingest_customers(str(path))
    assert e.value.field == "header"
    assert db.counts().orders == 0 and db.counts().customers == 1


def test_arrow_table_is_read_from_its_buffers(db, ada):
    frame = _orders(5, channel=["web", None, "shop", "web", "app"])
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = pa.concat_tables([table.slice(0, 2), table.slice(2)])  # two chunks per column
    items = pa.array([[{"sku": "A", "quantity": 1, "unit_price_minor": 5}]] * 5)
    table = table.append_column("items", items).set_column(
        2, "occurred_at", table["occurred_at"].cast(pa.timestamp("ns", tz="UTC"))
    )
    r = db.ingest_orders(table)
    assert (r.created, r.failed) == (5, 0), r.errors
    assert db.get_order_by_external_id("T1").channel is None
    t4 = db.get_order_by_external_id("T4")
    assert (t4.channel, t4.items[0].sku, t4.occurred_at) == ("app", "A", T.to_pydatetime())
    arrow_text = frame.astype({"external_id": "string[pyarrow]", "channel": pd.ArrowDtype(pa.string())})
    arrow_text["items"] = json.dumps([{"sku": "A", "quantity": 1, "unit_price_minor": 5}])
    assert db.ingest_orders(arrow_text).unchanged == 5


def test_progress_false_cancels_after_whole_batches(db, data):
    seen = []

    def stop_after_two(done, total):
        seen.append((done, total))
        return done < 200

    r = db.ingest_customers(data["customers"], batch_size=100, progress=stop_after_two)
    assert r.cancelled and (r.rows, r.created) == (200, 200)
    assert seen == [(100, 300), (200, 300)] and db.counts().customers == 200
    assert db.get_customer_by_external_id(data["customers"]["external_id"][199])
    with pytest.raises(crm.NotFoundError):
        db.get_customer_by_external_id(data["customers"]["external_id"][200])
    r = db.ingest_customers(data["customers"], batch_size=100, progress=lambda d, t: None)
    assert not r.cancelled and (r.created, r.unchanged) == (100, 200)


def test_progress_exception_stops_and_keeps_committed_batches(db, data):
    def boom(done, total):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        db.ingest_customers(data["customers"], batch_size=100, progress=boom)
    assert db.counts().customers == 100
    with pytest.raises(RuntimeError, match="stop"):
        db.ingest_customers(data["customers"].to_dict("records"), batch_size=100, progress=boom)
    assert db.counts().customers == 100


def test_row_numbers_across_blocks(db):
    n = 40_000
    names = [f"N{i}" for i in range(n)]
    for bad in (16_383, 16_384, 32_768, n - 1):  # around the converter's 16,384-row blocks
        names[bad] = ""
    frame = pd.DataFrame({"external_id": [f"B{i}" for i in range(n)], "name": names})
    r = db.ingest_customers(frame, progress=False)
    assert (r.rows, r.created) == (n, n - 4)
    assert [(e.row, e.field) for e in r.errors] == [(16_384, "name"), (16_385, "name"), (32_769, "name"), (n, "name")]


def test_a_failing_text_source_stops_the_ingest(db):
    def ids(start, stop):
        if start > 0:
            raise LookupError("source gone")
        return crm.frames.text_block("external_id", [f"S{i}" for i in range(start, stop)])

    names = crm.frames.ingest_columns(pd.DataFrame({"name": ["x"] * 20_000}))[0]
    with pytest.raises(LookupError, match="source gone"):
        db._native.ingest_columns("customers", [("external_id", "text", ids, None), *names], 20_000, 1_000, 10)
    assert db.counts().customers == 16_384  # the first block, in whole batches
