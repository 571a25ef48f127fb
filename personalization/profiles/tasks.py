"""Celery tasks of customer profiles: the nightly rebuild and the update after an order."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="personalization.build_profiles", ignore_result=True, time_limit=3_600, soft_time_limit=3_300)
def build_profiles(build_id: int | None = None, trigger: str = "schedule") -> int | None:
    """Rebuild every customer profile and the segments; returns the build id (None if one was running)."""
    from . import services as profiles  # imported here: pandas and scikit-learn only load in processes that build

    try:
        return profiles.run_build(build_id, trigger=trigger).pk
    except profiles.BuildAlreadyRunning:
        logger.info("Profile rebuild skipped: another one is running.")
        return None


@shared_task(
    name="personalization.update_profile",
    ignore_result=True,
    time_limit=120,
    soft_time_limit=100,
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    max_retries=3,
)
def update_profile(order_id: int) -> int | None:
    """Fold a newly placed order into its customer's profile (idempotent)."""
    from . import services as profiles

    profile = profiles.update_profile_for_order(order_id)
    return profile.pk if profile is not None else None
