"""Elasticity estimation: recovery on simulated data with season and trend controls, shrinkage of a product
without price variation to its category, the wholesale tier effect kept out, optional demand signals."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricing.ml.demand_data import quantity_tier, weekly_demand_panel
from pricing.ml.elasticity import ElasticityEstimator, coverage, loglog_ols
from pricing.ml.simulation import make_market


def _history(n_products: int, n_periods: int, seed: int, fixed_share: float = 0.2):
    """Prices a shop might have charged (occasional changes, short promotions) and the demand they met."""
    market = make_market(n_products, n_periods, seed=seed, linear_share=0.0, stock_share=0.0, n_categories=10)
    rng = np.random.default_rng(seed)
    prices = np.empty((n_products, n_periods))
    fixed = rng.random(n_products) < fixed_share
    for i in range(n_products):
        level = market.list_price[i]
        for t in range(n_periods):
            if not fixed[i] and rng.random() < 0.12:
                level = market.list_price[i] * np.exp(rng.normal(0.0, 0.12))
            promo = not fixed[i] and rng.random() < 0.05
            prices[i, t] = level * (0.85 if promo else 1.0)
    units = np.stack([market.demand(t, prices[:, t]) for t in range(n_periods)], axis=1)
    return market, prices, units, fixed


@pytest.fixture(scope="module")
def history():
    return _history(200, 78, seed=11)


@pytest.fixture(scope="module")
def fitted(history):
    market, prices, units, _ = history
    return ElasticityEstimator(ci=0.90).fit_panel(prices, units, category=market.category)


def test_true_elasticities_land_in_their_intervals_at_the_stated_rate(history, fitted) -> None:
    # given 200 products over 78 weeks with seasonality, trends, noise and category structure
    market, *_ = history
    # when the 90 % intervals are compared with the true elasticities
    rate = coverage(market.elasticity, fitted.ci_low_, fitted.ci_high_)
    # then about 90 % of them contain the truth, and the estimates are close on average
    assert 0.84 <= rate <= 0.96
    assert float(np.mean(np.abs(fitted.elasticity_ - market.elasticity))) < 0.3


def test_season_and_trend_controls_matter(history, fitted) -> None:
    # given the same data fitted without any season or trend control
    market, prices, units, _ = history
    bare = ElasticityEstimator(harmonics=0, trend=False).fit_panel(prices, units, category=market.category)
    # when both are scored against the truth
    with_controls = np.mean(np.abs(fitted.elasticity_ - market.elasticity))
    without = np.mean(np.abs(bare.elasticity_ - market.elasticity))
    # then the controls make the estimates better
    assert with_controls < without


def test_product_without_price_variation_is_pulled_to_its_category(history, fitted) -> None:
    # given products whose price never moved
    market, prices, _, fixed = history
    assert fixed.sum() > 10
    category_estimate = fitted.category_elasticity_[market.category]
    # when their estimates are compared with their category's
    # then they sit on the category's elasticity, with the category's spread and full shrinkage
    np.testing.assert_allclose(fitted.elasticity_[fixed], category_estimate[fixed], atol=0.02)
    np.testing.assert_allclose(fitted.shrinkage_[fixed], 1.0, atol=0.02)
    assert np.all(fitted.elasticity_std_[fixed] >= 0.95 * fitted.category_elasticity_std_[market.category[fixed]])
    # while products with price variation keep more of their own estimate
    assert np.median(fitted.shrinkage_[~fixed]) < 0.9


def test_unpooled_fit_does_not_shrink(history) -> None:
    # given the same data fitted without the hierarchy
    market, prices, units, fixed = history
    alone = ElasticityEstimator(pool=False).fit_panel(prices, units, category=market.category)
    # then products without variation fall back to the weak hyperprior, not their category
    np.testing.assert_allclose(alone.elasticity_[fixed], -2.0, atol=0.05)


def test_long_format_fit_matches_the_panel_fit(history, fitted) -> None:
    # given the same data as long-format rows
    market, prices, units, _ = history
    n, t = prices.shape
    product, period = np.repeat(np.arange(n), t), np.tile(np.arange(t), n)
    # when fitted through fit()
    long = ElasticityEstimator(ci=0.90).fit(product, period, prices.ravel(), units.ravel(), category=market.category)
    # then the estimates are the same
    np.testing.assert_allclose(long.elasticity_, fitted.elasticity_, atol=1e-6)


def test_save_and_load_round_trip(fitted, tmp_path) -> None:
    # when a fitted estimator is saved and loaded
    path = tmp_path / "elasticity.npz"
    fitted.save(path)
    loaded = ElasticityEstimator.load(path)
    # then it predicts the same and reports the same intervals
    np.testing.assert_allclose(loaded.ci_low_, fitted.ci_low_)
    grid = np.outer(fitted.reference_price_, [0.9, 1.1])
    np.testing.assert_allclose(loaded.predict(30.0, grid), fitted.predict(30.0, grid))


def test_views_as_a_traffic_control_sharpen_the_estimate() -> None:
    # given demand driven by traffic shocks that the views measure
    rng = np.random.default_rng(5)
    n, t = 60, 52
    prices = 10.0 * np.exp(rng.uniform(-0.15, 0.15, (n, t)))
    views = rng.lognormal(np.log(400.0), 0.5, (n, t))
    units = rng.poisson(0.05 * views * (prices / 10.0) ** -2.0)
    # when the elasticity is fitted with and without the views
    plain = ElasticityEstimator(harmonics=0, pool=False).fit_panel(prices, units)
    with_views = ElasticityEstimator(harmonics=0, pool=False).fit_panel(prices, units, views=views)
    # then the intervals narrow and the estimate stays right
    assert np.median(with_views.elasticity_std_) < 0.7 * np.median(plain.elasticity_std_)
    assert abs(np.median(with_views.elasticity_) + 2.0) < 0.1


def test_add_to_carts_add_observations_of_the_same_response() -> None:
    # given purchases and (five times as many) add-to-carts responding to price alike
    rng = np.random.default_rng(6)
    n, t = 60, 40
    prices = 10.0 * np.exp(rng.uniform(-0.15, 0.15, (n, t)))
    mean = 4.0 * (prices / 10.0) ** -2.0
    units, carts = rng.poisson(mean), rng.poisson(5.0 * mean)
    # when fitted with and without the carts
    plain = ElasticityEstimator(harmonics=0, pool=False).fit_panel(prices, units)
    with_carts = ElasticityEstimator(harmonics=0, pool=False).fit_panel(prices, units, carts=carts)
    # then the intervals narrow
    assert np.median(with_carts.elasticity_std_) < 0.7 * np.median(plain.elasticity_std_)
    assert "cart_level" in with_carts.feature_names_


@pytest.mark.parametrize(("quantity", "tier"), [(1, 0), (5, 0), (6, 1), (12, 2), (143, 5), (144, 6), (5000, 7)])
def test_quantity_tiers(quantity: int, tier: int) -> None:
    # when a line's quantity is mapped to its tier
    # then the tier counts the bounds at or below it
    assert int(quantity_tier(np.array([quantity]))[0]) == tier


def test_tier_discounts_are_not_mistaken_for_demand_response() -> None:
    # given a shop whose list prices move but whose demand ignores them, with 20 % off lines of 12 and more
    rng = np.random.default_rng(9)
    rows = []
    days = pd.date_range("2011-01-03", periods=52 * 7, freq="D")
    for product in range(30):
        list_price = 5.0 * np.exp(rng.normal(0, 0.3))
        for week in range(52):
            if week % 13 == 0:
                level = list_price * np.exp(rng.uniform(-0.15, 0.15))
            for _ in range(rng.poisson(6)):
                qty = int(rng.choice([1, 2, 3, 12, 24, 48]))
                price = level * (0.8 if qty >= 12 else 1.0)
                rows.append((product, days[week * 7 + int(rng.integers(7))], qty, round(price, 2)))
    lines = pd.DataFrame(rows, columns=["product", "date", "quantity", "unit_price"])
    # when elasticity is read off the lines naively, and off the tier-adjusted weekly panel
    naive, _ = loglog_ols(lines["unit_price"].to_numpy()[None, :], lines["quantity"].to_numpy()[None, :])
    panel = weekly_demand_panel(lines)
    fit = ElasticityEstimator(harmonics=0, trend=False).fit_panel(panel.price, panel.units, weight=panel.weight)
    # then the lines suggest a steep response, the panel finds none, and the tier discount is recovered
    assert naive[0] < -1.0
    assert abs(float(np.median(fit.elasticity_))) < 0.3
    assert np.exp(panel.tier_effects[2]) == pytest.approx(0.8, abs=0.01)


def _one_category_with_outliers(n_outliers: int) -> tuple[np.ndarray, np.ndarray]:
    """30 products of one category with elasticity -2; the first ``n_outliers`` respond with +1.5 instead."""
    rng = np.random.default_rng(5)
    n, t = 30, 40
    prices = 10.0 * np.exp(rng.uniform(-0.15, 0.15, (n, t)))
    elasticity = np.full(n, -2.0)
    elasticity[:n_outliers] = 1.5
    units = rng.poisson(200.0 * (prices / 10.0) ** elasticity[:, None]).astype(float)
    return prices, units


def test_robust_pooling_keeps_a_few_products_from_moving_the_others_prior() -> None:
    # given a category of 30 products, once clean and once with three products responding the wrong way
    clean, dirty = _one_category_with_outliers(0), _one_category_with_outliers(3)
    shifts = {}
    for robust in (False, True):
        fits = [ElasticityEstimator(harmonics=0, trend=False, robust_pool=robust).fit_panel(p, u) for p, u in
                (clean, dirty)]
        # when the category prior is learned from both
        shifts[robust] = abs(fits[1].category_elasticity_[0] - fits[0].category_elasticity_[0])
    # then the Huber-weighted prior moves less than the plain one, and stays near the others' -2
    assert shifts[True] < 0.5 * shifts[False]
    assert shifts[True] < 0.15


@pytest.mark.parametrize("cross", [0.0, 1.0])
def test_a_covariate_recovers_a_cross_price_elasticity(cross: float) -> None:
    # given 20 products whose sales also follow the log price of a substitute (cross-price elasticity `cross`)
    rng = np.random.default_rng(8)
    n, t = 20, 40
    prices = 10.0 * np.exp(rng.uniform(-0.2, 0.2, (n, t)))
    rival = np.log(8.0) + rng.uniform(-0.2, 0.2, (n, t))
    units = rng.poisson(60.0 * (prices / 10.0) ** -2.0 * np.exp(cross * (rival - np.log(8.0)))).astype(float)
    # when the substitute's log price is given as a covariate
    est = ElasticityEstimator(harmonics=0, trend=False).fit_panel(prices, units, covariates={"rival": (rival, 0.5)})
    # then its coefficient is the cross-price elasticity and the own elasticity is still found
    j = est.feature_names_.index("rival")
    assert np.median(est.coef_[:, j]) == pytest.approx(cross, abs=0.2)
    assert np.median(est.elasticity_) == pytest.approx(-2.0, abs=0.2)
    assert set(est.covariate_center_) == {"rival"}


def test_a_price_that_rose_every_week_is_not_read_as_a_trend_on_a_short_history() -> None:
    # given six weeks in which every product's price rose 10 % a week (a stock-limited shop walking its
    # prices up), demand with elasticity -2 and no trend
    rng = np.random.default_rng(4)
    n, weeks = 30, 6
    logp = np.log(10.0) + np.log(1.1) * np.arange(weeks)[None, :] + rng.normal(0, 0.01, (n, weeks))
    units = rng.poisson(40.0 * np.exp(-2.0 * (logp - np.log(10.0)))).astype(float)
    # when the default strategy's estimator fits it
    model = ElasticityEstimator(curvature=True).fit_panel(np.exp(logp), units, category=np.arange(n) // 10)
    # then the fall in sales is put on the price, not on a trend: the elasticities are negative and near -2,
    # and the trend stays near 0: over six weeks a trend and that price are the same straight line in time, so
    # the trend's prior spread is six 52ths of a full season's (0.18 a season at the full spread)
    trend = model.coef_[:, model.feature_names_.index("trend")]
    assert np.all(model.elasticity_ < -1.0)
    assert abs(float(np.median(model.elasticity_)) + 2.0) < 0.5
    assert np.all(np.abs(trend) < 0.05)


def test_the_demand_curve_never_rises_with_the_price_and_stays_within_what_the_curve_takes() -> None:
    # given curves around the reference price 1: convex and concave falling ones, a straight one, and two that
    # rise at the reference (one nearly straight, whose turning point lies absurdly far away)
    model = ElasticityEstimator(curvature=True)
    model.reference_price_ = np.ones(5)
    coef = np.zeros((5, 3))
    coef[:, 1] = [-2.0, -2.0, -2.0, 2.0, 0.5]
    coef[:, 2] = [0.5, -0.5, 0.0, -1e-9, 0.3]
    prices = np.exp(np.linspace(-3.0, 3.0, 61))[None, :].repeat(5, axis=0)
    # when the price term is read from far below to far above the reference
    effect = model.log_price_effect(prices, coef)
    x = np.log(prices)
    # then it never rises with the price, is the curve itself where the curve falls, and never exceeds the
    # largest value the curve takes between the reference and the price (no promise of 10^13 units)
    assert np.all(np.diff(effect, axis=1) <= 1e-12)
    near = np.abs(x[0]) <= 1.0
    assert np.allclose(effect[:3, near], (coef[:3, 1:2] * x[:3] + coef[:3, 2:3] * x[:3] ** 2)[:, near])
    assert np.all(np.abs(effect[3]) < 1e-6)  # rising near the reference: flat, not its far-off maximum
    assert np.all(effect[4, x[4] > -0.8] == 0.0)  # rising near the reference, falling far below it
    assert effect.max() < 10.6
