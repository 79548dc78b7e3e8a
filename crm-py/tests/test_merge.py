"""Merging and unmerging customers from Python: a merge found by find_duplicates moves the
orders and statistics, fills the profile, logs the evidence (a row of the pairs frame, numpy
scalars and all), and makes the merged external id read and write the survivor; an unmerge
gives each side back what is its own; every refused merge raises MergeError with its kind
and writes nothing."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import crm


def order(ext: str, customer: str, minor: int) -> dict:
    return {"external_id": ext, "customer_external_id": customer, "occurred_at": "2026-03-01T10:00:00Z",
            "currency": "EUR", "total_minor": minor}


@pytest.fixture
def pair(db: crm.Crm) -> tuple:
    pos = db.upsert_customer({"external_id": "POS-1", "name": "Ada L.", "phone": "+6591234567"}).record
    web = db.upsert_customer({"external_id": "WEB-1", "name": "Ada Lovelace", "email": "ada@example.com",
                              "tags": ["newsletter"]}).record
    db.record_order(order("P1", "POS-1", 1000))
    db.record_order(order("W1", "WEB-1", 2000))
    db.record_order(order("W2", "WEB-1", 3000))
    return pos, web


def test_merge_moves_orders_resolves_the_merged_id_and_unmerge_gives_them_back(db: crm.Crm, pair) -> None:
    pos, web = pair
    done = db.merge_customers(pos.id, web.id, actor="notebook", reason="same person", rules={"name": "most_complete"})
    assert isinstance(done, crm.MergeOutcome)
    assert (done.orders_moved, done.replayed) == (2, False)
    assert (done.survivor.name, done.survivor.email, done.survivor.phone) == (
        "Ada Lovelace", "ada@example.com", "+6591234567")
    assert "newsletter" in done.survivor.tags
    assert done.merged.merged_into == pos.id
    assert db.get_customer(web.id).id == pos.id
    assert db.get_customer_by_external_id("WEB-1").id == pos.id
    assert db.customer_stats(pos.id).order_count == 3
    assert db.counts().customers == 1
    # Written through the merged external id: the survivor's now, back with the web side later.
    db.record_order(order("W3", "WEB-1", 500))
    db.ingest_orders(pd.DataFrame([order("W4", "WEB-1", 700)]))
    assert db.customer_stats(pos.id).order_count == 5

    history = db.merge_history(web.id)
    assert [(m.survivor, m.merged, m.actor, m.reason) for m in history] == [(pos.id, web.id, "notebook", "same person")]
    assert history[0].survivor_before.email is None and history[0].unmerged_at is None
    assert history[0].survivorship == {"default": "survivor", "fields": {"name": "most_complete"}, "source_priority": []}

    undone = db.unmerge_customer(web.id, reason="two people")
    assert undone.merge.unmerged_at is not None and undone.merge.unmerge_reason == "two people"
    assert db.customer_stats(web.id).order_count == 4
    assert db.customer_stats(pos.id).order_count == 1
    assert db.get_customer(pos.id).email is None
    assert db.get_customer(pos.id).name == "Ada L."
    assert db.get_customer_by_external_id("WEB-1").id == web.id
    assert db.counts().customers == 2
    assert db.unmerge_customer(web.id).replayed
    assert len(db.merge_history(pos.id)) == 1


def test_a_pair_from_find_duplicates_is_the_evidence(db: crm.Crm) -> None:
    a = db.create_customer({"name": "Ada Lovelace", "email": "ada@example.com"})
    b = db.create_customer({"name": "LOVELACE, Ada", "email": "Ada@Example.com"})
    for i in range(20):
        db.create_customer({"name": f"Person {i}", "email": f"p{i}@example.org"})
    report = db.find_duplicates()
    row = report.pairs.iloc[0].to_dict()  # numpy scalars, NaN-free here; None levels stay None
    done = db.merge_customers(int(row["a"]), int(row["b"]), evidence=row, reason="find_duplicates")
    ev = db.merge_history(a.id)[0].evidence
    assert ev["email_level"] == "exact" and math.isclose(ev["probability"], float(row["probability"]))
    assert done.survivor.id == a.id and db.get_customer(b.id).id == a.id
    assert db.find_duplicates().pairs.empty, "a merged customer is no longer compared"


def test_refused_merges_raise_merge_error_and_write_nothing(db: crm.Crm, pair) -> None:
    pos, web = pair
    other = db.upsert_customer({"external_id": "X-1", "name": "Bo"}).record
    db.merge_customers(pos.id, web.id)
    feed = db.changes_since(0, 10_000)
    cases = [
        (lambda: db.merge_customers(other.id, other.id), "self_merge"),
        (lambda: db.merge_customers(web.id, other.id), "merged_away"),
        (lambda: db.merge_customers(other.id, web.id), "merged_away"),
        (lambda: db.merge_customers(web.id, pos.id), "cycle"),
        (lambda: db.unmerge_customer(other.id), "not_merged"),
    ]
    for call, kind in cases:
        with pytest.raises(crm.MergeError) as e:
            call()
        assert e.value.kind == kind
        assert isinstance(e.value, crm.CrmError)
    with pytest.raises(crm.NotFoundError):
        db.merge_customers(pos.id, 10**12)
    with pytest.raises(crm.ValidationError) as e:
        db.merge_customers(other.id, pos.id, reason="")
    assert e.value.field == "reason"
    with pytest.raises(crm.ValidationError) as e:
        db.merge_customers(other.id, pos.id, rules={"shoe_size": "merged"})
    assert e.value.field == "survivorship.fields.shoe_size"
    with pytest.raises(crm.ValidationError):
        db.merge_customers(other.id, pos.id, prefer="newest")
    with pytest.raises(crm.ValidationError) as e:
        db.merge_customers(other.id, pos.id, evidence={"score": float("nan")})
    assert e.value.field == "evidence"
    with pytest.raises(crm.ValidationError) as e:
        db.merge_customers(other.id, pos.id, evidence={"blob": "x" * 70_000})
    assert e.value.field == "evidence"
    with pytest.raises(TypeError):
        db.merge_customers(other.id, pos.id, evidence={"when": object()})
    with pytest.raises(crm.MergeError) as e:
        db.delete_customer(web.id)
    assert e.value.kind == "merged_away"
    assert db.changes_since(0, 10_000) == feed
    assert len(db.merge_history(pos.id)) == 1


def test_source_priority_takes_the_trusted_systems_values(db: crm.Crm) -> None:
    erp = db.upsert_customer(external_id="E-1", name="Bob", email="bob@erp.example").record
    web = db.upsert_customer(external_id="W-1", name="Robert", email="robert@web.example", source="webshop").record
    done = db.merge_customers(erp.id, web.id, prefer="source_priority", source_priority=["webshop", "primary"])
    assert (done.survivor.name, done.survivor.email) == ("Robert", "robert@web.example")
    with pytest.raises(crm.ValidationError) as e:
        db.merge_customers(erp.id, web.id, prefer="source_priority", source_priority=["point of sale"])
    assert e.value.field == "survivorship.source_priority[0]"
