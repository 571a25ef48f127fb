"""Replenishment simulation on real daily demand (PROTOCOL §3), and the policies it compares.

Each day of the horizon, per item: (1) orders due today arrive, (2) the policy reviews — it sees stock on
hand, stock on order and the sales and stock-out days so far — and may order (the order arrives
``lead time`` days later), (3) the day's real demand is served from stock; what cannot be served is
lost. Start stock is each policy's own target. Lead times are fixed or drawn uniformly per item and day
from a seeded table, so every policy meets the same lead-time draws.

Reported per policy (:class:`SimulationResult`): fill rate (units served / demanded), cycle service
level (share of replenishment cycles — the days between two arrivals, per item — without a lost sale),
average stock value (end-of-day on hand × unit cost, summed over items, averaged over days), lost-sales
value (lost units × median selling price), holding cost (25 % of unit cost a year), lost margin (lost units
× (price − unit cost)), total cost (holding + lost margin), orders placed, and the fill rate of the demand
below each item's spike bound (:func:`spike_bounds`: its largest 14-day demand of the history): of each
day's demand, the part up to the bound counts, and units served fill it first.

Policies: :class:`CoverPolicy` (anchor a: weekly review, order up to N weeks of the last-4-weeks
average), :class:`NormalReorderPointPolicy` (anchor b: daily (s, S) review, forecast from a local
model, normal safety stock at a cycle service level) and :class:`ForecastPolicy` (the project's:
forecaster mean for the level, empirical lead-time demand for the shape, reorder point set by the
fill-rate loss criterion).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from .base import Forecaster
from .policy import (
    allocate_system_fill_rate,
    bootstrap_lead_time_demand,
    empirical_fill_rate_reorder_points,
    fill_rate_safety_factor,
    normal_loss,
    rolling_window_sums,
    z_value,
)

HOLDING_RATE_PER_YEAR = 0.25
COST_SHARE_OF_PRICE = 0.6
#: Window of the spike bound: an item's largest demand over this many consecutive days of the history.
SPIKE_WINDOW_DAYS = 14


def spike_bounds(daily_history: np.ndarray, window: int = SPIKE_WINDOW_DAYS) -> np.ndarray:
    """Each item's largest ``window``-day demand in ``daily_history`` (``(n_items, days)``, NaN = unknown)."""
    past = np.nan_to_num(np.asarray(daily_history, dtype=float))
    if past.shape[1] < window:
        return past.sum(axis=1)
    cum = np.cumsum(np.pad(past, ((0, 0), (1, 0))), axis=1)
    return (cum[:, window:] - cum[:, :-window]).max(axis=1)


@dataclass(frozen=True)
class LeadTime:
    """A fixed lead time (``low == high``) or one drawn uniformly from ``low..high`` days (inclusive)."""

    low: int = 7
    high: int = 7

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def std(self) -> float:
        n = self.high - self.low + 1
        return float(np.sqrt((n * n - 1) / 12.0))

    @property
    def support(self) -> list[int]:
        return list(range(self.low, self.high + 1))

    def label(self) -> str:
        return f"{self.low} days" if self.low == self.high else f"random {self.low}-{self.high} days"

    def table(self, n_items: int, n_days: int, seed: int) -> np.ndarray:
        """Lead time of an order placed by item i on day d."""
        if self.low == self.high:
            return np.full((n_items, n_days), self.low, dtype=int)
        return np.random.default_rng(seed).integers(self.low, self.high + 1, size=(n_items, n_days))


@dataclass
class SimulationInput:
    """Everything a simulation run needs, aligned on ``ids``."""

    ids: np.ndarray
    origin: pd.Timestamp
    demand: np.ndarray  # (n, days) real daily demand from the origin
    unit_cost: np.ndarray  # (n,)
    unit_price: np.ndarray  # (n,) median selling price, values lost sales
    daily_history: np.ndarray  # (n, history_days) daily demand before the origin, NaN before the first sale
    weekly_history: pd.DataFrame  # weekly panel before the origin (what forecasters are fitted on)
    weekly_future: pd.DataFrame  # weekly panel rows of the simulated weeks (extra columns for updates)


def build_simulation_input(
    tx: pd.DataFrame,
    daily: pd.DataFrame,
    weekly: pd.DataFrame,
    origin: pd.Timestamp | str,
    ids: list[str],
    days: int = 56,
    history_days: int = 182,
) -> SimulationInput:
    """Cut the real daily demand of ``ids`` from ``origin`` for ``days`` days, and their past.

    ``tx`` are cleaned transactions (for the median UnitPrice before the origin: unit cost = 0.6 × it),
    ``daily`` / ``weekly`` the panels of :mod:`inventory.ml.demand`.
    """
    origin = pd.Timestamp(origin)
    ids_arr = np.array(sorted(ids))
    index = pd.Index(ids_arr)
    end = origin + pd.Timedelta(days=days)
    hist_start = origin - pd.Timedelta(days=history_days)
    d = daily[daily["unique_id"].isin(index)]

    def matrix(lo: pd.Timestamp, hi: pd.Timestamp, fill: float) -> np.ndarray:
        part = d[(d["ds"] >= lo) & (d["ds"] < hi)]
        n_days = (hi - lo).days
        m = np.full((len(ids_arr), n_days), fill)
        m[index.get_indexer(part["unique_id"]), (part["ds"] - lo).dt.days.to_numpy()] = part["y"].to_numpy()
        return m

    last_day = d["ds"].max()
    if last_day < end - pd.Timedelta(days=1):
        raise ValueError(f"demand data end on {last_day.date()}, before {days} days from {origin.date()}")
    price = (
        tx[(tx["InvoiceDate"] < origin) & tx["StockCode"].isin(index)].groupby("StockCode")["UnitPrice"].median()
    ).reindex(ids_arr)
    w = weekly[weekly["unique_id"].isin(index)]
    return SimulationInput(
        ids=ids_arr,
        origin=origin,
        demand=matrix(origin, end, 0.0),
        unit_cost=price.to_numpy() * COST_SHARE_OF_PRICE,
        unit_price=price.to_numpy(),
        daily_history=matrix(hist_start, origin, np.nan),
        weekly_history=w[w["ds"] < origin].reset_index(drop=True),
        weekly_future=w[(w["ds"] >= origin) & (w["ds"] < end)].reset_index(drop=True),
    )


class SimPolicy(Protocol):
    """What the simulator drives: ``start`` gives the start stock, ``review`` the orders of a day."""

    name: str

    def start(self, sim: SimulationInput, lead_time: LeadTime) -> np.ndarray: ...

    def review(
        self, day: int, on_hand: np.ndarray, on_order: np.ndarray, sales: np.ndarray, stockout: np.ndarray
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class SimulationResult:
    """Aggregate figures of one policy run (money in the data's currency, GBP)."""

    policy: str
    lead_time: str
    fill_rate: float
    cycle_service_level: float
    avg_stock_value: float
    lost_sales_value: float
    holding_cost: float
    orders: int
    units_demanded: float
    units_lost: float
    lost_margin: float
    total_cost: float
    fill_below_bound: float

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def simulate(sim: SimulationInput, policy: SimPolicy, lead_time: LeadTime, seed: int = 0) -> SimulationResult:
    """Run ``policy`` over the real demand in ``sim`` (module docstring for the daily order of events)."""
    bound = spike_bounds(sim.daily_history)
    demand = sim.demand
    n, days = demand.shape
    lt_table = lead_time.table(n, days, seed)
    pipeline = np.zeros((n, days + lead_time.high + 1))
    on_hand = np.asarray(policy.start(sim, lead_time), dtype=float).copy()
    sales = np.zeros((n, days))
    stockout = np.zeros((n, days), dtype=bool)
    stock_value = np.zeros(days)
    orders = 0
    cycles = np.ones(n)
    cycle_short = np.zeros(n, dtype=bool)
    short_cycles = np.zeros(n)
    rows = np.arange(n)
    for day in range(days):
        arriving = pipeline[:, day]
        arrived = arriving > 0
        short_cycles += (arrived & cycle_short)
        cycle_short &= ~arrived
        cycles += arrived
        on_hand += arriving
        on_order = pipeline[:, day + 1:].sum(axis=1)
        qty = np.asarray(policy.review(day, on_hand.copy(), on_order, sales[:, :day], stockout[:, :day]), dtype=float)
        qty = np.where(qty > 0, qty, 0.0)
        placed = qty > 0
        orders += int(placed.sum())
        pipeline[rows[placed], day + lt_table[placed, day]] += qty[placed]
        served = np.minimum(on_hand, demand[:, day])
        lost = demand[:, day] - served
        on_hand -= served
        sales[:, day] = served
        stockout[:, day] = on_hand <= 0
        cycle_short |= lost > 0
        stock_value[day] = float((on_hand * sim.unit_cost).sum())
    short_cycles += cycle_short
    total = demand.sum()
    lost_units = float((demand - sales).sum())
    below = np.minimum(demand, bound[:, None])
    holding = float(stock_value.sum() * HOLDING_RATE_PER_YEAR / 365.0)
    lost_margin = float(((demand - sales).sum(axis=1) * (sim.unit_price - sim.unit_cost)).sum())
    return SimulationResult(
        policy=policy.name,
        lead_time=lead_time.label(),
        fill_rate=float(sales.sum() / total) if total > 0 else float("nan"),
        cycle_service_level=float(1.0 - short_cycles.sum() / cycles.sum()),
        avg_stock_value=float(stock_value.mean()),
        lost_sales_value=float(((demand - sales).sum(axis=1) * sim.unit_price).sum()),
        holding_cost=holding,
        orders=orders,
        units_demanded=float(total),
        units_lost=lost_units,
        lost_margin=lost_margin,
        total_cost=holding + lost_margin,
        fill_below_bound=float(np.minimum(sales, below).sum() / below.sum()) if below.sum() > 0 else float("nan"),
    )


def _observed_daily(sim: SimulationInput, sales: np.ndarray, stockout: np.ndarray) -> np.ndarray:
    """Daily history the policy knows: the past plus simulated sales; stock-out days without a sale are unknown."""
    seen = np.where(stockout & (sales <= 0), np.nan, sales)
    return np.concatenate([sim.daily_history, seen], axis=1)


def weekly_update_panel(sim: SimulationInput, sales: np.ndarray, stockout: np.ndarray) -> pd.DataFrame:
    """Weekly history for a re-forecast: the past plus each completed simulated week's sales.

    A week is flagged ``stockout`` when the item ended a day out of stock; the forecasters then treat a
    zero-sales week as missing demand. Extra columns (price, order lines, customers) of the simulated
    weeks come from the real panel.
    """
    n_weeks = sales.shape[1] // 7
    if n_weeks == 0:
        return sim.weekly_history
    weeks = pd.date_range(sim.origin, periods=n_weeks, freq="7D")
    y = sales[:, : n_weeks * 7].reshape(len(sim.ids), n_weeks, 7).sum(axis=2)
    out = stockout[:, : n_weeks * 7].reshape(len(sim.ids), n_weeks, 7).any(axis=2)
    new = pd.DataFrame({
        "unique_id": np.repeat(sim.ids, n_weeks),
        "ds": np.tile(weeks.to_numpy(), len(sim.ids)),
        "y": y.ravel(),
        "stockout": out.ravel(),
    })
    extra = [c for c in sim.weekly_future.columns if c not in ("y", "stockout")]
    new = new.merge(sim.weekly_future[extra], on=["unique_id", "ds"], how="left")
    past = sim.weekly_history.assign(stockout=False)
    return pd.concat([past, new], ignore_index=True).sort_values(["unique_id", "ds"], kind="mergesort")


class CoverPolicy:
    """Anchor (a): every ``review_days``, order up to ``weeks`` × the average weekly demand of the last
    ``window_weeks`` weeks (start stock = that target)."""

    def __init__(self, weeks: float = 2.0, window_weeks: int = 4, review_days: int = 7) -> None:
        self.weeks = weeks
        self.window_weeks = window_weeks
        self.review_days = review_days
        self.name = f"(a) cover {weeks:g} weeks of last {window_weeks} weeks, weekly review"

    def _target(self, daily: np.ndarray) -> np.ndarray:
        recent = daily[:, -7 * self.window_weeks:]
        return np.nan_to_num(np.nansum(recent, axis=1) / self.window_weeks * self.weeks)

    def start(self, sim: SimulationInput, lead_time: LeadTime) -> np.ndarray:
        self.sim_ = sim
        return np.ceil(self._target(sim.daily_history))

    def review(self, day: int, on_hand: np.ndarray, on_order: np.ndarray, sales: np.ndarray,
               stockout: np.ndarray) -> np.ndarray:
        if day % self.review_days or day == 0:
            return np.zeros_like(on_hand)
        daily = np.concatenate([self.sim_.daily_history, sales], axis=1)  # the rule uses plain sales
        return np.ceil(np.maximum(self._target(daily) - on_hand - on_order, 0.0))


class _ForecastDriven:
    """Shared plumbing: a forecaster fitted on the weekly history, updated with simulated weeks."""

    forecaster: Forecaster
    refresh_days: int

    def _refresh(self, sales: np.ndarray, stockout: np.ndarray) -> None:
        sim = self.sim_
        if sales.shape[1] > 0:
            self.forecaster.update(weekly_update_panel(sim, sales, stockout))
        fc = self.forecaster.predict(2, quantiles=(0.5, 0.9))
        weekly_mean = fc.groupby("unique_id")["mean"].mean().reindex(sim.ids).fillna(0.0).to_numpy()
        self.daily_mean_ = weekly_mean / 7.0

    def _levels(self, daily: np.ndarray) -> None:  # pragma: no cover - interface
        """Set the reorder point ``s_`` and order-up-to level ``big_s_`` from daily demand."""
        raise NotImplementedError

    def _fit(self, history: pd.DataFrame) -> None:
        self.forecaster.fit(history)

    def start(self, sim: SimulationInput, lead_time: LeadTime) -> np.ndarray:
        self.sim_, self.lead_time_ = sim, lead_time
        self._fit(sim.weekly_history)
        self._refresh(np.zeros((len(sim.ids), 0)), np.zeros((len(sim.ids), 0), dtype=bool))
        self._levels(sim.daily_history)
        return np.ceil(self.big_s_)

    def review(self, day: int, on_hand: np.ndarray, on_order: np.ndarray, sales: np.ndarray,
               stockout: np.ndarray) -> np.ndarray:
        if day > 0 and day % self.refresh_days == 0:
            self._refresh(sales, stockout)
            self._levels(_observed_daily(self.sim_, sales, stockout))
        position = on_hand + on_order
        return np.where(position <= self.s_, np.ceil(np.maximum(self.big_s_ - position, 0.0)), 0.0)


class NormalReorderPointPolicy(_ForecastDriven):
    """Anchor (b): daily-review (s, S). d̄ from a forecaster's mean (re-forecast weekly), σd from the
    last ``std_weeks`` weeks of weekly demand, ``SS = z · sqrt(L σd² + d̄² σL²)`` at ``service_level``,
    ``s = d̄ L + SS``, ``S = s + d̄ · order_days``."""

    def __init__(self, forecaster: Forecaster, service_level: float = 0.95, std_weeks: int = 26,
                 order_days: int = 7, refresh_days: int = 7, name: str = "(b) reorder point, normal SS") -> None:
        self.forecaster = forecaster
        self.service_level = service_level
        self.std_weeks = std_weeks
        self.order_days = order_days
        self.refresh_days = refresh_days
        self.name = name

    def _levels(self, daily: np.ndarray) -> None:
        lt = self.lead_time_
        weeks = daily[:, -7 * self.std_weeks:]
        weekly = weeks.reshape(len(weeks), -1, 7).sum(axis=2)  # NaN days make the week NaN: unknown
        sigma_d = np.nan_to_num(np.nanstd(weekly, axis=1)) / np.sqrt(7.0)
        d = self.daily_mean_
        ss = z_value(self.service_level) * np.sqrt(lt.mean * sigma_d**2 + d**2 * lt.std**2)
        self.s_ = d * lt.mean + ss
        self.big_s_ = self.s_ + d * self.order_days



class ForecastPolicy(_ForecastDriven):
    """The project's policy: daily-review (s, S) with a fill-rate target.

    Level: the forecaster's mean for the next two weeks (re-forecast weekly, censored stock-out weeks
    treated as missing). Shape: the empirical lead-time demand of the last ``history_days`` days — every
    window of L days, each lead time of a random lead time weighted equally — rescaled to the forecast
    level. Reorder point: the smallest s with expected units short per cycle E[(LTD − s)+] ≤ (1 − β)·Q,
    Q = ``order_days`` of forecast demand (the loss-function method for a fill-rate target β).
    ``S = s + Q``. ``fitted=True`` means the forecaster is already fitted on the weekly history. ``ltd``:
    ``"windows"`` (windows of the lead time), ``"windows+review"`` (windows one day longer: the demand of the
    day that pushes the position below s — its undershoot — is at risk too) or ``"bootstrap"``
    (:func:`~inventory.ml.policy.bootstrap_lead_time_demand`).
    """

    def __init__(self, forecaster: Forecaster, fill_rate: float = 0.95, history_days: int = 91,
                 order_days: int = 7, refresh_days: int = 7, fitted: bool = False, system: bool = True,
                 ltd: str = "windows",
                 name: str = "project: forecast + empirical LTD, fill-rate target") -> None:
        self.forecaster = forecaster
        self.fill_rate = fill_rate
        self.system = system
        self.ltd = ltd
        self.history_days = history_days
        self.order_days = order_days
        self.refresh_days = refresh_days
        self.fitted = fitted
        self.name = name

    def _fit(self, history: pd.DataFrame) -> None:
        if self.fitted:
            self.forecaster.update(history)
        else:
            self.forecaster.fit(history)

    def _levels(self, daily: np.ndarray) -> None:
        lt = self.lead_time_
        recent = daily[:, -self.history_days:]
        if self.ltd == "bootstrap":
            samples, weights = bootstrap_lead_time_demand(recent, lt.support)
        elif self.ltd == "windows+review":  # the review day's demand too: bounds the undershoot below s
            samples, weights = rolling_window_sums(recent, [d + 1 for d in lt.support])
        else:
            samples, weights = rolling_window_sums(recent, lt.support)
        hist_mean = np.nanmean(np.where(np.isnan(recent), np.nan, recent), axis=1)
        d = self.daily_mean_
        ratio = np.where(hist_mean > 0, d / np.where(hist_mean > 0, hist_mean, 1.0), 1.0)
        q = d * self.order_days
        if self.system:
            s_emp = allocate_system_fill_rate(samples * ratio[:, None], weights, self.sim_.unit_cost, q, self.fill_rate)
        else:
            s_emp = empirical_fill_rate_reorder_points(samples * ratio[:, None], weights, self.fill_rate, q)
        usable = weights.sum(axis=1) > 0
        self.s_ = s_emp
        # no usable history window: normal approximation with a Poisson-like spread
        for i in np.flatnonzero(~usable):
            sigma = float(np.sqrt(max(d[i] * lt.mean, 0.0)))
            k = fill_rate_safety_factor(self.fill_rate, float(q[i]), sigma) if sigma > 0 else 0.0
            self.s_[i] = d[i] * lt.mean + k * sigma
        self.big_s_ = self.s_ + q



__all__ = [
    "CoverPolicy", "ForecastPolicy", "LeadTime", "NormalReorderPointPolicy", "SimulationInput", "SimulationResult",
    "build_simulation_input", "normal_loss", "simulate", "spike_bounds", "weekly_update_panel",
]
