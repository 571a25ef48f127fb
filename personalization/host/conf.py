"""Namespaced, lazily read settings for the ShopSense apps (modelled on DRF's ``api_settings``).

Each app has one settings dict (``PERSONALIZATION``, ``PRICING``, ``INVENTORY``) whose keys override
the app's ``DEFAULTS``. Values are read on access and the cache is dropped on ``setting_changed``, so
``override_settings`` works in tests. Keys listed in ``import_strings`` hold dotted paths that are
imported on read.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string


class AppSettings:
    """Attribute access to one app's settings dict, with defaults and dotted-path imports."""

    def __init__(self, setting_name: str, defaults: dict[str, Any], import_strings: frozenset[str] = frozenset()):
        self.setting_name = setting_name
        self.defaults = defaults
        self.import_strings = import_strings
        self._cache: dict[str, Any] = {}
        setting_changed.connect(self._on_setting_changed, weak=False)

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, self.setting_name, None) or {}
        return value if isinstance(value, dict) else {}

    def __getattr__(self, name: str) -> Any:
        if name not in self.defaults:
            raise AttributeError(f"Invalid {self.setting_name} setting: {name!r}")
        if name in self._cache:
            return self._cache[name]
        value = self.user_settings.get(name, self.defaults[name])
        if isinstance(self.defaults[name], dict) and isinstance(value, dict):
            value = {**self.defaults[name], **value}
        if name in self.import_strings and isinstance(value, str):
            value = import_string(value)
        self._cache[name] = value
        return value

    def reload(self) -> None:
        self._cache.clear()

    def _on_setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        if setting in {self.setting_name, "REDIS_URL"}:
            self.reload()


PERSONALIZATION_DEFAULTS: dict[str, Any] = {
    # The moment every job (profiles, recommender training, price elasticities, forecasts and restock plans)
    # works as of: "now", or an ISO 8601 date (the end of that day) or date-time (personalization.host.clock).
    "REFERENCE_TIME": "now",
    # Dotted path of the class that reads shop facts and writes prices (see adapters.ShopAdapter).
    "SHOP_ADAPTER": "personalization.host.adapters.DefaultShopAdapter",
    # Field names (or ``__`` lookups) the default adapter reads on the host's models.
    "PRODUCT_FIELDS": {
        "price": "price",
        "unit_cost": "unit_cost",
        "stock": "stock",
        "on_order": None,
        "category": "category",
        # A to-many lookup naming all of a product's categories (e.g. "categories__name"); None: the
        # single "category" above is the only one.
        "categories": None,
        "active": "is_active",
        "name": "name",
        "description": "description",
        "sku": "sku",
    },
    # "status": the order's status field (None: every order is a sale).
    "ORDER_FIELDS": {"user": "user", "placed_at": "created_at", "status": None},
    # Orders in these statuses are no sale (matched case-insensitively): their lines are never read.
    "NON_SALE_ORDER_STATUSES": ("cancelled", "canceled"),
    "ORDER_LINE_FIELDS": {"order": "order", "product": "product", "quantity": "quantity", "price": "price"},
    # Prices shown in widgets, tags and the admin (personalization.host.money): an ISO 4217 code, an optional
    # symbol overriding the code's, and where the symbol goes; the number follows the active locale.
    "CURRENCY": "GBP",
    "CURRENCY_SYMBOL": None,
    "CURRENCY_FORMAT": "{symbol}{amount}",
    # Record a purchase event whenever a host order line is saved (opt-in).
    "CAPTURE_ORDER_LINES": False,
    # Buffer events in Redis (when REDIS_URL is set) and flush them in bulk.
    "EVENT_BUFFER": True,
    "EVENT_BUFFER_KEY": "shopsense:events:buffer",
    # How many Redis lists the buffer is split into; up to this many flushers drain it side by side.
    "EVENT_BUFFER_SHARDS": 1,
    "EVENT_FLUSH_BATCH_SIZE": 5000,
    "EVENT_FLUSH_THRESHOLD": 1000,
    "EVENT_FLUSH_LOCK_SECONDS": 120,
    "EVENT_BATCH_MAX": 1000,
    # Prefix of the serving keys in Redis (model-registry generation, served lists, visitors' recent events).
    "REDIS_KEY_PREFIX": "shopsense",
    # How far in the future a client timestamp may lie (clock skew) before it is refused.
    "EVENT_MAX_CLOCK_SKEW_SECONDS": 300,
    # Rates of the apps' API throttles; a rate of the same scope in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    # wins, so a host tunes them where DRF users expect (the demo reads THROTTLE_ANON / _USER / _EVENTS).
    "API_THROTTLE_RATES": {"anon": "120/min", "user": "2000/min", "events": "600/min"},
    # The earliest timestamp an event may carry (ISO 8601); older ones are a client's bug, not history.
    "EVENT_EARLIEST_TIMESTAMP": "2000-01-01T00:00:00+00:00",
    # GET /api/health/ calls the worker stale when its last heartbeat (every 30 s) is older than this: a
    # worker that stopped shows within 75 s, while one late or missed heartbeat is not an alarm.
    "WORKER_HEARTBEAT_STALE_SECONDS": 75,
    # Customer profiles and segments (personalization/profiles/); a partial dict overrides single keys.
    "PROFILES": {
        "SEGMENT_K_RANGE": (2, 8),  # k of K-means, chosen by silhouette within this range (inclusive)
        "WHOLESALE_BASKET_UNITS": 100,  # average units per order from which a customer counts as wholesale
        "CLV_HORIZON_DAYS": 90,
        # The as-of of recency, age and CLV: None follows PERSONALIZATION["REFERENCE_TIME"]; "now" or an ISO
        # date / date-time pins it for the profiles alone (see personalization.host.clock).
        "REFERENCE_TIME": None,
        # A rebuild whose result is absurd keeps the current profiles and segments (profiles.services.absurdity):
        # this many customers or more all in one segment, or the median recency moving by more than these days.
        "REFUSE_ONE_SEGMENT_FROM": 20,
        "REFUSE_RECENCY_JUMP_DAYS": 365,
        "CLV_MAX_FIT_CUSTOMERS": 200_000,  # the CLV models are fitted on a random sample beyond this
        "SCATTER_POINTS": 2_000,  # customers sampled for the segments' scatter plot
        "RANDOM_STATE": 0,
        "BUILD_LOCK_SECONDS": 3_600,
    },
}

personalization_settings = AppSettings(
    "PERSONALIZATION", PERSONALIZATION_DEFAULTS, import_strings=frozenset({"SHOP_ADAPTER"})
)
