"""The default pricing strategy, and the robustness options that were measured for it.

:class:`RobustPricingStrategy` refits the hierarchical log-log model (with curvature) every period
and prices each product at the profit optimum of that model, under the guardrails and the circuit
breaker of every :class:`~pricing.ml.strategies.PricingStrategy`:

- products with finite stock and a known horizon follow **Thompson sampling with inventory**
  (Ferreira, Simchi-Levi & Wang 2018, TS-update): one posterior draw, the LP over the prices reachable
  this period with "expected sales <= the stock left, shared over the periods left in proportion to the
  expected demand", and a price drawn from the LP's mix;
- a product that sold fewer than ``min_units`` units so far keeps its price: its own data cannot
  tell a better one (the long tail), and one week of noise must not move it;
- ``random_state`` seeds every draw.

Options, each measured on the benchmark's development seed (``bench/pricing.py``; the table is in
bench/RESULTS.md) and left off by default where it did not pay there:

- ``season_gate``: season terms only once a full season was observed; ``trend_periods``: the trend's
  prior spread grows from ~0 over that many periods (shrinkage to zero with little data);
  ``half_life``: recent periods weigh more;
- ``robust_pool``: Huber-weighted category priors, so a few products cannot move the others';
  ``anchor_sd``: each elasticity's prior centred on the one at which the first price would be optimal
  (``-p / (p - c)``), with this spread, the deviations pooled within categories;
- ``draws``: maximise the profit averaged over that many posterior draws instead of the posterior
  mean's (uncertainty-aware);
- ``rise_step``: at most this rise per period (cuts may take the full step), and ``detect_asymmetry``:
  no more rises for a product whose sales after its rises fell short of the model by more than after
  its cuts (two standard errors);
- ``first_move``: ``"prior"`` (the Lerner price of the prior elasticity in the first period, before
  any sale) or ``"hold"``.
"""
from __future__ import annotations

import math

import numpy as np

from .elasticity import ElasticityEstimator
from .endings import price_ladder
from .optimize import optimal_price, solve_price_mix
from .strategies import PricingContext, _ModelStrategy, clone_estimator


class RobustPricingStrategy(_ModelStrategy):
    """See the module docstring; hyperparameters are the defaults chosen on the development seeds."""

    name = "robust"

    def __init__(self, *, estimator: ElasticityEstimator | None = None, trend_periods: int = 1,
                 half_life: float | None = None, anchor_sd: float | None = None, draws: int = 1, grid_size: int = 200,
                 rise_step: float = 0.10, stock_exploration: float = 1.0, detect_asymmetry: bool = False,
                 season_gate: bool = False, first_move: str = "prior", robust_pool: bool = False,
                 min_units: float = 30.0, random_state: int | None = None):
        if first_move not in {"hold", "prior"}:
            raise ValueError(f"first_move must be 'hold' or 'prior', got {first_move!r}")
        self.min_units = min_units
        self.season_gate = season_gate
        self.first_move = first_move
        self.robust_pool = robust_pool
        self.trend_periods = trend_periods
        self.half_life = half_life
        self.anchor_sd = anchor_sd
        self.draws = draws
        self.grid_size = grid_size
        self.rise_step = rise_step
        self.stock_exploration = stock_exploration
        self.detect_asymmetry = detect_asymmetry
        super().__init__(estimator=estimator if estimator is not None else ElasticityEstimator(curvature=True),
                         random_state=random_state)

    # ---------------------------------------------------------------------------------- the model
    def _template(self) -> ElasticityEstimator:
        base = clone_estimator(self.estimator) if self.estimator is not None else ElasticityEstimator()
        n_t = len(self.periods_)
        if self.season_gate and n_t < base.season_length:
            base.harmonics = 0
        base.robust_pool = self.robust_pool
        base.control_prior_sd = max(1e-3, base.control_prior_sd * min(1.0, n_t / max(self.trend_periods, 1)) ** 2)
        base.half_life = self.half_life
        if self.anchor_sd is not None:
            base.prior_elasticity_sd = self.anchor_sd
        return base

    def _anchor(self, context: PricingContext) -> np.ndarray:
        ref = self._reference(context)
        cost = np.asarray(context.unit_cost, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            implied = -ref / (ref - cost)
        ok = np.isfinite(implied) & (ref > cost * 1.01)
        fallback = self._template().prior_elasticity
        return np.where(ok, np.clip(implied, -6.0, -1.2), fallback)

    def _fit(self, context: PricingContext) -> ElasticityEstimator | None:
        periods, prices, units, usable = self.history()
        if len(periods) == 0 or not usable.any():
            self.model_ = None
            return None
        model = self._template()
        model.fit_panel(prices, units, periods=periods, category=context.category, weight=usable.astype(float),
                        reference_price=self._reference(context),
                        elasticity_anchor=None if self.anchor_sd is None else self._anchor(context))
        self.model_ = model
        return model

    # -------------------------------------------------------------------------------- the prices
    def targets(self, period: int, context: PricingContext) -> np.ndarray:
        current = np.asarray(context.current_price, dtype=float)
        model = self._fit(context)
        if model is None:  # nothing observed yet: keep the shop's price, or the prior's Lerner price
            if self.first_move == "hold":
                return current.copy()
            return optimal_price(np.full(context.n_products, self._template().prior_elasticity),
                                 np.asarray(context.unit_cost, dtype=float))
        target = self._expected_profit_optimum(period, model, context)
        stock = context.stock()
        if context.periods_left and np.isfinite(stock).any():
            finite = np.nonzero(np.isfinite(stock))[0]
            target[finite] = self._inventory_prices(period, model, context, finite)
        if self.min_units > 0:  # too few sales to learn from: the shop's price stands
            _, _, units, usable = self.history()
            target = np.where((units * usable).sum(axis=1) < self.min_units, current, target)
        cap = current * (1.0 + self.rise_step)
        if self.detect_asymmetry:
            cap = np.where(self._rises_hurt(model), current, cap)
        return np.minimum(target, cap)

    def _grid(self, context: PricingContext) -> np.ndarray:
        current = np.asarray(context.current_price, dtype=float)
        lo, hi = np.empty(context.n_products), np.empty(context.n_products)
        for i, (policy, c) in enumerate(zip(context.policies, context.costs(), strict=True)):
            floor = policy.hard_floor(c)
            lo[i] = floor[1] if floor is not None else 0.5 * current[i]
            hi[i] = max(policy.ceiling if policy.ceiling is not None else 3.0 * current[i], lo[i])
        return np.exp(np.linspace(np.log(lo), np.log(hi), self.grid_size, axis=1))

    def _expected_profit_optimum(self, period: int, model: ElasticityEstimator, context: PricingContext) -> np.ndarray:
        grid = self._grid(context)
        cost = np.nan_to_num(np.asarray(context.unit_cost, dtype=float), nan=0.0)
        posterior = model.posterior()
        base = np.exp(np.clip(model.base_log_demand(float(period)), -30, 30))  # (n, 1), at the posterior mean
        profit = np.zeros_like(grid)
        for _ in range(max(self.draws, 1)):
            coef = posterior.sample(self.rng_) if self.draws > 1 else model.coef_
            # Only the price response is drawn; the level is the posterior mean's (what the data pin down).
            profit += (grid - cost[:, None]) * base * np.exp(np.clip(model.log_price_effect(grid, coef), -30, 30))
        return grid[np.arange(context.n_products), profit.argmax(axis=1)]

    def _inventory_prices(self, period: int, model: ElasticityEstimator, context: PricingContext,
                          rows: np.ndarray) -> np.ndarray:
        """Thompson sampling with inventory (TS-update) for the products ``rows`` with finite stock."""
        current = np.asarray(context.current_price, dtype=float)
        cost = np.nan_to_num(np.asarray(context.unit_cost, dtype=float), nan=0.0)
        stock = context.stock()
        coef = model.posterior().sample(self.rng_, self.stock_exploration)
        candidates = []
        for i in rows:
            policy = context.policies[i]
            s = policy.max_change if policy.max_change is not None else 0.25
            floor = policy.hard_floor(context.costs()[i])
            lo = max(current[i] * (1 - s), floor[1] if floor is not None else 0.0)
            hi = max(min(current[i] * (1 + min(s, self.rise_step)), policy.ceiling or math.inf), lo)
            ladder = price_ladder(lo, hi, policy.price_bands, spacing=0.01)
            candidates.append(np.unique(np.append(ladder, current[i])))
        width = max(len(c) for c in candidates)
        grid = np.tile(current[:, None], (1, width))
        for i, cand in zip(rows, candidates, strict=True):
            grid[i] = np.pad(cand, (0, width - len(cand)), constant_values=cand[-1])
        mean = model.predict(float(period), grid, coef)
        future = np.arange(period, period + int(context.periods_left or 1), dtype=float)
        base = np.exp(np.clip(model.base_log_demand(future, coef), -30, 30))
        share = base[:, 0] / np.maximum(base.sum(axis=1), 1e-12)
        demands = [mean[i, :len(c)] for i, c in zip(rows, candidates, strict=True)]
        margins = [c - cost[i] for i, c in zip(rows, candidates, strict=True)]
        mixes = solve_price_mix(margins, demands, stock[rows] * share[rows])
        out = np.empty(len(rows))
        for k, (cand, x) in enumerate(zip(candidates, mixes, strict=True)):
            probs = np.append(x, max(0.0, 1.0 - float(x.sum())))
            pick = self.rng_.choice(len(probs), p=probs / probs.sum())
            out[k] = cand[-1] if pick == len(cand) else cand[pick]
        return out

    def _rises_hurt(self, model: ElasticityEstimator) -> np.ndarray:
        """Per product: did sales after its rises fall short of the model more than after its cuts?"""
        periods, prices, units, usable = self.history()
        n = prices.shape[0]
        if prices.shape[1] < 6:
            return np.zeros(n, dtype=bool)
        fitted = model.predict(periods, prices)
        resid = np.log((units + 0.5) / (fitted + 0.5))
        move = np.diff(np.log(prices), axis=1)
        after_rise = np.c_[np.zeros((n, 1), dtype=bool), move > 1e-6] & usable
        after_cut = np.c_[np.zeros((n, 1), dtype=bool), move < -1e-6] & usable
        out = np.zeros(n, dtype=bool)
        for i in range(n):
            r, c = resid[i, after_rise[i]], resid[i, after_cut[i]]
            if len(r) >= 3 and len(c) >= 3:
                se = math.sqrt(r.var(ddof=1) / len(r) + c.var(ddof=1) / len(c))
                out[i] = r.mean() - c.mean() < -2.0 * max(se, 1e-9)
        return out



def default_strategy(random_state: int | None = None) -> RobustPricingStrategy:
    """The strategy the project recommends: :class:`RobustPricingStrategy` with its defaults (chosen on the
    development seeds of ``bench/pricing.py``; see bench/RESULTS.md)."""
    strategy = RobustPricingStrategy(random_state=random_state)
    strategy.name = "default"
    return strategy
