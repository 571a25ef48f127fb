"""Celery tasks of the shared machinery: the worker heartbeat behind ``/api/health/``."""
from __future__ import annotations

from celery import shared_task

from .health import record_heartbeat


@shared_task(name="personalization.worker_heartbeat", ignore_result=True, time_limit=30, soft_time_limit=20)
def worker_heartbeat() -> None:
    """Record that a worker of the default queue is alive (beat sends it every 30 s; see /api/health/)."""
    record_heartbeat()
