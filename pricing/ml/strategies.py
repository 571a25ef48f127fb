"""Pricing strategies that a simulator (or a shop's nightly job) drives one period at a time.

The one interface, for ``n`` products at once (``n = 1`` is fine)::

    prices = strategy.propose(period, context)   # prices for `period`, guardrails already applied
    ...sell for one period at those prices...
    strategy.observe(prices, units_sold)          # what was charged and what it sold

``period`` is an integer that grows by one per period (a week); it drives the season and trend
controls. :class:`PricingContext` carries what the shop knows: current prices, unit costs, the
guardrail policy of each product, the stock left, the periods left in the selling season, the
categories and an optional demand forecast. A strategy learns only from what it observed: its own
prices and the units they sold. Every price it proposes has passed
:func:`~pricing.ml.guardrails.apply_guardrails` (the trail of the last call is in ``last_results_``).

Strategies: :class:`ElasticityOptimizer` (profit optimiser on the pooled log-log model, optional
Thompson-sampled exploration), :class:`ThompsonInventoryStrategy` (Ferreira, Simchi-Levi & Wang 2018,
TS with inventory updates), :class:`MarkdownStrategy` (overstock), :class:`HoldStrategy`; anchors
:class:`FixedPriceStrategy` (list price, or any target), :class:`PlainLogLogStrategy` and
:func:`greedy_strategy` (per-product refit-and-exploit). The one the project recommends,
:func:`pricing.ml.robust.default_strategy`, lives in :mod:`.robust`.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .elasticity import ELASTICITY, ElasticityEstimator, loglog_ols
from .endings import price_ladder
from .guardrails import GuardrailPolicy, GuardrailResult, apply_guardrails, check_circuit_breaker
from .optimize import optimal_price, run_out_price, solve_price_mix


@dataclass(frozen=True)
class PricingContext:
    """What the shop knows when it prices period ``period`` (arrays have one entry per product).

    ``unit_cost`` may hold ``nan`` (unknown: the product is only repriced if its policy has an
    absolute floor). ``stock_remaining`` ``None`` or ``inf`` means unlimited; ``periods_left`` counts
    the periods still to sell, this one included (``None``: open-ended, the stock constraint is then
    ignored). ``last_changed`` is the period of each product's last price change (``nan``: never or
    unknown; ``None``: the strategy tracks changes it observed itself). ``forecast`` is an optional
    ``(n, periods_left)`` forecast of units at the current price (used by :class:`MarkdownStrategy`).
    """

    current_price: np.ndarray
    unit_cost: np.ndarray
    policies: Sequence[GuardrailPolicy]
    stock_remaining: np.ndarray | None = None
    periods_left: int | None = None
    category: np.ndarray | None = None
    last_changed: np.ndarray | None = None
    forecast: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.current_price)
        for name in ("unit_cost", "policies", "stock_remaining", "category", "last_changed", "forecast"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"context.{name} has {len(value)} entries, current_price has {n}")

    @property
    def n_products(self) -> int:
        """Number of products priced."""
        return len(self.current_price)

    def problems(self) -> dict[int, str]:
        """Products that cannot be priced, by index, with the reason (the others are priced normally).

        A current price that is not a positive number, a unit cost of 0 or below (``nan`` is "unknown",
        which is allowed), or a stock that is negative or ``nan``.
        """
        out: dict[int, str] = {}
        price = np.asarray(self.current_price, dtype=float)
        cost = np.asarray(self.unit_cost, dtype=float)
        stock = None if self.stock_remaining is None else np.asarray(self.stock_remaining, dtype=float)
        for i in range(self.n_products):
            if not (math.isfinite(price[i]) and price[i] > 0):
                out[i] = f"current price {price[i]!r} is not a positive number"
            elif not (math.isnan(cost[i]) or (math.isfinite(cost[i]) and cost[i] > 0)):
                out[i] = f"unit cost {cost[i]!r} is not positive (leave it unknown, nan, instead)"
            elif stock is not None and not (stock[i] >= 0):
                out[i] = f"stock {stock[i]!r} is not a number of units"
        return out

    def without(self, held: dict[int, str]) -> PricingContext:
        """This context with the ``held`` products made harmless (price 1, unknown cost, no stock limit),
        so a strategy's arithmetic on them cannot fail; their proposals are discarded."""
        if not held:
            return self
        idx = np.fromiter(held, dtype=np.int64)
        price = np.array(self.current_price, dtype=float)
        cost = np.array(self.unit_cost, dtype=float)
        price[idx], cost[idx] = 1.0, np.nan
        stock = None
        if self.stock_remaining is not None:
            stock = np.array(self.stock_remaining, dtype=float)
            stock[idx] = np.inf
        return replace(self, current_price=price, unit_cost=cost, stock_remaining=stock)

    def stock(self) -> np.ndarray:
        """Stock left per product, ``inf`` where unlimited."""
        if self.stock_remaining is None:
            return np.full(self.n_products, np.inf)
        return np.asarray(self.stock_remaining, dtype=float)

    def costs(self) -> list[float | None]:
        """Unit costs with ``nan`` turned into ``None`` (what the guardrails take)."""
        return [None if not math.isfinite(c) else float(c) for c in np.asarray(self.unit_cost, dtype=float)]


class PricingStrategy(ABC):
    """Base of every strategy: guardrails on the way out, the observed history on the way in.

    Subclasses implement :meth:`targets` (the prices they would like, ``nan``: keep the current
    price); the base class applies the guardrails and records ``(period, prices, units, censored)``.
    Sales of a period that emptied the stock are censored (demand may have been higher) and are kept
    out of the demand fits.
    """

    name = "strategy"

    breaker_max_change: float | None = None  # the breaker's limit for policies without a step limit

    def __init__(self, *, random_state: int | None = None):
        self.random_state = random_state
        self.reset()

    def reset(self) -> None:
        """Forget everything observed (start a new simulation)."""
        self.rng_ = np.random.default_rng(self.random_state)
        self.periods_: list[int] = []
        self.prices_: list[np.ndarray] = []
        self.units_: list[np.ndarray] = []
        self.censored_: list[np.ndarray] = []
        self.last_results_: list[GuardrailResult] = []
        self.held_: dict[int, str] = {}
        self._pending: tuple[int, PricingContext] | None = None
        self._last_change: np.ndarray | None = None

    # --------------------------------------------------------------------------------- the interface
    def propose(self, period: int, context: PricingContext) -> np.ndarray:
        """Prices for ``period`` (one per product), after the guardrails and the circuit breaker.

        A product that cannot be priced (:meth:`PricingContext.problems`) or whose guarded price the
        circuit breaker refuses keeps its current price; the reason is in ``held_`` (index -> text).
        The breaker's limit is the policy's ``max_change`` (else ``breaker_max_change``), so no
        proposal, the first included, moves a price further than one step, not even onto a hard floor
        far above the current price (that needs a person).
        """
        held = context.problems()
        targets = np.asarray(self.targets(period, context.without(held)), dtype=float)
        current = np.asarray(context.current_price, dtype=float)
        last = self._last_changed(context)
        results: list[GuardrailResult] = []
        prices = current.copy()
        for i, (target, policy, cost) in enumerate(zip(targets, context.policies, context.costs(), strict=True)):
            if i in held:
                results.append(GuardrailResult(price=float(current[i]), rule="held", proposed=float(target)))
                continue
            proposal = target if math.isfinite(target) else current[i]
            result = apply_guardrails(
                proposal, current_price=float(current[i]), unit_cost=cost, policy=policy, now=period,
                last_changed_at=None if not math.isfinite(last[i]) else float(last[i]))
            limit = policy.max_change if policy.max_change is not None else self.breaker_max_change
            decision = check_circuit_breaker(float(current[i]), result.price, unit_cost=cost,
                                             max_change=math.inf if limit is None else limit)
            if not decision.allowed:
                held[i] = f"circuit breaker: {decision.reason}"
                result = GuardrailResult(price=float(current[i]), rule="held", proposed=result.proposed,
                                         trail=result.trail)
            results.append(result)
            prices[i] = result.price
        self.last_results_ = results
        self.held_ = held
        self._pending = (period, context)
        return prices

    def observe(self, prices: np.ndarray, units_sold: np.ndarray) -> None:
        """Record the prices charged in the proposed period and the units they sold."""
        if self._pending is None:
            raise RuntimeError("observe() must follow propose()")
        period, context = self._pending
        prices = np.asarray(prices, dtype=float)
        units = np.asarray(units_sold, dtype=float)
        stock = context.stock()
        censored = np.isfinite(stock) & (units >= stock - 1e-9)
        previous = np.asarray(context.current_price, dtype=float)
        if self._last_change is None:
            self._last_change = np.full(len(prices), np.nan)
        self._last_change = np.where(np.abs(prices - previous) > 1e-9, float(period), self._last_change)
        self.periods_.append(int(period))
        self.prices_.append(prices)
        self.units_.append(units)
        self.censored_.append(censored)
        self._pending = None

    def observe_history(self, periods: Sequence[int], prices: np.ndarray, units: np.ndarray,
                        censored: np.ndarray | None = None) -> None:
        """Seed the strategy with past periods (``prices``/``units`` shaped ``(n, len(periods))``)."""
        prices, units = np.asarray(prices, dtype=float), np.asarray(units, dtype=float)
        for j, period in enumerate(periods):
            self.periods_.append(int(period))
            self.prices_.append(prices[:, j])
            self.units_.append(units[:, j])
            self.censored_.append(np.zeros(len(prices), dtype=bool) if censored is None else censored[:, j])

    @abstractmethod
    def targets(self, period: int, context: PricingContext) -> np.ndarray:
        """The prices the strategy would like for ``period`` before guardrails (``nan``: keep current)."""

    # ------------------------------------------------------------------------------------- helpers
    def _last_changed(self, context: PricingContext) -> np.ndarray:
        if context.last_changed is not None:
            return np.asarray(context.last_changed, dtype=float)
        if self._last_change is None or len(self._last_change) != context.n_products:
            return np.full(context.n_products, np.nan)
        return self._last_change

    def history(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(periods, prices (n, t), units (n, t), usable (n, t))`` of everything observed."""
        if not self.periods_:
            return np.zeros(0), np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0), dtype=bool)
        return (np.array(self.periods_, dtype=float), np.stack(self.prices_, axis=1),
                np.stack(self.units_, axis=1), ~np.stack(self.censored_, axis=1))

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters (for reports)."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}


def clone_estimator(template: ElasticityEstimator) -> ElasticityEstimator:
    """A fresh, unfitted estimator with ``template``'s hyperparameters."""
    return ElasticityEstimator(**{k: getattr(template, k) for k in (
        "season_length", "harmonics", "trend", "ci", "prior_elasticity", "prior_elasticity_sd", "control_prior_sd",
        "min_tau", "half_life", "pool", "curvature", "curvature_prior_sd", "eb_rounds", "max_iter", "robust_pool")})


class HoldStrategy(PricingStrategy):
    """Keep every price where it is (the guardrails may still lift it onto a hard floor)."""

    name = "hold"

    def targets(self, period: int, context: PricingContext) -> np.ndarray:
        return np.asarray(context.current_price, dtype=float).copy()


class FixedPriceStrategy(PricingStrategy):
    """Move to fixed target prices (as fast as the guardrails allow) and stay there (an anchor)."""

    name = "fixed"

    def __init__(self, prices: np.ndarray | None = None, *, random_state: int | None = None):
        self.prices = None if prices is None else np.asarray(prices, dtype=float)
        super().__init__(random_state=random_state)

    def targets(self, period: int, context: PricingContext) -> np.ndarray:
        if self.prices is None:  # the list price: whatever the first context said
            self.prices = np.asarray(context.current_price, dtype=float).copy()
        return self.prices


class _ModelStrategy(PricingStrategy):
    """Shared machinery: refit the hierarchical log-log model on the history every period."""

    def __init__(self, *, estimator: ElasticityEstimator | None = None, random_state: int | None = None):
        self.estimator = estimator
        super().__init__(random_state=random_state)

    def reset(self) -> None:
        super().reset()
        self.model_: ElasticityEstimator | None = None

    def _fit(self, context: PricingContext) -> ElasticityEstimator | None:
        periods, prices, units, usable = self.history()
        if len(periods) == 0 or not usable.any():
            self.model_ = None
            return None
        model = clone_estimator(self._template())
        model.fit_panel(prices, units, periods=periods, category=context.category, weight=usable.astype(float),
                        reference_price=self._reference(context))
        self.model_ = model
        return model

    def _template(self) -> ElasticityEstimator:
        return self.estimator if self.estimator is not None else ElasticityEstimator(curvature=True)

    def _reference(self, context: PricingContext) -> np.ndarray:
        if not hasattr(self, "reference_") or len(self.reference_) != context.n_products:
            self.reference_ = np.asarray(context.current_price, dtype=float).copy()
        return self.reference_

    def reset_reference(self) -> None:
        """Forget the reference prices (the first current prices seen)."""
        if hasattr(self, "reference_"):
            del self.reference_


class ElasticityOptimizer(_ModelStrategy):
    """Profit-maximising prices from the learned demand model, under stock and guardrails.

    Each period: refit the hierarchical log-log model (:class:`~pricing.ml.elasticity.ElasticityEstimator`,
    by default with the curvature term, so linear-like curves are followed too) on the history, and
    aim at the price that maximises the predicted profit, raised where the stock left would not last
    the remaining periods at that price. ``exploration`` scales a Thompson draw from the posterior
    (0: the posterior mean, pure refit-and-exploit; 1: full Thompson sampling). Without curvature
    the optimum is the Lerner price ``c * e / (1 + e)`` (capped where ``e`` nears -1); with it, the best
    point of a ``grid_size`` log grid between the hard floor and the ceiling. Before any data the prior
    elasticity is used.

    On the tuning seeds exploration did not pay within 52 weeks (pooling across the category already
    supplies what a product's own prices cannot), so the default is 0; see bench/RESULTS.md.
    """

    name = "elasticity-optimiser"

    def __init__(self, *, exploration: float = 0.0, estimator: ElasticityEstimator | None = None,
                 grid_size: int = 200, random_state: int | None = None):
        self.exploration = exploration
        self.grid_size = grid_size
        super().__init__(estimator=estimator if estimator is not None else ElasticityEstimator(curvature=True),
                         random_state=random_state)

    def targets(self, period: int, context: PricingContext) -> np.ndarray:
        return self._optimum(period, context)

    def _optimum(self, period: int, context: PricingContext) -> np.ndarray:
        model = self._fit(context)
        cost = np.asarray(context.unit_cost, dtype=float)
        if model is None:
            template = self._template()
            sd = template.prior_elasticity_sd * self.exploration
            beta = template.prior_elasticity + sd * self.rng_.standard_normal(context.n_products)
            return optimal_price(beta, cost)
        coef = model.posterior().sample(self.rng_, self.exploration)
        stock = context.stock()
        constrained = context.periods_left is not None and bool(np.isfinite(stock).any())
        future = np.arange(period, period + (context.periods_left or 1), dtype=float)
        base_total = np.exp(np.clip(model.base_log_demand(future, coef), -30, 30)).sum(axis=1)
        if not model.curvature:
            target = optimal_price(coef[:, ELASTICITY], cost)
            if constrained:
                inventory = run_out_price(coef[:, ELASTICITY], model.reference_price_, stock, base_total)
                target = np.maximum(target, inventory)
            return target
        return self._grid_optimum(model, coef, context, stock, base_total if constrained else None)

    def _grid_optimum(self, model: ElasticityEstimator, coef: np.ndarray, context: PricingContext,
                      stock: np.ndarray, base_total: np.ndarray | None) -> np.ndarray:
        """Best price on a log grid between the hard floor and the ceiling (curved demand models)."""
        current = np.asarray(context.current_price, dtype=float)
        cost = np.asarray(context.unit_cost, dtype=float)
        lo, hi = np.empty(context.n_products), np.empty(context.n_products)
        for i, (policy, c) in enumerate(zip(context.policies, context.costs(), strict=True)):
            floor = policy.hard_floor(c)
            lo[i] = floor[1] if floor is not None else 0.5 * current[i]
            hi[i] = max(policy.ceiling if policy.ceiling is not None else 3.0 * current[i], lo[i])
        grid = np.exp(np.linspace(np.log(lo), np.log(hi), self.grid_size, axis=1))
        demand = np.exp(np.clip(model.log_price_effect(grid, coef), -30, 30))
        profit = (grid - np.nan_to_num(cost, nan=0.0)[:, None]) * demand
        if base_total is not None:
            fits = ~np.isfinite(stock)[:, None] | (base_total[:, None] * demand <= stock[:, None])
            profit = np.where(fits, profit, -np.inf)
            profit[~fits.any(axis=1), -1] = 0.0  # nothing fits the stock: the highest price
        return grid[np.arange(context.n_products), profit.argmax(axis=1)]


class ThompsonInventoryStrategy(_ModelStrategy):
    """Thompson sampling over a price ladder with an inventory constraint (Ferreira et al. 2018, TS-update).

    Each period: draw demand at every ladder price the guardrails let the product reach this period
    from the posterior, solve the LP over price mixes (:func:`~pricing.ml.optimize.solve_price_mix`)
    with the constraint "expected sales <= stock left / periods left" (``seasonal_capacity``: the stock
    left shared out in proportion to the sampled seasonal demand), and draw the price from the mix.
    ``demand_model="loglog"`` samples the hierarchical log-log model; ``"independent"`` keeps the
    paper's independent Gamma-Poisson posterior per ladder price (no shared structure: slow to learn
    on a fine ladder, kept for comparison). The ladder runs from the hard floor to the ceiling (or
    ``ladder_top`` times the first price when there is no ceiling), ``ladder_spacing`` apart.
    ``exploration`` scales the posterior draw of the log-log model (1: Thompson sampling as published).
    """

    name = "thompson-inventory"

    def __init__(self, *, demand_model: str = "loglog", ladder_spacing: float = 0.02, ladder_top: float = 3.0,
                 seasonal_capacity: bool = True, exploration: float = 1.0,
                 estimator: ElasticityEstimator | None = None, random_state: int | None = None):
        if demand_model not in {"loglog", "independent"}:
            raise ValueError(f"demand_model must be 'loglog' or 'independent', got {demand_model!r}")
        self.demand_model = demand_model
        self.ladder_spacing = ladder_spacing
        self.ladder_top = ladder_top
        self.seasonal_capacity = seasonal_capacity
        self.exploration = exploration
        super().__init__(estimator=estimator, random_state=random_state)

    def reset(self) -> None:
        super().reset()
        self.ladders_: list[np.ndarray] | None = None

    def _ladders(self, context: PricingContext) -> list[np.ndarray]:
        if self.ladders_ is None or len(self.ladders_) != context.n_products:
            ladders = []
            for price, policy, cost in zip(context.current_price, context.policies, context.costs(), strict=True):
                floor = policy.hard_floor(cost)
                lo = floor[1] if floor is not None else 0.5 * price
                hi = policy.ceiling if policy.ceiling is not None else self.ladder_top * price
                ladders.append(price_ladder(lo, max(hi, lo), policy.price_bands, spacing=self.ladder_spacing))
            self.ladders_ = ladders
        return self.ladders_

    def _reachable(self, context: PricingContext, period: int) -> list[np.ndarray]:
        """Ladder prices reachable this period under the guardrails (the current price always is)."""
        last = self._last_changed(context)
        out = []
        for i, ladder in enumerate(self._ladders(context)):
            policy = context.policies[i]
            current = float(context.current_price[i])
            cooling = (policy.min_interval is not None and math.isfinite(last[i])
                       and period - last[i] < policy.min_interval)  # type: ignore[operator]
            if cooling:
                out.append(np.array([current]))
                continue
            s = policy.max_change
            lo = current * (1 - s) if s is not None else 0.0
            hi = current * (1 + s) if s is not None else np.inf
            if policy.ceiling is not None:
                hi = max(min(hi, policy.ceiling), lo)
            rungs = ladder[(ladder >= lo - 1e-9) & (ladder <= hi + 1e-9)]
            out.append(np.unique(np.append(rungs, current)))
        return out

    def _sample_demand(self, period: int, context: PricingContext, candidates: list[np.ndarray]
                       ) -> tuple[list[np.ndarray], np.ndarray]:
        """Sampled mean demand at each candidate, and the per-period capacity from the stock."""
        stock = context.stock()
        n = context.n_products
        capacity = np.full(n, np.inf)
        if self.demand_model == "independent":
            periods, prices, units, usable = self.history()
            overall = float(units[usable].mean()) if usable.any() else 1.0
            a0, b0 = 0.5, 0.5 / max(overall, 0.5)
            demands = []
            for i, cand in enumerate(candidates):
                if len(periods):
                    hit = np.isclose(prices[i][None, :], cand[:, None]) & usable[i][None, :]
                    a = a0 + (hit * units[i][None, :]).sum(axis=1)
                    b = b0 + hit.sum(axis=1)
                else:
                    a, b = np.full(len(cand), a0), np.full(len(cand), b0)
                demands.append(self.rng_.gamma(a, 1.0 / b))
            if context.periods_left:
                capacity = np.where(np.isfinite(stock), stock / context.periods_left, np.inf)
            return demands, capacity
        model = self._fit(context)
        if model is None:
            template = self._template()
            beta = template.prior_elasticity + template.prior_elasticity_sd * self.exploration \
                * self.rng_.standard_normal(n)
            ref = np.asarray(context.current_price, dtype=float)
            return [(c / ref[i]) ** beta[i] for i, c in enumerate(candidates)], capacity
        coef = model.posterior().sample(self.rng_, self.exploration)
        width = max(len(c) for c in candidates)
        grid = np.array([np.pad(c, (0, width - len(c)), constant_values=c[-1]) for c in candidates])
        mean = model.predict(float(period), grid, coef)
        demands = [mean[i, :len(c)] for i, c in enumerate(candidates)]
        if context.periods_left and np.isfinite(stock).any():
            if self.seasonal_capacity:
                future = np.arange(period, period + context.periods_left, dtype=float)
                base = np.exp(np.clip(model.base_log_demand(future, coef), -30, 30))
                share = base[:, 0] / np.maximum(base.sum(axis=1), 1e-12)
            else:
                share = np.full(n, 1.0 / context.periods_left)
            capacity = np.where(np.isfinite(stock), stock * share, np.inf)
        return demands, capacity

    def targets(self, period: int, context: PricingContext) -> np.ndarray:
        candidates = self._reachable(context, period)
        demands, capacity = self._sample_demand(period, context, candidates)
        cost = np.nan_to_num(np.asarray(context.unit_cost, dtype=float), nan=0.0)
        margins = [c - cost[i] for i, c in enumerate(candidates)]
        mixes = solve_price_mix(margins, demands, capacity)
        out = np.empty(context.n_products)
        for i, (cand, x) in enumerate(zip(candidates, mixes, strict=True)):
            total = float(x.sum())
            probs = np.append(x, max(0.0, 1.0 - total))
            probs /= probs.sum()
            pick = self.rng_.choice(len(probs), p=probs)
            out[i] = cand[-1] if pick == len(cand) else cand[pick]
        return out


class MarkdownStrategy(PricingStrategy):
    """Inventory-aware markdown for overstock: cut the price while the stock will not sell through.

    For products with finite stock and a known number of periods left: projected sales are the
    ``context.forecast`` (units at the current price, summed over the periods left) when given, else
    the recent run rate (mean units of the last ``lookback`` periods at the current price) times the
    periods left. When the projection falls short of the stock by more than ``tolerance``, the price
    drops by ``step`` (never below the hard floors: the guardrails see to that). ``allow_raise``
    also walks the price back up by ``step`` when the stock would run out early. Unlimited stock: hold.
    """

    name = "markdown"

    def __init__(self, *, step: float = 0.10, tolerance: float = 0.10, lookback: int = 4, allow_raise: bool = False,
                 random_state: int | None = None):
        self.step = step
        self.tolerance = tolerance
        self.lookback = lookback
        self.allow_raise = allow_raise
        super().__init__(random_state=random_state)

    def targets(self, period: int, context: PricingContext) -> np.ndarray:
        current = np.asarray(context.current_price, dtype=float)
        stock = context.stock()
        out = current.copy()
        if not context.periods_left:
            return out
        if context.forecast is not None:
            projected = np.asarray(context.forecast, dtype=float)[:, :context.periods_left].sum(axis=1)
        else:
            _, prices, units, usable = self.history()
            projected = np.full(len(current), np.nan)
            if prices.size:
                recent = slice(max(0, prices.shape[1] - self.lookback), None)
                same = np.isclose(prices[:, recent], current[:, None]) & usable[:, recent]
                rate = (units[:, recent] * same).sum(axis=1) / np.maximum(same.sum(axis=1), 1)
                projected = np.where(same.any(axis=1), rate * context.periods_left, np.nan)
        finite = np.isfinite(stock) & np.isfinite(projected) & (stock > 0)
        over = finite & (projected < stock * (1.0 - self.tolerance))
        out[over] = current[over] * (1.0 - self.step)
        if self.allow_raise:
            under = finite & (projected > stock * (1.0 + self.tolerance))
            out[under] = current[under] * (1.0 + self.step)
        return out


class PlainLogLogStrategy(PricingStrategy):
    """Anchor: plain log-log OLS per product (no controls, no pooling), then the Lerner price.

    The first ``len(test_multipliers)`` periods test prices around the first price (so the slope is
    identified); afterwards it exploits: ``c * e / (1 + e)`` with the OLS slope clipped to
    ``[min_elasticity, max_elasticity]``, the test prices again while a product has no usable slope.
    """

    name = "plain-loglog"

    def __init__(self, *, test_multipliers: Sequence[float] = (0.92, 1.06, 1.0), min_elasticity: float = -6.0,
                 max_elasticity: float = -1.1, random_state: int | None = None):
        self.test_multipliers = tuple(test_multipliers)
        self.min_elasticity = min_elasticity
        self.max_elasticity = max_elasticity
        super().__init__(random_state=random_state)

    def targets(self, period: int, context: PricingContext) -> np.ndarray:
        if not hasattr(self, "first_") or len(self.first_) != context.n_products:
            self.first_ = np.asarray(context.current_price, dtype=float).copy()
        step = len(self.periods_)
        test = self.first_ * self.test_multipliers[step % len(self.test_multipliers)]
        if step < len(self.test_multipliers):
            return test
        _, prices, units, usable = self.history()
        slope, _ = loglog_ols(prices, units, usable.astype(float))
        beta = np.clip(slope, self.min_elasticity, self.max_elasticity)
        target = optimal_price(beta, np.asarray(context.unit_cost, dtype=float))
        return np.where(np.isfinite(slope), target, test)


def greedy_strategy(random_state: int | None = None) -> ElasticityOptimizer:
    """Anchor: greedy refit-and-exploit on a per-product model (log-log with season and trend controls,
    no pooling across products, no curvature), refitted every period, always exploiting its estimate."""
    strategy = ElasticityOptimizer(exploration=0.0, estimator=ElasticityEstimator(pool=False),
                                   random_state=random_state)
    strategy.name = "greedy"
    return strategy

