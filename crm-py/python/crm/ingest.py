"""Bulk ingest results and progress reporting."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Union

from .frames import require_pandas

__all__ = ["IngestReport", "RowError", "ProgressArg", "progress_callback"]

ProgressArg = Union[None, bool, Callable[[int, Optional[int]], Any]]
"""``None``: a tqdm bar for large inputs when tqdm is installed; ``False``: none;
``True``: a tqdm bar always; a callable: called ``(rows_done, rows_total)`` after each
committed batch, with the GIL held. The callable returning ``False`` (exactly; ``None``
and any other value go on) cancels the ingest: the batches committed so far stay, and
the report says ``cancelled``."""

# Inputs this large take about a second or more to ingest.
AUTO_PROGRESS_ROWS = 100_000


@dataclass(frozen=True)
class RowError:
    """A row that was not stored: its 1-based position (the line, for files), the
    offending field where known, and the reason."""

    row: int
    field: Optional[str]
    reason: str


@dataclass(frozen=True)
class IngestReport:
    """What a bulk ingest did: counts, and the refused rows (up to ``max_errors``).
    ``cancelled`` is True when the progress callback stopped the ingest while rows were
    left: ``rows`` were read and their batches committed, no later row was stored.
    ``ignored_columns`` lists the input's columns that were skipped because they are not
    columns of the record kind (``ignore_unknown_columns=True``)."""

    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: List[RowError] = field(default_factory=list)
    cancelled: bool = False
    ignored_columns: List[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, text: str) -> IngestReport:
        """Builds the report from the native JSON."""
        d = json.loads(text)
        return cls(
            rows=d["rows"],
            created=d["created"],
            updated=d["updated"],
            unchanged=d["unchanged"],
            failed=d["failed"],
            errors=[RowError(e["row"], e.get("field"), e["reason"]) for e in d["errors"]],
            cancelled=d.get("cancelled", False),
            ignored_columns=list(d.get("ignored_columns", [])),
        )

    @property
    def ok(self) -> bool:
        """Whether every row was stored (or already stored)."""
        return self.failed == 0

    def errors_frame(self) -> Any:
        """The refused rows as a DataFrame with columns ``row`` (int64), ``field``, ``reason``."""
        pd = require_pandas()
        return pd.DataFrame(
            {
                "row": pd.Series([e.row for e in self.errors], dtype="int64"),
                "field": pd.Series([e.field for e in self.errors], dtype=object),
                "reason": pd.Series([e.reason for e in self.errors], dtype=object),
            }
        )


class _Bar:
    """A tqdm bar driven by ``(done, total)`` calls."""

    def __init__(self, desc: str) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(desc=desc, unit=" rows", unit_scale=True)
        self._done = 0

    def __call__(self, done: int, total: Optional[int]) -> None:
        if total is not None and self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        self._bar.close()


def _have_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def progress_callback(
    progress: ProgressArg, desc: str, rows: Optional[int] = None, path: Optional[str] = None
) -> Optional[Callable[[int, Optional[int]], Any]]:
    """The callback for ``progress`` (see :data:`ProgressArg`), or None for no progress."""
    if progress is False:
        return None
    if callable(progress):
        return progress
    if progress is None:
        if rows is None and path is not None:
            # About 100 bytes a row: files of 10 MB and more take a second or more.
            rows = os.path.getsize(path) // 100 if os.path.exists(path) else 0
        if (rows or 0) < AUTO_PROGRESS_ROWS or not _have_tqdm():
            return None
    if not _have_tqdm():
        raise ImportError("progress=True needs tqdm: pip install 'crm[progress]'")
    return _Bar(desc)
