"""Read-only pricing queries: the prior price of a reduction (EU Omnibus rule) and price history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import models

from personalization.host.adapters import get_adapter

from .conf import pricing_settings
from .models import PriceChange, PriceSuggestion


def reduction_start(changes: list[PriceChange]) -> PriceChange | None:
    """The first change of the price reduction in force now (``changes`` oldest first), or ``None``.

    A reduction is the run of consecutive price cuts that ends with the latest change; a later rise
    ends it. Successive cuts therefore keep the anchor of the first cut (the prior price does not roll).
    """
    start = None
    for change in reversed(changes):
        if change.new_price < change.old_price:
            start = change
        else:
            break
    return start


def prior_price(product: models.Model, *, days: int | None = None) -> Decimal | None:
    """The lowest price in the ``days`` (default 30) before the current reduction started; ``None`` if no reduction.

    Read from the :class:`PriceChange` history: the price in force when the window opened (the last
    change before it, else the first change's old price) and every price set inside the window.
    ``None`` too when that lowest price is not above the current price (nothing to show as "was").
    """
    days = int(pricing_settings.PRIOR_PRICE_DAYS if days is None else days)
    changes = list(PriceChange.objects.filter(product_id=product.pk).order_by("changed_at", "id"))
    start = reduction_start(changes)
    if start is None:
        return None
    window_open = start.changed_at - dt.timedelta(days=days)
    before = [c for c in changes if c.changed_at <= window_open]
    inside = [c for c in changes if window_open < c.changed_at < start.changed_at]
    prices = [before[-1].new_price] if before else [(inside[0] if inside else start).old_price]
    prices += [c.new_price for c in inside]
    lowest = min(prices)
    return lowest if lowest > get_adapter().get_price(product) else None


def price_history(product: models.Model, *, limit: int = 200) -> tuple[list[PriceChange], list[PriceSuggestion]]:
    """The product's latest ``limit`` price changes and suggestions, oldest first (for charts)."""
    changes = list(PriceChange.objects.filter(product_id=product.pk).order_by("-changed_at", "-id")[:limit])
    suggestions = list(PriceSuggestion.objects.filter(product_id=product.pk).order_by("-created_at", "-id")[:limit])
    return changes[::-1], suggestions[::-1]
