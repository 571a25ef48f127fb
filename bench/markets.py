"""The pricing benchmark's market suite (PROTOCOL §4b): eight market families, each its own generator.

Every family draws ``n`` products from its seed; the strategies see only their own prices and sales
(plus costs, stock, categories and guardrails), never the curve. Guardrails as in a real shop: floor
1.05 × cost, ceiling 2.5 × list price, at most 10 % a week, whole cents, all set through
:class:`~pricing.ml.guardrails.GuardrailPolicy`. List prices lie up to 25 % off the static optimum.

Families (``FAMILIES``):

- ``constant``: constant elasticity ``(p / p*) ** e``, ``e`` in [-3.5, -1.3] around category means;
- ``linear``: ``1 + e (p / p* - 1)`` (the elasticity grows with the price);
- ``logit``: multinomial-logit choice among 5 substitutes per category with a no-purchase option
  (cross-price effects: a product's cut takes sales from its neighbours);
- ``reference``: constant elasticity times a reference-price effect, rises hurt more than cuts help
  (``exp(-a_up log(p/r)+)`` against ``exp(a_down log(r/p)+)``, ``a_up`` > ``a_down``; the reference
  ``r`` follows the price with memory 0.6-0.85 a week);
- ``shocks``: the demand level jumps (× 0.5-2) once or twice mid-season;
- ``long-tail``: 0.2-1.5 units a week at the optimum (most weeks sell 0-2);
- ``stock``: every product has stock for 40-90 % of its demand at the optimum, never restocked;
- ``seasonal``: a strong yearly cycle (±40-90 % in log) seen for 40 weeks, less than one season.

Demand: the expected units times a log-normal shock, then Poisson, from common random numbers (every
strategy meets the same shocks). The clairvoyant knows the expected demand: for the separable
families it is :meth:`pricing.ml.simulation.Simulator.clairvoyant` (dynamic programming over a 1 %
ladder, a shadow price for stock) without the step limit, and with it for the step-limited path; for
``logit`` the joint static optimum (equal markups within a category), and for ``reference`` the best
of an immediate jump and walks at 2, 5 and 10 % a week to the long-run optimum.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from pricing.ml.guardrails import GuardrailPolicy

FAMILIES = ("constant", "linear", "logit", "reference", "shocks", "long-tail", "stock", "seasonal")
FAMILY_SALT = {name: 7_919 * (i + 1) for i, name in enumerate(FAMILIES)}  # each family its own stream
MIN_MARGIN, CEILING_X, MAX_STEP = 0.05, 2.5, 0.10


@dataclass
class SuiteMarket:
    """One market of the suite: shop facts a strategy may see, and the hidden demand."""

    family: str
    seed: int
    list_price: np.ndarray
    unit_cost: np.ndarray
    category: np.ndarray
    stock: np.ndarray
    policies: tuple[GuardrailPolicy, ...]
    level: np.ndarray                   # (n, T) expected units at the optimum price, season included
    optimum_price: np.ndarray           # static optimum (logit: joint; reference: long-run)
    elasticity: np.ndarray
    kind: np.ndarray                    # 0 constant elasticity, 1 linear (separable families)
    shocks: np.ndarray = field(repr=False)
    uniforms: np.ndarray = field(repr=False)
    logit: dict[str, np.ndarray] | None = None      # utilities, price coefficient, category scale
    reference: dict[str, np.ndarray] | None = None  # a_up, a_down, memory

    @property
    def n_products(self) -> int:
        return len(self.list_price)

    @property
    def n_periods(self) -> int:
        return self.level.shape[1]

    @property
    def separable(self) -> bool:
        """Whether a product's demand depends on its own current price only (the DP clairvoyant applies)."""
        return self.logit is None and self.reference is None

    # ---------------------------------------------------------------------------- separable demand
    def curve(self, prices: np.ndarray) -> np.ndarray:
        prices = np.asarray(prices, dtype=float)
        extra = (slice(None),) + (None,) * (prices.ndim - 1)
        ratio = prices / self.optimum_price[extra]
        e = self.elasticity[extra]
        return np.where(self.kind[extra] == 0, ratio ** e, np.maximum(0.0, 1.0 + e * (ratio - 1.0)))

    def expected_demand(self, period: int, prices: np.ndarray) -> np.ndarray:
        """Expected units at ``prices`` ``(n,)`` or ``(n, m)`` (separable families; reference: long run)."""
        prices = np.asarray(prices, dtype=float)
        extra = (slice(None),) + (None,) * (prices.ndim - 1)
        return self.level[:, period][extra] * self.curve(prices)

    def demand(self, period: int, prices: np.ndarray) -> np.ndarray:
        """Realised units at ``prices`` (what :class:`pricing.ml.simulation.Simulator` plays)."""
        return self.realise(period, self.expected_demand(period, prices))

    def realise(self, period: int, mean: np.ndarray) -> np.ndarray:
        extra = (slice(None),) + (None,) * (mean.ndim - 1)
        u = np.broadcast_to(self.uniforms[:, period][extra], mean.shape)
        return stats.poisson.ppf(u, np.maximum(mean * self.shocks[:, period][extra], 1e-12))

    # ------------------------------------------------------------------------------- any family
    def start_state(self, shape: tuple[int, ...] = ()) -> np.ndarray | None:
        """The reference prices at the start (``None`` for families without state)."""
        if self.reference is None:
            return None
        return np.broadcast_to(self.list_price.reshape((-1,) + (1,) * len(shape)),
                               (self.n_products, *shape)).copy()

    def mean_demand(self, period: int, prices: np.ndarray, state: np.ndarray | None) -> np.ndarray:
        """Expected units at ``prices`` ``(n,)`` or ``(n, m)`` (m whole-market paths) given the state."""
        prices = np.asarray(prices, dtype=float)
        extra = (slice(None),) + (None,) * (prices.ndim - 1)
        if self.logit is not None:
            lg = self.logit
            v = lg["utility"][extra] - lg["beta"][extra] * prices
            ev = np.exp(v)
            cats = self.category
            total = np.zeros((int(cats.max()) + 1,) + prices.shape[1:])
            np.add.at(total, cats, ev)
            return self.level[:, period][extra] * ev / (1.0 + total[cats])
        mean = self.expected_demand(period, prices)
        if self.reference is not None and state is not None:
            ref = self.reference
            gap = np.log(prices / state)
            mean = mean * np.exp(-ref["up"][extra] * np.maximum(gap, 0.0) + ref["down"][extra] * np.maximum(-gap, 0.0))
        return mean

    def next_state(self, state: np.ndarray | None, prices: np.ndarray) -> np.ndarray | None:
        if self.reference is None or state is None:
            return None
        theta = self.reference["memory"][(slice(None),) + (None,) * (np.ndim(prices) - 1)]
        return theta * state + (1.0 - theta) * prices


def _policies(list_price: np.ndarray) -> tuple[GuardrailPolicy, ...]:
    return tuple(GuardrailPolicy(min_margin=MIN_MARGIN, ceiling=round(CEILING_X * float(p), 2), max_change=MAX_STEP,
                                 min_interval=1) for p in list_price)


def _cents(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x, dtype=float), 2)


def make_suite_market(family: str, seed: int, n_products: int = 100, n_periods: int = 52) -> SuiteMarket:
    """Draw one market of ``family`` from ``seed`` (see the module docstring)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
    rng = np.random.default_rng(seed * 1_000_003 + FAMILY_SALT[family])
    n = n_products
    horizon = 40 if family == "seasonal" else n_periods
    n_categories = max(1, n // 5) if family == "logit" else 10
    category = np.sort(rng.integers(0, n_categories, size=n)) if family != "logit" else np.arange(n) // 5
    t = np.arange(horizon)
    kind = np.zeros(n, dtype=np.int64)
    if family in ("linear", "shocks", "stock"):
        kind = (rng.random(n) < (1.0 if family == "linear" else 0.5)).astype(np.int64)
    cat_e = rng.uniform(-3.0, -1.6, n_categories)
    elasticity = np.clip(cat_e[category] + rng.normal(0.0, 0.35, n), -3.5, -1.3)
    optimum = np.exp(rng.normal(math.log(10.0), 0.8, n))
    base = np.exp(rng.normal(math.log(20.0), 0.7, n))
    if family == "long-tail":
        base = rng.uniform(0.2, 1.5, n)
    # Mild yearly season for everyone; strong for `seasonal`.
    amp = rng.uniform(0.4, 0.9, n) if family == "seasonal" else rng.uniform(0.0, 0.15, n)
    phase = rng.uniform(0, 2 * np.pi, n_categories)[category]
    log_level = amp[:, None] * np.sin(2 * np.pi * t[None, :] / 52.0 + phase[:, None])
    if family == "shocks":
        for i in range(n):
            for week in rng.choice(np.arange(10, horizon - 8), size=rng.integers(1, 3), replace=False):
                log_level[i, week:] += math.log(rng.choice([0.5, 0.65, 1.5, 2.0]))
    level = base[:, None] * np.exp(log_level)
    noise_sd = rng.uniform(0.1, 0.3, n)
    shocks = np.exp(noise_sd[:, None] * rng.standard_normal((n, horizon)) - 0.5 * noise_sd[:, None] ** 2)
    uniforms = rng.uniform(1e-9, 1 - 1e-9, (n, horizon))
    offset = rng.uniform(-0.25, 0.25, n)
    logit = reference = None
    if family == "logit":
        scale = np.exp(rng.normal(math.log(10.0), 0.7, n_categories))[category]
        beta = rng.uniform(2.5, 5.0, n_categories)[category] / scale
        cost = scale * rng.uniform(0.45, 0.75, n)
        utility = rng.normal(0.0, 0.6, n) + beta * scale * rng.uniform(0.6, 1.0, n)
        optimum = _logit_optimum(utility, beta, cost, category)
        market_size = np.exp(rng.normal(math.log(100.0), 0.6, n_categories))[category]
        level = market_size[:, None] * np.exp(log_level)
        share_opt = _logit_share(utility - beta * optimum, category)
        elasticity = -beta * optimum * (1.0 - share_opt)
        logit = {"utility": utility, "beta": beta}
    else:
        cost = optimum * (1.0 + 1.0 / elasticity)
    if family == "reference":
        reference = {"up": rng.uniform(1.5, 3.0, n), "down": rng.uniform(0.2, 0.8, n),
                     "memory": rng.uniform(0.6, 0.85, n)}
    if family == "linear" or family in ("shocks", "stock"):
        offset = np.where(kind == 1, np.minimum(offset, np.log1p(0.6 / np.abs(elasticity))), offset)
    floor = np.ceil(cost * (1 + MIN_MARGIN) * 100 - 1e-6) / 100
    list_price = np.maximum(_cents(optimum * np.exp(offset)), floor)
    stock = np.full(n, np.inf)
    if family == "stock":
        stock = np.floor(rng.uniform(0.4, 0.9, n) * level.sum(axis=1))
    return SuiteMarket(family=family, seed=seed, list_price=list_price, unit_cost=cost, category=category,
                       stock=stock, policies=_policies(list_price), level=level, optimum_price=optimum,
                       elasticity=elasticity, kind=kind, shocks=shocks, uniforms=uniforms, logit=logit,
                       reference=reference)


def _logit_share(v: np.ndarray, category: np.ndarray) -> np.ndarray:
    ev = np.exp(v)
    total = np.bincount(category, ev)
    return ev / (1.0 + total[category])


def _logit_optimum(utility: np.ndarray, beta: np.ndarray, cost: np.ndarray, category: np.ndarray) -> np.ndarray:
    """Joint profit optimum of multinomial logit with one price coefficient per category: equal markups
    ``m = 1 / (beta * s0)``, ``s0`` the no-purchase share at those prices (a fixed point, by bisection)."""
    out = np.empty_like(cost)
    for c in np.unique(category):
        idx = category == c
        b = float(beta[idx][0])
        lo, hi = 1e-6, 50.0 / b
        for _ in range(80):
            m = 0.5 * (lo + hi)
            s0 = 1.0 / (1.0 + np.exp(utility[idx] - b * (cost[idx] + m)).sum())
            lo, hi = (m, hi) if m < 1.0 / (b * s0) else (lo, m)
        out[idx] = cost[idx] + 0.5 * (lo + hi)
    return out


def walk(market: SuiteMarket, targets: np.ndarray, step: float | None) -> np.ndarray:
    """Price paths ``(n, T)`` from the list price towards ``targets`` at most ``step`` a week (``None``: at
    once), within the floor and the ceiling, in whole cents (the suite's guardrails, vectorised)."""
    floor = np.ceil(market.unit_cost * (1 + MIN_MARGIN) * 100 - 1e-6) / 100
    ceiling = np.array([p.ceiling for p in market.policies], dtype=float)
    goal = np.clip(np.asarray(targets, dtype=float), floor, np.maximum(ceiling, floor))
    out = np.empty((market.n_products, market.n_periods))
    price = market.list_price.astype(float).copy()
    for t in range(market.n_periods):
        if step is None:
            new = goal
        else:
            lo, hi = np.ceil(price * (1 - step) * 100 - 1e-6) / 100, np.floor(price * (1 + step) * 100 + 1e-6) / 100
            new = np.clip(goal, lo, np.minimum(hi, np.maximum(ceiling, lo)))
        price = np.maximum(np.round(new, 2), floor)
        out[:, t] = price
    return out
