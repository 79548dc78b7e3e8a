"""crm: embeddable customer management.

Customers, orders and interactions on an embedded SQLite file, with per-customer
statistics kept up to date by every write, bulk ingest (DataFrames, Arrow tables, CSV and
JSON Lines files, lists of dicts) with per-row error reports, a change feed, and
segmentation in one rule language: saved segments and snapshots, scoring plans, lifecycle
stages and value tiers (see :mod:`crm.segments`).

>>> import crm
>>> with crm.open(":memory:") as db:
...     db.upsert_customer({"external_id": "C-1", "name": "Ada"}).outcome
'created'
"""

from __future__ import annotations

from . import analytics, segments, synth
from ._crm import CUSTOMER_COLUMNS, INTERACTION_COLUMNS, ORDER_COLUMNS, __version__
from .client import Crm, open
from .exceptions import (
    CancelledError,
    ConflictError,
    CrmError,
    InsufficientPointsError,
    IoError,
    MergeError,
    NotFoundError,
    ParseError,
    SchemaTooNewError,
    StorageError,
    BusyError,
    UnavailableError,
    ValidationError,
)
from .ingest import IngestReport, RowError
from .loyalty import LoyaltyLiability, LoyaltySimulation, PointsBalance, PointsEntry
from .records import (
    Address,
    Change,
    Consent,
    Counts,
    Customer,
    CustomerStats,
    Interaction,
    LineItem,
    Money,
    Order,
    OrderRefund,
    RefundLine,
    Page,
    TimelineEntry,
    Written,
)
from .segments import (
    Refresh,
    Rule,
    ScoringPlan,
    ScoringRule,
    Segment,
    Snapshot,
    StageRule,
    format_rule,
    parse_rule,
)
from . import identity
from .identity import DuplicateReport, Identity, MergeOutcome, MergeRecord
from . import rfm
from .rfm import RfmBoundaries, RfmConfig, RfmModel, RfmScore

__all__ = [
    "__version__", "open", "Crm", "analytics", "synth", "segments", "parse_rule", "format_rule",
    "CUSTOMER_COLUMNS", "ORDER_COLUMNS", "INTERACTION_COLUMNS",
    "CrmError", "ValidationError", "NotFoundError", "ConflictError", "ParseError", "SchemaTooNewError",
    "StorageError", "BusyError", "UnavailableError", "IoError", "InsufficientPointsError", "CancelledError",
    "MergeError",
    "PointsEntry", "PointsBalance", "LoyaltyLiability", "LoyaltySimulation",
    "IngestReport", "RowError",
    "Address", "Change", "Consent", "Counts", "Customer", "CustomerStats", "Interaction", "LineItem", "Money",
    "Order", "OrderRefund", "RefundLine", "Page", "TimelineEntry", "Written",
    "Rule", "Segment", "Snapshot", "Refresh", "ScoringPlan", "ScoringRule", "StageRule",
    "rfm", "RfmBoundaries", "RfmConfig", "RfmModel", "RfmScore",
    "identity", "DuplicateReport", "Identity", "MergeOutcome", "MergeRecord",
]
