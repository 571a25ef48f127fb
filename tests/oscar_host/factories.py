"""Factories of the Oscar test host: Oscar products with stock records and categories, and orders placed
through Oscar's own ``OrderCreator`` (``oscar.test.factories.create_order``)."""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from oscar.apps.catalogue.categories import create_from_breadcrumbs
from oscar.core.loading import get_class, get_model
from oscar.test import factories

Product = get_model("catalogue", "Product")
ProductCategory = get_model("catalogue", "ProductCategory")
StockRecord = get_model("partner", "StockRecord")
Basket = get_model("basket", "Basket")
Selector = get_class("partner.strategy", "Selector")


def make_product(title: str, price: str = "10.00", stock: int = 20, categories: Iterable[str] = ("Gifts",),
                 cost: str | None = "4.00", allocated: int = 0) -> Any:
    """A standalone Oscar product with one stock record and its categories (``"A > B"`` makes a tree)."""
    attributes = {"cost_price": float(cost)} if cost is not None else None
    product = factories.create_product(title=title, price=Decimal(price), num_in_stock=stock, attributes=attributes,
                                       partner_name="Warehouse", product_class="Things")
    if allocated:
        StockRecord.objects.filter(product=product).update(num_allocated=allocated)
    for breadcrumb in categories:
        ProductCategory.objects.create(product=product, category=create_from_breadcrumbs(breadcrumb))
    return Product.objects.get(pk=product.pk)


def place_order(user: Any, items: Iterable[tuple[Any, int]], status: str = "Pending") -> Any:
    """An order placed through Oscar's ``OrderCreator`` (which sends Oscar's ``order_placed``)."""
    basket = Basket.objects.create(owner=user)
    basket.strategy = Selector().strategy(user=user)
    for product, quantity in items:
        basket.add_product(product, quantity)
    return factories.create_order(basket=basket, user=user, status=status)


def make_customer(name: str) -> Any:
    return get_user_model().objects.create_user(username=name, email=f"{name}@example.com", password="pw")


def flush() -> None:
    """Move buffered events (Redis) into the event table."""
    call_command("flush_events", verbosity=0)
