"""The default pricing strategy: robust rather than tuned.

:class:`RobustPricingStrategy` refits the hierarchical log-log model every period, but only with the
terms the history supports and with the shop's own prices as prior knowledge:

- **Season and trend only when the history supports them**: the yearly harmonics enter once a full
  season (``season_length`` periods) has been observed; the trend's prior spread grows from nearly 0
  to ``control_prior_sd`` over ``trend_periods`` periods (shrinkage to zero with little data), and
  recent periods weigh more (``half_life``) so level changes are followed rather than read as price
  effects.
- **Robust pooling**: each product's elasticity prior is centred on the *anchor*, the elasticity at
  which its first price would be the profit optimum (``-p / (p - c)``), and what is pooled within a
  category is the deviation from it, with Huber weights (``ElasticityEstimator(robust_pool=True)``):
  a few products cannot move the others' prior.
- **Decisions under uncertainty**: the price maximises the profit *averaged over* ``draws`` posterior
  draws, not the profit of the posterior mean, so a wide posterior keeps the price near what is known.
  Products with finite stock and a known horizon follow Thompson sampling with inventory (Ferreira,
  Simchi-Levi & Wang 2018): one posterior draw, the LP over the reachable prices with "expected sales
  <= the stock left shared over the periods left in proportion to the expected demand", a price drawn
  from the LP's mix.
- **Reference-price-aware steps**: a rise is at most ``rise_step`` per period (cuts may use the full
  step the guardrails allow), and when the sales after the strategy's own rises fell more than the
  model expected (the residuals of the weeks after a rise are below those after a cut by more than
  two standard errors) the rises stop for that product.

``random_state`` seeds every draw. The guardrails and the circuit breaker apply as in every
:class:`~pricing.ml.strategies.PricingStrategy`.
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

    def __init__(self, *, estimator: ElasticityEstimator | None = None, trend_periods: int = 26,
                 half_life: float | None = 26.0, anchor_sd: float = 0.5, draws: int = 24, grid_size: int = 121,
                 rise_step: float = 0.05, stock_exploration: float = 1.0, detect_asymmetry: bool = True,
                 season_gate: bool = True, first_move: str = "hold", robust_pool: bool = True,
                 random_state: int | None = None):
        if first_move not in {"hold", "prior"}:
            raise ValueError(f"first_move must be 'hold' or 'prior', got {first_move!r}")
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
        super().__init__(estimator=estimator if estimator is not None
                         else ElasticityEstimator(curvature=True, robust_pool=True), random_state=random_state)

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
