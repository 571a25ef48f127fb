"""Demand history from sales transactions (PROTOCOL §2) and demand classification.

Pure pandas / numpy, no Django. Two entry points feed the forecasters:

* :func:`clean_transactions` + :func:`weekly_demand` turn the raw ``online_retail.csv`` rows (or any
  frame with the same columns — the Django side builds one from order lines) into a *panel*: a long
  DataFrame with one row per series and Monday-to-Sunday week::

      unique_id  ds          y      price  n_lines  n_customers
      "85123A"   2010-11-29  1234.  2.55   58       41

  ``y`` is units sold (missing weeks are 0), ``price`` the quantity-weighted mean unit price of the
  week (NaN when nothing sold), ``n_lines`` / ``n_customers`` the breadth of demand. Each series starts
  at its first sale. An optional boolean ``stockout`` column marks weeks in which the item was out of
  stock; forecasters treat a zero in such a week as *missing* (censored demand), not as zero demand.
* :func:`daily_demand` gives the same per day, for the replenishment simulation.

:func:`classify_demand` labels series smooth / erratic / intermittent / lumpy with the
Syntetos-Boylan cut-offs (ADI 1.32, CV² 0.49).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

#: Column names of the UCI "Online Retail" CSV, and the "Online Retail II" variant mapped onto them.
CSV_COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")
RETAIL_II_RENAME = {"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy")


def read_transactions(path: str) -> pd.DataFrame:
    """Read the retail CSV (plain or gzip) with the dtypes the protocol prescribes."""
    df = pd.read_csv(
        path,
        dtype={"InvoiceNo": str, "Invoice": str, "StockCode": str},
        keep_default_na=False,
        na_values=[""],
    )
    df = df.rename(columns=RETAIL_II_RENAME)
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"])
    return df


def clean_transactions(df: pd.DataFrame) -> pd.DataFrame:
    """Keep real product sales: PROTOCOL §2 cleaning.

    Drops cancellation (``C``) and bad-debt (``A``) invoices, rows with Quantity <= 0 or UnitPrice <= 0,
    and non-product codes (a product StockCode starts with five digits); upper-cases StockCode. Rows
    without CustomerID are kept (they are real sales). Accepts the "Online Retail II" header too.
    """
    df = df.rename(columns=RETAIL_II_RENAME)
    missing = {"InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice"} - set(df.columns)
    if missing:
        raise ValueError(f"transactions lack columns: {sorted(missing)}")
    code = df["StockCode"].astype(str).str.strip().str.upper()
    invoice = df["InvoiceNo"].astype(str)
    keep = (
        ~invoice.str.startswith(("C", "A"))
        & (df["Quantity"] > 0)
        & (df["UnitPrice"] > 0)
        & code.str.match(r"^\d{5}")
    )
    out = df.loc[keep].copy()
    out["StockCode"] = code[keep]
    out["InvoiceDate"] = pd.to_datetime(out["InvoiceDate"])
    return out.reset_index(drop=True)


def week_start(dates: pd.Series | pd.DatetimeIndex) -> pd.Series:
    """Monday 00:00 of the Monday-to-Sunday week each timestamp falls in."""
    d = pd.Series(pd.to_datetime(dates))
    day = d.dt.normalize()
    return day - pd.to_timedelta(day.dt.weekday, unit="D")


def _aggregate(tx: pd.DataFrame, bucket: pd.Series) -> pd.DataFrame:
    g = tx.assign(ds=bucket.to_numpy(), revenue=tx["Quantity"] * tx["UnitPrice"]).groupby(["StockCode", "ds"])
    agg = g.agg(
        y=("Quantity", "sum"),
        revenue=("revenue", "sum"),
        n_lines=("Quantity", "size"),
        n_customers=("CustomerID", "nunique"),
    ).reset_index()
    return _priced(agg.rename(columns={"StockCode": "unique_id"}))


def _priced(agg: pd.DataFrame) -> pd.DataFrame:
    agg = agg.assign(price=agg["revenue"] / agg["y"])
    return agg.drop(columns="revenue")


def _fill_panel(agg: pd.DataFrame, freq_days: int, end: pd.Timestamp | None) -> pd.DataFrame:
    """Reindex every series onto a regular grid from its first sale to ``end``; missing buckets are 0."""
    if agg.empty:
        return pd.DataFrame(columns=["unique_id", "ds", "y", "price", "n_lines", "n_customers"])
    last = agg["ds"].max() if end is None else pd.Timestamp(end)
    first = agg.groupby("unique_id")["ds"].min()
    first = first[first <= last]
    n = ((last - first).dt.days // freq_days + 1).astype(int)
    ids = np.repeat(first.index.to_numpy(), n.to_numpy())
    offsets = np.concatenate([np.arange(k) for k in n.to_numpy()]) if len(n) else np.array([], dtype=int)
    ds = np.repeat(first.to_numpy(), n.to_numpy()) + pd.to_timedelta(offsets * freq_days, unit="D").to_numpy()
    grid = pd.DataFrame({"unique_id": ids, "ds": ds})
    panel = grid.merge(agg, on=["unique_id", "ds"], how="left")
    for col in ("y", "n_lines", "n_customers"):
        panel[col] = panel[col].fillna(0.0).astype(float)
    return panel.sort_values(["unique_id", "ds"], kind="mergesort").reset_index(drop=True)


def weekly_demand(tx: pd.DataFrame, end: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Weekly (Monday–Sunday) demand panel from cleaned transactions; see the module docstring.

    ``end`` is the last week start to include (default: the week of the last sale).
    """
    end_ts = None if end is None else week_start(pd.Series([pd.Timestamp(end)])).iloc[0]
    return _fill_panel(_aggregate(tx, week_start(tx["InvoiceDate"])), 7, end_ts)


def panel_from_weekly_totals(weekly: pd.DataFrame, end: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """The :func:`weekly_demand` panel from sums already made per series and week (e.g. by a database):
    columns ``unique_id``, ``ds`` (a Monday), ``y``, ``revenue``, ``n_lines``, ``n_customers``."""
    end_ts = None if end is None else week_start(pd.Series([pd.Timestamp(end)])).iloc[0]
    agg = weekly.astype({"y": float, "revenue": float, "n_lines": float, "n_customers": float})
    return _fill_panel(_priced(agg), 7, end_ts)


def daily_demand(tx: pd.DataFrame, end: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Daily demand panel (same columns as :func:`weekly_demand`, ``ds`` a day); days without sales are 0."""
    end_ts = None if end is None else pd.Timestamp(end).normalize()
    return _fill_panel(_aggregate(tx, tx["InvoiceDate"].dt.normalize()), 1, end_ts)


def select_series(panel: pd.DataFrame, origin: pd.Timestamp | str, min_weeks: int = 8) -> list[str]:
    """Series with sales (y > 0) in at least ``min_weeks`` distinct buckets before ``origin``, sorted."""
    train = panel[(panel["ds"] < pd.Timestamp(origin)) & (panel["y"] > 0)]
    counts = train.groupby("unique_id")["ds"].nunique()
    return sorted(counts.index[counts >= min_weeks].tolist())


def split_at_origin(
    panel: pd.DataFrame,
    origin: pd.Timestamp | str,
    horizon: int,
    ids: Iterable[str] | None = None,
    freq_days: int = 7,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History before ``origin`` and the ``horizon`` buckets from it (actuals, zero-filled) for ``ids``."""
    origin = pd.Timestamp(origin)
    if ids is not None:
        panel = panel[panel["unique_id"].isin(set(ids))]
    history = panel[panel["ds"] < origin].reset_index(drop=True)
    steps = pd.date_range(origin, periods=horizon, freq=f"{freq_days}D")
    keys = history["unique_id"].unique()
    grid = pd.DataFrame(
        {"unique_id": np.repeat(keys, horizon), "ds": np.tile(steps.to_numpy(), len(keys))}
    )
    grid["step"] = np.tile(np.arange(1, horizon + 1), len(keys))
    actual = grid.merge(panel[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="left")
    actual["y"] = actual["y"].fillna(0.0)
    return history, actual


def adi_cv2(y: np.ndarray) -> tuple[float, float]:
    """Average inter-demand interval and squared CV of the non-zero demand sizes of one series.

    ADI = number of periods / number of periods with demand (inf with no demand); CV² uses the
    population standard deviation of the non-zero sizes (0 with one non-zero period).
    """
    y = np.asarray(y, dtype=float)
    y = y[~np.isnan(y)]
    nz = y[y > 0]
    if len(nz) == 0:
        return float("inf"), 0.0
    adi = len(y) / len(nz)
    mean = nz.mean()
    cv2 = float((nz.std() / mean) ** 2) if mean > 0 else 0.0
    return float(adi), cv2


def demand_class(adi: float, cv2: float, adi_cutoff: float = ADI_CUTOFF, cv2_cutoff: float = CV2_CUTOFF) -> str:
    """Syntetos-Boylan class: ADI < 1.32 is frequent (smooth / erratic), CV² < 0.49 is stable sizes."""
    frequent = adi < adi_cutoff
    stable = cv2 < cv2_cutoff
    if frequent:
        return "smooth" if stable else "erratic"
    return "intermittent" if stable else "lumpy"


def classify_demand(panel: pd.DataFrame) -> pd.DataFrame:
    """ADI, CV² and class per series of a panel (``unique_id``, ``y``); NaN ``y`` (censored) are ignored."""
    rows = []
    for uid, y in panel.groupby("unique_id", sort=True)["y"]:
        adi, cv2 = adi_cv2(y.to_numpy())
        rows.append((uid, adi, cv2, demand_class(adi, cv2)))
    return pd.DataFrame(rows, columns=["unique_id", "adi", "cv2", "demand_class"])
