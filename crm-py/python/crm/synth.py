"""Deterministic synthetic data from the core's generator, for examples and benchmarks.

>>> import crm.synth
>>> frames = crm.synth.generate(customers=10, seed=7)
>>> sorted(frames)
['customers', 'interactions', 'orders']

With ``duplicates``, labelled duplicates follow the customers: perturbed copies of
other customers (typos, nicknames, another email domain, a phone in national notation,
...), for measuring identity resolution. A copy's ``external_id`` is its original's
followed by ``~1``, so the true identity of every row is its ``external_id`` up to the
``~``:

>>> customers = crm.synth.generate(customers=100, duplicates=0.1, kinds=("customers",))["customers"]
>>> len(customers)
110
>>> identity = customers["external_id"].str.split("~").str[0]
>>> int(identity.nunique())
100
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from typing import Any, Dict, Optional, Sequence, Union

from . import _crm
from . import frames as _frames

__all__ = ["generate", "write", "KINDS"]

KINDS = ("customers", "orders", "interactions")

# The typed CSV columns of each kind; the others are text (JSON text for nested values).
_SCHEMAS = {
    "customers": {"created_at": _frames.TIME},
    "orders": {"customer_id": _frames.NULLABLE_INT, "occurred_at": _frames.TIME, "total_minor": _frames.INT},
    "interactions": {"customer_id": _frames.NULLABLE_INT, "occurred_at": _frames.TIME},
}


def _config(
    customers: int,
    seed: int,
    orders_per_customer: Optional[float],
    interactions_per_customer: Optional[float],
    years: Optional[int],
    end: Optional[_dt.datetime],
    duplicates: float,
) -> str:
    cfg: Dict[str, Any] = {"customers": customers, "seed": seed, "duplicates": duplicates}
    if orders_per_customer is not None:
        cfg["orders_per_customer"] = orders_per_customer
    if interactions_per_customer is not None:
        cfg["interactions_per_customer"] = interactions_per_customer
    if years is not None:
        cfg["years"] = years
    if end is not None:
        cfg["end"] = end.isoformat()
    return json.dumps(cfg)


def generate(
    customers: int = 10_000,
    seed: int = 42,
    *,
    kinds: Sequence[str] = KINDS,
    orders_per_customer: Optional[float] = None,
    interactions_per_customer: Optional[float] = None,
    years: Optional[int] = None,
    end: Optional[_dt.datetime] = None,
    duplicates: float = 0.0,
) -> Dict[str, Any]:
    """Generated rows as DataFrames keyed by kind, in the CSV columns of each kind
    (ready for ``Crm.ingest``): times ``datetime64[us, UTC]``, ``total_minor`` int64,
    ``customer_id`` nullable ``Int64`` (generated rows name customers by external id),
    nested values (``items``, ``attributes``, ``payload``) as JSON text. The same
    arguments always give the same data (defaults: 10 orders and 3 interactions per
    customer on average over three years ending 2026-11-01).

    ``duplicates`` (0.0 to 1.0; below counts as 0, above as 1) adds
    ``round(customers * duplicates)`` perturbed copies of distinct customers after the
    customers, as another system would have recorded them. The ground truth is in the
    ``external_id``: a copy of ``C00000042`` is ``C00000042~1``, so rows are the same
    customer exactly when their ``external_id`` agree up to the ``~``. Orders and
    interactions name the originals only."""
    cfg = _config(customers, seed, orders_per_customer, interactions_per_customer, years, end, duplicates)
    out: Dict[str, Any] = {}
    for kind in kinds:
        cols = _crm.synth_columns(kind, cfg)
        out[kind] = _frames.frame_from_columns(dict(cols), _SCHEMAS[kind])
    return out


def write(
    directory: Union[str, "os.PathLike[str]"],
    customers: int = 10_000,
    seed: int = 42,
    *,
    format: str = "csv",
    kinds: Sequence[str] = KINDS,
    orders_per_customer: Optional[float] = None,
    interactions_per_customer: Optional[float] = None,
    years: Optional[int] = None,
    end: Optional[_dt.datetime] = None,
    duplicates: float = 0.0,
) -> Dict[str, str]:
    """Writes generated rows to ``<directory>/<kind>.<format>`` (``csv`` or ``jsonl``)
    without holding them in memory; returns the paths by kind. ``duplicates`` as for
    :func:`generate`: copies of customers whose ``external_id`` is the original's
    followed by ``~1``, written after the customers."""
    cfg = _config(customers, seed, orders_per_customer, interactions_per_customer, years, end, duplicates)
    os.makedirs(directory, exist_ok=True)
    paths: Dict[str, str] = {}
    for kind in kinds:
        path = os.path.join(os.fspath(directory), f"{kind}.{format}")
        _crm.synth_write(kind, cfg, path)
        paths[kind] = path
    return paths
