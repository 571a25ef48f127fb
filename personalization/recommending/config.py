"""Settings of the recommendations, read from ``PERSONALIZATION["RECOMMENDATIONS"]`` over defaults."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ..host.conf import personalization_settings

KIND = "recommender"
PLACEMENTS = ("for_you", "similar", "bought_together", "recently_viewed", "best_sellers")

DEFAULTS: dict[str, Any] = {
    # "auto": the hybrid at any size (its candidate models are memory-bounded: sparse item neighbours,
    # EASE on at most 10,000 items, score blocks that shrink as the catalogue grows) when its label
    # windows hold returning customers, the simple blend otherwise, popularity below two customers or two
    # products (training.choose_model); or force one.
    "MODEL": "auto",
    "VALIDATION_DAYS": 30,
    "COMPARE_ON": "ndcg@20",
    # A version goes live only with at least this much data (and when not worse on COMPARE_ON than the active
    # one); otherwise the active one stays and the new one is kept ready, refused (registry.promote). The
    # defaults let a new shop serve best sellers from its first purchases: the comparison guards retrains.
    "MIN_TRAINING": {"purchases": 1, "customers": 1, "products": 1, "weeks": 0},
    "LIST_LENGTH": 50,  # items precomputed per customer
    # Customer shards the "for you" lists are precomputed in: 1 in the training process (as always); N > 1 as a
    # Celery chord of N tasks personalization.precompute_lists_shard on the ml queue, which any number of ml
    # workers share, then the version is activated (precompute.py). Needs a result backend (CELERY_RESULT_BACKEND).
    "LIST_SHARDS": 1,
    "NEIGHBOURS": 30,  # similar / bought-together items kept per product
    "POPULAR_LENGTH": 100,  # best sellers kept overall, per category and per segment
    "POPULAR_WINDOW_DAYS": 90,
    "SESSION_ITEMS": 10,  # recent views / carts that drive the session's list
    "PER_CATEGORY": 0,  # at most this many items of one category in a list (0: no limit)
    "CACHE_SECONDS": 3_600,  # precomputed lists and served lists stay this long in the cache
    # How long a product that went inactive or out of stock may still be served from a cached list: each
    # server process re-reads the unavailable product ids this often (see serving.py).
    "AVAILABILITY_SECONDS": 5,
    "LOCK_SECONDS": 3_600,
    "RECORD_IMPRESSIONS": True,
    "RANDOM_STATE": 0,
    # The nightly search of the hybrid's settings (tuning.py): Optuna TPE, seeded with RANDOM_STATE, on the
    # last VALIDATION_DAYS; it stops after MAX_TRIALS trials or once TIME_BUDGET_S seconds have passed (the
    # running trial finishes). The defaults are always the first trial. A partial dict is fine.
    "SEARCH": {"ENABLED": True, "TIME_BUDGET_S": 600, "MAX_TRIALS": 30},
    # The hybrid's torch sequence source (a SASRec-style next-item model, ml/sequence.py): "off" (default: on
    # the two-year data it added little, +0.6 % / +2.3 % test NDCG@20, for minutes of CPU; bench/RESULTS.md),
    # "search" (the nightly search tries the hybrid with and without it and keeps it only if validation NDCG
    # improves) or "on". When not "off", the retrain runs on the gpu queue (ml without a CUDA worker; routing.py).
    "SEQUENCE": "off",
}
SEQUENCE_MODES = ("off", "search", "on")


def rec_settings() -> dict[str, Any]:
    """The defaults overridden by ``PERSONALIZATION["RECOMMENDATIONS"]`` (a partial dict is fine)."""
    user = personalization_settings.user_settings.get("RECOMMENDATIONS") or {}
    search = {**DEFAULTS["SEARCH"], **(user.get("SEARCH") or {})}
    where = 'PERSONALIZATION["RECOMMENDATIONS"]["SEARCH"]'
    if not isinstance(search["ENABLED"], bool):
        raise ImproperlyConfigured(f'{where}["ENABLED"] must be True or False.')
    for key in ("TIME_BUDGET_S", "MAX_TRIALS"):
        value = search[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
            raise ImproperlyConfigured(f"{where}[{key!r}] must be a number of at least 1, not {value!r}.")
    sequence = user.get("SEQUENCE", DEFAULTS["SEQUENCE"])
    if sequence not in SEQUENCE_MODES:
        raise ImproperlyConfigured(f'PERSONALIZATION["RECOMMENDATIONS"]["SEQUENCE"] must be one of '
                                   f'{", ".join(map(repr, SEQUENCE_MODES))}, not {sequence!r}.')
    shards = user.get("LIST_SHARDS", DEFAULTS["LIST_SHARDS"])
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ImproperlyConfigured(
            f'PERSONALIZATION["RECOMMENDATIONS"]["LIST_SHARDS"] must be a whole number of at least 1, not {shards!r}.')
    return {**DEFAULTS, **user, "SEARCH": search}
