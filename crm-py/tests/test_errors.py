"""Each kind of bad input raises the right exception, names the field, and writes nothing."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

import crm
from conftest import order


def snapshot(db):
    return db.counts(), len(db.changes_since(0, 10_000))


@pytest.mark.parametrize(
    "record, field",
    [
        ({"external_id": "X", "name": "A", "email": "nope"}, "email"),
        ({"external_id": "X", "name": "A", "phone": "12"}, "phone"),
        ({"external_id": "X", "name": ""}, "name"),
        ({"external_id": "X", "name": 5}, "name"),
        ({"external_id": "X", "name": "A", "address": {"country": "ZZ"}}, "address.country"),
        ({"external_id": "X", "name": "A", "kind": "robot"}, "kind"),
        ({"name": "A", "unknown": 1}, "unknown"),
    ],
)
def test_bad_customer(db, ada, record, field):
    before = snapshot(db)
    with pytest.raises(crm.ValidationError) as e:
        db.upsert_customer(record)
    assert e.value.field == field and e.value.reason and isinstance(e.value, ValueError)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"currency": "XYZ"}, "currency"),
        ({"total_minor": -5}, "total_minor"),
        ({"customer_external_id": "nobody"}, "customer_external_id"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"items": [{"sku": "A", "quantity": 0, "unit_price_minor": 1}]}, "items[0].quantity"),
    ],
)
def test_bad_order(db, ada, patch, field):
    before = snapshot(db)
    with pytest.raises(crm.ValidationError) as e:
        db.record_order({**order(), **patch})
    assert e.value.field == field, e.value
    assert snapshot(db) == before


def test_not_found_conflict_and_limits(db, ada):
    before = snapshot(db)
    for call in (lambda: db.get_customer(999), lambda: db.delete_customer(999), lambda: db.get_order(1),
                 lambda: db.get_order_by_external_id("no"), lambda: db.delete_order(5),
                 lambda: db.get_interaction(1), lambda: db.delete_interaction(1),
                 lambda: db.update_customer(999, name="x"), lambda: db.customer_stats(999),
                 lambda: db.timeline(999)):
        with pytest.raises(crm.NotFoundError) as e:
            call()
        assert isinstance(e.value, KeyError) and e.value.entity
    with pytest.raises(crm.ConflictError):
        db.create_customer({"external_id": "C-1", "name": "dup"})
    for call, field in ((lambda: db.query_customers(limit=0), "limit"), (lambda: db.changes_since(0, 0), "limit"),
                        (lambda: db.top_customers_by_spend("GBP", 100_000), "limit"),
                        (lambda: db.top_customers_by_spend("??", 1), "currency"),
                        (lambda: db.query_customers(cursor="garbage"), "cursor"),
                        (lambda: db.query_customers({"colour": "red"}), "filter"),
                        (lambda: db.update_customer(ada.id, email="bad"), "email")):
        with pytest.raises(crm.ValidationError) as v:
            call()
        assert v.value.field.startswith(field), v.value
    assert snapshot(db) == before


def test_io_and_storage_errors(db, tmp_path):
    with pytest.raises(crm.IoError) as e:
        db.ingest_orders(str(tmp_path / "missing.csv"))
    assert isinstance(e.value, OSError)
    with pytest.raises(crm.ValidationError) as v:
        db.ingest_orders(str(tmp_path / "file.txt"))
    assert v.value.field == "path"
    bad = tmp_path / "notadb.db"
    bad.write_bytes(b"this is not a sqlite file" * 100)
    with pytest.raises(crm.StorageError) as s:
        crm.open(bad)
    assert s.value.kind == "corrupt" and "storage error (corrupt)" in str(s.value)
    with pytest.raises(crm.UnavailableError) as u:
        crm.open(tmp_path / "no" / "such" / "crm.db")
    assert isinstance(u.value, ConnectionError) and isinstance(u.value, crm.StorageError)
    assert u.value.kind == "unavailable"


def test_a_writer_held_up_past_the_busy_timeout_gets_busy_error_and_a_retry_applies_once(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "busy.db"
    db = crm.open(path, sqlite={"busy_timeout_ms": 50})
    # Another process's writer holds the lock (in this process, a second copy of SQLite
    # would not see crm's locks: POSIX locks do not conflict within one process).
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys\n"
         f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
         "c.execute('BEGIN IMMEDIATE')\n"
         "print('locked', flush=True)\n"
         "sys.stdin.readline()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(crm.BusyError) as e:
            db.upsert_customer({"external_id": "C-1", "name": "Ada"})
        assert e.value.kind == "busy" and isinstance(e.value, crm.StorageError)
    finally:
        holder.communicate("\n", timeout=30)
    assert db.counts().customers == 0
    for _ in range(2):  # the host retries, twice: one customer
        db.upsert_customer({"external_id": "C-1", "name": "Ada"})
    assert db.counts().customers == 1
    db.close()


def test_json_errors_name_the_field_once_without_positions(db, ada):
    """The package writes the JSON for dicts: no message may quote a position in it or say
    its reason twice, and list-of-dicts ingest names the field as DataFrame and CSV do."""
    before = snapshot(db)
    report = db.ingest_orders([order("O-1", currency="XYZ"), order("O-2", colour=1), order("O-3", total_minor="5")],
                              progress=False)
    assert [(e.row, e.field) for e in report.errors] == [(1, "currency"), (2, "colour"), (3, "total_minor")]
    frame = pd.DataFrame([order("O-1", currency="XYZ")])
    frame["items"] = frame["items"].map(json.dumps)
    from_frame = db.ingest_orders(frame, progress=False).errors[0]
    assert (from_frame.field, report.errors[0].reason) == ("currency", from_frame.reason)
    for e in report.errors:
        assert "line" not in e.reason and "column" not in e.reason and not e.reason.startswith(f"invalid {e.field}"), e
    for record, field in ((order(currency="XYZ"), "currency"), (order(total_minor="5"), "total_minor"),
                          (order(items=[{"sku": "A", "quantity": "x", "unit_price_minor": 1}]), "items[0].quantity")):
        with pytest.raises(crm.ValidationError) as v:
            db.record_order(record)
        message = str(v.value)
        assert v.value.field == field and message.startswith(f"invalid {field}: "), message
        assert "line" not in message and "column" not in message and message.count(f"invalid {field}") == 1, message
    with pytest.raises(crm.ValidationError) as v:
        db.set_loyalty_program({"name": "P", "rates": {"XYZ": {"points": 1, "per_minor": 1}}})
    assert v.value.field == "rates.XYZ" and "line" not in str(v.value), v.value
    assert snapshot(db) == before


def test_hurried_inputs_are_refused_or_read_as_documented(db, ada):
    """What a notebook user sends in a hurry: a str for tags, a dict for a list of rows, a bad
    batch size, a record as a list, naive datetimes and dates (read as UTC)."""
    before = db.changes_since(0, 10_000)
    with pytest.raises(crm.ValidationError) as e:
        db.upsert_customer(external_id="C-9", name="Tag", tags="vip")
    assert e.value.field == "tags"
    with pytest.raises(crm.ValidationError) as e:
        db.upsert_customer(external_id="C-9", name="Mode", mode="overwrite")
    assert e.value.field == "mode"
    with pytest.raises(crm.ValidationError) as e:
        db.ingest_orders({"external_id": "X"})
    assert e.value.field == "source"
    for size in (0, -1, 10**12):
        with pytest.raises(crm.ValidationError) as e:
            db.ingest_customers([{"external_id": "C-9", "name": "B"}], batch_size=size)
        assert e.value.field == "batch_size"
    with pytest.raises(crm.ValidationError) as e:
        db.record_order(["O-9", None, "C-1", "2026-11-01T00:00:00Z", None, "USD", 5])  # type: ignore[arg-type]
    assert e.value.field == "record" and "object" in e.value.reason
    assert db.changes_since(0, 10_000) == before
    # Naive datetimes and dates are UTC, as everywhere in the package.
    naive = dt.datetime(2026, 3, 1, 12, 0)
    o = db.record_order({"external_id": "O-N", "customer_id": ada.id, "occurred_at": naive,
                         "currency": "GBP", "total_minor": 100}).record
    assert o.occurred_at == naive.replace(tzinfo=dt.timezone.utc)
    d = db.record_order({"external_id": "O-D", "customer_id": ada.id, "occurred_at": dt.date(2026, 3, 2),
                         "currency": "GBP", "total_minor": 100}).record
    assert d.occurred_at == dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
