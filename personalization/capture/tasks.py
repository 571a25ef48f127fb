"""Celery tasks of behaviour capture: the buffer flush and the guest-event merge (thin wrappers)."""
from __future__ import annotations

from typing import Any

from celery import shared_task

from . import buffer, identity, services

MERGE_RETRY_SECONDS = 5


@shared_task(name="personalization.flush_events", ignore_result=True, time_limit=600, soft_time_limit=540)
def flush_events() -> int:
    """Move buffered events from Redis to the database (idempotent; one flusher at a time)."""
    return services.flush_buffer()


# Both limits, always: Celery fills a missing soft limit from CELERY_TASK_SOFT_TIME_LIMIT (55 min), and a
# soft limit above the hard one makes every .delay() raise ValueError.
@shared_task(
    bind=True, name="personalization.merge_guest_events", ignore_result=True, time_limit=300, soft_time_limit=270,
    max_retries=12,
)
def merge_guest_events(self: Any, session_key: str, user_id: int, until: str | None = None) -> int:
    """Attach the guest events a session captured up to the login (``until``, ISO) to the user who signed in.

    The merge first flushes the buffer so that the guest's latest events are in the database; when
    another flusher holds the lock, some may still be on their way, so the (idempotent) merge runs
    again a few seconds later.
    """
    merged = identity.merge_guest_events(session_key, user_id, until)
    if buffer.is_flushing() and not self.request.is_eager:
        raise self.retry(countdown=MERGE_RETRY_SECONDS)
    return merged
