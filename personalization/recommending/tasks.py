"""Celery tasks of recommendations: the (nightly or requested) retrain."""
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
