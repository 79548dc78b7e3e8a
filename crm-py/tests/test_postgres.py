"""A PostgreSQL database opened by URL: the same API as on a SQLite file, several handles
on one database, and the errors of a wrong URL, wrong credentials or no server. The server's
URL comes from CRM_TEST_PG (``make test-python`` sets it); each test gets a schema of its own."""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from typing import Iterator

import pandas as pd
import pytest

import crm
from conftest import order

URL = os.environ.get("CRM_TEST_PG")
pytestmark = pytest.mark.skipif(not URL, reason="CRM_TEST_PG is not set (make test-python sets it)")


@pytest.fixture
def url() -> str:
    assert URL
    schema = "py_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", "-q", URL, "-c", f"CREATE SCHEMA {schema}"], check=True)
    sep = "&" if "?" in URL else "?"
    return f"{URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg(url: str) -> Iterator[crm.Crm]:
    with crm.open(url) as handle:
        yield handle


def test_the_same_calls_work_on_postgres(pg: crm.Crm) -> None:
    ada = pg.upsert_customer({"external_id": "C-1", "name": "Ada", "email": "ada@example.com"}).record
    assert pg.record_order(order("O-1")).outcome == "created"
    assert pg.record_order(order("O-1")).outcome == "unchanged"
    assert pg.customer_stats(ada.id).order_count == 1
    frame = pd.DataFrame({"external_id": [f"O-{i}" for i in range(2, 52)], "customer_external_id": "C-1",
                          "occurred_at": pd.Timestamp("2026-03-02", tz="UTC"), "currency": "GBP",
                          "total_minor": 100})
    report = pg.ingest_orders(frame)
    assert (report.created, report.failed) == (50, 0)
    assert pg.counts().orders == 51
    assert pg.count_matching("order_count >= 51") == 1


def test_handles_share_the_database_and_concurrent_redemptions_never_overspend(url: str) -> None:
    with crm.open(url) as a:
        c = a.upsert_customer({"external_id": "C-1", "name": "Ada"}).record.id
        a.earn_points(c, 100, "E-1")
    ok = []

    def redeem(n: int) -> None:
        with crm.open(url) as h:
            for i in range(20):
                try:
                    h.redeem_points(c, 3, f"R-{n}-{i}")
                    ok.append(1)
                except crm.InsufficientPointsError:
                    pass

    threads = [threading.Thread(target=redeem, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ok) == 100 // 3
    with crm.open(url) as b:
        assert b.points_balance(c).balance == 100 - 3 * len(ok)


def test_the_path_shows_the_url_without_its_password(pg: crm.Crm) -> None:
    assert pg.path.startswith("postgresql://")
    assert URL and "crm_test@" in URL and ":crm_test@" not in pg.path


def test_bad_urls_and_unreachable_servers_raise_typed_errors() -> None:
    assert URL
    with pytest.raises(crm.ValidationError) as e:
        crm.open("postgresql://localhost:notaport/db")
    assert e.value.field == "url"
    with pytest.raises(crm.ValidationError):
        crm.open("mysql://localhost/db")
    with pytest.raises(crm.UnavailableError) as u:
        crm.open("postgresql://crm:pw@127.0.0.1:1/db")
    assert isinstance(u.value, ConnectionError) and u.value.kind == "unavailable"
    wrong = URL.replace(":crm_test@", ":not-the-password@", 1)
    with pytest.raises(crm.StorageError) as s:
        crm.open(wrong)
    assert s.value.kind == "auth" and "not-the-password" not in str(s.value)
