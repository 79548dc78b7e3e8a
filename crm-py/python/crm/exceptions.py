"""Exceptions raised by crm.

Every error is a :class:`CrmError`; each subclass also inherits the built-in exception it
resembles, so ``except ValueError`` and ``except KeyError`` work as a Python user expects.
The native module raises these classes (converted in one place, ``crm-py/src/error.rs``).
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "CrmError",
    "ValidationError",
    "NotFoundError",
    "ConflictError",
    "ParseError",
    "SchemaTooNewError",
    "StorageError",
    "BusyError",
    "UnavailableError",
    "IoError",
    "InsufficientPointsError",
    "CancelledError",
    "MergeError",
]


class CrmError(Exception):
    """Base class of every crm error (also raised on use of a closed handle)."""

    def __init__(self, message: str, **_: Any) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(CrmError, ValueError):
    """An input value broke a rule; nothing was written.

    ``field`` names the offending field (dotted for nested ones, such as
    ``address.country`` or ``items[2].quantity``); ``reason`` says what was wrong.
    """

    def __init__(self, message: str, *, field: str = "", reason: str = "", **_: Any) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason


class NotFoundError(CrmError, KeyError):
    """The referenced record does not exist (``entity`` and ``id`` say which)."""

    def __init__(self, message: str, *, entity: str = "", id: str = "", **_: Any) -> None:
        super().__init__(message)
        self.entity = entity
        self.id = id


class ParseError(CrmError, ValueError):
    """Rule-language text did not parse; nothing was evaluated or written.

    ``line`` and ``column`` (both from 1; the column counts characters) locate the offending
    token, ``found`` names it (``end of input`` at the end) and ``expected`` says what the
    grammar wanted there.

    >>> import crm
    >>> try:
    ...     crm.parse_rule('country = "SG" and\\n  total_spent >=')
    ... except crm.ParseError as e:
    ...     (e.line, e.column, e.found)
    (2, 17, 'end of input')
    """

    def __init__(
        self, message: str, *, line: int = 0, column: int = 0, found: str = "", expected: str = "", **_: Any
    ) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.found = found
        self.expected = expected


class ConflictError(CrmError):
    """The write conflicts with stored state, such as an external id owned by another record."""


class SchemaTooNewError(CrmError):
    """The database file was written by a newer crm; upgrade the package."""

    def __init__(
        self, message: str, *, found: Optional[int] = None, supported: Optional[int] = None, **_: Any
    ) -> None:
        super().__init__(message)
        self.found = found
        self.supported = supported


class StorageError(CrmError):
    """The storage engine failed; nothing of the call was written. ``kind`` names what kind
    of failure it was, the same for every engine: ``"busy"`` and ``"unavailable"`` (raised
    as the subclasses :class:`BusyError` and :class:`UnavailableError`, where a retry may
    help), ``"auth"`` (a database server refused the credentials), ``"constraint"``, ``"corrupt"``, ``"full"``, ``"read_only"``, ``"limit"`` or
    ``"other"``."""

    def __init__(self, message: str, *, kind: str = "other", **_: Any) -> None:
        super().__init__(message)
        self.kind = kind


class BusyError(StorageError):
    """Another writer (a thread or a process) held the database longer than the busy
    timeout; nothing was written. Retrying the same call later is safe: external ids and
    idempotency keys make a retried write apply once."""


class UnavailableError(StorageError, ConnectionError):
    """The database could not be opened or reached (a missing directory, no permission);
    nothing was written. Retry once the cause is fixed."""


class IoError(CrmError, OSError):
    """A file could not be read or written."""


class InsufficientPointsError(CrmError, ValueError):
    """A redemption or debit asked for more loyalty points than the account has available
    (pending and expired points do not count); nothing was written. ``available`` and
    ``requested`` give both numbers.
    """

    def __init__(self, message: str, *, available: int = 0, requested: int = 0, **_: Any) -> None:
        super().__init__(message)
        self.available = available
        self.requested = requested


class CancelledError(CrmError):
    """A long call (a summary, a fit, scoring customers) was stopped by its ``progress``
    callback returning ``False``; it wrote nothing and returned nothing. (Ctrl-C stops such
    a call too, and raises ``KeyboardInterrupt``.)"""


class MergeError(CrmError):
    """A merge or unmerge of customers was refused; nothing was written. ``kind`` says why:
    ``"self_merge"`` (a customer merged with itself), ``"merged_away"`` (a customer already
    merged into another, as survivor or as the one to merge), ``"cycle"`` (the survivor is
    merged into the customer to merge), ``"too_deep"`` (a chain of more than 16 merges),
    ``"not_merged"`` (an unmerge of a customer never merged) or ``"order"`` (an unmerge of a
    customer whose survivor was since merged into another: unmerge that first)."""

    def __init__(self, message: str, *, kind: str = "", **_: Any) -> None:
        super().__init__(message)
        self.kind = kind
