"""What an event is: :class:`EventData`, and the checks every event passes before it is stored.

Validation is plain Python (no serializer): it runs once per event on the storefront's request path
and a thousand times per API batch, so it has to be cheap. The same checks run again in the flush on
what comes back from the buffer (:func:`personalization.capture.services.flush_buffer`).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..host.conf import personalization_settings
from ..host.ids import is_id
from ..host.text import CONTROL_MESSAGE, is_plain
from ..models import Event, EventSource, EventType

EVENT_TYPES = frozenset(EventType.values)
EVENT_SOURCES = frozenset(EventSource.values)
PRODUCT_EVENTS = frozenset({EventType.VIEW, EventType.CART, EventType.PURCHASE, EventType.IMPRESSION, EventType.CLICK})
MAX_QUANTITY = 1_000_000
MAX_PRICE = Decimal("1e10")
CENT = Decimal("0.01")


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
    user_id: int | str | None = None
    session_key: str = ""
    product_id: int | str | None = None
    quantity: int = 1
    price: Decimal | None = None
    query: str = ""
    recommendation_id: str = ""
    source: str = EventSource.WEB
    received_at: dt.datetime = field(default_factory=timezone.now)

    def to_json(self) -> str:
        """The event as one compact JSON object (what the Redis buffer holds)."""
        return json.dumps(
            {
                "event_type": self.event_type,
                "timestamp": self.timestamp.isoformat(),
                "client_event_id": self.client_event_id,
                "user_id": self.user_id,
                "session_key": self.session_key,
                "product_id": self.product_id,
                "quantity": self.quantity,
                "price": None if self.price is None else str(self.price),
                "query": self.query,
                "recommendation_id": self.recommendation_id,
                "source": self.source,
                "received_at": self.received_at.isoformat(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> EventData:
        """Read back :meth:`to_json`'s output; raises ``ValueError``/``KeyError``/``TypeError`` if malformed."""
        data = json.loads(raw)
        data["timestamp"] = dt.datetime.fromisoformat(data["timestamp"])
        data["received_at"] = dt.datetime.fromisoformat(data["received_at"])
        data["price"] = None if data["price"] is None else Decimal(data["price"])
        return cls(**data)

    def to_model(self) -> Event:
        """An unsaved :class:`~personalization.models.Event`."""
        return Event(
            event_type=self.event_type,
            timestamp=self.timestamp,
            client_event_id=self.client_event_id,
            user_id=self.user_id,
            session_key=self.session_key,
            product_id=self.product_id,
            quantity=self.quantity,
            price=self.price,
            query=self.query,
            recommendation_id=self.recommendation_id,
            source=self.source,
            received_at=self.received_at,
        )


def is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object_id(value: Any) -> int | str | None:
    """A primary key as events carry it: an int, or text for hosts with UUID / text keys."""
    if is_whole(value):
        return value if is_id(value) else None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= 64:
        return value
    return None


def _text(value: Any, limit: int, errors: dict[str, str], name: str) -> str:
    """``value`` as plain text of at most ``limit`` characters; a bad value adds its message to ``errors``."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        errors[name] = f"must be text of at most {limit} characters."
        return ""
    if not is_plain(value):
        errors[name] = CONTROL_MESSAGE
        return ""
    return value


def build_event(
    *,
    event_type: Any,
    user_id: Any = None,
    session_key: Any = "",
    product_id: Any = None,
    quantity: Any = 1,
    price: Any = None,
    query: Any = "",
    recommendation_id: Any = "",
    source: Any = EventSource.WEB,
    client_event_id: Any = None,
    timestamp: Any = None,
    now: dt.datetime | None = None,
) -> EventData:
    """Check one event's fields (not whether its product exists) and return it normalised.

    Types are strict — a quantity is a whole number, not the text ``"2"`` — because the same
    checks guard the public events API. Raises :class:`InvalidEvent` with a message per bad field.
    """
    errors: dict[str, str] = {}
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        errors["event_type"] = f"must be one of {', '.join(EventType.values)}, not {repr(event_type)[:40]}."
        event_type = None  # not a str: the checks below compare it with the known types
    if user_id is not None:
        user_id = _object_id(user_id)
        if user_id is None:
            errors["user"] = "must be a user id (a whole number from 1)."
    session = _text(session_key, 64, errors, "session_key")
    if user_id is None and not session and "user" not in errors and "session_key" not in errors:
        errors["session_key"] = "an event needs a signed-in user or a session key."
    if product_id is not None:
        product_id = _object_id(product_id)
        if product_id is None:
            errors["product"] = "must be a product id (a whole number from 1)."
    elif event_type in PRODUCT_EVENTS:
        errors["product"] = f"a {event_type} event needs a product."
    if not is_whole(quantity) or not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = f"must be a whole number from 1 to {MAX_QUANTITY:,}."
    if price is not None:
        price = _parse_price(price)
        if price is None:
            errors["price"] = "must be a non-negative amount below 10,000,000,000."
    query = _text(query, 255, errors, "query").strip()
    if event_type == EventType.SEARCH and not query and "query" not in errors:
        errors["query"] = "a search event needs the search text."
    rec = _text(recommendation_id, 64, errors, "recommendation_id")
    if not isinstance(source, str) or source not in EVENT_SOURCES:
        errors["source"] = f"must be one of {', '.join(EventSource.values)}."
    if client_event_id is not None:
        if not (isinstance(client_event_id, str) and 1 <= len(client_event_id) <= 100):
            errors["client_event_id"] = "must be text of 1 to 100 characters."
        elif not is_plain(client_event_id):
            errors["client_event_id"] = CONTROL_MESSAGE
    now = now or timezone.now()
    when = _parse_timestamp(timestamp, now)
    if isinstance(when, str):
        errors["timestamp"] = when
    if errors:
        raise InvalidEvent(errors)
    return EventData(
        event_type=event_type,
        timestamp=when,  # type: ignore[arg-type]
        client_event_id=client_event_id or uuid.uuid4().hex,
        user_id=user_id,
        session_key=session,
        product_id=product_id,
        quantity=quantity,
        price=price,
        query=query,
        recommendation_id=rec,
        source=source,
        received_at=now,
    )


def _parse_price(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        price = Decimal(str(value).strip()).quantize(CENT)
        if price < 0 or price >= MAX_PRICE:
            return None
    except (InvalidOperation, ValueError):
        return None
    return price


def _parse_timestamp(value: Any, now: dt.datetime) -> dt.datetime | str:
    """An aware datetime, or the error message."""
    if value is None:
        return now
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            return "must be an ISO 8601 date and time, such as 2024-05-01T12:30:00Z."
        value = parsed
    if not isinstance(value, dt.datetime):
        return "must be an ISO 8601 date and time, such as 2024-05-01T12:30:00Z."
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    skew = dt.timedelta(seconds=personalization_settings.EVENT_MAX_CLOCK_SKEW_SECONDS)
    if value > now + skew:
        return "lies in the future."
    earliest = dt.datetime.fromisoformat(personalization_settings.EVENT_EARLIEST_TIMESTAMP)
    if value < earliest:
        return f"lies before {earliest:%Y-%m-%d} (PERSONALIZATION['EVENT_EARLIEST_TIMESTAMP'])."
    return value
