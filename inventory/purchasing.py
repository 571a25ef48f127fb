"""Purchase orders: from restock suggestions to orders, placing them, receiving stock through the adapter."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from personalization.host.adapters import ShopAdapter, get_adapter

from .forecasting import planning_date
from .models import PurchaseOrder, PurchaseOrderLine, RestockSuggestion, Supplier


class PurchasingError(ValueError):
    """A purchasing step a user asked for cannot be done (nothing to order, already received...)."""


ACTIONABLE = (RestockSuggestion.Status.OPEN, RestockSuggestion.Status.SNOOZED)


def supplier_shortfall(supplier: Supplier | None, units: int, value: Decimal) -> str | None:
    """Why an order of ``units`` worth ``value`` is below ``supplier``'s minimum order (None when it is not)."""
    if supplier is None:
        return None
    if units < supplier.min_order_units:
        return f"{supplier} takes orders of at least {supplier.min_order_units} units; these come to {units}."
    if value < supplier.min_order_value:
        return f"{supplier} takes orders worth at least {supplier.min_order_value:.2f}; these come to {value:.2f}."
    return None


def create_purchase_orders(
    suggestion_ids: Iterable[int], user: Any = None, adapter: ShopAdapter | None = None
) -> list[PurchaseOrder]:
    """Turn open suggestions into draft purchase orders, one per supplier; the suggestions become *ordered*.

    Each line's unit cost is the shop adapter's unit cost of the product. Suggestions already turned into
    an order, dismissed, or with nothing to order are skipped; raises :class:`PurchasingError` when none
    is left, or when a supplier's lines come to less than its minimum order (units or value; nothing is
    created then). The expected arrival is today plus the longest lead time of the order's lines.
    """
    adapter = adapter or get_adapter()
    with transaction.atomic():
        suggestions = list(
            RestockSuggestion.objects.select_for_update(of=("self",))
            .select_related("product")
            .filter(pk__in=list(suggestion_ids), status__in=ACTIONABLE, suggested_quantity__gt=0)
            .order_by("pk")
        )
        if not suggestions:
            raise PurchasingError("None of the chosen suggestions is open with a quantity to order.")
        by_supplier: dict[int | None, list[RestockSuggestion]] = defaultdict(list)
        for s in suggestions:
            by_supplier[s.supplier_id].append(s)
        costs = {s.pk: adapter.get_unit_cost(s.product) for s in suggestions}
        suppliers = Supplier.objects.in_bulk([pk for pk in by_supplier if pk is not None])
        problems = [
            problem
            for supplier_id, group in by_supplier.items()
            if (
                problem := supplier_shortfall(
                    suppliers.get(supplier_id) if supplier_id is not None else None,
                    sum(s.suggested_quantity for s in group),
                    sum(((costs[s.pk] or Decimal("0")) * s.suggested_quantity for s in group), Decimal("0")),
                )
            )
        ]
        if problems:
            raise PurchasingError(" ".join(problems) + " Add suggestions of that supplier, or order it by hand.")
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
                    PurchaseOrderLine(
                        purchase_order=order,
                        product_id=s.product_id,
                        quantity=s.suggested_quantity,
                        unit_cost=costs[s.pk],
                    )
                    for s in group
                ]
            )
            RestockSuggestion.objects.filter(pk__in=[s.pk for s in group]).update(
                status=RestockSuggestion.Status.ORDERED, purchase_order=order, updated_at=timezone.now()
            )
            orders.append(order)
    return orders


def fill_unit_costs(order: PurchaseOrder, adapter: ShopAdapter | None = None) -> int:
    """Give each line of ``order`` without a unit cost the shop adapter's unit cost of its product (lines
    whose product has no known cost stay empty); returns how many lines got one."""
    adapter = adapter or get_adapter()
    changed = []
    for line in order.lines.filter(unit_cost__isnull=True, product__isnull=False).select_related("product"):
        cost = adapter.get_unit_cost(line.product)
        if cost is not None and cost >= 0:
            line.unit_cost = cost
            changed.append(line)
    PurchaseOrderLine.objects.bulk_update(changed, ["unit_cost"])
    return len(changed)


def mark_ordered(order_ids: Iterable[int]) -> int:
    """Drafts become *ordered* (sent to the supplier); returns how many changed."""
    return PurchaseOrder.objects.filter(pk__in=list(order_ids), status=PurchaseOrder.Status.DRAFT).update(
        status=PurchaseOrder.Status.ORDERED, ordered_at=timezone.now()
    )


def receive_purchase_order(order_id: int, adapter: ShopAdapter | None = None) -> PurchaseOrder:
    """Book an *ordered* purchase order as received: every line's quantity goes onto the shop's stock
    through ``adapter.adjust_stock``. A draft was never sent to the supplier, so it cannot be received.
    Atomic and never twice (the order row is locked and re-checked)."""
    adapter = adapter or get_adapter()
    with transaction.atomic():
        try:
            order = PurchaseOrder.objects.select_for_update().get(pk=order_id)
        except PurchaseOrder.DoesNotExist as exc:
            raise PurchasingError(f"Purchase order {order_id} does not exist.") from exc
        if order.status == PurchaseOrder.Status.DRAFT:
            raise PurchasingError(
                f"{order} is a draft: mark it ordered (sent to the supplier) before receiving it."
            )
        if order.status != PurchaseOrder.Status.ORDERED:
            raise PurchasingError(f"{order} is {order.get_status_display().lower()} and cannot be received.")
        for line in order.lines.filter(product__isnull=False).select_related("product"):
            try:  # a deleted product's units have nowhere to go: its line is skipped
                adapter.adjust_stock(line.product, line.quantity)
            except (NotImplementedError, ValueError) as exc:  # rolls back the lines already booked
                raise PurchasingError(f"{order} cannot be received: the stock of {line.product} cannot be "
                                      f"changed in the shop ({exc}).") from exc
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


def line_total(line: PurchaseOrderLine) -> Decimal | None:
    """Quantity × unit cost (None while the unit cost is unknown)."""
    return None if line.unit_cost is None else (line.unit_cost * line.quantity).quantize(Decimal("0.01"))


def order_total(order: PurchaseOrder) -> Decimal:
    """Sum of the line totals whose unit cost is known (use a ``prefetch_related("lines")`` queryset)."""
    return sum((t for line in order.lines.all() if (t := line_total(line)) is not None), Decimal("0.00"))


CSV_HEADER = (
    "purchase_order", "supplier", "status", "expected_arrival", "reference",
    "product_id", "product", "quantity", "unit_cost", "line_total",
)


def purchase_orders_csv(orders: Iterable[PurchaseOrder]) -> str:
    """The orders as CSV, one row per line (:data:`CSV_HEADER`), then one ``TOTAL`` row per order."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for order in orders:
        head = [str(order), order.supplier.name if order.supplier_id else "", order.status,
                order.expected_arrival.isoformat() if order.expected_arrival else "", order.reference]
        for line in order.lines.all():
            total = line_total(line)
            writer.writerow([*head, line.product_id or "", line.product_name, line.quantity,
                             "" if line.unit_cost is None else f"{line.unit_cost:.2f}",
                             "" if total is None else f"{total:.2f}"])
        writer.writerow([*head, "", "TOTAL", sum(line.quantity for line in order.lines.all()), "",
                         f"{order_total(order):.2f}"])
    return out.getvalue()
