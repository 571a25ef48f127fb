"""A/B tests between the active recommender and one challenger version, and their click-through figures.

A *ready* version whose ``metadata["ab_share"]`` is above 0 is the challenger: each visitor is assigned
to it with that probability, deterministically (a hash of the version and the visitor), so a customer
keeps seeing the same version. Every recommendation id names its version, so impressions, clicks and
add-to-carts attribute to the version that produced the list — when the id was issued to the caller
who sent the event (ids are signed: :mod:`personalization.capture.rec_ids`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ..capture import rec_ids
from ..models import Event, EventType, ModelVersion
from ..ops import registry
from .config import KIND


def challenger_version() -> ModelVersion | None:
    """The ready version currently tested against the active one, if any."""
    return (ModelVersion.objects.filter(kind=KIND, status=ModelVersion.Status.READY, metadata__ab_share__gt=0)
            .order_by("-pk").first())


def bucket(version_id: int, visitor: str) -> float:
    """A stable number in [0, 1) for a visitor in the test of one version."""
    digest = hashlib.sha256(f"ab:{version_id}:{visitor}".encode()).hexdigest()
    return int(digest[:8], 16) / 2**32


def assign(active: ModelVersion | None, challenger: ModelVersion | None, user_id: int | None,
           session_key: str) -> ModelVersion | None:
    """The version a visitor is served: the challenger for its share of visitors, else the active one."""
    if not (user_id or session_key):
        return active
    if challenger is None or active is None:
        return active
    visitor = f"u{user_id}" if user_id else f"s{session_key}"
    share = float(challenger.metadata.get("ab_share", 0))
    return challenger if bucket(challenger.pk, visitor) < share else active


def start(version: ModelVersion, share: float = 0.5) -> None:
    """Make ``version`` (ready, with lists) the only challenger, served to ``share`` of visitors."""
    if version.kind != KIND or version.status != ModelVersion.Status.READY:
        raise ValueError(f"Only a ready recommender version can be A/B tested; {version} is {version.status}.")
    if not version.recommendation_lists.exists():
        raise ValueError(f"{version} has no precomputed lists (they are pruned); train a new version to test it.")
    if not 0 < share < 1:
        raise ValueError("The challenger's share must lie between 0 and 1.")
    with transaction.atomic():
        for other in ModelVersion.objects.select_for_update().filter(kind=KIND, metadata__ab_share__gt=0):
            other.metadata.pop("ab_share", None)
            other.save(update_fields=["metadata"])
        version.refresh_from_db()
        version.metadata["ab_share"] = share
        version.save(update_fields=["metadata"])
        registry.changed()


def stop() -> int:
    """End every A/B test; returns how many versions were challengers."""
    stopped = 0
    with transaction.atomic():
        for version in ModelVersion.objects.select_for_update().filter(kind=KIND, metadata__ab_share__gt=0):
            version.metadata.pop("ab_share", None)
            version.save(update_fields=["metadata"])
            stopped += 1
        registry.changed()
    return stopped


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % by default); (0, 0) without trials."""
    if trials == 0:
        return 0.0, 0.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class VersionStats:
    version_id: int
    lists: int
    clicked: int
    carted: int
    ignored: int = 0  # distinct recommendation ids left out: not issued to the caller who sent them

    @property
    def ctr(self) -> float:
        return self.clicked / self.lists if self.lists else 0.0

    @property
    def ctr_interval(self) -> tuple[float, float]:
        return wilson(self.clicked, self.lists)

    @property
    def conversion(self) -> float:
        return self.carted / self.lists if self.lists else 0.0

    @property
    def conversion_interval(self) -> tuple[float, float]:
        return wilson(self.carted, self.lists)


def version_stats(days: int = 30) -> list[VersionStats]:
    """Per version, over the last ``days``: lists shown (distinct recommendation ids with an impression),
    lists clicked, and lists that led to an add-to-cart (with the same recommendation id).

    An event counts only when its recommendation id was issued to the event's own customer or visitor
    (:func:`~personalization.capture.rec_ids.verify`): made-up ids, ids copied from someone else's
    list and ids of the unsigned format of older releases are left out, and counted per version as
    ``ignored`` (distinct ids with at least one such event).
    """
    since = timezone.now() - dt.timedelta(days=days)
    rows = (Event.objects.filter(timestamp__gte=since, event_type__in=[EventType.IMPRESSION, EventType.CLICK,
                                                                          EventType.CART])
            .exclude(recommendation_id="")
            .values_list("event_type", "recommendation_id", "user_id", "session_key").distinct())
    seen: dict[str, set[str]] = defaultdict(set)
    ignored: dict[int, set[str]] = defaultdict(set)
    version_of: dict[str, int] = {}
    verdicts: dict[tuple[str, object, str], bool] = {}
    for event_type, rec, user_id, session_key in rows.iterator(chunk_size=10_000):
        version = rec_ids.version_of(rec)
        if version is None:
            continue
        key = (rec, user_id, session_key)
        if key not in verdicts:
            verdicts[key] = rec_ids.verify(rec, user_id=user_id, session_key=session_key)
        if verdicts[key]:
            seen[event_type].add(rec)
            version_of[rec] = version
        else:
            ignored[version].add(rec)
    per_version: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for rec in seen[EventType.IMPRESSION]:
        counts = per_version[version_of[rec]]
        counts[0] += 1
        counts[1] += rec in seen[EventType.CLICK]
        counts[2] += rec in seen[EventType.CART]
    return [VersionStats(pk, *per_version.get(pk, [0, 0, 0]), ignored=len(ignored.get(pk, ())))
            for pk in sorted(per_version.keys() | ignored.keys())]
