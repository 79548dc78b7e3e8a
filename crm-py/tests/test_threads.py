"""One handle shared by several Python threads; the GIL is released during bulk work."""

from __future__ import annotations

import threading
import time

import crm


def test_threads_share_one_handle(db):
    errors = []

    def work(t: int) -> None:
        try:
            for n in range(50):
                c = db.upsert_customer({"external_id": f"T{t}-{n}", "name": f"T{t}"}).record
                db.record_order({"external_id": f"O{t}-{n}", "customer_id": c.id, "occurred_at": "2026-01-01T00:00:00Z",
                                 "currency": "USD", "total_minor": 100})
                db.get_customer(c.id)
                db.query_customers(limit=5)
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert db.counts() == crm.Counts(300, 300, 0)


def test_gil_released_during_ingest(tmp_path):
    data = crm.synth.generate(customers=3000, seed=9, kinds=["customers", "orders"])
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    with crm.open(tmp_path / "g.db") as db:
        db.ingest_customers(data["customers"])
        t = threading.Thread(target=spin)
        t.start()
        start = time.perf_counter()
        before = ticks
        db.ingest_orders(data["orders"], progress=False)
        elapsed = time.perf_counter() - start
        during = ticks - before
        stop.set()
        t.join()
    # With the GIL held the spinner could not run at all during the call.
    assert elapsed > 0.05 and during >= 10, (elapsed, during)
