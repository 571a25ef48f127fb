"""Celery tasks of the personalization app: thin wrappers around services."""
from __future__ import annotations

from typing import Any

from celery import shared_task

from . import buffer, capture

MERGE_RETRY_SECONDS = 5


@shared_task(name="personalization.worker_heartbeat", ignore_result=True, time_limit=30, soft_time_limit=20)
def worker_heartbeat() -> None:
    """Record that a worker of the default queue is alive (beat sends it every 30 s; see /api/health/)."""
    from .health import record_heartbeat

    record_heartbeat()


@shared_task(name="personalization.flush_events", ignore_result=True, time_limit=600, soft_time_limit=540)
def flush_events() -> int:
    """Move buffered events from Redis to the database (idempotent; one flusher at a time)."""
    return capture.flush_buffer()


# Both limits, always: Celery fills a missing soft limit from CELERY_TASK_SOFT_TIME_LIMIT (55 min), and a
# soft limit above the hard one makes every .delay() raise ValueError.
@shared_task(
    bind=True, name="personalization.merge_guest_events", ignore_result=True, time_limit=300, soft_time_limit=270,
    max_retries=12,
)
def merge_guest_events(self: Any, session_key: str, user_id: int) -> int:
    """Attach a guest's events to the user who signed in.

    The merge first flushes the buffer so that the guest's latest events are in the database; when
    another flusher holds the lock, some may still be on their way, so the (idempotent) merge runs
    again a few seconds later.
    """
    merged = capture.merge_guest_events(session_key, user_id)
    if buffer.is_flushing() and not self.request.is_eager:
        raise self.retry(countdown=MERGE_RETRY_SECONDS)
    return merged


@shared_task(bind=True, name="personalization.retrain_recommenders", ignore_result=True, time_limit=7_200,
             soft_time_limit=6_900)
def retrain_recommenders(self: Any, model: str | None = None) -> int | None:
    """Train the recommender, store it as a ModelVersion and activate it if it beats the active one.

    Returns the new version's id (None when another run held the lock, or when there is nothing to learn
    from: the reason is logged). The model trained and why (``auto`` picks what the data supports) is
    logged and stored on the version. A run whose worker died is redelivered (``acks_late``) with the same
    task id, which retakes the lock it left behind.
    """
    import logging

    from .recommending import training  # pandas / scikit-learn load only in processes that train

    try:
        return training.train(model, owner=self.request.id).version.pk
    except training.AlreadyRunning:
        return None
    except training.TrainingError as exc:
        if self.request.is_eager:  # run in-process (the admin's "retrain now" without a broker): its message
            raise
        logging.getLogger(__name__).warning("Recommender training skipped: %s", exc)
        return None
