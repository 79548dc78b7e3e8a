"""Loyalty points: typed results of the ledger calls on :class:`crm.Crm`.

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
from dataclasses import dataclass
from typing import Any, Mapping, Optional

__all__ = ["PointsEntry", "PointsBalance"]


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
