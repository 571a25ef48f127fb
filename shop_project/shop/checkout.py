"""Placing an order from a cart: stock is checked and taken under a row lock, all or nothing, once per cart.

Idempotent: the cart's checkout token is stored on the order (unique). A submit that finds an order with
its token — a double click, a retry after a timeout, ten tabs at once — gets that order back and changes
nothing. Concurrent submits serialise on the products' row locks; the unique token catches any that
would still race past the look-up.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

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


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    created: bool  # False: this cart's order existed already (a repeated submit); nothing was changed


def place_order(*, customer: AbstractBaseUser, items: dict[int, int], country: str = "",
                checkout_token: str | None = None) -> PlacedOrder:
    """Create an order with one line per cart item and take the quantities off the stock.

    The products are locked (``SELECT ... FOR UPDATE``) for the whole transaction, so two shoppers
    cannot both buy the last one. With a ``checkout_token`` (the cart's), an order already placed with
    that token is returned instead (``created=False``). Raises :class:`EmptyCart` or
    :class:`OutOfStock`; nothing is written then.
    """
    if checkout_token:
        placed = _placed_with(checkout_token)
        if placed is not None:
            return placed
    items = {int(pk): int(qty) for pk, qty in items.items() if int(qty) > 0}
    if not items:
        raise EmptyCart()
    try:
        return _place(customer=customer, items=items, country=country, checkout_token=checkout_token)
    except IntegrityError:
        placed = _placed_with(checkout_token) if checkout_token else None
        if placed is None:
            raise
        return placed


def _placed_with(checkout_token: str) -> PlacedOrder | None:
    order = Order.objects.filter(checkout_token=checkout_token).first()
    return PlacedOrder(order, created=False) if order is not None else None


def _place(*, customer: AbstractBaseUser, items: dict[int, int], country: str,
           checkout_token: str | None) -> PlacedOrder:
    with transaction.atomic():
        products = Product.objects.select_for_update().filter(pk__in=items).order_by("pk").in_bulk()
        # A submit of the same cart that waited for the locks finds the order the first one committed.
        if checkout_token and (placed := _placed_with(checkout_token)) is not None:
            return placed
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
        order = _create_order(customer=customer, country=country, checkout_token=checkout_token)
        for pk, quantity in sorted(items.items()):
            product = products[pk]
            OrderLine.objects.create(order=order, product=product, quantity=quantity, unit_price=product.list_price)
            Product.objects.filter(pk=pk).update(stock_on_hand=F("stock_on_hand") - quantity)
    return PlacedOrder(order, created=True)


def _create_order(*, customer: AbstractBaseUser, country: str, checkout_token: str | None) -> Order:
    for _attempt in range(5):
        number = new_order_number()
        try:
            with transaction.atomic():
                return Order.objects.create(number=number, customer=customer, country=country,
                                            checkout_token=checkout_token)
        except IntegrityError:
            if checkout_token and Order.objects.filter(checkout_token=checkout_token).exists():
                raise  # the same cart's order, committed meanwhile: place_order returns it
            continue  # the same random number twice: draw again
    raise RuntimeError("Could not draw a unique order number.")
