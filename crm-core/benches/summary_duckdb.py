"""Purchase-summary baseline for benches/analytics.rs: DuckDB computing the summary crm's
purchase_summaries gives as of now (daily periods, every currency) from the orders CSV the
benchmark exports, with the definitions of crm_core::analytics::summary (lifetimes'
summary_data_from_transaction_data): completed orders only; a purchase period is a UTC day;
frequency = periods - 1; recency = last period - first; T = the observation end's period -
first; repeat spend = spend after the first period.

Prints one JSON object: version, load_s, compute_s (one per run, the result fetched as an
Arrow table) and checksums per currency (compared with crm's by the benchmark).
"""

from __future__ import annotations

import argparse
import json
import time

DAY_MICROS = 86_400_000_000

QUERY = """
    WITH periods AS (
        SELECT currency, customer_id, occurred_at // $day AS d, sum(total_minor) AS spend
        FROM orders WHERE status = 'completed'
        GROUP BY ALL
    ),
    per_customer AS (
        SELECT currency, customer_id, min(d) AS first, max(d) AS last, count(*) AS periods,
            sum(spend) AS total, arg_min(spend, d) AS first_spend
        FROM periods GROUP BY ALL
    )
    SELECT currency, customer_id, periods - 1 AS frequency, last - first AS recency,
        $end - first AS t, total - first_spend AS repeat_spend
    FROM per_customer ORDER BY currency, customer_id
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--csv", required=True)
    p.add_argument("--end-micros", type=int, required=True)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()

    import duckdb

    from rfm_baseline import duckdb_orders

    con, load = duckdb_orders(args.csv)
    params = {"day": DAY_MICROS, "end": args.end_micros // DAY_MICROS}
    times = []
    table = None
    for _ in range(args.runs):
        t = time.perf_counter()
        cursor = con.execute(QUERY, params)
        # DuckDB 2 renamed fetch_arrow_table to to_arrow_table.
        table = (getattr(cursor, "to_arrow_table", None) or cursor.fetch_arrow_table)()
        times.append(time.perf_counter() - t)
    sums = con.execute(
        "SELECT currency, count(*), sum(frequency), sum(recency), sum(t), sum(repeat_spend) FROM ("
        + QUERY
        + ") GROUP BY currency ORDER BY currency",
        params,
    ).fetchall()
    checksums = {
        c: {"rows": int(n), "frequency": int(f), "recency": int(r), "t": int(tt), "repeat_spend": int(s)}
        for c, n, f, r, tt, s in sums
    }
    assert table is not None and table.num_rows == sum(v["rows"] for v in checksums.values())
    print(
        json.dumps(
            {"version": duckdb.__version__, "load_s": load, "compute_s": times, "checksums": checksums}
        )
    )


if __name__ == "__main__":
    main()
