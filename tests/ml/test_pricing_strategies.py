"""Strategies: one interface contract run against every strategy, the inventory constraint of Thompson
sampling, and the optimiser's analytic optimum ``p* = c e / (1 + e)``."""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from pricing.ml.elasticity import ElasticityEstimator
from pricing.ml.guardrails import GuardrailPolicy, PriceBand
from pricing.ml.optimize import optimal_price, solve_price_mix
from pricing.ml.robust import RobustPricingStrategy, default_strategy
from pricing.ml.simulation import Simulator, make_market
from pricing.ml.strategies import (
    ElasticityOptimizer,
    FixedPriceStrategy,
    HoldStrategy,
    MarkdownStrategy,
    PlainLogLogStrategy,
    PricingContext,
    PricingStrategy,
    ThompsonInventoryStrategy,
    greedy_strategy,
)

FACTORIES: dict[str, Callable[[int], PricingStrategy]] = {
    "default": default_strategy,
    "greedy": greedy_strategy,
    "optimiser-thompson": lambda s: ElasticityOptimizer(exploration=1.0, estimator=ElasticityEstimator(),
                                                        random_state=s),
    "thompson-inventory": lambda s: ThompsonInventoryStrategy(random_state=s),
    "thompson-independent": lambda s: ThompsonInventoryStrategy(demand_model="independent", random_state=s),
    "markdown": lambda s: MarkdownStrategy(random_state=s),
    "hold": lambda s: HoldStrategy(random_state=s),
    "fixed": lambda s: FixedPriceStrategy(random_state=s),
    "plain-loglog": lambda s: PlainLogLogStrategy(random_state=s),
}


@pytest.fixture(scope="module")
def small_market():
    return make_market(n_products=16, n_periods=10, seed=3, n_categories=3)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_strategy_honours_the_interface_and_the_guardrails(name: str, small_market) -> None:
    # given a small market with finite stock, MAP prices, intervals and endings
    simulator = Simulator(small_market)
    # when the strategy is driven period by period
    result = simulator.run(FACTORIES[name](0))
    # then it priced every product in every period, sold no more than the stock, and broke no guardrail
    assert result.prices.shape == (16, 10)
    assert np.all(np.isfinite(result.prices)) and np.all(result.prices > 0)
    assert np.all(result.units.sum(axis=1) <= small_market.stock + 1e-9)
    assert result.violations == []


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_strategy_is_reproducible_after_reset(name: str, small_market) -> None:
    # given two runs of the same strategy with the same random_state
    simulator = Simulator(small_market, n_periods=6)
    strategy = FACTORIES[name](7)
    # when it is run twice (run() resets it)
    first = simulator.run(strategy)
    second = simulator.run(strategy)
    # then the prices are the same
    np.testing.assert_array_equal(first.prices, second.prices)


def test_observe_without_propose_is_refused() -> None:
    # given a fresh strategy
    strategy = HoldStrategy()
    # when it is told about sales it never priced
    # then it refuses
    with pytest.raises(RuntimeError, match="propose"):
        strategy.observe(np.array([1.0]), np.array([3.0]))


def test_context_rejects_mismatched_lengths() -> None:
    # when a context is built with two prices and one cost
    # then it is refused with the field named
    with pytest.raises(ValueError, match="unit_cost"):
        PricingContext(current_price=np.array([1.0, 2.0]), unit_cost=np.array([0.5]),
                       policies=(GuardrailPolicy(), GuardrailPolicy()))


@pytest.mark.parametrize(("elasticity", "cost", "expected"), [
    (-2.0, 10.0, 20.0), (-3.0, 6.0, 9.0), (-1.5, 4.0, 12.0), (-1.2, 1.0, 6.0),
])
def test_lerner_price(elasticity: float, cost: float, expected: float) -> None:
    # when the optimum of a constant-elasticity curve is computed
    # then it is c e / (1 + e)
    assert optimal_price(elasticity, cost) == pytest.approx(expected)


def _known_curve_history(elasticity: float, cost: float, n_periods: int = 40):
    """Noise-free, high-volume sales of one product on a known constant-elasticity curve."""
    rng = np.random.default_rng(0)
    prices = 20.0 * np.exp(rng.uniform(-0.3, 0.3, n_periods))
    units = np.round(1e5 * (prices / 20.0) ** elasticity)
    return prices[None, :], units[None, :]


@pytest.mark.parametrize(("elasticity", "cost"), [(-2.0, 10.0), (-3.0, 14.0), (-2.5, 8.0)])
@pytest.mark.parametrize("curvature", [False, True])
def test_optimiser_finds_the_analytic_optimum_of_a_known_curve(elasticity: float, cost: float,
                                                               curvature: bool) -> None:
    # given the history of a known constant-elasticity curve and guardrails that do not bind
    prices, units = _known_curve_history(elasticity, cost)
    strategy = ElasticityOptimizer(estimator=ElasticityEstimator(curvature=curvature, harmonics=0, trend=False),
                                   grid_size=4000)
    strategy.observe_history(range(prices.shape[1]), prices, units)
    context = PricingContext(current_price=np.array([20.0]), unit_cost=np.array([cost]),
                             policies=(GuardrailPolicy(),))
    # when it proposes a price
    proposed = strategy.propose(prices.shape[1], context)
    # then it is the Lerner price, to the cent (closed form) or to the grid's resolution (curved model)
    expected = cost * elasticity / (1 + elasticity)
    assert proposed[0] == pytest.approx(expected, abs=0.011 if not curvature else 0.01 * expected)


def test_price_mix_respects_the_stock_per_period() -> None:
    # given three prices whose best (by profit) sells more than the stock allows per period
    margins = [np.array([2.0, 4.0, 6.0])]
    demands = [np.array([30.0, 20.0, 8.0])]
    # when the LP is solved with 10 units per period
    (mix,) = solve_price_mix(margins, demands, np.array([10.0]))
    # then expected sales fit the capacity and the mix beats any single feasible price
    assert float(mix @ demands[0]) <= 10.0 + 1e-9
    assert float(mix.sum()) <= 1.0 + 1e-9
    assert float(mix @ (margins[0] * demands[0])) > 6.0 * 8.0


def test_thompson_sampling_prices_up_when_stock_is_short() -> None:
    # given a product whose demand curve is known well (100 units a period at 20.00, elasticity -2)
    prices, units = _known_curve_history(-2.0, 8.0)
    policy = GuardrailPolicy(ceiling=100.0)
    chosen = {}
    for stock in (np.inf, 200.0):
        strategy = ThompsonInventoryStrategy(estimator=ElasticityEstimator(harmonics=0, trend=False),
                                             random_state=1)
        strategy.observe_history(range(prices.shape[1]), prices, units / 1000.0)
        context = PricingContext(current_price=np.array([20.0]), unit_cost=np.array([8.0]), policies=(policy,),
                                 stock_remaining=np.array([stock]), periods_left=10)
        # when it prices the next period with unlimited stock, and with stock for 20 units a period
        draws = np.array([strategy.propose(40, context)[0] for _ in range(20)])
        chosen[stock] = float(np.mean(100.0 * (draws / 20.0) ** -2.0))
    # then with short stock the expected sales per period fit the 20 units (up to the posterior's spread),
    # while with unlimited stock it sells far more (around the optimum 16.00: about 156 a period)
    assert chosen[200.0] <= 20.0 * 1.1
    assert chosen[np.inf] > 100.0


def test_markdown_cuts_only_overstocked_products() -> None:
    # given two products: one selling 10 a period with 500 units and 10 periods left, one with 50 units
    strategy = MarkdownStrategy(step=0.1)
    strategy.observe_history([0, 1, 2], np.full((2, 3), 10.0), np.full((2, 3), 10.0))
    context = PricingContext(current_price=np.array([10.0, 10.0]), unit_cost=np.array([2.0, 2.0]),
                             policies=(GuardrailPolicy(),) * 2, stock_remaining=np.array([500.0, 50.0]),
                             periods_left=10)
    # when it proposes prices
    prices = strategy.propose(3, context)
    # then only the overstocked product is marked down, by one step
    np.testing.assert_allclose(prices, [9.0, 10.0])


def test_markdown_uses_a_forecast_when_given() -> None:
    # given a forecast that says the stock will sell through although the run rate says it will not
    strategy = MarkdownStrategy(step=0.1)
    strategy.observe_history([0], np.array([[10.0]]), np.array([[1.0]]))
    context = PricingContext(current_price=np.array([10.0]), unit_cost=np.array([2.0]), policies=(GuardrailPolicy(),),
                             stock_remaining=np.array([40.0]), periods_left=4, forecast=np.full((1, 4), 12.0))
    # when it proposes a price
    # then it trusts the forecast and holds
    assert strategy.propose(1, context)[0] == 10.0


def _batch_with_broken_products() -> PricingContext:
    """Six products: three sound ones, then cost 0, list price 0 and a NaN price."""
    policy = GuardrailPolicy(min_margin=0.05, max_change=0.10, ceiling=50.0)
    return PricingContext(current_price=np.array([10.0, 12.0, 8.0, 10.0, 0.0, np.nan]),
                          unit_cost=np.array([5.0, 6.0, 4.0, 0.0, 5.0, 5.0]), policies=(policy,) * 6,
                          stock_remaining=np.array([np.inf, 100.0, np.inf, np.inf, np.inf, np.inf]),
                          periods_left=10, category=np.zeros(6, dtype=np.int64))


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_batch_with_cost_zero_list_price_zero_and_nan_prices_the_others_normally(name: str) -> None:
    # given a batch where one product has cost 0, one list price 0 and one a NaN price
    context = _batch_with_broken_products()
    sound = PricingContext(current_price=context.current_price[:3], unit_cost=context.unit_cost[:3],
                           policies=context.policies[:3], stock_remaining=context.stock_remaining[:3],
                           periods_left=10, category=context.category[:3])
    strategy, alone = FACTORIES[name](0), FACTORIES[name](0)
    # when it prices the batch (twice, with sales in between) and the sound products alone
    prices = strategy.propose(0, context)
    strategy.observe(prices, np.array([5.0, 5.0, 5.0, 5.0, 0.0, 0.0]))
    again = strategy.propose(1, context)
    first = alone.propose(0, sound)
    alone.observe(first, np.full(3, 5.0))
    # then the broken products are held with a reason, and the others are priced as without them
    assert sorted(strategy.held_) == [3, 4, 5]
    assert "unit cost" in strategy.held_[3] and "current price" in strategy.held_[4]
    np.testing.assert_array_equal(prices[3:5], [10.0, 0.0])
    assert np.isnan(prices[5]) and np.isnan(again[5])
    np.testing.assert_allclose(prices[:3], first)
    assert np.all(np.abs(again[:3] / context.current_price[:3] - 1) <= 0.10 + 1e-9)


def test_the_step_limit_holds_for_the_first_proposal_even_below_the_floor() -> None:
    # given a list price of 0.01 for a product that costs 5.00 (the floor is 5.25), and a 10 % step limit
    context = PricingContext(current_price=np.array([0.01, 10.0]), unit_cost=np.array([5.0, 5.0]),
                             policies=(GuardrailPolicy(min_margin=0.05, max_change=0.10),) * 2)
    strategy = default_strategy(0)
    # when the strategy proposes its first prices
    prices = strategy.propose(0, context)
    # then the 0.01 price is not lifted by +52,400 % in one step: it is held for a person, with the reason
    assert prices[0] == 0.01
    assert "circuit breaker" in strategy.held_[0]
    assert abs(prices[1] / 10.0 - 1) <= 0.10 + 1e-9 and 1 not in strategy.held_


def test_the_default_strategy_honours_random_state() -> None:
    # given the default strategy with two random states, on a market with stocked products (Thompson sampling)
    simulator = Simulator(make_market(n_products=40, n_periods=12, seed=4, n_categories=3))
    # when each runs twice
    runs = {seed: [simulator.run(default_strategy(seed)).prices for _ in range(2)] for seed in (1, 2)}
    # then one state repeats itself exactly and the two states draw differently
    np.testing.assert_array_equal(runs[1][0], runs[1][1])
    assert not np.array_equal(runs[1][0], runs[2][0])


def _substitutes_history(cross: float) -> tuple[PricingContext, np.ndarray, np.ndarray]:
    """Two categories of five products at prices around 10 (± 20 %) for 40 weeks (cost 5, own elasticity -3), whose
    sales also follow the mean log price of the other four (cross-price elasticity ``cross``)."""
    rng = np.random.default_rng(11)
    n, t = 10, 40
    category = np.arange(n) // 5
    logp = np.log(10.0) + rng.uniform(-0.2, 0.2, (n, t))
    sums = np.stack([logp[category == c].sum(axis=0) for c in (0, 1)])[category]
    others = (sums - logp) / 4
    units = rng.poisson(50.0 * np.exp(-3.0 * (logp - np.log(10.0)) + cross * (others - np.log(10.0)))).astype(float)
    context = PricingContext(current_price=np.full(n, 10.0), unit_cost=np.full(n, 5.0),
                             policies=(GuardrailPolicy(min_margin=0.05, max_change=0.10),) * n, category=category)
    return context, np.exp(logp), units


@pytest.mark.parametrize("follow", ["category", "product"])
def test_the_default_prices_substitutes_as_a_category_not_against_each_other(follow: str) -> None:
    # given products whose cuts take sales from their substitutes (cross-price elasticity 2.5, own -3)
    context, prices, units = _substitutes_history(2.5)
    proposals = {}
    for cross_price in (True, False):
        strategy = RobustPricingStrategy(cross_price=cross_price, follow=follow, random_state=0)
        strategy.observe_history(range(prices.shape[1]), prices, units)
        # when it prices the next week, with and without the substitutes' term
        proposals[cross_price] = strategy.propose(prices.shape[1], context)
    # then alone each product would cut towards its own Lerner price (7.50); as a category they rise
    assert np.all(proposals[False] < 10.0)
    assert np.all(proposals[True] > 10.0)


def test_without_substitutes_the_cross_price_term_changes_nothing_much() -> None:
    # given products whose sales do not depend on the other products' prices
    context, prices, units = _substitutes_history(0.0)
    strategy = RobustPricingStrategy(random_state=0)
    strategy.observe_history(range(prices.shape[1]), prices, units)
    # when the default prices the next week, then every product cuts towards its own optimum (7.50)
    assert np.all(strategy.propose(prices.shape[1], context) < 10.0)


def test_the_default_lets_substitutes_follow_at_their_categorys_pooled_coefficient() -> None:
    # given products with real substitutes (cross-price elasticity 2.5)
    context, prices, units = _substitutes_history(2.5)
    strategy = default_strategy(0)
    strategy.observe_history(range(prices.shape[1]), prices, units)
    # when the default prices the next week
    strategy.propose(prices.shape[1], context)
    model = strategy.model_
    # then its setting is the category's, and that pooled coefficient shows the substitutes
    assert strategy.follow == "category"
    assert np.all(model.category_mean_[:, model.feature_names_.index("cross_log_price")] > 1.0)


def test_an_unknown_follow_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="follow must be"):
        RobustPricingStrategy(follow="everyone")


def test_a_pace_window_of_no_periods_is_refused() -> None:
    with pytest.raises(ValueError, match="pace_window must be"):
        RobustPricingStrategy(pace_window=0)


@pytest.mark.parametrize(("confidence", "moves"), [(0.99, False), (0.0, True)])
def test_a_price_moves_only_when_the_move_probably_pays(confidence: float, moves: bool) -> None:
    # given two products whose price never moved (the data cannot tell their elasticity) and plenty of sales
    rng = np.random.default_rng(3)
    prices, units = np.full((2, 12), 10.0), rng.poisson(40.0, (2, 12)).astype(float)
    context = PricingContext(current_price=np.full(2, 10.0), unit_cost=np.full(2, 6.0),
                             policies=(GuardrailPolicy(min_margin=0.05, max_change=0.10),) * 2)
    strategy = RobustPricingStrategy(confidence=confidence, random_state=0)
    strategy.observe_history(range(12), prices, units)
    # when it proposes the next prices
    proposed = strategy.propose(12, context)
    # then a near-certain gain is demanded before moving (the price stands); without the rule it moves
    assert bool(np.any(proposed != 10.0)) is moves


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_strategy_keeps_the_step_limit_on_its_first_proposal(name: str) -> None:
    # given a list price of 0.01 for a product that costs 5.00 (the floor is 5.25) beside a sound product
    policy = GuardrailPolicy(min_margin=0.05, max_change=0.10)
    context = PricingContext(current_price=np.array([0.01, 10.0]), unit_cost=np.array([5.0, 5.0]),
                             policies=(policy, policy), stock_remaining=np.array([np.inf, 50.0]), periods_left=8,
                             category=np.zeros(2, dtype=np.int64))
    strategy = FACTORIES[name](0)
    # when any strategy proposes its first prices
    prices = strategy.propose(0, context)
    # then the circuit breaker inside the strategy holds the 0.01 price (no +52,400 % step) and the other moves
    # at most one step
    assert prices[0] == 0.01 and "circuit breaker" in strategy.held_[0]
    assert abs(prices[1] / 10.0 - 1) <= 0.10 + 1e-9 and 1 not in strategy.held_


@pytest.mark.parametrize(("breaker", "expected"), [(0.25, 10.0), (None, 20.0)])
def test_the_circuit_breaker_applies_inside_a_strategy_without_a_step_limit(breaker: float | None,
                                                                          expected: float) -> None:
    # given a policy without a step limit and a strategy that wants to double a price
    context = PricingContext(current_price=np.array([10.0]), unit_cost=np.array([5.0]),
                             policies=(GuardrailPolicy(min_margin=0.05),))
    strategy = FixedPriceStrategy(np.array([20.0]))
    strategy.breaker_max_change = breaker
    # when it proposes, then the breaker's own limit (25 %) refuses the change and holds the price with the
    # reason; without a limit the doubling goes through
    assert strategy.propose(0, context)[0] == expected
    assert ("circuit breaker" in strategy.held_.get(0, "")) is (breaker is not None)


def test_the_binding_rule_names_the_step_limit_and_the_rounding_apart() -> None:
    # given .99 endings, a 10 % step limit, and a strategy aiming far above the current price
    policy = GuardrailPolicy(min_margin=0.05, max_change=0.10, price_bands=(PriceBand(math.inf, ".99"),))
    context = PricingContext(current_price=np.array([19.99]), unit_cost=np.array([5.0]), policies=(policy,))
    strategy = FixedPriceStrategy(np.array([40.0]))
    # when it proposes
    price = strategy.propose(0, context)[0]
    result = strategy.last_results_[0]
    # then the step limit is the rule that moved the price, and the rounding to .99 (down to 20.99: 21.99 lies
    # above 19.99 × 1.10) is listed apart
    assert price == 20.99
    assert result.rule == "max-change"
    assert result.rounding == pytest.approx(20.99 - 19.99 * 1.10)


def test_rises_hurt_until_the_data_show_otherwise_and_their_loss_is_paid_once() -> None:
    # given ten products whose prices were only ever cut (12 down to about 8; no rise in the history), own
    # elasticity -1.8 and cost 5, so that the Lerner price (11.25) lies well above the current price
    rng = np.random.default_rng(5)
    logp = np.minimum.accumulate(np.log(12.0) - rng.uniform(0, 0.4, (10, 30)), axis=1)
    units = rng.poisson(40.0 * np.exp(-1.8 * (logp - np.log(10.0)))).astype(float)

    def rises(rise_prior: float, periods_left: int, logp: np.ndarray = logp, units: np.ndarray = units) -> int:
        current = np.exp(logp[:, -1])
        context = PricingContext(current_price=current, unit_cost=np.full(10, 5.0), periods_left=periods_left,
                                 policies=(GuardrailPolicy(min_margin=0.05, max_change=0.10),) * 10,
                                 category=np.zeros(10, dtype=np.int64))
        strategy = RobustPricingStrategy(rise_prior=rise_prior, amortize=True, random_state=0)
        strategy.observe_history(range(30), np.exp(logp), units)
        return int((strategy.propose(30, context) / current - 1 > 0.02).sum())

    # when the strategy prices the next week, then without a prior on rises most products rise; with the prior
    # that rises hurt, none does in the last week (the loss would not be earned back), and most do when
    # 40 are left (a rise's loss is paid once, its gain lasts)
    assert rises(0.0, 1) >= 5
    assert rises(-1.0, 1) <= 1
    assert rises(-1.0, 40) >= 5
    # and where the history has rises that did not hurt (prices up and down at random around 8), the data
    # overrule the prior, and the products rise in the last week too
    logp = np.log(8.0) + rng.uniform(-0.2, 0.2, (10, 30))
    logp[:, -1] = np.log(8.0)
    units = rng.poisson(40.0 * np.exp(-1.8 * (logp - np.log(10.0)))).astype(float)
    assert rises(-1.0, 1, logp, units) >= 5


@pytest.mark.parametrize("fast", [False, True])
def test_a_stocked_product_is_not_raised_while_it_sells_slower_than_its_stock_must(fast: bool) -> None:
    # given twelve stocked products whose history says they sell 10 a week at 10.00 (elasticity -2)
    rng = np.random.default_rng(11)
    logp = np.log(10.0) + rng.uniform(-0.1, 0.1, (12, 12))
    logp[:, -2:] = np.log(10.0)
    units = rng.poisson(10.0 * np.exp(-2.0 * (logp - np.log(10.0)))).astype(float)
    # with stock for 20 a week over the 10 weeks left (too much: the model wants the price cut), or for
    # 2 a week (too little: the model wants it raised)
    stock = np.full(12, 200.0 if not fast else 20.0)
    context = PricingContext(current_price=np.full(12, 10.0), unit_cost=np.full(12, 3.0), periods_left=10,
                             stock_remaining=stock, category=np.zeros(12, dtype=np.int64),
                             policies=(GuardrailPolicy(min_margin=0.05, max_change=0.10, ceiling=25.0),) * 12)
    for seed in range(5):
        strategy = RobustPricingStrategy(random_state=seed)
        strategy.observe_history(range(12), np.exp(logp), units)
        prices = strategy.propose(12, context)
        # then a product selling slower than its stock must sell is never raised, one selling faster never cut
        if fast:
            assert np.all(prices >= 10.0 - 1e-9)
        else:
            assert np.all(prices <= 10.0 + 1e-9)
