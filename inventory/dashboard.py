"""What a buyer looks at first: the exceptions of the open restock suggestions, and each product's projected stock.

:func:`exception_summary` feeds the admin's exceptions dashboard; :func:`projected_stock` the per-product
chart of stock on hand week by week, with the forecast taken out and the open purchase orders added when they
are expected to arrive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum

from .conf import inventory_settings
from .models import PurchaseOrderLine, RestockSuggestion

TOP = 10


@dataclass
class ExceptionGroup:
    """One kind of exception: how many open suggestions have it, and the worst of them."""

    key: str  # the changelist filter value (?exception=...)
    title: str
    explanation: str
    count: int = 0
    top: list[RestockSuggestion] = field(default_factory=list)


@dataclass
class ExceptionSummary:
    groups: list[ExceptionGroup]
    open_suggestions: int
    to_order: int
    order_by_passed: int
    lost_revenue: Decimal
    suggested_units: int


def _open() -> QuerySet[RestockSuggestion]:
    return RestockSuggestion.objects.filter(status=RestockSuggestion.Status.OPEN).select_related("product")


def exception_summary(today: dt.date) -> ExceptionSummary:
    """Counts and the worst open suggestions per exception: stock-outs before the next arrival by lost revenue,
    excess by units above the order-up-to level, dead stock by units on hand."""
    suggestions = _open()
    groups = [
        ExceptionGroup("stockout", "Stocks out before the next arrival",
                       "On hand will not last until an order placed today arrives.",
                       top=list(suggestions.filter(stockout_before_arrival=True).order_by("-lost_revenue_estimate",
                                                                                          "order_by_date")[:TOP])),
        ExceptionGroup("excess", "Excess stock",
                       f"On hand + on order above {inventory_settings.EXCESS_FACTOR:g} x the order-up-to level.",
                       top=list(suggestions.filter(excess=True)
                                .annotate(above=F("on_hand") + F("on_order") - F("order_up_to"))
                                .order_by("-above")[:TOP])),
        ExceptionGroup("dead", "Dead stock",
                       f"Stock without a sale for {inventory_settings.DEAD_STOCK_WEEKS} weeks.",
                       top=list(suggestions.filter(dead_stock=True).order_by("-on_hand")[:TOP])),
    ]
    counts = suggestions.aggregate(
        total=Count("pk"),
        stockout=Count("pk", filter=Q(stockout_before_arrival=True)),
        excess=Count("pk", filter=Q(excess=True)),
        dead=Count("pk", filter=Q(dead_stock=True)),
        to_order=Count("pk", filter=Q(suggested_quantity__gt=0)),
        due=Count("pk", filter=Q(suggested_quantity__gt=0, order_by_date__lte=today)),
        lost=Sum("lost_revenue_estimate", filter=Q(stockout_before_arrival=True), default=Decimal("0")),
        units=Sum("suggested_quantity", default=0),
    )
    for group in groups:
        group.count = counts[group.key]
    return ExceptionSummary(
        groups=groups,
        open_suggestions=counts["total"],
        to_order=counts["to_order"],
        order_by_passed=counts["due"],
        lost_revenue=Decimal(counts["lost"]).quantize(Decimal("0.01")),
        suggested_units=int(counts["units"]),
    )


def incoming_by_week(product_id: int, origin: dt.date, weeks: int, lead_time_days: float) -> list[int]:
    """Units of the product's open purchase orders arriving in each forecast week from ``origin`` (an order with
    no expected arrival is assumed ``lead_time_days`` after it was created; one already late arrives in week 0)."""
    out = [0] * weeks
    lines = PurchaseOrderLine.objects.filter(
        product_id=product_id, purchase_order__status__in=list(inventory_settings.ON_ORDER_STATUSES)
    ).values_list("quantity", "purchase_order__expected_arrival", "purchase_order__created_at")
    for quantity, expected, created in lines:
        arrival = expected or (created.date() + dt.timedelta(days=round(lead_time_days)))
        week = max((arrival - origin).days // 7, 0)
        if week < weeks:
            out[week] += int(quantity)
    return out


@dataclass(frozen=True)
class Projection:
    """Week by week from the forecast origin: units arriving and stock at the end of the week."""

    origin: dt.date
    incoming: list[int]
    stock: list[float]


def projected_stock(suggestion: RestockSuggestion) -> Projection | None:
    """Stock at the end of each forecast week: on hand, minus the forecast mean, plus open orders as they arrive
    (below zero: demand the stock will not cover). None without a forecast."""
    forecast = suggestion.forecast
    if forecast is None or not forecast.mean:
        return None
    lead = float((suggestion.policy or {}).get("lead_time_days", 7.0))
    incoming = incoming_by_week(suggestion.product_id, forecast.origin, len(forecast.mean), lead)
    level, stock = float(suggestion.on_hand), []
    for demand, arriving in zip(forecast.mean, incoming, strict=True):
        level += arriving - float(demand)
        stock.append(round(level, 2))
    return Projection(forecast.origin, incoming, stock)
