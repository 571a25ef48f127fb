"""Oscar's own signals forwarded to ShopSense's (``personalization.signals``); connected in ``AppConfig.ready()``.

Each Oscar signal becomes the ShopSense signal a host would send from its views, so the events go through
the same receivers and capture service as in any other shop:

- ``catalogue.signals.product_viewed`` -> ``product_viewed`` (``?rec=`` of the page is the recommendation id);
- ``basket.signals.basket_addition`` -> ``product_added_to_cart`` (the quantity posted with the form);
- ``search.signals.user_search`` -> ``search_performed`` (Oscar sends the session and user, not the request);
- ``order.signals.order_placed`` -> ``order_placed`` (one purchase per order line, then the profile update).

Forwarding never breaks Oscar's page: a failing receiver is logged.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.dispatch import Signal
from oscar.core.loading import get_class

from personalization import signals

logger = logging.getLogger(__name__)


@dataclass
class _SessionRequest:
    """What the capture receivers read from a request (``user``, ``session``) when Oscar sends no request."""

    user: Any
    session: Any


def _forward(signal: Signal, sender: Any, **kwargs: Any) -> None:
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            logger.error("ShopSense receiver %r of an Oscar signal failed.", receiver, exc_info=result)


def _quantity(request: Any) -> Any:
    value = getattr(request, "POST", {}).get("quantity", 1) if request is not None else 1
    return value if value not in ("", None) else 1


def on_product_viewed(sender: Any, product: Any, request: Any = None, **kwargs: Any) -> None:
    if request is None:
        return
    _forward(signals.product_viewed, type(product), request=request, product=product,
             recommendation_id=request.GET.get("rec", ""))


def on_basket_addition(sender: Any, product: Any, request: Any = None, **kwargs: Any) -> None:
    if request is None:
        return
    _forward(signals.product_added_to_cart, type(product), request=request, product=product,
             quantity=_quantity(request))


def on_user_search(sender: Any, query: Any = "", session: Any = None, user: Any = None, **kwargs: Any) -> None:
    if not str(query or "").strip() or session is None:
        return
    _forward(signals.search_performed, type(sender), request=_SessionRequest(user=user, session=session),
             query=query)


def on_order_placed(sender: Any, order: Any, **kwargs: Any) -> None:
    _forward(signals.order_placed, type(order), request=None, order=order)


def connect() -> None:
    """Connect every receiver (idempotent: each has a dispatch uid)."""
    get_class("catalogue.signals", "product_viewed").connect(
        on_product_viewed, dispatch_uid="shopsense.oscar.product_viewed")
    get_class("basket.signals", "basket_addition").connect(
        on_basket_addition, dispatch_uid="shopsense.oscar.basket_addition")
    get_class("search.signals", "user_search").connect(on_user_search, dispatch_uid="shopsense.oscar.user_search")
    get_class("order.signals", "order_placed").connect(on_order_placed, dispatch_uid="shopsense.oscar.order_placed")
