"""Incremental matching from Python: a trained model stored, one record matched as a typed
DataFrame with its evidence, the suggest and auto-merge policies acting as customers are
upserted and bulk-ingested from a DataFrame, suggestions as a frame; every bad argument
raises ValidationError naming its field."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import crm
from crm.identity import CANDIDATE_COLUMNS, SUGGESTION_COLUMNS


@pytest.fixture
def people(db: crm.Crm) -> list:
    ids = [db.upsert_customer({"external_id": f"C{i}", "name": f"Person{i} Surname{i}",
                               "email": f"p{i}@example.com", "phone": f"+44 20 7946 {1000 + i:04}"}).record.id
           for i in range(40)]
    # A few duplicates as other systems enter them, so that training finds matches.
    for i in range(5):
        db.create_customer({"name": f"SURNAME{i} Person{i}", "email": f"P{i}+web@Example.com"})
    return ids


def test_match_customer_is_a_typed_frame_with_evidence(db: crm.Crm, people) -> None:
    model = db.train_match_model()
    assert db.match_model() == model
    found = db.match_customer({"name": "Person12 Surname12", "email": "p12+shop@example.com"})
    assert list(found.columns) == CANDIDATE_COLUMNS
    assert str(found["customer_id"].dtype) == "int64"
    assert found.loc[0, "customer_id"] == people[12]
    assert found.loc[0, "email_level"] == "same_mailbox"
    assert 0.5 <= found.loc[0, "probability"] <= 1
    # A record nobody resembles: an empty frame with the same columns.
    none = db.match_customer({"name": "Zed Nobody", "email": "zed@nowhere.example"})
    assert none.empty and list(none.columns) == CANDIDATE_COLUMNS
    # A phone in national notation with its country.
    by_phone = db.match_customer({"name": "Someone", "phone": "020 7946 1003", "address": {"country": "GB"}},
                                 threshold=0.0, limit=3)
    assert people[3] in set(found["customer_id"]) | set(by_phone["customer_id"])
    assert len(by_phone) <= 3


def test_policies_act_on_upserts_and_bulk_ingest(db: crm.Crm, people) -> None:
    db.train_match_model()
    db.set_match_policy("suggest", threshold=0.9)
    assert db.match_policy() == {"mode": "suggest", "threshold": 0.9, "max_block_size": 500}
    dup = db.upsert_customer({"external_id": "WEB-20", "name": "Person20 Surname20", "email": "p20@example.com"})
    s = db.match_suggestions()
    assert list(s.columns) == SUGGESTION_COLUMNS
    assert (s["customer_id"] == dup.record.id).all() and people[20] in set(s["candidate_id"])
    first = int(s.loc[0, "id"])
    db.resolve_suggestion(first, "dismissed")
    assert first not in set(db.match_suggestions()["id"])
    assert first in set(db.match_suggestions("dismissed")["id"])

    db.set_match_policy("auto_merge", threshold=0.9)
    frame = pd.DataFrame([
        {"external_id": "POS-21", "name": "Person21 Surname21", "email": "p21@example.com"},
        {"external_id": "POS-NEW", "name": "Brand New", "email": "brand@new.example"},
        {"external_id": "POS-21", "name": "Person21 Surname21", "email": "p21@example.com"},  # a duplicated row
    ])
    db.ingest_customers(frame)
    assert db.get_customer_by_external_id("POS-21").id == people[21]
    assert db.get_customer_by_external_id("POS-NEW").id not in people
    assert db.merge_history(people[21])[0].actor == "auto-match"
    db.set_match_policy("off")
    assert db.upsert_customer({"external_id": "X-22", "name": "Person22 Surname22",
                               "email": "p22@example.com"}).record.id != people[22]


def test_bad_arguments_raise_validation_errors_naming_the_field(db: crm.Crm, people) -> None:
    rec = {"name": "Person1 Surname1", "email": "p1@example.com"}
    with pytest.raises(crm.ValidationError) as e:
        db.match_customer(rec)
    assert e.value.field == "model"
    with pytest.raises(crm.ValidationError) as e:
        db.set_match_policy("suggest")
    assert e.value.field == "model"
    db.train_match_model()
    for kwargs, field in [
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": math.nan}, "threshold"),
        ({"limit": 0}, "limit"),
        ({"limit": 10**6}, "limit"),
        ({"max_block_size": 1}, "max_block_size"),
        ({"model": {"prior": 2, "fields": []}}, "model.prior"),
    ]:
        with pytest.raises(crm.ValidationError) as e:
            db.match_customer(rec, **kwargs)
        assert e.value.field == field, kwargs
    with pytest.raises(crm.ValidationError) as e:
        db.match_customer({"name": "A", "email": "not an email"})
    assert e.value.field == "email"
    with pytest.raises(crm.ValidationError):
        db.match_customer({"name": "A", "shoe_size": 44})
    with pytest.raises(crm.ValidationError):
        db.set_match_policy("sometimes")
    with pytest.raises(crm.ValidationError) as e:
        db.set_match_policy("suggest", threshold=-1)
    assert e.value.field == "threshold"
    with pytest.raises(crm.ValidationError) as e:
        db.match_suggestions("maybe")
    assert e.value.field == "status"
    with pytest.raises(crm.ValidationError) as e:
        db.resolve_suggestion(10**9, "merged")
    assert e.value.field == "id"
    with pytest.raises(crm.ValidationError):
        db.set_match_model({"prior": 0.5})
    assert db.match_policy()["mode"] == "off", "nothing stored"
