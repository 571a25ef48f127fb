"""The default pricing strategy: the pooled log-log model, with moves only where the evidence carries them.

:class:`RobustPricingStrategy` refits the hierarchical log-log model (with curvature; every product
shrunk towards its category) every period and aims each product at the profit optimum of that model,
under the guardrails and the circuit breaker of every :class:`~pricing.ml.strategies.PricingStrategy`:

- **a price moves only when the move probably pays**: the step the guardrails would let the price take
  towards the optimum is made only if, over ``draws`` draws of the posterior, it beats the current
  price in at least a share ``confidence`` of them; otherwise the price stands. Weak evidence (few
  sales, little price variation, a demand that does not follow the model) therefore keeps the shop's
  price instead of chasing noise, and prices do not zig-zag (which costs where shoppers remember the
  last price and rises hurt more than cuts help);
- **cannibalisation within a category**: the sales a product's price takes from or gives to the other
  products of its category are estimated from the data (one cross-price elasticity against the other
  products' mean log price, fitted on the model's residuals and shrunk towards 0, used only when it is
  clearly positive), and a product's objective counts the change in its neighbours' profit too (the
  multi-product Lerner condition), so substitutes are not priced against each other;
- products with finite stock and a known horizon follow **Thompson sampling with inventory**
  (Ferreira, Simchi-Levi & Wang 2018, TS-update): one posterior draw, the LP over the prices reachable
  this period with "expected sales <= the stock left, shared over the periods left in proportion to the
  expected demand", and a price drawn from the LP's mix;
- before any sale, and while a product has sold fewer than ``min_units`` units, its price stands: its
  own data cannot tell a better one (the long tail);
- ``random_state`` seeds every draw (the posterior draws of the rule above and of the stock LP).
"""
from __future__ import annotations

import math

import numpy as np

from .elasticity import ELASTICITY, ElasticityEstimator
from .endings import price_ladder
from .optimize import solve_price_mix
from .strategies import PricingContext, _ModelStrategy, clone_estimator


class RobustPricingStrategy(_ModelStrategy):
    """See the module docstring; the defaults are the settings chosen on the development seeds."""

    name = "robust"

    def __init__(self, *, estimator: ElasticityEstimator | None = None, grid_size: int = 200,
                 confidence: float = 0.8, draws: int = 32, cross_price: bool = True, stock_exploration: float = 1.0,
                 min_units: float = 30.0, random_state: int | None = None):
        if not 0.0 <= confidence < 1.0:
            raise ValueError(f"confidence must be in [0, 1), got {confidence!r}")
        self.grid_size = grid_size
        self.confidence = confidence
        self.draws = draws
        self.cross_price = cross_price
        self.stock_exploration = stock_exploration
        self.min_units = min_units
        super().__init__(estimator=estimator if estimator is not None else ElasticityEstimator(curvature=True),
                         random_state=random_state)

    # -------------------------------------------------------------------------------- the prices
    def targets(self, period: int, context: PricingContext) -> np.ndarray:
        current = np.asarray(context.current_price, dtype=float)
        model = self._fit(context)
        if model is None:  # nothing observed yet: the shop's price stands
            return current.copy()
        cannibal = self._cannibalisation(period, model, context)
        grid = self._grid(context)
        target = grid[np.arange(context.n_products), self._objective(period, model, grid, cannibal).argmax(axis=1)]
        step = self._step_towards(target, context)
        if self.confidence > 0:
            target = np.where(self._gain_probability(period, model, step, cannibal, context) >= self.confidence,
                              target, current)
        stock = context.stock()
        if context.periods_left and np.isfinite(stock).any():
            finite = np.nonzero(np.isfinite(stock))[0]
            target[finite] = self._inventory_prices(period, model, context, finite)
        if self.min_units > 0:  # too few sales to learn from: the shop's price stands
            _, _, units, usable = self.history()
            target = np.where((units * usable).sum(axis=1) < self.min_units, current, target)
        return target

    def _grid(self, context: PricingContext) -> np.ndarray:
        current = np.asarray(context.current_price, dtype=float)
        lo, hi = np.empty(context.n_products), np.empty(context.n_products)
        for i, (policy, c) in enumerate(zip(context.policies, context.costs(), strict=True)):
            floor = policy.hard_floor(c)
            lo[i] = floor[1] if floor is not None else 0.5 * current[i]
            hi[i] = max(policy.ceiling if policy.ceiling is not None else 3.0 * current[i], lo[i])
        grid = np.exp(np.linspace(np.log(lo), np.log(hi), self.grid_size, axis=1))
        return np.concatenate([grid, current[:, None]], axis=1)

    @staticmethod
    def _step_towards(target: np.ndarray, context: PricingContext) -> np.ndarray:
        """The price one period's step limit lets each product reach on its way to ``target``."""
        current = np.asarray(context.current_price, dtype=float)
        out = target.copy()
        for i, policy in enumerate(context.policies):
            if policy.max_change is not None:
                out[i] = min(max(target[i], current[i] * (1 - policy.max_change)), current[i] * (1 + policy.max_change))
        return out

    def _objective(self, period: int, model: ElasticityEstimator, prices: np.ndarray, cannibal: np.ndarray,
                   coef: np.ndarray | None = None) -> np.ndarray:
        """Expected profit at ``prices (n, m)``, plus the change in the category neighbours' profit."""
        cost = np.nan_to_num(self._cost, nan=0.0)
        coef = model.coef_ if coef is None else coef
        units = model.predict(float(period), prices, coef) * np.exp(np.clip(self._cross_shift(model, coef), -30, 30))
        follow = np.clip(cannibal[:, [0]], 0.0, None)
        return (prices - cost[:, None]) * units * (prices / np.asarray(self._context_price)[:, None]) ** follow

    def _others(self, category: np.ndarray, log_price: np.ndarray) -> np.ndarray:
        """Mean log price of the other products of each product's category (its own where it is alone)."""
        size = np.bincount(category)[category][:, None]
        sums = np.zeros((int(category.max()) + 1,) + log_price.shape[1:])
        np.add.at(sums, category, log_price)
        return np.where(size > 1, (sums[category] - log_price) / np.maximum(size - 1, 1), log_price)

    def _fit(self, context: PricingContext) -> ElasticityEstimator | None:
        self._cost = np.asarray(context.unit_cost, dtype=float)
        periods, prices, units, usable = self.history()
        if len(periods) == 0 or not usable.any():
            self.model_ = None
            return None
        self._cross = None
        if self.cross_price and context.category is not None:
            category = np.asarray(context.category, dtype=np.int64)
            if (np.bincount(category) > 1).any():
                self._cross = (category, self._others(category, np.log(prices)),
                               self._others(category, np.log(np.asarray(context.current_price, dtype=float))[:, None]))
        model = clone_estimator(self._template())
        model.fit_panel(prices, units, periods=periods, category=context.category, weight=usable.astype(float),
                        reference_price=self._reference(context),
                        cross_price=None if self._cross is None else self._cross[1])
        self.model_ = model
        return model

    def _cross_coef(self, model: ElasticityEstimator, coef: np.ndarray) -> np.ndarray | None:
        if self._cross is None:
            return None
        return coef[:, model.feature_names_.index("cross_log_price")]

    def _cross_shift(self, model: ElasticityEstimator, coef: np.ndarray) -> np.ndarray:
        """Log demand shift from the substitutes' prices now against their average in the history."""
        gamma = self._cross_coef(model, coef)
        if gamma is None:
            return np.zeros((coef.shape[0], 1))
        return (gamma * (self._cross[2][:, 0] - model.cross_center_))[:, None]

    def _cannibalisation(self, period: int, model: ElasticityEstimator, context: PricingContext) -> np.ndarray:
        """Per product: the cross-price elasticity added back to its own when its substitutes follow it."""
        self._context_price = np.asarray(context.current_price, dtype=float)
        out = np.zeros((context.n_products, 2))
        gamma = self._cross_coef(model, model.coef_)
        if gamma is None:
            return out
        x = np.log(self._context_price / model.reference_price_)
        slope = model.coef_[:, ELASTICITY] + (2.0 * model.coef_[:, ELASTICITY + 1] * x if model.curvature else 0.0)
        out[:, 0] = np.clip(gamma, 0.0, np.maximum(-slope - 1.2, 0.0))
        return out

    def _gain_probability(self, period: int, model: ElasticityEstimator, step: np.ndarray, cannibal: np.ndarray,
                          context: PricingContext) -> np.ndarray:
        """Share of ``draws`` posterior draws in which the price ``step`` earns more than the current one."""
        current = np.asarray(context.current_price, dtype=float)
        pair = np.stack([current, step], axis=1)
        posterior = model.posterior()
        wins = np.zeros(context.n_products)
        for _ in range(max(self.draws, 1)):
            value = self._objective(period, model, pair, cannibal, posterior.sample(self.rng_))
            wins += value[:, 1] > value[:, 0]
        return np.where(np.abs(step - current) > 1e-9, wins / max(self.draws, 1), 0.0)

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
            hi = max(min(current[i] * (1 + s), policy.ceiling or math.inf), lo)
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


def default_strategy(random_state: int | None = None) -> RobustPricingStrategy:
    """The strategy the project recommends: :class:`RobustPricingStrategy` with its defaults (chosen on the
    development seeds of ``bench/pricing.py``; see bench/RESULTS.md)."""
    strategy = RobustPricingStrategy(random_state=random_state)
    strategy.name = "default"
    return strategy
