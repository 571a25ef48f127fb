"""Replenishment policy formulas, rounding, exceptions, demand classification and the simulator."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from inventory.ml import policy
from inventory.ml.demand import adi_cv2, classify_demand, demand_class
from inventory.ml.simulation import CoverPolicy, ForecastPolicy, LeadTime, SimulationInput, simulate, spike_bounds


def test_safety_stock_combines_demand_and_lead_time_variance() -> None:
    # z 2, L 4, sigma_d 3, mean 10, sigma_L 1: 2 * sqrt(4*9 + 100*1) = 2 * sqrt(136)
    assert policy.safety_stock(2.0, 4.0, 10.0, 3.0, 1.0) == pytest.approx(2 * math.sqrt(136))


def test_safety_stock_without_lead_time_variance_is_z_sigma_sqrt_l() -> None:
    assert policy.safety_stock(1.645, 9.0, 10.0, 2.0) == pytest.approx(1.645 * 2.0 * 3.0)


def test_z_value_of_95_percent() -> None:
    assert policy.z_value(0.95) == pytest.approx(1.6449, abs=1e-4)


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5])
def test_z_value_rejects_levels_outside_the_open_unit_interval(level: float) -> None:
    with pytest.raises(ValueError, match="service level"):
        policy.z_value(level)


def test_reorder_point_and_order_up_to_level() -> None:
    assert policy.reorder_point(5.0, 7.0, 10.0) == pytest.approx(45.0)
    assert policy.order_up_to_level(5.0, 7.0, 7.0, 10.0) == pytest.approx(80.0)


def test_eoq_matches_the_square_root_formula() -> None:
    # sqrt(2 * 1200 * 50 / 6) = sqrt(20000)
    assert policy.eoq(1200.0, 50.0, 6.0) == pytest.approx(math.sqrt(20000))
    assert policy.eoq(0.0, 50.0, 6.0) == 0.0


def test_newsvendor_critical_ratio() -> None:
    assert policy.newsvendor_service_level(3.0, 1.0) == pytest.approx(0.75)


def test_normal_loss_at_zero_is_the_density() -> None:
    assert policy.normal_loss(0.0) == pytest.approx(1 / math.sqrt(2 * math.pi))


def test_fill_rate_safety_factor_meets_the_expected_shortage_budget() -> None:
    # given beta 0.98, Q 100, sigma 40: budget G(k) = 0.02 * 100 / 40 = 0.05
    k = policy.fill_rate_safety_factor(0.98, 100.0, 40.0)
    # then G(k) is the budget (tables: G(1.25) = 0.0506, G(1.26) = 0.0495)
    assert policy.normal_loss(k) == pytest.approx(0.05, abs=1e-6)
    assert 1.25 < k < 1.26


@pytest.mark.parametrize(
    ("qty", "pack", "moq", "expected"),
    [(0, 6, 0, 0), (-3, 6, 24, 0), (1, 6, 0, 6), (12, 6, 0, 12), (13, 6, 0, 18), (5, 1, 10, 10), (5, 6, 10, 12)],
)
def test_round_order_quantity_to_packs_and_moq(qty: float, pack: int, moq: int, expected: int) -> None:
    assert policy.round_order_quantity(qty, pack, moq) == expected


def test_round_order_quantity_rejects_a_zero_pack() -> None:
    with pytest.raises(ValueError, match="pack size"):
        policy.round_order_quantity(5, 0)


@pytest.mark.parametrize(("position", "expected"), [(21.0, 0), (20.0, 30), (3.0, 48)])
def test_s_s_orders_up_to_big_s_only_at_or_below_s(position: float, expected: int) -> None:
    assert policy.order_quantity_s_s(position, s=20.0, big_s=50.0, pack_size=6) == expected


def test_r_s_orders_the_gap_to_big_s() -> None:
    assert policy.order_quantity_r_s(37.0, 50.0) == 13
    assert policy.order_quantity_r_s(60.0, 50.0) == 0


def test_lead_time_demand_samples_are_window_sums() -> None:
    samples, weights = policy.lead_time_demand_samples([1, 0, 3, 2], [2])
    assert samples.tolist() == [1.0, 3.0, 5.0]
    assert weights.sum() == pytest.approx(1.0)


def test_empirical_lead_time_demand_quantile_mixes_lead_times_and_rescales() -> None:
    # windows of 1 day: [1, 0, 3, 2]; of 2 days: [1, 3, 5]; each length weighs half
    # sorted: 0 (1/8) 1 (1/8 + 1/6) 1 ... the 0.9 quantile is 5, doubled by a level ratio of 2
    q = policy.lead_time_demand_quantile([1, 0, 3, 2], [1, 2], 0.9, level_ratio=2.0)
    assert q == pytest.approx(10.0)


def test_empirical_fill_rate_reorder_point_limits_expected_shortage() -> None:
    # LTD uniform on {0, 10, 20, 30}; budget 0.1 * 50 = 5: E[(X-10)+] = (0+10+20)/4 = 7.5 > 5,
    # E[(X-20)+] = 10/4 = 2.5 <= 5 -> 20
    samples = np.array([0.0, 10.0, 20.0, 30.0])
    r = policy.empirical_fill_rate_reorder_point(samples, np.ones(4), 0.9, 50.0)
    vec = policy.empirical_fill_rate_reorder_points(samples[None, :], np.ones((1, 4)), 0.9, np.array([50.0]))
    assert r == 20.0
    assert vec.tolist() == [20.0]


def test_rolling_window_sums_skip_unknown_days() -> None:
    daily = np.array([[1.0, np.nan, 2.0, 3.0]])
    samples, weights = policy.rolling_window_sums(daily, [2])
    # windows [1,nan] and [nan,2] are unknown; [2,3] = 5 carries all the weight
    assert samples[0, weights[0] > 0].tolist() == [5.0]
    assert weights.sum() == pytest.approx(1.0)


def test_system_fill_rate_allocation_favours_cheap_items() -> None:
    # given two items with the same lead-time demand but unit costs 1 and 100
    samples = np.tile(np.arange(0.0, 101.0, 10.0), (2, 1))
    weights = np.ones_like(samples)
    cost = np.array([1.0, 100.0])
    q = np.array([50.0, 50.0])
    # when allocating an aggregate fill rate of 90%
    s = policy.allocate_system_fill_rate(samples, weights, cost, q, 0.9)
    # then the cheap item gets the higher reorder point and the budget holds
    assert s[0] > s[1]
    short = [np.mean(np.maximum(samples[i] - s[i], 0.0)) for i in range(2)]
    assert sum(short) <= 0.1 * q.sum() + 1e-9


def test_bootstrap_lead_time_demand_is_seeded_and_respects_unknown_days() -> None:
    daily = np.array([[0.0, 4.0, np.nan, 0.0], [np.nan] * 4])
    a, wa = policy.bootstrap_lead_time_demand(daily, [2], n_samples=50, seed=1)
    b, _ = policy.bootstrap_lead_time_demand(daily, [2], n_samples=50, seed=1)
    assert np.array_equal(a, b)
    assert wa[0].sum() == pytest.approx(1.0)
    assert wa[1].sum() == 0.0


def test_restock_exceptions() -> None:
    # stock-out before arrival: 10 on hand, 3 a day, 7 days to the next arrival
    assert policy.restock_exceptions(10, 0, 3, 7, order_up_to=40) == [policy.EXCEPTION_STOCKOUT]
    # excess: 100 on hand against an order-up-to level of 40
    assert policy.restock_exceptions(100, 0, 3, 7, order_up_to=40) == [policy.EXCEPTION_EXCESS]
    # dead stock: stock but nothing sold for 20 periods
    assert policy.restock_exceptions(5, 0, 0, 7, 40, periods_since_last_sale=20) == [policy.EXCEPTION_DEAD]


def test_plan_restock_normal_and_empirical() -> None:
    # normal: d 10, sigma 4, L 4, z(0.95): SS = 1.645 * 8, s = 40 + SS, S = s + 10
    plan = policy.plan_restock(on_hand=20, on_order=0, demand_mean=10, demand_std=4, lead_time=4, pack_size=5)
    ss = policy.z_value(0.95) * 8.0
    assert plan.method == "normal"
    assert plan.safety_stock == pytest.approx(ss)
    assert plan.reorder_point == pytest.approx(40 + ss)
    assert plan.order_quantity == policy.round_order_quantity(50 + ss - 20, 5)
    # intermittent: 2-period windows of the history are [0, 6, 6, 2, 2], 95% quantile 6; the forecast
    # mean 2.0 is 1.5 x the history's mean 8/6, so the quantile moves to 9
    plan = policy.plan_restock(0, 0, 2.0, 3.0, 2, demand_history=[0, 0, 6, 0, 2, 0], intermittent=True)
    assert plan.method == "empirical"
    assert plan.reorder_point == pytest.approx(9.0)
    assert plan.safety_stock == pytest.approx(9.0 - 4.0)


@pytest.mark.parametrize(
    ("adi", "cv2", "expected"),
    [(1.0, 0.2, "smooth"), (1.31, 0.48, "smooth"), (1.32, 0.2, "intermittent"), (1.0, 0.49, "erratic"),
     (2.0, 0.49, "lumpy"), (1.32, 0.49, "lumpy")],
)
def test_syntetos_boylan_cut_offs(adi: float, cv2: float, expected: str) -> None:
    assert demand_class(adi, cv2) == expected


def test_adi_and_cv2_of_a_series() -> None:
    # 6 periods, 3 with demand (ADI 2); sizes 2, 4, 6: mean 4, population var 8/3, CV² = (8/3) / 16
    adi, cv2 = adi_cv2(np.array([2, 0, 4, 0, 0, 6]))
    assert adi == pytest.approx(2.0)
    assert cv2 == pytest.approx((8 / 3) / 16)


def test_classify_demand_per_series() -> None:
    panel = pd.DataFrame({
        "unique_id": ["a"] * 4 + ["b"] * 4,
        "y": [10, 11, 9, 10, 0, 0, 50, 1],
    })
    classes = classify_demand(panel).set_index("unique_id")["demand_class"].to_dict()
    assert classes == {"a": "smooth", "b": "lumpy"}


def _sim_input(demand: np.ndarray, history: np.ndarray) -> SimulationInput:
    n = len(demand)
    return SimulationInput(
        ids=np.array([f"i{k}" for k in range(n)]), origin=pd.Timestamp("2011-09-05"), demand=demand,
        unit_cost=np.ones(n), unit_price=np.full(n, 2.0), daily_history=history,
        weekly_history=pd.DataFrame(), weekly_future=pd.DataFrame(),
    )


def test_simulation_serves_from_stock_and_loses_the_rest() -> None:
    # given constant demand of 2 a day and a cover policy that starts with 2 weeks of it (28 units)
    sim = _sim_input(np.full((1, 28), 2.0), np.full((1, 28), 2.0))
    result = simulate(sim, CoverPolicy(weeks=2, window_weeks=4), LeadTime(7, 7))
    # then weekly orders (placed on days 7, 14, 21) top the position back up to 28 and arrive 7 days later:
    # day 0-13 served from the start stock, the day-7 order (14 units) covers days 14-20, the day-14 order
    # covers 21-27 -> nothing lost
    assert result.fill_rate == pytest.approx(1.0)
    assert result.orders == 3
    assert result.lost_sales_value == 0.0


def test_simulation_counts_lost_sales_when_stock_runs_out() -> None:
    # given demand that jumps to 10 a day while the policy targets 2 weeks of 2 a day
    sim = _sim_input(np.full((1, 14), 10.0), np.full((1, 28), 2.0))
    result = simulate(sim, CoverPolicy(weeks=2, window_weeks=4), LeadTime(7, 7))
    # start stock 28 serves 28 of the 140 units; the day-7 order arrives on day 14, after the end
    assert result.units_lost == pytest.approx(140 - 28)
    assert result.fill_rate == pytest.approx(28 / 140)
    assert result.lost_sales_value == pytest.approx(112 * 2.0)


def test_random_lead_times_are_seeded_and_within_bounds() -> None:
    table = LeadTime(5, 10).table(50, 30, seed=3)
    assert table.min() >= 5 and table.max() <= 10
    assert np.array_equal(table, LeadTime(5, 10).table(50, 30, seed=3))
    assert LeadTime(5, 10).std == pytest.approx(math.sqrt(35 / 12))


class _FlatForecast:
    """A forecaster stub: ``weekly`` units a week for the given ids."""

    def __init__(self, ids: list[str], weekly: float) -> None:
        self.ids, self.weekly = ids, weekly

    def fit(self, history: pd.DataFrame) -> _FlatForecast:
        return self

    update = fit

    def predict(self, horizon: int, quantiles=(0.5, 0.9)) -> pd.DataFrame:  # noqa: ANN001
        return pd.DataFrame({"unique_id": np.repeat(self.ids, horizon), "step": np.tile(np.arange(1, horizon + 1),
                             len(self.ids)), "mean": self.weekly, "q50": self.weekly, "q90": self.weekly})


@pytest.mark.parametrize(("ltd", "expected_s"), [("windows", 14.0), ("windows+review", 28.0)])
def test_forecast_policy_lead_time_demand_with_the_review_day(ltd: str, expected_s: float) -> None:
    # given one order of 14 units every 7th day, a 7-day lead time and a flat forecast of 14 a week
    history = np.tile([0, 0, 0, 0, 0, 0, 14.0], 8)[None, :]
    sim = _sim_input(np.zeros((1, 7)), history)
    policy = ForecastPolicy(_FlatForecast(["i0"], 14.0), fill_rate=0.95, system=False, ltd=ltd, history_days=56)
    # when the policy sets its levels
    policy.start(sim, LeadTime(7, 7))
    # then every 7-day window holds exactly one order (s = 14), while an 8-day window (lead time + the review
    # day: the order that drops the position below s) holds two in 1 of 7 cases, E[(X - 14)+] = 2 > 0.05 x 14
    assert policy.s_[0] == pytest.approx(expected_s)
    assert policy.big_s_[0] == pytest.approx(expected_s + 14.0)


def test_a_lumpy_item_whose_quantile_lies_below_the_mean_gets_no_negative_safety_stock() -> None:
    # given one sale of 100 in 20 periods: the 95 % quantile of one-period demand is 0, the mean 5
    history = [0.0] * 19 + [100.0]
    # when
    plan = policy.plan_restock(0, 0, 5.0, 22.0, 1, review_period=1, demand_history=history, intermittent=True)
    # then the reorder point is the mean lead-time demand, not below it
    assert plan.method == "empirical"
    assert (plan.safety_stock, plan.reorder_point, plan.order_up_to) == (0.0, 5.0, 10.0)


def test_spike_bound_is_the_largest_window_sum_of_the_history() -> None:
    history = np.array([[0.0, 1.0, 5.0, 0.0, 2.0, np.nan]])
    assert spike_bounds(history, window=2)[0] == pytest.approx(6.0)
    assert spike_bounds(history, window=3)[0] == pytest.approx(7.0)


def test_simulation_reports_fill_below_the_spike_bound_and_total_cost() -> None:
    # given an item whose largest 14-day demand so far is 28 (2 a day), and a 14-day horizon with one day
    # of 100 units (a wholesale spike far above the bound) among days of 2
    demand = np.full((1, 14), 2.0)
    demand[0, 3] = 100.0
    sim = _sim_input(demand, np.full((1, 28), 2.0))
    result = simulate(sim, CoverPolicy(weeks=2, window_weeks=4), LeadTime(7, 7))
    # the start stock of 28 is gone on day 3; the day-7 order arrives after the end: 28 units served
    assert result.units_lost == pytest.approx(126.0 - 28.0)
    # below the bound (28 per day at most): 26 units of 2 plus 28 of the spike day = 54, of which 28 served
    assert result.fill_below_bound == pytest.approx(28.0 / 54.0)
    # lost margin: units lost × (price 2 − cost 1); total cost adds the holding cost
    assert result.lost_margin == pytest.approx(98.0)
    assert result.total_cost == pytest.approx(result.holding_cost + 98.0)
    assert result.holding_cost > 0
