"""The Redis event buffer: a list that the storefront appends to and one flusher drains.

Next to it, each visitor's latest product events (views, add-to-carts, purchases) are kept in a short
Redis list per customer and per visitor id, written in the same round trip as the buffer push, so that
serving sees fresh behaviour at once, before the flush stores the events (:func:`recent_keys`).

Draining is crash-safe: a batch is read from the head of the list, handed to the database, and only
then trimmed from the list — by a script that first checks the flusher still holds the lock. A
flusher killed between the insert and the trim leaves the batch in place; the next flush inserts it
again and the unique ``client_event_id`` keeps each event once.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence

import redis

from ..host.conf import personalization_settings
from ..ops import jobs, redis_conn

logger = logging.getLogger(__name__)

LOCK_KEY_SUFFIX = ":flush-lock"
ENQUEUED_KEY_SUFFIX = ":flush-enqueued"

DEAD_LETTER_KEY_SUFFIX = ":malformed"

# Trim the stored batch off the head and extend the lock, only if the lock is still ours: a flusher
# whose lock expired (it stalled) must neither trim events it did not store nor extend another's lock.
_TRIM_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('ltrim', KEYS[2], tonumber(ARGV[2]), -1)
  redis.call('pexpire', KEYS[1], tonumber(ARGV[3]))
  return 1
end
return 0
"""
_RELEASE_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

def buffer_key() -> str:
    """The Redis list holding buffered events (``PERSONALIZATION["EVENT_BUFFER_KEY"]``)."""
    return personalization_settings.EVENT_BUFFER_KEY


# Append events and, once the list reaches the flush threshold, claim the right to enqueue a flush
# (at most one claim every few seconds): one round trip per push, however full the buffer is. KEYS[3..]
# are visitors' recent lists; after the events, ARGV holds per list a count and its entries.
_PUSH = """
local n = tonumber(ARGV[3])
local length = redis.call('rpush', KEYS[1], unpack(ARGV, 6, 5 + n))
local i = 6 + n
for k = 3, #KEYS do
  local count = tonumber(ARGV[i])
  redis.call('lpush', KEYS[k], unpack(ARGV, i + 1, i + count))
  redis.call('ltrim', KEYS[k], 0, tonumber(ARGV[4]) - 1)
  redis.call('expire', KEYS[k], tonumber(ARGV[5]))
  i = i + 1 + count
end
if length >= tonumber(ARGV[1]) and redis.call('set', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[2])) then
  return -length
end
return length
"""
PUSH_CHUNK = 1000  # events per script call (Lua's unpack has a limit of a few thousand values)
FLUSH_REQUEST_EVERY_SECONDS = 5
RECENT_LENGTH = 50  # product events kept per visitor
RECENT_SECONDS = 30 * 86_400


def recent_keys(user_id: object = None, session_key: str = "") -> list[str]:
    """The Redis lists of a customer's and a visitor id's latest product events (newest first).

    Each entry reads ``<epoch ms>:<event type>:<product id>``.
    """
    prefix = f"{personalization_settings.REDIS_KEY_PREFIX}:recent"
    keys = [f"{prefix}:u{user_id}"] if user_id is not None else []
    return keys + ([f"{prefix}:s{session_key}"] if session_key else [])


def push(payload: Sequence[str], recent: Mapping[str, Sequence[str]] | None = None) -> int:
    """Append serialised events to the buffer; returns how many were buffered (from the start).

    ``recent`` (key -> entries, oldest first) goes to the visitors' recent lists in the same round trip.
    Fewer than ``len(payload)`` means Redis is unreachable (or failed part-way): the caller stores
    the rest some other way. Once the buffer holds ``EVENT_FLUSH_THRESHOLD`` events, a flush task is
    enqueued (at most once every few seconds, however many requests push).
    """
    client = redis_conn.get_client()
    if client is None or not redis_conn.available():
        return 0
    keys = [buffer_key(), buffer_key() + ENQUEUED_KEY_SUFFIX]
    threshold = int(personalization_settings.EVENT_FLUSH_THRESHOLD)
    pushed = 0
    flush_claimed = False
    try:
        for start in range(0, len(payload), PUSH_CHUNK):
            chunk = payload[start : start + PUSH_CHUNK]
            lists = dict(recent or {}) if start == 0 else {}
            tail = [value for entries in lists.values() for value in (len(entries), *entries)]
            flush_claimed |= int(client.eval(_PUSH, 2 + len(lists), *keys, *lists, threshold,
                                             FLUSH_REQUEST_EVERY_SECONDS, len(chunk), RECENT_LENGTH, RECENT_SECONDS,
                                             *chunk, *tail)) < 0
            pushed += len(chunk)
    except redis.RedisError as exc:
        redis_conn.mark_down(exc)
    if flush_claimed:
        _request_flush()
    return pushed


def note_recent(recent: Mapping[str, Sequence[str]]) -> None:
    """Add entries to the visitors' recent lists (events stored without the buffer); never raises."""
    client = redis_conn.get_client()
    if client is None or not recent or not redis_conn.available():
        return
    try:
        pipe = client.pipeline(transaction=False)
        for key, entries in recent.items():
            pipe.lpush(key, *entries)
            pipe.ltrim(key, 0, RECENT_LENGTH - 1)
            pipe.expire(key, RECENT_SECONDS)
        pipe.execute()
    except redis.RedisError as exc:
        redis_conn.mark_down(exc)


def _request_flush() -> None:
    """Enqueue one flush task (the caller won the claim for this interval).

    A broker that refuses the task costs nothing but a log line: the events are safe in the list and
    the periodic flush (``install_schedules``) picks them up.
    """
    try:
        jobs.enqueue("personalization.flush_events")
    except Exception:  # noqa: BLE001 - the storefront request must not fail because of the broker
        logger.warning("Could not enqueue a flush of the event buffer.", exc_info=True)


def length() -> int:
    """How many events wait in the buffer (0 without Redis)."""
    client = redis_conn.get_client()
    if client is None:
        return 0
    return int(client.llen(buffer_key()))


def lock_key() -> str:
    return buffer_key() + LOCK_KEY_SUFFIX


def is_flushing() -> bool:
    """Whether a flusher holds the lock right now."""
    client = redis_conn.get_client()
    if client is None:
        return False
    try:
        return bool(client.exists(lock_key()))
    except redis.RedisError:
        return False


def dead_letter_key() -> str:
    return buffer_key() + DEAD_LETTER_KEY_SUFFIX


def set_aside(raw: Sequence[bytes], reason: str) -> None:
    """Keep items the flusher cannot store in the dead-letter list for an operator, instead of dropping them.

    Each entry is JSON: ``{"reason": ..., "set_aside_at": ..., "item": <the buffered item as text>}``.
    """
    client = redis_conn.get_client()
    if client is None or not raw:
        return
    now = dt.datetime.now(dt.UTC).isoformat()
    client.rpush(dead_letter_key(), *(
        json.dumps({"reason": reason, "set_aside_at": now, "item": item.decode("utf-8", "replace")})
        for item in raw
    ))


def dead_letter_count() -> int | None:
    """How many items wait in the dead-letter list (None without Redis, or while it is down)."""
    client = redis_conn.get_client()
    if client is None:
        return None
    try:
        return int(client.llen(dead_letter_key()))
    except redis.RedisError:
        return None


def flush(store: Callable[[list[bytes]], int], *, max_events: int | None = None) -> int:
    """Drain the buffer through ``store`` batch by batch; returns how many events left the buffer.

    Only one flusher runs at a time (a Redis lock with an owner token); a second caller returns 0.
    A batch is trimmed only after ``store`` returned, so a flusher that dies in between leaves the
    batch for the next one (``store`` must be idempotent). An error in ``store`` propagates after
    the lock is released; a Redis error ends the flush early (logged) with what was done so far.
    """
    client = redis_conn.get_client()
    if client is None:
        return 0
    key = buffer_key()
    lock = lock_key()
    token = uuid.uuid4().hex
    lock_ms = int(personalization_settings.EVENT_FLUSH_LOCK_SECONDS * 1000)
    batch_size = int(personalization_settings.EVENT_FLUSH_BATCH_SIZE)
    try:
        if not client.set(lock, token, nx=True, px=lock_ms):
            return 0
    except redis.RedisError as exc:
        logger.warning("Cannot flush the event buffer: %s", exc)
        return 0
    flushed = 0
    try:
        while max_events is None or flushed < max_events:
            size = batch_size if max_events is None else min(batch_size, max_events - flushed)
            raw = client.lrange(key, 0, size - 1)
            if not raw:
                break
            store(raw)
            if not client.eval(_TRIM_IF_OWNER, 2, lock, key, token, len(raw), lock_ms):
                logger.warning("Lost the flush lock; another flusher will store the remaining events.")
                break
            flushed += len(raw)
    except redis.RedisError as exc:
        logger.warning("Event buffer flush stopped after %d events: %s", flushed, exc)
    finally:
        try:
            client.eval(_RELEASE_IF_OWNER, 1, lock, token)
        except redis.RedisError:
            pass
    return flushed
