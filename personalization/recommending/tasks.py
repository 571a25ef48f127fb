"""Celery tasks of recommendations: the (nightly or requested) retrain and its list shards (``LIST_SHARDS``)."""
from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="personalization.retrain_recommenders", ignore_result=True, time_limit=7_200,
             soft_time_limit=6_900)
def retrain_recommenders(self: Any, model: str | None = None) -> int | None:
    """Train the recommender, store it as a ModelVersion and activate it if it beats the active one.

    Returns the new version's id (None when another run held the lock, or when there is nothing to learn
    from: the reason is logged). The model trained and why (``auto`` picks what the data supports) is
    logged and stored on the version. A run whose worker died is redelivered (``acks_late``) with the same
    task id, which retakes the lock it left behind.
    """
    from . import training  # pandas / scikit-learn load only in processes that train

    try:
        return training.train(model, owner=self.request.id).version.pk
    except training.AlreadyRunning:
        return None
    except training.TrainingError as exc:
        if self.request.is_eager:  # run in-process (the admin's "retrain now" without a broker): its message
            raise
        logger.warning("Recommender training skipped: %s", exc)
        return None


@shared_task(name="personalization.precompute_lists_shard", acks_late=True, time_limit=7_200, soft_time_limit=6_900)
def precompute_lists_shard(version_id: int, shard: int, n_shards: int) -> int:
    """Write the "for you" lists of one customer shard of a version being trained (``LIST_SHARDS`` > 1).

    Idempotent (a redelivered shard rewrites its own rows); returns how many lists it wrote. A failure
    marks the version failed with the reason; the chord then runs ``precomputed_lists_failed``.
    """
    from . import precompute

    return precompute.compute_shard(version_id, shard, n_shards)


@shared_task(name="personalization.finish_precomputed_lists", acks_late=True)
def finish_precomputed_lists(shard_lists: list[int], version_id: int, owner: str, activate: bool,
                             metrics: dict[str, float], minimums: list[dict[str, Any]], started_at: float,
                             popular: int) -> dict[str, Any]:
    """The chord's last step: every shard is written; the version is made ready and activated if it passes."""
    from . import training

    return training.finish_fan_out(shard_lists, version_id, owner, activate, metrics, minimums, started_at,
                                   popular)


@shared_task(name="personalization.precomputed_lists_failed")
def precomputed_lists_failed(request: Any, exc: BaseException, traceback: Any, version_id: int, owner: str) -> None:
    """The chord's error callback: a shard failed; the version is failed and the active one keeps serving."""
    from . import training

    training.fan_out_failed(version_id, owner, f"{type(exc).__name__}: {exc}")
