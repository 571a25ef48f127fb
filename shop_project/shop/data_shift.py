"""Moving the imported history in time, so that the demo's last day of data is yesterday.

The UCI data ends on 2011-12-09. A shop whose history stops fifteen years ago plans, forecasts and
charts in another calendar than the orders it takes today; ``import_online_retail --end-yesterday``
(or ``--shift-to DATE``) therefore adds the same whole number of weeks to every timestamp it imports
(weekdays, and so weekly seasonality, are kept), chosen so that the last day of the data read becomes
the latest day on or before the target with the same weekday.

The shift is stored in one :class:`~shop_project.shop.models.DataShift` row and shown in the admin
(the shop's "imported data's date shift" page); :func:`describe` puts it in one sentence for any
page that wants to show it (the admin home). A second import with the same shift is idempotent; an
import with another shift into a database that already holds imported data is refused.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.utils import timezone

from .import_reading import ImportDataError
from .models import DataShift

WEEK = 7


def days_to_end_by(last_day: dt.date, target: dt.date) -> int:
    """Days (a multiple of 7, maybe negative) that move ``last_day`` to the latest same weekday <= ``target``."""
    return WEEK * ((target - last_day).days // WEEK)


def yesterday() -> dt.date:
    """Yesterday in the shop's time zone (``TIME_ZONE``)."""
    return timezone.localdate() - dt.timedelta(days=1)


def current() -> DataShift | None:
    """The stored shift, or ``None`` when nothing was imported (or the database predates the record)."""
    return DataShift.objects.order_by("pk").first()


def describe(shift: DataShift | None = None) -> str | None:
    """The stored shift in one sentence, for the admin (``None`` when there is none)."""
    shift = shift if shift is not None else current()
    if shift is None:
        return None
    span = f"{shift.original_first:%d %b %Y} – {shift.original_last:%d %b %Y}"
    if shift.days == 0:
        return f"Imported data kept its own dates: {span} ({shift.source or 'the file'})."
    return (
        f"Imported data shifted by {shift.days:+,} days ({shift.days // WEEK:+,} weeks, weekdays kept): "
        f"{span} in the file reads {shift.shifted_first:%d %b %Y} – {shift.shifted_last:%d %b %Y} in the shop."
    )


def shifted(dates: pd.Series, days: int) -> pd.Series:
    """``dates`` (naive wall-clock times) moved by ``days``; the time of day stays."""
    return dates + pd.Timedelta(days=days) if days else dates


def record(days: int, first: dt.date, last: dt.date, source: str, *, already_imported: bool) -> DataShift:
    """Store the shift of an import whose sales span ``first`` .. ``last`` in the file, or refuse it.

    Raises :class:`ImportDataError` when the database already holds imported data under another shift
    (a database that predates the record counts as unshifted when it holds this file's orders).
    """
    stored = current()
    before = stored.days if stored is not None else (0 if already_imported else None)
    if before is not None and before != days:
        what = "its own dates" if before == 0 else f"a shift of {before:+,} days"
        wanted = "its own dates (no shift option)" if days == 0 else f"a shift of {days:+,} days"
        hint = (
            "Run the import with no shift option"
            if before == 0
            else f"Pass --shift-to {stored.shifted_last.isoformat() if stored else ''} to keep the stored shift"
        )
        raise ImportDataError(
            f"This database already holds imported data with {what}; this import would use {wanted}, "
            f"which would mix two calendars. {hint}, or import into an empty database."
        )
    if stored is None:
        return DataShift.objects.create(days=days, original_first=first, original_last=last, source=source)
    stored.original_first = min(stored.original_first, first)
    stored.original_last = max(stored.original_last, last)
    stored.source = source
    stored.save()
    return stored
