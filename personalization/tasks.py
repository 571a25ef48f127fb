"""Celery tasks of the personalization app: thin wrappers around services."""
from __future__ import annotations

from celery import shared_task

from . import capture


@shared_task(name="personalization.flush_events", ignore_result=True, time_limit=600, soft_time_limit=540)
def flush_events() -> int:
    """Move buffered events from Redis to the database (idempotent; one flusher at a time)."""
    return capture.flush_buffer()


@shared_task(name="personalization.merge_guest_events", ignore_result=True, time_limit=300)
def merge_guest_events(session_key: str, user_id: int) -> int:
    """Attach a guest's events to the user who signed in."""
    return capture.merge_guest_events(session_key, user_id)
