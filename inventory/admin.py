"""Admin for suppliers, policies, forecasts, restock suggestions and purchase orders."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.safestring import SafeString

from personalization.ops.admin_actions import PermittedActionsMixin

from . import services
from .charts import forecast_svg, projection_svg
from .dashboard import exception_summary, projected_stock
from .models import (
    DemandForecast,
    PurchaseOrder,
    PurchaseOrderLine,
    ReplenishmentPolicy,
    RestockSuggestion,
    Supplier,
)
from .todos import orders_to_place, purchase_orders_due


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "min_order_units", "min_order_value")
    search_fields = ("name", "email")


@admin.register(ReplenishmentPolicy)
class ReplenishmentPolicyAdmin(admin.ModelAdmin):
    """Edited through a ModelForm, so ``ReplenishmentPolicy.clean()`` reports bad values on their fields."""

    list_display = (
        "__str__",
        "supplier",
        "lead_time_days",
        "lead_time_std_days",
        "review_period_days",
        "review_policy",
        "service_level_type",
        "service_level",
        "min_order_quantity",
        "pack_size",
        "do_not_order_below",
        "order_without_demand",
        "max_days_of_cover",
        "order_cost",
        "is_active",
    )
    list_filter = ("scope", "review_policy", "service_level_type", "is_active", "supplier")
    raw_id_fields = ("product",)
    search_fields = ("category",)


@admin.register(DemandForecast)
class DemandForecastAdmin(admin.ModelAdmin):
    list_display = ("product", "origin", "method", "demand_class", "weekly_mean")
    list_filter = ("origin", "method", "demand_class")
    list_select_related = ("product",)
    raw_id_fields = ("product", "model_version")
    readonly_fields = ("chart",)
    date_hierarchy = None

    @admin.display(description="mean units / week")
    def weekly_mean(self, obj: DemandForecast) -> str:
        return f"{obj.total_mean / max(len(obj.mean), 1):.1f}"

    @admin.display(description="history and forecast")
    def chart(self, obj: DemandForecast) -> SafeString:
        return forecast_svg(obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DemandForecast | None = None) -> bool:
        # a forecast is computed output: its page shows it (view permission), the planner rewrites it
        return False


class ExceptionFilter(admin.SimpleListFilter):
    title = "exception"
    parameter_name = "exception"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("stockout", "Stocks out before the next arrival"),
            ("excess", "Excess stock"),
            ("dead", "Dead stock"),
            ("any", "Any exception"),
            ("due", "To order: order-by date reached"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "stockout":
            return queryset.filter(stockout_before_arrival=True)
        if value == "excess":
            return queryset.filter(excess=True)
        if value == "dead":
            return queryset.filter(dead_stock=True)
        if value == "due":
            return orders_to_place(queryset, services.planning_date())
        if value == "any":
            from django.db.models import Q

            return queryset.filter(Q(stockout_before_arrival=True) | Q(excess=True) | Q(dead_stock=True))
        return queryset


def _units(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


#: What the planner computes: shown, never edited (the next plan would overwrite an edit anyway).
SUGGESTION_COMPUTED = (
    "product", "forecast", "supplier", "purchase_order", "planned_at", "on_hand", "on_order", "forecast_demand",
    "safety_stock", "reorder_point", "order_up_to", "suggested_quantity", "projected_stockout_date",
    "order_by_date", "lost_revenue_estimate", "stockout_before_arrival", "excess", "dead_stock",
    "below_supplier_minimum", "method", "policy", "created_at", "updated_at",
)


@admin.register(RestockSuggestion)
class RestockSuggestionAdmin(PermittedActionsMixin, admin.ModelAdmin):
    """Sorted by urgency (the model's ordering: order-by date, then lost revenue); the planner's figures are
    read-only, the buyer changes the status (or snoozes) through the actions or the form."""

    list_display = (
        "product",
        "status",
        "suggested_quantity",
        "packs",
        "on_hand",
        "on_order",
        "reorder_point_units",
        "order_up_to_units",
        "order_by_date",
        "projected_stockout_date",
        "lost_revenue_estimate",
        "stockout_before_arrival",
        "excess",
        "dead_stock",
        "below_supplier_minimum",
        "purchase_order",
    )
    list_filter = ("status", ExceptionFilter, "below_supplier_minimum", "supplier", "planned_at")
    list_select_related = ("product", "purchase_order")
    readonly_fields = (*SUGGESTION_COMPUTED, "chart", "projected_stock_chart")
    fields = ("status", "snoozed_until", *SUGGESTION_COMPUTED, "chart", "projected_stock_chart")

    @admin.display(description="packs")
    def packs(self, obj: RestockSuggestion) -> str:
        pack = max(int((obj.policy or {}).get("pack_size") or 1), 1)
        return f"{obj.suggested_quantity // pack} × {pack}" if pack > 1 else str(obj.suggested_quantity)

    @admin.display(description="reorder point", ordering="reorder_point")
    def reorder_point_units(self, obj: RestockSuggestion) -> str:
        return _units(obj.reorder_point)

    @admin.display(description="order up to", ordering="order_up_to")
    def order_up_to_units(self, obj: RestockSuggestion) -> str:
        return _units(obj.order_up_to)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # suggestions come from the planner
    actions = ("create_purchase_order", "mark_ordered", "snooze", "dismiss")
    change_list_template = "admin/inventory/restocksuggestion/change_list.html"

    @admin.display(description="history and forecast")
    def chart(self, obj: RestockSuggestion) -> SafeString | str:
        return forecast_svg(obj.forecast) if obj.forecast_id else "No forecast."

    @admin.display(description="projected stock with incoming orders")
    def projected_stock_chart(self, obj: RestockSuggestion) -> SafeString | str:
        projection = projected_stock(obj)
        return projection_svg(projection, obj.on_hand) if projection else "No forecast."

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("dashboard/", view(self.dashboard_view), name="inventory_restocksuggestion_dashboard"),
            *super().get_urls(),
        ]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        """The exceptions of the open suggestions: counts, the worst products, links to the filtered list."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = services.planning_date()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Restock exceptions",
            "summary": exception_summary(today),
            "today": today,
        }
        return TemplateResponse(request, "admin/inventory/restocksuggestion/dashboard.html", context)

    def has_order_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request) and request.user.has_perm("inventory.add_purchaseorder")

    @admin.action(description="Create purchase order(s) from the selected suggestions", permissions=["order"])
    def create_purchase_order(self, request: HttpRequest, queryset: QuerySet[RestockSuggestion]) -> None:
        try:
            orders = services.create_purchase_orders(queryset.values_list("pk", flat=True), user=request.user)
        except services.PurchasingError as exc:
            self.message_user(request, str(exc), level=messages.WARNING)
            return
        names = ", ".join(str(o) for o in orders)
        self.message_user(request, f"Created draft purchase order(s) {names}.", level=messages.SUCCESS)

    def _set_status(self, request: HttpRequest, queryset: QuerySet, status: str, verb: str) -> None:
        changed = services.set_suggestion_status(queryset.values_list("pk", flat=True), status)
        level = messages.SUCCESS if changed else messages.INFO
        self.message_user(request, f"{verb} {changed} open suggestion(s).", level=level)

    @admin.action(description="Mark selected as ordered (outside ShopSense)", permissions=["change"])
    def mark_ordered(self, request: HttpRequest, queryset: QuerySet[RestockSuggestion]) -> None:
        self._set_status(request, queryset, RestockSuggestion.Status.ORDERED, "Marked as ordered")

    @admin.action(description="Snooze selected for 7 days", permissions=["change"])
    def snooze(self, request: HttpRequest, queryset: QuerySet[RestockSuggestion]) -> None:
        self._set_status(request, queryset, RestockSuggestion.Status.SNOOZED, "Snoozed")

    @admin.action(description="Dismiss selected", permissions=["change"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet[RestockSuggestion]) -> None:
        self._set_status(request, queryset, RestockSuggestion.Status.DISMISSED, "Dismissed")


class PurchaseOrderLineForm(ModelForm):
    """A line whose product the shop deleted keeps its empty product (shown by its label): the order stays editable."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.product_id is None and "product" in self.fields:
            self.fields["product"].required = False
            self.fields["product"].disabled = True


class PurchaseOrderLineInline(admin.TabularInline):
    """Lines; an empty unit cost is filled with the shop adapter's unit cost when the order is saved."""

    model = PurchaseOrderLine
    form = PurchaseOrderLineForm
    raw_id_fields = ("product",)
    fields = ("product", "product_label", "quantity", "unit_cost", "total")
    readonly_fields = ("product_label", "total")
    extra = 0

    @admin.display(description="line total")
    def total(self, obj: PurchaseOrderLine) -> str:
        value = services.line_total(obj) if obj.pk else None
        return "" if value is None else f"{value:,.2f}"


class DueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Ordered, expected by today")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return purchase_orders_due(queryset, services.planning_date()) if self.value() == "yes" else queryset


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(PermittedActionsMixin, admin.ModelAdmin):
    list_display = (
        "__str__", "supplier", "status", "expected_arrival", "order_total", "created_at", "ordered_at", "received_at"
    )
    list_filter = ("status", DueFilter, "supplier")
    inlines = (PurchaseOrderLineInline,)
    readonly_fields = ("status", "order_total", "created_by", "created_at", "ordered_at", "received_at")
    actions = ("mark_as_ordered", "receive", "export_csv")

    def get_queryset(self, request: HttpRequest) -> QuerySet[PurchaseOrder]:
        return super().get_queryset(request).select_related("supplier").prefetch_related("lines")

    @admin.display(description="total")
    def order_total(self, obj: PurchaseOrder) -> str:
        return f"{services.order_total(obj):,.2f}" if obj.pk else ""

    def save_model(self, request: HttpRequest, obj: PurchaseOrder, form: ModelForm, change: bool) -> None:
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: list[BaseInlineFormSet],
                     change: bool) -> None:
        super().save_related(request, form, formsets, change)
        services.fill_unit_costs(form.instance)

    @admin.action(description="Download selected as CSV (lines, unit costs, totals)", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[PurchaseOrder]) -> HttpResponse:
        orders = queryset.select_related("supplier").prefetch_related("lines__product").order_by("pk")
        response = HttpResponse(services.purchase_orders_csv(orders), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="purchase-orders.csv"'
        return response

    def has_change_permission(self, request: HttpRequest, obj: PurchaseOrder | None = None) -> bool:
        # a received order is history: its lines already went onto the stock
        if obj is not None and obj.status in (PurchaseOrder.Status.RECEIVED, PurchaseOrder.Status.CANCELLED):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: PurchaseOrder | None = None) -> bool:
        # a received order is the record of stock that came in: deleting it would rewrite history (the bulk
        # "delete selected" asks this per order too and refuses the whole selection)
        if obj is not None and obj.status == PurchaseOrder.Status.RECEIVED:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description="Mark selected drafts as ordered", permissions=["change"])
    def mark_as_ordered(self, request: HttpRequest, queryset: QuerySet[PurchaseOrder]) -> None:
        changed = services.mark_ordered(queryset.values_list("pk", flat=True))
        self.message_user(
            request, f"Marked {changed} draft(s) as ordered.", level=messages.SUCCESS if changed else messages.INFO
        )

    @admin.action(description="Receive selected (adds the quantities to the stock)", permissions=["change"])
    def receive(self, request: HttpRequest, queryset: QuerySet[PurchaseOrder]) -> None:
        received, refused = [], []
        for order_id in queryset.values_list("pk", flat=True):
            try:
                received.append(str(services.receive_purchase_order(order_id)))
            except services.PurchasingError as exc:
                refused.append(str(exc))
        if received:
            self.message_user(request, f"Received {', '.join(received)}; stock updated.", level=messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, level=messages.WARNING)
