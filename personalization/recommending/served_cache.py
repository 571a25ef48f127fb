"""The cache side of serving: Django-cache reads and writes that survive a cache outage, and the served
lists kept in Redis as ready rows (:class:`Entry`), read together with the registry's generation token and
the visitor's recent lists in one round trip (see :mod:`.serving`)."""
from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from django.core.cache import cache

from ..host.conf import personalization_settings
from ..models import ModelVersion
from ..ops import redis_conn, registry

logger = logging.getLogger("personalization.recommending.serving")
Row = tuple[int, float, str, str, str]  # product id, score, source, name, product page


def cache_get(key: str) -> Any:
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - a cache that is down must not take the shop down
        logger.warning("Cache unavailable: reading recommendations from the database.")
        return None


def cache_set(key: str, value: Any, seconds: int) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:  # noqa: BLE001
        logger.warning("Cache unavailable: recommendations not cached.")


@dataclass
class Reply:
    generation: bytes | None
    entry: Any  # an Entry, or None
    recent: list[list[bytes]]

    @property
    def fingerprint(self) -> tuple[bytes, ...]:
        return tuple(entries[0] if entries else b"" for entries in self.recent)


def key(version: ModelVersion | None, placement: str, params: tuple[Any, ...]) -> str:
    """The Redis key of a served list."""
    digest = hashlib.blake2b(repr(params).encode(), digest_size=12).hexdigest()
    return f"{personalization_settings.REDIS_KEY_PREFIX}:served:v{version.pk if version else 0}:{placement}:{digest}"


def read(key: str, recent_keys: Sequence[str]) -> Reply | None:
    """The registry token, the served list and the visitor's recent lists: one round trip (None: no Redis)."""
    client = redis_conn.get_client()
    if client is None or not redis_conn.available():
        return None
    try:
        pipe = client.pipeline(transaction=False)
        pipe.get(registry.generation_key())
        pipe.get(key)
        for recent in recent_keys:
            pipe.lrange(recent, 0, -1)
        generation, raw, *lists = pipe.execute()
    except redis.RedisError as exc:
        redis_conn.mark_down(exc)
        return None
    try:
        entry = pickle.loads(raw) if raw is not None else None  # noqa: S301 - our own Redis, our own rows
    except Exception:  # noqa: BLE001 - an entry written by another version of the code: build it again
        entry = None
    return Reply(generation, entry if isinstance(entry, Entry) else None, list(lists))


def store(key: str, entry: Any, seconds: int) -> None:
    client = redis_conn.get_client()
    try:
        client.set(key, pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL), ex=seconds)
    except redis.RedisError as exc:
        redis_conn.mark_down(exc)


@dataclass
class Entry:
    """A served list in the cache: ready rows with spare items, and what it was built from.

    ``base`` holds the candidates read from the database and the cache (the customer's list, segment,
    category and best sellers, the behaviour stored in the database), so that fresh behaviour costs one
    product query to fold in, not a rebuild from scratch; it is re-read after ``CACHE_SECONDS``.
    """

    fingerprint: tuple[bytes, ...]  # the newest entry of each recent list it saw
    rows: list[Row]
    complete: bool  # no more candidates than these rows
    base: dict[str, Any]
    base_time: float  # epoch seconds

