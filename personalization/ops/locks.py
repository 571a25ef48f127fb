"""Job locks in the cache (Redis in production), so the same job never runs twice at once.

A lock has an owner (a job id) and a timeout, after which a crashed holder's lock expires. The same
owner may take its lock again: a Celery task redelivered after its worker died (``acks_late``) has
the same task id, so it resumes instead of being refused by its own dead run's lock. When the cache
is down the job runs without a lock rather than not at all (logged).
"""

from __future__ import annotations

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)


def acquire(name: str, owner: str | int, seconds: int) -> bool:
    """Take the lock ``name`` for ``owner``; False when another owner holds it (``owner`` may retake it)."""
    key = f"shopsense:lock:{name}"
    try:
        if cache.add(key, str(owner), timeout=seconds):
            return True
        if cache.get(key) == str(owner):
            cache.set(key, str(owner), timeout=seconds)
            return True
        return False
    except Exception:  # noqa: BLE001 - a cache that is down must not stop scheduled jobs
        logger.warning("Cache unavailable: job %s runs without a lock", name)
        return True


def release(name: str, owner: str | int) -> None:
    """Release the lock if ``owner`` still holds it."""
    key = f"shopsense:lock:{name}"
    try:
        if cache.get(key) == str(owner):
            cache.delete(key)
    except Exception:  # noqa: BLE001
        logger.warning("Cache unavailable: could not release the lock %s", name)
