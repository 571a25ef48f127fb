"""What the shop knows about demand besides its order lines, added to the forecaster's weekly panel.

- **Stock-outs.** :func:`record_stockouts` (the hourly ``inventory.record_stockouts`` task) stores a
  :class:`~inventory.models.StockoutDay` for every active product seen with no stock; :func:`stockout_weeks`
  turns them into the panel's ``stockout`` flag, and a flagged week without a sale is censored demand (unknown,
  not zero) for every forecaster (see :func:`inventory.ml.base.prepare_history`). Without this, an item that
  sold out for three weeks would be forecast at zero and never reordered.
- **Recommendation exposure.** :func:`exposure_weeks` counts the ``impression`` events of the personalization
  app per product and week: how often the product was shown in recommendation lists. The global forecasters
  use its recent level and change as features (demand follows exposure with a lag).

Both only read what is before the panel's end, so they never leak the forecast window.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.db.models import Count
from django.db.models.functions import TruncWeek
from django.utils import timezone

from personalization.host.adapters import ShopAdapter, get_adapter
from personalization.models import Event, EventType

from .models import StockoutDay


def record_stockouts(day: dt.date | None = None, adapter: ShopAdapter | None = None) -> int:
    """Record ``day`` (default: today) as a stock-out day of every active product with no stock; idempotent.

    Returns how many products were out of stock: the active products the adapter does not call available
    (``available_products``, one query). With the default adapter and no ``PRODUCT_FIELDS["stock"]``
    configured the shop's stock is unknown, and nothing is recorded.
    """
    adapter = adapter or get_adapter()
    day = day or timezone.localdate()
    ids = list(adapter.active_products().exclude(pk__in=adapter.available_products().values("pk"))
               .values_list("pk", flat=True))
    StockoutDay.objects.bulk_create(
        [StockoutDay(product_id=pk, day=day) for pk in ids], ignore_conflicts=True, batch_size=2000
    )
    return len(ids)


def stockout_weeks(start: dt.date | None, end: dt.date) -> pd.DataFrame:
    """``unique_id`` (product id as text), ``ds`` (Monday) of the weeks in [start, end) with a stock-out day."""
    days = StockoutDay.objects.filter(day__lt=end)
    if start is not None:
        days = days.filter(day__gte=start)
    frame = pd.DataFrame(list(days.values_list("product_id", "day")), columns=["unique_id", "day"])
    if frame.empty:
        return pd.DataFrame(columns=["unique_id", "ds"])
    day = pd.to_datetime(frame["day"])
    frame["ds"] = day - pd.to_timedelta(day.dt.weekday, unit="D")
    frame["unique_id"] = frame["unique_id"].astype(str)
    return frame[["unique_id", "ds"]].drop_duplicates().reset_index(drop=True)


def exposure_weeks(start: dt.datetime | None, end: dt.datetime) -> pd.DataFrame:
    """``unique_id``, ``ds`` (Monday), ``exposures``: recommendation impressions per product and week in
    [start, end), counted by the database (weeks in the current time zone)."""
    events = Event.objects.filter(event_type=EventType.IMPRESSION, product__isnull=False, timestamp__lt=end)
    if start is not None:
        events = events.filter(timestamp__gte=start)
    rows = (
        events.annotate(week=TruncWeek("timestamp")).values("product_id", "week").annotate(n=Count("pk"))
        .values_list("product_id", "week", "n")
    )
    frame = pd.DataFrame(list(rows), columns=["unique_id", "ds", "exposures"])
    if frame.empty:
        return pd.DataFrame(columns=["unique_id", "ds", "exposures"])
    ds = pd.to_datetime(frame["ds"], utc=True).dt.tz_convert(timezone.get_current_timezone()).dt.tz_localize(None)
    frame["ds"] = ds.dt.normalize()
    frame["unique_id"] = frame["unique_id"].astype(str)
    frame["exposures"] = frame["exposures"].astype(float)
    return frame.groupby(["unique_id", "ds"], as_index=False)["exposures"].sum()
