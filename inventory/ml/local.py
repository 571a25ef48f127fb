"""Local (one model per series) forecasters backed by statsforecast.

:class:`LocalForecaster` wraps one statsforecast model — the protocol's anchors (Naive,
HistoricAverage, WindowAverage(4), CrostonSBA, TSB(0.2, 0.2), ADIDA, IMAPA, AutoETS) and Theta —
behind the :mod:`inventory.ml.base` contract. statsforecast gives point forecasts only for the
intermittent-demand methods, so quantiles come from each series' own recent demand distribution
rescaled to the forecast level ("scaled empirical quantiles"):

    q_tau = mean_forecast × Quantile_tau(y_recent / mean(y_recent))

which keeps the share of zero weeks of an intermittent item (its median can be 0) and the spread of
its order sizes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .base import Forecaster, check_predict_args, finalize_forecast, infer_freq_days, prepare_history, quantile_column

#: Names accepted by :class:`LocalForecaster` and the statsforecast defaults the protocol uses.
METHODS = (
    "Naive", "HistoricAverage", "WindowAverage", "CrostonSBA", "TSB", "ADIDA", "IMAPA", "AutoETS", "Theta",
    "SES",
)
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "WindowAverage": {"window_size": 4},
    "TSB": {"alpha_d": 0.2, "alpha_p": 0.2},
    "AutoETS": {"season_length": 1},
    "Theta": {"season_length": 1},
    "SES": {"alpha": 0.1},
}


def _make_model(method: str, params: dict[str, Any]) -> Any:
    import statsforecast.models as sfm  # heavy import, only when a local model is fitted

    classes = {
        "Naive": sfm.Naive, "HistoricAverage": sfm.HistoricAverage, "WindowAverage": sfm.WindowAverage,
        "CrostonSBA": sfm.CrostonSBA, "TSB": sfm.TSB, "ADIDA": sfm.ADIDA, "IMAPA": sfm.IMAPA,
        "AutoETS": sfm.AutoETS, "Theta": sfm.Theta, "SES": sfm.SimpleExponentialSmoothing,
    }
    if method not in classes:
        raise ValueError(f"unknown local method {method!r}; choose one of {', '.join(METHODS)}")
    return classes[method](**{**DEFAULT_PARAMS.get(method, {}), **params, "alias": "fc"})


def impute_censored(history: pd.DataFrame, window: int = 8) -> pd.Series:
    """``y`` with NaN (censored stock-out buckets) replaced by the mean of the previous ``window`` known buckets."""
    y = history["y"]
    if not y.isna().any():
        return y
    trailing = (
        history.groupby("unique_id", sort=False)["y"]
        .transform(lambda s: s.shift(1).rolling(window, min_periods=1).mean())
    )
    overall = history.groupby("unique_id", sort=False)["y"].transform("mean")
    return y.fillna(trailing).fillna(overall).fillna(0.0)


def scaled_empirical_quantiles(history: pd.DataFrame, taus: Sequence[float], window: int) -> pd.DataFrame:
    """Per series, Quantile_tau(y / mean(y)) over the last ``window`` known buckets (1.0 for a flat zero series)."""
    recent = history.dropna(subset=["y"]).groupby("unique_id", sort=True).tail(window)
    g = recent.groupby("unique_id", sort=True)["y"]
    mean = g.transform("mean")
    ratio = (recent["y"] / mean.where(mean > 0)).fillna(1.0)
    out = pd.DataFrame(index=pd.Index(sorted(recent["unique_id"].unique()), name="unique_id"))
    grouped = ratio.groupby(recent["unique_id"])
    for tau in taus:
        out[quantile_column(tau)] = grouped.quantile(tau)
    return out


class LocalForecaster(Forecaster):
    """One statsforecast model per series.

    Parameters
    ----------
    method: a name from :data:`METHODS` (``"IMAPA"``, ``"TSB"``, ``"AutoETS"`` …).
    params: keyword arguments for the statsforecast model (defaults: :data:`DEFAULT_PARAMS`).
    quantile_window: buckets of recent history behind the scaled empirical quantiles.
    n_jobs: statsforecast worker processes (1 keeps it in-process).
    random_state: unused (the models are deterministic); kept for the common contract.
    """

    def __init__(
        self,
        method: str = "IMAPA",
        params: dict[str, Any] | None = None,
        quantile_window: int = 52,
        n_jobs: int = 1,
        random_state: int | None = None,
    ) -> None:
        self.method = method
        self.params = params
        self.quantile_window = quantile_window
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, history: pd.DataFrame) -> LocalForecaster:
        """Store the (censoring-aware) history; the statsforecast models are fitted in :meth:`predict`."""
        _make_model(self.method, dict(self.params or {}))  # fail early on a bad method / parameter
        h = prepare_history(history)
        self.history_ = h
        self.ids_ = np.array(sorted(h["unique_id"].unique()))
        self.freq_days_ = infer_freq_days(h)
        return self

    def predict(self, horizon: int, quantiles: Sequence[float] = (0.5, 0.9)) -> pd.DataFrame:
        """Point forecasts from statsforecast plus scaled empirical quantiles (module docstring)."""
        self._check_fitted()
        check_predict_args(horizon, quantiles)
        from statsforecast import StatsForecast

        h = self.history_
        frame = pd.DataFrame({"unique_id": h["unique_id"], "ds": h["ds"], "y": impute_censored(h)})
        os.environ.setdefault("NIXTLA_ID_AS_COL", "1")
        sf = StatsForecast(
            models=[_make_model(self.method, dict(self.params or {}))],
            freq=f"{self.freq_days_}D",
            n_jobs=self.n_jobs,
        )
        fc = sf.forecast(df=frame, h=int(horizon))
        fc["step"] = fc.groupby("unique_id", sort=False).cumcount() + 1
        fc = fc.rename(columns={"fc": "mean"})[["unique_id", "step", "mean"]]
        fc["mean"] = fc["mean"].astype(float).fillna(0.0).clip(lower=0.0)
        if quantiles:
            ratios = scaled_empirical_quantiles(h, quantiles, self.quantile_window)
            fc = fc.merge(ratios, left_on="unique_id", right_index=True, how="left")
            for tau in quantiles:
                col = quantile_column(tau)
                fc[col] = fc["mean"] * fc[col].fillna(1.0)
        return finalize_forecast(fc, quantiles)
