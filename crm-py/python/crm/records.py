"""Typed records returned by :class:`crm.Crm`: frozen dataclasses in the core's shape.

Times are timezone-aware UTC :class:`datetime.datetime` values; money is
:class:`Money` (integer minor units and an ISO 4217 currency), never a float.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Generic, List, Mapping, Optional, TypeVar, Union

__all__ = [
    "Money",
    "Address",
    "Consent",
    "Customer",
    "CustomerStats",
    "LineItem",
    "Order",
    "Interaction",
    "Change",
    "Counts",
    "Written",
    "Page",
    "TimelineEntry",
]

T = TypeVar("T")


def parse_time(text: Optional[str]) -> Optional[_dt.datetime]:
    """Parses an RFC 3339 time from the core into an aware UTC datetime (None stays None)."""
    if text is None:
        return None
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(_dt.timezone.utc)


def _time(text: str) -> _dt.datetime:
    t = parse_time(text)
    assert t is not None
    return t


@dataclass(frozen=True)
class Money:
    """An amount in integer minor units (cents, yen, ...) of an ISO 4217 currency."""

    minor: int
    currency: str

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Money:
        """Builds the record from its dict (serde) shape."""
        return cls(int(d["minor"]), str(d["currency"]))


@dataclass(frozen=True)
class Address:
    """A postal address; every part is optional."""

    country: Optional[str] = None
    region: Optional[str] = None
    city: Optional[str] = None
    postal_code: Optional[str] = None
    street: Optional[str] = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Address:
        """Builds the record from its dict (serde) shape."""
        return cls(**{k: d.get(k) for k in ("country", "region", "city", "postal_code", "street")})


@dataclass(frozen=True)
class Consent:
    """A consent (for example to marketing email): granted or not, when, and from where."""

    granted: bool
    at: _dt.datetime
    source: Optional[str] = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Consent:
        """Builds the record from its dict (serde) shape."""
        return cls(bool(d["granted"]), _time(d["at"]), d.get("source"))


@dataclass(frozen=True)
class Customer:
    """A stored customer profile."""

    id: int
    external_id: Optional[str]
    kind: str
    name: str
    email: Optional[str]
    phone: Optional[str]
    company: Optional[str]
    title: Optional[str]
    industry: Optional[str]
    address: Address
    birthday: Optional[_dt.date]
    gender: Optional[str]
    tags: FrozenSet[str]
    attributes: Dict[str, Any]
    consents: Dict[str, Consent]
    lifecycle: str
    created_at: _dt.datetime
    updated_at: _dt.datetime
    merged_into: Optional[int] = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Customer:
        """Builds the record from its dict (serde) shape."""
        bday = d.get("birthday")
        return cls(
            id=int(d["id"]),
            external_id=d.get("external_id"),
            kind=d["kind"],
            name=d["name"],
            email=d.get("email"),
            phone=d.get("phone"),
            company=d.get("company"),
            title=d.get("title"),
            industry=d.get("industry"),
            address=Address.from_dict(d.get("address") or {}),
            birthday=_dt.date.fromisoformat(bday) if bday else None,
            gender=d.get("gender"),
            tags=frozenset(d.get("tags") or ()),
            attributes=dict(d.get("attributes") or {}),
            consents={k: Consent.from_dict(v) for k, v in (d.get("consents") or {}).items()},
            lifecycle=d["lifecycle"],
            created_at=_time(d["created_at"]),
            updated_at=_time(d["updated_at"]),
            merged_into=d.get("merged_into"),
        )


@dataclass(frozen=True)
class CustomerStats:
    """Per-customer statistics, kept up to date by every write (completed orders only)."""

    customer_id: int
    order_count: int
    first_order_at: Optional[_dt.datetime]
    last_order_at: Optional[_dt.datetime]
    total_spent: List[Money]
    interaction_count: int
    last_interaction_at: Optional[_dt.datetime]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CustomerStats:
        """Builds the record from its dict (serde) shape."""
        return cls(
            customer_id=int(d["customer_id"]),
            order_count=int(d["order_count"]),
            first_order_at=parse_time(d.get("first_order_at")),
            last_order_at=parse_time(d.get("last_order_at")),
            total_spent=[Money.from_dict(m) for m in d.get("total_spent") or ()],
            interaction_count=int(d["interaction_count"]),
            last_interaction_at=parse_time(d.get("last_interaction_at")),
        )


@dataclass(frozen=True)
class LineItem:
    """One line of an order; the unit price is in the order's currency."""

    sku: str
    quantity: int
    unit_price_minor: int
    category: Optional[str] = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LineItem:
        """Builds the record from its dict (serde) shape."""
        return cls(d["sku"], int(d["quantity"]), int(d["unit_price_minor"]), d.get("category"))


@dataclass(frozen=True)
class RefundLine:
    """Units of one line (by SKU) refunded."""

    sku: str
    quantity: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RefundLine:
        """Builds the record from its dict (serde) shape."""
        return cls(d["sku"], int(d["quantity"]))


@dataclass(frozen=True)
class OrderRefund:
    """A stored refund of an order: what went back, under which key, when."""

    order_id: int
    key: str
    amount_minor: int
    lines: List[RefundLine]
    at: _dt.datetime
    created_at: _dt.datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OrderRefund:
        """Builds the record from its dict (serde) shape."""
        return cls(
            order_id=int(d["order_id"]),
            key=d["key"],
            amount_minor=int(d["amount_minor"]),
            lines=[RefundLine.from_dict(x) for x in d.get("lines") or ()],
            at=_time(d["at"]),
            created_at=_time(d["created_at"]),
        )


@dataclass(frozen=True)
class Order:
    """A stored order with its line items."""

    id: int
    external_id: str
    customer_id: int
    occurred_at: _dt.datetime
    status: str
    total: Money
    channel: Optional[str]
    items: List[LineItem]
    created_at: _dt.datetime
    updated_at: _dt.datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Order:
        """Builds the record from its dict (serde) shape."""
        return cls(
            id=int(d["id"]),
            external_id=d["external_id"],
            customer_id=int(d["customer_id"]),
            occurred_at=_time(d["occurred_at"]),
            status=d["status"],
            total=Money.from_dict(d["total"]),
            channel=d.get("channel"),
            items=[LineItem.from_dict(i) for i in d.get("items") or ()],
            created_at=_time(d["created_at"]),
            updated_at=_time(d["updated_at"]),
        )


@dataclass(frozen=True)
class Interaction:
    """A stored interaction (call, email, meeting, chat, ...).

    ``score`` is ``None`` or a one-key dict such as ``{"nps": 9}`` or ``{"csat": 4}``.
    """

    id: int
    external_id: Optional[str]
    customer_id: int
    kind: str
    channel: Optional[str]
    direction: Optional[str]
    occurred_at: _dt.datetime
    subject: Optional[str]
    body: Optional[str]
    score: Optional[Dict[str, int]]
    payload: Any
    created_at: _dt.datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Interaction:
        """Builds the record from its dict (serde) shape."""
        return cls(
            id=int(d["id"]),
            external_id=d.get("external_id"),
            customer_id=int(d["customer_id"]),
            kind=d["kind"],
            channel=d.get("channel"),
            direction=d.get("direction"),
            occurred_at=_time(d["occurred_at"]),
            subject=d.get("subject"),
            body=d.get("body"),
            score=d.get("score"),
            payload=d.get("payload"),
            created_at=_time(d["created_at"]),
        )


@dataclass(frozen=True)
class Change:
    """One change-feed entry: ``op`` (insert, update, delete, enter, leave) on ``entity`` ``id``.

    ``ref_id`` names the related record where there is one: the customer who entered or
    left the segment ``id``.
    """

    seq: int
    entity: str
    id: int
    op: str
    at: _dt.datetime
    ref_id: Optional[int] = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Change:
        """Builds the record from its dict (serde) shape."""
        ref = d.get("ref_id")
        return cls(int(d["seq"]), d["entity"], int(d["id"]), d["op"], _time(d["at"]), None if ref is None else int(ref))


@dataclass(frozen=True)
class Counts:
    """Row counts of the main tables."""

    customers: int
    orders: int
    interactions: int


@dataclass(frozen=True)
class Written(Generic[T]):
    """A stored record and what the write did: ``created``, ``updated`` or ``unchanged``."""

    record: T
    outcome: str


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results; pass ``next_cursor`` back for the next page (None on the last)."""

    items: List[T]
    next_cursor: Optional[str] = None

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


TimelineEntry = Union[Order, Interaction]
"""An entry of a customer's timeline."""


def timeline_entry(d: Mapping[str, Any]) -> TimelineEntry:
    """Builds an order or an interaction from a timeline entry's dict shape."""
    body = d["record"]
    return Order.from_dict(body) if d["type"] == "order" else Interaction.from_dict(body)


