"""Storefront template tags of the inventory app: ``{% load inventory_tags %}``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.db import models

from personalization.host.adapters import get_adapter

from ..conf import inventory_settings
from ..models import PurchaseOrder, PurchaseOrderLine

register = template.Library()


def next_arrival(product: models.Model) -> dt.date | None:
    """Earliest expected arrival of an *ordered* purchase order for ``product`` (a draft was never sent to the
    supplier, so it promises nothing to a customer)."""
    return (
        PurchaseOrderLine.objects.filter(
            product_id=product.pk,
            purchase_order__status=PurchaseOrder.Status.ORDERED,
            purchase_order__expected_arrival__isnull=False,
        )
        .order_by("purchase_order__expected_arrival")
        .values_list("purchase_order__expected_arrival", flat=True)
        .first()
    )


def stock_badge_context(product: models.Model) -> dict[str, Any]:
    """State of the badge: ``low`` ("only N left"), ``in``, ``incoming`` (out, back on a date) or ``out``."""
    stock = get_adapter().get_stock(product)
    if stock > 0:
        state = "low" if stock <= int(inventory_settings.LOW_STOCK_THRESHOLD) else "in"
        return {"state": state, "stock": stock, "arrival": None}
    arrival = next_arrival(product)
    return {"state": "incoming" if arrival else "out", "stock": 0, "arrival": arrival}


@register.inclusion_tag("inventory/stock_badge.html")
def stock_badge(product: models.Model) -> dict[str, Any]:
    """``{% stock_badge product %}``: "Only 3 left", "In stock", "Back in stock on 12 May" or "Out of stock"."""
    return stock_badge_context(product)
