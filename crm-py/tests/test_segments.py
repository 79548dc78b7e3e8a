"""Segmentation from Python: the rule language, saved segments and snapshots, scoring plans,
lifecycle stages and value tiers; bad input raising the right exception and changing nothing;
one handle shared by threads for membership checks."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

import crm

NOW = dt.datetime.now(dt.timezone.utc)


def days_ago(n: int) -> str:
    return (NOW - dt.timedelta(days=n)).isoformat()


@pytest.fixture
def ids(db: crm.Crm) -> dict:
    """a (CN, vip, spent 1500 CNY 10 days ago), b (SG, 1500 CNY 400 days ago), c (US, vip, nothing)."""
    out = {}
    for ext, country, tags in (("a", "CN", ["vip"]), ("b", "SG", []), ("c", "US", ["vip"])):
        out[ext] = db.create_customer({"external_id": ext, "name": ext.upper(), "address": {"country": country},
                                       "tags": tags}).id
    for ext, who, age in (("o1", "a", 10), ("o2", "b", 400)):
        db.record_order({"external_id": ext, "customer_external_id": who, "occurred_at": days_ago(age),
                         "currency": "CNY", "total_minor": 150_000})
    return out


def state(db: crm.Crm) -> tuple:
    """Everything a refused call must leave as it was."""
    return (db.segments(), db.scoring_plans(), db.lifecycle_rules(), db.tier_config(), db.changes_since(0, 10_000),
            db.counts())


def test_parse_and_format():
    tree = crm.parse_rule('country in ["CN","SG"]  and  "vip" in tags')
    assert tree["op"] == "and" and tree["args"][0]["op"] == "in"
    text = crm.format_rule(tree)
    assert text == 'country in ["CN", "SG"] and tags contains "vip"'
    assert crm.parse_rule(text) == tree
    assert crm.format_rule("order_count>=2") == "order_count >= 2"  # text is accepted too
    with pytest.raises(crm.ParseError) as e:
        crm.parse_rule('country = "SG" and\n  total_spent >=> 5')
    err = e.value
    assert (err.line, err.column, err.found) == (2, 17, "`>`") and err.expected
    assert isinstance(err, ValueError) and isinstance(err, crm.CrmError)
    assert "line 2, column 17" in str(err)
    with pytest.raises(crm.ValidationError) as v:
        crm.format_rule({"op": "nope"})
    assert v.value.field.startswith("rule")


def test_ad_hoc_rules(db, ids):
    a, b, c = ids["a"], ids["b"], ids["c"]
    db.check_rule("total_spent >= 1000.00 CNY and last_order_at within 90 days")
    assert db.count_matching('"vip" in tags') == 2
    assert db.count_matching(crm.parse_rule('"vip" in tags')) == 2
    assert db.count_matching("last_order_at within 30 days", as_of=NOW - dt.timedelta(days=60)) == 0
    with pytest.raises(crm.ValidationError) as e:
        db.count_matching("last_order_at within 30 days", as_of=dt.datetime(9999, 1, 1, tzinfo=dt.timezone.utc))
    assert e.value.field == "as_of"
    assert db.count_matching("last_order_at within 30 days", as_of=(NOW - dt.timedelta(days=5)).replace(tzinfo=None)) == 1
    assert db.members_matching("true") == [a, b, c]
    assert db.members_matching("true", after=a, limit=1) == [b]
    f = db.members_frame('"vip" in tags', page_size=1)
    assert list(f.columns) == ["customer_id"] and f["customer_id"].dtype == "int64"
    assert f["customer_id"].tolist() == [a, c]
    empty = db.members_frame("false")
    assert len(empty) == 0 and empty["customer_id"].dtype == "int64"
    assert db.matches(a, 'country = "CN"') and not db.matches(b, {"op": "bool", "value": False})
    assert not db.matches(a, "last_order_at within 30 days", as_of=NOW - dt.timedelta(days=60))


def test_dynamic_segments_snapshots_and_feed(db, ids):
    a, b, c = ids["a"], ids["b"], ids["c"]
    s = db.create_segment("asia big", 'country in ["CN", "SG"] and total_spent >= 1000.00 CNY',
                          description="big spenders in Asia")
    assert isinstance(s, crm.Segment) and s.kind == "dynamic" and s.snapshot_at is None
    assert s.rule_text == 'country in ["CN", "SG"] and total_spent >= 1000.00 CNY'
    t = db.create_segment("from tree", crm.parse_rule('"vip" in tags'))
    assert t.rule == crm.parse_rule('"vip" in tags') and t.description is None
    assert db.segment("asia big") == s
    assert [x.name for x in db.segments()] == ["asia big", "from tree"]
    assert db.segment_count("asia big") == 2
    assert db.segment_members("asia big") == [a, b]
    assert db.segment_members("asia big", after=a, limit=5) == [b]
    assert db.is_member(a, "asia big") and not db.is_member(c, "asia big")
    frame = db.segment_members_frame("from tree")
    assert frame["customer_id"].dtype == "int64" and frame["customer_id"].tolist() == [a, c]

    seq = db.changes_since(0, 10_000)[-1].seq
    snap = db.snapshot_segment("asia big")
    assert isinstance(snap, crm.Snapshot) and (snap.segment, snap.members, snap.entered, snap.left) == (s.id, 2, [a, b], [])
    assert snap.at.tzinfo is not None
    u = db.update_segment("asia big", rule="last_order_at within 90 days")
    assert u.rule_text == "last_order_at within 90 days" and u.description == "big spenders in Asia"
    snap = db.snapshot_segment("asia big")
    assert (snap.members, snap.entered, snap.left) == (1, [], [b])
    assert db.segment("asia big").snapshot_at == snap.at
    feed = [(ch.op, ch.ref_id) for ch in db.changes_since(seq, 100) if ch.entity == "segment"]
    assert feed == [("enter", a), ("enter", b), ("update", None), ("leave", b)]

    r = db.update_segment("from tree", new_name="vips", description="tagged")
    assert (r.name, r.description, r.id) == ("vips", "tagged", t.id)
    assert db.update_segment("vips", description=None).description is None
    db.delete_segment("vips")
    with pytest.raises(crm.NotFoundError):
        db.segment("vips")


def test_static_segments(db, ids):
    a, b = ids["a"], ids["b"]
    s = db.create_segment("pilot", members=[a])
    assert s.kind == "static" and s.rule is None and s.rule_text is None
    assert db.add_segment_members("pilot", [a, b, b]) == 1
    assert db.segment_members("pilot") == [a, b]
    assert db.remove_segment_members("pilot", iter([a])) == 1
    assert db.segment_count("pilot") == 1
    assert db.matches(b, 'in segment "pilot" and country = "SG"')
    db.create_segment("pilot in SG", 'in segment "pilot" and country = "SG"')
    assert db.segment_members("pilot in SG") == [b]
    with pytest.raises(crm.ConflictError) as e:
        db.delete_segment("pilot")
    assert "pilot in SG" in str(e.value)
    db.delete_segment("pilot in SG")
    db.delete_segment("pilot")
    assert db.segments() == []


def test_scoring_plans(db, ids):
    a, b, c = ids["a"], ids["b"], ids["c"]
    db.put_scoring_plan({"name": "engagement", "rules": [
        {"when": '"vip" in tags', "points": 20},
        {"when": "order_count >= 1", "points": 10},
        {"when": crm.parse_rule('country = "SG"'), "points": -5},
    ]})
    [plan] = db.scoring_plans()
    assert isinstance(plan, crm.ScoringPlan) and plan.name == "engagement"
    assert [r.points for r in plan.rules] == [20, 10, -5] and plan.rules[2].when_text == 'country = "SG"'
    assert db.score(a, "engagement") == 30 and db.score(b, "engagement") == 5
    assert db.scores("engagement") == {a: 30, b: 5, c: 20}
    f = db.scores_frame("engagement")
    assert list(f.columns) == ["customer_id", "score"]
    assert f["customer_id"].dtype == "int64" and f["score"].dtype == "int64"
    assert f["score"].tolist() == [30, 5, 20]
    assert db.count_matching("score.engagement >= 20") == 2
    # A plan read back can be stored again (dataclass in, rules as trees).
    db.put_scoring_plan(crm.ScoringPlan("copy", plan.rules))
    assert db.scores("copy") == db.scores("engagement")
    db.create_segment("engaged", "score.engagement > 10")
    with pytest.raises(crm.ConflictError):
        db.delete_scoring_plan("engagement")
    db.delete_segment("engaged")
    db.delete_scoring_plan("engagement")
    db.delete_scoring_plan("copy")
    assert db.scoring_plans() == []


def test_lifecycle_stages(db, ids):
    a, b, c = ids["a"], ids["b"], ids["c"]
    rules = db.lifecycle_rules()
    assert rules[0].stage == "won_back" and all(isinstance(r, crm.StageRule) for r in rules)
    assert rules[1].when_text == "order_count = 0"
    r = db.refresh_lifecycle()
    assert isinstance(r, crm.Refresh) and (r.customers, r.changed) == (3, 2)  # c stays a prospect
    assert r.counts == {"churned": 1, "new": 1, "prospect": 1}
    assert db.get_customer(b).lifecycle == "churned"
    [(first, since), (then, at)] = db.stage_history(b)
    assert (first, then) == ("prospect", "churned") and since <= at and at.tzinfo is not None
    assert db.stage_history(c) == []
    db.set_lifecycle_rules([crm.StageRule("loyal", 'country = "CN"'), {"stage": "active", "when": "true"}])
    assert [s.stage for s in db.lifecycle_rules()] == ["loyal", "active"]
    # After the first refresh (at the real now), whenever the test got here.
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    r = db.refresh_lifecycle(later)
    assert r.as_of == later and db.get_customer(a).lifecycle == "loyal"
    assert db.stage_history(a)[-1] == ("loyal", r.as_of)


def test_value_tiers(db, ids):
    a, c = ids["a"], ids["c"]
    assert db.tier_config() is None
    config = {"basis": {"by": "spend", "currency": "CNY", "tiers": [{"name": "high", "min_minor": 100_000}]},
              "default": "low"}
    db.set_tier_config(config)
    assert db.tier_config() == config
    r = db.refresh_tiers()
    assert r.counts == {"high": 2, "low": 1} and r.changed == 3
    assert db.tier_of(a) == "high" and db.tier_of(c) == "low"
    [(tier, at)] = db.tier_history(a)
    assert tier == "high" and at == r.as_of
    assert db.count_matching('tier = "low"') == 1
    db.set_tier_config({"basis": {"by": "rules", "tiers": [{"name": "top", "when": "total_spent >= 1000.00 CNY"}]}})
    assert db.tier_config()["basis"]["tiers"][0]["when"]["op"] == "compare"
    db.refresh_tiers(NOW)
    assert db.tier_of(c) is None


def test_bad_input_raises_with_fields_and_changes_nothing(db, ids):
    a = ids["a"]
    db.create_segment("pilot", members=[a])
    db.create_segment("cyc a", "order_count > 0")
    db.create_segment("cyc b", 'in segment "cyc a"')
    db.put_scoring_plan({"name": "p", "rules": [{"when": "true", "points": 1}]})
    db.create_segment("scored", "score.p > 0")
    before = state(db)

    # Rule text that does not parse: ParseError with the position, wherever a rule is taken.
    for call in (lambda: db.count_matching("country = "), lambda: db.check_rule("country = "),
                 lambda: db.members_matching("country = "), lambda: db.matches(a, "country = "),
                 lambda: db.create_segment("bad", "country = "),
                 lambda: db.update_segment("cyc a", rule="country = ")):
        with pytest.raises(crm.ParseError) as e:
            call()
        assert (e.value.line, e.value.column, e.value.found) == (1, 11, "end of input"), e.value
    # Inside a settings record, a rule that does not parse makes the record invalid at its path.
    with pytest.raises(crm.ValidationError) as v:
        db.put_scoring_plan({"name": "q", "rules": [{"when": "country =", "points": 1}]})
    assert v.value.field == "rules[0].when" and "line 1, column 10" in v.value.reason

    validation = [
        (lambda: db.check_rule("country > 5"), "country"),
        (lambda: db.count_matching('colour = "red"'), "colour"),
        (lambda: db.count_matching({"op": "bool"}), "rule"),
        (lambda: db.members_matching("true", limit=0), "limit"),
        (lambda: db.segment_members("pilot", limit=100_001), "limit"),
        (lambda: db.create_segment(""), "name"),
        (lambda: db.create_segment("x", "true", members=[a]), "members"),
        (lambda: db.create_segment("self", 'in segment "self"'), "rule"),
        (lambda: db.update_segment("cyc a", rule='in segment "cyc b"'), "rule"),
        (lambda: db.put_scoring_plan({"name": "p", "rules": [{"when": 'in segment "scored"', "points": 1}]}), "rule"),
        (lambda: db.update_segment("pilot", rule="true"), "rule"),
        (lambda: db.add_segment_members("cyc a", [a]), "segment"),
        (lambda: db.snapshot_segment("pilot"), "segment"),
        (lambda: db.put_scoring_plan({"name": "bad name", "rules": []}), "name"),
        (lambda: db.put_scoring_plan(crm.ScoringPlan("q", [crm.ScoringRule("true", 2_000_000)])), "rules[0].points"),
        (lambda: db.set_lifecycle_rules([]), "rules"),
        (lambda: db.set_lifecycle_rules([crm.StageRule("loyal", "x = 1")]), "rules[0].when.x"),
        (lambda: db.set_lifecycle_rules([crm.StageRule("sleepy", "true")]), "rules[0].stage"),
        (lambda: db.set_tier_config({"basis": {"by": "spend", "currency": "USD", "tiers": [
            {"name": "a", "min_minor": 10}, {"name": "b", "min_minor": 20}]}}), "basis.tiers[1].min_minor"),
        (lambda: db.refresh_tiers(), "tiers"),
    ]
    for call, field in validation:
        with pytest.raises(crm.ValidationError) as v:
            call()
        assert v.value.field == field and isinstance(v.value, ValueError), (field, v.value)
    with pytest.raises(crm.ValidationError, match="cyclic"):
        db.update_segment("cyc a", rule='in segment "cyc b"')

    not_found = [
        (lambda: db.segment("nope"), "segment"),
        (lambda: db.segment_count("nope"), "segment"),
        (lambda: db.segment_members("nope"), "segment"),
        (lambda: db.is_member(a, "nope"), "segment"),
        (lambda: db.update_segment("nope", new_name="x"), "segment"),
        (lambda: db.delete_segment("nope"), "segment"),
        (lambda: db.snapshot_segment("nope"), "segment"),
        (lambda: db.check_rule('in segment "nope"'), "segment"),
        (lambda: db.is_member(999, "pilot"), "customer"),
        (lambda: db.matches(999, "true"), "customer"),
        (lambda: db.add_segment_members("pilot", [a, 999]), "customer"),
        (lambda: db.score(a, "nope"), "scoring_plan"),
        (lambda: db.scores("nope"), "scoring_plan"),
        (lambda: db.delete_scoring_plan("nope"), "scoring_plan"),
        (lambda: db.stage_history(999), "customer"),
        (lambda: db.tier_of(999), "customer"),
        (lambda: db.tier_history(999), "customer"),
    ]
    for call, entity in not_found:
        with pytest.raises(crm.NotFoundError) as n:
            call()
        assert n.value.entity == entity and isinstance(n.value, KeyError), (entity, n.value)

    for call, needle in ((lambda: db.create_segment("pilot"), "pilot"),
                         (lambda: db.delete_segment("cyc a"), "cyc b"),
                         (lambda: db.update_segment("cyc a", new_name="renamed"), "cyc b"),
                         (lambda: db.update_segment("cyc a", new_name="pilot"), "pilot"),
                         (lambda: db.delete_scoring_plan("p"), "scored")):
        with pytest.raises(crm.ConflictError, match=needle):
            call()
    with pytest.raises(TypeError, match="not int"):
        db.count_matching(5)  # type: ignore[arg-type]
    assert state(db) == before


def test_threads_share_one_handle_for_membership(db, ids):
    a, b, c = ids["a"], ids["b"], ids["c"]
    db.create_segment("vips", '"vip" in tags')
    db.create_segment("pilot", members=[b])
    expected = {(a, "vips"): True, (b, "vips"): False, (c, "vips"): True, (a, "pilot"): False, (b, "pilot"): True}
    errors: list = []
    wrong: list = []

    def work() -> None:
        try:
            for _ in range(100):
                for (cid, name), want in expected.items():
                    if db.is_member(cid, name) != want:
                        wrong.append((cid, name))
                if not db.matches(a, 'country = "CN"'):
                    wrong.append((a, "rule"))
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and wrong == []


def test_closed_handle(tmp_path):
    db = crm.open(tmp_path / "c.db")
    db.close()
    with pytest.raises(crm.CrmError, match="closed"):
        db.is_member(1, "x")
    with pytest.raises(crm.CrmError, match="closed"):
        db.count_matching("true")
