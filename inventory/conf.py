"""The inventory app's settings: one ``INVENTORY`` dict whose keys override :data:`INVENTORY_DEFAULTS`.

Read lazily through :class:`personalization.host.conf.AppSettings`, so ``override_settings(INVENTORY=...)``
works in tests.
"""

from __future__ import annotations

from typing import Any

from personalization.host.conf import AppSettings

INVENTORY_DEFAULTS: dict[str, Any] = {
    # Which forecaster is served: "selector" (the benchmarked configuration of inventory.ml.served: per
    # demand class, the best of local statsforecast models, the global GBM and, with PyTorch, the MLP, by
    # rolling-origin backtest; the most accurate and the most CPU), "gbm" (the global gradient-boosted model
    # with quantile heads alone, about a third of the CPU) or a local statsforecast method name ("TSB",
    # "IMAPA", "WindowAverage", ...), the cheapest.
    "FORECASTER": "selector",
    # Overrides of the served GlobalGBMForecaster's settings (e.g. {"max_iter": 50} for a quicker fit).
    "GBM_PARAMS": {},
    "FORECAST_HORIZON_WEEKS": 4,
    "FORECAST_QUANTILES": (0.5, 0.9),
    # Weeks of order history read to build the demand panel (None: all of it).
    "HISTORY_WEEKS": None,
    # The day plans are made for: None follows PERSONALIZATION["REFERENCE_TIME"] (default "now"); "now" or an
    # ISO date / date-time pins it for inventory alone (personalization.host.clock).
    "REFERENCE_TIME": None,
    # New forecasts replace the active ones only when made from at least this much history (and from at least
    # half the products of the active version, with a backtest WAPE not worse than its own).
    "MIN_TRAINING": {"weeks": 8, "series": 1},
    # Used when no policy (product, category or shop-wide) exists.
    "DEFAULT_POLICY": {
        "lead_time_days": 7.0,
        "lead_time_std_days": 0.0,
        "review_period_days": 7.0,
        "review_policy": "sS",
        "service_level_type": "csl",
        "service_level": 0.95,
        "min_order_quantity": 0,
        "pack_size": 1,
        "max_days_of_cover": None,
        "holding_cost_rate": 0.25,
        "order_cost": None,
        "do_not_order_below": 0,
        "order_without_demand": False,
    },
    # A product whose forecast demand over the lead time plus the review period is below this many units
    # has no demand to order for: no order, no stock-out warning (unless its policy orders without demand).
    "NO_DEMAND_BELOW": 0.5,
    # Exception thresholds: on hand + on order above EXCESS_FACTOR x order-up-to is excess; stock without
    # a sale for DEAD_STOCK_WEEKS weeks is dead.
    "EXCESS_FACTOR": 2.0,
    "DEAD_STOCK_WEEKS": 13,
    # Purchase orders in these statuses count as stock on order (a draft is a committed intent, so a
    # suggestion turned into a draft is not suggested again).
    "ON_ORDER_STATUSES": ("draft", "ordered"),
    # Storefront badge: "only N left" at or below this many units.
    "LOW_STOCK_THRESHOLD": 5,
    "PLAN_LOCK_SECONDS": 3_600,
    "RANDOM_STATE": 0,
}

inventory_settings = AppSettings("INVENTORY", INVENTORY_DEFAULTS)
