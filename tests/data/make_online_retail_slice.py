"""Cut ``tests/data/online_retail_slice.csv.gz`` from the one-year part of ``data/online_retail_ii.csv.gz``.

Run from the repo root. The rows dated 2010-12-01 onwards of the two-year file are the one-year "Online
Retail" file renamed (``data/SOURCE.md``); the slice keeps that file's header.

The slice keeps whole invoices (so order totals stay real), spread over all 13 months, and adds the rows
the importer's tests need: cancellations, the bad-debt adjustments, non-product codes, lower-case
StockCode variants together with their upper-case twins, exact duplicates, guest orders, rows without
a description and zero prices. Rows keep their original order and raw text. Deterministic (seeded).

    python tests/data/make_online_retail_slice.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SOURCE = Path("data/online_retail_ii.csv.gz")
ONE_YEAR_FROM = "2010-12-01"
ONE_YEAR_HEADER = [
    "InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country",
]
TARGET = Path("tests/data/online_retail_slice.csv.gz")
NON_PRODUCT_CODES = ("POST", "D", "M", "DOT", "BANK CHARGES", "AMAZONFEE", "C2", "S", "CRUK", "PADS", "GIFT_0001_20")


def smallest_invoices(
    frame: pd.DataFrame, mask: pd.Series, count: int, rng: np.random.Generator, most: int = 25
) -> set:
    sizes = frame.groupby("InvoiceNo").size()
    invoices = frame.loc[mask, "InvoiceNo"].unique()
    small = [invoice for invoice in invoices if sizes[invoice] <= most]
    return set(rng.choice(small, size=min(count, len(small)), replace=False)) if small else set()


def main() -> int:
    raw = pd.read_csv(SOURCE, dtype=str, keep_default_na=False)
    raw = raw[raw["InvoiceDate"] >= ONE_YEAR_FROM].reset_index(drop=True)
    raw.columns = ONE_YEAR_HEADER
    rng = np.random.default_rng(20111209)
    code = raw["StockCode"].str.upper()
    first = raw["InvoiceNo"].str[0]
    price = raw["UnitPrice"].astype(float)
    quantity = raw["Quantity"].astype(int)
    month = raw["InvoiceDate"].str.slice(0, 7)
    normal = first.str.isdigit()
    keep: set = set()
    for value in sorted(month.unique()):  # ordinary invoices with a customer, every month
        keep |= smallest_invoices(raw, normal & month.eq(value) & raw["CustomerID"].ne(""), 9, rng)
    keep |= smallest_invoices(raw, normal & raw["CustomerID"].eq(""), 10, rng, most=40)  # guest orders
    keep |= smallest_invoices(raw, first.eq("C"), 15, rng, most=10)  # cancellations
    keep |= smallest_invoices(raw, raw.duplicated(keep=False) & normal, 8, rng, most=40)  # duplicates
    for value in NON_PRODUCT_CODES:
        keep |= smallest_invoices(raw, code.eq(value), 1, rng, most=40)
    lower = raw["StockCode"].str.contains("[a-z]")
    twins = code[lower].unique()
    for value in rng.choice(twins, size=6, replace=False):
        keep |= smallest_invoices(raw, raw["StockCode"].eq(value.lower()) & normal, 1, rng, most=60)
        keep |= smallest_invoices(raw, raw["StockCode"].eq(value) & normal, 1, rng, most=60)
    rows = set(raw.index[raw["InvoiceNo"].isin(keep)])
    rows |= set(raw.index[first.eq("A")])  # all three bad-debt adjustments
    in_slice = set(code[list(rows)])
    no_description = raw.index[raw["Description"].eq("")]
    described = [index for index in no_description if code[index] in in_slice][:12]
    undescribed = [index for index in no_description if code[index] not in in_slice][:3]
    rows |= set(described) | set(undescribed)
    rows |= set(raw.index[price.eq(0) & raw["CustomerID"].ne("")][:10])  # zero prices with a customer
    rows |= set(raw.index[quantity.lt(0) & normal & price.eq(0)][:10])  # stock adjustments, not cancellations
    out = raw.loc[sorted(rows)]
    out.to_csv(TARGET, index=False, compression={"method": "gzip", "mtime": 0})
    print(f"{TARGET}: {len(out):,} rows, {out['InvoiceNo'].nunique():,} invoices")
    return 0


if __name__ == "__main__":
    sys.exit(main())
