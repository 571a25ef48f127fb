"""Replenishment policy maths: safety stock, reorder points, order-up-to levels, EOQ, rounding, exceptions.

Pure functions and frozen dataclasses (no Django, no pandas): the Django side feeds them a product's
forecast, lead time and pack rules and stores the resulting :class:`RestockPlan`. Quantities are in
units, demand rates per period (the caller picks days or weeks and uses the same unit for lead times).

Conventions (Silver, Pyke & Peterson, *Inventory and Production Management*):

* inventory position = on hand + on order (− backorders; sales are lost here, so none);
* safety stock, normal demand: ``SS = z · sqrt(L · σd² + d̄² · σL²)``;
* reorder point ``s = d̄ · L + SS``; order-up-to level ``S = d̄ · (R + L) + SS`` for review period R;
* for intermittent / lumpy items, whose lead-time demand is far from normal, the reorder point is an
  empirical quantile of lead-time demand instead (:func:`lead_time_demand_quantile`);
* a fill-rate (β) target is met with the loss function: expected units short per cycle ≤ (1 − β)·Q.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats


def z_value(service_level: float) -> float:
    """Standard normal quantile for a cycle service level in (0, 1): 0.95 -> 1.645."""
    if not 0.0 < service_level < 1.0:
        raise ValueError(f"service level must lie in (0, 1), got {service_level!r}")
    return float(stats.norm.ppf(service_level))


def safety_stock(
    z: float, lead_time: float, demand_mean: float, demand_std: float, lead_time_std: float = 0.0
) -> float:
    """``z · sqrt(L · σd² + d̄² · σL²)``: demand and lead-time uncertainty over the lead time."""
    if lead_time < 0 or demand_std < 0 or lead_time_std < 0:
        raise ValueError("lead time and standard deviations must be non-negative")
    return float(z * math.sqrt(lead_time * demand_std**2 + demand_mean**2 * lead_time_std**2))


def reorder_point(demand_mean: float, lead_time: float, safety: float) -> float:
    """Reorder point ``s = d̄ · L + SS``."""
    return float(demand_mean * lead_time + safety)


def order_up_to_level(demand_mean: float, review_period: float, lead_time: float, safety: float) -> float:
    """Order-up-to level of an (R, S) policy: ``S = d̄ · (R + L) + SS``."""
    return float(demand_mean * (review_period + lead_time) + safety)


def eoq(annual_demand: float, order_cost: float, holding_cost_per_unit_year: float) -> float:
    """Economic order quantity ``sqrt(2 · D · K / h)`` (0 without demand)."""
    if holding_cost_per_unit_year <= 0:
        raise ValueError("holding cost must be positive")
    if annual_demand <= 0 or order_cost <= 0:
        return 0.0
    return float(math.sqrt(2.0 * annual_demand * order_cost / holding_cost_per_unit_year))


def newsvendor_service_level(underage_cost: float, overage_cost: float) -> float:
    """Critical ratio ``cu / (cu + co)``: the optimal probability of not stocking out.

    ``cu`` is the margin lost per unit short, ``co`` the cost of a unit left over (e.g. holding until the
    next opportunity, or the markdown loss).
    """
    if underage_cost < 0 or overage_cost < 0 or underage_cost + overage_cost == 0:
        raise ValueError("costs must be non-negative and not both zero")
    return float(underage_cost / (underage_cost + overage_cost))


def normal_loss(k: float) -> float:
    """Standard normal loss function ``G(k) = φ(k) − k · (1 − Φ(k))``: E[(Z − k)+]."""
    return float(stats.norm.pdf(k) - k * stats.norm.sf(k))


def fill_rate_safety_factor(fill_rate: float, order_quantity: float, sigma_lead_time_demand: float) -> float:
    """Smallest safety factor k with ``σ_L · G(k) ≤ (1 − β) · Q`` (may be negative for large Q)."""
    if not 0.0 < fill_rate < 1.0:
        raise ValueError(f"fill rate must lie in (0, 1), got {fill_rate!r}")
    if sigma_lead_time_demand <= 0:
        return 0.0
    target = (1.0 - fill_rate) * max(order_quantity, 0.0) / sigma_lead_time_demand
    if target <= 0:
        return 4.0
    lo, hi = -4.0, 6.0
    if normal_loss(lo) <= target:
        return lo
    for _ in range(60):  # G is decreasing: bisection
        mid = (lo + hi) / 2
        if normal_loss(mid) > target:
            lo = mid
        else:
            hi = mid
    return hi


def lead_time_demand_samples(
    history: Sequence[float], lead_times: Sequence[int], weights: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Empirical lead-time demand: every overlapping window sum of the history, for each lead time.

    Returns (samples, sample weights); a random lead time is a mixture, each length weighted by its
    probability (``weights``, uniform by default). Windows need ``len(history) >= L``.
    """
    y = np.asarray(history, dtype=float)
    y = y[~np.isnan(y)]
    lts = [int(v) for v in lead_times]
    probs = np.full(len(lts), 1.0 / len(lts)) if weights is None else np.asarray(weights, dtype=float)
    samples, sw = [], []
    csum = np.concatenate([[0.0], np.cumsum(y)])
    for lt, p in zip(lts, probs, strict=True):
        if lt <= 0:
            sums = np.zeros(1)
        elif len(y) >= lt:
            sums = csum[lt:] - csum[:-lt]
        else:
            sums = np.array([y.sum() * lt / max(len(y), 1)])
        samples.append(sums)
        sw.append(np.full(len(sums), p / len(sums)))
    return np.concatenate(samples), np.concatenate(sw)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Smallest value whose cumulative weight share reaches ``q`` (inverted empirical CDF)."""
    order = np.argsort(values, kind="mergesort")
    v, w = np.asarray(values)[order], np.asarray(weights)[order]
    cw = np.cumsum(w) / w.sum()
    return float(v[min(np.searchsorted(cw, q - 1e-12), len(v) - 1)])


def lead_time_demand_quantile(
    history: Sequence[float],
    lead_times: Sequence[int],
    service_level: float,
    level_ratio: float = 1.0,
    weights: Sequence[float] | None = None,
) -> float:
    """Empirical ``service_level`` quantile of lead-time demand, rescaled by ``level_ratio``.

    ``level_ratio`` (forecast mean / historical mean) moves the empirical distribution to the
    forecast level, so a forecast ramp raises the reorder point while the history keeps the shape.
    """
    samples, w = lead_time_demand_samples(history, lead_times, weights)
    return weighted_quantile(samples, w, service_level) * level_ratio


def empirical_fill_rate_reorder_point(
    samples: np.ndarray, weights: np.ndarray, fill_rate: float, order_quantity: float
) -> float:
    """Smallest reorder point r among the sample values with E[(LTD − r)+] ≤ (1 − β) · Q."""
    budget = (1.0 - fill_rate) * max(order_quantity, 0.0)
    candidates = np.unique(np.concatenate([[0.0], samples]))
    w = np.asarray(weights) / np.sum(weights)
    for r in candidates:
        if float(np.sum(w * np.maximum(samples - r, 0.0))) <= budget + 1e-12:
            return float(r)
    return float(candidates[-1])


def rolling_window_sums(daily: np.ndarray, lead_times: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`lead_time_demand_samples` for many items: ``daily`` is ``(n_items, n_days)``
    (NaN = unknown, e.g. before the item existed). Returns ``(samples, weights)`` of shape
    ``(n_items, m)``; windows touching a NaN get weight 0, each lead time weighs the same in total.
    """
    y = np.asarray(daily, dtype=float)
    known = ~np.isnan(y)
    csum = np.concatenate([np.zeros((len(y), 1)), np.cumsum(np.nan_to_num(y), axis=1)], axis=1)
    cknown = np.concatenate([np.zeros((len(y), 1)), np.cumsum(known, axis=1)], axis=1)
    samples, weights = [], []
    for lt in lead_times:
        lt = max(int(lt), 1)
        if y.shape[1] < lt:
            raise ValueError(f"need at least {lt} days of history for lead time {lt}")
        sums = csum[:, lt:] - csum[:, :-lt]
        full = (cknown[:, lt:] - cknown[:, :-lt]) == lt
        w = full.astype(float)
        w /= np.maximum(w.sum(axis=1, keepdims=True), 1.0)
        samples.append(np.where(full, sums, 0.0))
        weights.append(w / len(lead_times))
    return np.concatenate(samples, axis=1), np.concatenate(weights, axis=1)


def bootstrap_lead_time_demand(
    daily: np.ndarray, lead_times: Sequence[int], n_samples: int = 400, jitter: bool = True, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Willemain-style bootstrap of lead-time demand for many items (``daily`` is ``(n_items, n_days)``,
    NaN = unknown): each sample draws a lead time from ``lead_times`` (uniformly) and sums that many days
    drawn with replacement from the item's known days; non-zero draws are jittered,
    ``max(1, round(x + z·sqrt(x)))`` with z standard normal, so the tail can exceed what was observed.
    Returns ``(samples, weights)`` shaped ``(n_items, n_samples)`` (weights 0 for items with no known day).
    """
    y = np.asarray(daily, dtype=float)
    rng = np.random.default_rng(seed)
    n, m = y.shape
    known = ~np.isnan(y)
    # move each row's known days to the front so that a draw is an index below the row's count
    order = np.argsort(~known, axis=1, kind="mergesort")
    packed = np.nan_to_num(np.take_along_axis(y, order, axis=1))
    count = known.sum(axis=1)
    lts = np.asarray([max(int(v), 1) for v in lead_times])
    lt = lts[rng.integers(0, len(lts), size=(n, n_samples))]
    max_lt = int(lts.max())
    idx = (rng.random((n, n_samples, max_lt)) * np.maximum(count, 1)[:, None, None]).astype(int)
    draws = packed[np.arange(n)[:, None, None], idx]
    if jitter:
        z = rng.standard_normal(draws.shape)
        draws = np.where(draws > 0, np.maximum(1.0, np.round(draws + z * np.sqrt(draws))), 0.0)
    mask = np.arange(max_lt)[None, None, :] < lt[:, :, None]
    samples = (draws * mask).sum(axis=2)
    weights = np.where(count[:, None] > 0, 1.0 / n_samples, 0.0) * np.ones((1, n_samples))
    return samples, weights


def empirical_quantiles(samples: np.ndarray, weights: np.ndarray, q: float) -> np.ndarray:
    """Row-wise :func:`weighted_quantile` of ``(n_items, m)`` samples (0 for rows without weight)."""
    order = np.argsort(samples, axis=1, kind="mergesort")
    v = np.take_along_axis(samples, order, axis=1)
    w = np.take_along_axis(weights, order, axis=1)
    total = w.sum(axis=1, keepdims=True)
    cw = np.cumsum(w, axis=1) / np.where(total > 0, total, 1.0)
    idx = np.minimum((cw < q - 1e-12).sum(axis=1), v.shape[1] - 1)
    out = v[np.arange(len(v)), idx]
    return np.where(total[:, 0] > 0, out, 0.0)


def empirical_fill_rate_reorder_points(
    samples: np.ndarray, weights: np.ndarray, fill_rate: float, order_quantity: np.ndarray
) -> np.ndarray:
    """Row-wise :func:`empirical_fill_rate_reorder_point`: smallest r (0 or a sample value) with
    expected shortage per cycle E[(LTD − r)+] ≤ (1 − β) · Q."""
    order = np.argsort(samples, axis=1, kind="mergesort")
    v = np.take_along_axis(samples, order, axis=1)
    w = np.take_along_axis(weights, order, axis=1)
    total = w.sum(axis=1, keepdims=True)
    w = w / np.where(total > 0, total, 1.0)
    # E[(X - v_k)+] = sum_{j>k} w_j x_j - v_k * sum_{j>k} w_j, using suffix sums
    wx_after = np.cumsum((w * v)[:, ::-1], axis=1)[:, ::-1] - w * v
    w_after = np.cumsum(w[:, ::-1], axis=1)[:, ::-1] - w
    shortage = wx_after - v * w_after
    shortage_at_zero = (w * v).sum(axis=1)
    budget = (1.0 - fill_rate) * np.maximum(np.asarray(order_quantity, dtype=float), 0.0)
    ok = shortage <= budget[:, None] + 1e-9
    first = np.where(ok.any(axis=1), np.argmax(ok, axis=1), v.shape[1] - 1)
    r = v[np.arange(len(v)), first]
    return np.where((shortage_at_zero <= budget + 1e-9) | (total[:, 0] <= 0), 0.0, r)


def _sorted_tail(samples: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted samples with 0 prepended, P(X > v) and E[(X − v)+] at each sorted value, row-wise."""
    n = len(samples)
    v = np.concatenate([np.zeros((n, 1)), samples], axis=1)
    w = np.concatenate([np.zeros((n, 1)), weights], axis=1)
    order = np.argsort(v, axis=1, kind="mergesort")
    v = np.take_along_axis(v, order, axis=1)
    w = np.take_along_axis(w, order, axis=1)
    total = w.sum(axis=1, keepdims=True)
    w = w / np.where(total > 0, total, 1.0)
    wx_after = np.cumsum((w * v)[:, ::-1], axis=1)[:, ::-1] - w * v
    w_after = np.cumsum(w[:, ::-1], axis=1)[:, ::-1] - w
    return v, np.clip(w_after, 0.0, 1.0), np.maximum(wx_after - v * w_after, 0.0)


def allocate_system_fill_rate(
    samples: np.ndarray,
    weights: np.ndarray,
    unit_cost: np.ndarray,
    order_quantity: np.ndarray,
    fill_rate: float,
) -> np.ndarray:
    """Reorder points that meet an *aggregate* fill rate at the least stock value.

    Minimises Σ cᵢ·sᵢ subject to Σ E[(LTDᵢ − sᵢ)+] ≤ (1 − β)·Σ Qᵢ (expected units short per cycle
    against units demanded per cycle). The Lagrangian optimum sets each item at the quantile where
    P(LTDᵢ > sᵢ) ≤ cᵢ / λ: cheap items get a high service level, expensive ones a lower one; λ is found
    by bisection. ``samples``/``weights`` are per-item lead-time-demand samples (:func:`rolling_window_sums`).
    """
    if not 0.0 < fill_rate < 1.0:
        raise ValueError(f"fill rate must lie in (0, 1), got {fill_rate!r}")
    v, tail, shortage = _sorted_tail(samples, weights)
    cost = np.maximum(np.asarray(unit_cost, dtype=float), 1e-9)
    budget = (1.0 - fill_rate) * float(np.maximum(np.asarray(order_quantity, dtype=float), 0.0).sum())
    rows = np.arange(len(v))

    def choose(lam: float) -> tuple[np.ndarray, float]:
        ok = tail <= (cost / lam)[:, None] + 1e-12
        k = np.argmax(ok, axis=1)  # the last column always has tail 0, so some column is ok
        return v[rows, k], float(shortage[rows, k].sum())

    lo, hi = -6.0, 12.0  # log10 of lambda
    s_hi, short_hi = choose(10**hi)
    if short_hi > budget:
        return s_hi  # even the top of every distribution misses the budget: stock the maximum
    for _ in range(50):
        mid = (lo + hi) / 2
        _, short = choose(10**mid)
        if short > budget:
            lo = mid
        else:
            hi = mid
    return choose(10**hi)[0]


def round_order_quantity(quantity: float, pack_size: int = 1, moq: int = 0) -> int:
    """Round a wanted quantity up to whole packs and at least the minimum order quantity (0 stays 0)."""
    if pack_size < 1 or moq < 0:
        raise ValueError("pack size must be >= 1 and MOQ >= 0")
    if quantity <= 0:
        return 0
    packs = math.ceil(quantity / pack_size - 1e-9)
    min_packs = math.ceil(moq / pack_size - 1e-9)
    return int(max(packs, min_packs) * pack_size)


def order_quantity_s_s(position: float, s: float, big_s: float, pack_size: int = 1, moq: int = 0) -> int:
    """(s, S): when the inventory position is at or below s, order up to S (rounded); else nothing."""
    if position > s:
        return 0
    return round_order_quantity(big_s - position, pack_size, moq)


def order_quantity_r_s(position: float, big_s: float, pack_size: int = 1, moq: int = 0) -> int:
    """(R, S): at a review, order what brings the position up to S (rounded)."""
    return round_order_quantity(big_s - position, pack_size, moq)


EXCEPTION_STOCKOUT = "stockout_before_arrival"
EXCEPTION_EXCESS = "excess"
EXCEPTION_DEAD = "dead_stock"


def restock_exceptions(
    on_hand: float,
    on_order_arriving: float,
    demand_per_period: float,
    periods_to_next_arrival: float,
    order_up_to: float,
    excess_factor: float = 2.0,
    periods_since_last_sale: float | None = None,
    dead_after_periods: float = 13.0,
) -> list[str]:
    """Exceptions a buyer must look at.

    * ``stockout_before_arrival``: on hand will not cover demand until the next order arrives;
    * ``excess``: on hand + on order exceeds ``excess_factor`` × the order-up-to level;
    * ``dead_stock``: stock on hand but no sale for ``dead_after_periods``.
    """
    out = []
    if demand_per_period > 0 and on_hand < demand_per_period * periods_to_next_arrival:
        out.append(EXCEPTION_STOCKOUT)
    if order_up_to > 0 and on_hand + on_order_arriving > excess_factor * order_up_to:
        out.append(EXCEPTION_EXCESS)
    if on_hand > 0 and periods_since_last_sale is not None and periods_since_last_sale >= dead_after_periods:
        out.append(EXCEPTION_DEAD)
    return out


@dataclass(frozen=True)
class RestockPlan:
    """Result of :func:`plan_restock` for one product (units; the caller's period unit)."""

    safety_stock: float
    reorder_point: float
    order_up_to: float
    order_quantity: int
    method: str
    exceptions: list[str] = field(default_factory=list)


def plan_restock(
    on_hand: float,
    on_order: float,
    demand_mean: float,
    demand_std: float,
    lead_time: float,
    review_period: float = 1.0,
    service_level: float = 0.95,
    lead_time_std: float = 0.0,
    demand_history: Sequence[float] | None = None,
    intermittent: bool = False,
    pack_size: int = 1,
    moq: int = 0,
    periods_since_last_sale: float | None = None,
    lot_size: float | None = None,
    periodic: bool = False,
    review_due: bool = True,
) -> RestockPlan:
    """(s, S) plan for one product: normal safety stock, or the empirical lead-time-demand quantile for
    intermittent items (needs ``demand_history`` per period; never below the mean lead-time demand, so the
    safety stock is never negative); order when the position is at or below s.
    ``S = s + lot_size`` (e.g. the :func:`eoq`), or ``s`` + the demand over one review period by default.

    ``periodic``: an (R, S) policy instead: the stock must cover the lead time plus the review period, so
    ``S = d̄ · (R + L) + SS(R + L)`` (reported as the reorder point too) and, when ``review_due``, the order
    brings the position up to S whatever it is; between reviews nothing is ordered.
    """
    cover = lead_time + review_period if periodic else lead_time
    if intermittent and demand_history is not None and len(demand_history) > 0:
        lo, hi = math.floor(cover - lead_time_std * 1.7), math.ceil(cover + lead_time_std * 1.7)
        lts = list(range(max(lo, 1), max(hi, 1) + 1)) if lead_time_std > 0 else [max(round(cover), 1)]
        hist = np.asarray(demand_history, dtype=float)
        hist_mean = float(np.nanmean(hist)) if len(hist) else 0.0
        ratio = demand_mean / hist_mean if hist_mean > 0 else 1.0
        # the empirical quantile of a lumpy item can lie below the mean lead-time demand; a buyer reads a
        # negative safety stock as nonsense, and holding less than the mean demand is never the intent
        s = max(lead_time_demand_quantile(hist, lts, service_level, ratio), demand_mean * cover)
        ss = s - demand_mean * cover
        method = "empirical"
    else:
        ss = safety_stock(z_value(service_level), cover, demand_mean, demand_std, lead_time_std)
        s = reorder_point(demand_mean, cover, ss)
        method = "normal"
    position = on_hand + on_order
    if periodic:
        big_s = s
        qty = order_quantity_r_s(position, big_s, pack_size, moq) if review_due else 0
    else:
        big_s = s + (demand_mean * review_period if lot_size is None else max(float(lot_size), 0.0))
        qty = order_quantity_s_s(position, s, big_s, pack_size, moq)
    exceptions = restock_exceptions(
        on_hand, on_order, demand_mean, lead_time, big_s, periods_since_last_sale=periods_since_last_sale
    )
    return RestockPlan(ss, s, big_s, qty, method, exceptions)
