"""Shared fixtures: a fresh file database per test."""

from __future__ import annotations

from typing import Iterator

import pytest

import crm


@pytest.fixture
def db(tmp_path) -> Iterator[crm.Crm]:
    with crm.open(tmp_path / "t.db") as handle:
        yield handle


@pytest.fixture
def ada(db: crm.Crm) -> crm.Customer:
    return db.upsert_customer({"external_id": "C-1", "name": "Ada Lovelace", "email": "ada@example.com",
                               "address": {"country": "GB"}, "tags": ["vip"]}).record


def order(ext: str = "O-1", customer: str = "C-1", total: int = 4200, **kw) -> dict:
    return {"external_id": ext, "customer_external_id": customer, "occurred_at": "2026-03-01T12:00:00Z",
            "currency": "GBP", "total_minor": total,
            "items": [{"sku": "BOOK-1", "category": "books", "quantity": 2, "unit_price_minor": total // 2}], **kw}
