"""Forecast metrics against hand-computed values (inventory.ml.metrics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inventory.ml.metrics import (
    bias,
    coverage,
    coverage_factor,
    evaluate_forecast,
    mase,
    naive_scale,
    pinball_loss,
    wape,
)


def test_wape_is_total_absolute_error_over_total_actual() -> None:
    # |10-8| + |0-1| + |5-5| = 3 over 15
    assert wape(np.array([10, 0, 5]), np.array([8, 1, 5])) == pytest.approx(3 / 15)


def test_wape_of_all_zero_actuals_is_nan() -> None:
    assert np.isnan(wape(np.zeros(3), np.ones(3)))


@pytest.mark.parametrize(
    ("yhat", "expected"),
    [([12, 0, 3], 0.0), ([15, 5, 10], 1.0), ([6, 0, 3], -0.4), ([0, 0, 0], -1.0)],
)
def test_bias_is_relative_total_error(yhat: list[float], expected: float) -> None:
    assert bias(np.array([10, 0, 5]), np.array(yhat)) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("tau", "expected"),
    # y - q = [2, -2]: tau * 2 and (1 - tau) * 2, averaged
    [(0.5, (1.0 + 1.0) / 2), (0.9, (1.8 + 0.2) / 2), (0.1, (0.2 + 1.8) / 2)],
)
def test_pinball_loss_weights_under_and_over_forecasts(tau: float, expected: float) -> None:
    assert pinball_loss(np.array([5.0, 3.0]), np.array([3.0, 5.0]), tau) == pytest.approx(expected)


def test_coverage_counts_actuals_at_or_below_the_quantile() -> None:
    assert coverage(np.array([1, 2, 3, 4]), np.array([1, 1, 5, 3])) == pytest.approx(0.5)


def test_naive_scale_is_mean_absolute_one_step_change_per_series() -> None:
    history = pd.DataFrame({
        "unique_id": ["a", "a", "a", "b", "b"],
        "ds": pd.to_datetime(["2011-01-03", "2011-01-10", "2011-01-17", "2011-01-03", "2011-01-10"]),
        "y": [1.0, 4.0, 2.0, 5.0, 5.0],
    })
    scale = naive_scale(history)
    assert scale["a"] == pytest.approx((3 + 2) / 2)
    assert scale["b"] == pytest.approx(0.0)


def test_mase_averages_per_series_ratios_and_skips_zero_scales() -> None:
    # a: MAE 2 / scale 4 = 0.5; b: MAE 3 / scale 1 = 3; c has scale 0 and is skipped
    ids = np.array(["a", "a", "b", "b", "c"])
    y = np.array([10, 10, 1, 1, 3.0])
    yhat = np.array([8, 12, 4, 4, 0.0])
    scale = pd.Series({"a": 4.0, "b": 1.0, "c": 0.0})
    assert mase(ids, y, yhat, scale) == pytest.approx((0.5 + 3.0) / 2)


def test_evaluate_forecast_joins_on_series_and_step_and_counts_missing_as_zero() -> None:
    history = pd.DataFrame({
        "unique_id": ["a", "a", "b", "b"],
        "ds": pd.to_datetime(["2011-01-03", "2011-01-10"] * 2),
        "y": [2.0, 4.0, 1.0, 2.0],
    })
    actual = pd.DataFrame({"unique_id": ["a", "a", "b"], "step": [1, 2, 1], "y": [4.0, 6.0, 2.0]})
    forecast = pd.DataFrame({
        "unique_id": ["a", "a"], "step": [1, 2], "mean": [5.0, 5.0], "q50": [4.0, 4.0], "q90": [6.0, 8.0],
    })
    out = evaluate_forecast(forecast, actual, history)
    # errors: a1 1, a2 1, b1 2 (no forecast -> 0): WAPE 4/12; bias (10 - 12)/12
    assert out["wape"] == pytest.approx(4 / 12)
    assert out["bias"] == pytest.approx(-2 / 12)
    # MASE: a MAE 1 / scale 2 = 0.5, b MAE 2 / scale 1 = 2
    assert out["mase"] == pytest.approx((0.5 + 2.0) / 2)
    # q90 [6, 8, 0] vs y [4, 6, 2]: covered 2 of 3
    assert out["coverage_q90"] == pytest.approx(2 / 3)
    assert out["pinball_q50"] == pytest.approx((0.5 * 0 + 0.5 * 2 + 0.5 * 2) / 3)


def test_coverage_factor_is_the_smallest_scale_reaching_the_level() -> None:
    factors = pd.Index([0.8, 1.0, 1.2, 1.5], name="factor")
    covered = pd.Series([70, 85, 90, 97], index=factors)
    n = pd.Series([100, 100, 100, 100], index=factors)
    assert coverage_factor(covered, n, 0.9) == 1.2
    # none reaches the level: the largest factor; no points: no correction
    assert coverage_factor(covered, n, 0.99) == 1.5
    assert coverage_factor(covered * 0, n * 0, 0.9) == 1.0
