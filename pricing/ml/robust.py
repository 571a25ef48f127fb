"""The default pricing strategy: the pooled log-log model, with moves only where the evidence carries them.

:class:`RobustPricingStrategy` refits the hierarchical log-log model (with curvature; every product
shrunk towards its category) every period and aims each product at the profit optimum of that model,
under the guardrails and the circuit breaker of every :class:`~pricing.ml.strategies.PricingStrategy`:

- **a price moves only when the move probably pays**: the step the guardrails would let the price take
  towards the optimum is made only if, over ``draws`` draws of the posterior, it beats the current
  price in at least a share ``confidence`` (0.7) of them; otherwise the price stands. Weak evidence (few
  sales, little price variation, a demand that does not follow the model) therefore keeps the shop's
  price instead of chasing noise, and prices do not zig-zag (which costs where shoppers remember the
  last price and rises hurt more than cuts help);
- **substitutes within a category** (``cross_price``): the model also fits each product's response to
  the mean log price of the other products of its category (a cross-price elasticity, prior N(0, 0.5²),
  pooled like the controls). A product is priced as if its substitutes follow its move (the elasticity
  of a move of the whole category: own + cross, never flatter than -1.2), the multi-product optimum
  for similar substitutes; without it every product undercuts its neighbours and the category earns
  less than at the list prices. How much the substitutes give back is the category's pooled cross-price
  coefficient (``follow="category"``), not each product's own: a product's own estimate is noisy, and
  clipping it at 0 (a substitute never adds sales when it follows) turned its noise into a bias towards
  higher prices in categories without substitutes (``follow="product"``, the previous setting);
- **the remembered price** (``reference_effects``): the model also fits the response to a rise and to
  a cut against an exponential average of the product's earlier prices (memory ``MEMORY``). A cut
  counts where the data show a response (two standard errors). Rises get a prior that they hurt
  (``rise_prior``, the hyperprior mean of the rise coefficient, pooled by category like the rest): the
  response to a rise counts always, at that prior until the product's and its category's data move it
  (``rise_prior=0``, the default: a rise counts like a cut, where the data show it).
  With ``amortize`` (the default) the gap to the remembered price counts at its mean over the periods the
  price is expected to stand (it fades by ``MEMORY`` a period; ``horizon`` periods, at most the periods
  left), not at its first period's size: a rise's loss is paid once, its gain lasts, and so does a cut's
  bonus (counted at its first week's size, it made cut after cut look good where shoppers remember
  prices, and the products stayed far below their optimum);
- **each product keeps its own elasticity**: the default model (:func:`default_estimator`) leaves at
  least ``MIN_TAU`` of spread between the elasticities of a category's products, so a product that sells
  unlike its category is not priced as its category's average;
- products with finite stock and a known horizon follow **Thompson sampling with inventory**
  (Ferreira, Simchi-Levi & Wang 2018, TS-update): one posterior draw, the LP over the prices reachable
  this period with "expected sales <= the stock left, shared over the periods left in proportion to the
  expected demand", and a price drawn from the LP's mix; then the **pace check**, on the sales rather
  than the model: a product that sold (over the last ``pace_window`` periods) slower than its stock must
  sell is not raised, one that sold faster is not cut;
- before any sale, and while a product has sold fewer than ``min_units`` units, its price stands: its
  own data cannot tell a better one (the long tail);
- ``random_state`` seeds every draw (the posterior draws of the move rule and of the stock LP).

Every setting was chosen on the development seeds of ``bench/pricing.py`` (the screening is in
bench/RESULTS.md); ``confidence=0`` switches the move rule off, ``cross_price`` and
``reference_effects`` the two extra terms.
"""
from __future__ import annotations

import math

import numpy as np

from .elasticity import ELASTICITY, ElasticityEstimator
from .endings import price_ladder
from .optimize import solve_price_mix
from .strategies import PricingContext, _ModelStrategy, clone_estimator

CROSS, RISE, CUT = "cross_log_price", "rise_vs_remembered", "cut_vs_remembered"
CROSS_PRIOR_SD, GAP_PRIOR_SD = 0.5, 1.0
MEMORY = 0.75  # weight of the remembered price that carries over to the next period
MIN_TAU = 0.5  # the least spread of elasticities between the products of a category


def default_estimator() -> ElasticityEstimator:
    """The demand model of the default strategy: the pooled log-log model with curvature, whose products
    keep at least ``MIN_TAU`` of spread around their category (a product that sells unlike its category
    is not priced as if it were the category's average)."""
    return ElasticityEstimator(curvature=True, min_tau=MIN_TAU)


def _others(category: np.ndarray, log_price: np.ndarray) -> np.ndarray:
    """Mean log price of the other products of each product's category (its own where it is alone)."""
    size = np.bincount(category)[category][:, None]
    sums = np.zeros((int(category.max()) + 1,) + log_price.shape[1:])
    np.add.at(sums, category, log_price)
    return np.where(size > 1, (sums[category] - log_price) / np.maximum(size - 1, 1), log_price)


def _gaps(log_price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log price against the remembered price (an exponential average of the earlier prices, ``MEMORY``)
    in every period ``(n, t)``, and the remembered price for the next period ``(n,)`` (log)."""
    remembered = log_price[:, 0].copy()
    gap = np.zeros_like(log_price)
    for t in range(log_price.shape[1]):
        gap[:, t] = log_price[:, t] - remembered
        remembered = MEMORY * remembered + (1.0 - MEMORY) * log_price[:, t]
    return gap, remembered


class RobustPricingStrategy(_ModelStrategy):
    """See the module docstring; the defaults are the settings chosen on the development seeds."""

    name = "robust"

    def __init__(self, *, estimator: ElasticityEstimator | None = None, grid_size: int = 200,
                 confidence: float = 0.7, draws: int = 32, cross_price: bool = True, reference_effects: bool = True,
                 rise_prior: float = 0.0, amortize: bool = True, horizon: int = 52, stock_exploration: float = 1.0,
                 min_units: float = 30.0, follow: str = "category", pace_window: int = 2,
                 random_state: int | None = None):
        if not 0.0 <= confidence < 1.0:
            raise ValueError(f"confidence must be in [0, 1), got {confidence!r}")
        if follow not in {"category", "product"}:
            raise ValueError(f"follow must be 'category' or 'product', got {follow!r}")
        if pace_window < 1:
            raise ValueError(f"pace_window must be at least 1 period, got {pace_window!r}")
        self.grid_size = grid_size
        self.confidence = confidence
        self.draws = draws
        self.cross_price = cross_price
        self.reference_effects = reference_effects
        self.rise_prior = rise_prior
        self.amortize = amortize
        self.horizon = horizon
        self.stock_exploration = stock_exploration
        self.min_units = min_units
        self.follow = follow
        self.pace_window = pace_window
        super().__init__(estimator=estimator if estimator is not None else default_estimator(),
                         random_state=random_state)

    # ---------------------------------------------------------------------------------- the model
    def _fit(self, context: PricingContext) -> ElasticityEstimator | None:
        periods, prices, units, usable = self.history()
        if len(periods) == 0 or not usable.any():
            self.model_ = None
            return None
        current = np.asarray(context.current_price, dtype=float)
        logp = np.log(np.where(prices > 0, prices, 1.0))  # held products' prices may be 0 or nan
        now = np.log(np.where(current > 0, current, 1.0))[:, None]
        covariates: dict[str, tuple[np.ndarray, float]] = {}
        self._now: dict[str, np.ndarray] = {}
        if self.cross_price and context.category is not None:
            category = np.asarray(context.category, dtype=np.int64)
            if (np.bincount(category) > 1).any():
                covariates[CROSS] = (_others(category, logp), CROSS_PRIOR_SD)
                self._now[CROSS] = _others(category, now)[:, 0]
        if self.reference_effects:
            gap, self._reference_now = _gaps(logp)
            covariates[RISE] = (np.maximum(gap, 0.0), GAP_PRIOR_SD, self.rise_prior)
            covariates[CUT] = (np.maximum(-gap, 0.0), GAP_PRIOR_SD)
        model = clone_estimator(self._template())
        model.fit_panel(prices, units, periods=periods, category=context.category, weight=usable.astype(float),
                        reference_price=self._reference(context), covariates=covariates)
        self.model_ = model
        return model

    def _objective(self, period: int, model: ElasticityEstimator, prices: np.ndarray, current: np.ndarray,
                   coef: np.ndarray | None = None) -> np.ndarray:
        """Expected profit this period at ``prices (n, m)``: the model's units, with the substitutes at their
        prices now and following the product's move, and the response to the move against the shopper's
        remembered price."""
        coef = model.coef_ if coef is None else coef
        cost = np.nan_to_num(self._cost, nan=0.0)
        names, center = model.feature_names_, model.covariate_center_
        log_units = np.log(np.maximum(model.predict(float(period), prices, coef), 1e-300))
        if CROSS in center:
            gamma = coef[:, names.index(CROSS)]
            log_units = log_units + (gamma * (self._now[CROSS] - center[CROSS]))[:, None]
            # substitutes that follow the product's move give back their cross effect (at most up to -1.2)
            x = np.log(current / model.reference_price_)
            slope = coef[:, ELASTICITY] + (2.0 * coef[:, ELASTICITY + 1] * x if model.curvature else 0.0)
            if self.follow == "category":  # whether substitutes follow is the category's property: its mean
                gamma_follow = model.category_mean_[np.asarray(model.category_, dtype=np.int64), names.index(CROSS)]
            else:
                gamma_follow = gamma
            follow = np.clip(gamma_follow, 0.0, np.maximum(-slope - 1.2, 0.0))
            log_units = log_units + follow[:, None] * np.log(prices / current[:, None])
        if RISE in center:
            gap = np.log(prices) - self._reference_now[:, None]
            if self.amortize:  # the gap fades by MEMORY a period while the price stands: its mean effect
                h = float(self._horizon)
                gap = gap * (1.0 - MEMORY ** h) / ((1.0 - MEMORY) * h)
            for name, part in ((RISE, np.maximum(gap, 0.0)), (CUT, np.maximum(-gap, 0.0))):
                j = names.index(name)
                # a cut counts only where the data show a response (two standard errors); a rise always
                # when its prior says rises hurt (the posterior leaves that prior only as the data show)
                shown = np.abs(model.coef_[:, j]) > 2.0 * np.sqrt(model.coef_cov_[:, j, j])
                if name == RISE and self.rise_prior < 0:
                    shown = np.ones_like(shown)
                offset = 0.0 if self.amortize else center[name][:, None]
                log_units = log_units + np.where(shown, coef[:, j], 0.0)[:, None] * (part - offset)
        return (prices - cost[:, None]) * np.exp(np.clip(log_units, -30, 30))

    # -------------------------------------------------------------------------------- the prices
    def targets(self, period: int, context: PricingContext) -> np.ndarray:
        current = np.asarray(context.current_price, dtype=float)
        self._cost = np.asarray(context.unit_cost, dtype=float)
        self._horizon = max(min(int(context.periods_left or self.horizon), self.horizon), 1)
        model = self._fit(context)
        if model is None:  # nothing observed yet: the shop's price stands
            return current.copy()
        grid = self._grid(context)
        target = grid[np.arange(context.n_products), self._objective(period, model, grid, current).argmax(axis=1)]
        if self.confidence > 0:
            step = self._step_towards(target, context)
            target = np.where(self._gain_probability(period, model, step, current) >= self.confidence,
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

    def _gain_probability(self, period: int, model: ElasticityEstimator, step: np.ndarray,
                          current: np.ndarray) -> np.ndarray:
        """Share of ``draws`` posterior draws in which the price ``step`` earns more than the current one."""
        pair = np.stack([current, step], axis=1)
        posterior = model.posterior()
        wins = np.zeros(len(current))
        for _ in range(max(self.draws, 1)):
            value = self._objective(period, model, pair, current, posterior.sample(self.rng_))
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
        # The pace check, on what was sold rather than on the model: a product that sold slower than its
        # stock must sell (the stock left over the periods left) is not raised, one that sold faster is
        # not cut. A model fitted on a few weeks can be far off (a price that rose every week and a trend
        # explain the same sales), and one draw of it would then walk the price away from its buyers.
        _, _, units, usable = self.history()
        if units.shape[1]:
            recent = units[rows, -self.pace_window:]
            ok = usable[rows, -self.pace_window:]
            sold = np.where(ok.any(axis=1), (recent * ok).sum(axis=1) / np.maximum(ok.sum(axis=1), 1), np.nan)
            pace = stock[rows] / max(int(context.periods_left or 1), 1)
            cur = current[rows]
            out = np.where((sold < pace) & (out > cur), cur, out)
            out = np.where((sold > pace) & (out < cur), cur, out)
        return out


def default_strategy(random_state: int | None = None) -> RobustPricingStrategy:
    """The strategy the project recommends: :class:`RobustPricingStrategy` with its defaults (chosen on the
    development seeds of ``bench/pricing.py``; see bench/RESULTS.md)."""
    strategy = RobustPricingStrategy(random_state=random_state)
    strategy.name = "default"
    return strategy
