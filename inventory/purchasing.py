"""Purchase orders: from restock suggestions to orders, placing them, receiving stock through the adapter."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from personalization.host.adapters import ShopAdapter, get_adapter

from .forecasting import planning_date
from .models import PurchaseOrder, PurchaseOrderLine, RestockSuggestion


class PurchasingError(ValueError):
    """A purchasing step a user asked for cannot be done (nothing to order, already received...)."""


ACTIONABLE = (RestockSuggestion.Status.OPEN, RestockSuggestion.Status.SNOOZED)


def create_purchase_orders(suggestion_ids: Iterable[int], user: Any = None) -> list[PurchaseOrder]:
    """Turn open suggestions into draft purchase orders, one per supplier; the suggestions become *ordered*.

    Suggestions already turned into an order, dismissed, or with nothing to order are skipped; raises
    :class:`PurchasingError` when none is left. The expected arrival is today plus the longest lead time
    of the order's lines.
    """
    with transaction.atomic():
        suggestions = list(
            RestockSuggestion.objects.select_for_update()
            .filter(pk__in=list(suggestion_ids), status__in=ACTIONABLE, suggested_quantity__gt=0)
            .order_by("pk")
        )
        if not suggestions:
            raise PurchasingError("None of the chosen suggestions is open with a quantity to order.")
        by_supplier: dict[int | None, list[RestockSuggestion]] = defaultdict(list)
        for s in suggestions:
            by_supplier[s.supplier_id].append(s)
        today = timezone.localdate()
        orders = []
        for supplier_id, group in by_supplier.items():
            lead = max(float(s.policy.get("lead_time_days", 0) or 0) for s in group)
            order = PurchaseOrder.objects.create(
                supplier_id=supplier_id,
                expected_arrival=today + dt.timedelta(days=math.ceil(lead)),
                created_by=user if getattr(user, "pk", None) else None,
            )
            PurchaseOrderLine.objects.bulk_create(
                [
                    PurchaseOrderLine(purchase_order=order, product_id=s.product_id, quantity=s.suggested_quantity)
                    for s in group
                ]
            )
            RestockSuggestion.objects.filter(pk__in=[s.pk for s in group]).update(
                status=RestockSuggestion.Status.ORDERED, purchase_order=order, updated_at=timezone.now()
            )
            orders.append(order)
    return orders


def mark_ordered(order_ids: Iterable[int]) -> int:
    """Drafts become *ordered* (sent to the supplier); returns how many changed."""
    return PurchaseOrder.objects.filter(pk__in=list(order_ids), status=PurchaseOrder.Status.DRAFT).update(
        status=PurchaseOrder.Status.ORDERED, ordered_at=timezone.now()
    )


def receive_purchase_order(order_id: int, adapter: ShopAdapter | None = None) -> PurchaseOrder:
    """Book a draft or ordered purchase order as received: every line's quantity goes onto the shop's stock
    through ``adapter.adjust_stock``. Atomic and never twice (the order row is locked and re-checked)."""
    adapter = adapter or get_adapter()
    with transaction.atomic():
        try:
            order = PurchaseOrder.objects.select_for_update().get(pk=order_id)
        except PurchaseOrder.DoesNotExist as exc:
            raise PurchasingError(f"Purchase order {order_id} does not exist.") from exc
        if order.status not in (PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.ORDERED):
            raise PurchasingError(f"{order} is {order.get_status_display().lower()} and cannot be received.")
        for line in order.lines.select_related("product"):
            adapter.adjust_stock(line.product, line.quantity)
        order.status, order.received_at = PurchaseOrder.Status.RECEIVED, timezone.now()
        order.save(update_fields=["status", "received_at"])
    return order


def set_suggestion_status(suggestion_ids: Iterable[int], status: str, snooze_days: int = 7) -> int:
    """Mark open / snoozed suggestions ordered, snoozed (``snooze_days`` after the planning date) or dismissed."""
    if status not in {
        RestockSuggestion.Status.ORDERED,
        RestockSuggestion.Status.SNOOZED,
        RestockSuggestion.Status.DISMISSED,
    }:
        raise PurchasingError(f"Unknown status {status!r}.")
    if status == RestockSuggestion.Status.SNOOZED and snooze_days < 1:
        raise PurchasingError("Snooze for at least one day.")
    until = planning_date() + dt.timedelta(days=snooze_days) if status == RestockSuggestion.Status.SNOOZED else None
    return RestockSuggestion.objects.filter(pk__in=list(suggestion_ids), status__in=ACTIONABLE).update(
        status=status, snoozed_until=until, updated_at=timezone.now()
    )
