"""Behaviour capture: validate events, then buffer them in Redis or insert them directly.

Every path that stores an event goes through :func:`record_event` / :func:`record_events` (the events
API through :func:`accept_batch`). With ``REDIS_URL`` set (and ``PERSONALIZATION["EVENT_BUFFER"]``
on) events are pushed to a Redis list — one round trip — and a Celery task flushes the list to the
database in bulk; when Redis is not reachable they are inserted directly, so an event is never
dropped silently. ``client_event_id`` is unique, so flushing the same events twice (a retry after a
crash) stores each event once.

What an event is and the checks it passes are in :mod:`personalization.capture.events`.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, connections, models, router, transaction
from django.utils import timezone

from ..host import get_product_model
from ..host.conf import personalization_settings
from ..models import Event, EventId, EventSource, EventType
from ..ops import redis_conn
from . import buffer, partitions, rec_ids
from .events import (
    EventData,
    InvalidEvent,
    build_event,
    is_whole,
)

logger = logging.getLogger(__name__)

# Client ids sent through the API are stored under a prefix naming the sender (``api:u<user>:`` or
# ``api:k<key>:``, at most ~30 characters), so one client can neither collide with another's ids nor
# pre-empt the ids the shop itself uses (``orderline:<id>``). Event.client_event_id holds 100.
API_CLIENT_ID_MAX = 64


class InvalidBatch(ValueError):
    """A batch of API events that was refused as a whole; ``errors`` lists index, field and message."""

    def __init__(self, detail: str, errors: list[dict[str, Any]]):
        self.detail = detail
        self.errors = errors
        super().__init__(detail)


def _missing_ids(model: type[models.Model], ids: Iterable[Any]) -> set[Any]:
    """The ids among ``ids`` that name no row of ``model`` (one query); malformed ids count as missing."""
    wanted = {pk for pk in ids if pk is not None}
    if not wanted:
        return set()
    pk_field = model._meta.pk
    by_key: dict[Any, Any] = {}
    missing: set[Any] = set()
    for pk in wanted:
        try:
            by_key[pk_field.to_python(pk)] = pk
        except ValidationError:
            missing.add(pk)
    if by_key:
        found = set(model._default_manager.filter(pk__in=list(by_key)).values_list("pk", flat=True))
        missing.update(original for key, original in by_key.items() if key not in found)
    return missing


def missing_product_ids(product_ids: Iterable[Any]) -> set[Any]:
    """The ids among ``product_ids`` that name no product of the shop (one query)."""
    return _missing_ids(get_product_model(), product_ids)


def missing_user_ids(user_ids: Iterable[Any]) -> set[Any]:
    """The ids among ``user_ids`` that name no user (one query)."""
    return _missing_ids(get_user_model(), user_ids)


def record_event(**fields: Any) -> EventData:
    """Validate and store one event (see :func:`build_event` for the fields).

    Raises :class:`InvalidEvent` for a bad field or a product id that names no product.
    """
    event = build_event(**fields)
    if event.product_id is not None and missing_product_ids([event.product_id]):
        raise InvalidEvent({"product": f"no product with id {event.product_id}."})
    record_events([event])
    return event


def record_events(events: Sequence[EventData], *, use_buffer: bool = True) -> int:
    """Store validated events: buffered in Redis when it is up, inserted directly otherwise.

    Inside a transaction the Redis push waits for the commit, so a rolled-back order never leaves a
    purchase behind in the buffer (the direct insert is part of the transaction and rolls back with
    it). Views, add-to-carts and purchases also go to the visitors' recent lists in Redis, which
    serving reads. Returns how many events were handed over.
    """
    if not events:
        return 0
    recent = _recent_entries(events)
    if use_buffer and personalization_settings.EVENT_BUFFER and redis_conn.is_configured():
        _buffer([event.to_json() for event in events], recent)
    else:
        insert_events(events)
        if recent:
            transaction.on_commit(lambda: buffer.note_recent(recent))
    return len(events)


def _buffer(payload: list[str], recent: dict[str, list[str]] | None = None) -> None:
    """Push serialised events after the commit; what Redis does not take is inserted directly."""

    def push() -> None:
        pushed = buffer.push(payload, recent)
        if pushed < len(payload):  # Redis is down: never drop an event, store it directly
            insert_events([EventData.from_json(raw) for raw in payload[pushed:]])

    transaction.on_commit(push)


RECENT_TYPES = frozenset({EventType.VIEW, EventType.CART, EventType.PURCHASE})


def _recent_entries(events: Sequence[EventData]) -> dict[str, list[str]]:
    """The visitors' recent-list entries of these events (``<epoch ms>:<type>:<product>``, oldest first)."""
    recent: dict[str, list[str]] = {}
    for event in events:
        if event.event_type in RECENT_TYPES and event.product_id is not None:
            entry = f"{int(event.timestamp.timestamp() * 1000)}:{event.event_type}:{event.product_id}"
            for key in buffer.recent_keys(event.user_id, event.session_key):
                recent.setdefault(key, []).append(entry)
    return {key: entries[-buffer.RECENT_LENGTH:] for key, entries in recent.items()}


def record_impressions(product_ids: Sequence[int], *, user_id: int | None, session_key: str,
                       recommendation_id: str) -> int:
    """Store one ``impression`` event per product shown in a served list (the serving hot path).

    The fields come from the list itself, so the events are written as buffer JSON directly, without
    :func:`build_event`'s checks. Their ``client_event_id`` is ``imp:<recommendation id>:<product>``, so
    each is stored once even if handed over twice. Returns how many were handed over.
    """
    if not product_ids or not (user_id or session_key):
        return 0
    now = timezone.now().isoformat()
    head = (f'{{"event_type":"impression","timestamp":"{now}","received_at":"{now}","user_id":'
            f'{json.dumps(user_id)},"session_key":{json.dumps(session_key)},"quantity":1,"price":null,"query":"",'
            f'"recommendation_id":{json.dumps(recommendation_id)},"source":"web",')
    payload = [f'{head}"product_id":{int(pk)},"client_event_id":"imp:{recommendation_id}:{int(pk)}"}}'
               for pk in product_ids]
    if personalization_settings.EVENT_BUFFER and redis_conn.is_configured():
        _buffer(payload)
    else:
        insert_events([EventData.from_json(raw) for raw in payload])
    return len(payload)


def insert_events(events: Sequence[EventData]) -> int:
    """Insert events in bulk, ignoring ones already stored (same ``client_event_id``).

    Events whose product or user was deleted since they were captured cannot be stored; they are
    left out and logged. Returns the number of events handed to the database.
    """
    for attempt in (1, 2):
        gone_products = missing_product_ids(event.product_id for event in events)
        gone_users = missing_user_ids(event.user_id for event in events)
        keep = [e for e in events if e.product_id not in gone_products and e.user_id not in gone_users]
        try:
            with transaction.atomic(using=router.db_for_write(Event)):
                _bulk_insert(keep)
        except IntegrityError:
            # A product or user deleted between the check and the insert: check again, once.
            if attempt == 2:
                raise
            continue
        break
    if len(keep) < len(events):
        left_out = [e.client_event_id for e in events if e.product_id in gone_products or e.user_id in gone_users]
        logger.warning(
            "Left out %d events whose product or user no longer exists: %s",
            len(left_out),
            ", ".join(left_out[:20]) + (" …" if len(left_out) > 20 else ""),
        )
    return len(keep)


# Columns written by the bulk insert, in EventData's field order.
EVENT_COLUMNS = (
    "event_type", "timestamp", "client_event_id", "user_id", "session_key", "product_id", "quantity", "price", "query",
    "recommendation_id", "source", "received_at",
)
# From this many events on, PostgreSQL gets them through COPY (about twice as fast as INSERT).
COPY_MIN_EVENTS = 200


def _bulk_insert(events: Sequence[EventData]) -> None:
    """INSERT events, skipping client ids already stored; runs inside the caller's transaction."""
    if not events:
        return
    connection = connections[router.db_for_write(Event)]
    if connection.vendor == "postgresql":
        partitioned = partitions.is_partitioned_cached(connection)
        if partitioned or len(events) >= COPY_MIN_EVENTS:  # a partitioned table has no UNIQUE client id to lean on
            with connection.cursor() as cursor:
                _copy_insert(connection, cursor, events, partitioned)
            return
    Event.objects.bulk_create([event.to_model() for event in events], batch_size=1000, ignore_conflicts=True)


def _copy_insert(connection: Any, cursor: Any, events: Sequence[EventData], partitioned: bool) -> None:
    """COPY into a session-private staging table, then INSERT only the events whose client id is new.

    Unpartitioned: ``INSERT … ON CONFLICT (client_event_id) DO NOTHING``. Partitioned (``partitions``): the ids
    go into ``personalization_eventid`` first (``ON CONFLICT DO NOTHING RETURNING``) and only the events whose
    id came back are inserted, the first of each id in the batch, in the batch's order.
    """
    quote = connection.ops.quote_name
    table = quote(Event._meta.db_table)
    staging = quote(f"{Event._meta.db_table}_staging")
    names = [quote(Event._meta.get_field(name).column) for name in EVENT_COLUMNS]
    columns = ", ".join(names)
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} AS SELECT {columns} FROM {table} WITH NO DATA")
    rows = [(
        e.event_type, e.timestamp, e.client_event_id, e.user_id, e.session_key, e.product_id, e.quantity,
        e.price, e.query, e.recommendation_id, e.source, e.received_at,
    ) for e in events]
    if hasattr(cursor.cursor, "copy"):  # psycopg 3
        with cursor.cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cursor.executemany(f"INSERT INTO {staging} ({columns}) VALUES ({', '.join(['%s'] * len(names))})", rows)
    insert_new_from_staging(connection, cursor, staging, partitioned)
    cursor.execute(f"DELETE FROM {staging}")


def insert_new_from_staging(connection: Any, cursor: Any, staging: str, partitioned: bool) -> int:
    """INSERT the rows of ``staging`` (a quoted table with the columns ``EVENT_COLUMNS``) whose client id is not stored
    yet; returns how many were inserted. Unpartitioned: ``ON CONFLICT (client_event_id) DO NOTHING``.
    Partitioned: through ``personalization_eventid``, the first row of each id in the staging table's order."""
    quote = connection.ops.quote_name
    table = quote(Event._meta.db_table)
    names = [quote(Event._meta.get_field(name).column) for name in EVENT_COLUMNS]
    columns = ", ".join(names)
    unique = quote(Event._meta.get_field("client_event_id").column)
    if partitioned:
        ids = quote(EventId._meta.db_table)
        stamp = quote(Event._meta.get_field("timestamp").column)
        first = (f"SELECT DISTINCT ON ({unique}) {columns}, ctid AS arrival FROM {staging} "
                 f"ORDER BY {unique}, ctid")
        cursor.execute(
            f"WITH first AS ({first}), "
            f"fresh AS (INSERT INTO {ids} ({unique}, {stamp}) SELECT {unique}, {stamp} FROM first "
            f"ON CONFLICT DO NOTHING RETURNING {unique}) "
            f"INSERT INTO {table} ({columns}) SELECT {', '.join('first.' + n for n in names)} FROM first "
            f"JOIN fresh USING ({unique}) ORDER BY first.arrival"
        )
    else:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} ON CONFLICT ({unique}) DO NOTHING")
    return cursor.rowcount


def _store_raw(raw: Sequence[bytes]) -> int:
    """The flush callback: decode buffered events and insert them; what cannot be stored is set aside.

    An item that is not an event (malformed JSON) and an event the database refuses (a value it cannot
    store, a row breaking a constraint) go to the dead-letter list with the reason, and everything else
    in the batch is stored, so that no single item can hold the buffer's head and stop capture for the
    whole shop. A database that cannot be reached raises: the batch stays in the buffer for the next flush.
    """
    events: list[EventData] = []
    items: list[bytes] = []
    malformed: list[bytes] = []
    invalid: dict[str, list[bytes]] = {}
    for item in raw:
        try:
            event = EventData.from_json(item)
        except (ValueError, KeyError, TypeError):
            malformed.append(item)
            continue
        problem = _recheck(event)
        if problem:  # some databases would skip such a row silently (SQLite's INSERT OR IGNORE), others refuse it
            invalid.setdefault(problem, []).append(item)
            continue
        events.append(event)
        items.append(item)
    if malformed:
        buffer.set_aside(malformed, reason="malformed: not a buffered event")
        # not the events themselves: they may hold a visitor id or a search query
        logger.error("Set aside %d malformed buffered events in %s.", len(malformed), buffer.dead_letter_key())
    for problem, bad in invalid.items():
        buffer.set_aside(bad, reason=f"invalid: {problem}")
        logger.error("Set aside %d invalid buffered events in %s.", len(bad), buffer.dead_letter_key())
    return _insert_isolating(events, items, _refused_errors()) if events else 0


def _recheck(event: EventData) -> str:
    """The edge's checks again, on an event read back from the buffer ("" when it passes).

    Events normally pass them before they are buffered; one that did not (buffered by an older version,
    or written straight to Redis) must neither stop the flush nor vanish without a trace.
    """
    try:
        build_event(
            event_type=event.event_type, user_id=event.user_id, session_key=event.session_key,
            product_id=event.product_id, quantity=event.quantity, price=event.price, query=event.query,
            recommendation_id=event.recommendation_id, source=event.source, client_event_id=event.client_event_id,
            timestamp=event.timestamp, now=event.received_at,
        )
    except InvalidEvent as exc:
        return str(exc)
    return ""


def _refused_errors() -> tuple[type[Exception], ...]:
    """What the database raises for a row it refuses (not for being unreachable), wrapped by Django or not
    (the COPY path talks to the driver directly)."""
    driver = connections[router.db_for_write(Event)].Database
    return (DataError, IntegrityError, ValueError, driver.DataError, driver.IntegrityError)


def _insert_isolating(events: list[EventData], items: list[bytes], refused: tuple[type[Exception], ...]) -> int:
    """Insert the events; when the database refuses the batch, halve it until the refused rows are found
    (about log2(batch) extra inserts per bad row) and set those aside with the database's reason."""
    try:
        return insert_events(events)
    except refused as exc:
        if len(events) == 1:
            buffer.set_aside(items, reason=f"refused by the database: {type(exc).__name__}: {str(exc)[:300]}")
            logger.error("Set aside 1 buffered event the database refused (%s) in %s.", type(exc).__name__,
                         buffer.dead_letter_key())
            return 0
    middle = len(events) // 2
    return (_insert_isolating(events[:middle], items[:middle], refused)
            + _insert_isolating(events[middle:], items[middle:], refused))


def flush_buffer(*, max_events: int | None = None) -> int:
    """Move buffered events from Redis to the database; safe to run again after a crash.

    Returns how many events left the buffer (0 when other flushers hold every shard). On a partitioned
    PostgreSQL table it first creates the coming months' partitions (``partitions.ensure_ahead``).
    """
    partitions.ensure_ahead()
    return buffer.flush(_store_raw, max_events=max_events)


# --- the events API ------------------------------------------------------------------------------
API_FIELDS = {
    "type": "event_type",
    "user": "user_id",
    "session_key": "session_key",
    "product": "product_id",
    "quantity": "quantity",
    "price": "price",
    "query": "query",
    "recommendation_id": "recommendation_id",
    "client_event_id": "client_event_id",
    "timestamp": "timestamp",
}
_API_NAME = {"event_type": "type", "user_id": "user"}


@dataclass(frozen=True)
class BatchResult:
    """What :func:`accept_batch` did: events handed over for storage and retries ignored."""

    accepted: int
    duplicates: int


def _invalid(errors: list[dict[str, Any]], total: int) -> InvalidBatch:
    bad = len({error["index"] for error in errors})
    return InvalidBatch(f"{bad} of {total} events are invalid; nothing was stored.", errors)


def accept_batch(items: Any, *, sender_user_id: Any = None, api_key_id: int | None = None,
                 sender_session_key: str = "") -> BatchResult:
    """Validate a batch of API events as a whole and store it, or raise :class:`InvalidBatch`.

    ``api_key_id`` identifies a server, which may name any customer (``user``) or visitor
    (``session_key``); otherwise the events belong to ``sender_user_id``, the signed-in customer, who may
    name no visitor but their own (``sender_session_key``, the visitor id of their session). Client ids
    are namespaced by sender, and events already stored under the same id are counted as duplicates.
    Events whose recommendation id was not issued to their customer or visitor are stored and counted
    (``rec_ids.note_unverified``), never attributed.
    """
    limit = personalization_settings.EVENT_BATCH_MAX
    if not isinstance(items, list) or not items:
        raise InvalidBatch('Send a JSON object {"events": [...]} with at least one event.', [])
    if len(items) > limit:
        raise InvalidBatch(f"A batch holds at most {limit} events; this one has {len(items)}.", [])
    namespace = f"api:k{api_key_id}:" if api_key_id is not None else f"api:u{sender_user_id}:"
    now = timezone.now()
    events: list[EventData] = []
    indexes: list[int] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append({"index": index, "field": "non_field_errors", "message": "Each event must be a JSON object."})
            continue
        fields: dict[str, Any] = {name: item[key] for key, name in API_FIELDS.items() if key in item}
        fields.setdefault("event_type", None)
        item_errors: dict[str, str] = {}
        if "type" not in item:
            item_errors["type"] = "This field is required."
        for key in ("user", "product"):
            value = item.get(key)
            if value is not None and (not is_whole(value) or value < 1):
                item_errors[key] = f"must be a whole number from 1, not {value!r}."
        if api_key_id is None:
            if fields.get("user_id") not in (None, sender_user_id):
                item_errors["user"] = "Only a server API key may send events for another customer."
            fields["user_id"] = sender_user_id
            if isinstance(item.get("session_key"), str) and item["session_key"] not in ("", sender_session_key):
                item_errors["session_key"] = "Only a server API key may send events for another visitor."
        client_id = fields.get("client_event_id")
        if client_id is not None:
            if not isinstance(client_id, str) or not 1 <= len(client_id) <= API_CLIENT_ID_MAX:
                item_errors["client_event_id"] = f"must be text of 1 to {API_CLIENT_ID_MAX} characters."
            elif client_id in seen:
                item_errors["client_event_id"] = f"repeats the id of event {seen[client_id]} in this batch."
            else:
                seen[client_id] = index
                fields["client_event_id"] = namespace + client_id
        try:
            event = build_event(**fields, source=EventSource.API, now=now)
        except InvalidEvent as exc:
            for name, message in exc.errors.items():
                item_errors.setdefault(_API_NAME.get(name, name), message)
        if item_errors:
            errors.extend({"index": index, "field": name, "message": message} for name, message in item_errors.items())
        else:
            events.append(event)
            indexes.append(index)
    if errors:
        raise _invalid(errors, len(items))

    missing_products = missing_product_ids(event.product_id for event in events)
    missing_users = missing_user_ids(event.user_id for event in events) if api_key_id is not None else set()
    for index, event in zip(indexes, events, strict=True):
        if event.product_id in missing_products:
            errors.append({"index": index, "field": "product", "message": f"No product with id {event.product_id}."})
        if event.user_id in missing_users:
            errors.append({"index": index, "field": "user", "message": f"No customer with id {event.user_id}."})
    if errors:
        raise _invalid(errors, len(items))

    # Retries: ids already in the database are reported, not stored again. (Ids still waiting in
    # the Redis buffer are handed over again; the flush stores them once.)
    client_ids = [namespace + cid for cid in seen]
    stored: set[str] = set()
    if client_ids:
        stored.update(Event.objects.filter(client_event_id__in=client_ids).values_list("client_event_id", flat=True))
    fresh = [event for event in events if event.client_event_id not in stored]
    record_events(fresh)
    rec_ids.note_unverified(rec_ids.unverified(fresh), "api")
    return BatchResult(accepted=len(fresh), duplicates=len(events) - len(fresh))

