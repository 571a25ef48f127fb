"""The inventory to-dos of the admin home (registered in ``InventoryConfig.ready``)."""
from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse

from personalization.ops.todos import Todo

from .forecasting import planning_date
from .models import PurchaseOrder, RestockSuggestion


def orders_to_place(suggestions: QuerySet[RestockSuggestion], today: dt.date) -> QuerySet[RestockSuggestion]:
    """Suggestions with something to order whose order-by date has come."""
    return suggestions.filter(suggested_quantity__gt=0, order_by_date__lte=today)


def purchase_orders_due(orders: QuerySet[PurchaseOrder], today: dt.date) -> QuerySet[PurchaseOrder]:
    """Ordered purchase orders expected by ``today`` (or with no expected date): to receive or chase."""
    return orders.filter(
        Q(expected_arrival__lte=today) | Q(expected_arrival__isnull=True), status=PurchaseOrder.Status.ORDERED
    )


def inventory_todos(request: HttpRequest) -> list[Todo]:
    """Restock orders to place today, products that stock out before the next arrival, and ordered purchase
    orders due to arrive (to receive)."""
    user = request.user
    today = planning_date()
    items: list[Todo] = []
    if user.has_perm("inventory.view_restocksuggestion"):
        listing = reverse("admin:inventory_restocksuggestion_changelist")
        open_ = RestockSuggestion.objects.filter(status=RestockSuggestion.Status.OPEN)
        due = orders_to_place(open_, today).count()
        items.append(Todo("Inventory", "Restock orders to place (order-by date reached)", due,
                          f"{listing}?status__exact=open&exception=due", f"Plan of {today:%d %B %Y}.", "warning"))
        stockouts = open_.filter(stockout_before_arrival=True).count()
        items.append(Todo("Inventory", "Products that stock out before the next arrival", stockouts,
                          f"{listing}?status__exact=open&exception=stockout", "", "warning"))
    if user.has_perm("inventory.view_purchaseorder"):
        arriving = purchase_orders_due(PurchaseOrder.objects.all(), today).count()
        items.append(Todo("Inventory", "Purchase orders due (to receive)", arriving,
                          reverse("admin:inventory_purchaseorder_changelist")
                          + "?status__exact=ordered&due=yes", "Ordered, expected by today.", "warning"))
        drafts = PurchaseOrder.objects.filter(status=PurchaseOrder.Status.DRAFT).count()
        items.append(Todo("Inventory", "Draft purchase orders to send", drafts,
                          reverse("admin:inventory_purchaseorder_changelist") + "?status__exact=draft", "", "warning"))
    return items
