"""Read-only catalogue queries of the demo storefront: categories, best sellers, search, sorting."""
from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet, Sum

from .models import Category, OrderLine, Product

CATEGORY_CACHE_KEY = "shop:header-categories:v1"
CATEGORY_CACHE_SECONDS = 300
BEST_SELLERS_CACHE_KEY = "shop:best-sellers:v1:{limit}"
# Ranking ~500k order lines takes ~1.5 s on SQLite, so the ranking is kept for an hour.
BEST_SELLERS_CACHE_SECONDS = 3600


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
    """The active products that were ordered most often (ties: most units), over all order lines.

    Ranking by the number of orders rather than units keeps one wholesale order of thousands from
    topping the list.
    The ranking covers twice ``limit`` products so that a few taken off sale since it was cached
    still leave ``limit`` to show; whether a product is active is checked on every call.
    """
    key = BEST_SELLERS_CACHE_KEY.format(limit=limit)
    ranked_ids: list[int] | None = cache.get(key)
    if ranked_ids is None:
        ranked_ids = list(
            OrderLine.objects.values("product_id")
            .annotate(orders=Count("id"), units=Sum("quantity"))
            .order_by("-orders", "-units", "product_id")
            .values_list("product_id", flat=True)[: limit * 2]
        )
        cache.set(key, ranked_ids, BEST_SELLERS_CACHE_SECONDS)
    by_id = active_products().in_bulk(ranked_ids)
    return [by_id[pk] for pk in ranked_ids if pk in by_id][:limit]


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
