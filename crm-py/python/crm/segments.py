"""Segmentation records and the rule language.

A rule is given as its text (``'country = "SG" and order_count >= 2'``), parsed by the
core so that bad text raises :class:`crm.ParseError` with its line and column, or as its
JSON tree (a dict, as :func:`parse_rule` returns and records hold). Records returned by
:class:`crm.Crm` hold rules as trees; ``rule_text`` / ``when_text`` print them.

>>> import crm
>>> tree = crm.parse_rule('"vip" in tags  and  total_spent >= 100.00 USD')
>>> tree["op"]
'and'
>>> crm.format_rule(tree)
'tags contains "vip" and total_spent >= 100.00 USD'
>>> with crm.open(":memory:") as db:
...     ada = db.create_customer({"name": "Ada", "tags": ["vip"]})
...     vips = db.create_segment("vips", '"vip" in tags')
...     (vips.kind, vips.rule_text, db.segment_count("vips"), db.is_member(ada.id, "vips"))
('dynamic', 'tags contains "vip"', 1, True)
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from . import _crm
from .records import parse_time

__all__ = [
    "Rule",
    "parse_rule",
    "format_rule",
    "Segment",
    "Snapshot",
    "Refresh",
    "ScoringRule",
    "ScoringPlan",
    "StageRule",
]

Rule = Union[str, Mapping[str, Any]]
"""A rule: its text form (``str``) or its JSON tree (a dict)."""

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def parse_rule(text: str) -> Dict[str, Any]:
    """Parses rule text into its JSON tree (syntax only: fields, types and references are
    checked by :meth:`crm.Crm.check_rule`). Raises :class:`crm.ParseError`."""
    tree: Dict[str, Any] = json.loads(_crm.parse_rule(text))
    return tree


def format_rule(rule: Rule) -> str:
    """Prints a rule (tree or text) as canonical text; parsing it gives the same tree back."""
    return _crm.format_rule(rule)


def micros(t: Optional[_dt.datetime]) -> Optional[int]:
    """A time as microseconds since the Unix epoch (naive times are read as UTC); None stays None."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return (t - _EPOCH) // _dt.timedelta(microseconds=1)


def _time(text: str) -> _dt.datetime:
    t = parse_time(text)
    assert t is not None
    return t


@dataclass(frozen=True)
class Segment:
    """A saved segment: ``dynamic`` (its members are the customers meeting ``rule``, a JSON
    tree) or ``static`` (a stored list of customers)."""

    id: int
    name: str
    kind: str
    rule: Optional[Dict[str, Any]]
    description: Optional[str]
    created_at: _dt.datetime
    updated_at: _dt.datetime
    snapshot_at: Optional[_dt.datetime] = None

    @property
    def rule_text(self) -> Optional[str]:
        """The rule's text form (None for a static segment)."""
        return None if self.rule is None else format_rule(self.rule)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Segment:
        """Builds the record from its dict (serde) shape."""
        return cls(
            id=int(d["id"]),
            name=d["name"],
            kind=d["kind"],
            rule=d.get("rule"),
            description=d.get("description"),
            created_at=_time(d["created_at"]),
            updated_at=_time(d["updated_at"]),
            snapshot_at=parse_time(d.get("snapshot_at")),
        )


@dataclass(frozen=True)
class Snapshot:
    """What a snapshot of a dynamic segment changed: its member count at ``at``, and the
    customers who entered and left since the previous snapshot."""

    segment: int
    at: _dt.datetime
    members: int
    entered: List[int]
    left: List[int]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Snapshot:
        """Builds the record from its dict (serde) shape."""
        return cls(
            int(d["segment"]), _time(d["at"]), int(d["members"]), [int(i) for i in d["entered"]],
            [int(i) for i in d["left"]],
        )


@dataclass(frozen=True)
class Refresh:
    """What a lifecycle or tier refresh did: customers evaluated, how many changed, and the
    customers per stage or tier afterwards (customers without a tier are not counted)."""

    as_of: _dt.datetime
    customers: int
    changed: int
    counts: Dict[str, int]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Refresh:
        """Builds the record from its dict (serde) shape."""
        return cls(_time(d["as_of"]), int(d["customers"]), int(d["changed"]), dict(d["counts"]))


@dataclass(frozen=True)
class ScoringRule:
    """One rule of a scoring plan: ``points`` (may be negative) for customers meeting
    ``when`` (a rule: text or tree when given, a tree when read back)."""

    when: Rule
    points: int

    @property
    def when_text(self) -> str:
        """The condition's text form."""
        return format_rule(self.when)


@dataclass(frozen=True)
class ScoringPlan:
    """A named scoring plan: a customer's score is the sum of the points of the rules it
    meets, readable in rules as ``score.<name>``."""

    name: str
    rules: List[ScoringRule]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScoringPlan:
        """Builds the record from its dict (serde) shape."""
        return cls(d["name"], [ScoringRule(r["when"], int(r["points"])) for r in d["rules"]])


@dataclass(frozen=True)
class StageRule:
    """A lifecycle rule: customers meeting ``when`` (a rule) are in ``stage``
    (``prospect``, ``new``, ``active``, ``loyal``, ``at_risk``, ``churned``, ``won_back``)."""

    stage: str
    when: Rule

    @property
    def when_text(self) -> str:
        """The condition's text form."""
        return format_rule(self.when)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StageRule:
        """Builds the record from its dict (serde) shape."""
        return cls(d["stage"], d["when"])


def as_dict(record: Union[Mapping[str, Any], ScoringPlan, StageRule]) -> Dict[str, Any]:
    """A settings record given as a dict or one of the dataclasses above, as a dict."""
    if isinstance(record, (ScoringPlan, StageRule)):
        return dataclasses.asdict(record)
    return dict(record)


def history(pairs: List[Tuple[str, str]]) -> List[Tuple[str, _dt.datetime]]:
    """``[[value, at], ...]`` from the core as ``(value, datetime)`` pairs."""
    return [(v, _time(at)) for v, at in pairs]
