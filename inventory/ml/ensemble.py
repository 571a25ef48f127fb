"""Average of several forecasters (mean and each quantile column averaged: Vincentization)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone

from .base import Forecaster, check_predict_args, finalize_forecast, quantile_column


def average_forecasts(frames: Sequence[pd.DataFrame], weights: Sequence[float] | None = None) -> pd.DataFrame:
    """Weighted average of forecast frames on (unique_id, step); a series missing from one frame keeps
    the average of the others."""
    w = np.ones(len(frames)) if weights is None else np.asarray(weights, dtype=float)
    cols = [c for c in frames[0].columns if c not in ("unique_id", "step")]
    stacked = pd.concat(
        [f.assign(_w=wi) for f, wi in zip(frames, w, strict=True)], ignore_index=True
    )
    for c in cols:
        stacked[c] = stacked[c] * stacked["_w"]
    g = stacked.groupby(["unique_id", "step"], sort=True)
    out = g[cols].sum().div(g["_w"].sum(), axis=0).reset_index()
    return out


class EnsembleForecaster(Forecaster):
    """Equal- (or ``weights``-) weighted average of member forecasters.

    Parameters
    ----------
    members: ``{name: forecaster}``; cloned and fitted on the same history.
    weights: one weight per member (default equal).
    random_state: unused; members carry their own.
    """

    def __init__(
        self, members: dict[str, Forecaster], weights: Sequence[float] | None = None, random_state: int | None = None
    ) -> None:
        self.members = members
        self.weights = weights
        self.random_state = random_state

    def fit(self, history: pd.DataFrame) -> EnsembleForecaster:
        """Fit every member on ``history``."""
        if not self.members:
            raise ValueError("EnsembleForecaster needs at least one member")
        self.fitted_ = {name: clone(m).fit(history) for name, m in self.members.items()}
        self.ids_ = np.array(sorted(set().union(*(set(m.ids_) for m in self.fitted_.values()))))
        return self

    def update(self, history: pd.DataFrame) -> EnsembleForecaster:
        """Pass newer history to every member."""
        self._check_fitted()
        for model in self.fitted_.values():
            model.update(history)
        self.ids_ = np.array(sorted(set().union(*(set(m.ids_) for m in self.fitted_.values()))))
        return self

    def predict(self, horizon: int, quantiles: Sequence[float] = (0.5, 0.9)) -> pd.DataFrame:
        """Average the members' forecasts."""
        self._check_fitted()
        check_predict_args(horizon, quantiles)
        return self.combine([m.predict(horizon, quantiles) for m in self.fitted_.values()], quantiles)

    def combine(self, frames: Sequence[pd.DataFrame], quantiles: Sequence[float]) -> pd.DataFrame:
        """The ensemble's forecast from its members' forecasts (in the order of ``members``)."""
        out = average_forecasts(frames, self.weights)
        return finalize_forecast(out, [t for t in quantiles if quantile_column(t) in out])
