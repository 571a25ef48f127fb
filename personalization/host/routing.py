"""Celery routing for the ShopSense tasks: small jobs on ``default``, training on ``ml`` / ``gpu``.

A task declares ``queue="gpu"`` options through ``TASK_QUEUES`` below; when the deployment has no
CUDA worker (``SHOPSENSE_GPU_QUEUE`` off, the default) GPU work is routed to ``ml`` instead.

The recommender retrain trains a torch model only when the hybrid may include its sequence source
(``PERSONALIZATION["RECOMMENDATIONS"]["SEQUENCE"]`` is ``"search"`` or ``"on"``): then it goes to ``gpu``
too, else it stays on ``ml``.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings

from .conf import personalization_settings

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
    # numpy / scipy / scikit-learn: CPU; "gpu" when the torch sequence source is on (_torch_recommender).
    "personalization.retrain_recommenders": "ml",
    # LIST_SHARDS > 1: the customers' lists in shards, shared by every ml worker, then the activation.
    "personalization.precompute_lists_shard": "ml",
    "personalization.finish_precomputed_lists": "ml",
    "personalization.precomputed_lists_failed": "ml",
}


def _torch_recommender() -> bool:
    """Whether the recommender retrain may fit the torch sequence source (recommending/config.py)."""
    recommendations = personalization_settings.user_settings.get("RECOMMENDATIONS") or {}
    return recommendations.get("SEQUENCE", "off") != "off"


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> dict[str, str] | None:
    queue = TASK_QUEUES.get(name)
    if queue is None:
        return None
    if name == "personalization.retrain_recommenders" and _torch_recommender():
        queue = "gpu"
    if queue == "gpu" and not getattr(settings, "SHOPSENSE_GPU_QUEUE", False):
        queue = "ml"
    return {"queue": queue}
