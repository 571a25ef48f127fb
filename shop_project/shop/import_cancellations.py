"""Netting cancellations for :mod:`shop_project.shop.importing`: which sale rows a cancellation line cancels.

The rule is documented in ``docs/import.md`` ("Cancellations"). Pure pandas, no database.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def cancelled_sales(rows: pd.DataFrame, sale: pd.Series, cancellation: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Which ``sale`` rows the ``cancellation`` rows cancel (both boolean masks over ``rows``).

    The rule (docs/import.md): each cancellation row, taken in InvoiceDate order (then file order),
    cancels the latest sale row not cancelled yet with the same CustomerID, StockCode and quantity
    (``sale quantity == -cancellation quantity``), on another invoice, whose InvoiceDate is not after
    the cancellation's; between sales of the same time the one further down the file goes first. A
    cancellation that finds none (partial, another quantity, its sale not in the file) cancels nothing.
    Returns ``(cancelled sales, cancellation rows that found their sale)``.
    """
    cancelled = np.zeros(len(rows), dtype=bool)
    matched = np.zeros(len(rows), dtype=bool)
    # dates as int64 nanoseconds: the same order, no Timestamp object per row
    frame = rows.assign(
        units=rows["quantity"].abs(), position=np.arange(len(rows)), date=rows["date"].to_numpy().view("int64")
    )[["position", "customer", "code", "units", "date", "invoice"]]
    key = ["customer", "code", "units"]
    cancels = frame[cancellation.to_numpy()].sort_values(["date", "position"])
    sales = frame[sale.to_numpy()]
    # only the sales some cancellation could match are walked in Python (a few percent of them)
    sales = sales[pd.MultiIndex.from_frame(sales[key]).isin(pd.MultiIndex.from_frame(cancels[key]))]
    open_sales: dict[tuple[Any, ...], list[tuple[int, str, int]]] = {}
    for position, customer, code, units, date, invoice in sales.sort_values(["date", "position"]).itertuples(
        index=False
    ):
        open_sales.setdefault((customer, code, units), []).append((date, invoice, position))
    for position, customer, code, units, date, invoice in cancels.itertuples(index=False):
        candidates = open_sales.get((customer, code, units), [])
        for i in range(len(candidates) - 1, -1, -1):  # the latest sale first
            sale_date, sale_invoice, sale_position = candidates[i]
            if sale_date <= date and sale_invoice != invoice:
                cancelled[sale_position] = matched[position] = True
                del candidates[i]
                break
    return pd.Series(cancelled, index=rows.index), pd.Series(matched, index=rows.index)
