"""Behaviour capture: validate events, then buffer them in Redis or insert them directly.

Every path that stores an event goes through :func:`record_event` / :func:`record_events`. With
``REDIS_URL`` set (and ``PERSONALIZATION["EVENT_BUFFER"]`` on) events are pushed to a Redis list —
one round trip — and a Celery task flushes the list to the database in bulk; when Redis is not
reachable they are inserted directly, so an event is never dropped silently. ``client_event_id`` is
unique, so flushing the same events twice (a retry after a crash) stores each event once.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import buffer
from .conf import personalization_settings
from .host import get_product_model
from .models import Event, EventSource, EventType

logger = logging.getLogger(__name__)

PRODUCT_EVENTS = frozenset({EventType.VIEW, EventType.CART, EventType.PURCHASE, EventType.IMPRESSION, EventType.CLICK})


class InvalidEvent(ValueError):
    """An event that cannot be stored; ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


@dataclass
class EventData:
    """A validated event, ready to be buffered (as JSON) or inserted."""

    event_type: str
    timestamp: dt.datetime
    client_event_id: str
    user_id: int | None = None
    session_key: str = ""
    product_id: int | None = None
    quantity: int = 1
    price: Decimal | None = None
    query: str = ""
    recommendation_id: str = ""
    source: str = EventSource.WEB
    received_at: dt.datetime = field(default_factory=timezone.now)

    def to_json(self) -> str:
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        data["received_at"] = self.received_at.isoformat()
        data["price"] = None if self.price is None else str(self.price)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> EventData:
        data = json.loads(raw)
        data["timestamp"] = dt.datetime.fromisoformat(data["timestamp"])
        data["received_at"] = dt.datetime.fromisoformat(data["received_at"])
        data["price"] = None if data["price"] is None else Decimal(data["price"])
        return cls(**data)

    def to_model(self) -> Event:
        return Event(**asdict(self))


def build_event(
    *,
    event_type: str,
    user_id: int | None = None,
    session_key: str = "",
    product_id: int | None = None,
    quantity: Any = 1,
    price: Any = None,
    query: str = "",
    recommendation_id: str = "",
    source: str = EventSource.WEB,
    client_event_id: str | None = None,
    timestamp: dt.datetime | str | None = None,
) -> EventData:
    """Check one event's fields (not whether its product exists) and return it normalised.

    Raises :class:`InvalidEvent` with a message per bad field.
    """
    errors: dict[str, str] = {}
    if event_type not in EventType.values:
        errors["event_type"] = f"must be one of {', '.join(EventType.values)}, not {event_type!r}."
    if user_id is None and not session_key:
        errors["session_key"] = "an event needs a signed-in user or a session key."
    if len(session_key) > 64:
        errors["session_key"] = "at most 64 characters."
    if event_type in PRODUCT_EVENTS and product_id is None:
        errors["product"] = f"a {event_type} event needs a product."
    if event_type == EventType.SEARCH and not (query or "").strip():
        errors["query"] = "a search event needs the search text."
    try:
        quantity = int(quantity)
        if quantity < 1 or quantity > 1_000_000:
            raise ValueError
    except (TypeError, ValueError):
        errors["quantity"] = "must be a whole number from 1 to 1,000,000."
    if price is not None:
        try:
            price = Decimal(str(price)).quantize(Decimal("0.01"))
            if price < 0 or price >= Decimal("1e10"):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors["price"] = "must be a non-negative amount."
    if isinstance(timestamp, str):
        parsed = parse_datetime(timestamp)
        if parsed is None:
            errors["timestamp"] = "must be an ISO 8601 date and time."
        timestamp = parsed
    now = timezone.now()
    if timestamp is None and "timestamp" not in errors:
        timestamp = now
    if isinstance(timestamp, dt.datetime):
        if timezone.is_naive(timestamp):
            timestamp = timezone.make_aware(timestamp)
        skew = dt.timedelta(seconds=personalization_settings.EVENT_MAX_CLOCK_SKEW_SECONDS)
        if timestamp > now + skew:
            errors["timestamp"] = "lies in the future."
    if client_event_id is not None and not (1 <= len(str(client_event_id)) <= 100):
        errors["client_event_id"] = "must be 1 to 100 characters."
    if len(query or "") > 255:
        errors["query"] = "at most 255 characters."
    if len(recommendation_id or "") > 64:
        errors["recommendation_id"] = "at most 64 characters."
    if source not in EventSource.values:
        errors["source"] = f"must be one of {', '.join(EventSource.values)}."
    if errors:
        raise InvalidEvent(errors)
    return EventData(
        event_type=event_type,
        timestamp=timestamp,  # type: ignore[arg-type]
        client_event_id=str(client_event_id) if client_event_id else uuid.uuid4().hex,
        user_id=user_id,
        session_key=session_key,
        product_id=product_id,
        quantity=quantity,
        price=price,
        query=(query or "").strip(),
        recommendation_id=recommendation_id or "",
        source=source,
    )


def missing_product_ids(product_ids: Iterable[int | None]) -> set[int]:
    """The ids among ``product_ids`` that name no product of the shop (one query)."""
    wanted = {pk for pk in product_ids if pk is not None}
    if not wanted:
        return set()
    found = set(get_product_model()._default_manager.filter(pk__in=wanted).values_list("pk", flat=True))
    return wanted - found


def record_event(**fields: Any) -> EventData:
    """Validate and store one event (see :func:`build_event` for the fields)."""
    event = build_event(**fields)
    if event.product_id is not None and missing_product_ids([event.product_id]):
        raise InvalidEvent({"product": f"no product with id {event.product_id}."})
    record_events([event])
    return event


def record_events(events: Sequence[EventData], *, use_buffer: bool = True) -> int:
    """Store validated events: buffered in Redis when it is up, inserted directly otherwise.

    Inside a transaction the Redis push waits for the commit, so a rolled-back order never leaves a
    purchase behind in the buffer. Returns how many events were handed over.
    """
    if not events:
        return 0
    if use_buffer and personalization_settings.EVENT_BUFFER and buffer.is_configured():
        payload = [event.to_json() for event in events]

        def push() -> None:
            if not buffer.push(payload):
                insert_events(events)

        transaction.on_commit(push)
    else:
        insert_events(events)
    return len(events)


def insert_events(events: Sequence[EventData]) -> int:
    """Insert events in bulk, ignoring ones already stored (same ``client_event_id``).

    Events whose product or user was deleted since they were captured cannot be stored; they are
    left out and logged. Returns the number of events handed to the database.
    """
    gone_products = missing_product_ids(event.product_id for event in events)
    user_ids = {event.user_id for event in events if event.user_id is not None}
    gone_users: set[int] = set()
    if user_ids:
        found = set(get_user_model()._default_manager.filter(pk__in=user_ids).values_list("pk", flat=True))
        gone_users = user_ids - found
    keep = [e for e in events if e.product_id not in gone_products and e.user_id not in gone_users]
    if len(keep) < len(events):
        logger.warning("Left out %d events whose product or user no longer exists.", len(events) - len(keep))
    with transaction.atomic():
        Event.objects.bulk_create([event.to_model() for event in keep], batch_size=1000, ignore_conflicts=True)
    return len(keep)


def flush_buffer(*, max_events: int | None = None) -> int:
    """Move buffered events from Redis to the database; safe to run again after a crash."""
    return buffer.flush(lambda raw: insert_events([EventData.from_json(item) for item in raw]), max_events=max_events)


def merge_guest_events(session_key: str, user_id: int) -> int:
    """Attach a guest's events (by visitor id) to the user who just signed in."""
    if not session_key:
        return 0
    flush_buffer()
    return Event.objects.filter(session_key=session_key, user__isnull=True).update(user_id=user_id)
