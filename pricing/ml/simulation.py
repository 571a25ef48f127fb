"""Market simulator for pricing strategies (PROTOCOL section 4), and its clairvoyant yardsticks.

A :class:`Market` holds ``n`` products whose demand the policy never sees:

- the curve: constant elasticity ``(p / p*) ** e`` or linear ``1 + e (p / p* - 1)`` (``kind`` 0 / 1),
  where ``p*`` is the static profit optimum and ``e`` the elasticity there, drawn in ``[-3.5, -1.2]``
  around a category mean; the unit cost follows from the Lerner condition ``c = p* (1 + 1 / e)``;
- a level (units per period at ``p*``), a week-of-year seasonal profile per category (two
  harmonics, a holiday bump in some categories) scaled per product, and a log-linear trend;
- multiplicative log-normal noise and Poisson counts, drawn once per product and period from the
  market's seed (common random numbers: every policy meets the same demand shocks);
- finite stock for some products (no replenishment within the horizon);
- a guardrail policy per product (margin floor, some MAP prices, ceiling, step limit, interval,
  price endings), and a list price off the optimum where every policy starts.

:class:`Simulator` runs a strategy for ``n_periods`` periods (it sees only its prices and its sales),
audits every price against the guardrails, and scores profit ``(price - cost) * units``. The
clairvoyant knows the true expected demand and plans the best price path under the same guardrails
and stock (dynamic programming over a price ladder, a Lagrange multiplier for the stock); its plan is
played against the same shocks. The best fixed price in hindsight picks, per product, the ladder price
whose walk (as fast as the guardrails allow) would have earned most on the realised shocks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .endings import PriceBand, nearest_conforming, price_ladder, snap_up
from .guardrails import GuardrailPolicy, apply_guardrails, audit_price
from .strategies import PricingContext, PricingStrategy

CONSTANT, LINEAR = 0, 1
KIND_NAMES = {CONSTANT: "constant-elasticity", LINEAR: "linear"}
DEFAULT_BANDS: tuple[PriceBand, ...] = (
    PriceBand(1.0, "cents"), PriceBand(10.0, ".x9"), PriceBand(100.0, ".99"), PriceBand(1000.0, ".95"),
    PriceBand(math.inf, "whole"),
)


@dataclass
class Market:
    """The hidden truth about ``n`` products and the shop facts a policy may see (see module docstring)."""

    kind: np.ndarray
    elasticity: np.ndarray
    optimum_price: np.ndarray
    level: np.ndarray
    unit_cost: np.ndarray
    list_price: np.ndarray
    category: np.ndarray
    stock: np.ndarray
    log_season: np.ndarray
    noise_sd: np.ndarray
    policies: tuple[GuardrailPolicy, ...]
    seed: int
    shocks: np.ndarray = field(repr=False)
    uniforms: np.ndarray = field(repr=False)

    @property
    def n_products(self) -> int:
        """Number of products."""
        return len(self.kind)

    @property
    def n_periods(self) -> int:
        """Number of periods the market is drawn for."""
        return self.log_season.shape[1]

    def curve(self, prices: np.ndarray) -> np.ndarray:
        """Demand multiplier at ``prices`` (``(n,)`` or ``(n, m)``) relative to the optimum price."""
        prices = np.asarray(prices, dtype=float)
        extra = (slice(None),) + (None,) * (prices.ndim - 1)
        ratio = prices / self.optimum_price[extra]
        e = self.elasticity[extra]
        constant = ratio ** e
        linear = np.maximum(0.0, 1.0 + e * (ratio - 1.0))
        return np.where(self.kind[extra] == CONSTANT, constant, linear)

    def expected_demand(self, period: int, prices: np.ndarray) -> np.ndarray:
        """Expected units in ``period`` at ``prices`` (``(n,)`` or ``(n, m)``), before noise."""
        prices = np.asarray(prices, dtype=float)
        extra = (slice(None),) + (None,) * (prices.ndim - 1)
        return (self.level * np.exp(self.log_season[:, period]))[extra] * self.curve(prices)

    def demand(self, period: int, prices: np.ndarray) -> np.ndarray:
        """Realised demand (units) in ``period`` at ``prices``, with this market's shocks."""
        prices = np.asarray(prices, dtype=float)
        extra = (slice(None),) + (None,) * (prices.ndim - 1)
        mean = self.expected_demand(period, prices) * self.shocks[:, period][extra]
        u = np.broadcast_to(self.uniforms[:, period][extra], mean.shape)
        return stats.poisson.ppf(u, np.maximum(mean, 1e-12))

    def local_elasticity(self, prices: np.ndarray) -> np.ndarray:
        """The true point elasticity at ``prices`` (constant for kind 0)."""
        ratio = np.asarray(prices, dtype=float) / self.optimum_price
        linear = self.elasticity * ratio / np.maximum(1.0 + self.elasticity * (ratio - 1.0), 1e-9)
        return np.where(self.kind == CONSTANT, self.elasticity, linear)


def _truncated_normal(rng: np.random.Generator, mean: np.ndarray, sd: float, lo: float, hi: float) -> np.ndarray:
    out = rng.normal(mean, sd)
    bad = (out < lo) | (out > hi)
    while bad.any():
        out[bad] = rng.normal(mean[bad], sd)
        bad = (out < lo) | (out > hi)
    return out


def make_market(n_products: int = 240, n_periods: int = 52, *, seed: int = 0, n_categories: int = 20,
                linear_share: float = 0.5, stock_share: float = 0.35,
                elasticity_range: tuple[float, float] = (-3.5, -1.2),
                within_category_sd: float = 0.35, season_length: int = 52, min_margin: float = 0.10,
                max_change: float = 0.15, bands: tuple[PriceBand, ...] = DEFAULT_BANDS) -> Market:
    """Draw a market (see the module docstring); everything follows from ``seed``."""
    rng = np.random.default_rng(seed)
    lo_e, hi_e = elasticity_range
    n = n_products
    category = rng.integers(0, n_categories, size=n)
    category_e = rng.uniform(lo_e + 0.3, hi_e - 0.3, size=n_categories)
    elasticity = _truncated_normal(rng, category_e[category], within_category_sd, lo_e, hi_e)
    kind = (rng.random(n) < linear_share).astype(np.int64)
    optimum = np.exp(rng.normal(np.log(8.0), 0.9, size=n))
    cost = optimum * (1.0 + 1.0 / elasticity)
    level = np.exp(rng.normal(np.log(25.0), 0.8, size=n))
    noise_sd = rng.uniform(0.1, 0.35, size=n)

    t = np.arange(n_periods)
    a1 = rng.uniform(0.05, 0.3, n_categories)
    a2 = rng.uniform(0.0, 0.1, n_categories)
    ph1, ph2 = rng.uniform(0, 2 * np.pi, (2, n_categories))
    holiday = rng.random(n_categories) < 0.3
    profile = (a1[:, None] * np.sin(2 * np.pi * t / season_length + ph1[:, None])
               + a2[:, None] * np.sin(4 * np.pi * t / season_length + ph2[:, None])
               + holiday[:, None] * 0.35 * np.exp(-0.5 * ((t % season_length - 48) / 2.0) ** 2))
    amplitude = rng.uniform(0.5, 1.5, n)
    trend = rng.normal(0.0, 0.15, n)
    log_season = amplitude[:, None] * profile[category] + trend[:, None] * (t / season_length - 0.5)

    # List price: off the optimum; on linear curves keep at least 20 % of the optimum's demand.
    offset = rng.uniform(-0.3, 0.3, n)
    cap = np.where(kind == LINEAR, np.log1p(0.8 / np.abs(elasticity)), np.inf)
    offset = np.minimum(offset, cap)
    policies = []
    list_price = np.empty(n)
    has_map = rng.random(n) < 0.15
    slow = rng.random(n) < 0.25
    for i in range(n):
        floor = math.ceil(cost[i] * (1 + min_margin) * 100 - 1e-6) / 100
        raw = optimum[i] * math.exp(offset[i])
        ceiling = round(2.0 * max(raw, floor), 2)
        price = nearest_conforming(raw, snap_up(floor, bands), ceiling, bands) or snap_up(floor, bands)
        list_price[i] = price
        map_price = None
        if has_map[i]:
            map_price = nearest_conforming(price * rng.uniform(0.8, 0.95), 0.01, price, bands)
        policies.append(GuardrailPolicy(min_margin=min_margin, map_price=map_price, ceiling=ceiling,
                                        max_change=max_change, min_interval=2 if slow[i] else 1, price_bands=bands))

    stock = np.full(n, np.inf)
    finite = rng.random(n) < stock_share
    static_demand = level * np.exp(log_season).sum(axis=1)
    stock[finite] = np.floor(rng.uniform(0.4, 0.9, finite.sum()) * static_demand[finite])

    shocks = np.exp(noise_sd[:, None] * rng.standard_normal((n, n_periods)) - 0.5 * noise_sd[:, None] ** 2)
    uniforms = rng.uniform(1e-9, 1 - 1e-9, (n, n_periods))
    return Market(kind=kind, elasticity=elasticity, optimum_price=optimum, level=level, unit_cost=cost,
                  list_price=list_price, category=category, stock=stock, log_season=log_season,
                  noise_sd=noise_sd, policies=tuple(policies), seed=seed, shocks=shocks, uniforms=uniforms)


@dataclass
class RunResult:
    """What one policy did: prices, units sold and profit per product and period, and the violations."""

    name: str
    prices: np.ndarray
    units: np.ndarray
    profit: np.ndarray
    violations: list[tuple[int, int, tuple[str, ...]]]

    @property
    def total_profit(self) -> np.ndarray:
        """Profit per product over all periods."""
        return self.profit.sum(axis=1)


def play_prices(market: Market, prices: np.ndarray, name: str = "path") -> RunResult:
    """Play fixed price paths ``(n, T)`` (or ``(n, m, T)``: m paths per product) against the market's shocks."""
    prices = np.asarray(prices, dtype=float)
    stock = market.stock.copy() if prices.ndim == 2 else np.repeat(market.stock[:, None], prices.shape[1], axis=1)
    units = np.zeros_like(prices)
    for t in range(prices.shape[-1]):
        demand = market.demand(t, prices[..., t])
        sold = np.minimum(demand, stock)
        stock = stock - sold
        units[..., t] = sold
    cost = market.unit_cost[(slice(None),) + (None,) * (prices.ndim - 1)]
    return RunResult(name=name, prices=prices, units=units, profit=(prices - cost) * units, violations=[])


class Simulator:
    """Drives a strategy through a :class:`Market` period by period and scores it."""

    def __init__(self, market: Market, n_periods: int | None = None):
        self.market = market
        self.n_periods = n_periods or market.n_periods

    def context(self, price: np.ndarray, stock: np.ndarray, period: int, last_changed: np.ndarray) -> PricingContext:
        """What a policy may see at ``period``: its prices, costs, guardrails, stock, categories."""
        m = self.market
        return PricingContext(current_price=price.copy(), unit_cost=m.unit_cost.copy(), policies=m.policies,
                              stock_remaining=stock.copy(), periods_left=self.n_periods - period,
                              category=m.category.copy(), last_changed=last_changed.copy())

    def run(self, strategy: PricingStrategy, name: str | None = None) -> RunResult:
        """Run ``strategy`` (after ``reset()``) for all periods; every price is audited."""
        m = self.market
        strategy.reset()
        n, horizon = m.n_products, self.n_periods
        price = m.list_price.copy()
        stock = m.stock.copy()
        last = np.full(n, np.nan)
        prices, units, profit = np.zeros((n, horizon)), np.zeros((n, horizon)), np.zeros((n, horizon))
        violations: list[tuple[int, int, tuple[str, ...]]] = []
        costs = [float(c) for c in m.unit_cost]
        for t in range(horizon):
            new = np.asarray(strategy.propose(t, self.context(price, stock, t, last)), dtype=float)
            if new.shape != (n,) or not np.all(np.isfinite(new)):
                raise ValueError(f"{type(strategy).__name__}.propose returned an invalid price vector")
            for i in range(n):
                broken = audit_price(new[i], current_price=price[i], unit_cost=costs[i], policy=m.policies[i],
                                     now=t, last_changed_at=None if math.isnan(last[i]) else last[i])
                if broken:
                    violations.append((i, t, broken))
            sold = np.minimum(m.demand(t, new), stock)
            stock -= sold
            prices[:, t], units[:, t] = new, sold
            profit[:, t] = (new - m.unit_cost) * sold
            last = np.where(np.abs(new - price) > 1e-9, float(t), last)
            price = new
            strategy.observe(new, sold)
        return RunResult(name=name or strategy.name, prices=prices, units=units, profit=profit, violations=violations)

    # ------------------------------------------------------------------------------ yardsticks
    def ladders(self, spacing: float = 0.01) -> list[np.ndarray]:
        """Per product: conforming prices from the hard floor to the ceiling, plus the list price."""
        m = self.market
        out = []
        for i, policy in enumerate(m.policies):
            floor = policy.hard_floor(float(m.unit_cost[i]))
            lo = floor[1] if floor else 0.01
            hi = max(policy.ceiling or 3 * m.list_price[i], lo)
            out.append(price_ladder(lo, hi, policy.price_bands, spacing=spacing, include=(m.list_price[i],)))
        return out

    def clairvoyant(self, spacing: float = 0.01) -> RunResult:
        """The best price path with the true expected demand known, under the guardrails and the stock."""
        m = self.market
        horizon = self.n_periods
        ladders = self.ladders(spacing)
        width = max(len(lad) for lad in ladders)
        grid = np.array([np.pad(lad, (0, width - len(lad)), constant_values=np.nan) for lad in ladders])
        valid = np.isfinite(grid)
        safe = np.where(valid, grid, 1.0)
        mean = np.stack([m.expected_demand(t, safe) for t in range(horizon)], axis=1)  # (n, T, K)
        mean = np.where(valid[:, None, :], mean, 0.0)
        reach_lo, reach_hi = self._reach(grid, valid)
        start = np.array([int(np.nanargmin(np.abs(grid[i] - m.list_price[i]))) for i in range(m.n_products)])
        interval = np.array([int(p.min_interval or 1) for p in m.policies])
        margin = np.where(valid, grid - m.unit_cost[:, None], -np.inf)

        def plan(lam: np.ndarray, rows: np.ndarray) -> np.ndarray:
            return _dp_paths(margin[rows] - lam[:, None], mean[rows], valid[rows], reach_lo[rows], reach_hi[rows],
                             start[rows], interval[rows])

        rows = np.arange(m.n_products)
        paths = plan(np.zeros(m.n_products), rows)
        finite = np.nonzero(np.isfinite(m.stock))[0]
        if len(finite):
            paths[finite] = self._stocked_paths(finite, plan, grid, valid, mean)
        price_paths = np.take_along_axis(np.where(valid, grid, 0.0), paths, axis=1)
        return play_prices(m, price_paths, name="clairvoyant")

    def _stocked_paths(self, rows: np.ndarray, plan, grid: np.ndarray, valid: np.ndarray,
                       mean: np.ndarray) -> np.ndarray:
        """Stocked products: the best of the DP paths over a range of shadow prices of stock.

        The shadow price ``lam`` makes each unit sold cost ``c + lam``; a discrete ladder leaves a gap
        between the path that just fits the stock and one that sells out early, so the candidates (a
        grid of ``lam``, plus the bisection's fitting one) are compared on expected profit with sales
        capped by the stock (selling out before the end is allowed).
        """
        m = self.market
        stock = m.stock[rows]
        gp = np.where(valid[rows], grid[rows], 0.0)

        def sales(p: np.ndarray) -> np.ndarray:
            return np.take_along_axis(mean[rows], p[:, :, None], axis=2)[:, :, 0]

        def capped_profit(p: np.ndarray) -> np.ndarray:
            units = sales(p)
            before = np.cumsum(units, axis=1) - units
            sold = np.clip(np.minimum(units, stock[:, None] - before), 0.0, None)
            return ((np.take_along_axis(gp, p, axis=1) - m.unit_cost[rows, None]) * sold).sum(axis=1)

        top = np.nanmax(grid[rows], axis=1)
        lo, hi = np.zeros(len(rows)), top.copy()
        for _ in range(25):
            mid = 0.5 * (lo + hi)
            fits = sales(plan(mid, rows)).sum(axis=1) <= stock
            hi, lo = np.where(fits, mid, hi), np.where(fits, lo, mid)
        best = plan(hi, rows)
        best_value = capped_profit(best)
        for lam in [lo, *(top * f for f in np.linspace(0.0, 1.0, 21) ** 2)]:
            cand = plan(lam, rows)
            value = capped_profit(cand)
            better = value > best_value
            best[better], best_value = cand[better], np.where(better, value, best_value)
        return best

    def _reach(self, grid: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index range of the rungs reachable in one step from each rung (the guardrail window)."""
        n, k = grid.shape
        lo_idx = np.zeros((n, k), dtype=np.int64)
        hi_idx = np.zeros((n, k), dtype=np.int64)
        for i, policy in enumerate(self.market.policies):
            g = grid[i][valid[i]]
            s = policy.max_change
            lo = g * (1 - s) if s is not None else np.zeros_like(g)
            hi = g * (1 + s) if s is not None else np.full_like(g, np.inf)
            if policy.ceiling is not None:
                hi = np.maximum(np.minimum(hi, policy.ceiling), lo)
            m = len(g)
            lo_idx[i, :m] = np.searchsorted(g, lo - 1e-9, side="left")
            hi_idx[i, :m] = np.searchsorted(g, hi + 1e-9, side="right") - 1
            lo_idx[i, m:], hi_idx[i, m:] = np.arange(m, k), np.arange(m, k)
        return lo_idx, hi_idx

    def best_fixed_in_hindsight(self, spacing: float = 0.02) -> RunResult:
        """Per product, the fixed target price that would have earned most on the realised demand."""
        m = self.market
        horizon = self.n_periods
        ladders = self.ladders(spacing)
        width = max(len(lad) for lad in ladders)
        paths = np.zeros((m.n_products, width, horizon))
        for i, ladder in enumerate(ladders):
            for j in range(width):
                target = ladder[min(j, len(ladder) - 1)]
                paths[i, j] = self._walk(i, target, horizon)
        played = play_prices(m, paths, name="best-fixed-hindsight")
        best = played.profit.sum(axis=2).argmax(axis=1)
        pick = np.arange(m.n_products)
        return RunResult(name="best-fixed-hindsight", prices=paths[pick, best], units=played.units[pick, best],
                         profit=played.profit[pick, best], violations=[])

    def _walk(self, i: int, target: float, horizon: int) -> np.ndarray:
        """Prices of product ``i`` heading for ``target`` through the guardrails."""
        m = self.market
        out = np.empty(horizon)
        price, last = float(m.list_price[i]), None
        for t in range(horizon):
            new = apply_guardrails(target, current_price=price, unit_cost=float(m.unit_cost[i]),
                                   policy=m.policies[i], now=t, last_changed_at=last).price
            if abs(new - price) > 1e-9:
                last = t
            elif abs(new - target) <= 1e-9 or (last is None or t - last >= (m.policies[i].min_interval or 1)):
                out[t:] = new  # settled (reached, or stuck while free to move)
                return out
            out[t] = price = new
        return out


def _dp_paths(reward_margin: np.ndarray, mean: np.ndarray, valid: np.ndarray, reach_lo: np.ndarray,
              reach_hi: np.ndarray, start: np.ndarray, interval: np.ndarray) -> np.ndarray:
    """Best ladder-index path per product: DP over (rung, periods since the last change).

    ``reward_margin (n, K)`` is the margin per unit (minus the stock's shadow price), ``mean (n, T, K)``
    the expected units. A move from rung ``j`` may go to ``reach_lo[j]..reach_hi[j]`` once at least
    ``interval`` periods have passed since the last move. Returns ``(n, T)`` rung indices.
    """
    n, horizon, k = mean.shape
    ages = int(interval.max())
    reward = np.where(valid[:, None, :], np.where(valid, reward_margin, 0.0)[:, None, :] * mean, -1e18)
    value = np.zeros((n, k, ages))  # value-to-go from period t+1, state (rung, age index)
    choice = np.zeros((horizon, n, k, ages), dtype=np.int64)
    span = int((reach_hi - np.arange(k)[None, :]).max()), int((np.arange(k)[None, :] - reach_lo).max())
    rung = np.arange(k)[None, :]
    for t in range(horizon - 1, -1, -1):
        r = reward[:, t, :]
        after_change = r + value[:, :, 0]  # a move resets the age to 1 (index 0)
        best_move = np.full((n, k), -np.inf)
        best_idx = np.repeat(rung, n, axis=0)
        for d in range(-span[1], span[0] + 1):
            if d == 0:
                continue
            j = rung + d
            ok = (j >= reach_lo) & (j <= reach_hi) & (j >= 0) & (j < k)
            cand = np.where(ok, np.take_along_axis(after_change, np.clip(j, 0, k - 1), axis=1), -np.inf)
            better = cand > best_move
            best_move = np.where(better, cand, best_move)
            best_idx = np.where(better, np.clip(j, 0, k - 1), best_idx)
        new_value = np.empty_like(value)
        for a in range(ages):
            stay = r + value[:, :, min(a + 1, ages - 1)]
            free = (a + 1) >= interval[:, None]  # age a+1 periods since the last move
            move = free & (best_move > stay)
            new_value[:, :, a] = np.where(move, best_move, stay)
            choice[t, :, :, a] = np.where(move, best_idx, rung)
        value = new_value
    path = np.zeros((n, horizon), dtype=np.int64)
    cur = start.copy()
    age = np.maximum(interval - 1, 0)  # never changed: free to move at once
    rows = np.arange(n)
    for t in range(horizon):
        nxt = choice[t, rows, cur, age]
        moved = nxt != cur
        age = np.where(moved, 0, np.minimum(age + 1, ages - 1))
        cur = nxt
        path[:, t] = cur
    return path
