"""Identity resolution: the customers that are one person or company entered more than once.

The rules are crm-core's (``crm_core::identity``): every customer is standardised (names in
Unicode NFKC, case- and accent-folded, Han characters read in pinyin; mailboxes with Gmail's
dots and ``+tags`` folded; phones in E.164; postal codes, streets and companies without
their legal form), candidate pairs come from blocking keys (mailbox, phone, name, a name
token with the birthday or postcode, ...), and each pair is scored by a Fellegi-Sunter
model whose m and u probabilities are estimated from the data (u from random pairs, m by
EM per blocking rule and the prior from what EM found, as splink does) or given. :meth:`crm.Crm.find_duplicates` returns a
:class:`DuplicateReport`: the pairs at or above a threshold as a DataFrame with each
field's agreement level and weight, the clusters (connected components), and the model.

Fields and their levels, most similar first (``None``: a side has no value, no evidence):

- ``name``: exact, same_parts (another order, or Han characters and their pinyin),
  similar (each token within one edit or a Jaro-Winkler of 0.92), partial (a token left
  out, an initial), different
- ``email``: exact, same_mailbox, same_local (another domain), similar, different
- ``phone``: exact, same_national, one_digit, different
- ``birthday``: exact, typo, different
- ``address``: same_postcode_street, same_street_city, same_postcode, same_city, different
- ``company``: exact, similar, different

:meth:`crm.Crm.merge_customers` folds a duplicate into the customer that remains (its
survivor) and logs why (:class:`MergeRecord`); :meth:`crm.Crm.unmerge_customer` undoes it,
giving each side back what is its own; :meth:`crm.Crm.merge_history` lists a customer's
merges. Survivorship rules, per field or as the default: ``"survivor"`` (the survivor's
value), ``"merged"``, ``"most_recent"`` (the record changed last), ``"most_complete"`` (the
longer value; for the address the one with more parts). A value is never replaced by
nothing; tags are united; consents take the most restrictive answer per purpose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

from . import frames as _frames
from .records import Customer, parse_time

__all__ = [
    "DuplicateReport",
    "FIELDS",
    "PAIR_COLUMNS",
    "MergeOutcome",
    "MergeRecord",
    "SURVIVORSHIP_FIELDS",
    "PREFER",
    "settings_json",
    "merge_request_json",
    "Identity",
    "CANDIDATE_COLUMNS",
    "SUGGESTION_COLUMNS",
    "candidates_frame",
    "suggestions_frame",
]

FIELDS = ("name", "email", "phone", "birthday", "address", "company")
"""The compared fields, in the order of the evidence columns."""

PAIR_COLUMNS = ["a", "b", "probability", "weight"] + [
    f"{f}_{part}" for f in FIELDS for part in ("level", "weight")
]
"""Columns of :attr:`DuplicateReport.pairs`: the two customer ids (``a < b``), the match
probability and weight, then per field its level (text, ``None`` without evidence or when
the model does not compare the field) and its weight (``log2(m / u)``; 0 without a level)."""

_PAIR_SCHEMA = {
    "a": _frames.INT, "b": _frames.INT, "probability": _frames.FLOAT, "weight": _frames.FLOAT,
    **{f"{f}_level": _frames.TEXT for f in FIELDS},
    **{f"{f}_weight": _frames.FLOAT for f in FIELDS},
}


def settings_json(
    model: Optional[Mapping[str, Any]],
    max_block_size: int,
    max_iterations: int,
    u_pairs: int,
    seed: int,
) -> str:
    """The core's ``MatchSettings`` as JSON, but for the threshold (passed as a float, so
    that NaN reaches the core's check); the core checks every bound.

    >>> settings_json(None, 500, 50, 1000, 0)
    '{"model": null, "max_block_size": 500, "max_iterations": 50, "u_pairs": 1000, "seed": 0}'
    """
    return json.dumps(
        {
            "model": None if model is None else dict(model),
            "max_block_size": max_block_size,
            "max_iterations": max_iterations,
            "u_pairs": u_pairs,
            "seed": seed,
        },
    )


@dataclass(frozen=True)
class DuplicateReport:
    """What :meth:`crm.Crm.find_duplicates` found."""

    pairs: Any
    """Pairs at or above the threshold as a DataFrame with :data:`PAIR_COLUMNS`, by
    probability (highest first), then ids."""
    clusters: List[List[int]]
    """Connected components of the pairs: each a sorted list of at least two customer ids,
    clusters by their first id."""
    model: Dict[str, Any]
    """The model the pairs were scored with: ``{"prior": ..., "fields": [{"field": ...,
    "levels": [{"level": ..., "m": ..., "u": ...}]}], "estimation": {...} or None}``. Pass
    it back as ``model=`` to score other data alike without estimating again."""
    threshold: float
    """The threshold applied."""
    stats: Dict[str, int]
    """``customers`` compared, ``candidate_pairs`` scored, ``skipped_blocks`` (blocking keys
    shared by more than ``max_block_size`` customers, which formed no pairs) and
    ``largest_skipped_block``."""

    def cluster_frame(self) -> Any:
        """The clusters as a DataFrame of ``cluster`` (the cluster's smallest customer id)
        and ``customer_id``, one row per clustered customer."""
        rows = [(c[0], i) for c in self.clusters for i in c]
        return _frames.int64_frame({"cluster": [r[0] for r in rows], "customer_id": [r[1] for r in rows]})

    @staticmethod
    def from_json(text: str) -> "DuplicateReport":
        """The report from the core's JSON."""
        d = json.loads(text)
        data: Dict[str, List[Any]] = {c: [] for c in PAIR_COLUMNS}
        for p in d["pairs"]:
            data["a"].append(p["a"])
            data["b"].append(p["b"])
            data["probability"].append(p["probability"])
            data["weight"].append(p["weight"])
            seen = {e["field"]: e for e in p["evidence"]}
            for f in FIELDS:
                e = seen.get(f)
                data[f"{f}_level"].append(None if e is None else e["level"])
                data[f"{f}_weight"].append(0.0 if e is None else e["weight"])
        return DuplicateReport(
            pairs=_frames.frame_from_columns(data, _PAIR_SCHEMA),
            clusters=d["clusters"],
            model=d["model"],
            threshold=d["threshold"],
            stats=d["stats"],
        )


SURVIVORSHIP_FIELDS = (
    "name", "email", "phone", "company", "title", "industry", "address", "birthday", "gender", "attributes", "kind",
)
"""The profile fields survivorship rules name."""

PREFER = ("survivor", "merged", "most_recent", "most_complete", "source_priority")
"""The survivorship rules."""


def merge_request_json(
    actor: Optional[str],
    reason: Optional[str],
    evidence: Any = None,
    prefer: str = "survivor",
    rules: Optional[Mapping[str, str]] = None,
    unmerge: bool = False,
    source_priority: Optional[Sequence[str]] = None,
) -> str:
    """The core's ``MergeRequest`` (or ``UnmergeRequest``) as JSON; the core checks every
    bound and name.

    >>> merge_request_json("ops", "same email", {"score": 0.98}, rules={"email": "most_recent"})
    '{"actor": "ops", "reason": "same email", "evidence": {"score": 0.98}, "survivorship": {"default": "survivor", "fields": {"email": "most_recent"}, "source_priority": []}}'
    """
    d: Dict[str, Any] = {"actor": actor, "reason": reason}
    if not unmerge:
        d["evidence"] = evidence
        d["survivorship"] = {
            "default": prefer, "fields": dict(rules or {}), "source_priority": list(source_priority or []),
        }
    try:
        return json.dumps(d, default=_frames.json_default, allow_nan=False)
    except ValueError:  # NaN or infinity in the evidence
        from .exceptions import ValidationError

        reason = "NaN and infinity are not JSON; replace them with None"
        raise ValidationError(f"invalid evidence: {reason}", field="evidence", reason=reason) from None


@dataclass(frozen=True)
class MergeRecord:
    """One merge in the merge log: who, when, why, on what evidence, and both profiles as
    they were (so an unmerge can restore them)."""

    id: int
    survivor: int
    """The customer that remained."""
    merged: int
    """The customer folded into it."""
    actor: Optional[str]
    reason: Optional[str]
    evidence: Any
    survivorship: Dict[str, Any]
    """``{"default": rule, "fields": {field: rule}}``."""
    merged_at: Any
    survivor_before: Customer
    merged_before: Customer
    survivor_after: Customer
    unmerged_at: Any
    """When the merge was undone (``None`` while it stands)."""
    unmerged_by: Optional[str]
    unmerge_reason: Optional[str]

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> "MergeRecord":
        """The record from the core's dict shape."""
        return MergeRecord(
            id=int(d["id"]),
            survivor=int(d["survivor"]),
            merged=int(d["merged"]),
            actor=d.get("actor"),
            reason=d.get("reason"),
            evidence=d.get("evidence"),
            survivorship=dict(d.get("survivorship") or {}),
            merged_at=parse_time(d["merged_at"]),
            survivor_before=Customer.from_dict(d["survivor_before"]),
            merged_before=Customer.from_dict(d["merged_before"]),
            survivor_after=Customer.from_dict(d["survivor_after"]),
            unmerged_at=parse_time(d.get("unmerged_at")),
            unmerged_by=d.get("unmerged_by"),
            unmerge_reason=d.get("unmerge_reason"),
        )


@dataclass(frozen=True)
class MergeOutcome:
    """What :meth:`crm.Crm.merge_customers` or :meth:`crm.Crm.unmerge_customer` did."""

    merge: MergeRecord
    survivor: Customer
    """The survivor as stored now."""
    merged: Customer
    """The merged customer as stored now (``merged_into`` set while the merge stands)."""
    orders_moved: int
    interactions_moved: int
    points_moved: int
    """Unspent loyalty points moved (orders' points follow their orders, not counted here)."""
    replayed: bool
    """``True`` when the call repeated one already done; nothing was written."""

    @staticmethod
    def from_json(text: str) -> "MergeOutcome":
        """The outcome from the core's JSON."""
        d = json.loads(text)
        return MergeOutcome(
            merge=MergeRecord.from_dict(d["merge"]),
            survivor=Customer.from_dict(d["survivor"]),
            merged=Customer.from_dict(d["merged"]),
            orders_moved=int(d["orders_moved"]),
            interactions_moved=int(d["interactions_moved"]),
            points_moved=int(d["points_moved"]),
            replayed=bool(d["replayed"]),
        )


CANDIDATE_COLUMNS = ["customer_id", "probability", "weight"] + [
    f"{f}_{part}" for f in FIELDS for part in ("level", "weight")
]
"""Columns of :meth:`crm.Crm.match_customer`'s frame: the stored customer, the match
probability and weight, then per field its level and weight as in :data:`PAIR_COLUMNS`."""

_CANDIDATE_SCHEMA = {
    "customer_id": _frames.INT, "probability": _frames.FLOAT, "weight": _frames.FLOAT,
    **{f"{f}_level": _frames.TEXT for f in FIELDS},
    **{f"{f}_weight": _frames.FLOAT for f in FIELDS},
}


def _evidence_columns(data: Dict[str, List[Any]], evidence: List[Mapping[str, Any]]) -> None:
    seen = {e["field"]: e for e in evidence}
    for f in FIELDS:
        e = seen.get(f)
        data[f"{f}_level"].append(None if e is None else e["level"])
        data[f"{f}_weight"].append(0.0 if e is None else e["weight"])


def candidates_frame(text: str) -> Any:
    """The core's candidates (JSON) as a DataFrame with :data:`CANDIDATE_COLUMNS`."""
    data: Dict[str, List[Any]] = {c: [] for c in CANDIDATE_COLUMNS}
    for m in json.loads(text):
        data["customer_id"].append(m["customer"])
        data["probability"].append(m["probability"])
        data["weight"].append(m["weight"])
        _evidence_columns(data, m["evidence"])
    return _frames.frame_from_columns(data, _CANDIDATE_SCHEMA)


SUGGESTION_COLUMNS = ["id", "customer_id", "candidate_id", "probability", "status", "created_at"] + [
    f"{f}_{part}" for f in FIELDS for part in ("level", "weight")
]
"""Columns of :meth:`crm.Crm.match_suggestions`'s frame: the suggestion's id, the customer
created, the stored customer it matched, the probability, ``open``/``dismissed``/``merged``,
when it was made, then the evidence per field."""

_SUGGESTION_SCHEMA = {
    "id": _frames.INT, "customer_id": _frames.INT, "candidate_id": _frames.INT, "probability": _frames.FLOAT,
    "status": _frames.TEXT, "created_at": _frames.TIME,
    **{f"{f}_level": _frames.TEXT for f in FIELDS},
    **{f"{f}_weight": _frames.FLOAT for f in FIELDS},
}


def suggestions_frame(text: str) -> Any:
    """The core's suggestions (JSON) as a DataFrame with :data:`SUGGESTION_COLUMNS`."""
    data: Dict[str, List[Any]] = {c: [] for c in SUGGESTION_COLUMNS}
    for s in json.loads(text):
        data["id"].append(s["id"])
        data["customer_id"].append(s["customer"])
        data["candidate_id"].append(s["candidate"])
        data["probability"].append(s["probability"])
        data["status"].append(s["status"])
        data["created_at"].append(parse_time(s["created_at"]))
        _evidence_columns(data, s["evidence"] if isinstance(s["evidence"], list) else [])
    return _frames.frame_from_columns(data, _SUGGESTION_SCHEMA)


@dataclass(frozen=True)
class Identity:
    """One system's key for a customer: ``(source, external_id)`` naming ``customer_id``."""

    source: str
    external_id: str
    customer_id: int
    """The customer it was linked to (for one merged into another, that one; it resolves
    to the survivor)."""
    created_at: Any

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> "Identity":
        """The identity from the core's dict shape."""
        return Identity(
            source=d["source"],
            external_id=d["external_id"],
            customer_id=int(d["customer"]),
            created_at=parse_time(d["created_at"]),
        )
