"""Where Celery's ``autodiscover_tasks()`` looks: every concern's tasks, registered by importing them.

The tasks themselves live with their concern (``capture/tasks.py``, ``profiles/tasks.py``,
``recommending/tasks.py``, ``ops/tasks.py``); their names (``personalization.flush_events`` …) are
what schedules, routing and hosts use.
"""
from .capture.tasks import flush_events, merge_guest_events
from .ops.tasks import worker_heartbeat
from .profiles.tasks import build_profiles, update_profile
from .recommending.tasks import (
    finish_precomputed_lists,
    precompute_lists_shard,
    precomputed_lists_failed,
    retrain_recommenders,
)

__all__ = [
    "build_profiles", "finish_precomputed_lists", "flush_events", "merge_guest_events", "precompute_lists_shard",
    "precomputed_lists_failed", "retrain_recommenders", "update_profile", "worker_heartbeat",
]
