"""Elasticities refitted on the two-year history of the real shop (issue 16, Build 4).

``../shared/data/online_retail_ii.csv.gz`` (UCI Online Retail II, Chen 2015, CC BY 4.0): order lines
with a positive quantity and price, no cancellations, product stock codes only (they start with a
digit); the weekly panel of :func:`pricing.ml.demand_data.weekly_demand_panel` (wholesale tier effect
taken out of the price); products that sold in at least ``--min-weeks`` weeks. The fit is the one the
shop runs (:class:`pricing.ml.elasticity.ElasticityEstimator` with ``PRICING["ESTIMATOR"]``'s defaults:
curvature, two harmonics), all products pooled in one category (the file has no categories). The
distribution of the per-product elasticities is written to its section of bench/RESULTS.md.

    python bench/real_elasticities.py              # writes bench/RESULTS.md
    python bench/real_elasticities.py --no-write
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from results_md import publish  # noqa: E402

from pricing.ml.demand_data import weekly_demand_panel  # noqa: E402
from pricing.ml.elasticity import ElasticityEstimator  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "online_retail_ii.csv.gz"


def load_lines(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype={"Invoice": str, "StockCode": str}, keep_default_na=False, na_values=[""],
                      usecols=["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price"])
    keep = (raw["Quantity"] > 0) & (raw["Price"] > 0) & ~raw["Invoice"].str.startswith("C") \
        & raw["StockCode"].str.match(r"^\d")
    lines = raw[keep]
    return pd.DataFrame({"product": lines["StockCode"].str.upper(), "date": pd.to_datetime(lines["InvoiceDate"]),
                         "quantity": lines["Quantity"].astype(float), "unit_price": lines["Price"].astype(float)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--min-weeks", type=int, default=26, help="products that sold in at least this many weeks")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    t0 = time.perf_counter()
    lines = load_lines(DATA)
    panel = weekly_demand_panel(lines)
    selling = ((panel.units > 0) & (panel.weight > 0)).sum(axis=1) >= args.min_weeks
    price, units, weight = panel.price[selling], panel.units[selling], panel.weight[selling]
    est = ElasticityEstimator(curvature=True, harmonics=2).fit_panel(price, units, periods=panel.periods,
                                                                     weight=weight)
    e, lo, hi = est.elasticity_, est.ci_low_, est.ci_high_
    q = np.quantile(e, [0.05, 0.25, 0.5, 0.75, 0.95])
    wide = (hi - lo) > 2.0
    text = "\n".join([
        "## Elasticities refitted on the real two-year history (issue 16, Build 4)",
        "",
        f"Command: `python bench/real_elasticities.py` — {pd.Timestamp.now(tz='UTC').date()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared), Python {platform.python_version()}; wall time "
        f"{(time.perf_counter() - t0) / 60:.1f} min. Data: UCI Online Retail II (Chen 2015, CC BY 4.0), "
        f"{panel.weeks[0].date()} to {panel.weeks[-1].date()} ({len(panel.weeks)} weeks); order lines with a positive "
        "quantity and price, no cancellations, stock codes that start with a digit; wholesale tier effect taken out "
        f"of the price (`weekly_demand_panel`); the {int(selling.sum())} of {len(panel.products)} products sold in "
        f"at least {args.min_weeks} weeks; the shop's estimator (curvature, two harmonics, trend), one pooled "
        "category (the file has none).",
        "",
        "| | 5 % | 25 % | median | 75 % | 95 % |",
        "|---|---|---|---|---|---|",
        "| elasticity at the reference price | " + " | ".join(f"{v:.2f}" for v in q) + " |",
        "",
        f"- Mean {e.mean():.2f}; below -1 (a profit optimum exists): {np.mean(e < -1):.1%}; 90 % interval entirely "
        f"below 0: {np.mean(hi < 0):.1%}, entirely below -1: {np.mean(hi < -1):.1%}; interval wider than 2: "
        f"{wide.mean():.1%} (weak evidence for most products: 90 % intervals, ``ci=0.90``).",
        f"- Pooled prior learned from the products: mean {est.category_elasticity_[0]:.2f}, spread between products "
        f"{np.sqrt(est.tau2_[1]):.2f}; median shrinkage towards it {np.median(est.shrinkage_):.2f}.",
        f"- Median log-price variation per product (sd): {np.median(est.price_variation_):.3f}.",
        "",
    ])
    publish("pricing-real", text, write=not args.no_write)


if __name__ == "__main__":
    main()
