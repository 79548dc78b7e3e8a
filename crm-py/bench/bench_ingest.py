"""Ingest benchmark (prints a table; not part of the test suite).

Orders from the core's generator ingested two ways into fresh SQLite files that already
hold the same customers: (1) from a pandas DataFrame through ``Crm.ingest_orders``
(timed from the DataFrame to the report: column preparation, conversion, validation,
writes); (2) the Rust bulk rate, ``crm_core::Crm::ingest_orders`` on the same rows
pre-built in memory by the native helper (generation not timed). Same run, same machine.

    python crm-py/bench/bench_ingest.py --customers 100000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import crm
from crm import _crm


def fresh(path: str, customers) -> crm.Crm:
    for ext in ("", "-wal", "-shm"):
        if os.path.exists(path + ext):
            os.remove(path + ext)
    db = crm.open(path)
    db.ingest_customers(customers, progress=False)
    return db


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    a = ap.parse_args()
    t = time.perf_counter()
    data = crm.synth.generate(customers=a.customers, seed=a.seed, kinds=["customers", "orders"])
    gen = time.perf_counter() - t
    orders = data["orders"]
    n = len(orders)
    print(f"generated {a.customers:,} customers and {n:,} orders as DataFrames in {gen:.1f} s")

    db = fresh(os.path.join(a.dir, "bench-py.db"), data["customers"])
    t = time.perf_counter()
    r = db.ingest_orders(orders, progress=False)
    py_s = time.perf_counter() - t
    assert r.created == n, r
    db.close()

    db = fresh(os.path.join(a.dir, "bench-rust.db"), data["customers"])
    cfg = json.dumps({"customers": a.customers, "seed": a.seed})
    report, rust_s = _crm.synth_ingest(db._native, "orders", cfg, 20_000)
    assert json.loads(report)["created"] == n
    db.close()

    print()
    print(f"| path ({n:,} orders) | seconds | orders/s | vs Rust |")
    print("|---|---:|---:|---:|")
    print(f"| Rust `Crm::ingest_orders`, rows pre-built | {rust_s:.2f} | {n / rust_s:,.0f} | 100 % |")
    print(f"| Python `Crm.ingest_orders(DataFrame)` | {py_s:.2f} | {n / py_s:,.0f} | {100 * rust_s / py_s:.0f} % |")
    print("target: the DataFrame path at >= 80 % of the Rust rate")


if __name__ == "__main__":
    main()
