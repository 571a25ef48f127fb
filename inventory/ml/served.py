"""The served forecasting configuration, in one place.

``bench/inventory.py`` (which scores it), ``manage.py evaluate_forecasts`` and the Django planner
(``forecast_demand`` / ``plan_restock``, ``INVENTORY["FORECASTER"] = "selector"``) all build the served
forecaster here, so a benchmark figure describes what the shop runs. How each setting was chosen is
recorded in the "Forecasting and replenishment" section of ``bench/RESULTS.md``.

The served forecaster is a :class:`~inventory.ml.selector.ClassSelector` over five local statsforecast
models, the global gradient-boosted model and — when PyTorch is installed — the global MLP and the
GBM+MLP average; per demand class it serves the (candidate, point column, factor) with the lowest WAPE on
the two 4-week windows before the origin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Forecaster
from .ensemble import EnsembleForecaster
from .gbm import GlobalGBMForecaster
from .local import LocalForecaster
from .selector import ClassSelector, Runner

HORIZON = 4
#: Local candidates (statsforecast defaults, see :data:`inventory.ml.local.DEFAULT_PARAMS`).
LOCAL_METHODS = ("TSB", "IMAPA", "ADIDA", "AutoETS", "Theta")
#: The served GBM's settings (development origins 2011-06-06 .. 2011-08-08).
GBM_PARAMS: dict[str, Any] = {"point_loss": "poisson", "max_iter": 100, "learning_rate": 0.1}
#: Selector settings: backtest windows, point columns and the point factors tried per class.
N_BACKTESTS = 2
POINT_COLUMNS = ("mean", "q50")
POINT_FACTORS = (1.0,)
CALIBRATE = (0.9,)
#: Served when the history is too short to backtest (a young shop): the best anchor.
FALLBACK = "IMAPA"


def torch_available() -> bool:
    """Whether PyTorch can be imported (the MLP candidates need it; ``pip install ".[ml]"``)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def served_gbm(
    horizon: int = HORIZON,
    quantiles: tuple[float, ...] = (0.5, 0.9),
    random_state: int | None = 0,
    overrides: Mapping[str, Any] | None = None,
) -> GlobalGBMForecaster:
    """The served global GBM (``overrides`` replace :data:`GBM_PARAMS` entries, e.g. fewer trees)."""
    params = {**GBM_PARAMS, **dict(overrides or {})}
    return GlobalGBMForecaster(horizon=horizon, quantiles=quantiles, random_state=random_state, **params)


def served_candidates(
    horizon: int = HORIZON,
    with_torch: bool | None = None,
    random_state: int | None = 0,
    gbm_overrides: Mapping[str, Any] | None = None,
) -> dict[str, Forecaster]:
    """The selector's candidates; ``with_torch=None`` adds the MLP ones when PyTorch is installed."""
    gbm = served_gbm(horizon, random_state=random_state, overrides=gbm_overrides)
    out: dict[str, Forecaster] = {m: LocalForecaster(m) for m in LOCAL_METHODS}
    out["GBM"] = gbm
    if torch_available() if with_torch is None else with_torch:
        from .torch_mlp import GlobalMLPForecaster

        mlp = GlobalMLPForecaster(horizon=horizon, random_state=random_state)
        out["MLP"] = mlp
        out["GBM+MLP"] = EnsembleForecaster({"GBM": gbm, "MLP": mlp})
    return out


def served_selector(
    horizon: int = HORIZON,
    with_torch: bool | None = None,
    random_state: int | None = 0,
    gbm_overrides: Mapping[str, Any] | None = None,
    runner: Runner | None = None,
    **selector_overrides: Any,
) -> ClassSelector:
    """The served forecaster (module docstring); ``runner`` lets the benchmark cache backtest fits and
    ``selector_overrides`` replace selector settings (development runs only)."""
    params: dict[str, Any] = {
        "n_backtests": N_BACKTESTS,
        "point_columns": POINT_COLUMNS,
        "point_factors": POINT_FACTORS,
        "calibrate": CALIBRATE,
        "fallback": FALLBACK,
        **selector_overrides,
    }
    candidates = served_candidates(horizon, with_torch, random_state, gbm_overrides)
    return ClassSelector(candidates, horizon=horizon, runner=runner, **params)
