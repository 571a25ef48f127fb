"""Celery routing for the ShopSense tasks: small jobs on ``default``, training on ``ml`` / ``gpu``.

A task declares ``queue="gpu"`` options through ``TASK_QUEUES`` below; when the deployment has no
CUDA worker (``SHOPSENSE_GPU_QUEUE`` off, the default) GPU work is routed to ``ml`` instead.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings

TASK_QUEUES: dict[str, str] = {
    "personalization.flush_events": "default",
    "personalization.merge_guest_events": "default",
    "personalization.worker_heartbeat": "default",
    "personalization.build_profiles": "ml",
    "personalization.update_profile": "default",
    "inventory.record_stockouts": "default",
    # The served forecaster trains a PyTorch MLP (when torch is installed; on CUDA when the worker has it).
    "inventory.plan_restock": "gpu",
    "pricing.refit_and_suggest": "ml",
    # The served recommenders are numpy / scikit-learn: CPU. A torch model would go to "gpu".
    "personalization.retrain_recommenders": "ml",
    # LIST_SHARDS > 1: the customers' lists in shards, shared by every ml worker, then the activation.
    "personalization.precompute_lists_shard": "ml",
    "personalization.finish_precomputed_lists": "ml",
    "personalization.precomputed_lists_failed": "ml",
}


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> dict[str, str] | None:
    queue = TASK_QUEUES.get(name)
    if queue is None:
        return None
    if queue == "gpu" and not getattr(settings, "SHOPSENSE_GPU_QUEUE", False):
        queue = "ml"
    return {"queue": queue}
