"""What a data scientist does with crm today: generate data, load it into a file database,
pull it back as DataFrames, rank customers by spend, list churn risks, and chart.

    python examples/python/analysis.py [--customers 20000] [--out analysis.png]

Needs: pip install ./crm-py pandas matplotlib. Segments, RFM, loyalty and the analytics
models (BG/NBD, CLV, churn) are not in crm yet; the churn list and the monthly chart
below are this script's own pandas analysis, labelled as such.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import crm  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "crm-analysis.db"))
    ap.add_argument("--out", default="analysis.png")
    a = ap.parse_args()

    # 1. Data: the core's deterministic generator, as DataFrames in the ingest columns.
    data = crm.synth.generate(customers=a.customers, seed=42, kinds=["customers", "orders"])
    customers, orders = data["customers"], data["orders"]
    print(f"generated {len(customers):,} customers and {len(orders):,} orders")

    # 2. Load into a file database (idempotent: a second run reports rows unchanged).
    with crm.open(a.db) as db:
        for kind, frame in (("customers", customers), ("orders", orders)):
            r = db.ingest(kind, frame)
            print(f"{kind}: {r.created:,} created, {r.unchanged:,} unchanged, {r.failed:,} failed")
        print(db.counts())

        # 3. Top customers by spend (computed by crm from its per-customer statistics).
        top = db.top_customers_frame("USD", limit=10)
        top["spent"] = top["spent_minor"].map(lambda m: f"{m / 100:,.2f}")  # display only
        print("\nTop 10 customers by USD spend:")
        print(top[["external_id", "name", "country", "spent", "currency"]].to_string(index=False))

        # 4. Churn-risk candidates: crm's query filters select buyers whose last completed
        #    order is more than 180 days before the data's end.
        end = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
        cutoff = end - dt.timedelta(days=180)
        lapsed = db.query_frame({"min_orders": 2, "last_order_to": cutoff.isoformat()})
        print(f"\n{len(lapsed):,} repeat buyers with no order since {cutoff:%Y-%m-%d} (crm query)")

    # 5. USER ANALYSIS (this script's pandas, not a crm feature): rank those lapsed repeat
    #    buyers by lifetime order value from the orders DataFrame we ingested.
    completed = orders[orders["status"] == "completed"]
    per_customer = completed.groupby("customer_external_id").agg(
        orders=("external_id", "size"), last_order_at=("occurred_at", "max"), value_minor=("total_minor", "sum"),
        currency=("currency", "first"),
    )
    risk = lapsed[["external_id", "name", "country"]].join(per_customer, on="external_id")
    risk["days_since_last_order"] = (end - risk["last_order_at"]).dt.days
    # Minor units of different currencies do not compare: rank within one currency.
    usd = risk[risk["currency"] == "USD"].sort_values("value_minor", ascending=False)
    print("\nChurn-risk list (user analysis: lapsed USD repeat buyers by lifetime value):")
    print(usd.head(10).to_string(index=False))

    # 6. Chart (user analysis): monthly revenue in USD and the lapsed buyers by country.
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5))
    monthly = (
        completed.assign(month=completed["occurred_at"].dt.tz_localize(None).dt.to_period("M"))
        .groupby(["month", "currency"])["total_minor"].sum().unstack(fill_value=0) / 100
    )
    monthly["USD"].plot(ax=ax1)  # one currency: amounts in different currencies do not add up
    ax1.set_title("Monthly completed-order revenue, USD")
    ax1.set_xlabel("month")
    risk["country"].value_counts().plot.bar(ax=ax2, color="tab:red")
    ax2.set_title(f"Lapsed repeat buyers by country (no order since {cutoff:%Y-%m-%d})")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"\nchart written to {a.out}")


if __name__ == "__main__":
    main()
