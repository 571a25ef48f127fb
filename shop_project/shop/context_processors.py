from django.http import HttpRequest


def shop(request: HttpRequest) -> dict[str, object]:
    """Cart size and categories for the storefront's header."""
    cart = request.session.get("cart", {}) if hasattr(request, "session") else {}
    return {"cart_count": sum(int(q) for q in cart.values())}
