"""Ingest benchmark (prints a table; not part of the test suite).

Orders from the core's generator ingested two ways into fresh SQLite files that already
hold the same customers: (1) from a pandas DataFrame through ``Crm.ingest_orders``
(timed from the DataFrame to the report: column preparation, conversion, validation,
writes); (2) the Rust bulk rate, ``crm_core::Crm::ingest_orders`` on the same rows
pre-built in memory by the native helper (generation not timed). Same run, same machine.
With ``--repeat N`` the two alternate N times (so both see the same load on a shared
machine), each round is printed, and the ratio is the median over the rounds.

    python crm-py/bench/bench_ingest.py --customers 100000 [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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
    ap.add_argument("--repeat", type=int, default=1, help="rounds, each timing both paths")
    a = ap.parse_args()
    t = time.perf_counter()
    data = crm.synth.generate(customers=a.customers, seed=a.seed, kinds=["customers", "orders"])
    gen = time.perf_counter() - t
    orders = data["orders"]
    n = len(orders)
    print(f"generated {a.customers:,} customers and {n:,} orders as DataFrames in {gen:.1f} s")

    rounds = []
    for _ in range(a.repeat):
        rounds.append((rust_seconds(a, data["customers"], n), python_seconds(a, data["customers"], orders)))

    print()
    print(f"| path ({n:,} orders) | seconds | orders/s | vs Rust |")
    print("|---|---:|---:|---:|")
    for rust_s, py_s in rounds:
        print(f"| Rust `Crm::ingest_orders`, rows pre-built | {rust_s:.2f} | {n / rust_s:,.0f} | 100 % |")
        print(f"| Python `Crm.ingest_orders(DataFrame)` | {py_s:.2f} | {n / py_s:,.0f} | {100 * rust_s / py_s:.0f} % |")
    if len(rounds) > 1:
        ratios = sorted(100 * r / p for r, p in rounds)
        print(f"median over {len(rounds)} rounds: {statistics.median(ratios):.0f} % "
              f"(min {ratios[0]:.0f} %, max {ratios[-1]:.0f} %)")
    print("target: the DataFrame path at >= 80 % of the Rust rate")


def python_seconds(a: argparse.Namespace, customers, orders) -> float:
    db = fresh(os.path.join(a.dir, "bench-py.db"), customers)
    t = time.perf_counter()
    r = db.ingest_orders(orders, progress=False)
    py_s = time.perf_counter() - t
    assert r.created == len(orders), r
    db.close()
    return py_s


def rust_seconds(a: argparse.Namespace, customers, n: int) -> float:
    db = fresh(os.path.join(a.dir, "bench-rust.db"), customers)
    cfg = json.dumps({"customers": a.customers, "seed": a.seed})
    report, rust_s = _crm.synth_ingest(db._native, "orders", cfg, 20_000)
    assert json.loads(report)["created"] == n
    db.close()
    return float(rust_s)


if __name__ == "__main__":
    main()
