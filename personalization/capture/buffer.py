"""The Redis event buffer: lists (shards) that the storefront appends to and any number of flushers drain.

The buffer is ``EVENT_BUFFER_SHARDS`` Redis lists: shard 0 is ``EVENT_BUFFER_KEY`` itself, shard ``i``
is ``<key>:<i>``. Each push goes to one shard (picked at random), and each shard has its own lock, so N
flushers (N ``default`` worker processes) drain up to N shards at the same time with no global lock: a
flusher walks the shards from a random one, takes each shard whose lock is free and drains it. With one
shard (the default) this is the single list with one flusher at a time of earlier versions.

Next to it, each visitor's latest product events (views, add-to-carts, purchases) are kept in a short
Redis list per customer and per visitor id, written in the same round trip as the buffer push, so that
serving sees fresh behaviour at once, before the flush stores the events (:func:`recent_keys`).

Draining is crash-safe: a batch is read from the head of a shard, handed to the database, and only
then trimmed from the shard — by a script that first checks the flusher still holds that shard's lock.
A flusher killed between the insert and the trim leaves the batch in place; the next flush of the shard
(another flusher, once the dead one's lock expired) inserts it again and the unique ``client_event_id``
keeps each event once.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import random
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
    """The Redis list holding buffered events (``PERSONALIZATION["EVENT_BUFFER_KEY"]``): shard 0."""
    return personalization_settings.EVENT_BUFFER_KEY


def shard_count() -> int:
    """How many lists the buffer is split into (``PERSONALIZATION["EVENT_BUFFER_SHARDS"]``, at least 1)."""
    return max(1, int(personalization_settings.EVENT_BUFFER_SHARDS))


def shard_keys() -> list[str]:
    """The buffer's lists: ``EVENT_BUFFER_KEY`` first, then ``<key>:1`` … ``<key>:<shards - 1>``."""
    key = buffer_key()
    return [key] + [f"{key}:{i}" for i in range(1, shard_count())]


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
    the rest some other way. The events go to one shard, picked at random. Once that shard holds its
    share of ``EVENT_FLUSH_THRESHOLD`` events, one flush task per shard is enqueued (at most once every
    few seconds, however many requests push), so that idle flushers drain the shards side by side.
    """
    client = redis_conn.get_client()
    if client is None or not redis_conn.available():
        return 0
    shards = shard_keys()
    keys = [random.choice(shards), buffer_key() + ENQUEUED_KEY_SUFFIX]
    threshold = max(1, -(-int(personalization_settings.EVENT_FLUSH_THRESHOLD) // len(shards)))
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
        _request_flush(len(shards))
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


def _request_flush(tasks: int = 1) -> None:
    """Enqueue ``tasks`` flush tasks, one per shard (the caller won the claim for this interval).

    A broker that refuses a task costs nothing but a log line: the events are safe in the lists and
    the periodic flush (``install_schedules``) picks them up.
    """
    try:
        for _ in range(tasks):
            jobs.enqueue("personalization.flush_events")
    except Exception:  # noqa: BLE001 - the storefront request must not fail because of the broker
        logger.warning("Could not enqueue a flush of the event buffer.", exc_info=True)


def length() -> int:
    """How many events wait in the buffer, all shards together (0 without Redis)."""
    client = redis_conn.get_client()
    if client is None:
        return 0
    pipe = client.pipeline(transaction=False)
    for key in shard_keys():
        pipe.llen(key)
    return sum(int(n) for n in pipe.execute())


def lock_key(shard: str | None = None) -> str:
    """The lock of one shard (shard 0, ``EVENT_BUFFER_KEY``, by default)."""
    return (shard or buffer_key()) + LOCK_KEY_SUFFIX


def is_flushing() -> bool:
    """Whether a flusher holds the lock of any shard right now."""
    client = redis_conn.get_client()
    if client is None:
        return False
    try:
        return bool(client.exists(*(lock_key(shard) for shard in shard_keys())))
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

    The shards are visited from a random one; each shard whose lock is free is drained (a Redis lock
    with an owner token per shard), the others are left to the flushers holding them, so a second
    caller while every shard is taken returns 0. A batch is trimmed only after ``store`` returned, so
    a flusher that dies in between leaves the batch for the next one (``store`` must be idempotent).
    An error in ``store`` propagates after the lock is released; a Redis error ends the flush early
    (logged) with what was done so far.
    """
    client = redis_conn.get_client()
    if client is None:
        return 0
    shards = shard_keys()
    start = random.randrange(len(shards))
    flushed = 0
    for shard in shards[start:] + shards[:start]:
        if max_events is not None and flushed >= max_events:
            break
        done, redis_ok = _flush_shard(client, shard, store, None if max_events is None else max_events - flushed)
        flushed += done
        if not redis_ok:
            break
    return flushed


def _flush_shard(client: redis.Redis, key: str, store: Callable[[list[bytes]], int],
                 max_events: int | None) -> tuple[int, bool]:
    """Drain one shard if its lock is free: how many events left it, and whether Redis answered throughout."""
    lock = lock_key(key)
    token = uuid.uuid4().hex
    lock_ms = int(personalization_settings.EVENT_FLUSH_LOCK_SECONDS * 1000)
    batch_size = int(personalization_settings.EVENT_FLUSH_BATCH_SIZE)
    try:
        if not client.set(lock, token, nx=True, px=lock_ms):
            return 0, True
    except redis.RedisError as exc:
        logger.warning("Cannot flush the event buffer: %s", exc)
        return 0, False
    flushed = 0
    failed = False
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
        failed = True
    finally:
        try:
            client.eval(_RELEASE_IF_OWNER, 1, lock, token)
        except redis.RedisError:
            pass
    return flushed, not failed
