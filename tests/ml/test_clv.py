"""BG/NBD and Gamma-Gamma: parameter recovery from data simulated with known parameters.

Tolerances were sized by refitting 20 seeds of each set-up (20,000 customers): the worst relative
errors seen were r 3.3%, alpha 4.5%, a 14%, b 17% (BG/NBD; a and b are the least identified
parameters), p 10%, q 6%, gamma 12% and the mean spend 1.1% (Gamma-Gamma), and the predicted holdout
purchases 3.9%. The bounds below leave about 1.5x that room; a biased likelihood or a wrong
gradient misses them by far.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from personalization.ml.clv import BetaGeoFitter, GammaGammaFitter, compress, simulate_bgnbd, simulate_gamma_gamma

N = 20_000
BGNBD_CASES = [
    # the CDNOW estimates of Fader, Hardie & Lee (2005), in weeks
    pytest.param({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, (26.0, 52.0), 26.0, id="cdnow-weeks"),
    # a shop in days: faster buyers, rarer drop-out
    pytest.param({"r": 1.2, "alpha": 40.0, "a": 0.5, "b": 5.0}, (30.0, 365.0), 90.0, id="days"),
]
BGNBD_TOLERANCE = {"r": 0.08, "alpha": 0.08, "a": 0.25, "b": 0.25}


def _simulate(params, age_range, holdout, seed=7):
    rng = np.random.default_rng(seed)
    ages = rng.uniform(*age_range, N)
    return simulate_bgnbd(N, params, ages, holdout=holdout, random_state=rng)


@pytest.mark.parametrize("params, age_range, holdout", BGNBD_CASES)
def test_bgnbd_recovers_the_simulated_parameters(params, age_range, holdout):
    # given purchase histories simulated from known parameters
    data = _simulate(params, age_range, holdout)

    # when the model is fitted
    model = BetaGeoFitter().fit(data["frequency"], data["recency"], data["T"])

    # then every parameter is within its tolerance of the truth
    assert model.converged_
    errors = {name: abs(model.params_[name] / params[name] - 1) for name in params}
    assert all(errors[name] <= BGNBD_TOLERANCE[name] for name in params), errors


@pytest.mark.parametrize("params, age_range, holdout", BGNBD_CASES)
def test_bgnbd_predicts_the_purchases_of_the_holdout_period(params, age_range, holdout):
    # given histories and the purchases the same customers made after the observation period
    data = _simulate(params, age_range, holdout, seed=11)
    model = BetaGeoFitter().fit(data["frequency"], data["recency"], data["T"])

    # when the model predicts the holdout period from the observed histories
    history = (data["frequency"], data["recency"], data["T"])
    expected = model.conditional_expected_number_of_purchases_up_to_time(holdout, *history)
    alive = model.conditional_probability_alive(data["frequency"], data["recency"], data["T"])

    # then the totals match what the simulation did, within 6%, and so does the share still alive
    assert abs(expected.sum() / data["holdout_purchases"].sum() - 1) < 0.06
    assert abs(alive.mean() - data["alive"].mean()) < 0.02
    assert np.all((alive > 0) & (alive <= 1))


def test_bgnbd_gradient_matches_finite_differences():
    # given some data and a point away from the optimum
    data = _simulate(BGNBD_CASES[0].values[0], (26.0, 52.0), 0.0)
    args = (data["frequency"], data["recency"], data["T"], np.ones(N), 0.0)
    point = np.log([0.5, 3.0, 1.2, 2.0])

    # when the analytic and the numerical gradient are compared
    analytic = BetaGeoFitter._objective(point, *args)[1]
    numeric = approx_fprime(point, lambda p: BetaGeoFitter._objective(p, *args)[0], 1e-7)

    # then they agree
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)


def test_bgnbd_weighted_fit_of_compressed_rows_equals_the_full_fit():
    # given integer-day histories, where many customers share the same (x, t_x, T)
    rng = np.random.default_rng(3)
    params = {"r": 0.8, "alpha": 20.0, "a": 0.7, "b": 3.0}
    data = simulate_bgnbd(5_000, params, rng.integers(30, 200, 5_000), random_state=rng)
    recency = np.ceil(data["recency"])
    (x, t_x, age), counts = compress(data["frequency"], recency, data["T"])

    # when fitted once on all rows and once on the unique rows with their counts as weights
    full = BetaGeoFitter().fit(data["frequency"], recency, data["T"])
    weighted = BetaGeoFitter().fit(x, t_x, age, weights=counts)

    # then the estimates are the same
    assert len(x) < 5_000
    np.testing.assert_allclose(list(weighted.params_.values()), list(full.params_.values()), rtol=1e-4)


def test_bgnbd_probability_alive_is_one_without_repeat_purchases_and_falls_with_silence():
    # given a fitted model
    model = BetaGeoFitter.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})

    # when customers with the same frequency have been silent for longer
    alive = model.conditional_probability_alive([0, 3, 3, 3], [0, 30, 20, 5], [40, 40, 40, 40])

    # then a customer with no repeat purchase is alive, and longer silence means less likely alive
    assert alive[0] == 1.0
    assert alive[1] > alive[2] > alive[3]


@pytest.mark.parametrize(
    "frequency, recency, T, message",
    [
        ([1, 2], [1], [3, 4], "same"),
        ([1], [5], [3], "recency"),
        ([2], [0], [3], "recency"),
        ([], [], [], "same"),
    ],
)
def test_bgnbd_refuses_inconsistent_histories(frequency, recency, T, message):
    with pytest.raises(ValueError, match=message):
        BetaGeoFitter().fit(frequency, recency, T)


GG_CASES = [
    pytest.param({"p": 6.25, "q": 3.74, "v": 15.44}, id="cdnow"),
    pytest.param({"p": 2.0, "q": 5.0, "v": 100.0}, id="wide-spend"),
]


@pytest.mark.parametrize("params", GG_CASES)
def test_gamma_gamma_recovers_the_simulated_parameters(params):
    # given average spends of 1 to 7 purchases per customer, simulated from known parameters
    rng = np.random.default_rng(5)
    frequency = rng.integers(1, 8, N)
    spend = simulate_gamma_gamma(frequency, params, rng)

    # when the model is fitted
    model = GammaGammaFitter().fit(frequency, spend)

    # then the parameters are within 20% and the population's mean spend within 3% of the truth
    assert model.converged_
    errors = {name: abs(model.params_[name] / params[name] - 1) for name in params}
    assert max(errors.values()) <= 0.20, errors
    true_mean = params["p"] * params["v"] / (params["q"] - 1)
    assert abs(model.population_mean_value() / true_mean - 1) <= 0.03


def test_gamma_gamma_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    frequency = rng.integers(1, 6, 2_000).astype(float)
    spend = simulate_gamma_gamma(frequency, {"p": 6.25, "q": 3.74, "v": 15.44}, rng)
    args = (frequency, spend, np.ones(2_000), 0.0)
    point = np.log([3.0, 2.0, 20.0])

    analytic = GammaGammaFitter._objective(point, *args)[1]
    numeric = approx_fprime(point, lambda p: GammaGammaFitter._objective(p, *args)[0], 1e-7)

    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)


def test_gamma_gamma_expected_spend_shrinks_towards_the_population_mean():
    # given a fitted model whose population mean spend is p v / (q - 1)
    model = GammaGammaFitter.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
    population = model.population_mean_value()

    # when customers with the same high average have more or fewer purchases behind it
    expected = model.conditional_expected_average_profit([1, 5, 50, 0], [100.0, 100.0, 100.0, 0.0])

    # then more purchases pull the estimate closer to their own average, and none gives the mean
    assert population < expected[0] < expected[1] < expected[2] < 100.0
    assert expected[3] == pytest.approx(population)


def test_gamma_gamma_refuses_non_positive_spend():
    with pytest.raises(ValueError, match="monetary_value > 0"):
        GammaGammaFitter().fit([1, 2], [10.0, 0.0])
