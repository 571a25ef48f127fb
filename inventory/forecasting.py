"""Demand history from the shop's order lines, the served forecaster, and stored forecasts.

The shop's order lines (read through the shop adapter) become a weekly demand panel
(:func:`inventory.ml.demand.weekly_demand`); the served forecaster (``INVENTORY["FORECASTER"]``) is
fitted on it and its forecasts are stored as :class:`~inventory.models.DemandForecast` rows with a
:class:`~personalization.models.ModelVersion` of kind ``inventory.forecaster``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from personalization.host import clock
from personalization.host.adapters import ShopAdapter, get_adapter
from personalization.host.threads import job_processes, limited_threads
from personalization.models import ModelVersion
from personalization.ops import registry

from .conf import inventory_settings
from .demand_signals import exposure_weeks, stockout_weeks
from .ml import demand as dm
from .ml import served
from .ml.base import Forecaster, quantile_column
from .ml.local import METHODS, LocalForecaster
from .ml.parallel import FitProgress
from .ml.selector import ClassSelector
from .models import DemandForecast

logger = logging.getLogger(__name__)
MODEL_KIND = "inventory.forecaster"
WAPE_TOLERANCE = 0.10  # a retrain's backtest WAPE may exceed the active version's by this share
#: Weeks of actual demand kept on each forecast (for the chart and the safety-stock spread).
HISTORY_KEEP_WEEKS = 52
#: A series needs this many selling weeks for the model; younger ones get their recent mean.
MIN_SELLING_WEEKS = 8
RECENT_WEEKS = 13
#: When the shop's last sale is more than this many weeks before the origin, its order data stopped (an old
#: import planned as of today, a broken order feed), not its demand: the forecaster fits on the history up to
#: the last sale and its forecast serves the requested weeks, with a warning (``ForecastRun.history_end``).
MAX_SILENT_WEEKS = 8
#: ``progress(percent, stage, seconds_left)`` (seconds_left None when unknown).
Progress = Callable[..., None]


class ForecastError(ValueError):
    """A forecast cannot be made (no order history, unknown forecaster)."""


@dataclass(frozen=True)
class ForecastRun:
    version: ModelVersion
    origin: dt.date
    n_products: int
    n_modelled: int
    seconds: float
    #: Monday after the last week of history the forecaster saw: ``origin``, or earlier when the order data
    #: stop more than :data:`MAX_SILENT_WEEKS` before it (see :func:`history_end`).
    history_end: dt.date | None = None

    @property
    def stale_weeks(self) -> int:
        """Weeks between the end of the history and the origin (0: the history reaches the origin)."""
        return (self.origin - self.history_end).days // 7 if self.history_end else 0


def served_forecaster(name: str, horizon: int, quantiles: Sequence[float] = (0.5, 0.9)) -> Forecaster:
    """The forecaster named in ``INVENTORY["FORECASTER"]``: ``selector`` (the benchmarked served
    configuration of :mod:`inventory.ml.served`), ``gbm`` (its global GBM alone) or a local method name.
    ``INVENTORY["GBM_PARAMS"]`` overrides the GBM's settings in both."""
    overrides = dict(inventory_settings.GBM_PARAMS or {})
    seed = inventory_settings.RANDOM_STATE
    if name == "selector":  # its fits run in job_processes() one-thread processes (SHOPSENSE_THREADS, default 2)
        return served.served_selector(horizon, random_state=seed, gbm_overrides=overrides, n_jobs=job_processes())
    if name == "gbm":
        return served.served_gbm(horizon, tuple(quantiles), random_state=seed, overrides=overrides)
    if name in METHODS:
        return LocalForecaster(name)
    raise ForecastError(f"Unknown forecaster {name!r}: use 'selector', 'gbm' or one of {', '.join(METHODS)}.")


def planning_date() -> dt.date:
    """The day restock plans are made for: today, or the as-of date set (``INVENTORY["REFERENCE_TIME"]``,
    else ``PERSONALIZATION["REFERENCE_TIME"]``; see :mod:`personalization.host.clock`)."""
    return clock.reference_date(inventory_settings.REFERENCE_TIME, 'INVENTORY["REFERENCE_TIME"]')


def week_origin(day: dt.date) -> dt.date:
    """Monday of the week ``day`` falls in: forecasts start there, history ends just before it."""
    return day - dt.timedelta(days=day.weekday())


def history_end(origin: dt.date, adapter: ShopAdapter | None = None) -> dt.date:
    """Where the history the forecaster fits on ends: ``origin``, or — when the shop's last order before it was
    placed more than :data:`MAX_SILENT_WEEKS` weeks earlier — the Monday after that order's week. A whole shop
    silent for months means the order data stopped (e.g. the real-date demo data planned as of today), and
    fifteen years of zeros would forecast nothing, or nothing could be fitted at all."""
    adapter = adapter or get_adapter()
    tz = timezone.get_current_timezone()
    end = timezone.make_aware(dt.datetime.combine(origin, dt.time.min), tz)
    last = adapter.last_order_at()
    if last is None or last >= end:
        return origin  # no order at all (nothing to forecast), or orders after the origin: the data go on
    after_last = week_origin(timezone.localtime(last, tz).date()) + dt.timedelta(weeks=1)
    return after_last if (origin - after_last).days // 7 > MAX_SILENT_WEEKS else origin


def demand_panel(origin: dt.date, adapter: ShopAdapter | None = None, weeks: int | None = None) -> pd.DataFrame:
    """Weekly demand panel (``unique_id`` = product id as text) of the complete weeks before ``origin``,
    summed per product and week by the database (the adapter's ``weekly_sales``)."""
    adapter = adapter or get_adapter()
    tz = timezone.get_current_timezone()
    end = timezone.make_aware(dt.datetime.combine(origin, dt.time.min), tz)
    since = None if weeks is None else end - dt.timedelta(weeks=weeks)
    rows, deleted = [], 0
    for week in adapter.weekly_sales(since, end):
        if week.product_id is None:
            deleted += week.lines
        else:
            rows.append((str(week.product_id), week.week, week.units, float(week.revenue), week.lines, week.customers))
    if deleted:
        logger.warning("Demand history: left out %d order lines whose product was deleted.", deleted)
    if not rows:
        return pd.DataFrame(
            columns=["unique_id", "ds", "y", "price", "n_lines", "n_customers", "stockout", "category"])
    weekly = pd.DataFrame(rows, columns=["unique_id", "ds", "y", "revenue", "n_lines", "n_customers"])
    weekly["ds"] = pd.to_datetime(weekly["ds"])
    panel = dm.panel_from_weekly_totals(weekly, end=pd.Timestamp(origin - dt.timedelta(days=7)))
    panel = _with_demand_signals(panel, since, end, origin)
    return panel.assign(category=panel["unique_id"].map(_first_categories(adapter, panel["unique_id"].unique())))


def _first_categories(adapter: ShopAdapter, ids: Sequence[str]) -> dict[str, str]:
    """Each product's first category (the adapter's ``categories_of``), for the global models' category-level
    seasonal index (:mod:`inventory.ml.features`); products without one are left out."""
    from personalization.host import get_product_model

    products = get_product_model()._default_manager.filter(pk__in=list(ids))
    return {str(pk): names[0] for pk, names in adapter.categories_of(products).items() if names}


def _with_demand_signals(panel: pd.DataFrame, since: dt.datetime | None, end: dt.datetime,
                         origin: dt.date) -> pd.DataFrame:
    """Add ``stockout`` (a recorded stock-out day in the week) and, once the shop has recommendation
    impressions, ``exposures`` (see :mod:`inventory.demand_signals`)."""
    out = stockout_weeks(since.date() if since else None, origin).assign(stockout=True)
    panel = panel.merge(out, on=["unique_id", "ds"], how="left")
    panel["stockout"] = panel["stockout"].eq(True)
    shown = exposure_weeks(since, end)
    if not shown.empty:
        panel = panel.merge(shown, on=["unique_id", "ds"], how="left")
        panel["exposures"] = panel["exposures"].fillna(0.0)
    return panel


def _known_demand(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel with censored weeks (stock-out, no sale) as NaN demand, as the forecasters read it."""
    if "stockout" not in panel:
        return panel
    censored = panel["stockout"] & (panel["y"] == 0)
    return panel.assign(y=panel["y"].mask(censored))


def _recent_mean_forecast(panel: pd.DataFrame, horizon: int, quantiles: Sequence[float]) -> pd.DataFrame:
    """Mean of the last known weeks (censored ones skipped) for every series, flat over the horizon; quantiles
    from the same weeks; 0 for a series with no known week."""
    recent = panel[panel["y"].notna()].groupby("unique_id", sort=True).tail(RECENT_WEEKS)
    g = recent.groupby("unique_id", sort=True)["y"]
    base = pd.DataFrame({"mean": g.mean()})
    for tau in quantiles:
        base[quantile_column(tau)] = g.quantile(tau)
    base = base.reindex(sorted(panel["unique_id"].unique()), fill_value=0.0).rename_axis("unique_id").reset_index()
    out = base.loc[base.index.repeat(horizon)].reset_index(drop=True)
    out["step"] = np.tile(np.arange(1, horizon + 1), len(base))
    return out


def _trained_models(model: Forecaster) -> dict[str, Any]:
    """What a fitted forecaster consists of, for its version's params: the selector's chosen candidates and
    the device its torch members trained on."""
    out: dict[str, Any] = {}
    if isinstance(model, ClassSelector):
        out["candidates"] = model.chosen_candidates()
    stack, devices = [model], set()
    while stack:
        m = stack.pop()
        stack.extend(getattr(m, "fitted_", {}).values())
        if getattr(m, "device_", None):
            devices.add(m.device_)
    if devices:
        out["torch_device"] = ", ".join(sorted(devices))
    return out


def _selector_metrics(model: ClassSelector) -> dict[str, float]:
    chosen = model.chosen_backtest()
    total = float(chosen["y"].sum())
    return {"backtest_wape": float(chosen["abs_err"].sum()) / total} if total > 0 else {}


def forecast_demand(
    origin: dt.date | None = None,
    adapter: ShopAdapter | None = None,
    forecaster: str | None = None,
    progress: Progress | None = None,
) -> ForecastRun:
    """Fit the served forecaster on the order history before ``origin`` and store its forecasts.

    ``origin`` defaults to the Monday of :func:`planning_date`; ``forecaster`` to ``INVENTORY["FORECASTER"]``.
    One ``DemandForecast`` per product that ever sold (replacing that origin's earlier ones) and one
    active ``ModelVersion``. ``progress(percent, stage, seconds_left)``, when given, hears each stage and,
    while the forecaster fits, each model fit with an estimate of the time left.
    """
    started = time.perf_counter()
    say = progress or (lambda percent, stage, left=None: None)
    origin = origin or week_origin(planning_date())
    origin = week_origin(origin)
    horizon = int(inventory_settings.FORECAST_HORIZON_WEEKS)
    quantiles = tuple(float(q) for q in inventory_settings.FORECAST_QUANTILES)
    name = forecaster or inventory_settings.FORECASTER
    model = served_forecaster(name, horizon, quantiles)
    say(2, "Reading the order history")
    fit_end = history_end(origin, adapter)
    if fit_end < origin:
        logger.warning(
            "The order history ends %d weeks before the forecast origin %s (no order since the week before %s): "
            "forecasting from the history up to %s as if it reached %s. Import the newer orders, or plan as of an "
            "earlier day (--date).", (origin - fit_end).days // 7, origin, fit_end, fit_end, origin)
    panel = demand_panel(fit_end, adapter, inventory_settings.HISTORY_WEEKS)
    if panel.empty:
        raise ForecastError(f"No sales before {fit_end}: nothing to forecast from.")
    panel["ds"] = pd.to_datetime(panel["ds"])
    params = {"forecaster": name, "horizon": horizon, "quantiles": list(quantiles), "origin": origin.isoformat()}
    if fit_end < origin:
        params["history_end"] = fit_end.isoformat()
    version = registry.begin(
        MODEL_KIND, params,
        data_start=timezone.make_aware(panel["ds"].min().to_pydatetime()),
        data_end=timezone.make_aware(dt.datetime.combine(fit_end, dt.time.min)),
    )
    try:
        modelled = dm.select_series(panel, pd.Timestamp(fit_end), min_weeks=MIN_SELLING_WEEKS)
        parts, metrics, method_of = [], {}, {}
        if modelled:
            registry.report_progress(version, 10, f"Fitting {name} on {len(modelled)} series")
            say(10, f"Fitting {name} on {len(modelled)} series")
            history = panel[panel["unique_id"].isin(set(modelled))].reset_index(drop=True)
            with warnings.catch_warnings(), limited_threads():  # SHOPSENSE_THREADS: no oversubscription
                warnings.simplefilter("ignore")
                if isinstance(model, ClassSelector):
                    model.fit(history, progress=_fit_progress(version, say))
                else:
                    model.fit(history)
                fc = model.predict(horizon, quantiles)
            version.params = {**version.params, **_trained_models(model)}
            version.save(update_fields=["params"])
            if isinstance(model, ClassSelector):
                metrics = _selector_metrics(model)
                method_of = {uid: model.choice_[cls][0] for uid, cls in model.classes_.items()}
            parts.append(fc)
        rest = _known_demand(panel[~panel["unique_id"].isin(set(modelled))])
        if not rest.empty:
            parts.append(_recent_mean_forecast(rest, horizon, quantiles).assign(_recent=True))
        fc = pd.concat(parts, ignore_index=True).sort_values(["unique_id", "step"], kind="mergesort")
        metrics = {**metrics, "n_series": float(fc["unique_id"].nunique()), "n_modelled": float(len(modelled)),
                   "weeks": float((pd.Timestamp(fit_end) - panel["ds"].min()).days // 7)}
        reason = refusal_reason(metrics)
        if reason:  # the active version and its forecasts stay; this one is kept ready, refused
            registry.finish(version, metrics)
            registry.refuse(version, reason)
            return ForecastRun(version, origin, 0, 0, time.perf_counter() - started, fit_end)
        registry.report_progress(version, 80, "Storing forecasts")
        say(80, "Storing forecasts")
        classes = dm.classify_demand(_known_demand(panel)).set_index("unique_id")["demand_class"]
        n_modelled = _store(version, origin, horizon, quantiles, fc, panel, classes, name, method_of)
        registry.finish(version, metrics)
        registry.activate(version)
    except Exception as exc:
        registry.fail(version, exc)
        raise
    return ForecastRun(version, origin, int(fc["unique_id"].nunique()), n_modelled, time.perf_counter() - started,
                       fit_end)


def refusal_reason(metrics: dict[str, float]) -> str:
    """Why forecasts with these ``metrics`` must not replace the active ones ("" when they may).

    ``INVENTORY["MIN_TRAINING"]`` (weeks of history, series); against the active version: at least half
    its series, and a backtest WAPE (the selector's validation) at most :data:`WAPE_TOLERANCE` above its own:
    backtests at two origins differ by noise, and a stricter rule would keep last week's forecasts for ever.
    """
    need = inventory_settings.MIN_TRAINING
    minimums = [
        registry.Minimum("weeks of sales history", metrics["weeks"], float(need["weeks"]),
                         'INVENTORY["MIN_TRAINING"]["weeks"]'),
        registry.Minimum("products with sales", metrics["n_series"], float(need["series"]),
                         'INVENTORY["MIN_TRAINING"]["series"]'),
    ]
    active = registry.active_version(MODEL_KIND)
    old = (active.metrics or {}) if active is not None else {}
    if "n_series" in old:
        minimums.append(registry.Minimum("products with sales", metrics["n_series"], old["n_series"] / 2,
                                         f"half of the active {active}'s {old['n_series']:,.0f}"))
    reason = registry.shortfall(minimums)
    limit = old.get("backtest_wape", math.inf) * (1 + WAPE_TOLERANCE)
    if not reason and metrics.get("backtest_wape", 0.0) > limit:
        reason = (f"Worse than the active version: backtest WAPE {metrics['backtest_wape']:.4f} against the active "
                  f"{active}'s {old['backtest_wape']:.4f} (more than {WAPE_TOLERANCE:.0%} worse).")
    return reason


def _fit_progress(version: ModelVersion, say: Progress) -> FitProgress:
    """The selector's per-fit progress as 10-80 % of the run, with the time left from the fits' costs."""
    started = time.perf_counter()

    def report(done: float, total: float, label: str) -> None:
        percent = 10 + int(70 * done / total)
        left = (time.perf_counter() - started) * (total - done) / done if done else None
        registry.report_progress(version, percent, f"Fitted {label}")
        say(percent, f"Fitted {label}", left)

    return report


def _store(
    version: ModelVersion,
    origin: dt.date,
    horizon: int,
    quantiles: Sequence[float],
    fc: pd.DataFrame,
    panel: pd.DataFrame,
    classes: pd.Series,
    name: str,
    method_of: dict[str, str],
) -> int:
    qcols = [quantile_column(t) for t in quantiles]
    ids = fc["unique_id"].drop_duplicates().tolist()
    n = len(ids)
    mean = fc["mean"].to_numpy(dtype=float).reshape(n, horizon)
    qs = {col: fc[col].to_numpy(dtype=float).reshape(n, horizon) for col in qcols}
    flags = fc["_recent"].eq(True) if "_recent" in fc else pd.Series(False, index=fc.index)
    recent = flags.to_numpy(dtype=bool).reshape(n, horizon)[:, 0]
    tail = panel.groupby("unique_id", sort=False).tail(HISTORY_KEEP_WEEKS).groupby("unique_id")["y"].apply(list)
    rows = []
    for i, uid in enumerate(ids):
        rows.append(
            DemandForecast(
                product_id=int(uid),
                origin=origin,
                horizon=horizon,
                period_days=7,
                mean=[round(float(v), 4) for v in mean[i]],
                quantiles={col: [round(float(v), 4) for v in qs[col][i]] for col in qcols},
                method="recent_mean" if recent[i] else method_of.get(uid, name),
                demand_class=str(classes.get(uid, "")),
                history=[float(v) for v in tail.get(uid, [])],
                model_version=version,
            )
        )
    registry.store_artifact(
        version,
        {"product_ids": np.asarray([int(u) for u in ids], dtype=np.int64), "mean": mean, **qs},
        {"origin": origin.isoformat(), "columns": ["mean", *qcols], "period_days": 7},
    )
    with transaction.atomic():
        DemandForecast.objects.filter(origin=origin, product_id__in=[int(u) for u in ids]).delete()
        DemandForecast.objects.bulk_create(rows, batch_size=1000)
    return int((~recent).sum())
