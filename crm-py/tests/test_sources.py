"""Identities from Python: a customer linked to a till's key and upserted through it, a new
customer from a web shop's key, a DataFrame of till orders ingested with the source, the
identities listed; bad sources raise ValidationError naming the field."""

from __future__ import annotations

import pandas as pd
import pytest

import crm


def test_upserts_and_ingest_address_customers_by_identity(db: crm.Crm) -> None:
    ada = db.upsert_customer(external_id="C-1", name="Ada").record
    linked = db.add_identity(ada.id, "pos", "P-77")
    assert isinstance(linked, crm.Identity) and (linked.source, linked.external_id, linked.customer_id) == (
        "pos", "P-77", ada.id)
    w = db.upsert_customer({"external_id": "P-77", "email": "ada@example.com"}, source="pos")
    assert (w.outcome, w.record.id, w.record.external_id) == ("updated", ada.id, "C-1")
    bo = db.upsert_customer(external_id="W-9", name="Bo", source="webshop")
    assert (bo.outcome, bo.record.external_id) == ("created", None)
    assert db.customer_by_identity("webshop", "W-9").id == bo.record.id

    orders = pd.DataFrame({
        "external_id": ["T-1", "T-2", "T-3"],
        "customer_external_id": ["P-77", "P-77", "P-404"],
        "occurred_at": pd.to_datetime(["2026-03-01T10:00:00Z"] * 3),
        "currency": ["EUR"] * 3,
        "total_minor": [1200, 800, 500],
    })
    report = db.ingest_orders(orders, identity_source="pos")
    assert (report.created, report.failed) == (2, 1)
    assert db.customer_stats(ada.id).order_count == 2
    customers = [{"external_id": "P-1", "name": "Cy"}, {"external_id": "P-1", "name": "Cy again"}]
    report = db.ingest_customers(customers, identity_source="pos")
    assert (report.created, report.failed) == (1, 1)
    assert db.customer_by_identity("pos", "P-1").name == "Cy"

    assert [(i.source, i.external_id) for i in db.identities(ada.id)] == [("pos", "P-77")]
    with pytest.raises(crm.ConflictError):
        db.add_identity(bo.record.id, "pos", "P-77")
    db.remove_identity("pos", "P-77")
    with pytest.raises(crm.NotFoundError):
        db.customer_by_identity("pos", "P-77")


def test_bad_sources_raise_validation_errors(db: crm.Crm) -> None:
    ada = db.upsert_customer(external_id="C-1", name="Ada").record
    for bad in ["", "point of sale", "x" * 65, "a/b"]:
        with pytest.raises(crm.ValidationError) as e:
            db.add_identity(ada.id, bad, "K")
        assert e.value.field == "source"
        with pytest.raises(crm.ValidationError) as e:
            db.upsert_customer(external_id="K", name="X", source=bad)
        assert e.value.field == "source"
    with pytest.raises(crm.ValidationError) as e:
        db.ingest_customers([{"external_id": "K", "name": "X"}], identity_source="point of sale")
    assert e.value.field == "source"
    with pytest.raises(crm.NotFoundError):
        db.add_identity(10**9, "pos", "K")
    assert db.identities(ada.id) == []
