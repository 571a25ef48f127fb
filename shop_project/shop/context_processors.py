"""Template context for every storefront page: the header's categories and the cart size."""
from __future__ import annotations

from django.http import HttpRequest

from .cart import CART_SESSION_KEY
from .catalog import header_categories


def shop(request: HttpRequest) -> dict[str, object]:
    """Cart size and categories for the storefront's header (categories: one cached query)."""
    session = getattr(request, "session", None)
    raw = session.get(CART_SESSION_KEY, {}) if session is not None else {}
    try:
        cart_count = sum(int(quantity) for quantity in raw.values()) if isinstance(raw, dict) else 0
    except (TypeError, ValueError):
        cart_count = 0
    # A callable: templates call it only where the header is drawn (not on admin pages).
    return {"cart_count": cart_count, "header_categories": header_categories}
