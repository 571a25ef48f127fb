"""Weekly demand panels from order lines, with the wholesale quantity-tier effect taken out of the price.

A shop that sells to wholesalers charges less per unit on big lines (12+, 48+, 144+ ...). Regressing
line quantity on line unit price then "finds" a steep negative elasticity that is nothing but the tier
schedule: big buyers pay less *because* they buy more. Two things separate the tier effect from the
demand response here:

1. the tier discounts are estimated once for the whole shop, from lines of the same product in the
   same week bought in different tiers (``log unit_price = product-week level + tier effect``);
2. demand is aggregated to units per product and week and set against the product's *list-price
   level* that week: the line prices with their tier discount removed (what a tier-1 buyer paid).
   Weeks without a sale carry the last known level forward and count as zero sales.

The result, :class:`WeeklyPanel`, feeds :meth:`ElasticityEstimator.fit_panel` directly.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_TIER_BOUNDS: tuple[int, ...] = (1, 6, 12, 24, 48, 96, 144, 288)


@dataclass(frozen=True)
class WeeklyPanel:
    """Dense ``(n_products, n_weeks)`` arrays and the labels that go with them.

    ``units``: units sold; ``price``: tier-adjusted list-price level (carried over weeks without
    lines); ``weight``: 1 from a product's first sale on, 0 before; ``observed``: a line priced the
    product that week; ``tier_effects``: log price of each quantity tier relative to the first.
    """

    products: np.ndarray
    weeks: pd.DatetimeIndex
    units: np.ndarray
    price: np.ndarray
    weight: np.ndarray
    observed: np.ndarray
    tier_bounds: tuple[int, ...]
    tier_effects: np.ndarray

    @property
    def periods(self) -> np.ndarray:
        """Week numbers for the seasonal controls: ISO-style week of year, continuing across years."""
        start = self.weeks[0]
        offset = (start.dayofyear - 1) // 7
        return offset + np.arange(len(self.weeks), dtype=float)


def quantity_tier(quantity: np.ndarray, bounds: Sequence[int] = DEFAULT_TIER_BOUNDS) -> np.ndarray:
    """Tier index of each line: the number of ``bounds`` at or below its quantity, minus one (0 = smallest)."""
    return np.maximum(np.searchsorted(np.asarray(bounds), np.asarray(quantity), side="right") - 1, 0)


def estimate_tier_effects(group: np.ndarray, tier: np.ndarray, log_price: np.ndarray, n_tiers: int,
                          iterations: int = 50) -> np.ndarray:
    """Shop-wide log-price effect of each tier, from ``log_price = level[group] + effect[tier]``.

    ``group`` numbers the product-weeks. Solved by alternating means (two-way fixed effects); tiers
    never seen alongside another tier get 0. The first populated tier is the reference (effect 0).
    """
    effect = np.zeros(n_tiers)
    n_groups = int(group.max()) + 1 if len(group) else 0
    counts_g = np.bincount(group, minlength=n_groups)
    counts_t = np.bincount(tier, minlength=n_tiers)
    for _ in range(iterations):
        level = np.bincount(group, log_price - effect[tier], minlength=n_groups) / np.maximum(counts_g, 1)
        effect = np.bincount(tier, log_price - level[group], minlength=n_tiers) / np.maximum(counts_t, 1)
        populated = np.nonzero(counts_t)[0]
        if len(populated):
            effect = np.where(counts_t > 0, effect - effect[populated[0]], 0.0)
    return effect


def weekly_demand_panel(lines: pd.DataFrame, *, product: str = "product", date: str = "date",
                        quantity: str = "quantity", price: str = "unit_price",
                        tier_bounds: Sequence[int] = DEFAULT_TIER_BOUNDS, week_freq: str = "W-SUN",
                        end: pd.Timestamp | None = None) -> WeeklyPanel:
    """Units per product and week against the tier-adjusted list-price level (see the module docstring).

    ``lines`` holds one row per order line (sales only: positive quantity and price). Weeks run
    Monday-Sunday by default (``week_freq`` as pandas spells it); ``end`` extends the panel to a date.
    """
    frame = lines[[product, date, quantity, price]].copy()
    frame = frame[(frame[quantity] > 0) & (frame[price] > 0)]
    if frame.empty:
        raise ValueError("no order lines with positive quantity and price")
    frame["week"] = pd.to_datetime(frame[date]).dt.to_period(week_freq).dt.start_time
    codes, products = pd.factorize(frame[product], sort=True)
    weeks = pd.date_range(frame["week"].min(), end or frame["week"].max(), freq="7D")
    week_idx = ((frame["week"] - weeks[0]).dt.days // 7).to_numpy()
    tier = quantity_tier(frame[quantity].to_numpy(), tier_bounds)
    log_price = np.log(frame[price].to_numpy(dtype=float))
    cell = codes * len(weeks) + week_idx
    group, cell_ids = pd.factorize(cell)
    effects = estimate_tier_effects(np.asarray(group), tier, log_price, len(tier_bounds))

    n, n_weeks = len(products), len(weeks)
    units = np.zeros(n * n_weeks)
    np.add.at(units, cell, frame[quantity].to_numpy(dtype=float))
    level_sum = np.zeros(n * n_weeks)
    level_count = np.zeros(n * n_weeks)
    np.add.at(level_sum, cell, log_price - effects[tier])
    np.add.at(level_count, cell, 1.0)
    observed = level_count > 0
    log_level = np.where(observed, level_sum / np.maximum(level_count, 1.0), np.nan).reshape(n, n_weeks)
    filled = pd.DataFrame(log_level.T).ffill().bfill().to_numpy().T
    units = units.reshape(n, n_weeks)
    observed = observed.reshape(n, n_weeks)
    first = np.argmax(observed, axis=1)
    weight = (np.arange(n_weeks)[None, :] >= first[:, None]).astype(float)
    return WeeklyPanel(products=np.asarray(products), weeks=weeks, units=units, price=np.exp(filled),
                       weight=weight, observed=observed, tier_bounds=tuple(tier_bounds), tier_effects=effects)
