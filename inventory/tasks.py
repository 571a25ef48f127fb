"""Celery tasks of the inventory app: thin wrappers around services."""

from __future__ import annotations

import uuid

from celery import shared_task

from personalization import locks

from . import services
from .conf import inventory_settings

PLAN_LOCK = "inventory.plan_restock"


@shared_task(name="inventory.plan_restock", ignore_result=True, time_limit=3_600, soft_time_limit=3_300)
def plan_restock(forecast: bool = True) -> dict[str, int] | None:
    """Forecast demand and refresh the restock suggestions; skipped while another run holds the lock."""
    owner = uuid.uuid4().hex
    if not locks.acquire(PLAN_LOCK, owner, int(inventory_settings.PLAN_LOCK_SECONDS)):
        return None
    try:
        run = services.run_planning(forecast=forecast)
    finally:
        locks.release(PLAN_LOCK, owner)
    plan = run.plan
    return {"products": plan.products, "created": plan.created, "updated": plan.updated, "removed": plan.removed}
