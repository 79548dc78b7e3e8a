"""DataFrame and Arrow conversion: plain Python over pandas, imported lazily.

Frames that leave crm have fixed dtypes: ids and counts ``int64`` (``Int64`` where they
may be missing), times ``datetime64[..., UTC]``, money as ``int64`` minor units beside a
``currency`` column, never floats. Frames that enter crm (bulk ingest) hold the CSV
columns of the record kind (``crm.ORDER_COLUMNS`` and friends).
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple

__all__ = ["require_pandas", "require_pyarrow", "to_arrow", "ingest_columns"]


def require_pandas() -> Any:
    """Imports pandas, or raises an ImportError that names the extra to install."""
    try:
        import pandas
    except ImportError as e:
        raise ImportError("this needs pandas: pip install 'crm[pandas]'") from e
    return pandas


def require_pyarrow() -> Any:
    """Imports pyarrow, or raises an ImportError that names the extra to install."""
    try:
        import pyarrow
    except ImportError as e:
        raise ImportError("this needs pyarrow: pip install 'crm[arrow]'") from e
    return pyarrow


def to_arrow(frame: Any) -> Any:
    """A pyarrow Table of a frame made by crm (same columns and types)."""
    pa = require_pyarrow()
    return pa.Table.from_pandas(frame, preserve_index=False)


# Column types of the frames crm hands out, by record kind (CSV columns for synth frames).
INT_COLUMNS = {"id", "customer_id", "total_minor", "seq", "merged_into", "spent_minor", "order_count", "quantity"}
TIME_COLUMNS = {"created_at", "updated_at", "occurred_at", "at", "last_order_at", "first_order_at"}


def typed_frame(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Any:
    """A DataFrame of flat dict rows with crm's dtypes (see the module docstring)."""
    pd = require_pandas()
    data: Dict[str, Any] = {c: [r.get(c) for r in rows] for c in columns}
    return frame_from_columns(data)


def frame_from_columns(data: Mapping[str, List[Any]]) -> Any:
    """A DataFrame of columns (lists) with crm's dtypes; text columns stay ``object``."""
    pd = require_pandas()
    out: Dict[str, Any] = {}
    for name, values in data.items():
        if name in TIME_COLUMNS:
            out[name] = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
        elif name in INT_COLUMNS:
            ints = pd.array(
                [None if v is None else int(v) for v in values], dtype="Int64"
            )
            out[name] = ints.astype("int64") if not ints.isna().any() else ints
        else:
            out[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(out)


def int64_frame(columns: Mapping[str, Sequence[int]]) -> Any:
    """A DataFrame of integer columns (ids, scores), each ``int64`` even when empty."""
    pd = require_pandas()
    import numpy as np

    return pd.DataFrame({name: np.asarray(values, dtype="int64") for name, values in columns.items()})


CUSTOMER_FRAME_COLUMNS = [
    "id", "external_id", "kind", "name", "email", "phone", "company", "title", "industry",
    "country", "region", "city", "postal_code", "street", "birthday", "gender", "tags",
    "lifecycle", "created_at", "updated_at", "merged_into",
]


def flat_customer(d: Mapping[str, Any]) -> Dict[str, Any]:
    """A customer dict (serde shape) flattened to one frame row (address parts, tags list)."""
    row = {k: d.get(k) for k in CUSTOMER_FRAME_COLUMNS}
    row.update(d.get("address") or {})
    row["tags"] = sorted(d.get("tags") or ())
    return row


def customers_frame(customers: Iterable[Mapping[str, Any]]) -> Any:
    """A DataFrame of customer dicts, one row each."""
    return typed_frame([flat_customer(c) for c in customers], CUSTOMER_FRAME_COLUMNS)


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or type(v).__name__ in ("NaTType", "NAType")


def _cell(name: str, v: Any) -> Any:
    if _is_missing(v):
        return None
    if isinstance(v, str):
        return v
    if name == "tags" and isinstance(v, (list, tuple, set, frozenset)):
        return ";".join(sorted(str(t) for t in v))
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, default=_json_default)
    if hasattr(v, "tolist"):  # numpy arrays (for example list columns from Arrow)
        return _cell(name, v.tolist())
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return str(v)


def _json_default(v: Any) -> Any:
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, (set, frozenset)):
        return sorted(v)
    if hasattr(v, "tolist"):
        return v.tolist()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


def ingest_columns(frame: Any) -> List[Tuple[str, str, List[Any]]]:
    """A DataFrame as ``[(column, kind, values)]`` for the native ingest (kinds ``int``,
    ``time`` in microseconds since 1970 UTC, ``text``). Vectorised where pandas allows.

    Naive timestamps are read as UTC. Float columns whose values are whole numbers are
    sent as integers; other floats as text, which the core refuses where an integer is
    expected: money never passes through a float.
    """
    pd = require_pandas()
    import numpy as np

    api = pd.api.types
    out: List[Tuple[str, str, List[Any]]] = []
    for name in frame.columns:
        s = frame[name]
        mask = s.isna().to_numpy()
        if api.is_datetime64_any_dtype(s.dtype):
            if getattr(s.dt, "tz", None) is not None:
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
            values = s.to_numpy(dtype="datetime64[us]").view("int64").tolist()
            kind = "time"
        elif api.is_bool_dtype(s.dtype):
            values = ["true" if v else "false" for v in s.tolist()]
            kind = "text"
        elif api.is_integer_dtype(s.dtype):
            values = s.to_numpy(dtype="int64", na_value=0).tolist()
            kind = "int"
        elif api.is_float_dtype(s.dtype):
            arr = s.to_numpy(dtype="float64", na_value=np.nan)
            finite = arr[~mask]
            if np.all(np.isfinite(finite)) and np.all(finite == np.round(finite)) and np.all(np.abs(finite) < 2**53):
                values = np.nan_to_num(arr).astype("int64").tolist()
                kind = "int"
            else:
                values = [repr(v) for v in arr.tolist()]
                kind = "text"
        else:
            if api.infer_dtype(s, skipna=True) in ("string", "empty"):
                values = s.astype(object).tolist()
            else:
                values = [_cell(str(name), v) for v in s.astype(object).tolist()]
            kind = "text"
        if mask.any():
            for i in np.flatnonzero(mask).tolist():
                values[i] = None
        out.append((str(name), kind, values))
    return out


def records_jsonl(records: Iterable[Mapping[str, Any]]) -> Tuple[str, int]:
    """Dict records as JSON Lines text in the core's serde shape, and their count."""
    lines = [json.dumps(r, default=_json_default, separators=(",", ":")) for r in records]
    return "\n".join(lines), len(lines)


def record_json(record: Mapping[str, Any]) -> str:
    """One dict record as JSON (datetimes as ISO 8601, sets as sorted lists)."""
    return json.dumps(record, default=_json_default, separators=(",", ":"))
