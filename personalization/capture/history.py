"""Bring a shop's past orders in: one purchase event per historical order line, then one profile rebuild.

Sending ``order_placed`` per past order would update a profile per order (about 65 ms each); this reads
the host's order lines through the adapter in bulk (``order_lines_since``: value rows, not objects),
writes the purchase events in chunks (:func:`~personalization.capture.services.insert_events`: COPY on
PostgreSQL, each chunk its own transaction) and rebuilds the profiles once at the end.

Idempotent: a purchase event is keyed by its order line (``client_event_id = "orderline:<line id>"``,
unique), the key every capture path uses, so lines already captured (by ``order_placed``, by the
order-line receiver or by an earlier import) are counted as already there and never stored twice. An
import stopped half-way is finished by running it again.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.db import connections, router
from django.utils import timezone

from ..host.adapters import OrderLineFact, ShopAdapter, get_adapter
from ..models import Event, EventSource, ProfileBuild
from ..profiles import services as profiles
from . import partitions
from . import services as capture
from .receivers import purchase_event_id, purchase_events

logger = logging.getLogger(__name__)
CHUNK_LINES = 5_000

# Reasons a historical line makes no event (the keys of HistoryImport.skipped).
DELETED_PRODUCT = "product deleted"
NON_SALE_STATUS = "order not a sale (status)"
INVALID_LINE = "invalid line (quantity or price)"
GONE = "product or customer missing"


@dataclass
class HistoryImport:
    """What one import did (the command's summary)."""

    lines_read: int = 0
    events_written: int = 0
    already_there: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    profile_build: ProfileBuild | None = None
    profiles_error: str = ""
    seconds: float = 0.0


def import_history(
    since: dt.datetime | None = None,
    *,
    adapter: ShopAdapter | None = None,
    progress: Callable[[int], None] | None = None,
    rebuild_profiles: bool = True,
) -> HistoryImport:
    """Write a purchase event for every sold order line placed ``since`` (all when None) not stored yet.

    Lines of orders in a non-sale status (``PERSONALIZATION["NON_SALE_ORDER_STATUSES"]``, not read by
    the adapter), lines whose product was deleted and lines that make no valid event are skipped and
    counted by reason. ``progress`` gets the number of lines of each chunk read. When events were
    written, the profiles are rebuilt once at the end (a failure there is reported in
    ``profiles_error``: the events stay stored).
    """
    adapter = adapter or get_adapter()
    started = time.perf_counter()
    result = HistoryImport()
    chunk: list[OrderLineFact] = []
    for fact in adapter.order_lines_since(since):
        chunk.append(fact)
        if len(chunk) >= CHUNK_LINES:
            _store(chunk, result)
            if progress is not None:
                progress(len(chunk))
            chunk = []
    if chunk:
        _store(chunk, result)
        if progress is not None:
            progress(len(chunk))
    non_sale = adapter.non_sale_line_count(since)
    if non_sale:
        result.skipped[NON_SALE_STATUS] = non_sale
    if rebuild_profiles and result.events_written:
        _rebuild(result)
    result.seconds = time.perf_counter() - started
    return result


def _stored_ids(client_ids: list[str]) -> set[str]:
    """Which of ``client_ids`` the event log holds (one query; on PostgreSQL one array parameter, not 5,000)."""
    if not client_ids:
        return set()
    connection = connections[router.db_for_read(Event)]
    if connection.vendor != "postgresql":
        return set(Event.objects.filter(client_event_id__in=client_ids).values_list("client_event_id", flat=True))
    column = connection.ops.quote_name(Event._meta.get_field("client_event_id").column)
    table = connection.ops.quote_name(Event._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)", [client_ids])
        return {row[0] for row in cursor.fetchall()}


def _store(facts: list[OrderLineFact], result: HistoryImport) -> None:
    """One chunk: skip what makes no event, count what is stored already, insert the rest."""
    result.lines_read += len(facts)
    sold = [fact for fact in facts if fact.product_id is not None]
    if len(sold) < len(facts):
        result.skipped[DELETED_PRODUCT] += len(facts) - len(sold)
    # look the lines' event ids up before building any event: a second run builds none
    stored = _stored_ids([purchase_event_id(fact.line_id) for fact in sold])
    new_lines = [fact for fact in sold if purchase_event_id(fact.line_id) not in stored]
    result.already_there += len(sold) - len(new_lines)
    new = purchase_events(new_lines, source=EventSource.IMPORT)
    if len(new) < len(new_lines):
        result.skipped[INVALID_LINE] += len(new_lines) - len(new)
    written = capture.insert_events(new) if new else 0
    result.events_written += written
    if written < len(new):
        result.skipped[GONE] += len(new) - written


def _rebuild(result: HistoryImport) -> None:
    try:
        result.profile_build = profiles.run_build(trigger="import_history")
    except profiles.BuildAlreadyRunning as exc:
        result.profiles_error = str(exc)
    except Exception as exc:  # noqa: BLE001 - the events are stored; the summary says what failed
        result.profiles_error = f"{type(exc).__name__}: {exc}"


WRITE_BLOCK = 50_000  # rows formatted and sent per COPY write / executemany


def write_purchase_events(
    connection: Any, lines: Any, *, source: str = EventSource.IMPORT, progress: Callable[[int], None] | None = None
) -> int:
    """The purchase events of many validated order lines at once, with no object per line (bulk imports).

    ``lines`` is a pandas DataFrame with columns ``line`` (order line id), ``order``, ``product``, ``user``
    (nullable), ``quantity`` (> 0), ``price`` (text with two decimals, >= 0) and ``at`` (numpy datetime64,
    UTC), as a bulk importer that has checked its rows holds them; the events are what
    :func:`~personalization.capture.receivers.purchase_events` makes of the same lines (the same key
    ``orderline:<line id>``, a guest's line under ``order-<order id>``), and lines already captured are not
    stored twice. PostgreSQL: COPY into a session-private staging table, then the insert of the events whose
    client id is new (:func:`~personalization.capture.services.insert_new_from_staging`, partitions too);
    SQLite: one ``executemany`` of ``INSERT … ON CONFLICT DO NOTHING``. Runs inside the
    caller's transaction; returns the number of events inserted. ``progress`` gets each block's size.
    """
    if connection.vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"write_purchase_events supports PostgreSQL and SQLite, not {connection.vendor}.")
    quote = connection.ops.quote_name
    table = quote(Event._meta.db_table)
    columns = ", ".join(quote(Event._meta.get_field(name).column) for name in capture.EVENT_COLUMNS)
    unique = quote(Event._meta.get_field("client_event_id").column)
    guest = lines["user"].isna()
    # the text Django itself would store: ISO with a space, UTC, no offset on SQLite (USE_TZ)
    at = np.char.replace(np.datetime_as_string(lines["at"].to_numpy(), unit="s"), "T", " ")
    if connection.vendor == "postgresql":
        at = np.char.add(at, "+00:00")
    frame = pd.DataFrame(
        {
            "event_type": "purchase",
            "timestamp": at,
            "client_event_id": "orderline:" + lines["line"].astype(str).to_numpy(),
            "user_id": lines["user"].array,
            "session_key": ("order-" + lines["order"].astype(str)).where(guest, "").to_numpy(),
            "product_id": lines["product"].to_numpy(),
            "quantity": lines["quantity"].to_numpy(),
            "price": lines["price"].to_numpy(),
            "query": "",
            "recommendation_id": "",
            "source": str(source),
            "received_at": connection.ops.adapt_datetimefield_value(timezone.now()),
        }
    )
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            placeholders = ", ".join(["%s"] * len(capture.EVENT_COLUMNS))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT ({unique}) DO NOTHING"
            inserted = 0
            for begin in range(0, len(frame), WRITE_BLOCK):
                block = frame.iloc[begin : begin + WRITE_BLOCK].astype(object)
                cursor.executemany(sql, block.where(block.notna(), None).itertuples(index=False, name=None))
                inserted += cursor.rowcount
                if progress is not None:
                    progress(len(block))
            return inserted
        staging = quote(f"{Event._meta.db_table}_import")
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} AS SELECT {columns} FROM {table} WITH NO DATA")
        cursor.execute(f"TRUNCATE {staging}")
        with cursor.cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
            for begin in range(0, len(frame), WRITE_BLOCK):
                block = frame.iloc[begin : begin + WRITE_BLOCK]
                copy.write(block.to_csv(sep="\t", header=False, index=False, na_rep="\\N"))
                if progress is not None:
                    progress(len(block))
        partitioned = partitions.is_partitioned_cached(connection)
        inserted = capture.insert_new_from_staging(connection, cursor, staging, partitioned)
        cursor.execute(f"TRUNCATE {staging}")
    return inserted
