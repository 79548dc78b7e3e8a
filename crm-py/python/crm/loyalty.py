"""Loyalty points: typed results of the ledger calls on :class:`crm.Crm`, and of the
simulator (:meth:`crm.Crm.simulate_loyalty`).

>>> import crm
>>> with crm.open(":memory:") as db:
...     db.set_loyalty_program({"name": "Stars", "rates": {"USD": {"points": 1, "per_minor": 100}},
...                             "rules": [{"name": "base", "kind": "base"}]})
...     c = db.create_customer({"name": "Ada"}).id
...     _ = db.record_order({"external_id": "O-1", "customer_id": c, "occurred_at": "2026-03-01T12:00:00Z",
...                          "currency": "USD", "total_minor": 4250})
...     db.redeem_points(c, 40, "R-1").balance_after
2
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Mapping, Optional

from .exceptions import ValidationError
from .frames import require_pandas

__all__ = ["PointsEntry", "PointsBalance", "LoyaltyLiability", "LoyaltySimulation"]


def _time(s: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


@dataclass(frozen=True)
class PointsEntry:
    """One ledger entry, as a ledger call posted it (``replayed``: the key was already in the
    ledger, and the stored entry is returned with nothing written)."""

    id: int
    customer_id: int
    kind: str
    points: int
    qualifying: int
    key: str
    order_id: Optional[int]
    at: _dt.datetime
    balance_after: int
    note: Optional[str]
    replayed: bool = False

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], replayed: bool = False) -> PointsEntry:
        return cls(
            d["id"], d["customer_id"], d["kind"], d["points"], d["qualifying"], d["key"], d.get("order_id"),
            _time(d["at"]), d["balance_after"], d.get("note"), replayed,
        )


@dataclass(frozen=True)
class PointsBalance:
    """A customer's points: ``balance`` (sum of the ledger; negative only as a debt the
    program allows), ``available`` now, ``pending`` in their return window, and the tier."""

    customer_id: int
    balance: int
    available: int
    pending: int
    tier: Optional[str]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PointsBalance:
        return cls(d["customer_id"], d["balance"], d["available"], d["pending"], d.get("tier"))


@dataclass(frozen=True)
class LoyaltyLiability:
    """What the program owes, across every account, as of ``as_of``: ``accounts``, the
    ``holders`` of points, the sum of positive balances (``outstanding``), of negative ones
    as a positive number (``debt``), and the points in lots that expire by ``expiring_by``
    (``expiring``; lots already due but not yet expired included)."""

    as_of: _dt.datetime
    accounts: int
    holders: int
    outstanding: int
    debt: int
    expiring: int
    expiring_by: _dt.datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LoyaltyLiability:
        return cls(
            _time(d["as_of"]), d["accounts"], d["holders"], d["outstanding"], d["debt"], d["expiring"],
            _time(d["expiring_by"]),
        )


def _rfc3339(t: _dt.datetime) -> str:
    """A time as RFC 3339 UTC text; naive times are read as UTC, as elsewhere in loyalty."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")


def simulation_options(
    since: Optional[_dt.datetime],
    until: Optional[_dt.datetime],
    redemption_rate: Optional[float],
    replay_redemptions: bool,
    customers: Optional[Iterable[int]],
) -> str:
    """The core's ``SimulationOptions`` as JSON. A rate is a fraction (0.15 redeems 15 %),
    sent as whole thousandths: a rate finer than that is refused rather than rounded."""
    opts: Dict[str, Any] = {}
    if since is not None:
        opts["from"] = _rfc3339(since)
    if until is not None:
        opts["until"] = _rfc3339(until)
    if redemption_rate is not None and replay_redemptions:
        raise ValidationError(
            "invalid redemption: give redemption_rate or replay_redemptions, not both",
            field="redemption", reason="give redemption_rate or replay_redemptions, not both",
        )
    if redemption_rate is not None:
        permille = round(redemption_rate * 1000)
        if abs(redemption_rate * 1000 - permille) > 1e-6:
            reason = f"{redemption_rate} is not a whole number of thousandths"
            raise ValidationError(f"invalid redemption_rate: {reason}", field="redemption_rate", reason=reason)
        opts["redemption"] = {"rate": {"permille": permille}}
    elif replay_redemptions:
        opts["redemption"] = "actual"
    if customers is not None:
        opts["customers"] = [int(c) for c in customers]
    return json.dumps(opts)


@dataclass(frozen=True)
class LoyaltySimulation:
    """What :meth:`crm.Crm.simulate_loyalty` found: a program replayed over the recorded
    orders as a dry run. Points are integers throughout.

    ``months`` is a DataFrame indexed by ``month`` (``"YYYY-MM"``, UTC; every month from the
    first order to ``until``, none skipped) with int64 columns ``orders`` (completed orders
    placed), ``earning_orders``, ``customers_earning``, ``issued``, ``redeemed``, ``expired``,
    ``outstanding`` (the sum of the balances at the month's end) and
    ``accounts_with_balance``. ``by_rule`` is a DataFrame indexed by ``rule`` (program order)
    with ``points`` and ``orders``. ``totals`` holds the same figures for the whole run plus
    ``accounts``; ``tiers`` the accounts per tier at the end (lowest first) when the program
    has tiers.

    >>> import crm, datetime as dt
    >>> with crm.open(":memory:") as db:
    ...     c = db.create_customer({"name": "Ada"}).id
    ...     _ = db.record_order({"external_id": "O-1", "customer_id": c, "occurred_at": "2026-01-10T12:00:00Z",
    ...                          "currency": "USD", "total_minor": 4250})
    ...     sim = db.simulate_loyalty({"name": "Stars", "rates": {"USD": {"points": 1, "per_minor": 100}},
    ...                                "rules": [{"name": "base", "kind": "base"}]},
    ...                               until=dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc), redemption_rate=0.5)
    >>> sim.months[["issued", "redeemed", "outstanding"]].values.tolist()
    [[42, 21, 21], [0, 10, 11]]
    >>> list(sim.months.index), sim.totals["issued"], int(sim.by_rule.loc["base", "points"])
    (['2026-01', '2026-02'], 42, 42)
    """

    program: str
    since: Optional[_dt.datetime]
    until: _dt.datetime
    months: Any
    totals: Dict[str, int]
    by_rule: Any
    tiers: Optional[Dict[str, int]]

    @classmethod
    def from_json(cls, text: str) -> LoyaltySimulation:
        pd = require_pandas()
        import numpy as np

        d = json.loads(text)
        month_columns = ["orders", "earning_orders", "customers_earning", "issued", "redeemed", "expired",
                         "outstanding", "accounts_with_balance"]
        months = pd.DataFrame(
            {c: np.asarray([m[c] for m in d["months"]], dtype="int64") for c in month_columns},
            index=pd.Index([m["month"] for m in d["months"]], dtype=object, name="month"),
        )
        by_rule = pd.DataFrame(
            {c: np.asarray([r[c] for r in d["rules"]], dtype="int64") for c in ("points", "orders")},
            index=pd.Index([r["rule"] for r in d["rules"]], dtype=object, name="rule"),
        )
        tiers = None if d["tiers"] is None else {t["tier"]: int(t["accounts"]) for t in d["tiers"]}
        return cls(
            program=d["program"],
            since=None if d["from"] is None else _time(d["from"]),
            until=_time(d["until"]),
            months=months,
            totals={k: int(v) for k, v in d["totals"].items()},
            by_rule=by_rule,
            tiers=tiers,
        )
