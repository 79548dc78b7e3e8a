"""DataFrame and Arrow conversion: plain Python over pandas, imported lazily.

Frames that leave crm have fixed dtypes, whatever the data and also when empty: ids,
counts and points ``int64``; a column of them that can be missing is pandas' nullable
``Int64`` (always, not only when a value is missing); times ``datetime64[us, UTC]``
(missing ones ``NaT``); money as ``int64`` minor units beside a ``currency`` column, never
floats; model outputs ``float64``; text ``object``. Each frame declares its columns with
one of the dtypes below (:data:`INT`, :data:`NULLABLE_INT`, :data:`TIME`, ...). Frames
that enter crm (bulk ingest) hold the CSV columns of the record kind
(``crm.ORDER_COLUMNS`` and friends).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _crm

__all__ = ["require_pandas", "require_pyarrow", "to_arrow", "ingest_columns", "arrow_ingest_columns"]


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


# The dtypes of the columns of the frames crm hands out.
INT = "int64"
"""Integers never missing: ids, counts, points, money in minor units."""
NULLABLE_INT = "Int64"
"""Integers that can be missing (``order_id`` of an entry without an order): pandas' nullable
integers, with ``<NA>`` for a missing value."""
TIME = "datetime64[us, UTC]"
"""Instants (and the first days of periods, as midnight UTC); ``NaT`` where missing."""
FLOAT = "float64"
"""Model outputs and shares: expectations, probabilities, ratios."""
BOOL = "bool"
"""Flags."""
TEXT = "object"
"""Text (``None`` where missing), lists and dicts."""

Schema = Mapping[str, str]
"""Columns of a frame in order, each with its dtype."""


def utc_times(values: Sequence[Any]) -> Any:
    """RFC 3339 times (or dates) from the core as a ``datetime64[us, UTC]`` Series (None: NaT)."""
    pd = require_pandas()
    return pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601").dt.as_unit("us")


def column(values: Sequence[Any], dtype: str) -> Any:
    """A column of core values with one of the dtypes above."""
    pd = require_pandas()
    if dtype == TIME:
        return utc_times(values)
    if dtype in (INT, NULLABLE_INT):
        ints = pd.array([None if v is None else int(v) for v in values], dtype="Int64")
        # An int64 column with a missing value is a bug in crm, not data to hide.
        return pd.Series(ints.astype("int64") if dtype == INT else ints)
    return pd.Series(values, dtype=dtype)


def typed_frame(rows: Sequence[Mapping[str, Any]], schema: Schema) -> Any:
    """A DataFrame of flat dict rows with the dtypes of ``schema`` (see the module docstring).
    Keys of the rows that the schema does not name follow as :data:`TEXT` columns, so that a
    field the core adds is never dropped on the way."""
    pd = require_pandas()
    extra: Dict[str, str] = {}
    for r in rows:
        for k in r:
            if k not in schema and k not in extra:
                extra[k] = TEXT
    full = {**schema, **extra}
    return pd.DataFrame({c: column([r.get(c) for r in rows], dtype) for c, dtype in full.items()})


def frame_from_columns(data: Mapping[str, List[Any]], schema: Schema) -> Any:
    """A DataFrame of columns (lists) with the dtypes of ``schema`` (:data:`TEXT` for any
    column it does not name)."""
    pd = require_pandas()
    return pd.DataFrame({name: column(values, schema.get(name, TEXT)) for name, values in data.items()})


def int64_frame(columns: Mapping[str, Sequence[int]]) -> Any:
    """A DataFrame of integer columns (ids, scores), each ``int64`` even when empty."""
    pd = require_pandas()
    import numpy as np

    return pd.DataFrame({name: np.asarray(values, dtype=INT) for name, values in columns.items()})


CUSTOMER_SCHEMA: Dict[str, str] = {
    "id": INT, "external_id": TEXT, "kind": TEXT, "name": TEXT, "email": TEXT, "phone": TEXT,
    "company": TEXT, "title": TEXT, "industry": TEXT, "country": TEXT, "region": TEXT, "city": TEXT,
    "postal_code": TEXT, "street": TEXT, "birthday": TEXT, "gender": TEXT, "tags": TEXT,
    "attributes": TEXT, "consents": TEXT, "lifecycle": TEXT, "created_at": TIME, "updated_at": TIME,
    "merged_into": NULLABLE_INT,
}
"""Columns of a customers frame: the record with its address parts as columns, ``birthday``
as ISO 8601 date text, ``tags`` a sorted list, ``attributes`` and ``consents`` dicts."""

CUSTOMER_FRAME_COLUMNS = list(CUSTOMER_SCHEMA)

_ADDRESS = ("country", "region", "city", "postal_code", "street")


def flat_customer(d: Mapping[str, Any]) -> Dict[str, Any]:
    """A customer dict (serde shape) flattened to one frame row (address parts, tags list)."""
    row = {k: d.get(k) for k in CUSTOMER_SCHEMA if k not in _ADDRESS}
    address = d.get("address") or {}
    row.update({k: address.get(k) for k in _ADDRESS})
    row["tags"] = sorted(d.get("tags") or ())
    row["attributes"] = dict(d.get("attributes") or {})
    row["consents"] = dict(d.get("consents") or {})
    return {k: row[k] for k in CUSTOMER_SCHEMA}


def customers_frame(customers: Iterable[Mapping[str, Any]]) -> Any:
    """A DataFrame of customer dicts, one row each (see :data:`CUSTOMER_SCHEMA`)."""
    return typed_frame([flat_customer(c) for c in customers], CUSTOMER_SCHEMA)


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
        return json.dumps(v, default=json_default)
    if hasattr(v, "tolist"):  # numpy arrays (for example list columns from Arrow)
        return _cell(name, v.tolist())
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return str(v)


def json_default(v: Any) -> Any:
    # Times are UTC: a naive datetime (or numpy/pandas time) is read as UTC, as everywhere
    # else in the package; a date is its midnight, UTC.
    if isinstance(v, _dt.datetime):
        return (v if v.tzinfo is not None else v.replace(tzinfo=_dt.timezone.utc)).isoformat()
    if isinstance(v, _dt.date):
        return _dt.datetime(v.year, v.month, v.day, tzinfo=_dt.timezone.utc).isoformat()
    if hasattr(v, "to_pydatetime"):
        return json_default(v.to_pydatetime())
    if type(v).__name__ == "datetime64":
        return json_default(v.astype("datetime64[us]").item())
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, (set, frozenset)):
        return sorted(v)
    if hasattr(v, "tolist"):
        return v.tolist()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


TextBlock = Tuple[bytes, bytes, Optional[bytes]]
"""Rows of a text column as UTF-8 data, int64 cell offsets and an optional validity mask."""

IngestColumn = Tuple[str, str, Union[bytes, Callable[[int, int], TextBlock]], Optional[bytes]]
"""One column for the native ingest: ``(name, kind, data, valid)``; see :func:`ingest_columns`."""


def ingest_columns(frame: Any) -> Tuple[List[IngestColumn], int]:
    """A DataFrame as columns for the native ingest, and its row count.

    Each column is ``(name, kind, data, valid)``. Kinds ``int`` and ``time`` carry their
    values as int64 bytes (times in microseconds since 1970 UTC) and ``valid`` None or
    one byte per row, 0 where the cell is missing; both are made by numpy, whole columns
    at a time. Kind ``text`` carries a function ``(start, stop) -> TextBlock`` that the
    native side calls for one block of rows at a time on its converting thread, so
    turning Python strings into UTF-8 overlaps the writes instead of preceding them
    (Arrow-backed text is sliced from its buffers, without Python strings at all).

    Times: ``datetime64`` columns of any unit, UTC or another zone; naive ones are read as
    UTC. Integer columns in a time field count microseconds since 1970 UTC. Float columns
    whose values are whole numbers are sent as integers; other floats as text, which the
    core refuses where an integer is expected: money never passes through a float.
    """
    columns = [_series_column(str(label), frame.iloc[:, i]) for i, label in enumerate(frame.columns)]
    return columns, len(frame)


def arrow_ingest_columns(table: Any) -> Tuple[List[IngestColumn], int]:
    """A pyarrow Table or RecordBatch as columns for the native ingest (see
    :func:`ingest_columns`), and its row count. Text, timestamp and integer columns are
    read from their Arrow buffers; other types (lists, structs, dates, floats, booleans)
    through pandas, column by column, as a DataFrame's would be."""
    pa = require_pyarrow()
    out: List[IngestColumn] = []
    for name, col in zip(table.column_names, table.columns):
        t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            out.append((name, "text", _arrow_text_source(col), None))
        elif pa.types.is_timestamp(t):
            us = col.cast(pa.timestamp("us", tz=t.tz), safe=False).cast(pa.int64())
            out.append((name, "time", _arrow_int64s(us), _arrow_valid(col)))
        elif pa.types.is_integer(t) and not pa.types.is_uint64(t):
            out.append((name, "int", _arrow_int64s(col.cast(pa.int64())), _arrow_valid(col)))
        else:
            out.append(_series_column(name, col.to_pandas()))
    return out, table.num_rows


def _series_column(name: str, s: Any) -> IngestColumn:
    """One DataFrame column for the native ingest (see :func:`ingest_columns`)."""
    pd = require_pandas()
    import numpy as np

    api = pd.api.types
    if api.is_datetime64_any_dtype(s.dtype):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert(None)
        us = s.to_numpy(dtype="datetime64[us]").view("int64")
        return (name, "time", us.astype("<i8").tobytes(), _valid(s))
    if api.is_bool_dtype(s.dtype):
        text = [None if _is_missing(v) else ("true" if v else "false") for v in s.tolist()]
        return (name, "text", _text_source(name, text), None)
    if api.is_integer_dtype(s.dtype):
        return (name, "int", s.to_numpy(dtype="<i8", na_value=0).tobytes(), _valid(s))
    if api.is_float_dtype(s.dtype):
        arr = s.to_numpy(dtype="float64", na_value=np.nan)
        finite = arr[~np.isnan(arr)]
        if np.all(np.isfinite(finite)) and np.all(finite == np.round(finite)) and np.all(np.abs(finite) < 2**53):
            return (name, "int", np.nan_to_num(arr).astype("<i8").tobytes(), _valid(s))
        text = [None if math.isnan(v) else repr(v) for v in arr.tolist()]
        return (name, "text", _text_source(name, text), None)
    arrow = _arrow_strings(s)
    if arrow is not None:
        return (name, "text", _arrow_text_source(arrow), None)
    return (name, "text", _text_source(name, s.to_numpy(dtype=object)), None)


def _arrow_strings(s: Any) -> Any:
    """The Arrow array behind a pandas text column stored in Arrow, else None."""
    pd = require_pandas()
    if getattr(s.dtype, "storage", None) not in ("pyarrow", "pyarrow_numpy") and not isinstance(
        s.dtype, pd.ArrowDtype
    ):
        return None
    pa = require_pyarrow()
    arr = pa.array(s.array)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    return arr


def _arrow_int64s(col: Any) -> bytes:
    """An Arrow int64 column as little-endian bytes (nulls as 0)."""
    import numpy as np

    return bytes(np.asarray(col.fill_null(0).to_numpy(), dtype="<i8").tobytes())


def _arrow_valid(col: Any) -> Optional[bytes]:
    """One byte per row of an Arrow column, 0 where it is null; None when none is."""
    import numpy as np

    if col.null_count == 0:
        return None
    return bytes(np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=np.uint8).tobytes())


def _arrow_text_source(col: Any) -> Callable[[int, int], TextBlock]:
    """An Arrow text column as blocks of rows, sliced from its buffers."""
    pa = require_pyarrow()
    import numpy as np

    col = col.cast(pa.large_string())

    def block(start: int, stop: int) -> TextBlock:
        a = col.slice(start, stop - start)
        if isinstance(a, pa.ChunkedArray):
            a = a.combine_chunks()
        _, offsets_buf, data_buf = a.buffers()
        offsets = np.frombuffer(offsets_buf, dtype="<i8", count=len(a) + 1, offset=a.offset * 8)
        first, last = int(offsets[0]), int(offsets[-1])
        data = data_buf.slice(first, last - first).to_pybytes() if last > first else b""
        valid = None if a.null_count == 0 else np.asarray(a.is_valid(), dtype=np.uint8).tobytes()
        return data, (offsets - first).astype("<i8").tobytes(), valid

    return block


def _valid(s: Any) -> Optional[bytes]:
    """One byte per row of ``s``, 0 where it is missing; None when nothing is."""
    import numpy as np

    missing = np.asarray(s.isna(), dtype=bool)
    return (~missing).astype(np.uint8).tobytes() if missing.any() else None


def _text_source(name: str, values: Any) -> Callable[[int, int], TextBlock]:
    """The text cells ``values`` (a list, or a numpy array of objects, turned into lists
    one block at a time, on the native converting thread) as blocks of rows (see
    :func:`text_block`)."""

    def block(start: int, stop: int) -> TextBlock:
        cells = values[start:stop]
        return text_block(name, cells if isinstance(cells, list) else cells.tolist())

    return block


def text_block(name: str, cells: List[Any]) -> TextBlock:
    """UTF-8 data, int64 offsets and validity of text cells (``None`` or NaN missing;
    lists, dicts and other values as :func:`_cell` writes them).

    Joining the cells once and measuring them with ``len`` costs a few nanoseconds a
    cell; for text that is all ASCII (known in constant time from the joined string)
    character counts are byte counts. Other text is encoded cell by cell.

    >>> data, offsets, valid = text_block("name", ["Ada", None, "Zoë"])
    >>> data.decode(), list(memoryview(offsets).cast("q")), list(valid or b"")
    ('AdaZoë', [0, 3, 3, 7], [1, 0, 1])
    """
    import numpy as np

    valid: Optional[bytes] = None
    try:
        joined = "".join(cells)
    except TypeError:
        texts = [_cell(name, v) for v in cells]
        valid = bytes(t is not None for t in texts)
        cells = ["" if t is None else t for t in texts]
        joined = "".join(cells)
    if joined.isascii():
        data = joined.encode("ascii")
        lengths = np.fromiter(map(len, cells), dtype=np.int64, count=len(cells))
    else:
        # Lone surrogates pass through and reach the core as bytes that are not UTF-8,
        # which it reports on their row rather than failing the whole column.
        encoded = [c.encode("utf-8", "surrogatepass") for c in cells]
        data = b"".join(encoded)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(cells))
    offsets = np.zeros(len(cells) + 1, dtype="<i8")
    np.cumsum(lengths, out=offsets[1:])
    return data, offsets.tobytes(), valid


# A line nested one level past the core's JSON limit: it stands for a record too deep for
# Python's encoder, so that the core refuses that row (and only that row) with its own error
# naming the limit, as it refuses a too-deep line of a JSON Lines file.
_TOO_DEEP_LINE = "[" * 128 + "]" * 128


def records_jsonl(records: Iterable[Mapping[str, Any]]) -> Tuple[str, int]:
    """Dict records as JSON Lines text in the core's serde shape, and their count."""
    lines = []
    for r in records:
        try:
            lines.append(json.dumps(r, default=json_default, separators=(",", ":")))
        except RecursionError:
            lines.append(_TOO_DEEP_LINE)
    return "\n".join(lines), len(lines)


def record_json(record: Mapping[str, Any]) -> str:
    """One dict record as JSON (datetimes as ISO 8601, sets as sorted lists). A record nested
    too deep for the encoder (a rule tree thousands of levels deep) raises the core's
    :class:`crm.ValidationError` naming the nesting limit, not RecursionError."""
    try:
        return json.dumps(record, default=json_default, separators=(",", ":"))
    except RecursionError:
        _crm.json_too_deep_error("record")
        raise
