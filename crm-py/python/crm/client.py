"""The :class:`Crm` handle: the idiomatic Python surface over the native module."""

from __future__ import annotations

import datetime as _dt
import json
import os
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from . import _crm
from . import frames as _frames
from .ingest import IngestReport, ProgressArg, _Bar, progress_callback
from .exceptions import ValidationError
from .loyalty import LoyaltyLiability, LoyaltySimulation, PointsBalance, PointsEntry, simulation_options
from .records import (
    Change,
    Counts,
    Customer,
    CustomerStats,
    Interaction,
    Money,
    Order,
    OrderRefund,
    Page,
    TimelineEntry,
    Written,
    timeline_entry,
)
from .segments import Refresh, Rule, ScoringPlan, Segment, Snapshot, StageRule, as_dict, history, micros
from . import rfm as _rfm
from . import identity as _identity

__all__ = ["Crm", "open"]

Record = Mapping[str, Any]
Source = Union[str, "os.PathLike[str]", Any]


# Most customer ids the core returns in one page (crm_core::segment::MAX_MEMBERS_PAGE).
MAX_MEMBERS_PAGE = 100_000


class _Unset:
    """The type of "argument not given", where ``None`` is a meaningful value."""


_UNSET = _Unset()


def _query(filter: Optional[Record], sort: str, descending: bool, limit: int, cursor: Optional[str]) -> str:
    return _frames.record_json(
        {"filter": dict(filter or {}), "sort": sort, "descending": descending, "limit": limit, "cursor": cursor}
    )


class Crm:
    """An open customer database: customers, orders, interactions, bulk ingest, the
    change feed and segmentation. Thread-safe: share one handle between threads. A context manager:
    leaving the ``with`` block closes it; any later call raises :class:`crm.CrmError`.

    >>> import crm
    >>> with crm.open(":memory:") as db:
    ...     c = db.upsert_customer({"external_id": "C-1", "name": "Ada"}).record
    ...     db.get_customer(c.id).name
    'Ada'
    """

    def __init__(
        self,
        path: Union[str, "os.PathLike[str]"] = ":memory:",
        *,
        validation: Optional[Record] = None,
        sqlite: Optional[Record] = None,
        postgres: Optional[Record] = None,
    ) -> None:
        """Opens (or creates) the SQLite file at ``path`` (``":memory:"`` for a private
        in-memory database), or the PostgreSQL database at a URL
        (``"postgresql://user:password@host:5432/dbname"``, PostgreSQL 13 or newer; crm's
        tables are created there). ``validation``, ``sqlite`` and ``postgres`` are the core's
        ``ValidationConfig``, ``SqliteOptions`` and ``PostgresOptions`` as dicts; the busy
        timeout may be given as ``busy_timeout`` in seconds or ``busy_timeout_ms``, the
        connect timeout as ``connect_timeout`` in seconds or ``connect_timeout_ms``.

        Raises :class:`ValidationError` for a malformed URL, :class:`UnavailableError` when
        the server cannot be reached, :class:`StorageError` with ``kind`` ``"auth"`` for
        refused credentials and ``"unsupported"`` for a server older than PostgreSQL 13,
        :class:`SchemaTooNewError` for a database written by a newer crm; nothing is created
        when opening fails."""
        config: Dict[str, Any] = {}
        if validation:
            config["validation"] = dict(validation)
        if sqlite:
            s = dict(sqlite)
            if "busy_timeout" in s:
                s["busy_timeout_ms"] = int(round(float(s.pop("busy_timeout")) * 1000))
            config["sqlite"] = s
        if postgres:
            p = dict(postgres)
            if "connect_timeout" in p:
                p["connect_timeout_ms"] = int(round(float(p.pop("connect_timeout")) * 1000))
            config["postgres"] = p
        self._native = _crm.Crm(os.fspath(path), _frames.record_json(config) if config else None)

    # ---- lifecycle ----------------------------------------------------------------

    def close(self) -> None:
        """Releases the store. Idempotent; calls already running on other threads finish."""
        self._native.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return bool(self._native.closed)

    @property
    def path(self) -> str:
        """The path the database was opened with (a URL without its password)."""
        return str(self._native.path)

    def __enter__(self) -> Crm:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<crm.Crm {self.path!r}{' closed' if self.closed else ''}>"

    # ---- customers ----------------------------------------------------------------

    def create_customer(self, record: Record) -> Customer:
        """Creates a customer from a dict in the shape of the core's ``NewCustomer``.
        Raises :class:`crm.ConflictError` when the external id is taken."""
        return Customer.from_dict(json.loads(self._native.create_customer(_frames.record_json(record))))

    def upsert_customer(
        self,
        record: Optional[Record] = None,
        *,
        mode: str = "merge",
        external_id: Union[str, _Unset] = _UNSET,
        name: Union[str, None, _Unset] = _UNSET,
        kind: Union[str, None, _Unset] = _UNSET,
        email: Union[str, None, _Unset] = _UNSET,
        phone: Union[str, None, _Unset] = _UNSET,
        company: Union[str, None, _Unset] = _UNSET,
        title: Union[str, None, _Unset] = _UNSET,
        industry: Union[str, None, _Unset] = _UNSET,
        address: Union[Record, None, _Unset] = _UNSET,
        birthday: Union[str, _dt.date, None, _Unset] = _UNSET,
        gender: Union[str, None, _Unset] = _UNSET,
        tags: Union[Iterable[str], None, _Unset] = _UNSET,
        attributes: Union[Record, None, _Unset] = _UNSET,
        consents: Union[Record, None, _Unset] = _UNSET,
        lifecycle: Union[str, None, _Unset] = _UNSET,
        created_at: Union[_dt.datetime, str, None, _Unset] = _UNSET,
        source: Optional[str] = None,
    ) -> Written[Customer]:
        """Creates the customer with this ``external_id`` (required; ``name`` is then
        required too) or merges the changes into it, in the shape of the core's
        ``CustomerPatch``: given as a dict ``record`` and/or as keywords (keywords win).

        A key or keyword that is not given keeps the stored value; ``None`` clears it
        (``name``, ``kind``, ``lifecycle`` and ``created_at`` cannot be cleared: ``None``
        keeps them). ``address``, ``attributes`` and ``consents`` merge member by member
        (a member set to ``None`` is removed); ``tags`` replaces the whole set (``None`` or
        ``[]`` clears it). External ids are normalised (Unicode NFC; surrounding spaces and
        invisible characters such as U+200B removed). The same input twice is
        ``unchanged`` the second time. ``mode="replace"`` makes the input the whole profile
        instead: what it leaves out is cleared, save the lifecycle stage and creation time.

        With ``source`` (a system's name: 1 to 64 letters, digits, ``_``, ``-``, ``.`` or
        ``:``), ``external_id`` is that system's key for the customer, an identity: the
        customer it names (linked by :meth:`add_identity`, or created by an earlier upsert
        from that source) takes the changes and keeps its own external id; without one a
        customer is created, with no external id of its own, and the identity names it.

        >>> import crm
        >>> with crm.open(":memory:") as db:
        ...     _ = db.upsert_customer(external_id="C-1", name="Ada", tags=["vip"], title="CEO")
        ...     c = db.upsert_customer(external_id="C-1\u200b", email="ada@example.com", title=None).record
        ...     sorted(c.tags), c.title, c.email
        (['vip'], None, 'ada@example.com')
        """
        if mode not in ("merge", "replace"):
            raise ValidationError(f"invalid mode: {mode!r} is not 'merge' or 'replace'", field="mode",
                                  reason=f"{mode!r} is not 'merge' or 'replace'")
        if isinstance(tags, str):
            raise ValidationError("invalid tags: a str, not a collection of tags (write tags=[...])",
                                  field="tags", reason="a str, not a collection of tags (write tags=[...])")
        given = {
            "external_id": external_id, "name": name, "kind": kind, "email": email, "phone": phone,
            "company": company, "title": title, "industry": industry, "address": address, "birthday": birthday,
            "gender": gender, "tags": None if tags is None or isinstance(tags, _Unset) else list(tags),
            "attributes": attributes, "consents": consents, "lifecycle": lifecycle, "created_at": created_at,
        }
        if isinstance(tags, _Unset):
            del given["tags"]
        body = {**(record or {}), **{k: v for k, v in given.items() if not isinstance(v, _Unset)}}
        d = json.loads(self._native.upsert_customer(_frames.record_json(body), mode == "replace", source))
        return Written(Customer.from_dict(d["record"]), d["outcome"])

    def customer_by_identity(self, source: str, external_id: str) -> Customer:
        """The customer that system ``source`` knows as ``external_id`` (its survivor when it
        was merged into another); :class:`crm.NotFoundError` when none."""
        return Customer.from_dict(json.loads(self._native.customer_by_identity(source, external_id)))

    def add_identity(self, customer_id: int, source: str, external_id: str) -> _identity.Identity:
        """Links an identity (system ``source``'s key ``external_id``) to a customer (its
        survivor when it was merged away). Linking it again to the same customer changes
        nothing; one that names another customer raises :class:`crm.ConflictError`."""
        return _identity.Identity.from_dict(json.loads(self._native.add_identity(int(customer_id), source, external_id)))

    def remove_identity(self, source: str, external_id: str) -> None:
        """Unlinks an identity; :class:`crm.NotFoundError` when it names no customer."""
        self._native.remove_identity(source, external_id)

    def identities(self, customer_id: int) -> List[_identity.Identity]:
        """A customer's identities, with those of the customers merged into it, by source
        and external id."""
        return [_identity.Identity.from_dict(d) for d in json.loads(self._native.identities(int(customer_id)))]

    def customer_id_by_external_id(self, external_id: str) -> int:
        """The store id of the customer with this external id (normalised as on the way
        in); :class:`crm.NotFoundError` when there is none."""
        return int(self._native.customer_id_by_external_id(external_id))

    def get_customer(self, id: int) -> Customer:
        """Reads a customer by id; :class:`crm.NotFoundError` when there is none."""
        return Customer.from_dict(json.loads(self._native.get_customer(id)))

    def get_customer_by_external_id(self, external_id: str) -> Customer:
        """Reads a customer by the host's external id."""
        return Customer.from_dict(json.loads(self._native.get_customer_by_external_id(external_id)))

    def update_customer(self, id: int, patch: Optional[Record] = None, **fields: Any) -> Customer:
        """Applies a partial update (the core's ``CustomerPatch``: given fields replace,
        ``None`` clears, ``add_tags``/``remove_tags`` edit tags, attributes merge with
        ``None`` deleting a key) and returns the customer as stored."""
        merged = {**(patch or {}), **fields}
        return Customer.from_dict(json.loads(self._native.update_customer(id, _frames.record_json(merged))))

    def delete_customer(self, id: int) -> None:
        """Deletes a customer with all their orders and interactions."""
        self._native.delete_customer(id)

    def customer_stats(self, id: int) -> CustomerStats:
        """A customer's statistics (completed orders only)."""
        return CustomerStats.from_dict(json.loads(self._native.customer_stats(id)))

    def top_customers_by_spend(self, currency: str, limit: int = 10) -> List[Tuple[Customer, Money]]:
        """The customers who spent most in ``currency``, largest first, with the amount."""
        rows = json.loads(self._native.top_customers_by_spend(currency, limit))
        return [(Customer.from_dict(c), Money.from_dict(m)) for c, m in rows]

    def top_customers_frame(self, currency: str, limit: int = 10) -> Any:
        """:meth:`top_customers_by_spend` as a DataFrame: the columns of :meth:`query_frame`
        plus ``spent_minor`` (int64) and ``currency``."""
        rows = []
        for c, m in json.loads(self._native.top_customers_by_spend(currency, limit)):
            row = _frames.flat_customer(c)
            row.update(spent_minor=m["minor"], currency=m["currency"])
            rows.append(row)
        schema = {**_frames.CUSTOMER_SCHEMA, "spent_minor": _frames.INT, "currency": _frames.TEXT}
        return _frames.typed_frame(rows, schema)

    def query_customers(
        self,
        filter: Optional[Record] = None,
        *,
        sort: str = "id",
        descending: bool = False,
        limit: int = 100,
        cursor: Optional[str] = None,
    ) -> Page[Customer]:
        """One page of customers matching ``filter`` (the core's ``CustomerFilter``:
        kind, country, city, lifecycle, tags, created_from/to, min/max_orders,
        last_order_from/to), sorted by ``sort`` (id, name, created_at, updated_at,
        last_order_at, order_count). Pass ``page.next_cursor`` back for the next page."""
        d = json.loads(self._native.query_customers(_query(filter, sort, descending, limit, cursor)))
        return Page([Customer.from_dict(c) for c in d["items"]], d.get("next_cursor"))

    def _pages(self, filter: Optional[Record], sort: str, descending: bool, page_size: int) -> Iterator[List[Any]]:
        cursor: Optional[str] = None
        while True:
            d = json.loads(self._native.query_customers(_query(filter, sort, descending, page_size, cursor)))
            yield d["items"]
            cursor = d.get("next_cursor")
            if cursor is None:
                return

    def iter_customers(
        self, filter: Optional[Record] = None, *, sort: str = "id", descending: bool = False, page_size: int = 1000
    ) -> Iterator[Customer]:
        """Every customer matching ``filter``, page after page."""
        for items in self._pages(filter, sort, descending, page_size):
            for c in items:
                yield Customer.from_dict(c)

    def query_frame(
        self,
        filter: Optional[Record] = None,
        *,
        sort: str = "id",
        descending: bool = False,
        max_rows: Optional[int] = None,
        page_size: int = 10_000,
    ) -> Any:
        """Every customer matching ``filter`` (up to ``max_rows``) as a DataFrame: one row
        each, address parts as columns, ``tags`` (sorted list), ``attributes`` and ``consents``
        (dicts), times ``datetime64[us, UTC]``, ``id`` int64 and ``merged_into`` nullable
        ``Int64`` (see :data:`crm.frames.CUSTOMER_SCHEMA`)."""
        rows: List[Any] = []
        for items in self._pages(filter, sort, descending, page_size):
            rows.extend(items)
            if max_rows is not None and len(rows) >= max_rows:
                del rows[max_rows:]
                break
        return _frames.customers_frame(rows)

    def search_customers(self, text: str, limit: int = 20) -> List[Customer]:
        """Customers whose email or phone starts with, or whose name or company contains,
        ``text`` (ASCII case-insensitive)."""
        return [Customer.from_dict(c) for c in json.loads(self._native.search_customers(text, limit))]

    # ---- interactions and orders ------------------------------------------------

    def add_interaction(self, record: Record) -> Written[Interaction]:
        """Adds an interaction (the core's ``NewInteraction`` as a dict)."""
        d = json.loads(self._native.add_interaction(_frames.record_json(record)))
        return Written(Interaction.from_dict(d["record"]), d["outcome"])

    def get_interaction(self, id: int) -> Interaction:
        """Reads an interaction by id."""
        return Interaction.from_dict(json.loads(self._native.get_interaction(id)))

    def delete_interaction(self, id: int) -> None:
        """Deletes an interaction and updates its customer's statistics."""
        self._native.delete_interaction(id)

    def record_order(self, record: Record) -> Written[Order]:
        """Records an order (the core's ``NewOrder`` as a dict), idempotent by external id;
        a change (status, total, lines, time, customer) updates it, the statistics and the
        loyalty points. Keys left out (``status``, ``channel``, ``items``, the customer)
        keep what an existing order has; ``"items": []`` removes its lines.

        >>> import crm, datetime as dt
        >>> db = crm.open(":memory:")
        >>> c = db.create_customer({"name": "Ada"})
        >>> o = {"external_id": "O-1", "customer_id": c.id, "occurred_at": dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc),
        ...      "currency": "EUR", "total_minor": 5000, "items": [{"sku": "B-1", "quantity": 2, "unit_price_minor": 2500}]}
        >>> db.record_order(o).outcome
        'created'
        >>> del o["items"]; db.record_order(o).outcome   # the lines are kept
        'unchanged'
        """
        d = json.loads(self._native.record_order(_frames.record_json(record)))
        return Written(Order.from_dict(d["record"]), d["outcome"])

    def update_order(self, id: int, patch: Optional[Record] = None, **fields: Any) -> Written[Order]:
        """Applies a partial update (the core's ``OrderPatch``: ``status``, ``total_minor``,
        ``currency``, ``items``, ``occurred_at``, ``channel`` — ``None`` clears it —,
        ``customer_id`` or ``customer_external_id`` to move the order) to the order with
        this id; only the fields given change, and statistics and points follow."""
        merged = {**(patch or {}), **fields}
        d = json.loads(self._native.update_order(id, _frames.record_json(merged)))
        return Written(Order.from_dict(d["record"]), d["outcome"])

    def update_order_by_external_id(
        self, external_id: str, patch: Optional[Record] = None, **fields: Any
    ) -> Written[Order]:
        """:meth:`update_order` of the order with this external id."""
        merged = {**(patch or {}), **fields}
        d = json.loads(self._native.update_order_by_external_id(external_id, _frames.record_json(merged)))
        return Written(Order.from_dict(d["record"]), d["outcome"])

    def set_order_status(self, external_id: str, status: str) -> Written[Order]:
        """Sets the status (``completed``, ``refunded``, ``cancelled``) of the order with this
        external id and nothing else: its lines, total and channel stay."""
        d = json.loads(self._native.set_order_status(external_id, status))
        return Written(Order.from_dict(d["record"]), d["outcome"])

    def refund_order(
        self,
        external_id: str,
        key: str,
        *,
        amount_minor: Optional[int] = None,
        lines: Optional[Iterable[Union[Record, Tuple[str, int]]]] = None,
        at: Optional[_dt.datetime] = None,
    ) -> Written[Order]:
        """Refunds part or all of a completed order: ``lines`` as ``(sku, quantity)`` pairs
        or ``{"sku", "quantity"}`` dicts, and/or an ``amount_minor`` (when both are given,
        the amount is what went back; with lines alone, their value). The refunded units
        leave the lines, the amount leaves the total; with nothing left the order becomes
        ``refunded``. Statistics and loyalty points follow. ``key`` makes it idempotent:
        the same refund again is ``unchanged``, another refund under the key raises
        :class:`crm.ConflictError`; a refund of more than is left raises
        :class:`crm.ValidationError` naming the field, writing nothing.

        >>> import crm, datetime as dt
        >>> db = crm.open(":memory:")
        >>> c = db.create_customer({"name": "Ada"})
        >>> _ = db.record_order({"external_id": "O-1", "customer_id": c.id, "currency": "EUR", "total_minor": 6000,
        ...     "occurred_at": dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc),
        ...     "items": [{"sku": "SHOE", "quantity": 2, "unit_price_minor": 2500},
        ...               {"sku": "SOCK", "quantity": 1, "unit_price_minor": 1000}]})
        >>> w = db.refund_order("O-1", "RF-1", lines=[("SHOE", 1)])
        >>> w.outcome, w.record.total.minor
        ('updated', 3500)
        >>> db.refund_order("O-1", "RF-1", lines=[("SHOE", 1)]).outcome
        'unchanged'
        """
        refund: Dict[str, Any] = {"key": key}
        if amount_minor is not None:
            refund["amount_minor"] = amount_minor
        if lines is not None:
            refund["lines"] = [
                {"sku": x[0], "quantity": x[1]} if isinstance(x, tuple) else dict(x) for x in lines
            ]
        if at is not None:
            refund["at"] = at
        d = json.loads(self._native.refund_order(external_id, _frames.record_json(refund)))
        return Written(Order.from_dict(d["record"]), d["outcome"])

    def order_refunds(self, id: int) -> List[OrderRefund]:
        """The refunds of an order, oldest first."""
        return [OrderRefund.from_dict(r) for r in json.loads(self._native.order_refunds(id))]

    def get_order(self, id: int) -> Order:
        """Reads an order with its line items."""
        return Order.from_dict(json.loads(self._native.get_order(id)))

    def get_order_by_external_id(self, external_id: str) -> Order:
        """Reads an order by the host's external id."""
        return Order.from_dict(json.loads(self._native.get_order_by_external_id(external_id)))

    def order_id_by_external_id(self, external_id: str) -> int:
        """The store id of the order with this external id; :class:`crm.NotFoundError`
        when there is none."""
        return int(self._native.order_id_by_external_id(external_id))

    def interaction_id_by_external_id(self, external_id: str) -> int:
        """The store id of the interaction with this external id;
        :class:`crm.NotFoundError` when there is none."""
        return int(self._native.interaction_id_by_external_id(external_id))

    def delete_order(self, id: int) -> None:
        """Deletes an order and updates its customer's statistics."""
        self._native.delete_order(id)

    # ---- timeline, change feed, counts ----------------------------------------------

    def timeline(self, customer_id: int, limit: int = 50, cursor: Optional[str] = None) -> Page[TimelineEntry]:
        """One page of a customer's orders and interactions, newest first."""
        d = json.loads(self._native.timeline(customer_id, limit, cursor))
        return Page([timeline_entry(e) for e in d["items"]], d.get("next_cursor"))

    def timeline_frame(self, customer_id: int, page_size: int = 1000) -> Any:
        """A customer's whole timeline as a DataFrame, newest first: ``type`` (``order`` or
        ``interaction``), ``id`` (int64), ``external_id``, ``occurred_at`` (``datetime64[us,
        UTC]``), ``kind`` (interactions), ``status``, ``total_minor`` (nullable ``Int64``:
        orders only) and ``currency`` (orders), ``channel``, ``subject`` (interactions)."""
        rows: List[Dict[str, Any]] = []
        cursor: Optional[str] = None
        while True:
            d = json.loads(self._native.timeline(customer_id, page_size, cursor))
            for e in d["items"]:
                r = e["record"]
                total = r.get("total") or {}
                rows.append(
                    {
                        "type": e["type"], "id": r["id"], "external_id": r.get("external_id"),
                        "occurred_at": r["occurred_at"], "kind": r.get("kind"), "status": r.get("status"),
                        "total_minor": total.get("minor"), "currency": total.get("currency"),
                        "channel": r.get("channel"), "subject": r.get("subject"),
                    }
                )
            cursor = d.get("next_cursor")
            if cursor is None:
                break
        f = _frames
        schema = {"type": f.TEXT, "id": f.INT, "external_id": f.TEXT, "occurred_at": f.TIME, "kind": f.TEXT,
                  "status": f.TEXT, "total_minor": f.NULLABLE_INT, "currency": f.TEXT, "channel": f.TEXT,
                  "subject": f.TEXT}
        return _frames.typed_frame(rows, schema)

    def changes_since(self, seq: int = 0, limit: int = 1000) -> List[Change]:
        """Change-feed entries after ``seq`` (0 for the start), oldest first, at most ``limit``."""
        return [Change.from_dict(c) for c in json.loads(self._native.changes_since(seq, limit))]

    def changes_frame(self, seq: int = 0, limit: int = 10_000) -> Any:
        """:meth:`changes_since` as a DataFrame: ``seq``, ``entity``, ``id``, ``op``, ``at``
        (``datetime64[us, UTC]``) and ``ref_id`` (nullable ``Int64``: the customer who
        entered or left a segment)."""
        rows = json.loads(self._native.changes_since(seq, limit))
        f = _frames
        schema = {"seq": f.INT, "entity": f.TEXT, "id": f.INT, "op": f.TEXT, "at": f.TIME, "ref_id": f.NULLABLE_INT}
        return _frames.typed_frame(rows, schema)

    def counts(self) -> Counts:
        """Row counts of customers, orders and interactions."""
        return Counts(*self._native.counts())

    # ---- the rule language, saved segments ---------------------------------------------

    def check_rule(self, rule: Rule) -> None:
        """Checks a rule (text or tree) against the stored segments and scoring plans
        without evaluating it: known fields, like compared with like, one currency per
        comparison, existing segments and plans, no cycles. Raises :class:`crm.ParseError`,
        :class:`crm.ValidationError` (``field`` names what the rule misuses) or
        :class:`crm.NotFoundError` (an unknown segment or plan)."""
        self._native.check_rule(rule)

    def count_matching(self, rule: Rule, *, as_of: Optional[_dt.datetime] = None) -> int:
        """The number of customers meeting ``rule`` as of ``as_of`` (``now()`` in the rule;
        default now), evaluated for everyone at once in the store."""
        return int(self._native.count_matching(rule, micros(as_of)))

    def members_matching(
        self,
        rule: Rule,
        *,
        as_of: Optional[_dt.datetime] = None,
        after: Optional[int] = None,
        limit: int = 10_000,
    ) -> List[int]:
        """Ids of the customers meeting ``rule``, ascending, after the id ``after``, at most
        ``limit`` (1 to 100,000). Fewer than ``limit`` means the last page; pass the last id
        as ``after`` (and one fixed ``as_of``) for the next."""
        return list(self._native.members_matching(rule, micros(as_of), after, limit))

    def members_frame(
        self, rule: Rule, *, as_of: Optional[_dt.datetime] = None, page_size: int = MAX_MEMBERS_PAGE
    ) -> Any:
        """Every customer meeting ``rule`` as a DataFrame with one ``customer_id`` (int64)
        column, ascending. Pages are fetched with one evaluation time (``as_of``, default
        now), so they agree with each other."""
        at = micros(as_of or _dt.datetime.now(_dt.timezone.utc))
        ids = _all_pages(lambda after: self._native.members_matching(rule, at, after, page_size), page_size)
        return _frames.int64_frame({"customer_id": ids})

    def matches(self, customer_id: int, rule: Rule, *, as_of: Optional[_dt.datetime] = None) -> bool:
        """Whether one customer meets ``rule`` now (or as of ``as_of``), evaluated in memory
        for that customer alone: the real-time check."""
        return bool(self._native.matches(customer_id, rule, micros(as_of)))

    def create_segment(
        self,
        name: str,
        rule: Optional[Rule] = None,
        *,
        description: Optional[str] = None,
        members: Optional[Iterable[int]] = None,
    ) -> Segment:
        """Creates a saved segment: dynamic when it has a ``rule`` (text or tree; checked, and
        cycles through other segments or plans are refused), static (listing ``members``,
        customer ids) otherwise. Raises :class:`crm.ConflictError` when the name is taken."""
        d = json.loads(self._native.create_segment(name, rule, description, list(members or ())))
        return Segment.from_dict(d)

    def update_segment(
        self,
        name: str,
        *,
        new_name: Optional[str] = None,
        description: Union[str, None, _Unset] = _UNSET,
        rule: Optional[Rule] = None,
    ) -> Segment:
        """Renames a segment, changes its description (``None`` clears it) or its rule
        (dynamic segments only); arguments not given stay as they are. A segment other
        rules use cannot be renamed (:class:`crm.ConflictError`)."""
        set_description = not isinstance(description, _Unset)
        text = None if isinstance(description, _Unset) else description
        d = json.loads(self._native.update_segment(name, new_name, set_description, text, rule))
        return Segment.from_dict(d)

    def delete_segment(self, name: str) -> None:
        """Deletes a segment and its stored members; refused (:class:`crm.ConflictError`,
        naming them) while other rules use it."""
        self._native.delete_segment(name)

    def segment(self, name: str) -> Segment:
        """A saved segment by name; :class:`crm.NotFoundError` when there is none."""
        return Segment.from_dict(json.loads(self._native.segment(name)))

    def segments(self) -> List[Segment]:
        """Every saved segment, by name."""
        return [Segment.from_dict(s) for s in json.loads(self._native.segments())]

    def segment_count(self, name: str) -> int:
        """The number of a segment's members now (a dynamic segment's rule is evaluated in
        the store, a static segment's list counted)."""
        return int(self._native.segment_count(name))

    def segment_members(self, name: str, *, after: Optional[int] = None, limit: int = 10_000) -> List[int]:
        """Ids of a segment's members now, ascending, after the id ``after``, at most
        ``limit`` (1 to 100,000); pass the last id as ``after`` for the next page."""
        return list(self._native.segment_members(name, after, limit))

    def segment_members_frame(self, name: str, *, page_size: int = MAX_MEMBERS_PAGE) -> Any:
        """Every member of a segment now as a DataFrame with one ``customer_id`` (int64)
        column, ascending."""
        ids = _all_pages(lambda after: self._native.segment_members(name, after, page_size), page_size)
        return _frames.int64_frame({"customer_id": ids})

    def is_member(self, customer_id: int, name: str) -> bool:
        """Whether a customer is a member of a segment now (the hot path: a dynamic
        segment's rule is evaluated in memory for this customer alone)."""
        return bool(self._native.is_member(customer_id, name))

    def add_segment_members(self, name: str, customer_ids: Iterable[int]) -> int:
        """Adds customers to a static segment; returns how many were not members yet (each
        appends an ``enter`` change). An unknown customer refuses the whole call."""
        return int(self._native.add_segment_members(name, list(customer_ids)))

    def remove_segment_members(self, name: str, customer_ids: Iterable[int]) -> int:
        """Removes customers from a static segment; returns how many were members (each
        appends a ``leave`` change)."""
        return int(self._native.remove_segment_members(name, list(customer_ids)))

    def snapshot_segment(self, name: str) -> Snapshot:
        """Evaluates a dynamic segment now and stores its members; customers who entered or
        left since the last snapshot are listed and appended to the change feed as
        ``enter``/``leave`` changes of the segment (``ref_id`` the customer)."""
        return Snapshot.from_dict(json.loads(self._native.snapshot_segment(name)))

    # ---- scoring plans, lifecycle stages, value tiers ----------------------------------

    def put_scoring_plan(self, plan: Union[ScoringPlan, Record]) -> None:
        """Stores a scoring plan (a :class:`crm.ScoringPlan`, or a dict such as
        ``{"name": "lead", "rules": [{"when": "email is not null", "points": 10}]}``),
        replacing one of the same name. Rule text inside that does not parse raises
        :class:`crm.ValidationError` on ``rules[i].when``."""
        self._native.put_scoring_plan(_frames.record_json(as_dict(plan)))

    def scoring_plans(self) -> List[ScoringPlan]:
        """Every scoring plan, by name (rules as trees)."""
        return [ScoringPlan.from_dict(p) for p in json.loads(self._native.scoring_plans())]

    def delete_scoring_plan(self, name: str) -> None:
        """Deletes a scoring plan; refused (:class:`crm.ConflictError`) while a stored rule
        uses ``score.<name>``."""
        self._native.delete_scoring_plan(name)

    def score(self, customer_id: int, plan: str) -> int:
        """A customer's score under a plan now."""
        return int(self._native.score(customer_id, plan))

    def scores(self, plan: str) -> Dict[int, int]:
        """Every customer's score under a plan now, by customer id (ascending), computed in
        the store."""
        ids, values = self._native.scores(plan)
        return dict(zip(ids, values))

    def scores_frame(self, plan: str) -> Any:
        """:meth:`scores` as a DataFrame: ``customer_id`` and ``score``, both int64."""
        ids, values = self._native.scores(plan)
        return _frames.int64_frame({"customer_id": ids, "score": values})

    def set_lifecycle_rules(self, rules: Iterable[Union[StageRule, Record]]) -> None:
        """Stores the lifecycle rules, in order, first match wins: :class:`crm.StageRule`
        values or dicts ``{"stage": "churned", "when": "last_order_at before now() - 365 days"}``
        (1 to 100). Each rule is checked first."""
        self._native.set_lifecycle_rules(_frames.record_json({"rules": [as_dict(r) for r in rules]}))

    def lifecycle_rules(self) -> List[StageRule]:
        """The stored lifecycle rules, or the built-in defaults."""
        return [StageRule.from_dict(r) for r in json.loads(self._native.lifecycle_rules())["rules"]]

    def refresh_lifecycle(self, as_of: Optional[_dt.datetime] = None) -> Refresh:
        """Re-evaluates every customer's lifecycle stage as of ``as_of`` (default now) in one
        transaction; each change is stored, recorded in the stage history and fed as a
        customer update."""
        return Refresh.from_dict(json.loads(self._native.refresh_lifecycle(micros(as_of))))

    def stage_history(self, customer_id: int) -> List[Tuple[str, _dt.datetime]]:
        """When each lifecycle stage of a customer began, oldest first (empty when its stage
        never changed)."""
        return history(json.loads(self._native.stage_history(customer_id)))

    def set_tier_config(self, config: Record) -> None:
        """Stores the value-tier settings, the core's ``TierConfig`` as a dict:
        ``{"basis": {"by": "spend", "currency": "USD", "tiers": [{"name": "high",
        "min_minor": 100000}]}, "default": "low"}``; ``by`` may also be ``percentile``
        (``top_percent`` per tier) or ``rules`` (``when`` per tier)."""
        self._native.set_tier_config(_frames.record_json(config))

    def tier_config(self) -> Optional[Dict[str, Any]]:
        """The stored value-tier settings (rules as trees), or None."""
        text = self._native.tier_config()
        if text is None:
            return None
        config: Dict[str, Any] = json.loads(text)
        return config

    def refresh_tiers(self, as_of: Optional[_dt.datetime] = None) -> Refresh:
        """Re-evaluates every customer's value tier as of ``as_of`` (default now) with the
        stored settings, in one transaction."""
        return Refresh.from_dict(json.loads(self._native.refresh_tiers(micros(as_of))))

    def tier_of(self, customer_id: int) -> Optional[str]:
        """A customer's value tier as of the last refresh, or None."""
        tier = self._native.tier_of(customer_id)
        return None if tier is None else str(tier)

    def tier_history(self, customer_id: int) -> List[Tuple[str, _dt.datetime]]:
        """When each value tier of a customer began, oldest first."""
        return history(json.loads(self._native.tier_history(customer_id)))

    # ---- bulk ingest ------------------------------------------------------------------

    def ingest_customers(self, source: Source, **options: Any) -> IngestReport:
        """Ingests customers; see :meth:`ingest`."""
        return self.ingest("customers", source, **options)

    def ingest_orders(self, source: Source, **options: Any) -> IngestReport:
        """Ingests orders; see :meth:`ingest`."""
        return self.ingest("orders", source, **options)

    def ingest_interactions(self, source: Source, **options: Any) -> IngestReport:
        """Ingests interactions; see :meth:`ingest`."""
        return self.ingest("interactions", source, **options)

    def ingest(
        self,
        kind: str,
        source: Source,
        *,
        batch_size: int = 20_000,
        max_errors: int = 10_000,
        progress: ProgressArg = None,
        ignore_unknown_columns: bool = False,
        identity_source: Optional[str] = None,
    ) -> IngestReport:
        """Bulk-ingests ``kind`` records ("customers", "orders", "interactions") from:

        * a path to a ``.csv`` or ``.jsonl``/``.ndjson`` file (the core's formats);
        * a pandas DataFrame or a pyarrow Table with the CSV columns of the kind
          (``crm.ORDER_COLUMNS`` ...; nested values as JSON text or Python lists/dicts;
          times as datetime64 columns of any unit and zone, naive ones read as UTC, as
          integer microseconds since 1970 UTC, or as RFC 3339 text; money as integers);
        * a list (or iterable) of dicts in the serde shape of the record.

        Rows are validated and written in batched transactions (``batch_size`` rows each)
        with the GIL released; re-ingesting the same rows changes nothing. Returns the
        :class:`IngestReport`; row numbers are 1-based positions (lines, for files).

        Customers are merged into the stored ones as :meth:`upsert_customer` merges: a
        column (or key) that is absent keeps the stored value; a null cell (``None``,
        NaN, an empty CSV cell) clears it. Within one ingest the first row with an external
        id wins; later rows with the same id are refused, naming the row that was applied.
        CSV headers and DataFrame columns match whatever their case;
        ``ignore_unknown_columns=True`` skips columns that are not columns of ``kind``
        (listed in ``report.ignored_columns``) instead of refusing the input.

        ``identity_source`` names the system the rows come from: the rows' customer keys
        (a customer's ``external_id``, an order's or interaction's ``customer_external_id``)
        are then that system's identities, as in :meth:`upsert_customer` with ``source``.

        ``progress`` (see :data:`crm.ingest.ProgressArg`) is called after each committed
        batch. A callable returning ``False`` cancels the ingest: the batches committed so
        far stay (each batch is one transaction), no later row is stored, and the report
        has ``cancelled=True``. An exception in the callback, or Ctrl-C, stops the ingest
        the same way and is raised once the committed batches are safe.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 1_000_000:
            raise ValidationError(f"invalid batch_size: {batch_size!r} is outside 1 ..= 1000000",
                                  field="batch_size", reason=f"{batch_size!r} is outside 1 ..= 1000000")
        if isinstance(source, Mapping):
            raise ValidationError("invalid source: a dict is one record; pass a list of dicts",
                                  field="source", reason="a dict is one record; pass a list of dicts")
        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            cb = progress_callback(progress, f"ingest {kind}", path=path)
            return self._finish(
                cb,
                lambda: self._native.ingest_file(
                    kind, path, batch_size, max_errors, cb, ignore_unknown_columns, identity_source
                ),
            )
        if _is_arrow(source) or _is_frame(source):
            columns, rows = (_frames.arrow_ingest_columns if _is_arrow(source) else _frames.ingest_columns)(source)
            cb = progress_callback(progress, f"ingest {kind}", rows=rows)
            return self._finish(
                cb,
                lambda: self._native.ingest_columns(
                    kind, columns, rows, batch_size, max_errors, cb, ignore_unknown_columns, identity_source
                ),
            )
        text, rows = _frames.records_jsonl(source)
        cb = progress_callback(progress, f"ingest {kind}", rows=rows)
        return self._finish(
            cb, lambda: self._native.ingest_jsonl(kind, text, rows, batch_size, max_errors, cb, identity_source)
        )

    @staticmethod
    def _finish(cb: Any, call: Any) -> IngestReport:
        try:
            return IngestReport.from_json(call())
        finally:
            if isinstance(cb, _Bar):
                cb.close()

    # ---- RFM ------------------------------------------------------------------------------

    def find_duplicates(
        self,
        threshold: float = 0.95,
        *,
        model: Optional[Mapping[str, Any]] = None,
        max_block_size: int = 500,
        max_iterations: int = 50,
        u_pairs: int = 1_000_000,
        seed: int = 0,
    ) -> _identity.DuplicateReport:
        """Finds the customers that are likely one person or company entered more than once
        (see :mod:`crm.identity`). Reads every customer not merged away in one read
        transaction and writes nothing; runs with the GIL released.

        ``threshold``: pairs with a match probability at or above it (0 to 1) are reported
        and clustered. ``model``: a model as returned in :attr:`DuplicateReport.model`, or
        written by hand, to score with instead of estimating one. ``max_block_size`` (2 to
        100,000): a blocking key shared by more customers forms no pairs. ``max_iterations``
        (1 to 1,000) of EM; ``u_pairs`` (1 to 100,000,000) random pairs for the u
        probabilities, drawn with ``seed``: the same data and arguments give the same report.

        Raises :class:`crm.ValidationError` naming the field (``threshold``,
        ``max_block_size``, ``max_iterations``, ``u_pairs``, ``model.prior``,
        ``model.fields[i].levels[j].m``, ...; ``match_settings`` for a model of the wrong
        shape), before anything is read.

        >>> import crm
        >>> with crm.open(":memory:") as db:
        ...     a = db.create_customer({"name": "Ada Lovelace", "email": "ada@example.com"})
        ...     b = db.create_customer({"name": "LOVELACE, Ada", "email": "Ada@Example.com"})
        ...     others = [db.create_customer({"name": f"Person {i}", "email": f"p{i}@example.org"})
        ...               for i in range(20)]
        ...     report = db.find_duplicates()
        ...     report.clusters == [[a.id, b.id]], report.pairs.loc[0, "email_level"]
        (True, 'exact')
        """
        text = self._native.find_duplicates(
            _identity.settings_json(model, max_block_size, max_iterations, u_pairs, seed), float(threshold)
        )
        return _identity.DuplicateReport.from_json(text)

    def merge_customers(
        self,
        survivor: int,
        merged: int,
        *,
        actor: Optional[str] = None,
        reason: Optional[str] = None,
        evidence: Any = None,
        prefer: str = "survivor",
        rules: Optional[Mapping[str, str]] = None,
        source_priority: Optional[Sequence[str]] = None,
    ) -> _identity.MergeOutcome:
        """Merges customer ``merged`` into ``survivor`` in one transaction (see
        :mod:`crm.identity`): the survivor's profile takes fields from the merged customer
        by ``prefer`` (the default rule) and ``rules`` (per field: ``{"email":
        "most_recent"}``; rules in :data:`crm.identity.PREFER`, fields in
        :data:`crm.identity.SURVIVORSHIP_FIELDS`; ``"source_priority"`` takes the side known to
        the source listed first in ``source_priority``, ``"primary"`` naming the host's own
        external ids); its orders and interactions move to the
        survivor with their statistics and points, its unspent points move as lots, and the
        survivor joins its static segments. From then on the merged id and external id read
        and write the survivor, and the merged customer is left out of queries, counts,
        segments and :meth:`find_duplicates`. ``actor`` and ``reason`` (1 to 2,000
        characters) and ``evidence`` (anything JSON, such as a row of
        :attr:`DuplicateReport.pairs` as a dict; at most 64 KiB) go to the merge log.
        Repeating a merge that stands returns it with ``replayed`` set and writes nothing.

        Raises :class:`crm.MergeError` (``kind``: ``self_merge``, ``merged_away``,
        ``cycle``, ``too_deep``), :class:`crm.NotFoundError`, :class:`crm.ValidationError`
        (``actor``, ``reason``, ``evidence``, ``survivorship.fields.<name>``, ``record`` for
        an unknown rule); nothing is written on any error.

        >>> import crm
        >>> with crm.open(":memory:") as db:
        ...     web = db.upsert_customer({"external_id": "WEB-1", "name": "Ada", "email": "ada@example.com"}).record
        ...     pos = db.upsert_customer({"external_id": "POS-9", "name": "Ada Lovelace"}).record
        ...     done = db.merge_customers(pos.id, web.id, reason="same person")
        ...     done.survivor.email, db.get_customer_by_external_id("WEB-1").id == pos.id
        ('ada@example.com', True)
        """
        request = _identity.merge_request_json(actor, reason, evidence, prefer, rules, source_priority=source_priority)
        return _identity.MergeOutcome.from_json(self._native.merge_customers(int(survivor), int(merged), request))

    def unmerge_customer(
        self, merged: int, *, actor: Optional[str] = None, reason: Optional[str] = None
    ) -> _identity.MergeOutcome:
        """Undoes the standing merge of customer ``merged``: the records the merge moved and
        those written through the merged customer's id or external id since go back to it
        (in their current state) with their statistics and points; what the survivor has not
        spent of the points the merge moved goes back; every profile field the merge set and
        nobody changed since gets the survivor's own value back. Repeating an unmerge returns
        the undone merge with ``replayed`` set and writes nothing.

        Raises :class:`crm.MergeError` (``kind``: ``not_merged``, or ``order`` when the
        survivor was since merged into another: unmerge that first),
        :class:`crm.NotFoundError`, :class:`crm.ValidationError` (``actor``, ``reason``)."""
        request = _identity.merge_request_json(actor, reason, unmerge=True)
        return _identity.MergeOutcome.from_json(self._native.unmerge_customer(int(merged), request))

    def merge_history(self, customer: int) -> List[_identity.MergeRecord]:
        """The merges a customer took part in, as survivor or merged customer, oldest first,
        standing and undone."""
        return [_identity.MergeRecord.from_dict(d) for d in json.loads(self._native.merge_history(int(customer)))]

    def match_customer(
        self,
        record: Record,
        threshold: float = 0.5,
        *,
        limit: int = 10,
        max_block_size: int = 500,
        model: Optional[Mapping[str, Any]] = None,
    ) -> Any:
        """The stored customers that may be the person or company ``record`` describes (a
        dict as for :meth:`create_customer`; validated the same way and not stored), the
        most likely first, as a DataFrame with :data:`crm.identity.CANDIDATE_COLUMNS`: the
        customers sharing a blocking key with it (mailbox, phone, name and street, a name
        token with the birthday or postcode, ...; keys every customer write keeps), scored
        with the stored model (:meth:`set_match_model`, :meth:`train_match_model`) or
        ``model``. Reads only the candidates: milliseconds against millions of customers.

        ``threshold`` (0 to 1), ``limit`` (1 to 1,000), ``max_block_size`` (2 to 100,000: a
        key shared by more customers gives no candidates). Raises
        :class:`crm.ValidationError` naming the field (the record's, ``threshold``,
        ``limit``, ``max_block_size``, ``model.*``; ``model`` when none is stored or given).

        >>> import crm
        >>> with crm.open(":memory:") as db:
        ...     ada = db.create_customer({"name": "Ada Lovelace", "email": "ada@example.com"})
        ...     again = db.create_customer({"name": "LOVELACE Ada", "email": "Ada@Example.com"})
        ...     others = [db.create_customer({"name": f"Person {i}", "email": f"p{i}@example.org"})
        ...               for i in range(20)]
        ...     _ = db.train_match_model()
        ...     found = db.match_customer({"name": "Ada Lovelace", "email": "ada+news@example.com"})
        ...     sorted(found["customer_id"]) == sorted([ada.id, again.id])
        True
        """
        options = json.dumps(
            {"limit": limit, "max_block_size": max_block_size, "model": None if model is None else dict(model)}
        )
        text = self._native.match_customer(_frames.record_json(record), options, float(threshold))
        return _identity.candidates_frame(text)

    def set_match_model(self, model: Mapping[str, Any]) -> None:
        """Stores the model :meth:`match_customer` and the match policy score with: a model
        as :attr:`DuplicateReport.model` holds one, or written by hand (see
        :meth:`find_duplicates`). Raises :class:`crm.ValidationError` naming the path."""
        self._native.set_match_model(json.dumps(dict(model)))

    def match_model(self) -> Optional[Dict[str, Any]]:
        """The stored match model, or ``None``."""
        text = self._native.match_model()
        return None if text is None else dict(json.loads(text))

    def train_match_model(
        self, *, max_block_size: int = 500, max_iterations: int = 50, u_pairs: int = 1_000_000, seed: int = 0
    ) -> Dict[str, Any]:
        """Estimates a model from the stored customers as :meth:`find_duplicates` does,
        stores it and returns it. Runs with the GIL released."""
        settings = _identity.settings_json(None, max_block_size, max_iterations, u_pairs, seed)
        return dict(json.loads(self._native.train_match_model(settings)))

    def set_match_policy(self, mode: str, *, threshold: float = 0.95, max_block_size: int = 500) -> None:
        """What creating a customer (:meth:`create_customer`, an upsert, bulk ingest) does
        with the stored customers it matches, in the same transaction: ``"off"`` (the
        default) nothing; ``"suggest"`` records a suggestion for each at or above
        ``threshold`` (:meth:`match_suggestions`); ``"auto_merge"`` merges the new customer
        into the most likely one at or above it (the stored one survives; logged with actor
        ``auto-match`` and the evidence) and suggests the others. A mode other than
        ``"off"`` needs a stored model. Raises :class:`crm.ValidationError` (``mode``,
        ``threshold``, ``max_block_size``, ``model``)."""
        policy = json.dumps({"mode": mode, "max_block_size": max_block_size})
        self._native.set_match_policy(policy, float(threshold))

    def match_policy(self) -> Dict[str, Any]:
        """The stored match policy: ``{"mode": ..., "threshold": ..., "max_block_size": ...}``."""
        return dict(json.loads(self._native.match_policy()))

    def match_suggestions(self, status: Optional[str] = "open", *, after: int = 0, limit: int = 10_000) -> Any:
        """The suggestions the match policy made (``status``: ``"open"``, ``"dismissed"``,
        ``"merged"`` or ``None`` for all), by id after ``after``, at most ``limit`` (1 to
        10,000), as a DataFrame with :data:`crm.identity.SUGGESTION_COLUMNS`."""
        return _identity.suggestions_frame(self._native.match_suggestions(status, int(after), int(limit)))

    def resolve_suggestion(self, id: int, status: str) -> None:
        """Marks a suggestion ``"dismissed"`` (the two are different) or ``"merged"`` (you
        merged them with :meth:`merge_customers`). Raises :class:`crm.ValidationError` on
        ``id`` (no such suggestion) or ``status``."""
        self._native.resolve_suggestion(int(id), status)

    def ensure_match_keys(self) -> None:
        """Computes the match keys of customers stored by a crm older than the matching
        (once; the matching calls do it themselves on first use)."""
        self._native.ensure_match_keys()

    def compute_rfm(
        self,
        currency: str,
        as_of: _rfm.AsOf = None,
        grid: _rfm.Grid = None,
        *,
        to: str = "pandas",
    ) -> Any:
        """RFM values, scores and segment names of every customer with completed spend in
        ``currency``, as of ``as_of`` (default now), named by ``grid`` (5 rows for R = 5
        down to 1 of 5 names for FM = 1 to 5; default :data:`crm.rfm.DEFAULT_GRID`).
        Stores nothing (see :meth:`refresh_rfm`). The computation runs with the GIL released.

        Returns a pandas DataFrame, one row per member by customer id, with the columns of
        :data:`crm.rfm.RFM_COLUMNS`: ``customer_id``, ``recency_days``, ``frequency``,
        ``monetary_minor``, ``r``, ``f``, ``m`` (all int64), ``segment`` (categorical, every
        name of the grid as a category in reading order, so ``value_counts(sort=False)``
        gives every segment's size) and ``currency`` (categorical, the one currency); the
        model (:class:`crm.RfmModel`) is in ``frame.attrs["rfm_model"]``. With
        ``to="arrow"``, a pyarrow Table with the same columns (dictionary-encoded
        ``segment`` and ``currency``) and the model as JSON in the schema metadata key
        ``crm.rfm_model``. Raises :class:`crm.ValidationError` on field ``currency``,
        ``as_of``, ``grid``/``grid[i]``/``grid[i][j]`` or ``to``.
        """
        parts = self._native.compute_rfm(currency, _rfm.as_of_micros(as_of), grid)
        return _rfm.table(parts, to)

    def refresh_rfm(
        self, currency: str, as_of: _rfm.AsOf = None, grid: _rfm.Grid = None
    ) -> _rfm.RfmModel:
        """Computes RFM as :meth:`compute_rfm` does and stores it in one transaction
        (replacing every stored score); returns the stored model, which :meth:`score_rfm`,
        :meth:`rfm_of` and rules (``rfm.segment = "Champions"``) then use."""
        return _rfm.RfmModel.from_json(self._native.refresh_rfm(currency, _rfm.as_of_micros(as_of), grid))

    def rfm_model(self) -> Optional[_rfm.RfmModel]:
        """The model stored by the last :meth:`refresh_rfm`, or None."""
        text = self._native.rfm_model()
        return None if text is None else _rfm.RfmModel.from_json(text)

    def rfm_of(self, customer_id: int) -> Optional[_rfm.RfmScore]:
        """A customer's score as stored by the last :meth:`refresh_rfm`; None when the
        customer was not in its population. :class:`crm.NotFoundError` for an unknown customer."""
        t = self._native.rfm_of(customer_id)
        return None if t is None else _rfm.RfmScore.from_tuple(t)

    def score_rfm(self, customer_id: int, as_of: _rfm.AsOf = None) -> Optional[_rfm.RfmScore]:
        """Scores one customer now (or as of ``as_of``) against the stored model without
        reading anyone else; None when it has no completed spend in the model's currency.
        :class:`crm.ValidationError` on field ``rfm_model`` before any :meth:`refresh_rfm`;
        :class:`crm.NotFoundError` for an unknown customer."""
        t = self._native.score_rfm(customer_id, _rfm.as_of_micros(as_of))
        return None if t is None else _rfm.RfmScore.from_tuple(t)

    def rfm_segment_sizes(self) -> Dict[str, int]:
        """Members per named segment of the stored scores: every name of the stored grid in
        reading order (zero where nobody falls); empty before any :meth:`refresh_rfm`."""
        return dict(self._native.rfm_segment_sizes())


    # ---- loyalty ----------------------------------------------------------------------

    def set_loyalty_program(self, program: Union[str, Record], *, toml: bool = False) -> None:
        """Sets (or replaces) the loyalty program: a dict, JSON text, or TOML text with
        ``toml=True``. Validated first (:class:`crm.ValidationError` names the field, such
        as ``rules[0].when.shoe_size``); from then on recorded orders earn points."""
        text = program if isinstance(program, str) else _frames.record_json(program)
        self._native.set_loyalty_program(text, toml)

    def loyalty_program(self) -> Optional[Dict[str, Any]]:
        """The loyalty program as a dict, or None."""
        text = self._native.loyalty_program()
        return None if text is None else dict(json.loads(text))

    def earn_points(self, customer_id: int, points: int, key: str, *, at: Optional[_dt.datetime] = None) -> PointsEntry:
        """Credits ``points`` as a lot; the same ``key`` again returns the original entry."""
        d = json.loads(self._native.earn_points(customer_id, points, key, micros(at)))
        return PointsEntry.from_dict(d["entry"], d["replayed"])

    def redeem_points(
        self, customer_id: int, points: int, key: str, *, at: Optional[_dt.datetime] = None
    ) -> PointsEntry:
        """Redeems ``points`` from the lots expiring soonest; raises
        :class:`crm.InsufficientPointsError` when fewer are available. The same ``key``
        again returns the original entry and writes nothing."""
        d = json.loads(self._native.redeem_points(customer_id, points, key, micros(at)))
        return PointsEntry.from_dict(d["entry"], d["replayed"])

    def adjust_points(self, customer_id: int, points: int, key: str, reason: str) -> PointsEntry:
        """A manual correction up or down (never below zero), with a reason."""
        d = json.loads(self._native.adjust_points(customer_id, points, key, reason))
        return PointsEntry.from_dict(d["entry"], d["replayed"])

    def award_event(
        self, customer_id: int, event: str, key: str, *, at: Optional[_dt.datetime] = None
    ) -> Optional[PointsEntry]:
        """Awards the program's bonuses for ``event`` (``sign_up``, ``birthday``,
        ``survey_answered``, ``referral``; ``first_order`` bonuses are earned by the orders
        themselves); None when no bonus applies. ``at`` is an event time (up to a day ahead)."""
        text = self._native.award_event(customer_id, event, key, micros(at))
        if text is None:
            return None
        d = json.loads(text)
        return PointsEntry.from_dict(d["entry"], d["replayed"])

    def expire_points(self, as_of: Optional[_dt.datetime] = None, *, dry_run: bool = False) -> Tuple[int, int]:
        """Expires every lot due at ``as_of`` (default now), each once; ``(lots, points)``.

        ``as_of`` is an event time (no more than the configured ``max_future_secs`` ahead,
        a day by default; :class:`crm.ValidationError` on ``as_of`` otherwise), and no lot
        is expired before its expiry by the real clock. With ``dry_run=True`` nothing is
        written and ``as_of`` may lie up to ``max_forecast_days`` ahead (ten years by
        default): a forecast of what will have lapsed by then."""
        if dry_run:
            at = micros(as_of if as_of is not None else _dt.datetime.now(_dt.timezone.utc))
            assert at is not None
            return self._native.expire_points_dry_run(at)
        return self._native.expire_points(micros(as_of))

    def points_balance(self, customer_id: int) -> PointsBalance:
        """A customer's points now."""
        return PointsBalance.from_dict(json.loads(self._native.points_balance(customer_id)))

    def loyalty_liability(self, expiring_within_days: int = 90) -> LoyaltyLiability:
        """What the program owes now across every account, and the points that expire within
        ``expiring_within_days`` (0 to 3650; more raises :class:`crm.ValidationError`)."""
        if expiring_within_days < 0:
            reason = f"{expiring_within_days} is negative"
            raise ValidationError(f"invalid expiring_within_days: {reason}", field="expiring_within_days", reason=reason)
        return LoyaltyLiability.from_dict(json.loads(self._native.loyalty_liability(expiring_within_days)))

    def points_statement(self, customer_id: int) -> Dict[str, Any]:
        """A customer's statement: ``balance``, ``entries``, ``lots`` and ``tiers``, as dicts."""
        return dict(json.loads(self._native.points_statement(customer_id)))

    def points_statement_frame(self, customer_id: int) -> Any:
        """A customer's ledger as a DataFrame, oldest first: ``id``, ``customer_id``,
        ``kind``, ``points``, ``qualifying``, ``balance_after`` (int64), ``amount_minor`` (for
        order earnings, the order total in minor units the points were computed on) and
        ``order_id`` (nullable ``Int64``), ``at`` (``datetime64[us, UTC]``), ``key``, ``note``. A field
        the ledger gains later follows as an ``object`` column."""
        rows = json.loads(self._native.points_statement(customer_id))["entries"]
        f = _frames
        schema = {"id": f.INT, "customer_id": f.INT, "kind": f.TEXT, "points": f.INT, "qualifying": f.INT,
                  "balance_after": f.INT, "amount_minor": f.NULLABLE_INT, "at": f.TIME, "key": f.TEXT,
                  "order_id": f.NULLABLE_INT, "note": f.TEXT}
        return _frames.typed_frame(rows, schema)

    def set_loyalty_tier(self, customer_id: int, tier: Optional[str]) -> None:
        """Sets a customer's loyalty tier by hand (None removes it); the tier must exist."""
        self._native.set_loyalty_tier(customer_id, tier)

    def review_tiers(self, as_of: Optional[_dt.datetime] = None) -> Dict[str, int]:
        """Reviews every tier at a period end: ``accounts``, ``upgraded``, ``downgraded``."""
        return dict(json.loads(self._native.review_tiers(micros(as_of))))

    def points_balance_as_of(self, customer_id: int, at: _dt.datetime) -> int:
        """A customer's points balance at ``at`` (the sum of the entries effective by then)."""
        us = micros(at)
        if us is None:
            raise TypeError("at must be a datetime")
        return int(self._native.points_balance_as_of(customer_id, us))

    def loyalty_tier_history(self, customer_id: int) -> List[Dict[str, Any]]:
        """When each loyalty tier of a customer began and why, oldest first, as dicts."""
        return list(json.loads(self._native.loyalty_tier_history(customer_id)))

    def simulate_loyalty(
        self,
        program: Union[None, str, Record] = None,
        *,
        toml: bool = False,
        since: Optional[_dt.datetime] = None,
        until: Optional[_dt.datetime] = None,
        redemption_rate: Optional[float] = None,
        replay_redemptions: bool = False,
        customers: Optional[Iterable[int]] = None,
    ) -> LoyaltySimulation:
        """Replays a loyalty program over the orders already recorded, as a dry run: points
        issued, redeemed, expired and outstanding per month (see :class:`LoyaltySimulation`).
        Reads in one transaction with the GIL released; writes nothing.

        ``program``: None for the stored one (:class:`crm.ValidationError` on ``program``
        when none is set), or a candidate (a dict, JSON text, or TOML text with
        ``toml=True``), validated and never stored. Completed orders at or after ``since``
        earn (earlier ones are history: conditions and tiers see them); the run ends at
        ``until`` (default now; lots expiring later are still outstanding). Redemption:
        none by default; ``redemption_rate`` (a fraction in whole thousandths, 0.15) of
        every account's redeemable points at each month end; or ``replay_redemptions`` to
        replay the ledger's redemptions, capped to what the simulated accounts hold.
        ``customers``: only these ids (each must exist). Refunded and cancelled orders never
        earn; event bonuses other than the first order and downgrades are not simulated.
        Needs pandas."""
        text = program if program is None or isinstance(program, str) else _frames.record_json(program)
        options = simulation_options(since, until, redemption_rate, replay_redemptions, customers)
        out = self._native.simulate_loyalty(text, options, toml)
        return LoyaltySimulation.from_json(out)

def _all_pages(page: Any, page_size: int) -> List[int]:
    """Every id of a paged call ``page(after) -> ids`` (ascending, at most ``page_size``)."""
    out: List[int] = []
    after: Optional[int] = None
    while True:
        ids = page(after)
        out.extend(ids)
        if len(ids) < page_size:
            return out
        after = ids[-1]


def _is_frame(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and type(obj).__module__.startswith("pandas")


def _is_arrow(obj: Any) -> bool:
    return type(obj).__name__ in ("Table", "RecordBatch") and type(obj).__module__.startswith("pyarrow")


def open(
    path: Union[str, "os.PathLike[str]"] = ":memory:",
    *,
    validation: Optional[Record] = None,
    sqlite: Optional[Record] = None,
    postgres: Optional[Record] = None,
) -> Crm:
    """Opens (or creates) a crm database: a SQLite file, ``":memory:"``, or a
    ``postgresql://`` URL; see :class:`Crm`."""
    return Crm(path, validation=validation, sqlite=sqlite, postgres=postgres)
