"""Global gradient-boosted forecaster: one scikit-learn HistGradientBoostingRegressor for all series.

Direct multi-step: each training row is (series, origin, step) with the features of
:mod:`inventory.ml.features` (lags, rolling means, zero share, demand-class statistics, breadth of
demand — order lines and customers —, price level and change, shop-wide momentum, calendar of the
target week: week of year and weeks to Christmas, and the step). Targets are demand scaled by the
series' recent mean and rows are weighted by that scale, so the absolute-error loss is the WAPE
numerator. One model per output: ``mean`` (``point_loss``, squared error by default) and one quantile-loss
model per requested quantile level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .base import check_predict_args, finalize_forecast, infer_freq_days, prepare_history, quantile_column
from .features import GlobalForecaster, PanelMatrix, design_rows, feature_columns, thin_zero_targets, to_matrix


class GlobalGBMForecaster(GlobalForecaster):
    """Global direct multi-horizon gradient boosting with quantile-loss heads.

    Parameters
    ----------
    horizon: steps trained for; ``predict`` accepts up to this many.
    quantiles: quantile levels with their own quantile-loss model (``predict`` can ask for these only).
    point_loss: loss of the ``mean`` model: ``"squared_error"``, ``"poisson"`` or ``"absolute_error"``.
    train_window: how many most recent origins make training rows.
    min_nonzero: a series contributes rows at an origin once it has this many selling buckets before it.
    target_cap: scaled targets are clipped at this value for training (wholesale one-off orders).
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization: boosting parameters.
    recency_half_life: when set, a training row's weight halves every this many buckets of origin age.
    zero_keep: share of the zero-target training rows kept (seeded), their weight divided by it
        (:func:`inventory.ml.features.thin_zero_targets`); 1 keeps every row.
    exclude_features: feature names (see :mod:`inventory.ml.features`) left out of the model.
    random_state: seed of the boosting models.
    """

    def __init__(
        self,
        horizon: int = 4,
        quantiles: Sequence[float] = (0.5, 0.9),
        point_loss: str = "squared_error",
        train_window: int = 26,
        min_nonzero: int = 4,
        target_cap: float = 20.0,
        windows: tuple[int, ...] = (4, 8, 13, 26, 52),
        n_lags: int = 8,
        max_iter: int = 200,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 100,
        l2_regularization: float = 1.0,
        recency_half_life: float | None = None,
        zero_keep: float = 1.0,
        exclude_features: tuple[str, ...] = (),
        random_state: int | None = 0,
    ) -> None:
        self.horizon = horizon
        self.quantiles = quantiles
        self.point_loss = point_loss
        self.train_window = train_window
        self.min_nonzero = min_nonzero
        self.target_cap = target_cap
        self.windows = windows
        self.n_lags = n_lags
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.recency_half_life = recency_half_life
        self.zero_keep = zero_keep
        self.exclude_features = exclude_features
        self.random_state = random_state

    def _model(self, loss: str, quantile: float | None = None):  # noqa: ANN202 - sklearn estimator
        from sklearn.ensemble import HistGradientBoostingRegressor

        kwargs = {"quantile": quantile} if loss == "quantile" else {}
        return HistGradientBoostingRegressor(
            loss=loss,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
            **kwargs,
        )

    def training_rows(self, pm: PanelMatrix) -> pd.DataFrame:
        """Rows of the last ``train_window`` origins whose target is known (zero targets thinned by
        ``zero_keep``), with their weight in ``_weight``."""
        n_buckets = len(pm.buckets)
        first = max(n_buckets - self.train_window, 4)
        rows = design_rows(
            pm, list(range(first, n_buckets)), self.horizon, self.windows, self.n_lags, self.min_nonzero
        )
        return thin_zero_targets(rows[rows["_target"].notna()].reset_index(drop=True), self.zero_keep,
                                 self.random_state)

    def fit(self, history: pd.DataFrame) -> GlobalGBMForecaster:
        """Build training rows from ``history`` and fit the mean and quantile models."""
        h = prepare_history(history)
        self.freq_days_ = infer_freq_days(h)
        pm = to_matrix(h, self.freq_days_)
        rows = self.training_rows(pm)
        if rows.empty:
            raise ValueError("history too short for the global model: no training rows")
        self.feature_names_ = feature_columns(rows, tuple(self.exclude_features))
        x = rows[self.feature_names_].to_numpy(dtype=float)
        target = np.minimum(rows["_target"].to_numpy(), self.target_cap)
        weight = rows["_weight"].to_numpy()
        if self.recency_half_life:
            age = len(pm.buckets) - rows["_origin"].to_numpy()
            weight = weight * 0.5 ** (age / self.recency_half_life)
        self.models_ = {"mean": self._model(self.point_loss).fit(x, target, sample_weight=weight)}
        for tau in self.quantiles:
            self.models_[quantile_column(tau)] = self._model("quantile", tau).fit(x, target, sample_weight=weight)
        self.matrix_ = pm
        self.ids_ = pm.ids
        self.n_train_rows_ = len(rows)
        return self

    def predict(self, horizon: int, quantiles: Sequence[float] = (0.5, 0.9)) -> pd.DataFrame:
        """Forecast from the end of the fitted history (every series, including ones too young for training)."""
        self._check_fitted()
        check_predict_args(horizon, quantiles)
        if horizon > self.horizon:
            raise ValueError(f"this model was trained for horizon {self.horizon}, asked for {horizon}")
        unknown = [t for t in quantiles if quantile_column(t) not in self.models_]
        if unknown:
            raise ValueError(f"quantiles {unknown} were not trained; fit with quantiles={tuple(quantiles)}")
        pm = self.matrix_
        rows = design_rows(pm, [len(pm.buckets)], int(horizon), self.windows, self.n_lags, 0, with_target=False)
        x = rows[self.feature_names_].to_numpy(dtype=float)
        out = pd.DataFrame({"unique_id": pm.ids[rows["_series"].to_numpy()], "step": rows["step"].astype(int)})
        scale = rows["_scale"].to_numpy()
        out["mean"] = self.models_["mean"].predict(x) * scale
        for tau in quantiles:
            col = quantile_column(tau)
            out[col] = self.models_[col].predict(x) * scale
        return finalize_forecast(out, quantiles)
