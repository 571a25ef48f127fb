"""The shopping cart, kept in the session as ``{"<product id>": quantity}``.

The session holds only ids and quantities; prices and stock are read from the catalogue each time the
cart is shown, so a price change or a sold-out product shows up at once.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.sessions.backends.base import SessionBase

from .models import Product

CART_SESSION_KEY = "cart"
CART_TOKEN_SESSION_KEY = "cart_token"
MAX_LINE_QUANTITY = 999


class CartError(ValueError):
    """A cart change the shopper asked for that cannot be made; the message is shown to them."""


@dataclass(frozen=True)
class CartLine:
    """One product in the cart with its current price."""

    product: Product
    quantity: int

    @property
    def unit_price(self) -> Decimal:
        return self.product.list_price

    @property
    def line_total(self) -> Decimal:
        return self.product.list_price * self.quantity

    @property
    def exceeds_stock(self) -> bool:
        return self.quantity > self.product.stock_on_hand


class Cart:
    """A session-backed cart: add, set, remove, list lines with totals."""

    def __init__(self, session: SessionBase):
        self.session = session
        raw = session.get(CART_SESSION_KEY)
        self._items: dict[str, int] = dict(raw) if isinstance(raw, dict) else {}

    # -- reading -----------------------------------------------------------------------------------
    def quantity_of(self, product_id: int) -> int:
        """How many of this product the cart holds (0 when none)."""
        return int(self._items.get(str(product_id), 0))

    @property
    def items(self) -> dict[int, int]:
        """Product id → quantity."""
        return {int(pk): int(qty) for pk, qty in self._items.items()}

    @property
    def checkout_token(self) -> str:
        """This cart's identity for checkout: the same until the cart is cleared (an order placed)."""
        token = self.session.get(CART_TOKEN_SESSION_KEY)
        if not isinstance(token, str) or not token:
            token = uuid.uuid4().hex
            self.session[CART_TOKEN_SESSION_KEY] = token
            self.session.modified = True
        return token

    def __len__(self) -> int:
        return sum(int(qty) for qty in self._items.values())

    def __bool__(self) -> bool:
        return bool(self._items)

    def lines(self) -> list[CartLine]:
        """The cart's lines with their products (one query); products gone or inactive are dropped."""
        products = Product.objects.filter(pk__in=self.items, is_active=True).select_related("category")
        by_id = {product.pk: product for product in products}
        lines = [CartLine(by_id[pk], qty) for pk, qty in self.items.items() if pk in by_id]
        if len(lines) != len(self._items):
            self._items = {str(line.product.pk): line.quantity for line in lines}
            self._save()
        return lines

    def __iter__(self) -> Iterator[CartLine]:
        return iter(self.lines())

    @staticmethod
    def total(lines: list[CartLine]) -> Decimal:
        """Sum of the line totals."""
        return sum((line.line_total for line in lines), Decimal("0.00"))

    # -- writing -----------------------------------------------------------------------------------
    def add(self, product: Product, quantity: int) -> int:
        """Add ``quantity`` of ``product``; returns the new quantity in the cart.

        Raises :class:`CartError` when the product is not for sale or the stock does not cover it.
        """
        return self.set(product, self.quantity_of(product.pk) + quantity)

    def set(self, product: Product, quantity: int) -> int:
        """Set the quantity of ``product`` (0 removes it); returns the new quantity."""
        if quantity <= 0:
            self.remove(product.pk)
            return 0
        if not product.is_active:
            raise CartError(f"“{product.name}” is no longer for sale.")
        if product.stock_on_hand <= 0:
            raise CartError(f"“{product.name}” is out of stock.")
        if quantity > product.stock_on_hand:
            raise CartError(f"Only {product.stock_on_hand} of “{product.name}” in stock.")
        if quantity > MAX_LINE_QUANTITY:
            raise CartError(f"At most {MAX_LINE_QUANTITY} of one product per order.")
        self._items[str(product.pk)] = quantity
        self._save()
        return quantity

    def remove(self, product_id: int) -> bool:
        """Remove a product; True when it was in the cart."""
        removed = self._items.pop(str(product_id), None) is not None
        if removed:
            self._save()
        return removed

    def clear(self) -> None:
        """Empty the cart; the next cart is a new one (a new checkout token)."""
        self._items = {}
        self.session.pop(CART_TOKEN_SESSION_KEY, None)
        self._save()

    def _save(self) -> None:
        self.session[CART_SESSION_KEY] = dict(self._items)
        self.session.modified = True
        if self._items:
            self.checkout_token  # noqa: B018 - drawn with the cart's first item, so every submit of it shares one
