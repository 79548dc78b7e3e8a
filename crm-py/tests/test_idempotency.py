"""Idempotency through the Python API: random sequences (hypothesis) of every call that takes a
key or an external id (upserts, by identity too, identities, orders and their corrections,
refunds, interactions, points, bulk ingest from lists and files, merges and unmerges, and the
set calls of the configuration), each made twice with the same arguments. The repeat answers
the same (an ``unchanged`` outcome, a ``replayed`` entry or merge) and changes nothing that a
host can read back; a call that raises changes nothing; a key of the ledger or of refunds
reused for another request raises :class:`crm.ConflictError` and changes nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crm

CUSTOMERS, ORDERS, KEYS = 4, 4, 6
T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)

PROGRAMS = [
    {"name": "Stars", "rates": {"USD": {"points": 1, "per_minor": 100}}, "expiry_days": 365,
     "rules": [{"name": "base", "kind": "base"}, {"name": "signup", "kind": "bonus", "event": "sign_up", "points": 25}],
     "tiers": {"basis": {"by": "points"}, "window_days": 365, "grace_days": 30,
               "levels": [{"name": "silver", "min": 100}, {"name": "gold", "min": 500}]}},
    {"name": "Stars 2", "rates": {"USD": {"points": 2, "per_minor": 100}}, "expiry_days": 400,
     "rules": [{"name": "base", "kind": "base"}, {"name": "signup", "kind": "bonus", "event": "sign_up", "points": 30}],
     "tiers": {"basis": {"by": "points"}, "window_days": 365, "grace_days": 30,
               "levels": [{"name": "silver", "min": 100}, {"name": "gold", "min": 500}]}},
]


def customer(c: int, v: int) -> Dict[str, Any]:
    ext = f"C-{c}"
    return [
        {"external_id": ext, "name": "Ada", "email": "ada@example.com", "tags": ["vip"]},
        {"external_id": ext, "name": "Ada L", "address": {"country": "SG"}, "attributes": {"plan": "gold"}},
        {"external_id": ext, "name": "Bob", "phone": "+6591234567", "email": None, "attributes": {"plan": None}},
    ][v]


def order(o: int, c: int, v: int) -> Dict[str, Any]:
    base = {"external_id": f"O-{o}", "customer_external_id": f"C-{c}", "currency": "USD",
            "occurred_at": "2026-03-01T12:00:00Z"}
    items = [{"sku": "A", "category": "shoes", "quantity": 2, "unit_price_minor": 1500},
             {"sku": "B", "quantity": 1, "unit_price_minor": 2000}]
    return [
        {**base, "total_minor": 5000, "items": items},
        {**base, "total_minor": 12000, "occurred_at": "2026-03-02T12:00:00Z", "channel": "web"},
        {**base, "total_minor": 5000, "status": "cancelled", "items": items},
    ][v]


def interaction(i: int, c: int, v: int) -> Dict[str, Any]:
    base = {"external_id": f"I-{i}", "customer_external_id": f"C-{c}", "occurred_at": "2026-03-01T12:00:00Z"}
    return [
        {**base, "kind": "call"},
        {**base, "kind": "email", "subject": "Hello", "payload": {"n": 1}},
        {**base, "kind": "survey", "score": {"nps": 9}},
    ][v]


REFUNDS: List[Dict[str, Any]] = [{"amount_minor": 1000}, {"lines": [("A", 1)]}, {"amount_minor": 500}]

c_ = st.integers(0, CUSTOMERS - 1)
o_ = st.integers(0, ORDERS - 1)
k_ = st.integers(0, KEYS - 1)
v_ = st.integers(0, 2)
rows_ = st.lists(st.tuples(o_, c_, v_), min_size=1, max_size=3)

OPS = st.one_of(
    st.tuples(st.just("upsert"), c_, v_, st.sampled_from(["merge", "replace"])),
    st.tuples(st.just("upsert_from"), st.sampled_from(["pos", "web"]), st.integers(0, 2), v_),
    st.tuples(st.just("add_identity"), c_, st.sampled_from(["pos", "web"]), st.integers(0, 2)),
    st.tuples(st.just("order"), o_, c_, v_),
    st.tuples(st.just("update_order"), o_, v_),
    st.tuples(st.just("set_status"), o_, st.sampled_from(["completed", "refunded", "cancelled"])),
    st.tuples(st.just("refund"), o_, st.integers(0, 3), v_),
    st.tuples(st.just("interaction"), st.integers(0, 2), c_, v_),
    st.tuples(st.just("earn"), c_, k_, st.integers(1, 2)),
    st.tuples(st.just("redeem"), c_, k_, st.integers(1, 2)),
    st.tuples(st.just("adjust"), c_, k_, st.sampled_from([-1, 1, 2])),
    st.tuples(st.just("award"), c_, k_, st.sampled_from(["sign_up", "birthday"])),
    st.tuples(st.just("ingest"), st.sampled_from(["customers", "orders", "interactions"]), rows_, st.booleans()),
    st.tuples(st.just("merge"), c_, c_, st.integers(0, 1)),
    st.tuples(st.just("unmerge"), c_),
    st.tuples(st.just("set_program"), st.integers(0, 1)),
    st.tuples(st.just("set_tiers"), st.integers(0, 1)),
    st.tuples(st.just("set_policy"), st.integers(0, 1)),
    st.tuples(st.just("set_lifecycle"), st.integers(0, 1)),
    st.tuples(st.just("put_plan"), st.integers(0, 1)),
    st.tuples(st.just("set_loyalty_tier"), c_, st.sampled_from([None, "silver", "gold"])),
    st.tuples(st.just("add_members"), st.lists(c_, min_size=1, max_size=2)),
)

# What a replay reports differently by design: the outcome, the replayed flag, moves.
REPLAY_FIELDS = {"outcome", "replayed", "orders_moved", "interactions_moved", "points_moved",
                 "created", "updated", "unchanged"}


def plain(x: Any) -> Any:
    """A comparable form of an answer, without what a replay reports differently."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x) if f.name not in REPLAY_FIELDS}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    return x


def fresh(x: Any) -> bool:
    """Whether an answer reports a write: a record created or updated, an entry posted, a
    merge made, rows written, members added."""
    if isinstance(x, crm.Written):
        return x.outcome != "unchanged"
    if isinstance(x, int) and not isinstance(x, bool):
        return x > 0
    for name in ("replayed",):
        if hasattr(x, name):
            return not getattr(x, name)
    if hasattr(x, "created") and hasattr(x, "updated"):
        return x.created + x.updated > 0
    return False


def attempt(f: Any) -> Tuple[Any, Optional[BaseException]]:
    try:
        return f(), None
    except crm.CrmError as e:
        return None, e


def fingerprint(db: crm.Crm) -> Dict[str, str]:
    """Everything public a host can read back, by where it was read."""
    out: Dict[str, str] = {}
    feed = db.changes_since(0, 10_000)
    for ch in feed:
        out[f"feed/{ch.seq:08}"] = repr(ch)
    counts = db.counts()
    out["counts"] = repr(counts)
    for cid in range(1, counts.customers + 1):  # no call here deletes a customer
        for name, read in [("customer", db.get_customer), ("stats", db.customer_stats),
                           ("points", db.points_statement), ("identities", db.identities),
                           ("merges", db.merge_history), ("stages", db.stage_history)]:
            value, err = attempt(lambda: read(cid))
            out[f"customer/{cid}/{name}"] = repr(value if err is None else (type(err).__name__, str(err)))
    for o in range(ORDERS):
        value, err = attempt(lambda: db.get_order_by_external_id(f"O-{o}"))
        out[f"order/O-{o}"] = repr(value if err is None else type(err).__name__)
        if err is None:
            out[f"order/O-{o}/refunds"] = repr(db.order_refunds(value.id))
    out["config"] = repr((db.loyalty_program(), db.tier_config(), db.match_policy(), db.lifecycle_rules(),
                          db.scoring_plans(), db.segment_members("list")))
    return out


def diff(a: Dict[str, str], b: Dict[str, str]) -> str:
    keys = sorted(set(a) | set(b))
    return "\n".join(f"  {k}:\n    was {a.get(k)}\n    now {b.get(k)}" for k in keys if a.get(k) != b.get(k))[:4000]


class World:
    """A store with the program, a static segment and half the pooled customers, each with
    an order; and what the test remembers: the pooled customers' own ids, the keys used."""

    def __init__(self, tmp: Path) -> None:
        self.db = crm.open(":memory:")
        self.tmp = tmp
        self.files = 0
        self.db.set_loyalty_program(PROGRAMS[0])
        self.db.create_segment("list")
        self.ids: Dict[int, int] = {}
        for c in range(CUSTOMERS // 2):
            self.ids[c] = self.db.upsert_customer(customer(c, 0)).record.id
            self.db.record_order(order(c, c, 0))
        self.points: Dict[str, Tuple[str, int, Optional[int]]] = {}
        self.refunds: Dict[str, Tuple[int, int]] = {}

    def id(self, c: int) -> int:
        return self.ids.get(c, 1_000_000 + c)

    def refresh_ids(self) -> None:
        for c in range(CUSTOMERS):
            if c not in self.ids:
                found, err = attempt(lambda: self.db.customer_id_by_external_id(f"C-{c}"))
                if err is None:
                    self.ids[c] = found

    def file_for(self, op: Tuple[Any, ...]) -> Optional[Path]:
        if op[0] != "ingest" or not op[3]:
            return None
        self.files += 1
        path = self.tmp / f"rows-{self.files}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in ingest_rows(op)))
        return path


def ingest_rows(op: Tuple[Any, ...]) -> List[Dict[str, Any]]:
    kind, rows = op[1], op[2]
    if kind == "customers":
        return [customer(c, v) for (_, c, v) in rows]
    if kind == "orders":
        return [order(o, c, v) for (o, c, v) in rows]
    return [interaction(o % 3, c, v) for (o, c, v) in rows]


def call(w: World, op: Tuple[Any, ...], file: Optional[Path]) -> Any:
    db, name = w.db, op[0]
    key = lambda k: f"K-{k}"  # noqa: E731
    if name == "upsert":
        return db.upsert_customer(customer(op[1], op[2]), mode=op[3])
    if name == "upsert_from":
        body = {**customer(0, op[3]), "external_id": f"P-{op[2]}"}
        return db.upsert_customer(body, source=op[1])
    if name == "add_identity":
        return db.add_identity(w.id(op[1]), op[2], f"P-{op[3]}")
    if name == "order":
        return db.record_order(order(op[1], op[2], op[3]))
    if name == "update_order":
        patch = [{"total_minor": 4000}, {"status": "completed", "channel": "store"},
                 {"occurred_at": T0 + dt.timedelta(days=2), "channel": None}][op[2]]
        return db.update_order_by_external_id(f"O-{op[1]}", patch)
    if name == "set_status":
        return db.set_order_status(f"O-{op[1]}", op[2])
    if name == "refund":
        return db.refund_order(f"O-{op[1]}", f"R-{op[2]}", **REFUNDS[op[3]])
    if name == "interaction":
        return db.add_interaction(interaction(op[1], op[2], op[3]))
    if name == "earn":
        return db.earn_points(w.id(op[1]), 10 * op[3], key(op[2]), at=T0 + dt.timedelta(days=30))
    if name == "redeem":
        return db.redeem_points(w.id(op[1]), 10 * op[3], key(op[2]), at=T0 + dt.timedelta(days=60))
    if name == "adjust":
        return db.adjust_points(w.id(op[1]), 10 * op[3], key(op[2]), "goodwill")
    if name == "award":
        return db.award_event(w.id(op[1]), op[3], key(op[2]), at=T0 + dt.timedelta(days=10))
    if name == "ingest":
        return db.ingest(op[1], str(file) if file is not None else ingest_rows(op), batch_size=2)
    if name == "merge":
        return db.merge_customers(w.id(op[1]), w.id(op[2]), actor="py", reason=f"reason {op[3]}")
    if name == "unmerge":
        return db.unmerge_customer(w.id(op[1]))
    if name == "set_program":
        return db.set_loyalty_program(PROGRAMS[op[1]])
    if name == "set_tiers":
        low = 10_000 * (1 + op[1])
        return db.set_tier_config({"basis": {"by": "spend", "currency": "USD", "tiers": [
            {"name": "high", "min_minor": low * 10}, {"name": "medium", "min_minor": low}]}, "default": "low"})
    if name == "set_policy":
        return db.set_match_policy("off", threshold=0.9 if op[1] else 0.95)
    if name == "set_lifecycle":
        return db.set_lifecycle_rules([{"stage": "loyal", "when": ['country = "SG"', '"vip" in tags'][op[1]]}])
    if name == "put_plan":
        return db.put_scoring_plan({"name": "lead", "rules": [{"when": "email is not null", "points": 10 + 10 * op[1]}]})
    if name == "set_loyalty_tier":
        return db.set_loyalty_tier(w.id(op[1]), op[2])
    assert name == "add_members"
    return db.add_segment_members("list", [w.id(c) for c in op[1]])


def reused_key(w: World, op: Tuple[Any, ...]) -> Optional[bool]:
    """For a key of the ledger or of refunds used before: True when this is the same request
    (a replay), False when another (a conflict); None when anything documented may come."""
    db, name = w.db, op[0]
    if name == "refund":
        done = w.refunds.get(f"R-{op[2]}")
        if done is None:
            return None
        found, err = attempt(lambda: db.get_order_by_external_id(f"O-{op[1]}"))
        if err is not None:
            return None
        return done == (found.id, op[3])
    kinds = {"earn": ("earn", 10), "redeem": ("redeem", -10), "adjust": ("adjust", 10), "award": ("earn", 0)}
    if name not in kinds:
        return None
    used = w.points.get(f"K-{op[2]}")
    if used is None:
        return None
    kind, scale = kinds[name]
    points = scale * op[3] if scale else None
    if used[0] != kind or (points is not None and points != used[2]):
        ok, err = attempt(lambda: db.get_customer(w.id(op[1])))
        return None if err is not None else False
    here, err = attempt(lambda: db.get_customer(w.id(op[1])).id)
    there, err2 = attempt(lambda: db.get_customer(used[1]).id)
    if err is not None or err2 is not None:
        return None
    return here == there


def remember(w: World, op: Tuple[Any, ...], answer: Any) -> None:
    name = op[0]
    if name in ("earn", "redeem", "adjust", "award") and answer is not None:
        w.points.setdefault(answer.key, (answer.kind, answer.customer_id, answer.points))
    if name == "refund" and answer is not None:
        w.refunds.setdefault(f"R-{op[2]}", (answer.record.id, op[3]))


def one_customer_twice(w: World, op: Tuple[Any, ...]) -> bool:
    """Whether a customers ingest names one customer through two external ids (a merged
    customer and its survivor): its rows write it one by one, as single upserts would, so a
    repeat writes it again; left out of the check (see crm-core/tests/idempotency_prop.rs)."""
    if op[0] != "ingest" or op[1] != "customers":
        return False
    seen: Dict[int, int] = {}
    for (_, c, _) in op[2]:
        found, err = attempt(lambda: w.db.customer_id_by_external_id(f"C-{c}"))
        if err is None and seen.setdefault(found, c) != c:
            return True
    return False


def run(ops: List[Tuple[Any, ...]], tmp: Path) -> None:
    w = World(tmp)
    try:
        before = fingerprint(w.db)
        for n, op in enumerate(ops):
            w.refresh_ids()
            file = w.file_for(op)
            expect = reused_key(w, op)
            lenient = one_customer_twice(w, op)
            first, err1 = attempt(lambda: call(w, op, file))
            after = fingerprint(w.db)
            if err1 is not None:
                assert before == after, f"step {n} {op} raised {err1!r} but wrote:\n{diff(before, after)}"
            if expect is False:
                assert isinstance(err1, crm.ConflictError), f"step {n} {op}: {err1!r} {first!r}, expected a conflict"
            if expect is True:
                assert err1 is None and not fresh(first), f"step {n} {op}: {err1!r} {first!r}, expected a replay"
            remember(w, op, first)
            second, err2 = attempt(lambda: call(w, op, file))
            again = fingerprint(w.db)
            if not lenient:
                assert after == again, f"step {n} {op} repeated wrote:\n{diff(after, again)}"
            if err1 is not None:
                assert type(err2) is type(err1) and str(err2) == str(err1), f"step {n} {op}: {err1!r} then {err2!r}"
            else:
                assert err2 is None, f"step {n} {op}: {first!r} then {err2!r}"
                # add_segment_members answers how many were added: none, the second time.
                same = plain(first) == plain(second) or op[0] == "add_members"
                assert same or lenient, f"step {n} {op}: {first!r} then {second!r}"
                assert lenient or not fresh(second), f"step {n} {op}: the repeat reports a write: {second!r}"
            before = again
    finally:
        w.db.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, min_size=1, max_size=25))
def test_keyed_calls_repeated_change_nothing(ops: List[Tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run(ops, Path(tmp))


def test_a_points_retry_after_a_merge_is_a_replay() -> None:
    """The regression crm-core's a_points_retry_after_a_merge_is_a_replay keeps, from Python."""
    with tempfile.TemporaryDirectory() as tmp:
        w = World(Path(tmp))
        db, (survivor, merged) = w.db, (w.ids[0], w.ids[1])
        first = db.earn_points(merged, 10, "K-0", at=T0)
        db.merge_customers(survivor, merged)
        feed = db.changes_since(0, 10_000)
        again = db.earn_points(merged, 10, "K-0", at=T0)
        assert again.replayed and plain(again) == plain(first)
        try:
            db.earn_points(merged, 20, "K-0", at=T0)
            raise AssertionError("another amount under a used key")
        except crm.ConflictError:
            pass
        assert db.changes_since(0, 10_000) == feed
        db.close()


def test_setting_the_same_configuration_again_writes_nothing() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        w = World(Path(tmp))
        db = w.db
        feed = db.changes_since(0, 10_000)
        db.set_loyalty_program(PROGRAMS[0])
        db.put_scoring_plan({"name": "lead", "rules": [{"when": "email is not null", "points": 10}]})
        plans = db.changes_since(0, 10_000)
        assert plans[:-1] == feed and len(plans) == len(feed) + 1, "the new plan only"
        db.put_scoring_plan({"name": "lead", "rules": [{"when": "email is not null", "points": 10}]})
        assert db.changes_since(0, 10_000) == plans
        db.close()
