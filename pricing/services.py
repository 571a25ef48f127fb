"""The pricing app's public services, in one place (the work is done in the named modules).

- :mod:`pricing.elasticities`: fit elasticities from the order history, store them as a model version.
- :mod:`pricing.suggestions`: suggest prices by each product's policy, through the guardrails.
- :mod:`pricing.actions`: approve, reject, apply, roll back; the pause switch and the circuit breaker.
- :mod:`pricing.selectors`: read-only queries (the prior price of a reduction, history for charts).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from personalization.ops import locks, registry

from .actions import (
    CircuitBreakerTripped,
    InvalidTransition,
    PricingError,
    PricingPaused,
    StalePrice,
    apply_suggestion,
    approve,
    is_paused,
    reject,
    rollback,
    set_paused,
    write_price,
)
from .conf import pricing_settings
from .elasticities import MODEL_KIND, NotEnoughData, fit_elasticities, load_elasticities
from .outside import reconcile_outside_changes
from .policies import effective_policy
from .suggestions import SuggestionRun, generate_suggestions

logger = logging.getLogger(__name__)
LOCK_NAME = "pricing.refit_and_suggest"

__all__ = [
    "CircuitBreakerTripped",
    "InvalidTransition",
    "JobAlreadyRunning",
    "MODEL_KIND",
    "NotEnoughData",
    "PricingError",
    "PricingPaused",
    "StalePrice",
    "SuggestionRun",
    "apply_suggestion",
    "approve",
    "effective_policy",
    "fit_elasticities",
    "generate_suggestions",
    "is_paused",
    "load_elasticities",
    "refit_and_suggest",
    "reject",
    "rollback",
    "set_paused",
    "write_price",
]


#: Where the refit and the suggestions start in the progress of :func:`refit_and_suggest` (percent).
REFIT_STARTS, SUGGEST_STARTS = 5, 60


class JobAlreadyRunning(RuntimeError):
    """Another refit-and-suggest run holds the lock."""


def refit_and_suggest(
    *, refit: bool = True, owner: str | None = None, progress: Callable[[int, str], None] | None = None
) -> SuggestionRun:
    """The nightly job: refit the elasticities (unless ``refit`` is off), then suggest prices;
    ``progress(percent, stage)`` hears each stage (the percentages are the stages' measured shares of the run).

    Takes a lock so two runs never overlap (:class:`JobAlreadyRunning`); ``owner`` (the Celery task
    id) lets a redelivered task retake it. An elasticity version left *training* by a run that died
    is marked failed. A refit that does not go live (too little data, :func:`pricing.elasticities.fit_elasticities`)
    leaves the suggestions as they are (``refused`` says why). With no sales to learn from, suggestions are still
    made (strategies without a model hold, floors still apply).
    """
    owner = owner or uuid.uuid4().hex
    if not locks.acquire(LOCK_NAME, owner, int(pricing_settings.LOCK_SECONDS)):
        raise JobAlreadyRunning("Another price refit is running.")
    try:
        say = progress or (lambda percent, stage: None)
        registry.fail_abandoned(MODEL_KIND)
        say(0, "Recording price changes made outside ShopSense")
        outside = reconcile_outside_changes()
        if outside:
            logger.info("Recorded %d price change(s) made outside ShopSense.", outside)
        model = None
        if refit:  # suggestions are expired and replaced only when the refit went live
            say(REFIT_STARTS, "Fitting the price elasticities")
            try:
                version = fit_elasticities()
            except NotEnoughData as exc:  # no sales at all: the rules that need no model still apply
                logger.info("Elasticities not refitted: %s", exc)
            else:
                if registry.refusal(version):
                    logger.warning("Suggestions left as they are: %s", registry.refusal(version))
                    return SuggestionRun(refused=registry.refusal(version))
                model = load_elasticities(version)
        say(SUGGEST_STARTS if refit else 10, "Suggesting prices")
        return generate_suggestions(model=model)
    finally:
        locks.release(LOCK_NAME, owner)
