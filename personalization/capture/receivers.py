"""Receivers that turn the host's signals into events; connected in ``AppConfig.ready()``.

Capture must never break a page: the host sends these signals with ``send()``, so an exception here
would reach its view. Bad events are logged and left out; a failing adapter or broker is logged too.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone

from .. import signals
from ..host.adapters import OrderLineFact, get_adapter
from ..host.conf import personalization_settings
from ..models import EventSource, EventType
from ..ops import jobs
from . import identity, rec_ids
from . import services as capture
from .visitor import actor_of, replace_visitor_id

logger = logging.getLogger(__name__)


def _safe_record(**fields: Any) -> None:
    """Validate and store one event for a page; log instead of raising.

    The product came from the host's own query, so its existence is not checked again here (the
    flush leaves out events whose product was deleted meanwhile): one Redis push per event.
    """
    try:
        event = capture.build_event(**fields)
        capture.record_events([event])
        rec_ids.note_unverified(rec_ids.unverified([event]), "web")  # stored, but never an A/B figure
    except capture.InvalidEvent as exc:
        logger.warning("Event not recorded: %s", exc)
    except Exception:  # noqa: BLE001 - see the module docstring
        logger.exception("Event not recorded: capture failed.")


def _price_of(product: Any) -> Decimal | None:
    try:
        return get_adapter().get_price(product)
    except Exception:  # noqa: BLE001 - an event without a price beats no event
        logger.warning("Could not read the price of product %r for an event.", getattr(product, "pk", None),
                       exc_info=True)
        return None


def _quantity(value: Any) -> Any:
    """Hosts may pass a form's text ("2"); the capture service itself only takes whole numbers."""
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value)
    return value


def on_product_viewed(sender: Any, request: Any, product: Any, recommendation_id: str = "", **kwargs: Any) -> None:
    """``product_viewed`` -> a view event, and a ``click`` event when the view came from a recommendation."""
    actor = actor_of(request)
    _safe_record(
        event_type=EventType.VIEW,
        product_id=product.pk,
        price=_price_of(product),
        recommendation_id=recommendation_id or "",
        **actor,
    )
    if recommendation_id:
        _safe_record(event_type=EventType.CLICK, product_id=product.pk, recommendation_id=recommendation_id, **actor)


def on_product_added_to_cart(
    sender: Any, request: Any, product: Any, quantity: Any = 1, recommendation_id: str = "", **kwargs: Any
) -> None:
    """``product_added_to_cart`` -> a cart event."""
    _safe_record(
        event_type=EventType.CART,
        product_id=product.pk,
        quantity=_quantity(quantity),
        price=_price_of(product),
        recommendation_id=recommendation_id or "",
        **actor_of(request),
    )


def on_search_performed(sender: Any, request: Any, query: Any, **kwargs: Any) -> None:
    """``search_performed`` -> a search event (the text cut to 255 characters)."""
    _safe_record(event_type=EventType.SEARCH, query=str(query or "").strip()[:255], **actor_of(request))


def purchase_event_id(line_id: Any) -> str:
    """The ``client_event_id`` of an order line's purchase event, the same on every capture path."""
    return f"orderline:{line_id}"


def purchase_events(
    lines: list[OrderLineFact], session_key: str = "", source: str = EventSource.ORDER
) -> list[capture.EventData]:
    """One purchase event per order line; the line id makes them idempotent across capture paths.

    A line whose product was deleted, or that makes no valid event (a zero quantity, a negative price),
    is logged and left out, so one odd line never costs the order's other purchases. A line without a
    user (a guest's order, a deleted customer's) is the order's guest purchase.
    """
    events = []
    deleted = [line.line_id for line in lines if line.product_id is None]
    if deleted:
        logger.warning("Left out %d order lines whose product was deleted: %s", len(deleted), deleted[:20])
    for line in lines:
        if line.product_id is None:
            continue
        try:
            events.append(
                capture.build_event(
                    event_type=EventType.PURCHASE,
                    user_id=line.user_id,
                    session_key="" if line.user_id else (session_key or f"order-{line.order_id}"),
                    product_id=line.product_id,
                    quantity=line.quantity,
                    price=line.price,
                    timestamp=line.placed_at,
                    source=source,
                    client_event_id=purchase_event_id(line.line_id),
                )
            )
        except capture.InvalidEvent as exc:
            logger.warning("Purchase of order line %s not recorded: %s", line.line_id, exc)
    return events


def on_order_placed(sender: Any, request: Any, order: Any, **kwargs: Any) -> None:
    """``order_placed`` -> one purchase event per line of the order."""
    try:
        session_key = str(actor_of(request)["session_key"]) if request is not None else ""
        capture.record_events(purchase_events(get_adapter().order_lines_of(order), session_key=session_key))
    except Exception:  # noqa: BLE001 - see the module docstring
        logger.exception("Purchases of order %r not recorded.", getattr(order, "pk", None))


def _record_order_lines(line_ids: list[Any]) -> None:
    try:
        capture.record_events(purchase_events(get_adapter().order_lines_by_id(line_ids)))
    except Exception:  # noqa: BLE001 - runs after the host's commit; must not fail its save
        logger.exception("Purchases of order lines %s not recorded.", line_ids)


def on_order_line_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Opt-in (``CAPTURE_ORDER_LINES``): a purchase event when the host saves a new order line."""
    if not created or raw or not personalization_settings.CAPTURE_ORDER_LINES:
        return
    line_id = instance.pk
    # After the commit: the line (and its order) must be readable, and a rollback records nothing.
    transaction.on_commit(lambda: _record_order_lines([line_id]))


def on_user_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Give the session a new visitor id and enqueue the merge of the old one's guest events.

    The new id means that a visitor id planted in the browser before the login (and known to whoever
    planted it) names none of the customer's later events; the merge takes only the events the
    session captured up to now (see :mod:`.identity`).
    """
    if getattr(request, "session", None) is None:
        return
    visitor = replace_visitor_id(request)
    if not visitor:
        return
    user_id, until = user.pk, timezone.now().isoformat()
    transaction.on_commit(lambda: _enqueue_merge(visitor, user_id, until))


def _enqueue_merge(visitor: str, user_id: Any, until: str) -> None:
    try:
        jobs.enqueue("personalization.merge_guest_events", visitor, user_id, until)
    except Exception:  # noqa: BLE001 - no broker: merge now rather than fail the login
        logger.warning("Could not enqueue the guest-event merge; merging in the request.", exc_info=True)
        try:
            identity.merge_guest_events(visitor, user_id, until)
        except Exception:  # noqa: BLE001
            logger.exception("Guest events not merged into user %s.", user_id)  # the visitor id stays private


def connect() -> None:
    """Connect every receiver (idempotent: each has a dispatch uid)."""
    signals.product_viewed.connect(on_product_viewed, dispatch_uid="personalization.product_viewed")
    signals.product_added_to_cart.connect(
        on_product_added_to_cart, dispatch_uid="personalization.product_added_to_cart"
    )
    signals.search_performed.connect(on_search_performed, dispatch_uid="personalization.search_performed")
    signals.order_placed.connect(on_order_placed, dispatch_uid="personalization.order_placed")
    user_logged_in.connect(on_user_logged_in, dispatch_uid="personalization.user_logged_in")
    post_save.connect(
        on_order_line_saved, sender=settings.SHOP_ORDER_LINE_MODEL, dispatch_uid="personalization.order_line_saved"
    )
