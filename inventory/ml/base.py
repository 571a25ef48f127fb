"""The one forecaster contract every model in :mod:`inventory.ml` follows.

scikit-learn shape: hyperparameters in ``__init__`` (stored unchanged, so ``sklearn.base.clone``
works), ``fit(history) -> self``, learned attributes ending in ``_``, ``random_state`` where the model
is stochastic, and::

    predict(horizon, quantiles=(0.5, 0.9)) -> DataFrame[unique_id, step, mean, q50, q90]

``history`` is a long panel (see :mod:`inventory.ml.demand`): ``unique_id``, ``ds`` (bucket start, a
regular weekly or daily grid per series, no gaps), ``y`` (units) and optional extra columns
(``price``, ``n_lines``, ``n_customers``, ``stockout``). ``step`` counts buckets after each series'
last ``ds`` (1 = the next bucket). Forecasts are non-negative and quantile columns are ordered.

Censored demand: when ``history`` carries a boolean ``stockout`` column, a bucket flagged as a
stock-out whose sales are 0 is treated as *missing* (demand unknown, not zero):
:func:`prepare_history` turns its ``y`` into NaN; local models impute it from the trailing non-missing
mean, global models skip it as a target and ignore it in their window features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

FORECAST_COLUMNS = ("unique_id", "step", "mean")


def quantile_column(tau: float) -> str:
    """Column name of a quantile forecast: 0.5 -> ``q50``, 0.9 -> ``q90``, 0.975 -> ``q97.5``."""
    pct = tau * 100
    return f"q{round(pct)}" if abs(pct - round(pct)) < 1e-9 else f"q{pct:g}"


def prepare_history(history: pd.DataFrame) -> pd.DataFrame:
    """Validate and normalise a history panel: sorted, float ``y`` >= 0, censored stock-out zeros as NaN."""
    missing = {"unique_id", "ds", "y"} - set(history.columns)
    if missing:
        raise ValueError(f"history lacks columns: {sorted(missing)}")
    if history.empty:
        raise ValueError("history is empty")
    h = history.copy()
    h["unique_id"] = h["unique_id"].astype(str)
    h["ds"] = pd.to_datetime(h["ds"])
    h["y"] = h["y"].astype(float).clip(lower=0.0)
    if "stockout" in h:
        censored = h["stockout"].fillna(False).astype(bool) & (h["y"] == 0)
        h.loc[censored, "y"] = np.nan
    return h.sort_values(["unique_id", "ds"], kind="mergesort").reset_index(drop=True)


def infer_freq_days(history: pd.DataFrame) -> int:
    """Bucket length in days (7 for weekly panels, 1 for daily); 7 when it cannot be told."""
    diffs = history.groupby("unique_id")["ds"].diff().dropna()
    if diffs.empty:
        return 7
    return max(int(diffs.min() / pd.Timedelta(days=1)), 1)


def finalize_forecast(df: pd.DataFrame, quantiles: Sequence[float]) -> pd.DataFrame:
    """Clip to >= 0, force quantile columns to be non-decreasing in tau, order columns and rows."""
    qcols = [quantile_column(t) for t in sorted(quantiles)]
    out = df.copy()
    out["mean"] = out["mean"].clip(lower=0.0)
    if qcols:
        q = np.maximum.accumulate(np.clip(out[qcols].to_numpy(dtype=float), 0.0, None), axis=1)
        out[qcols] = q
    out["step"] = out["step"].astype(int)
    out = out[[*FORECAST_COLUMNS, *qcols]]
    return out.sort_values(["unique_id", "step"], kind="mergesort").reset_index(drop=True)


class Forecaster(BaseEstimator):
    """Base class: subclasses implement ``fit`` and ``predict`` (see the module docstring)."""

    def fit(self, history: pd.DataFrame) -> Forecaster:  # pragma: no cover - interface
        """Learn from a history panel; returns ``self``."""
        raise NotImplementedError

    def predict(self, horizon: int, quantiles: Sequence[float] = (0.5, 0.9)) -> pd.DataFrame:  # pragma: no cover
        """Forecast ``horizon`` buckets after each series' last bucket."""
        raise NotImplementedError

    def update(self, history: pd.DataFrame) -> Forecaster:
        """Take newer history without re-learning where the model allows it (global models keep their
        trees and only recompute features); local models simply refit. Returns ``self``."""
        return self.fit(history)

    def _check_fitted(self) -> None:
        if not hasattr(self, "ids_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(history) first")


def check_predict_args(horizon: int, quantiles: Sequence[float]) -> None:
    """Reject a non-positive horizon and quantile levels outside (0, 1) with a clear message."""
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    for tau in quantiles:
        if not 0.0 < float(tau) < 1.0:
            raise ValueError(f"quantile levels must lie in (0, 1), got {tau!r}")
