"""The ``PERSONALIZATION["OSCAR"]`` settings of the Oscar adapter (a partial dict overrides single keys)."""
from __future__ import annotations

from typing import Any

from personalization.host.conf import personalization_settings

OSCAR_DEFAULTS: dict[str, Any] = {
    # Where a product's unit cost comes from: the code of a product attribute (e.g. "cost_price"), or else a
    # field of the stock record the strategy picks (a forked partner app's "cost_price"); None: no unit cost.
    "UNIT_COST_ATTRIBUTE": None,
    "UNIT_COST_STOCKRECORD_FIELD": None,
    # Orders in these statuses are no sales: their lines are left out of every order-line read.
    "NON_SALE_STATUSES": ["Cancelled", "Canceled"],
}


def oscar_settings() -> dict[str, Any]:
    """The defaults above with the host's ``PERSONALIZATION["OSCAR"]`` keys on top (read on each call)."""
    value = personalization_settings.user_settings.get("OSCAR") or {}
    return {**OSCAR_DEFAULTS, **(value if isinstance(value, dict) else {})}
