"""Placing an order from a cart: stock is checked and taken under a row lock, all or nothing."""
from __future__ import annotations

import secrets

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .models import Order, OrderLine, Product


class CheckoutError(Exception):
    """An order that cannot be placed; ``problems`` are messages for the shopper."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(" ".join(problems))


class EmptyCart(CheckoutError):
    def __init__(self) -> None:
        super().__init__(["Your cart is empty."])


class OutOfStock(CheckoutError):
    """Some products are gone or not in stock in the quantity asked for."""


def new_order_number() -> str:
    """A fresh web order number such as ``W261127-9F3A1C2B``."""
    return f"W{timezone.localdate():%y%m%d}-{secrets.token_hex(4).upper()}"


def place_order(*, customer: AbstractBaseUser, items: dict[int, int], country: str = "") -> Order:
    """Create an order with one line per cart item and take the quantities off the stock.

    The products are locked (``SELECT ... FOR UPDATE``) for the whole transaction, so two shoppers
    cannot both buy the last one. Raises :class:`EmptyCart` or :class:`OutOfStock`; nothing is
    written then.
    """
    items = {int(pk): int(qty) for pk, qty in items.items() if int(qty) > 0}
    if not items:
        raise EmptyCart()
    with transaction.atomic():
        products = Product.objects.select_for_update().filter(pk__in=items).order_by("pk").in_bulk()
        problems: list[str] = []
        for pk, quantity in sorted(items.items()):
            product = products.get(pk)
            if product is None or not product.is_active:
                problems.append("A product in your cart is no longer for sale.")
            elif product.stock_on_hand < quantity:
                available = max(product.stock_on_hand, 0)
                problems.append(
                    f"“{product.name}” is out of stock."
                    if available == 0
                    else f"Only {available} of “{product.name}” left in stock (you asked for {quantity})."
                )
        if problems:
            raise OutOfStock(problems)
        order = _create_order(customer=customer, country=country)
        for pk, quantity in sorted(items.items()):
            product = products[pk]
            OrderLine.objects.create(order=order, product=product, quantity=quantity, unit_price=product.list_price)
            Product.objects.filter(pk=pk).update(stock_on_hand=F("stock_on_hand") - quantity)
    return order


def _create_order(*, customer: AbstractBaseUser, country: str) -> Order:
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Order.objects.create(number=new_order_number(), customer=customer, country=country)
        except IntegrityError:  # the same random number twice: draw again
            continue
    raise RuntimeError("Could not draw a unique order number.")
