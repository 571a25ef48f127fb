"""Read-only catalogue queries of the demo storefront: categories, best sellers, search, sorting."""
from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Q, QuerySet, Sum

from .models import Category, OrderLine, Product

CATEGORY_CACHE_KEY = "shop:header-categories:v1"
CATEGORY_CACHE_SECONDS = 300
BEST_SELLERS_CACHE_KEY = "shop:best-sellers:v1:{limit}"
BEST_SELLERS_CACHE_SECONDS = 600


@dataclass(frozen=True)
class SortOption:
    key: str
    label: str
    ordering: tuple[str, ...]


SORT_OPTIONS: dict[str, SortOption] = {
    option.key: option
    for option in (
        SortOption("name", "Name (A–Z)", ("name", "pk")),
        SortOption("price", "Price: low to high", ("list_price", "pk")),
        SortOption("-price", "Price: high to low", ("-list_price", "pk")),
        SortOption("newest", "Newest first", ("-created_at", "-pk")),
    )
}
DEFAULT_SORT = "name"


def sort_option(key: str | None) -> SortOption:
    """The sort option named by ``key``, or the default one for an unknown key."""
    return SORT_OPTIONS.get(key or "", SORT_OPTIONS[DEFAULT_SORT])


def header_categories() -> list[dict[str, str]]:
    """Name and slug of every category, for the header (one query, then cached for a few minutes)."""
    categories = cache.get(CATEGORY_CACHE_KEY)
    if categories is None:
        categories = list(Category.objects.order_by("name").values("name", "slug"))
        cache.set(CATEGORY_CACHE_KEY, categories, CATEGORY_CACHE_SECONDS)
    return categories


def active_products() -> QuerySet[Product]:
    """Products for sale, with their category."""
    return Product.objects.filter(is_active=True).select_related("category")


def best_sellers(limit: int = 8) -> list[Product]:
    """The active products that sold the most units over all order lines (ranking cached)."""
    key = BEST_SELLERS_CACHE_KEY.format(limit=limit)
    ranked_ids: list[int] | None = cache.get(key)
    if ranked_ids is None:
        ranked_ids = list(
            OrderLine.objects.filter(product__is_active=True)
            .values("product_id")
            .annotate(units=Sum("quantity"))
            .order_by("-units", "product_id")
            .values_list("product_id", flat=True)[:limit]
        )
        cache.set(key, ranked_ids, BEST_SELLERS_CACHE_SECONDS)
    by_id = active_products().in_bulk(ranked_ids)
    return [by_id[pk] for pk in ranked_ids if pk in by_id]


def search_products(query: str) -> QuerySet[Product]:
    """Active products whose name, SKU or description contains every word of ``query``."""
    products = active_products()
    words = query.split()
    if not words:
        return products.none()
    for word in words[:10]:
        products = products.filter(
            Q(name__icontains=word) | Q(sku__iexact=word) | Q(sku__istartswith=word) | Q(description__icontains=word)
        )
    return products
