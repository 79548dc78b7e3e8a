"""Baseline for benches/analytics.rs: the Python package lifetimes on the same summary.

Reads the summary CSV the Rust side wrote (customer_id, currency, frequency, recency, T,
monetary_value), fits BetaGeoFitter on every row and GammaGammaFitter per currency on the
repeat buyers, as the Rust side does, and prints one JSON object with the times and estimates.
Loading the CSV is not timed.
"""

import json
import sys
import time
import warnings

import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter


def main(path: str) -> None:
    warnings.simplefilter("ignore")
    data = pd.read_csv(path, dtype={"currency": str})
    t0 = time.perf_counter()
    bgf = BetaGeoFitter()
    bgf.fit(data["frequency"], data["recency"], data["T"])
    t_bg = time.perf_counter() - t0
    gg = {}
    t0 = time.perf_counter()
    for currency, rows in data[data["frequency"] > 0].groupby("currency"):
        ggf = GammaGammaFitter()
        ggf.fit(rows["frequency"], rows["monetary_value"])
        gg[currency] = {k: float(v) for k, v in ggf.params_.items()}
    t_gg = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "rows": int(len(data)),
                "bgnbd_s": t_bg,
                "gamma_gamma_s": t_gg,
                "bgnbd": {k: float(v) for k, v in bgf.params_.items()},
                "gamma_gamma": gg,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
