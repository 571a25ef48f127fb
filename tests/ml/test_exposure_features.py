"""Recommendation exposure as a feature of the global forecasters: it helps where demand follows it, and does
little harm where it does not (synthetic panels, no Django)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from inventory.ml.gbm import GlobalGBMForecaster
from inventory.ml.metrics import evaluate_forecast

WEEKS = 60


def exposure_panel(seed: int, demand_follows_exposure: bool, n: int = 120) -> pd.DataFrame:
    """Each product is shown in recommendation lists at a high or a low level, switching now and then (put on or
    taken off a page); its demand follows last week's exposure, or (``False``) an unrelated switching level."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        base = rng.uniform(50, 300)
        levels = []
        for _ in range(2):
            state, level = rng.random() < 0.5, np.empty(WEEKS)
            for t in range(WEEKS):
                state = (not state) if rng.random() < 0.12 else state
                level[t] = base * (3.0 if state else 0.3) * rng.uniform(0.9, 1.1)
            levels.append(level)
        shown, driver = levels[0], levels[0] if demand_follows_exposure else levels[1]
        demand = rng.poisson(0.08 * np.concatenate([[driver[0]], driver[:-1]])).astype(float)
        rows.append(pd.DataFrame({"unique_id": f"p{i:03d}", "ds": pd.date_range("2024-01-01", periods=WEEKS, freq="7D"),
                                  "y": demand, "exposures": np.round(shown)}))
    return pd.concat(rows, ignore_index=True)


def _wape(panel: pd.DataFrame, columns: list[str]) -> float:
    origin = panel["ds"].unique()[-4]
    history, future = panel[panel["ds"] < origin], panel[panel["ds"] >= origin].copy()
    future["step"] = future.groupby("unique_id").cumcount() + 1
    model = GlobalGBMForecaster(horizon=4, max_iter=60, min_samples_leaf=20, train_window=30, point_loss="poisson")
    with threadpool_limits(limits=1):
        fc = model.fit(history[columns]).predict(4)
    if "exposures" in columns:
        assert {"exposures_last", "exposures_trend"} <= set(model.feature_names_)
    return evaluate_forecast(fc, future[["unique_id", "step", "y"]], history, point="q50")["wape"]


@pytest.mark.parametrize("seed", [0, 1])
def test_exposure_features_forecast_demand_that_follows_exposure(seed):
    panel = exposure_panel(seed, demand_follows_exposure=True)
    with_exposure = _wape(panel, ["unique_id", "ds", "y", "exposures"])
    without = _wape(panel, ["unique_id", "ds", "y"])
    assert with_exposure < 0.85 * without, (with_exposure, without)


def test_unrelated_exposure_costs_little():
    panel = exposure_panel(3, demand_follows_exposure=False)
    with_exposure = _wape(panel, ["unique_id", "ds", "y", "exposures"])
    without = _wape(panel, ["unique_id", "ds", "y"])
    assert with_exposure < 1.05 * without, (with_exposure, without)
