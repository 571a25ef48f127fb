"""A Redis cache that degrades to "no cache" while Redis is down, instead of failing the request.

Django's ``RedisCache`` raises on every call when Redis is unreachable; DRF's throttles, the
recommendation lists and a host's own cached fragments would all turn into 500s. With this backend
reads miss and writes are dropped (logged once per outage), and after an error the cache is skipped
for ``RETRY_AFTER_SECONDS`` so that an unreachable host does not cost a timeout per call.
``add`` (the job locks) still raises: :mod:`personalization.ops.locks` decides what a lock does then.

    CACHES = {"default": {"BACKEND": "personalization.host.cache.FailSafeRedisCache", "LOCATION": REDIS_URL}}
"""
from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5.0


class FailSafeRedisCache(RedisCache):
    """``RedisCache`` whose reads miss and writes are skipped while Redis is unreachable."""

    _down_until = 0.0

    def is_available(self) -> bool:
        """False from a failed call until ``RETRY_AFTER_SECONDS`` later (the API throttles then count per process)."""
        return time.monotonic() >= self._down_until

    def _guard(self, call: str, default: Any, *args: Any) -> Any:
        now = time.monotonic()
        if now < self._down_until:
            return default
        try:
            result = getattr(super(), call)(*args)
        except RedisError as exc:
            if not self._down_until:
                logger.warning("Cache unavailable (%s): serving without it for now.", exc)
            self._down_until = now + RETRY_AFTER_SECONDS
            return default
        if self._down_until:
            logger.warning("Cache available again.")
            self._down_until = 0.0
        return result

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._guard("get", default, key, default, version)

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        return self._guard("get_many", {}, keys, version)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._guard("has_key", False, key, version)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._guard("set", None, key, value, timeout, version)

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        return self._guard("set_many", list(data), data, timeout, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._guard("touch", False, key, timeout, version)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._guard("delete", False, key, version)

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._guard("delete_many", None, keys, version)
