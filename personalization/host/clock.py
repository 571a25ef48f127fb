"""The shop's "as of": the moment every job plans, trains and charts for.

By default that is now. A shop can pin it to a date or a moment (``PERSONALIZATION["REFERENCE_TIME"]``,
an ISO 8601 date or date-time; a date means the end of that day in ``TIME_ZONE``), e.g. to replay a
past season; ``PERSONALIZATION["PROFILES"]["REFERENCE_TIME"]`` and ``INVENTORY["REFERENCE_TIME"]`` pin
one app only (``None``: the shop's). No job takes "the latest order" as its now: one order placed
today would otherwise move a shop on old data years forward at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from .conf import personalization_settings

NOW = "now"


def parse(value: Any, setting: str) -> dt.datetime | None:
    """``None`` for "now", else the aware moment ``value`` names; ImproperlyConfigured when it names none."""
    if value is None or (isinstance(value, str) and value.strip().lower() == NOW):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time.max)
    else:
        text = str(value).strip()
        try:
            moment = (
                dt.datetime.combine(dt.date.fromisoformat(text), dt.time.max)
                if len(text) == 10
                else dt.datetime.fromisoformat(text)
            )
        except ValueError:
            raise ImproperlyConfigured(
                f"{setting} must be 'now' or an ISO 8601 date (YYYY-MM-DD) or date-time, not {value!r}."
            ) from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def shop_reference_time() -> dt.datetime | None:
    """The shop's pinned as-of (``PERSONALIZATION["REFERENCE_TIME"]``), ``None`` for now."""
    return parse(personalization_settings.REFERENCE_TIME, 'PERSONALIZATION["REFERENCE_TIME"]')


def reference_time(override: Any = None, setting: str = 'PERSONALIZATION["REFERENCE_TIME"]') -> dt.datetime:
    """The moment jobs work as of: ``override`` (an app's own setting) when set, else the shop's, else now."""
    pinned = parse(override, setting) if override is not None else shop_reference_time()
    return pinned if pinned is not None else timezone.now()


def reference_date(override: Any = None, setting: str = 'PERSONALIZATION["REFERENCE_TIME"]') -> dt.date:
    """The day of :func:`reference_time` in ``TIME_ZONE``."""
    return timezone.localdate(reference_time(override, setting))
