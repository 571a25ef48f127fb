"""What a default periodic job is (:class:`ScheduleSpec`), for the apps' ``schedules`` modules.

Every ShopSense app may declare ``DEFAULT_SCHEDULES`` in its own ``schedules`` module
(``personalization/schedules.py``, ``pricing/schedules.py`` …); ``manage.py install_schedules``
collects them from all installed apps and writes them to django-celery-beat, where a shop owner sees
and changes them in the admin.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduleSpec:
    """One periodic task: run ``task`` every ``every_seconds`` or at a crontab (``minute hour ...``)."""

    name: str
    task: str
    description: str
    every_seconds: int | None = None
    crontab: str | None = None  # "minute hour day_of_month month_of_year day_of_week"
