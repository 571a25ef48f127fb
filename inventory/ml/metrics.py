"""Forecast accuracy metrics (PROTOCOL §2): WAPE, MASE, bias, pinball loss, quantile coverage.

All functions take plain arrays; :func:`evaluate_forecast` joins a forecast frame to actuals and
history (the long ``unique_id`` / ``ds`` / ``y`` panel of :mod:`inventory.ml.demand`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def wape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Weighted absolute percentage error Σ|y − ŷ| / Σy over all points (NaN when Σy = 0)."""
    y = np.asarray(y, dtype=float)
    yhat = np.asarray(yhat, dtype=float)
    total = y.sum()
    return float(np.abs(y - yhat).sum() / total) if total > 0 else float("nan")


def bias(y: np.ndarray, yhat: np.ndarray) -> float:
    """Relative bias (Σŷ − Σy) / Σy: negative means under-forecasting."""
    y = np.asarray(y, dtype=float)
    total = y.sum()
    return float((np.asarray(yhat, dtype=float).sum() - total) / total) if total > 0 else float("nan")


def pinball_loss(y: np.ndarray, q: np.ndarray, tau: float) -> float:
    """Mean quantile (pinball) loss of the ``tau`` quantile forecast ``q``."""
    y = np.asarray(y, dtype=float)
    diff = y - np.asarray(q, dtype=float)
    return float(np.mean(np.maximum(tau * diff, (tau - 1.0) * diff)))


def coverage(y: np.ndarray, q: np.ndarray) -> float:
    """Share of actuals at or below the quantile forecast (0.9 is ideal for a 90% quantile)."""
    return float(np.mean(np.asarray(y, dtype=float) <= np.asarray(q, dtype=float)))


def coverage_factor(covered: pd.Series, n: pd.Series, tau: float) -> float:
    """Split-conformal scale of a quantile forecast: the smallest factor (the index of ``covered`` / ``n``:
    actuals at or below factor × quantile, and points, summed over the calibration windows) whose empirical
    coverage reaches ``tau``; the largest factor when none does, 1.0 without points."""
    total = n.sort_index()
    if total.sum() <= 0:
        return 1.0
    cov = covered.sort_index() / total.where(total > 0)
    ok = cov[cov >= tau - 1e-12]
    return float(ok.index.min() if len(ok) else cov.index.max())


def naive_scale(history: pd.DataFrame) -> pd.Series:
    """In-sample one-step naive MAE per series: mean |y_t − y_{t−1}| over each series' history."""
    h = history.sort_values(["unique_id", "ds"], kind="mergesort")
    diff = h.groupby("unique_id", sort=False)["y"].diff().abs()
    return diff.groupby(h["unique_id"]).mean()


def mase(
    unique_id: np.ndarray, y: np.ndarray, yhat: np.ndarray, scale: pd.Series
) -> float:
    """Mean over series of (forecast MAE / in-sample naive MAE); series with a zero or missing scale are skipped."""
    err = pd.Series(np.abs(np.asarray(y, dtype=float) - np.asarray(yhat, dtype=float)))
    mae = err.groupby(np.asarray(unique_id)).mean()
    ratio = mae / scale.reindex(mae.index)
    ratio = ratio.replace([np.inf, -np.inf], np.nan).dropna()
    return float(ratio.mean()) if len(ratio) else float("nan")


def evaluate_forecast(
    forecast: pd.DataFrame,
    actual: pd.DataFrame,
    history: pd.DataFrame,
    point: str = "mean",
    quantiles: Sequence[float] = (0.5, 0.9),
) -> dict[str, float]:
    """Every PROTOCOL §2 metric for one forecast.

    ``forecast`` has ``unique_id``, ``step`` and the ``point`` column (plus ``q50`` / ``q90`` for the
    quantile metrics, when present); ``actual`` has ``unique_id``, ``step``, ``y``; ``history`` is the
    training panel for the MASE scale. Missing forecasts count as 0.
    """
    df = actual.merge(forecast, on=["unique_id", "step"], how="left", suffixes=("", "_fc"))
    yhat = df[point].fillna(0.0).to_numpy()
    y = df["y"].to_numpy()
    out = {
        "wape": wape(y, yhat),
        "mase": mase(df["unique_id"].to_numpy(), y, yhat, naive_scale(history)),
        "bias": bias(y, yhat),
    }
    for tau in quantiles:
        col = f"q{round(tau * 100)}"
        if col in df:
            q = df[col].fillna(0.0).to_numpy()
            out[f"pinball_{col}"] = pinball_loss(y, q, tau)
            out[f"coverage_{col}"] = coverage(y, q)
    return out
