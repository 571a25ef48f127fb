"""Template tags of the pricing app: the current price and the prior price of a reduction.

Load with ``{% load pricing_tags %}``::

    {% current_price product %}            the price every shopper pays now (via the shop adapter)
    {% prior_price product as was %}        the lowest price in the 30 days before the current
                                            reduction started ("" when there is no reduction)
    {% price_tag product %}                 the "was / now" widget (pricing/price_tag.html)

Prices never depend on who is looking: there is one price for every shopper (no personalised prices).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.db import models

from personalization.host.adapters import get_adapter

from ..selectors import prior_price as _prior_price

register = template.Library()


@register.simple_tag
def current_price(product: models.Model) -> Decimal:
    """The product's current price, read through the shop adapter."""
    return get_adapter().get_price(product)


@register.simple_tag
def prior_price(product: models.Model) -> Decimal | str:
    """The prior price of the current reduction (see :func:`pricing.selectors.prior_price`), else ``""``."""
    value = _prior_price(product)
    return "" if value is None else value


@register.inclusion_tag("pricing/price_tag.html")
def price_tag(product: models.Model) -> dict[str, Any]:
    """The "was / now" price: the current price, with the prior price struck through during a reduction."""
    now = get_adapter().get_price(product)
    was = _prior_price(product)
    return {
        "product": product,
        "now": now,
        "was": was,
        "percent_off": int(round((1 - now / was) * 100)) if was else None,
    }
