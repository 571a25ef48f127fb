"""The selector's fits in worker processes (``n_jobs``) give the same forecasts as fitting them in turn."""

from __future__ import annotations

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from inventory.ml.ensemble import EnsembleForecaster
from inventory.ml.local import LocalForecaster
from inventory.ml.parallel import fit_all
from inventory.ml.selector import ClassSelector
from tests.ml.test_forecast_contract import HORIZON, _small_gbm, _small_mlp, make_panel


def _ensemble_selector(n_jobs: int) -> ClassSelector:
    members = {"gbm": _small_gbm(), "mlp": _small_mlp(), "theta": LocalForecaster("Theta")}
    return ClassSelector({"avg": EnsembleForecaster(members)}, horizon=HORIZON, min_series=1,
                         min_selling_buckets=2, debias_mean=True, n_jobs=n_jobs)


@pytest.mark.parametrize("make", [
    _ensemble_selector,
    lambda n: ClassSelector({"tsb": LocalForecaster("TSB"), "gbm": _small_gbm()}, horizon=HORIZON, min_series=1,
                            min_selling_buckets=2, n_jobs=n),
])
def test_parallel_fits_give_the_same_forecast_and_choice_as_serial_ones(make) -> None:
    # given
    history = make_panel("mixed", n_series=10)
    # when
    with threadpool_limits(1):
        serial = make(1).fit(history)
    parallel = make(2).fit(history)
    # then
    pd.testing.assert_frame_equal(serial.predict(HORIZON), parallel.predict(HORIZON))
    assert parallel.choice_ == serial.choice_
    assert parallel.quantile_factors_ == serial.quantile_factors_
    assert parallel.mean_factor_ == serial.mean_factor_


def test_fit_all_splits_an_ensemble_into_its_members_and_puts_it_back_together() -> None:
    history = make_panel("smooth", n_series=4)
    ensemble = EnsembleForecaster({"gbm": _small_gbm(), "theta": LocalForecaster("Theta")})

    [(fitted, none), (alone, _)] = fit_all([(ensemble, history), (LocalForecaster("Naive"), history)], n_jobs=2)

    assert none is None  # no horizon: no forecast
    assert sorted(fitted.fitted_) == ["gbm", "theta"]
    assert not hasattr(ensemble, "fitted_")  # the given ones are cloned, never fitted
    with threadpool_limits(1):
        expected = EnsembleForecaster({"gbm": _small_gbm(), "theta": LocalForecaster("Theta")}).fit(history)
    pd.testing.assert_frame_equal(fitted.predict(HORIZON), expected.predict(HORIZON))
    pd.testing.assert_frame_equal(alone.predict(HORIZON), LocalForecaster("Naive").fit(history).predict(HORIZON))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_the_forecasts_made_where_the_models_were_fitted_are_those_they_make_afterwards(n_jobs) -> None:
    history = make_panel("mixed", n_series=6)
    ensemble = EnsembleForecaster({"gbm": _small_gbm(), "theta": LocalForecaster("Theta")})

    with threadpool_limits(1):
        results = fit_all([(ensemble, history), (LocalForecaster("IMAPA"), history)], n_jobs=n_jobs,
                          horizon=HORIZON, quantiles=(0.5, 0.9))

    for model, forecast in results:
        pd.testing.assert_frame_equal(forecast, model.predict(HORIZON, (0.5, 0.9)))


def test_the_selector_serves_its_workers_forecasts_only_for_what_they_were_made_for() -> None:
    # given a fitted selector, its final forecasts made by the workers
    history = make_panel("mixed", n_series=10)
    selector = _ensemble_selector(2).fit(history)
    assert set(selector.final_forecasts_) == {"avg"}
    served = selector.predict(HORIZON)
    # when the same forecast is made anew by the fitted models
    selector.final_forecasts_ = {}
    with threadpool_limits(1):
        anew = selector.predict(HORIZON)
    # then
    pd.testing.assert_frame_equal(served, anew)
    # and another horizon or quantiles, or newer history, are forecast by the models, not from the stored ones
    selector.final_forecasts_ = {"avg": served.iloc[:0]}
    assert len(selector.predict(HORIZON - 1)) == len(anew) // HORIZON * (HORIZON - 1)
    assert len(selector.predict(HORIZON, (0.5,))) == len(anew)
    selector.update(history)
    assert selector.final_forecasts_ == {}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_the_selector_reports_each_fit_with_the_share_of_the_work_done(n_jobs) -> None:
    # given
    history = make_panel("mixed", n_series=10)
    calls: list[tuple[float, float, str]] = []
    # when
    with threadpool_limits(1):
        _ensemble_selector(n_jobs).fit(history, progress=lambda done, total, label: calls.append((done, total, label)))
    # then: 3 members x (2 backtest windows + the final fit), the costly global models first
    assert len(calls) == 9
    done = [c[0] for c in calls]
    assert done == sorted(done) and done[-1] == calls[0][1] == 2 * (8.0 + 6.0 + 1.0) + (8.0 + 6.0 + 1.0)
    assert calls[0][2] == "avg, backtest 1 of 2: gbm"
    assert {c[2] for c in calls} >= {"avg, final fit: theta", "avg, backtest 2 of 2: mlp"}
