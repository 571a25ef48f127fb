"""Default periodic jobs of the personalization app, installed by ``manage.py install_schedules``.

Every ShopSense app may declare ``DEFAULT_SCHEDULES`` in its own ``schedules`` module; the command
collects them from all installed apps and writes them to django-celery-beat, where a shop owner sees
and changes them in the admin.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduleSpec:
    """One periodic task: run ``task`` every ``every_seconds`` or at a crontab (``minute hour ...``)."""

    name: str
    task: str
    description: str
    every_seconds: int | None = None
    crontab: str | None = None  # "minute hour day_of_month month_of_year day_of_week"


DEFAULT_SCHEDULES = [
    ScheduleSpec(
        name="ShopSense: flush buffered events",
        task="personalization.flush_events",
        description="Moves behaviour events buffered in Redis into the database.",
        every_seconds=10,
    ),
    ScheduleSpec(
        name="ShopSense: worker heartbeat",
        task="personalization.worker_heartbeat",
        description="Records that a worker of the default queue is alive; /api/health/ reports its age.",
        every_seconds=30,
    ),
    ScheduleSpec(
        name="ShopSense: rebuild customer profiles and segments",
        task="personalization.build_profiles",
        description="Recomputes every customer's RFM, lifetime value and segment from all orders.",
        crontab="30 2 * * *",
    ),
    ScheduleSpec(
        name="ShopSense: retrain the recommenders",
        task="personalization.retrain_recommenders",
        description="Fits the recommender on all purchases, validates it on the last 30 days, activates it if "
        "it beats the active version and precomputes every customer's lists.",
        crontab="0 3 * * *",
    ),
]
