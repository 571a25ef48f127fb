"""The inventory app's services, in one place for views, admin actions, commands and tasks.

* forecasting — :func:`forecast_demand` (weekly panel from order lines, served forecaster, stored forecasts);
* planning — :func:`plan_restock`, :func:`compute_plan` (safety stock, reorder point, order-up-to);
* purchasing — :func:`create_purchase_orders`, :func:`mark_ordered`, :func:`receive_purchase_order`
  (ordered ones only), :func:`set_suggestion_status`, :func:`order_total`, :func:`purchase_orders_csv`.

:func:`run_planning` is the nightly job: forecast, then plan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .forecasting import (
    ForecastError,
    ForecastRun,
    Progress,
    demand_panel,
    forecast_demand,
    planning_date,
    week_origin,
)
from .planning import PlanInput, PlanResult, PlanSummary, PolicyValues, compute_plan, on_order_by_product, plan_restock
from .purchasing import (
    PurchasingError,
    create_purchase_orders,
    fill_unit_costs,
    line_total,
    mark_ordered,
    order_total,
    purchase_orders_csv,
    receive_purchase_order,
    set_suggestion_status,
)

__all__ = [
    "ForecastError",
    "ForecastRun",
    "PlanInput",
    "PlanResult",
    "PlanSummary",
    "PolicyValues",
    "PurchasingError",
    "PlanningRun",
    "compute_plan",
    "create_purchase_orders",
    "demand_panel",
    "fill_unit_costs",
    "forecast_demand",
    "line_total",
    "mark_ordered",
    "on_order_by_product",
    "order_total",
    "plan_restock",
    "planning_date",
    "purchase_orders_csv",
    "receive_purchase_order",
    "run_planning",
    "set_suggestion_status",
    "week_origin",
]


@dataclass(frozen=True)
class PlanningRun:
    forecast: ForecastRun | None
    plan: PlanSummary


def run_planning(forecast: bool = True, today: dt.date | None = None, forecaster: str | None = None,
                 progress: Progress | None = None) -> PlanningRun:
    """Refresh the forecasts (unless ``forecast`` is False; ``forecaster`` overrides the served one) and plan
    restocking for every product; ``progress(percent, stage, seconds_left)`` hears how far it got."""
    say = progress or (lambda percent, stage, left=None: None)
    run = None
    if forecast:  # the forecast is 0-90 % of the run, the plan the rest
        def forecast_progress(percent: int, stage: str, left: float | None = None) -> None:
            say(percent * 9 // 10, f"Forecast: {stage}", left)

        run = forecast_demand(week_origin(today) if today else None, forecaster=forecaster, progress=forecast_progress)
    say(90 if forecast else 0, "Planning restock")
    return PlanningRun(run, plan_restock(today))
