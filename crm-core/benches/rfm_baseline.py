"""RFM baselines for benches/segments.rs: DuckDB or pandas computing the same RFM as crm's
compute_rfm from the orders CSV the benchmark exports.

Same definitions as crm_core::segment::rfm: completed orders only; frequency and last order
over all of a customer's completed orders; the currency selects the population (positive
completed spend in it) and the monetary value; recency in whole days (floor) to as-of;
score = 1 + floor(5 * members with a strictly worse value / N) per currency; segment name
from the grid by R and FM = (f + m + 1) // 2.

Prints one JSON object: tool, version, load_s, compute_s (one per run), peak_rss_mib and
checksums per currency (compared with crm's by the benchmark).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

DAY_MICROS = 86_400_000_000


def checksums(df) -> dict:
    """Per currency: members, sums of values and of r*100+f*10+m, and segment sizes."""
    out = {}
    for cur, g in df.groupby("currency", observed=True):
        out[str(cur)] = {
            "members": int(len(g)),
            "recency_days": int(g["recency_days"].sum()),
            "frequency": int(g["frequency"].sum()),
            "monetary_minor": int(g["monetary_minor"].sum()),
            "code": int((g["r"] * 100 + g["f"] * 10 + g["m"]).sum()),
            "segments": {str(k): int(v) for k, v in g["segment"].value_counts().items() if v > 0},
        }
    return out


def duckdb_orders(csv: str):
    """A DuckDB connection with the benchmark's orders CSV loaded as table ``orders``, and
    the seconds the load took (shared with summary_duckdb.py)."""
    import duckdb

    con = duckdb.connect()
    t = time.perf_counter()
    con.execute(
        "CREATE TABLE orders AS SELECT * FROM read_csv(?, header = true, columns = {"
        "'customer_id': 'BIGINT', 'occurred_at': 'BIGINT', 'status': 'VARCHAR', "
        "'currency': 'VARCHAR', 'total_minor': 'BIGINT'})",
        [csv],
    )
    return con, time.perf_counter() - t


def run_duckdb(args, grid):
    import duckdb

    con, load = duckdb_orders(args.csv)
    con.execute("CREATE TABLE grid (r INTEGER, fm INTEGER, name VARCHAR)")
    con.executemany(
        "INSERT INTO grid VALUES (?, ?, ?)",
        [(5 - i, j + 1, name) for i, row in enumerate(grid) for j, name in enumerate(row)],
    )
    currency_filter = "AND currency = $currency" if args.currency else ""
    query = f"""
        WITH completed AS (SELECT * FROM orders WHERE status = 'completed'),
        per_customer AS (
            SELECT customer_id, max(occurred_at) AS last_at, count(*) AS frequency
            FROM completed GROUP BY customer_id),
        spend AS (
            SELECT customer_id, currency, sum(total_minor) AS monetary_minor
            FROM completed WHERE true {currency_filter}
            GROUP BY customer_id, currency HAVING sum(total_minor) > 0),
        members AS (
            SELECT s.currency, s.customer_id, ($as_of - p.last_at) // {DAY_MICROS} AS recency_days,
                   p.frequency, s.monetary_minor
            FROM spend s JOIN per_customer p USING (customer_id)),
        scored AS (
            SELECT *,
                1 + (5 * (rank() OVER (PARTITION BY currency ORDER BY recency_days DESC) - 1))
                    // count(*) OVER (PARTITION BY currency) AS r,
                1 + (5 * (rank() OVER (PARTITION BY currency ORDER BY frequency) - 1))
                    // count(*) OVER (PARTITION BY currency) AS f,
                1 + (5 * (rank() OVER (PARTITION BY currency ORDER BY monetary_minor) - 1))
                    // count(*) OVER (PARTITION BY currency) AS m
            FROM members)
        SELECT s.*, g.name AS segment FROM scored s JOIN grid g ON g.r = s.r AND g.fm = (s.f + s.m + 1) // 2
    """
    params = {"as_of": args.as_of_micros}
    if args.currency:
        params["currency"] = args.currency
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        cursor = con.execute(query, params)
        # DuckDB 2 renamed fetch_arrow_table to to_arrow_table.
        result = getattr(cursor, "to_arrow_table", None) or cursor.fetch_arrow_table
        result = result()
        times.append(time.perf_counter() - t)
    return duckdb.__version__, load, times, result.to_pandas()


def run_pandas(args, grid):
    import numpy as np
    import pandas as pd

    t = time.perf_counter()
    orders = pd.read_csv(
        args.csv,
        engine="c",
        dtype={
            "customer_id": "int64",
            "occurred_at": "int64",
            "status": "category",
            "currency": "category",
            "total_minor": "int64",
        },
    )
    load = time.perf_counter() - t
    names = np.array(grid, dtype=object)

    def compute():
        completed = orders[orders["status"] == "completed"]
        per_customer = completed.groupby("customer_id").agg(
            last_at=("occurred_at", "max"), frequency=("occurred_at", "size")
        )
        spend_orders = completed if not args.currency else completed[completed["currency"] == args.currency]
        spend = (
            spend_orders.groupby(["customer_id", "currency"], observed=True)["total_minor"]
            .sum()
            .rename("monetary_minor")
            .reset_index()
        )
        spend = spend[spend["monetary_minor"] > 0]
        m = spend.join(per_customer, on="customer_id", how="inner")
        m["recency_days"] = (args.as_of_micros - m["last_at"]) // DAY_MICROS
        by = m.groupby("currency", observed=True)
        n = by["customer_id"].transform("size").to_numpy()
        worse_r = n - by["recency_days"].rank(method="max").to_numpy().astype(np.int64)
        worse_f = by["frequency"].rank(method="min").to_numpy().astype(np.int64) - 1
        worse_m = by["monetary_minor"].rank(method="min").to_numpy().astype(np.int64) - 1
        r = 1 + (5 * worse_r) // n
        f = 1 + (5 * worse_f) // n
        mm = 1 + (5 * worse_m) // n
        m["r"], m["f"], m["m"] = r, f, mm
        m["segment"] = names[5 - r, (f + mm + 1) // 2 - 1]
        return m

    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        result = compute()
        times.append(time.perf_counter() - t)
    return pd.__version__, load, times, result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tool", choices=["duckdb", "pandas"], required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--as-of-micros", type=int, required=True)
    p.add_argument("--currency", help="one currency; every currency when omitted")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--grid", required=True, help="JSON: 5 rows (R = 5 down to 1) of 5 names (FM = 1 to 5)")
    args = p.parse_args()
    grid = json.loads(args.grid)
    run = run_duckdb if args.tool == "duckdb" else run_pandas
    version, load, times, result = run(args, grid)
    print(
        json.dumps(
            {
                "tool": args.tool,
                "version": version,
                "load_s": load,
                "compute_s": times,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "checksums": checksums(result),
            }
        )
    )


if __name__ == "__main__":
    main()
