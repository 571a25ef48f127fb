"""Default periodic jobs of the personalization app, installed by ``manage.py install_schedules``."""
from __future__ import annotations

from .ops.schedules import ScheduleSpec

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
