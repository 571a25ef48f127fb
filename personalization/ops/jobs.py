"""Enqueueing background jobs by task name, so that services never import the task modules.

Tasks call services; a service that needs a job done later names the task (``"personalization.flush_events"``)
instead of importing it, which keeps the import graph free of circles (services -> tasks -> services).
The task modules are imported once at start-up (``personalization.apps``), so the name is always
registered; without a broker (``CELERY_TASK_ALWAYS_EAGER``) the task runs right here, as ``.delay()`` would.
"""
from __future__ import annotations

from typing import Any

from celery import current_app
from celery.result import AsyncResult


def enqueue(name: str, *args: Any, **kwargs: Any) -> AsyncResult:
    """Queue the task registered as ``name`` with these arguments (its routing and options apply)."""
    return current_app.tasks[name].delay(*args, **kwargs)
