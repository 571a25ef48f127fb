"""One contract suite run against every forecaster in inventory.ml (small synthetic panels, no Django)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from inventory.ml.base import quantile_column
from inventory.ml.ensemble import EnsembleForecaster
from inventory.ml.gbm import GlobalGBMForecaster
from inventory.ml.local import METHODS, LocalForecaster
from inventory.ml.selector import ClassSelector
from inventory.ml.torch_mlp import GlobalMLPForecaster

HORIZON = 3
N_WEEKS = 40


def make_panel(kind: str, n_series: int = 8, seed: int = 0) -> pd.DataFrame:
    """Weekly panel: 'smooth' (Poisson around 30, mild trend), 'intermittent' (mostly zeros), or 'mixed'."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2011-01-03")
    for i in range(n_series):
        k = kind if kind != "mixed" else ("smooth" if i % 2 == 0 else "intermittent")
        if k == "smooth":
            y = rng.poisson(30 + 0.2 * np.arange(N_WEEKS) + 5 * i)
        else:
            y = np.where(rng.random(N_WEEKS) < 0.3, rng.integers(1, 40, N_WEEKS), 0)
            y[0] = 5  # a series starts at its first sale
        rows.append(pd.DataFrame({
            "unique_id": f"{k[:3]}{i:02d}",
            "ds": pd.date_range(start, periods=N_WEEKS, freq="7D"),
            "y": y.astype(float),
            "price": 2.0 + i,
            "n_lines": np.minimum(y, 5).astype(float),
            "n_customers": np.minimum(y, 3).astype(float),
        }))
    return pd.concat(rows, ignore_index=True)


def _small_gbm() -> GlobalGBMForecaster:
    return GlobalGBMForecaster(horizon=HORIZON, max_iter=15, min_samples_leaf=5, train_window=12)


def _small_mlp() -> GlobalMLPForecaster:
    return GlobalMLPForecaster(horizon=HORIZON, hidden=(16,), epochs=10, batch_size=64, train_window=12, device="cpu")


def _selector() -> ClassSelector:
    return ClassSelector(
        {"tsb": LocalForecaster("TSB"), "naive": LocalForecaster("Naive")}, horizon=HORIZON, min_series=1,
        min_selling_buckets=2,
    )


FORECASTERS = {
    **{f"local-{m}": (lambda m=m: LocalForecaster(m)) for m in METHODS},
    "gbm": _small_gbm,
    "mlp": _small_mlp,
    "selector": _selector,
    "selector-factors": lambda: ClassSelector(
        {"tsb": LocalForecaster("TSB"), "naive": LocalForecaster("Naive")}, horizon=HORIZON, min_series=1,
        min_selling_buckets=2, point_factors=(0.9, 1.0, 1.2), debias_mean=True, fallback="naive",
    ),
    "ensemble": lambda: EnsembleForecaster({"gbm": _small_gbm(), "theta": LocalForecaster("Theta")}),
}


@pytest.fixture(autouse=True)
def _one_thread():  # noqa: ANN202 - OpenMP spinning on a busy 2-core machine makes tiny fits slow
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(params=sorted(FORECASTERS), name="make")
def fixture_make(request: pytest.FixtureRequest):  # noqa: ANN201
    return FORECASTERS[request.param]


@pytest.mark.parametrize("kind", ["smooth", "intermittent", "mixed"])
def test_forecast_has_one_row_per_series_and_step(make, kind: str) -> None:
    # given a fitted forecaster on a panel
    panel = make_panel(kind)
    model = make().fit(panel)
    # when it forecasts
    fc = model.predict(HORIZON)
    # then every series has steps 1..H with the contract columns
    assert list(fc.columns[:5]) == ["unique_id", "step", "mean", "q50", "q90"]
    assert len(fc) == panel["unique_id"].nunique() * HORIZON
    assert sorted(fc["unique_id"].unique()) == sorted(panel["unique_id"].unique())
    assert fc.groupby("unique_id")["step"].apply(list).map(lambda s: s == [1, 2, 3]).all()


@pytest.mark.parametrize("kind", ["smooth", "intermittent"])
def test_forecast_is_finite_non_negative_and_quantiles_ordered(make, kind: str) -> None:
    # given / when
    fc = make().fit(make_panel(kind)).predict(HORIZON)
    # then
    values = fc[["mean", "q50", "q90"]].to_numpy()
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    assert (fc["q50"] <= fc["q90"] + 1e-9).all()


def test_fit_predict_is_deterministic(make) -> None:
    # given the same data and hyperparameters
    panel = make_panel("mixed")
    # when fitted twice (the second time from a clone)
    model = make()
    first = model.fit(panel).predict(HORIZON)
    second = clone(model).fit(panel).predict(HORIZON)
    # then the forecasts are identical
    pd.testing.assert_frame_equal(first, second)


def test_smooth_series_forecast_tracks_the_level(make) -> None:
    # given smooth series with levels around 30 + 5 i (+ trend)
    panel = make_panel("smooth", n_series=4)
    # when forecasting
    fc = make().fit(panel).predict(HORIZON)
    # then the mean forecast per series is within a factor 2 of its recent level
    recent = panel.groupby("unique_id")["y"].apply(lambda s: s.tail(8).mean())
    level = fc.groupby("unique_id")["mean"].mean()
    ratio = (level / recent).to_numpy()
    assert ((ratio > 0.5) & (ratio < 2.0)).all(), ratio


def test_predict_before_fit_raises(make) -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        make().predict(HORIZON)


@pytest.mark.parametrize("horizon", [0, -1, 1.5])
def test_bad_horizon_is_rejected(make, horizon) -> None:
    model = make().fit(make_panel("smooth", n_series=2))
    with pytest.raises(ValueError, match="horizon"):
        model.predict(horizon)


def test_history_without_required_columns_is_rejected(make) -> None:
    with pytest.raises(ValueError, match="lacks columns"):
        make().fit(pd.DataFrame({"unique_id": ["a"], "y": [1.0]}))


def test_update_forecasts_from_newer_history(make) -> None:
    # given a model fitted on all but the last 4 weeks
    panel = make_panel("smooth", n_series=4)
    cut = panel["ds"].max() - pd.Timedelta(weeks=4)
    model = make().fit(panel[panel["ds"] <= cut])
    before = model.predict(1)
    # when it is updated with the full history
    after = model.update(panel).predict(1)
    # then it forecasts every series again, and from the newer data (different values)
    assert len(after) == len(before)
    assert not np.allclose(after["mean"].to_numpy(), before["mean"].to_numpy())


def test_stockout_zero_weeks_are_treated_as_missing(make) -> None:
    # given a smooth panel whose last two weeks are zero, once flagged as stock-outs and once not
    panel = make_panel("smooth", n_series=4)
    last = panel["ds"] >= panel["ds"].max() - pd.Timedelta(weeks=1)
    zeroed = panel.assign(y=np.where(last, 0.0, panel["y"]))
    flagged = zeroed.assign(stockout=last)
    # when fitted on each
    plain = make().fit(zeroed).predict(1)
    censored = make().fit(flagged).predict(1)
    # then the censored version forecasts more: the zeros were not taken as demand
    assert censored["mean"].sum() > plain["mean"].sum()


def test_quantile_column_names() -> None:
    assert [quantile_column(t) for t in (0.5, 0.9, 0.975)] == ["q50", "q90", "q97.5"]


class ConstantForecaster(LocalForecaster):
    """Test double: forecasts a constant (its quantiles are the constant times a factor)."""

    def __init__(self, value: float = 0.0, q90_factor: float = 1.0, random_state: int | None = None) -> None:
        self.value = value
        self.q90_factor = q90_factor
        self.random_state = random_state

    def fit(self, history: pd.DataFrame) -> ConstantForecaster:
        self.ids_ = np.array(sorted(history["unique_id"].astype(str).unique()))
        return self

    def predict(self, horizon: int, quantiles=(0.5, 0.9)) -> pd.DataFrame:  # noqa: ANN001
        ids = np.repeat(self.ids_, horizon)
        steps = np.tile(np.arange(1, horizon + 1), len(self.ids_))
        out = pd.DataFrame({"unique_id": ids, "step": steps, "mean": self.value})
        for tau in quantiles:
            out[quantile_column(tau)] = self.value * (self.q90_factor if tau > 0.5 else 1.0)
        return out


def test_selector_picks_the_candidate_with_the_lower_backtest_wape() -> None:
    # given smooth series around 30-65 units and two constant candidates, 0 and 40
    panel = make_panel("smooth", n_series=6)
    selector = ClassSelector(
        {"zero": ConstantForecaster(0.0), "forty": ConstantForecaster(40.0)},
        horizon=HORIZON, min_series=1, min_selling_buckets=2,
    )
    # when fitted
    selector.fit(panel)
    # then every class present chose "forty", and the forecast comes from it
    assert {cand for cand, _ in selector.choice_.values()} == {"forty"}
    assert (selector.predict(HORIZON)["point"] == 40.0).all()


def test_selector_widens_a_too_narrow_upper_quantile() -> None:
    # given a candidate whose q90 equals its mean (far too narrow for Poisson demand around 30-65)
    panel = make_panel("smooth", n_series=6)
    selector = ClassSelector({"c": ConstantForecaster(40.0, q90_factor=1.0)}, horizon=HORIZON, min_series=1,
                             min_selling_buckets=2)
    # when fitted and asked for forecasts
    fc = selector.fit(panel).predict(HORIZON)
    # then the q90 column was scaled up by a backtest factor > 1
    factors = [f for (_, col), f in selector.quantile_factors_.items() if col == "q90"]
    assert factors and min(factors) > 1.0
    assert (fc["q90"] > fc["mean"]).all()


def test_gbm_recency_weighting_changes_the_fit() -> None:
    # given the same panel, with and without a recency half-life
    panel = make_panel("mixed")
    plain = _small_gbm().fit(panel).predict(HORIZON)
    recent = GlobalGBMForecaster(horizon=HORIZON, max_iter=15, min_samples_leaf=5, train_window=12,
                                 recency_half_life=2.0).fit(panel).predict(HORIZON)
    # then the forecasts differ
    assert not np.allclose(plain["q50"].to_numpy(), recent["q50"].to_numpy())


def test_ensemble_averages_its_members() -> None:
    # given two constant members, 10 and 30 (q90 = 1.5 x)
    panel = make_panel("smooth", n_series=3)
    ens = EnsembleForecaster({"a": ConstantForecaster(10.0, 1.5), "b": ConstantForecaster(30.0, 1.5)})
    # when
    fc = ens.fit(panel).predict(HORIZON)
    # then every column is the members' average
    assert (fc["mean"] == 20.0).all()
    assert (fc["q50"] == 20.0).all()
    assert (fc["q90"] == 30.0).all()


def test_selector_scales_an_under_forecasting_point_by_the_backtest_factor() -> None:
    # given smooth series around 30-65 units and a single candidate that always says 30
    panel = make_panel("smooth", n_series=6)
    selector = ClassSelector({"c": ConstantForecaster(30.0)}, horizon=HORIZON, min_series=1, min_selling_buckets=2,
                             point_factors=(1.0, 1.5))
    # when fitted
    fc = selector.fit(panel).predict(HORIZON)
    # then the factor 1.5 (45 units, nearer the actuals) was chosen and scales the point, not the mean
    assert set(selector.point_factor_.values()) == {1.5}
    assert np.allclose(fc["point"], 45.0)
    assert np.allclose(fc["mean"], 30.0)
    assert set(selector.chosen_backtest()["factor"]) == {1.5}


def test_selector_serves_the_fallback_when_the_history_is_too_short_to_backtest() -> None:
    # given a panel of 5 weeks: too short for two 3-week backtest windows with 8 selling weeks before them
    panel = make_panel("smooth", n_series=3)
    panel = panel[panel["ds"] < panel["ds"].min() + pd.Timedelta(weeks=5)]
    selector = ClassSelector({"zero": ConstantForecaster(0.0), "ten": ConstantForecaster(10.0)}, horizon=HORIZON,
                             fallback="ten")
    # when fitted
    fc = selector.fit(panel).predict(HORIZON)
    # then nothing was backtested and the fallback's mean is served
    assert selector.backtest_.empty
    assert set(selector.choice_.values()) == {("ten", "mean")}
    assert np.allclose(fc["point"], 10.0)


def test_selector_rejects_a_fallback_that_is_not_a_candidate() -> None:
    with pytest.raises(ValueError, match="fallback 'x' is not a candidate"):
        ClassSelector({"c": ConstantForecaster(1.0)}, fallback="x").fit(make_panel("smooth", n_series=2))


@pytest.mark.parametrize("value", [10.0, 40.0])
def test_selector_debiases_the_mean_by_the_backtest_ratio_within_bounds(value: float) -> None:
    # given smooth series around 30-65 units and a constant candidate
    panel = make_panel("smooth", n_series=6)
    selector = ClassSelector({"c": ConstantForecaster(value)}, horizon=HORIZON, min_series=1, min_selling_buckets=2,
                             debias_mean=True)
    # when fitted
    fc = selector.fit(panel).predict(HORIZON)
    # then the mean is scaled by backtest sum(actual) / sum(mean), at most 2x; the point is not
    bt = selector.backtest_
    rows = bt[(bt["point"] == "mean") & (bt["factor"] == 1.0)]
    expected = min(rows["y"].sum() / rows["yhat"].sum(), 2.0)
    assert selector.mean_factor_["smooth"] == pytest.approx(expected)
    assert np.allclose(fc["mean"], value * expected)
    assert np.allclose(fc["point"], value)
    assert (expected == 2.0) == (value == 10.0)
