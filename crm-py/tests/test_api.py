"""Every public call of crm.Crm on small data."""

from __future__ import annotations

import datetime as dt

import pytest

import crm
from conftest import order


def test_version_and_exports():
    assert isinstance(crm.__version__, str) and crm.__version__
    assert "total_minor" in crm.ORDER_COLUMNS
    for name in crm.__all__:
        assert getattr(crm, name).__doc__ or name.isupper() or name in ("__version__", "TimelineEntry", "Rule"), name


def test_customer_lifecycle(db, ada):
    assert ada.id > 0 and ada.address.country == "GB" and ada.tags == frozenset({"vip"})
    assert ada.created_at.tzinfo is not None
    again = db.upsert_customer({"external_id": "C-1", "name": "Ada Lovelace", "email": "ada@example.com",
                                "address": {"country": "GB"}, "tags": ["vip"]})
    assert again.outcome == "unchanged"
    assert db.get_customer(ada.id) == db.get_customer_by_external_id("C-1")
    c = db.update_customer(ada.id, {"add_tags": ["gold"]}, phone="+44 20 7946 0958")
    assert c.tags == frozenset({"vip", "gold"}) and c.phone == "+442079460958"
    bob = db.create_customer({"name": "Bob", "kind": "company", "company": "Bobco"})
    assert bob.external_id is None and bob.kind == "company"
    assert [x.id for x in db.search_customers("bob")] == [bob.id]
    db.delete_customer(bob.id)
    with pytest.raises(crm.NotFoundError):
        db.get_customer(bob.id)


def test_orders_interactions_stats_timeline(db, ada):
    w = db.record_order(order())
    assert w.outcome == "created" and w.record.total == crm.Money(4200, "GBP")
    assert db.record_order(order()).outcome == "unchanged"
    assert db.get_order(w.record.id) == db.get_order_by_external_id("O-1")
    i = db.add_interaction({"external_id": "I-1", "customer_id": ada.id, "kind": "survey",
                            "occurred_at": dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc), "score": {"nps": 9}})
    assert i.record.score == {"nps": 9}
    assert db.get_interaction(i.record.id).kind == "survey"
    s = db.customer_stats(ada.id)
    assert s.order_count == 1 and s.total_spent == [crm.Money(4200, "GBP")] and s.interaction_count == 1
    page = db.timeline(ada.id, limit=1)
    assert isinstance(page.items[0], crm.Interaction) and page.next_cursor
    assert isinstance(db.timeline(ada.id, limit=1, cursor=page.next_cursor).items[0], crm.Order)
    tf = db.timeline_frame(ada.id)
    assert list(tf["type"]) == ["interaction", "order"]
    assert str(tf["occurred_at"].dtype).startswith("datetime64") and str(tf["occurred_at"].dt.tz) == "UTC"
    db.record_order(order(status="refunded"))
    assert db.customer_stats(ada.id).order_count == 0
    db.delete_interaction(i.record.id)
    db.delete_order(w.record.id)
    assert db.counts() == crm.Counts(1, 0, 0)


def test_query_pages_iterator_frame(db):
    for n in range(25):
        db.upsert_customer({"external_id": f"C{n:02}", "name": f"N{n:02}", "address": {"country": "SG" if n % 2 else "US"}})
    page = db.query_customers({"country": "sg"}, sort="name", descending=True, limit=5)
    assert len(page) == 5 and page.items[0].name == "N23" and page.next_cursor
    assert len(list(db.iter_customers({"country": "SG"}, page_size=4))) == 12
    f = db.query_frame(page_size=7)
    assert len(f) == 25 and f["id"].dtype == "int64" and str(f["created_at"].dt.tz) == "UTC"
    assert len(db.query_frame(max_rows=3)) == 3


def test_top_customers_and_changes(db, ada):
    db.upsert_customer({"external_id": "C-2", "name": "Bo"})
    db.record_order(order("O-1", total=1000))
    db.record_order(order("O-2", customer="C-2", total=3000))
    top = db.top_customers_by_spend("GBP", 2)
    assert [(c.external_id, m.minor) for c, m in top] == [("C-2", 3000), ("C-1", 1000)]
    tf = db.top_customers_frame("GBP", 2)
    assert tf["spent_minor"].dtype == "int64" and list(tf["currency"]) == ["GBP", "GBP"]
    ch = db.changes_since(0, 100)
    assert [c.op for c in ch][:1] == ["insert"] and ch[-1].entity == "order"
    assert db.changes_since(ch[-2].seq, 10) == ch[-1:]
    cf = db.changes_frame()
    assert cf["seq"].dtype == "int64" and cf["id"].dtype == "int64" and str(cf["at"].dt.tz) == "UTC"


def test_context_manager_and_closed_handle(tmp_path):
    with crm.open(tmp_path / "x.db") as db:
        db.upsert_customer({"external_id": "C", "name": "C"})
    assert db.closed
    with pytest.raises(crm.CrmError, match="closed"):
        db.counts()
    with pytest.raises(crm.CrmError, match="closed"):
        db.ingest_customers([{"external_id": "D", "name": "D"}])
    db.close()  # idempotent
    with crm.Crm(tmp_path / "x.db") as again:  # the store was released and reopens
        assert again.counts().customers == 1


def test_open_with_config(tmp_path):
    db = crm.open(tmp_path / "c.db", validation={"default_region": "GB"}, sqlite={"busy_timeout": 2.5})
    assert db.create_customer({"name": "A", "phone": "020 7946 0958"}).phone == "+442079460958"
    with pytest.raises(crm.ValidationError) as e:
        crm.open(tmp_path / "d.db", validation={"no_such": 1})
    assert "no_such" in str(e.value)
