"""RFM (recency, frequency, monetary value) results as Python objects and frames.

The rules are crm-core's (``crm_core::segment::rfm``): an RFM model is computed as of a
time and in one currency. Its members are the customers with completed spend in that
currency; monetary value is that spend in minor units, frequency the number of completed
orders in any currency, recency the whole days from the last completed order to the as-of
time. Each of R, F and M is scored 1 to 5 as ``1 + floor(5 * worse / N)`` where ``worse``
counts the members with a strictly worse value, so ties always share a score; the segment
name comes from a 5 x 5 grid by R (rows, R = 5 first) and FM = ``(f + m + 1) // 2``.

:meth:`crm.Crm.compute_rfm` returns the whole table as a pandas DataFrame (or a pyarrow
Table): columns are built from native buffers, never from one Python object per row.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _crm
from . import frames as _frames
from .exceptions import ValidationError
from .records import parse_time
from .segments import micros

__all__ = ["RfmScore", "RfmConfig", "RfmBoundaries", "RfmModel", "AsOf", "Grid", "RFM_COLUMNS", "DEFAULT_GRID"]

AsOf = Union[None, _dt.datetime, _dt.date, str]
"""An as-of time: None for now; an aware ``datetime`` (naive ones are read as UTC); a
``date`` (midnight UTC); or RFC 3339 text such as ``"2026-06-01T00:00:00Z"``."""

Grid = Optional[Sequence[Sequence[str]]]
"""A score-to-name grid: 5 rows (R = 5 down to R = 1) of 5 names (FM = 1 to 5), or None for
:data:`DEFAULT_GRID`."""

RFM_COLUMNS = [
    "customer_id", "recency_days", "frequency", "monetary_minor", "r", "f", "m", "segment", "currency",
]
"""Columns of :meth:`crm.Crm.compute_rfm`'s frame, in order."""

DEFAULT_GRID: Tuple[Tuple[str, ...], ...] = tuple(tuple(row) for row in _crm.RFM_DEFAULT_GRID)
"""The standard score-to-name grid (the core's ``RfmGrid::default``): rows for R = 5 down to
R = 1, columns for FM = 1 to 5. Copy it into lists to make a custom grid."""

def as_of_micros(as_of: AsOf) -> Optional[int]:
    """An :data:`AsOf` value as microseconds since 1970 UTC (None stays None).

    >>> as_of_micros(_dt.date(1970, 1, 2))
    86400000000
    >>> as_of_micros("1970-01-01T00:00:01Z")
    1000000
    """
    if as_of is None:
        return None
    if isinstance(as_of, str):
        try:
            as_of = _dt.datetime.fromisoformat(as_of.replace("Z", "+00:00"))
        except ValueError as e:
            raise ValidationError(
                f"invalid as_of: {as_of!r} is not an RFC 3339 time", field="as_of", reason=str(e)
            ) from None
    if isinstance(as_of, _dt.datetime):
        return micros(as_of)
    if isinstance(as_of, _dt.date):
        return micros(_dt.datetime.combine(as_of, _dt.time(), _dt.timezone.utc))
    raise TypeError(f"as_of must be None, a datetime, a date or RFC 3339 text, not {type(as_of).__name__}")


@dataclass(frozen=True)
class RfmScore:
    """One customer's RFM values and scores."""

    customer_id: int
    recency_days: int
    """Whole days from the last completed order to the as-of time."""
    frequency: int
    """Completed orders (any currency) up to the as-of time."""
    monetary_minor: int
    """Completed spend in the model's currency, minor units."""
    r: int
    """Recency score, 1 (longest ago) to 5 (most recent)."""
    f: int
    """Frequency score, 1 to 5."""
    m: int
    """Monetary score, 1 to 5."""
    segment: str
    """The named segment (``Champions``, ``At Risk``, ...)."""

    @classmethod
    def from_tuple(cls, t: Sequence[Any]) -> RfmScore:
        """Builds the record from the native module's tuple."""
        return cls(int(t[0]), int(t[1]), int(t[2]), int(t[3]), int(t[4]), int(t[5]), int(t[6]), str(t[7]))


@dataclass(frozen=True)
class RfmConfig:
    """What a model was computed for: the currency, the as-of time asked for (None: the
    time of computation) and the grid (rows for R = 5 down to 1, columns for FM = 1 to 5)."""

    currency: str
    as_of: Optional[_dt.datetime]
    grid: Tuple[Tuple[str, ...], ...]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RfmConfig:
        """Builds the record from its dict (serde) shape."""
        return cls(str(d["currency"]), parse_time(d.get("as_of")), tuple(tuple(row) for row in d["grid"]))


def _bounds(values: Sequence[Optional[int]]) -> Tuple[Optional[int], ...]:
    return tuple(None if v is None else int(v) for v in values)


@dataclass(frozen=True)
class RfmBoundaries:
    """The value that earns each score 2 to 5 (index 0 is score 2), None where no member
    earned it. Recency: the most days that still earn the score; frequency and monetary:
    the least value that earns it."""

    recency_days: Tuple[Optional[int], ...]
    frequency: Tuple[Optional[int], ...]
    monetary_minor: Tuple[Optional[int], ...]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RfmBoundaries:
        """Builds the record from its dict (serde) shape."""
        return cls(_bounds(d["recency_days"]), _bounds(d["frequency"]), _bounds(d["monetary_minor"]))


@dataclass(frozen=True)
class RfmModel:
    """An RFM model: its configuration, the as-of time used, where the values came from
    (``"stats"``: the maintained per-customer statistics; ``"orders"``: the orders, for an
    as-of time earlier than some member's last order), the member count, the boundaries
    that score any customer, and when it was computed."""

    config: RfmConfig
    as_of: _dt.datetime
    source: str
    population: int
    boundaries: RfmBoundaries
    computed_at: _dt.datetime

    @property
    def currency(self) -> str:
        """The model's currency (``config.currency``)."""
        return self.config.currency

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RfmModel:
        """Builds the record from its dict (serde) shape."""
        as_of, computed_at = parse_time(d["as_of"]), parse_time(d["computed_at"])
        assert as_of is not None and computed_at is not None
        return cls(
            config=RfmConfig.from_dict(d["config"]),
            as_of=as_of,
            source=str(d["source"]),
            population=int(d["population"]),
            boundaries=RfmBoundaries.from_dict(d["boundaries"]),
            computed_at=computed_at,
        )

    @classmethod
    def from_json(cls, text: str) -> RfmModel:
        """Builds the record from the native module's JSON."""
        return cls.from_dict(json.loads(text))


FrameParts = Tuple[str, List[Tuple[str, Any]], List[str]]


def table(parts: FrameParts, to: str) -> Any:
    """The native ``compute_rfm`` result as a pandas DataFrame (``to="pandas"``) or a
    pyarrow Table (``to="arrow"``)."""
    if to == "pandas":
        return _pandas(parts)
    if to == "arrow":
        return _arrow(parts)
    raise ValidationError(
        f"invalid to: {to!r}; expected 'pandas' or 'arrow'", field="to", reason="expected 'pandas' or 'arrow'"
    )


def _pandas(parts: FrameParts) -> Any:
    pd = _frames.require_pandas()
    import numpy as np

    model_json, columns, segments = parts
    model = RfmModel.from_json(model_json)
    data: Dict[str, Any] = {}
    for name, buf in columns:
        if name == "segment":
            codes = np.frombuffer(buf, dtype=np.int16)
            data[name] = pd.Categorical.from_codes(codes, categories=segments)
        else:
            data[name] = np.frombuffer(buf, dtype=np.int64)
    n = len(data["customer_id"])
    data["currency"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[model.currency])
    frame = pd.DataFrame(data, columns=RFM_COLUMNS, copy=False)
    frame.attrs["rfm_model"] = model
    return frame


def _arrow(parts: FrameParts) -> Any:
    pa = _frames.require_pyarrow()
    model_json, columns, segments = parts
    model = RfmModel.from_json(model_json)
    arrays = []
    for name, buf in columns:
        if name == "segment":
            n = len(buf) // 2
            codes = pa.Array.from_buffers(pa.int16(), n, [None, pa.py_buffer(buf)])
            arrays.append(pa.DictionaryArray.from_arrays(codes, pa.array(segments, pa.string())))
        else:
            arrays.append(pa.Array.from_buffers(pa.int64(), len(buf) // 8, [None, pa.py_buffer(buf)]))
    n = len(arrays[0])
    currency = pa.DictionaryArray.from_arrays(pa.repeat(pa.scalar(0, pa.int8()), n), pa.array([model.currency]))
    arrays.append(currency)
    return pa.Table.from_arrays(arrays, names=RFM_COLUMNS, metadata={"crm.rfm_model": model_json})
