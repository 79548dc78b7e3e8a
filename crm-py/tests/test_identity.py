"""Identity resolution from Python: the duplicates other systems make are found with their
evidence as a typed DataFrame, clustered, the model round-trips, and every bad argument
raises ValidationError naming its field."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import crm
from crm.identity import FIELDS, PAIR_COLUMNS


def load(db: crm.Crm) -> dict:
    """Forty distinct people, then three variants as other systems would enter them."""
    first = ["Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Ivy"]
    last = ["Smith", "Jones", "Taylor", "Brown"]
    ids = {}
    for i in range(40):
        f, l = first[i % 10], last[i // 10]
        c = db.upsert_customer({
            "external_id": f"C{i}", "name": f"{f} {l}", "email": f"{f.lower()}.{l.lower()}{i}@example.com",
            "phone": f"+44 20 7946 {1000 + i:04}", "birthday": f"19{50 + i}-{1 + i % 12:02}-{1 + i % 28:02}",
            "address": {"country": "GB", "postal_code": f"SW{1 + i % 9} {i}AA", "city": "London"},
        }).record
        ids[f"C{i}"] = c.id
    # The POS: surname first in capitals, the phone in national notation, no email.
    ids["POS"] = db.create_customer({"name": "SMITH OLIVER", "phone": "020 7946 1000",
                                     "address": {"country": "GB", "postal_code": "sw1 0aa"}}).id
    # The call centre: full-width letters and the mailbox with a +tag.
    ids["CALL"] = db.create_customer({"name": "Ｉｓｌａ　Ｊｏｎｅｓ", "email": "isla.jones13+phone@example.com"}).id
    # A Chinese name in characters against its pinyin, same phone.
    ids["ZH"] = db.create_customer({"name": "Wang Wei", "phone": "+86 138 0013 8000"}).id
    ids["ZH2"] = db.create_customer({"name": "王伟", "phone": "+86 138 0013 8000"}).id
    return ids


def test_the_variants_are_found_as_a_typed_frame_with_evidence_and_clusters(db: crm.Crm) -> None:
    ids = load(db)
    report = db.find_duplicates(0.9)
    assert isinstance(report, crm.DuplicateReport)
    frame = report.pairs
    assert list(frame.columns) == PAIR_COLUMNS
    assert str(frame["a"].dtype) == "int64" and str(frame["probability"].dtype) == "float64"
    assert all(str(frame[f"{f}_weight"].dtype) == "float64" for f in FIELDS)
    found = {(int(a), int(b)) for a, b in zip(frame["a"], frame["b"])}
    want = {tuple(sorted((ids["C0"], ids["POS"]))), tuple(sorted((ids["C13"], ids["CALL"]))),
            tuple(sorted((ids["ZH"], ids["ZH2"])))}
    assert found == want, frame
    assert (frame["a"] < frame["b"]).all()
    assert frame["probability"].is_monotonic_decreasing
    zh = frame[(frame["a"] == min(ids["ZH"], ids["ZH2"]))].iloc[0]
    # 王伟 reads "wang wei": the same tokens in the same order as "Wang Wei".
    assert zh["name_level"] == "exact" and zh["phone_level"] == "exact"
    assert zh["email_level"] is None and zh["email_weight"] == 0.0
    assert sorted(report.clusters) == sorted([list(p) for p in want])
    clusters = report.cluster_frame()
    assert list(clusters.columns) == ["cluster", "customer_id"] and len(clusters) == 6
    assert report.stats["customers"] == 44 and report.stats["candidate_pairs"] >= 3
    assert report.threshold == 0.9


def test_the_model_round_trips_and_the_same_call_gives_the_same_report(db: crm.Crm) -> None:
    load(db)
    first = db.find_duplicates(0.5)
    again = db.find_duplicates(0.5)
    pd.testing.assert_frame_equal(first.pairs, again.pairs)
    model = dict(first.model, estimation=None)
    scored = db.find_duplicates(0.5, model=model)
    pd.testing.assert_frame_equal(scored.pairs, first.pairs)
    assert scored.model["estimation"] is None


def test_an_empty_database_has_an_empty_typed_frame(db: crm.Crm) -> None:
    report = db.find_duplicates()
    assert report.pairs.empty and list(report.pairs.columns) == PAIR_COLUMNS
    assert str(report.pairs["a"].dtype) == "int64"
    assert report.clusters == [] and report.cluster_frame().empty


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"threshold": -0.5}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": math.nan}, "threshold"),
        ({"threshold": math.inf}, "threshold"),
        ({"max_block_size": 1}, "max_block_size"),
        ({"max_iterations": 0}, "max_iterations"),
        ({"u_pairs": 0}, "u_pairs"),
        ({"u_pairs": 10**9}, "u_pairs"),
        ({"model": {"prior": 0.5}}, "match_settings"),
        ({"model": {"prior": 2.0, "fields": []}}, "model.prior"),
        ({"model": {"prior": 0.5, "fields": []}}, "model.fields"),
        ({"model": {"prior": 0.5, "fields": [{"field": "email", "levels": [{"level": "exact", "m": 0.9, "u": 0.1}]}]}},
         "model.fields[0].levels"),
    ],
)
def test_bad_arguments_raise_validation_errors_naming_the_field(db: crm.Crm, kwargs: dict, field: str) -> None:
    load(db)
    with pytest.raises(crm.ValidationError) as e:
        db.find_duplicates(**kwargs)
    assert e.value.field == field


def test_a_wrongly_typed_argument_is_a_validation_error_too(db: crm.Crm) -> None:
    with pytest.raises(crm.ValidationError) as e:
        db.find_duplicates(max_block_size="big")  # type: ignore[arg-type]
    assert e.value.field == "match_settings"
    with pytest.raises(crm.ValidationError) as e:
        db.find_duplicates(max_block_size=-3)
    assert e.value.field == "match_settings"


def test_generated_duplicates_are_found_with_high_precision_and_recall(db: crm.Crm) -> None:
    customers = crm.synth.generate(customers=2000, duplicates=0.05, seed=5, kinds=("customers",))["customers"]
    assert len(customers) == 2100
    db.ingest("customers", customers)
    report = db.find_duplicates()
    truth = {c.id: c.external_id.split("~")[0] for c in db.iter_customers()}
    said = right = 0
    for cluster in report.clusters:
        for i, a in enumerate(cluster):
            for b in cluster[i + 1:]:
                said += 1
                right += truth[a] == truth[b]
    precision, recall = right / max(said, 1), right / 100
    assert precision >= 0.95 and recall >= 0.9, (precision, recall)
