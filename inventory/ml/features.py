"""Features for the global forecasters (gradient boosting and the torch MLP).

The history panel is pivoted into dense ``series × bucket`` matrices (NaN before a series starts and
for censored stock-out buckets), and every feature of a *forecast origin* ``t`` (the first bucket to
predict) is computed from buckets ``< t`` only, by array operations over all series at once. A row is
one (series, origin, step) triple; the target is ``y[t + step - 1] / scale``, where ``scale`` is the
series' recent mean demand: scaled targets let one model serve items selling 2 or 2,000 units a
week, and weighting rows by ``scale`` makes the absolute-error loss equal to the WAPE numerator.

Seasonal features of the prior year (per row, for the *target* bucket ``c = t + step - 1``; NaN where
last year is not in the history): the series' own demand in buckets ``c - 52 ± 1`` scaled like the
target, its ratio to the series' level in the 13 buckets before ``t - 52`` (last year's ramp from the same
point), that ratio applied to the current level (the seasonal-naive-times-recent-ratio anchor as a
feature, clipped 0.25-4), and the same ratio for the whole shop and for the series' category (when the
panel has a ``category`` column; categories with fewer than :data:`MIN_CATEGORY_SERIES` series get none),
computed over the series that already sold then. Calendar of the target bucket: week of year, buckets to
Christmas, a pre-Christmas flag (the 8 weeks before), the Christmas closure (24 Dec - 1 Jan) and the
number of England bank holidays in it. The model learns globally, across series, how much of last
year to trust.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .base import Forecaster, infer_freq_days, prepare_history

#: Optional panel columns the features use when present: price, breadth of demand (order lines, customers) and
#: recommendation exposure (impressions of the product in recommendation lists that week).
EXTRA_COLUMNS = ("price", "n_lines", "n_customers", "exposures")

#: Buckets in a season (weekly panels), and the half-width of the "same weeks last year" window.
SEASON = 52
SEASON_SPAN = 1
#: A category's seasonal index needs this many series that sold a year before the origin.
MIN_CATEGORY_SERIES = 5


@dataclass
class PanelMatrix:
    """Dense view of a history panel: ``values[name]`` is a ``(n_series, n_buckets)`` float matrix."""

    ids: np.ndarray
    buckets: pd.DatetimeIndex
    values: dict[str, np.ndarray]
    start: np.ndarray  # index of each series' first bucket
    freq_days: int
    category: np.ndarray | None = None  # integer code of each series' category (-1: none), if the panel has one

    @property
    def y(self) -> np.ndarray:
        return self.values["y"]


def to_matrix(history: pd.DataFrame, freq_days: int) -> PanelMatrix:
    """Pivot a prepared history panel (see :func:`inventory.ml.base.prepare_history`)."""
    ids = np.array(sorted(history["unique_id"].unique()))
    first, last = history["ds"].min(), history["ds"].max()
    buckets = pd.date_range(first, last, freq=f"{freq_days}D")
    row = pd.Index(ids).get_indexer(history["unique_id"])
    col = ((history["ds"] - first).dt.days // freq_days).to_numpy()
    values: dict[str, np.ndarray] = {}
    for name in ("y", *EXTRA_COLUMNS):
        if name in history:
            m = np.full((len(ids), len(buckets)), np.nan)
            m[row, col] = history[name].to_numpy(dtype=float)
            values[name] = m
    present = np.zeros((len(ids), len(buckets)), dtype=bool)
    present[row, col] = True
    start = np.argmax(present, axis=1)
    category = None
    if "category" in history:
        first = history.dropna(subset=["category"]).groupby("unique_id", sort=True)["category"].first()
        codes = pd.Series(pd.Categorical(first.astype(str)).codes, index=first.index)
        category = codes.reindex(ids).fillna(-1).to_numpy(dtype=int)
    return PanelMatrix(ids=ids, buckets=buckets, values=values, start=start, freq_days=freq_days, category=category)


def _nanmean(a: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.sum(~np.isnan(a), axis=1)
        s = np.nansum(a, axis=1)
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _window(m: np.ndarray, t: int, w: int) -> np.ndarray:
    return m[:, max(t - w, 0):t]


def _christmas_gap(dates: pd.DatetimeIndex, freq_days: int) -> np.ndarray:
    """Buckets until the next 25 December (0 in its bucket)."""
    xmas = pd.to_datetime([f"{d.year}-12-25" for d in dates])
    after = dates > xmas
    xmas = xmas.where(~after, pd.to_datetime([f"{d.year + 1}-12-25" for d in dates]))
    return ((xmas - dates).days // freq_days).to_numpy(dtype=float)


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[dt.date]:
    """England's bank holidays of ``year`` (fixed rules; substitute days ignored)."""
    def monday(month: int, last: bool) -> dt.date:
        days = pd.date_range(f"{year}-{month:02d}-01", periods=31, freq="D")
        mondays = [d.date() for d in days if d.month == month and d.weekday() == 0]
        return mondays[-1] if last else mondays[0]

    e = (pd.Timestamp(f"{year}-01-01") + pd.offsets.Easter()).date()
    return frozenset({dt.date(year, 1, 1), e - dt.timedelta(days=2), e + dt.timedelta(days=1), monday(5, False),
                      monday(5, True), monday(8, True), dt.date(year, 12, 25), dt.date(year, 12, 26)})


def calendar_features(start: pd.Timestamp, freq_days: int) -> dict[str, float]:
    """Calendar of the bucket starting at ``start``: week of year, buckets to Christmas, pre-Christmas
    flag, Christmas closure and bank holidays."""
    days = [(start + pd.Timedelta(days=i)).date() for i in range(freq_days)]
    gap = _christmas_gap(pd.DatetimeIndex([start]), freq_days)[0]
    return {
        "week_of_year": float(start.isocalendar().week),
        "to_christmas": gap,
        "pre_christmas": float(0 < gap <= 8),
        "christmas_closure": float(any((d.month == 12 and d.day >= 24) or (d.month == 1 and d.day == 1)
                                       for d in days)),
        "bank_holidays": float(sum(d in _bank_holidays(d.year) for d in days)),
    }


def _group_season(y: np.ndarray, codes: np.ndarray, n_groups: int, t: int, horizon: int) -> np.ndarray:
    """Per group and step, log of (demand in the buckets ``t + step - 1 - 52 ± 1``) / (mean demand in the 13
    buckets before ``t - 52``) of the group's series that had sold by ``t - 65``; NaN where not computable."""
    out = np.full((n_groups, horizon), np.nan)
    base_lo, base_hi = t - SEASON - 13, t - SEASON
    if base_lo < 0:
        return out
    known = np.nan_to_num(y[:, :t])
    total = np.zeros((n_groups, t))
    np.add.at(total, codes, known)
    base = total[:, base_lo:base_hi].mean(axis=1)
    for step in range(1, horizon + 1):
        c = t + step - 1
        lo, hi = c - SEASON - SEASON_SPAN, c - SEASON + SEASON_SPAN + 1
        same = total[:, max(lo, 0):hi].mean(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, step - 1] = np.where(base > 0, np.log((same + 1.0) / (base + 1.0)), np.nan)
    return out


def seasonal_features(pm: PanelMatrix, t: int, horizon: int, scale: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Prior-year features of every series for each step 1..``horizon`` at origin ``t`` (module docstring)."""
    y = pm.y
    n = len(pm.ids)
    nan = np.full(n, np.nan)
    base_lo, base_hi = t - SEASON - 13, t - SEASON
    base = _nanmean(y[:, base_lo:base_hi]) if base_lo >= 0 else nan
    level = _nanmean(_window(y[:, :t], t, 13))
    old = pm.start <= base_lo  # series that were selling a season ago
    shop = _group_season(np.where(old[:, None], y, 0.0), np.zeros(n, dtype=int), 1, t, horizon)[0]
    cat = None
    if pm.category is not None and base_lo >= 0:
        none = int(pm.category.max()) + 1  # the group of the series without a category
        codes = np.where(pm.category >= 0, pm.category, none)
        cat = _group_season(np.where(old[:, None], y, 0.0), codes, none + 1, t, horizon)
        unusable = np.bincount(codes[old], minlength=none + 1) < MIN_CATEGORY_SERIES
        unusable[none] = True
        cat[unusable] = np.nan
        cat = cat[codes]
    out = []
    for step in range(1, horizon + 1):
        c = t + step - 1
        lo, hi = c - SEASON - SEASON_SPAN, c - SEASON + SEASON_SPAN + 1
        same = _nanmean(y[:, max(lo, 0):hi]) if hi > 0 else nan
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(base > 0, same / base, np.nan)
        f = {
            "ly_same": same / scale,
            "ly_ratio": np.log((same + 0.1) / (base + 0.1)),
            "ly_projection": level * np.clip(ratio, 0.25, 4.0) / scale,
            "shop_season": np.full(n, shop[step - 1]),
            "shop_yoy": np.full(n, np.nan),
        }
        if cat is not None:
            f["category_season"] = cat[:, step - 1]
        out.append(f)
    if base_lo >= 0:  # the shop's level now against the same 13 buckets a season ago
        now = np.nansum(np.where(old[:, None], np.nan_to_num(y[:, t - 13:t]), 0.0))
        then = np.nansum(np.where(old[:, None], np.nan_to_num(y[:, base_lo:base_hi]), 0.0))
        for f in out:
            f["shop_yoy"] = np.full(n, np.log((now + 1.0) / (then + 1.0)))
    return out


def origin_features(pm: PanelMatrix, t: int, windows: tuple[int, ...], n_lags: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Features of every series at origin ``t`` (uses buckets < t) and each series' scale."""
    y = pm.y[:, :t]
    n = len(pm.ids)
    f: dict[str, np.ndarray] = {}
    mean_all = _nanmean(y)
    mean_13 = _nanmean(_window(y, t, 13))
    scale = np.where(mean_13 > 0, mean_13, np.where(mean_all > 0, mean_all, 1.0))
    f["log_scale"] = np.log1p(scale)
    for k in range(1, n_lags + 1):
        f[f"lag{k}"] = y[:, t - k] / scale if t - k >= 0 else np.full(n, np.nan)
    for w in windows:
        win = _window(y, t, w)
        f[f"mean{w}"] = _nanmean(win) / scale
        f[f"nz{w}"] = _nanmean((win > 0).astype(float) + np.where(np.isnan(win), np.nan, 0.0))
    f["max13"] = np.nanmax(np.where(np.isnan(_window(y, t, 13)), -np.inf, _window(y, t, 13)), axis=1) / scale
    with np.errstate(invalid="ignore"):
        f["std13"] = np.nanstd(_window(y, t, 13), axis=1) / scale
        f["med8"] = np.nanmedian(np.where(np.isnan(_window(y, t, 8)), np.nan, _window(y, t, 8)), axis=1) / scale
    f["trend_4_13"] = np.log((f["mean4"] + 0.05) / (f.get("mean13", f["mean4"]) + 0.05))
    if 26 in windows and 52 in windows:
        f["trend_13_52"] = np.log((f.get("mean13", f["mean26"]) + 0.05) / (f["mean52"] + 0.05))
    sold = np.nan_to_num(y, nan=0.0) > 0
    last_sale = np.where(sold.any(axis=1), t - 1 - np.argmax(sold[:, ::-1], axis=1), -1)
    f["since_sale"] = np.where(last_sale >= 0, t - last_sale, 99.0).astype(float)
    f["age"] = (t - pm.start).astype(float)
    nz = sold.sum(axis=1)
    f["adi"] = np.where(nz > 0, f["age"] / np.maximum(nz, 1), 99.0)
    sizes = np.where(sold, y, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        f["cv2"] = (np.nanstd(sizes, axis=1) / np.nanmean(sizes, axis=1)) ** 2
    for name in ("n_lines", "n_customers"):
        if name in pm.values:
            m = pm.values[name][:, :t]
            m4, m13 = _nanmean(_window(m, t, 4)), _nanmean(_window(m, t, 13))
            f[f"{name}_4"] = np.log1p(m4)
            f[f"{name}_trend"] = np.log((m4 + 0.1) / (m13 + 0.1))
            f[f"size_per_{name}"] = np.log1p(scale / np.maximum(m13, 0.1))
    if "exposures" in pm.values:  # recommendation exposure: known up to the origin, so its recent change leads demand
        e = np.nan_to_num(pm.values["exposures"][:, :t])
        e4, e13 = _nanmean(_window(e, t, 4)), _nanmean(_window(e, t, 13))
        f["exposures_last"] = np.log1p(e[:, -1]) if t > 0 else np.full(n, np.nan)
        f["exposures_4"] = np.log1p(e4)
        f["exposures_trend"] = np.log((e[:, -1] + 1.0) / (e13 + 1.0)) if t > 0 else np.full(n, np.nan)
        f["units_per_exposure"] = np.log1p(scale / np.maximum(e13, 1.0))
    if "price" in pm.values:
        p = pm.values["price"][:, :t]
        p_last = pd.DataFrame(p.T).ffill().to_numpy().T[:, -1] if t > 0 else np.full(n, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            p_med = np.nanmedian(np.where(np.isnan(p), np.nan, p), axis=1)
        f["log_price"] = np.log(p_med)
        f["price_ratio"] = np.log(p_last / p_med)
    # last season: demand in the weeks before last Christmas relative to the series mean (NaN if unseen)
    gap = _christmas_gap(pm.buckets[:t], pm.freq_days) if t > 0 else np.array([])
    last_season = (gap <= 5) & (np.arange(t) < t - 26)
    if last_season.any():
        f["xmas_index"] = _nanmean(y[:, last_season]) / np.where(mean_all > 0, mean_all, np.nan)
    else:
        f["xmas_index"] = np.full(n, np.nan)
    # shop-wide momentum: same value for every series at this origin
    tot = np.nansum(pm.y[:, :t], axis=0)
    if t >= 8:
        f["shop_trend_4_8"] = np.full(n, np.log((tot[-4:].sum() + 1) / (tot[-8:-4].sum() + 1)))
    else:
        f["shop_trend_4_8"] = np.full(n, np.nan)
    if t >= 13:
        f["shop_trend_4_13"] = np.full(n, np.log((tot[-4:].mean() + 1) / (tot[-13:].mean() + 1)))
    else:
        f["shop_trend_4_13"] = np.full(n, np.nan)
    out = pd.DataFrame(f).replace([np.inf, -np.inf], np.nan)
    return out, scale


def design_rows(
    pm: PanelMatrix,
    origins: list[int],
    horizon: int,
    windows: tuple[int, ...] = (4, 8, 13, 26, 52),
    n_lags: int = 8,
    min_nonzero: int = 0,
    with_target: bool = True,
) -> pd.DataFrame:
    """Stack the rows of several origins × steps 1..horizon.

    Columns: features, ``step``, calendar features of the target bucket, ``_series`` (row index into
    ``pm.ids``), ``_origin``, ``_scale`` and — with ``with_target`` — ``_target`` (scaled, NaN when
    unknown or censored). Series that have not started by the origin, or have fewer than
    ``min_nonzero`` selling buckets before it, are left out.
    """
    frames = []
    for t in origins:
        feats, scale = origin_features(pm, t, windows, n_lags)
        nz = (np.nan_to_num(pm.y[:, :t], nan=0.0) > 0).sum(axis=1)
        keep = (pm.start < t) & (nz >= min_nonzero)
        feats = feats[keep].reset_index(drop=True)
        idx = np.flatnonzero(keep)
        seasonal = seasonal_features(pm, t, horizon, scale)
        for step in range(1, horizon + 1):
            block = feats.copy()
            block["step"] = float(step)
            target_date = pm.buckets[0] + pd.Timedelta(days=pm.freq_days * (t + step - 1))
            for name, value in calendar_features(target_date, pm.freq_days).items():
                block[name] = value
            for name, values in seasonal[step - 1].items():
                block[name] = values[idx]
            block["_series"] = idx
            block["_origin"] = t
            block["_scale"] = scale[idx]
            if with_target:
                col = t + step - 1
                block["_target"] = pm.y[idx, col] / scale[idx] if col < pm.y.shape[1] else np.nan
            frames.append(block)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def thin_zero_targets(rows: pd.DataFrame, keep: float, random_state: int | None) -> pd.DataFrame:
    """Training rows with each zero-target row kept with probability ``keep`` (seeded by ``random_state``)
    and every other row kept. The column ``_weight`` (added to ``rows`` itself) is the row's training
    weight: ``_scale``, divided by ``keep`` for the zero rows, so every loss keeps its expectation
    (negative down-sampling). ``keep=1`` keeps every row."""
    if not 0 < keep <= 1:
        raise ValueError(f"zero_keep must be in (0, 1], got {keep}")
    rows["_weight"] = rows["_scale"].to_numpy(dtype=float)
    if keep == 1:
        return rows
    zero = rows["_target"].to_numpy() == 0
    rows.loc[zero, "_weight"] = rows.loc[zero, "_weight"] / keep
    rng = np.random.default_rng(0 if random_state is None else random_state)
    return rows[~zero | (rng.random(len(rows)) < keep)].reset_index(drop=True)


def feature_columns(rows: pd.DataFrame, exclude: tuple[str, ...] = ()) -> list[str]:
    """Model input columns of a :func:`design_rows` frame: not starting with ``_``, not in ``exclude`` and
    not entirely missing (e.g. ``xmas_index`` before a first Christmas is in the history) and not constant
    (e.g. the Christmas flags when no training row reaches December)."""
    return [c for c in rows.columns
            if not c.startswith("_") and c not in exclude and rows[c].notna().any() and rows[c].nunique() > 1]


class GlobalForecaster(Forecaster):
    """Base of the global (cross-series) forecasters: they keep their trained model and forecast from
    the latest history's features."""

    def update(self, history: pd.DataFrame) -> GlobalForecaster:
        """Forecast from newer history with the already trained models (no refit)."""
        self._check_fitted()
        h = prepare_history(history)
        self.matrix_ = to_matrix(h, infer_freq_days(h))
        self.ids_ = self.matrix_.ids
        return self
