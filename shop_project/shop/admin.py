"""Admin of the demo shop. Changelists stay fast on the full data set (~4k products, ~20k orders,
~400k order lines): no full counts on big tables, related rows selected in the same query, and
autocomplete / raw-id widgets instead of drop-downs with every row."""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from . import data_shift
from .models import Category, DataShift, Order, OrderLine, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "product_count")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return super().get_queryset(request).annotate(_product_count=Count("products"))

    @admin.display(description="products", ordering="_product_count")
    def product_count(self, obj: Category) -> int:
        return obj._product_count  # type: ignore[attr-defined]


class StockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("in", "In stock"), ("out", "Out of stock")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> QuerySet[Product]:
        if self.value() == "in":
            return queryset.filter(stock_on_hand__gt=0)
        if self.value() == "out":
            return queryset.filter(stock_on_hand__lte=0)
        return queryset


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "category", "list_price", "unit_cost", "stock_on_hand", "is_active")
    list_display_links = ("sku", "name")
    list_filter = ("is_active", StockFilter, "category")
    search_fields = ("sku", "name")
    list_select_related = ("category",)
    autocomplete_fields = ("category",)
    list_per_page = 50
    show_full_result_count = False
    actions = ("make_active", "make_inactive")

    @admin.action(description="Put selected products on sale", permissions=["change"])
    def make_active(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        updated = queryset.update(is_active=True)
        self.message_user(request, f"{updated} product(s) are on sale.", level=messages.SUCCESS)

    @admin.action(description="Take selected products off sale", permissions=["change"])
    def make_inactive(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        updated = queryset.update(is_active=False)
        self.message_user(request, f"{updated} product(s) are off sale.", level=messages.SUCCESS)


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    fields = ("product", "quantity", "unit_price", "line_total")
    readonly_fields = ("line_total",)
    autocomplete_fields = ("product",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderLine]:
        return super().get_queryset(request).select_related("product")

    @admin.display(description="line total")
    def line_total(self, obj: OrderLine) -> str:
        return "" if obj.pk is None else f"{obj.line_total:.2f}"


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "customer", "placed_at", "country")
    list_filter = ("country",)
    search_fields = ("=number", "customer__username", "customer__email")
    date_hierarchy = "placed_at"
    list_select_related = ("customer",)
    autocomplete_fields = ("customer",)
    inlines = (OrderLineInline,)
    show_full_result_count = False


@admin.register(OrderLine)
class OrderLineAdmin(admin.ModelAdmin):
    list_display = ("id", "order", "product", "quantity", "unit_price")
    search_fields = ("=order__number", "=product__sku")
    list_select_related = ("order", "product")
    raw_id_fields = ("order",)
    autocomplete_fields = ("product",)
    show_full_result_count = False
    # The default ordering by -pk uses the primary key index; no sortable columns that would sort 400k rows.
    sortable_by = ()


@admin.register(DataShift)
class DataShiftAdmin(admin.ModelAdmin):
    """How ``import_online_retail --end-yesterday`` moved the imported history; read-only (the importer writes it)."""

    list_display = ("shift", "original_range", "shop_range", "source", "updated_at")
    list_display_links = None
    readonly_fields = ("days", "original_first", "original_last", "shifted_first", "shifted_last", "source")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DataShift | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: DataShift | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        sentence = data_shift.describe()
        self.message_user(request, sentence or "No data imported yet: nothing was shifted.", level=messages.INFO)
        return super().changelist_view(request, extra_context)

    @admin.display(description="shift")
    def shift(self, obj: DataShift) -> str:
        return f"{obj.days:+,} days ({obj.days // data_shift.WEEK:+,} weeks)"

    @admin.display(description="dates in the file")
    def original_range(self, obj: DataShift) -> str:
        return f"{obj.original_first:%Y-%m-%d} – {obj.original_last:%Y-%m-%d}"

    @admin.display(description="dates in the shop")
    def shop_range(self, obj: DataShift) -> str:
        return f"{obj.shifted_first:%Y-%m-%d} – {obj.shifted_last:%Y-%m-%d}"
