"""Limits and domains from Python: rules at the checker's limits run and agree with the
in-memory evaluation, one over is a short ValidationError naming the limit that writes
nothing; a rule tree nested 5,000 deep is the crate's ValidationError, not RecursionError;
BG/NBD predictions with a + b < 1; summaries' freq_multiplier and their warning."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any, Dict, List

import pytest

import crm
from crm.analytics import BetaGeoFitter, SummaryWarning

FIXTURES = Path(__file__).resolve().parents[2] / "crm-core" / "tests" / "fixtures"
COUNTRIES = ["SG", "US", "SG", "DE"]


def long_or(n: int, real: str = "SG") -> str:
    """``n`` country tests joined by ``or``: 1 + 3n nodes as the checker counts them."""
    return " or ".join([f'country = "X{i}"' for i in range(n - 1)] + [f'country = "{real}"'])


def assert_refused(e: pytest.ExceptionInfo, field: str, limit: str) -> None:
    msg = str(e.value)
    assert e.value.field == field, msg
    assert limit in msg and len(msg) < 400 and "SELECT" not in msg, msg


@pytest.fixture
def four(db: crm.Crm) -> List[int]:
    return [db.upsert_customer({"external_id": f"C{i}", "name": f"C{i}", "address": {"country": c}}).record.id
            for i, c in enumerate(COUNTRIES)]


def agree(db: crm.Crm, ids: List[int], rule: Any) -> int:
    members = db.members_matching(rule)
    assert members == [i for i in ids if db.matches(i, rule)]
    assert db.count_matching(rule) == len(members)
    return len(members)


def test_rules_at_the_size_limit_run_and_one_over_is_refused(db: crm.Crm, four: List[int]) -> None:
    at, over = long_or(3333), long_or(3334)
    assert agree(db, four, at) == 2
    with pytest.raises(crm.ValidationError) as e:
        db.count_matching(over)
    assert_refused(e, "rule", "10000")
    db.create_segment("big", at)
    assert db.segment_count("big") == 2
    before = db.segments()
    with pytest.raises(crm.ValidationError) as e:
        db.create_segment("over", over)
    assert_refused(e, "rule", "10000")
    assert db.segments() == before
    db.set_lifecycle_rules([{"stage": "loyal", "when": at}])
    assert db.refresh_lifecycle().counts["loyal"] == 2
    stored = db.lifecycle_rules()
    with pytest.raises(crm.ValidationError) as e:
        db.set_lifecycle_rules([{"stage": "loyal", "when": over}])
    assert_refused(e, "rules[0].when.rule", "10000")
    assert db.lifecycle_rules() == stored
    db.put_scoring_plan({"name": "p", "rules": [{"when": long_or(3300), "points": 3}]})
    assert db.scores("p") == {i: db.score(i, "p") for i in four}


def test_lists_at_the_list_limit_run(db: crm.Crm, four: List[int]) -> None:
    values = [f"Z{i}" for i in range(99_998)] + ["SG", "US"]
    tree: Dict[str, Any] = {"op": "in", "value": {"kind": "field", "name": "country"},
                            "list": [{"type": "text", "value": v} for v in values], "negated": False}
    assert agree(db, four, tree) == 3
    tree["list"].append({"type": "text", "value": "FR"})
    with pytest.raises(crm.ValidationError) as e:
        db.count_matching(tree)
    assert_refused(e, "country", "100000")


def test_json_nested_thousands_deep_is_the_crates_error(db: crm.Crm) -> None:
    deep: Dict[str, Any] = {"op": "bool", "value": True}
    for _ in range(5_000):
        deep = {"op": "not", "arg": deep}
    for call in (lambda: db.count_matching(deep), lambda: crm.format_rule(deep),
                 lambda: db.create_segment("deep", deep)):
        with pytest.raises(crm.ValidationError) as e:
            call()
        assert_refused(e, "rule", "127")
    # In a record the Python side encodes (a scoring plan), the same error, on the record.
    with pytest.raises(crm.ValidationError) as e:
        db.put_scoring_plan({"name": "p", "rules": [{"when": deep, "points": 1}]})
    assert_refused(e, "record", "127")
    # Deeper than the JSON limit but within Python's encoder: the same error.
    mid: Dict[str, Any] = {"op": "bool", "value": True}
    for _ in range(200):
        mid = {"op": "not", "arg": mid}
    with pytest.raises(crm.ValidationError) as e:
        db.count_matching(mid)
    assert_refused(e, "rule", "127")
    assert db.segments() == [] and db.scoring_plans() == []
    # Dicts ingested in bulk: the too-deep row is a row error, the others are stored.
    nested: Dict[str, Any] = {}
    for _ in range(5_000):
        nested = {"x": nested}
    rows = [{"external_id": "C-1", "name": "Ada"},
            {"external_id": "C-2", "name": "Deep", "attributes": nested},
            {"external_id": "C-3", "name": "Bob"}]
    report = db.ingest_customers(rows)
    assert (report.created, report.failed) == (2, 1)
    assert report.errors[0].row == 2 and "127" in report.errors[0].reason
    # A shape error quoting a megabyte value: cut short too.
    with pytest.raises(crm.ValidationError) as e:
        db.put_scoring_plan({"name": "p", "rules": "x" * 1_000_000})
    assert len(str(e.value)) <= 700 and len(e.value.reason) <= 700


def test_bgnbd_with_a_plus_b_below_one() -> None:
    # Reference: the published formulas evaluated by mpmath (hyp2f1_reference.py).
    bgf = BetaGeoFitter.from_params(r=0.5, alpha=10.0, a=0.3, b=0.5)
    with open(FIXTURES / "bgnbd_a_plus_b_below_1.csv") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        t = float(r["t"])
        assert bgf.expected_number_of_purchases_up_to_time(t) == pytest.approx(float(r["expected"]), rel=1e-10)
        got = bgf.conditional_expected_number_of_purchases_up_to_time(
            t, int(r["frequency"]), float(r["recency"]), float(r["T"]))
        assert got == pytest.approx(float(r["conditional"]), rel=1e-10)
        assert 0.0 <= bgf.conditional_probability_alive(int(r["frequency"]), float(r["recency"]), float(r["T"])) <= 1


def test_summary_freq_multiplier_and_late_order_warning(db: crm.Crm) -> None:
    db.upsert_customer({"external_id": "ada", "name": "Ada"})
    for i, at in enumerate(["2026-03-02T10:00:00Z", "2026-03-16T10:00:00Z", "2026-03-20T10:00:00Z"]):
        db.record_order({"external_id": f"O{i}", "customer_external_id": "ada", "occurred_at": at,
                         "currency": "USD", "total_minor": 1000})
    with pytest.warns(SummaryWarning, match="1 orders after observation_end"):
        weekly = crm.analytics.summary(db, "USD", "2026-03-18T12:00:00Z", freq="W")
    assert weekly.iloc[0]["repeat_spend_minor"] == 2000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        crm.analytics.summary(db, "USD", "2026-03-22T23:59:59Z", freq="W")
        daily = crm.analytics.summary(db, "USD", "2026-03-18T12:00:00Z", freq="D", freq_multiplier=7)
    row = daily.iloc[0]
    assert (row["frequency"], row["recency"]) == (1, 2.0)
    assert row["T"] == pytest.approx(16 / 7, rel=1e-12)
    # The calibration's last week takes in the Friday order after a Wednesday calibration end.
    with pytest.warns(SummaryWarning, match="calibration_end"):
        crm.analytics.calibration_and_holdout(db, "USD", "2026-03-18T12:00:00Z", "2026-03-29T23:59:59Z", freq="W")
    with pytest.raises(crm.ValidationError) as e:
        crm.analytics.summary(db, "USD", "2026-03-18T12:00:00Z", freq_multiplier=0)
    assert e.value.field == "freq_multiplier"
