"""crm: embeddable customer management.

Customers, orders and interactions on an embedded SQLite file, with per-customer
statistics kept up to date by every write, bulk ingest (DataFrames, Arrow tables, CSV and
JSON Lines files, lists of dicts) with per-row error reports, and a change feed.

>>> import crm
>>> with crm.open(":memory:") as db:
...     db.upsert_customer({"external_id": "C-1", "name": "Ada"}).outcome
'created'
"""

from __future__ import annotations

from . import analytics, synth
from ._crm import CUSTOMER_COLUMNS, INTERACTION_COLUMNS, ORDER_COLUMNS, __version__
from .client import Crm, open
from .exceptions import (
    ConflictError,
    CrmError,
    IoError,
    NotFoundError,
    SchemaTooNewError,
    StorageError,
    ValidationError,
)
from .ingest import IngestReport, RowError
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
    Page,
    TimelineEntry,
    Written,
)

__all__ = [
    "__version__", "open", "Crm", "analytics", "synth",
    "CUSTOMER_COLUMNS", "ORDER_COLUMNS", "INTERACTION_COLUMNS",
    "CrmError", "ValidationError", "NotFoundError", "ConflictError", "SchemaTooNewError", "StorageError", "IoError",
    "IngestReport", "RowError",
    "Address", "Change", "Consent", "Counts", "Customer", "CustomerStats", "Interaction", "LineItem", "Money",
    "Order", "Page", "TimelineEntry", "Written",
]
