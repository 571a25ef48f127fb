"""Celery tasks of the inventory app: thin wrappers around services."""

from __future__ import annotations

import uuid
from typing import Any

from celery import shared_task

from personalization.ops import locks, registry

from . import demand_signals, services
from .conf import inventory_settings
from .forecasting import MODEL_KIND

PLAN_LOCK = "inventory.plan_restock"


@shared_task(bind=True, name="inventory.plan_restock", ignore_result=True, time_limit=3_600, soft_time_limit=3_300)
def plan_restock(self: Any, forecast: bool = True) -> dict[str, int] | None:
    """Forecast demand and refresh the restock suggestions; skipped while another run holds the lock.

    The lock's owner is the task id, so a task redelivered after its worker died retakes it; a
    forecaster version that run left *training* is marked failed.
    """
    owner = self.request.id or uuid.uuid4().hex  # no id when called as a plain function
    if not locks.acquire(PLAN_LOCK, owner, int(inventory_settings.PLAN_LOCK_SECONDS)):
        return None
    try:
        registry.fail_abandoned(MODEL_KIND)
        run = services.run_planning(forecast=forecast)
    finally:
        locks.release(PLAN_LOCK, owner)
    plan = run.plan
    return {"products": plan.products, "created": plan.created, "updated": plan.updated, "removed": plan.removed}


@shared_task(name="inventory.record_stockouts", ignore_result=True, time_limit=600, soft_time_limit=540)
def record_stockouts() -> int:
    """Record today as a stock-out day of every active product with no stock (idempotent: hourly, and safe to
    run twice); the forecaster reads weeks with such a day and no sale as unknown demand."""
    return demand_signals.record_stockouts()
