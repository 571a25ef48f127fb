"""Celery tasks of the pricing app (thin wrappers around :mod:`pricing.services`)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="pricing.refit_and_suggest", ignore_result=True, time_limit=3_600,
             soft_time_limit=3_300)
def refit_and_suggest(self: Any, refit: bool = True) -> int | None:
    """Refit the elasticities and suggest prices; returns the number of suggestions (None if a run was going)."""
    from . import services  # imported here: pandas and scipy load only in processes that price

    try:
        return len(services.refit_and_suggest(refit=refit, owner=self.request.id).created)
    except services.JobAlreadyRunning:
        logger.info("Price refit skipped: another one is running.")
        return None
