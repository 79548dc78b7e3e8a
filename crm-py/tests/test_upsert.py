"""Upserts keep what is not sent (keywords not passed keep, None clears), replace only on
request; one external-id normalisation with typed id lookups; phones read with the record's
country; duplicates in one ingest and re-import; CSV headers and unknown columns; DataFrame
columns absent versus null."""

from __future__ import annotations

import pandas as pd
import pytest

import crm


def rich(db: crm.Crm) -> crm.Customer:
    return db.upsert_customer(
        {"external_id": "C-1", "name": "Acme", "kind": "company", "title": "Buyer", "tags": ["vip"],
         "attributes": {"plan": "gold", "n": 1}, "address": {"country": "DE", "city": "Berlin"},
         "consents": {"email": {"granted": True, "at": "2026-01-01T00:00:00Z"}}}
    ).record


def test_upsert_keeps_what_is_not_sent_and_none_clears(db):
    before = rich(db)
    w = db.upsert_customer(external_id="C-1", email="info@acme.example")
    c = w.record
    assert w.outcome == "updated" and c.email == "info@acme.example"
    assert (c.name, c.kind, c.title, c.tags, c.attributes, c.consents, c.address) == (
        before.name, before.kind, before.title, before.tags, before.attributes, before.consents, before.address)
    assert db.upsert_customer(external_id="C-1", email="info@acme.example").outcome == "unchanged"
    c = db.upsert_customer(
        {"external_id": "C-1", "attributes": {"n": None, "m": 2}}, title=None, address={"city": None}
    ).record
    assert c.title is None and c.attributes == {"plan": "gold", "m": 2}
    assert c.address.country == "DE" and c.address.city is None
    assert db.upsert_customer(external_id="C-1", tags=None).record.tags == set()
    assert db.upsert_customer(external_id="C-1", name=None).record.name == "Acme"


def test_replace_only_on_request(db):
    before = rich(db)
    c = db.upsert_customer(external_id="C-1", name="Acme", mode="replace").record
    assert c.id == before.id and c.title is None and not c.tags and not c.attributes
    assert c.lifecycle == before.lifecycle and c.created_at == before.created_at
    with pytest.raises(ValueError):
        db.upsert_customer(external_id="C-1", mode="overwrite")


def test_a_new_customer_needs_a_name_and_nothing_is_written(db):
    with pytest.raises(crm.ValidationError) as e:
        db.upsert_customer(external_id="C-9", email="a@example.com")
    assert e.value.field == "name"
    assert db.counts().customers == 0 and db.changes_since() == []


def test_external_ids_have_one_normal_form_and_typed_lookups(db):
    ada = db.upsert_customer(external_id="C-1", name="Ada").record
    w = db.upsert_customer(external_id="C-1\u200b", name="Ada")
    assert (w.record.id, w.outcome) == (ada.id, "unchanged")
    assert db.customer_id_by_external_id("\ufeffC-1\u00a0") == ada.id
    assert db.get_customer_by_external_id("C-1\u2060").id == ada.id
    o = db.record_order({"external_id": "O-1\u200b", "customer_external_id": " C-1", "currency": "EUR",
                         "occurred_at": "2026-01-01T00:00:00Z", "total_minor": 100}).record
    assert o.external_id == "O-1" and db.order_id_by_external_id("O-1\u200c") == o.id
    i = db.add_interaction({"external_id": "I-1", "customer_external_id": "C-1\u200b", "kind": "call",
                            "occurred_at": "2026-01-01T00:00:00Z"}).record
    assert db.interaction_id_by_external_id("\u200bI-1") == i.id
    for lookup in (db.customer_id_by_external_id, db.order_id_by_external_id, db.interaction_id_by_external_id):
        with pytest.raises(crm.NotFoundError):
            lookup("X-404")
    with pytest.raises(crm.ValidationError) as e:
        db.upsert_customer(external_id="C\x071", name="Bell")
    assert e.value.field == "external_id" and db.counts().customers == 1


def test_national_phone_numbers_use_the_records_country(db):
    c = db.upsert_customer(external_id="C-SG", name="S", phone="9123 4567", address={"country": "SG"}).record
    assert c.phone == "+6591234567"
    assert db.upsert_customer(external_id="C-SG", phone="8123 4567").record.phone == "+6581234567"
    with pytest.raises(crm.ValidationError) as e:
        db.upsert_customer(external_id="C-GB", name="G", phone="9123 4567", address={"country": "GB"})
    assert e.value.field == "phone"
    with crm.open(":memory:", validation={"default_region": "SG"}) as sg:
        assert sg.upsert_customer(external_id="C-1", name="A", phone="9123 4567").record.phone == "+6591234567"


def test_duplicates_first_row_wins_and_reimport_changes_nothing(db, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("External_ID,NAME,Email,Branch\nC1,Ada,,North\nC2,Bob,,South\nC1,Ada B,x@example.com,East\n")
    with pytest.raises(crm.ValidationError) as e:
        db.ingest_customers(path)
    assert e.value.field == "header" and "Branch" in str(e.value)
    r = db.ingest_customers(path, ignore_unknown_columns=True, batch_size=2)
    assert (r.created, r.failed, r.ignored_columns) == (2, 1, ["Branch"])
    assert (r.errors[0].row, r.errors[0].field) == (4, "external_id")
    assert r.errors[0].reason == 'duplicate external_id "C1": row 2 was applied'
    assert db.get_customer_by_external_id("C1").name == "Ada"
    feed = db.changes_since()
    again = db.ingest_customers(path, ignore_unknown_columns=True, batch_size=2)
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 2, 1)
    assert db.changes_since() == feed
    # The same from a DataFrame and from dicts.
    frame = pd.DataFrame({"external_id": ["C3", "C3"], "name": ["Cy", "Cy 2"]})
    r = db.ingest_customers(frame)
    assert (r.created, r.failed, r.errors[0].reason) == (1, 1, 'duplicate external_id "C3": row 1 was applied')
    r = db.ingest_customers([{"external_id": "C4", "name": "D"}, {"external_id": "C4\u200b", "name": "E"}])
    assert (r.created, r.failed) == (1, 1)


def test_dataframe_columns_absent_keep_and_null_cells_clear(db):
    rich(db)
    frame = pd.DataFrame({"EXTERNAL_ID": ["C-1"], "title": [None], "city": ["Munich"], "erp_branch": ["x"]})
    with pytest.raises(crm.ValidationError):
        db.ingest_customers(frame)
    r = db.ingest_customers(frame, ignore_unknown_columns=True)
    assert (r.updated, r.failed, r.ignored_columns) == (1, 0, ["erp_branch"])
    c = db.get_customer_by_external_id("C-1")
    assert c.title is None and c.address.city == "Munich" and c.address.country == "DE"
    assert c.tags == {"vip"} and c.attributes == {"plan": "gold", "n": 1} and c.name == "Acme"
