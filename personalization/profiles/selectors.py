"""Read-only queries of the personalization app (customer profiles and segments)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from ..host.conf import personalization_settings
from ..models import CustomerProfile, ProfileBuild, RFMSegment, Segment


def latest_build() -> ProfileBuild | None:
    """The most recent finished build (its segments and models are the current ones)."""
    return ProfileBuild.objects.filter(status=ProfileBuild.Status.DONE).order_by("-finished_at", "-id").first()


def active_build() -> ProfileBuild | None:
    """A build that is queued or running and not stale, if any (the admin shows its progress)."""
    stale = timezone.now() - dt.timedelta(seconds=int(personalization_settings.PROFILES["BUILD_LOCK_SECONDS"]))
    return (
        ProfileBuild.objects.filter(
            status__in=[ProfileBuild.Status.PENDING, ProfileBuild.Status.RUNNING], created_at__gte=stale
        )
        .order_by("-created_at")
        .first()
    )


def current_segments(build: ProfileBuild | None = None) -> QuerySet[Segment]:
    """The clusters of the given build, or of the latest finished one."""
    build = build or latest_build()
    if build is None:
        return Segment.objects.none()
    return Segment.objects.filter(build=build).order_by("cluster_id")


def cluster_labels() -> dict[int, str]:
    """``{cluster id: words}`` of the current segments."""
    return dict(current_segments().values_list("cluster_id", "label"))


def rfm_segment_counts() -> list[dict[str, Any]]:
    """Customers per RFM segment, in the rules' order, empty segments included."""
    counts = dict(
        CustomerProfile.objects.values_list("rfm_segment").annotate(n=Count("id")).values_list("rfm_segment", "n")
    )
    return [{"code": code, "name": label, "customers": counts.get(code, 0)} for code, label in RFMSegment.choices]


def profile_of(user: Any) -> CustomerProfile | None:
    """The signed-in customer's profile, or ``None`` before their first purchase."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "pk", None):
        return None
    return CustomerProfile.objects.filter(user_id=user.pk).first()
