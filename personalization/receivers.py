"""Receivers that turn the host's signals into events; connected in ``AppConfig.ready()``."""
from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models.signals import post_save

from . import capture, signals
from .adapters import OrderLineFact, get_adapter
from .conf import personalization_settings
from .models import EventSource, EventType
from .visitor import SESSION_KEY, actor_of

logger = logging.getLogger(__name__)


def _safe_record(**fields: Any) -> None:
    """Capture must never break a page: a bad event is logged, not raised."""
    try:
        capture.record_event(**fields)
    except capture.InvalidEvent as exc:
        logger.warning("Event not recorded: %s", exc)


def on_product_viewed(sender: Any, request: Any, product: Any, recommendation_id: str = "", **kwargs: Any) -> None:
    _safe_record(
        event_type=EventType.VIEW,
        product_id=product.pk,
        price=get_adapter().get_price(product),
        recommendation_id=recommendation_id,
        **actor_of(request),
    )


def on_product_added_to_cart(
    sender: Any, request: Any, product: Any, quantity: int = 1, recommendation_id: str = "", **kwargs: Any
) -> None:
    _safe_record(
        event_type=EventType.CART,
        product_id=product.pk,
        quantity=quantity,
        price=get_adapter().get_price(product),
        recommendation_id=recommendation_id,
        **actor_of(request),
    )


def on_search_performed(sender: Any, request: Any, query: str, **kwargs: Any) -> None:
    _safe_record(event_type=EventType.SEARCH, query=query[:255], **actor_of(request))


def purchase_events(lines: list[OrderLineFact], session_key: str = "", source: str = EventSource.ORDER) -> list[capture.EventData]:
    """One purchase event per order line; the line id makes them idempotent across capture paths."""
    return [
        capture.build_event(
            event_type=EventType.PURCHASE,
            user_id=line.user_id,
            session_key="" if line.user_id else (session_key or f"order-{line.order_id}"),
            product_id=line.product_id,
            quantity=line.quantity,
            price=line.price,
            timestamp=line.placed_at,
            source=source,
            client_event_id=f"orderline:{line.line_id}",
        )
        for line in lines
    ]


def on_order_placed(sender: Any, request: Any, order: Any, **kwargs: Any) -> None:
    session_key = actor_of(request)["session_key"] if request is not None else ""
    lines = get_adapter().order_lines_of(order)
    capture.record_events(purchase_events(lines, session_key=str(session_key)))


def on_order_line_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw or not personalization_settings.CAPTURE_ORDER_LINES:
        return
    line_id = instance.pk
    transaction.on_commit(lambda: capture.record_events(purchase_events(get_adapter().order_lines_by_id([line_id]))))


def on_user_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    visitor = session.get(SESSION_KEY) if session is not None else None
    if not visitor:
        return
    from .tasks import merge_guest_events

    transaction.on_commit(lambda: merge_guest_events.delay(visitor, user.pk))


def connect() -> None:
    signals.product_viewed.connect(on_product_viewed, dispatch_uid="personalization.product_viewed")
    signals.product_added_to_cart.connect(on_product_added_to_cart, dispatch_uid="personalization.product_added_to_cart")
    signals.search_performed.connect(on_search_performed, dispatch_uid="personalization.search_performed")
    signals.order_placed.connect(on_order_placed, dispatch_uid="personalization.order_placed")
    user_logged_in.connect(on_user_logged_in, dispatch_uid="personalization.user_logged_in")
    post_save.connect(on_order_line_saved, sender=settings.SHOP_ORDER_LINE_MODEL, dispatch_uid="personalization.order_line_saved")
