"""Monthly partitions of the events table on PostgreSQL, and retention (``manage.py prune_events``).

On PostgreSQL, migration ``0007_event_partitions`` turns ``personalization_event`` into a table partitioned by
``RANGE ("timestamp")``: one partition per calendar month (UTC), named ``personalization_event_pYYYY_MM``,
and a DEFAULT partition (``personalization_event_pdefault``) for any month without one (history imported
from years ago, a clock far off). The flush creates the partitions of the current month and the next
:data:`MONTHS_AHEAD` before events land there (:func:`ensure_ahead`, at most every few minutes per process).
A month is never carved out of the DEFAULT partition once that holds rows of it (PostgreSQL would refuse);
those rows stay in DEFAULT until pruned.

Exactly once: a unique index of a partitioned table must contain the partition key, so
``client_event_id`` cannot stay UNIQUE on the events table. Instead every stored event's id is also a row of
the small table ``personalization_eventid`` (``client_event_id`` PRIMARY KEY, its timestamp); the insert
adds the ids first (``ON CONFLICT DO NOTHING RETURNING``) and stores only the events whose id was new, in
the same transaction (``services._copy_insert``); a trigger deletes the id with its event, so deleting an
event frees its id as the UNIQUE column did. Events are written through ``services.insert_events``
only (the buffer flush, the direct insert, the events API, the importer).

On SQLite (and on a PostgreSQL table that is not partitioned) nothing changes: the UNIQUE constraint
keeps events once and retention deletes rows.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.db import connections, router, transaction

from ..models import Event, EventId

logger = logging.getLogger(__name__)

MONTHS_AHEAD = 2
CHECK_EVERY_SECONDS = 600
PARTITION_PREFIX = "personalization_event_p"
DEFAULT_PARTITION = "personalization_event_pdefault"
_LOCK_ID = 7_318_001  # pg_advisory_xact_lock key: one partition creator at a time

_checked_at: dict[str, float] = {}
_partitioned: dict[str, tuple[bool, float]] = {}  # alias -> (partitioned, when looked up)


def _connection():
    return connections[router.db_for_write(Event)]


def is_partitioned(connection=None) -> bool:
    """Whether the events table is a partitioned PostgreSQL table."""
    connection = connection or _connection()
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass)",
                       [Event._meta.db_table])
        return bool(cursor.fetchone()[0])


def is_partitioned_cached(connection) -> bool:
    """:func:`is_partitioned`, looked up at most every :data:`CHECK_EVERY_SECONDS` per process and database."""
    known = _partitioned.get(connection.alias)
    now = time.monotonic()
    if known is None or now - known[1] >= CHECK_EVERY_SECONDS:
        known = (is_partitioned(connection), now)
        _partitioned[connection.alias] = known
    return known[0]


def forget() -> None:
    """Drop what this process remembers about the table (after a migration, in tests)."""
    _checked_at.clear()
    _partitioned.clear()


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def partition_name(month: dt.date) -> str:
    return f"{PARTITION_PREFIX}{month:%Y_%m}"


def create_month(cursor, month: dt.date) -> bool:
    """Create the partition of ``month`` unless it exists or DEFAULT already holds rows of it; True if created."""
    upper = next_month(month)
    bounds = [f"{month.isoformat()} 00:00:00+00", f"{upper.isoformat()} 00:00:00+00"]
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [partition_name(month)])
    if cursor.fetchone()[0]:
        return False
    cursor.execute(f'SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} WHERE "timestamp" >= %s AND "timestamp" < %s)',
                   bounds)
    if cursor.fetchone()[0]:
        logger.warning("Events of %s are in the DEFAULT partition already; that month keeps no partition of its own.",
                       f"{month:%Y-%m}")
        return False
    cursor.execute(f'CREATE TABLE {partition_name(month)} PARTITION OF {Event._meta.db_table} '
                   f"FOR VALUES FROM ('{bounds[0]}') TO ('{bounds[1]}')")
    return True


def ensure_ahead(today: dt.date | None = None, *, force: bool = False) -> list[str]:
    """Create the partitions of this month and the next :data:`MONTHS_AHEAD` (PostgreSQL, partitioned table only).

    Cheap to call often: it looks at the catalogue at most every :data:`CHECK_EVERY_SECONDS` per process.
    Returns the names of the partitions it created.
    """
    connection = _connection()
    if connection.vendor != "postgresql":
        return []
    now = time.monotonic()
    if not force and now - _checked_at.get(connection.alias, -1e9) < CHECK_EVERY_SECONDS:
        return []
    _checked_at[connection.alias] = now
    if not is_partitioned_cached(connection):
        return []
    month = month_start(today or dt.datetime.now(dt.UTC).date())
    created = []
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
        for _ in range(MONTHS_AHEAD + 1):
            if create_month(cursor, month):
                created.append(partition_name(month))
            month = next_month(month)
    if created:
        logger.info("Created event partitions %s.", ", ".join(created))
    return created


@dataclass
class Pruned:
    partitions_dropped: list[str]
    rows_deleted: int  # rows deleted one by one (SQLite, an unpartitioned table, the DEFAULT partition)
    ids_forgotten: int


def month_partitions(cursor) -> list[tuple[str, dt.date]]:
    """The monthly partitions that exist, oldest first, as (name, month)."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass AND c.relname LIKE %s ORDER BY c.relname",
        [Event._meta.db_table, PARTITION_PREFIX + "%"],
    )
    months = []
    for (name,) in cursor.fetchall():
        suffix = name[len(PARTITION_PREFIX):]
        if suffix != "default":
            months.append((name, dt.date(int(suffix[:4]), int(suffix[5:7]), 1)))
    return months


def prune_before(month: dt.date, *, dry_run: bool = False) -> Pruned:
    """Remove every event dated before ``month`` (a first of month, UTC) and forget their ids.

    On a partitioned PostgreSQL table whole monthly partitions are dropped (instant, no dead rows) and the
    DEFAULT partition's older rows are deleted; elsewhere the rows are deleted. With ``dry_run`` nothing is
    removed and the counts say what would be.
    """
    cutoff = dt.datetime.combine(month_start(month), dt.time(), tzinfo=dt.UTC)
    connection = _connection()
    dropped: list[str] = []
    with transaction.atomic(using=connection.alias):
        ids = EventId.objects.filter(timestamp__lt=cutoff)
        forgotten = ids.count() if dry_run else ids._raw_delete(ids.db)
        if is_partitioned(connection):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
                # deferred foreign-key checks of rows written earlier in an outer transaction block DROP TABLE
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                dropped = [name for name, start in month_partitions(cursor) if next_month(start) <= cutoff.date()]
                if dry_run:
                    cursor.execute(f'SELECT count(*) FROM {DEFAULT_PARTITION} WHERE "timestamp" < %s', [cutoff])
                    rows = cursor.fetchone()[0]
                else:
                    for name in dropped:
                        cursor.execute(f"DROP TABLE {name}")
                    cursor.execute(f'DELETE FROM {DEFAULT_PARTITION} WHERE "timestamp" < %s', [cutoff])
                    rows = cursor.rowcount
        else:
            old = Event.objects.filter(timestamp__lt=cutoff)
            rows = old.count() if dry_run else old._raw_delete(old.db)
    return Pruned(dropped, rows, forgotten)
