"""The analysis a data scientist writes with crm: generate (or load) data, RFM segments, top
customers by lifetime value, the churn-risk list, a segment saved in the rule language, and
a PNG with RFM segment sizes and a cohort-retention heatmap.

    python examples/python/analysis.py [--customers 20000] [--out analysis.png]

Needs: pip install ./crm-py pandas matplotlib. Every figure below is computed by crm; pandas
only formats and plots.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import crm  # noqa: E402
from crm import analytics  # noqa: E402

CURRENCY = "USD"


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
    end = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)  # the generated data's last day

    with crm.open(a.db) as db:
        # 2. Load into a file database (idempotent: a second run reports rows unchanged).
        for kind, frame in (("customers", customers), ("orders", orders)):
            r = db.ingest(kind, frame)
            print(f"{kind}: {r.created:,} created, {r.unchanged:,} unchanged, {r.failed:,} failed")

        # 3. RFM: quintile scores and named segments from crm's per-customer statistics.
        rfm = db.compute_rfm(CURRENCY, as_of=end)
        sizes = rfm["segment"].value_counts()
        print(f"\nRFM segments of {len(rfm):,} {CURRENCY} customers:")
        print(sizes.to_string())
        db.refresh_rfm(CURRENCY, as_of=end)  # stored, so rules can use rfm.segment

        # 4. Top customers by lifetime value: BG/NBD + Gamma-Gamma fitted by crm.
        values = analytics.customer_values(db, CURRENCY, end, months=12, penalizer_coef=0.001)
        top = values.sort_values("clv_minor", ascending=False).head(10)
        top = top.join(rfm.set_index("customer_id")[["segment"]])
        top["clv"] = top["clv_minor"].map(lambda m: f"{m / 100:,.2f} {CURRENCY}")  # display only
        print("\nTop 10 customers by 12-month CLV:")
        print(top[["frequency", "p_alive", "expected_purchases", "clv", "segment"]].to_string())

        # 5. The churn-risk list: probability alive and the gap against each customer's rhythm.
        at_risk = analytics.customers_at_risk(db, CURRENCY, end, threshold=0.8, penalizer_coef=0.001)
        at_risk = at_risk.join(values[["clv_minor"]]).sort_values("clv_minor", ascending=False)
        print(f"\n{len(at_risk):,} customers at risk (risk >= 0.8); the most valuable ten:")
        print(at_risk.head(10)[["p_alive", "gap", "rhythm", "risk", "clv_minor"]].to_string())

        # 6. A saved segment in the rule language: valuable customers slipping away.
        rule = 'rfm.segment in ["At Risk", "Can\'t Lose Them"] and total_spent >= 500.00 USD'
        if "win back" not in {s.name for s in db.segments()}:
            db.create_segment("win back", rule)
        print(f"\nsegment 'win back' ({rule}): {db.segment_count('win back'):,} customers")

        # 7. Monthly acquisition-cohort retention.
        cohorts = analytics.reports(db, CURRENCY).cohorts

    # 8. Chart: RFM segment sizes and the cohort-retention heatmap (first 12 months).
    heat = cohorts[cohorts["months_since"] <= 12].pivot(index="cohort", columns="months_since", values="retention")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 6), gridspec_kw={"width_ratios": [1, 1.4]})
    sizes.sort_values().plot.barh(ax=ax1, color="tab:blue")
    ax1.set_title(f"RFM segments ({CURRENCY} customers, as of {end:%Y-%m-%d})")
    ax1.set_xlabel("customers")
    im = ax2.imshow(heat.to_numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax2.set_yticks(range(len(heat.index)))
    ax2.set_yticklabels([f"{c:%Y-%m}" for c in heat.index], fontsize=6)
    ax2.set_xticks(range(len(heat.columns)))
    ax2.set_xticklabels(heat.columns)
    ax2.set_xlabel("months since first order")
    ax2.set_title("Monthly cohort retention")
    fig.colorbar(im, ax=ax2, label="share of the cohort ordering")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"\nchart written to {a.out}")


if __name__ == "__main__":
    main()
