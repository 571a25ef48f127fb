"""The served forecasting configuration, in one place.

``bench/inventory.py`` (which scores it), ``manage.py evaluate_forecasts`` and the Django planner
(``forecast_demand`` / ``plan_restock``, ``INVENTORY["FORECASTER"] = "selector"``) all build the served
forecaster here, so a benchmark figure describes what the shop runs. How each setting was chosen is
recorded in the "Forecasting and replenishment" section of ``bench/RESULTS.md``.

The served forecaster is a :class:`~inventory.ml.selector.ClassSelector` over :data:`SELECTOR_CANDIDATES`
(today one candidate: the average of the global GBM, the global MLP, Theta and IMAPA); per demand class it
serves the (candidate, point column, factor) with the lowest WAPE on the two 4-week windows before the
origin and rescales the 90 % quantile by the smallest factor whose coverage on those windows reaches 0.90.
The global models read the prior-year seasonal features of :mod:`inventory.ml.features` (a ``category``
column in the history panel adds the category-level seasonal index).
:func:`served_candidates` builds every candidate the selector may be given (five local statsforecast models,
the GBM, the MLP when PyTorch is installed, and the averages in :data:`ENSEMBLES`).
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
#: The served GBM's settings (development origins 2011-06-06 .. 2011-08-08); half the zero-target training rows
#: (their weight doubled): ~19 % less CPU for the same accuracy (``bench/forecast_rule_2026-12-07.md``).
GBM_PARAMS: dict[str, Any] = {"point_loss": "poisson", "max_iter": 100, "learning_rate": 0.1, "zero_keep": 0.5}
#: The served MLP's settings beyond its defaults (:class:`~inventory.ml.torch_mlp.GlobalMLPForecaster`).
MLP_PARAMS: dict[str, Any] = {"zero_keep": 0.5}
#: Averages of candidates offered as candidates too (those whose members are all present).
ENSEMBLES: dict[str, tuple[str, ...]] = {
    "GBM+MLP": ("GBM", "MLP"),
    "GBM+MLP+IMAPA": ("GBM", "MLP", "IMAPA"),
    "GBM+MLP+Theta+IMAPA": ("GBM", "MLP", "Theta", "IMAPA"),
    "GBM+Theta+IMAPA": ("GBM", "Theta", "IMAPA"),
}
#: The candidates the selector chooses among: the first of these tuples whose candidates all exist. On the
#: one-year development origins (2026-11) one average of global and local
#: models beat a per-class choice among all of them (bench/RESULTS.md); without PyTorch its MLP is left out.
SELECTOR_CANDIDATES: tuple[tuple[str, ...], ...] = (("GBM+MLP+Theta+IMAPA",), ("GBM+Theta+IMAPA",))
#: Selector settings: backtest windows, point columns and the point factors tried per class.
N_BACKTESTS = 2
POINT_COLUMNS = ("mean", "q50")
POINT_FACTORS = (1.0,)
CALIBRATE = (0.9,)
#: The mean (the level the restock policies use) is scaled per class by the backtest Σ actual / Σ mean.
DEBIAS_MEAN = True
#: Settings of the project's replenishment policy in the simulation (:class:`~inventory.ml.simulation.ForecastPolicy`).
#: Lead-time demand from windows of the lead time plus the review day (the undershoot below s); chosen with
#: DEBIAS_MEAN at the simulation development origins 2011-06-06 and 2011-07-04 (bench/RESULTS.md).
POLICY_PARAMS: dict[str, Any] = {"history_days": 182, "ltd": "windows+review"}


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
    mlp_overrides: Mapping[str, Any] | None = None,
) -> dict[str, Forecaster]:
    """The selector's candidates; ``with_torch=None`` adds the MLP ones when PyTorch is installed;
    ``gbm_overrides`` / ``mlp_overrides`` replace the global models' settings (development runs)."""
    gbm = served_gbm(horizon, random_state=random_state, overrides=gbm_overrides)
    out: dict[str, Forecaster] = {m: LocalForecaster(m) for m in LOCAL_METHODS}
    out["GBM"] = gbm
    if torch_available() if with_torch is None else with_torch:
        from .torch_mlp import GlobalMLPForecaster

        out["MLP"] = GlobalMLPForecaster(horizon=horizon, random_state=random_state,
                                         **{**MLP_PARAMS, **dict(mlp_overrides or {})})
    for name, members in ENSEMBLES.items():
        if all(m in out for m in members):
            out[name] = EnsembleForecaster({m: out[m] for m in members})
    return out


def served_selector(
    horizon: int = HORIZON,
    with_torch: bool | None = None,
    random_state: int | None = 0,
    gbm_overrides: Mapping[str, Any] | None = None,
    runner: Runner | None = None,
    mlp_overrides: Mapping[str, Any] | None = None,
    **selector_overrides: Any,
) -> ClassSelector:
    """The served forecaster (module docstring); ``runner`` lets the benchmark cache backtest fits and
    ``selector_overrides`` replace selector settings (development runs only; ``candidates`` takes names)."""
    choices = SELECTOR_CANDIDATES
    if "candidates" in selector_overrides:
        choices = (tuple(selector_overrides.pop("candidates")),)
    params: dict[str, Any] = {
        "n_backtests": N_BACKTESTS,
        "point_columns": POINT_COLUMNS,
        "point_factors": POINT_FACTORS,
        "calibrate": CALIBRATE,
        "debias_mean": DEBIAS_MEAN,
        **selector_overrides,
    }
    built = served_candidates(horizon, with_torch, random_state, gbm_overrides, mlp_overrides)
    names = next((names for names in choices if all(n in built for n in names)), None)
    if names is None:
        raise ValueError(f"none of the candidate sets {choices} can be built here (PyTorch missing?)")
    return ClassSelector({name: built[name] for name in names}, horizon=horizon, runner=runner, **params)
