"""The apps' API throttles: who the client is, and what a throttle does while Redis is down.

**The client address.** DRF's throttles believe ``X-Forwarded-For`` whenever ``NUM_PROXIES`` is unset, so
an anonymous caller who sends a new made-up address with every request is never throttled. These
throttles read the address from the socket (``REMOTE_ADDR``) unless ``REST_FRAMEWORK["NUM_PROXIES"]``
says how many proxies of yours stand in front of the server: then the address that the outermost of them
appended to ``X-Forwarded-For`` (the header's N-th entry from the right) is the client, and whatever a
client wrote to the left of it is ignored.

**While Redis (the shared cache) is down** the counts of :class:`~personalization.host.cache.FailSafeRedisCache`
would be lost (reads miss, writes are skipped) and nobody would ever be throttled. These throttles then
count in each server process's memory instead: the rate holds per process (a server of N gunicorn
processes lets an address through up to N times the rate, and counts start from zero at the outage), and
the shared counts take over again when Redis answers.
"""
from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache as shared_cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from ..host.conf import personalization_settings

_process_cache = LocMemCache("shopsense-throttles", {"TIMEOUT": 3_600, "OPTIONS": {"MAX_ENTRIES": 100_000}})
# After the shared cache failed, count in this process for this long before trying it again.
RETRY_AFTER_SECONDS = 5.0


def client_address(request: Request | Any) -> str:
    """The caller's address: the socket's, or the one the outermost of ``NUM_PROXIES`` trusted proxies saw."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = int(api_settings.NUM_PROXIES or 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in str(forwarded).split(",") if part.strip()]
    return addresses[-min(proxies, len(addresses))] if addresses else remote


class _FallbackStore:
    """The shared cache, or this process's memory while the shared cache is unreachable."""

    _down_until = 0.0

    def _shared_up(self) -> bool:
        available = getattr(shared_cache, "is_available", None)  # FailSafeRedisCache tells; others raise
        return time.monotonic() >= self._down_until and (available is None or bool(available()))

    def _mark_down(self) -> None:
        self._down_until = time.monotonic() + RETRY_AFTER_SECONDS

    def get(self, key: str, default: Any = None) -> Any:
        if self._shared_up():
            try:
                value = shared_cache.get(key, default)
            except Exception:  # noqa: BLE001 - a cache backend that raises when Redis is down
                self._mark_down()
            else:
                if self._shared_up():
                    return value
        return _process_cache.get(key, default)

    def set(self, key: str, value: Any, timeout: Any = None) -> None:
        if self._shared_up():
            try:
                shared_cache.set(key, value, timeout)
            except Exception:  # noqa: BLE001
                self._mark_down()
            else:
                if self._shared_up():
                    return
        _process_cache.set(key, value, timeout)


_store = _FallbackStore()


def throttle_rate(scope: str) -> str | None:
    """The rate of ``scope``: the host's ``DEFAULT_THROTTLE_RATES`` if it names one, else the apps' default
    (``PERSONALIZATION["API_THROTTLE_RATES"]``). Read live: DRF copies the rates into a class attribute at
    import time, so ``override_settings`` and a host without any rates would otherwise not be seen."""
    rates = {**personalization_settings.API_THROTTLE_RATES, **(api_settings.DEFAULT_THROTTLE_RATES or {})}
    return rates.get(scope)


class _ShopSenseThrottle:
    """Client address from the trusted-proxy setting; counts kept per process while Redis is down; rates
    with defaults of the apps' own."""

    cache = _store
    scope: str | None

    def get_ident(self, request: Request) -> str:
        return client_address(request)

    def get_rate(self) -> str | None:
        return throttle_rate(self.scope) if self.scope else None


class AnonRateThrottle(_ShopSenseThrottle, throttling.AnonRateThrottle):
    """DRF's anonymous throttle (rate ``anon``, per client address)."""


class UserRateThrottle(_ShopSenseThrottle, throttling.UserRateThrottle):
    """DRF's user throttle (rate ``user``; anonymous callers per address)."""


class ScopedRateThrottle(_ShopSenseThrottle, throttling.ScopedRateThrottle):
    """DRF's scoped throttle (``throttle_scope`` on the view)."""


# The throttles of the apps' public endpoints (prices, recommendations), whatever the host's defaults.
PUBLIC_THROTTLES = [AnonRateThrottle, UserRateThrottle]
