"""The one Redis connection the apps share (``settings.REDIS_URL``): event buffer, served lists, job locks.

Without a URL there is no client and every caller goes without Redis. After a connection error the
apps skip Redis for a few seconds (:func:`mark_down`) instead of paying a timeout on every request.
"""
from __future__ import annotations

import logging
import threading
import time

import redis
from django.conf import settings
from django.core.signals import setting_changed

logger = logging.getLogger(__name__)

# After a connection error, skip Redis for this long instead of paying a timeout per event.
RETRY_AFTER_SECONDS = 5.0

_state = threading.local()
_down_until = 0.0


def _redis_url() -> str:
    return getattr(settings, "REDIS_URL", "") or ""


def is_configured() -> bool:
    """Whether a Redis URL is set (the buffer may still be down)."""
    return bool(_redis_url())


def get_client() -> redis.Redis | None:
    """A Redis client for ``settings.REDIS_URL`` (one per thread and URL), or None when unset."""
    url = _redis_url()
    if not url:
        return None
    cached = getattr(_state, "client", None)
    if cached is None or cached[0] != url:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=2.0)
        _state.client = (url, client)
        return client
    return cached[1]


def reset() -> None:
    """Forget this thread's client and any "Redis is down" verdict (a new URL, or tests)."""
    global _down_until
    _state.client = None
    _down_until = 0.0


def _reset(*, setting: str, **kwargs: object) -> None:
    if setting == "REDIS_URL":  # override_settings(REDIS_URL=...) gets a fresh client and a fresh chance
        reset()


setting_changed.connect(_reset, weak=False)


def available() -> bool:
    return is_configured() and time.monotonic() >= _down_until


def mark_down(exc: Exception) -> None:
    """Go without Redis for a few seconds (events are stored directly, lists built from the database)."""
    global _down_until
    _down_until = time.monotonic() + RETRY_AFTER_SECONDS
    logger.warning("Redis unavailable (%s); going without it for %.0fs.", exc, RETRY_AFTER_SECONDS)
