"""The shop owner's to-dos on the admin home: what waits for a decision today, across the three apps.

Each app registers a provider in its ``AppConfig.ready()`` (``todos.register("pricing", provider)``); a
provider takes the request and returns :class:`Todo` items for what the user may see, each linking to
the filtered admin list. The admin index shows them (``templates/admin/index.html``). A provider that
fails shows as one item saying so; the others still show.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

logger = logging.getLogger(__name__)

RECENT_DAYS = 7


@dataclass(frozen=True)
class Todo:
    """One line of the admin home: ``count`` things to look at (0: nothing to do), linked to the list."""

    app: str
    title: str
    count: int
    url: str
    detail: str = ""
    level: str = "warning"  # "warning": needs a decision, "error": something failed, "info": to know

    @property
    def key(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in f"{self.app}-{self.title}".lower())


Provider = Callable[[HttpRequest], Iterable[Todo]]
_providers: dict[str, Provider] = {}


def register(name: str, provider: Provider) -> None:
    """Add (or replace) the to-do provider called ``name``."""
    _providers[name] = provider


def collect(request: HttpRequest) -> list[Todo]:
    """Every provider's items; a provider that raises becomes one error item and stops no other."""
    items: list[Todo] = []
    for name, provider in _providers.items():
        try:
            items.extend(provider(request))
        except Exception:  # noqa: BLE001 - the admin home must open whatever one app's data says
            logger.exception("The %s to-dos could not be read.", name)
            items.append(Todo(name.title(), "To-dos could not be read (see the log)", 1, "", level="error"))
    return items


def _user(request: HttpRequest) -> AnonymousUser:
    return getattr(request, "user", AnonymousUser())


def personalization_todos(request: HttpRequest) -> list[Todo]:
    """Failed jobs (events set aside, profile builds), model versions that failed or were not activated, and how
    recent the shop's data is."""
    from ..capture import buffer
    from ..host.adapters import get_adapter
    from ..models import ModelVersion, ProfileBuild

    user, items = _user(request), []
    since = timezone.now() - dt.timedelta(days=RECENT_DAYS)
    if user.has_perm("personalization.view_event"):
        set_aside = buffer.dead_letter_count()
        if set_aside:
            items.append(Todo("Personalization", "Events set aside by the flush", set_aside,
                              reverse("admin:personalization_event_changelist"),
                              f"They wait with their reason in the Redis list {buffer.dead_letter_key()}.", "error"))
    if user.has_perm("personalization.view_profilebuild"):
        failed = ProfileBuild.objects.filter(status=ProfileBuild.Status.FAILED, created_at__gte=since)
        last = failed.order_by("-created_at").first()
        items.append(Todo("Personalization", f"Failed profile builds (last {RECENT_DAYS} days)", failed.count(),
                          reverse("admin:personalization_profilebuild_changelist") + "?status__exact=failed",
                          _first_line(getattr(last, "error", "")) if last else "", "error"))
    if user.has_perm("personalization.view_modelversion"):
        versions = ModelVersion.objects.filter(created_at__gte=since)
        failed_versions = versions.filter(status=ModelVersion.Status.FAILED)
        last_failed = failed_versions.first()
        items.append(Todo("Models", f"Model versions that failed (last {RECENT_DAYS} days)", failed_versions.count(),
                          reverse("admin:personalization_modelversion_changelist") + "?status__exact=failed",
                          f"{last_failed.kind}: {_first_line(last_failed.error)}" if last_failed else "", "error"))
        # Trained but not made active: the registry found them not better than the active one (or activation
        # was not asked for); they stay ready for an A/B test or a manual activation.
        active = {v.kind: v.created_at for v in ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE)}
        newer = Q()
        for kind, created in active.items():
            newer |= Q(kind=kind, created_at__gt=created)
        refused = versions.filter(status=ModelVersion.Status.READY).filter(newer) if active else versions.none()
        last_refused = refused.first()
        items.append(Todo("Models", "Newer versions not activated", refused.count(),
                          reverse("admin:personalization_modelversion_changelist") + "?status__exact=ready",
                          _refusal(last_refused) if last_refused else "", "warning"))
    latest = get_adapter().last_order_at()
    items.append(Todo("Shop", "Shop data as of", 0, "",
                      f"{timezone.localtime(latest):%d %B %Y %H:%M} (the latest order)" if latest else "no order yet",
                      "info"))
    return items


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0][:200] if (text or "").strip() else ""


def _refusal(version: object) -> str:
    """Why a version was not activated, where the trainer recorded it; else its kind and stage."""
    metadata = getattr(version, "metadata", {}) or {}
    reason = metadata.get("not_activated") or metadata.get("refused") or getattr(version, "stage", "")
    return f"{getattr(version, 'kind', '')}: {reason}".rstrip(": ")
