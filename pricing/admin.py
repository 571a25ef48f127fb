"""Admin for pricing: policies, suggestions (approve / reject with a reason / apply), history (roll back, chart), pause.

Actions are permission-checked with Django's model permissions: approving and rejecting need
``pricing.change_pricesuggestion``; applying also needs ``pricing.add_pricechange`` (it writes history),
and rolling back needs ``pricing.add_pricechange``. Refusals (pause, circuit breaker, stale price)
come back as admin messages, never as errors.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import DecimalField, ExpressionWrapper, F, FloatField, QuerySet, Value
from django.db.models.functions import Abs, Cast, Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from personalization.host import get_product_model
from personalization.host.adapters import get_adapter
from personalization.ops.admin_actions import PermittedActionsMixin

from . import actions
from .charts import price_history_svg
from .models import PriceChange, PriceSuggestion, PricingPolicy, PricingSettings
from .selectors import price_history


def _chart_link(product_id: int) -> str:
    return format_html('<a href="{}">chart</a>', reverse("admin:pricing_pricechange_chart", args=[product_id]))


@admin.register(PricingPolicy)
class PricingPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "scope",
        "product",
        "category",
        "min_margin",
        "absolute_floor",
        "ceiling",
        "max_change",
        "strategy",
        "mode",
        "is_active",
    )
    list_filter = ("scope", "strategy", "mode", "is_active")
    search_fields = ("name", "category")
    raw_id_fields = ("product",)
    fieldsets = (
        (None, {"fields": ("name", "scope", "product", "category", "is_active")}),
        (
            "Floors (leave the margin and the absolute floor blank to keep the price as it is)",
            {"fields": ("min_margin", "map_price", "absolute_floor")},
        ),
        ("Limits", {"fields": ("ceiling", "max_change", "min_interval", "price_endings")}),
        ("Strategy", {"fields": ("strategy", "mode")}),
    )


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Why these prices should not be used.")


NO_GAIN_RANK = Decimal("-999999999999.99")


def product_search_fields() -> tuple[str, ...]:
    """The host product's name and SKU as admin search lookups, from the adapter's field map."""
    fields = getattr(get_adapter(), "product_fields", {}) or {}
    return tuple(f"product__{fields[key]}" for key in ("name", "sku") if fields.get(key))


class ChangeSizeFilter(admin.SimpleListFilter):
    title = "size of change"
    parameter_name = "change"
    BANDS = {"small": (0.0, 0.02), "medium": (0.02, 0.05), "large": (0.05, None)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("small", "under 2 %"), ("medium", "2 % to 5 %"), ("large", "5 % or more")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[PriceSuggestion]) -> QuerySet[PriceSuggestion]:
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        low, high = band
        queryset = queryset.filter(change_size__gte=low)
        return queryset if high is None else queryset.filter(change_size__lt=high)


class GainFilter(admin.SimpleListFilter):
    title = "expected gain"
    parameter_name = "gain"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1", "at least 1 a week"), ("10", "at least 10 a week"), ("none", "no expected profit")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[PriceSuggestion]) -> QuerySet[PriceSuggestion]:
        if self.value() == "none":
            return queryset.filter(expected_gain__isnull=True)
        if self.value() in ("1", "10"):
            return queryset.filter(expected_gain__gte=int(self.value() or 0))
        return queryset


@admin.register(PriceSuggestion)
class PriceSuggestionAdmin(PermittedActionsMixin, admin.ModelAdmin):
    list_display = (
        "product",
        "current_price",
        "suggested_price",
        "change",
        "profit_delta",
        "confidence_pct",
        "binding_rule",
        "rounding",
        "strategy",
        "status",
        "created_at",
        "chart",
    )
    list_filter = ("status", GainFilter, ChangeSizeFilter, "strategy", "binding_rule")
    list_select_related = ("product",)
    search_help_text = "Product name or SKU."
    actions = ("approve_selected", "reject_selected", "apply_selected")
    readonly_fields = ("trail_table",)
    exclude = ("clamp_trail",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return product_search_fields()

    def get_queryset(self, request: HttpRequest) -> QuerySet[PriceSuggestion]:
        # Sortable and filterable columns computed in the database: the weekly gain and the size of the move.
        money = DecimalField(max_digits=14, decimal_places=2)
        return (
            super()
            .get_queryset(request)
            .annotate(
                expected_gain=ExpressionWrapper(
                    F("expected_profit_suggested") - F("expected_profit_current"), output_field=money
                ),
                change_size=Abs(
                    Cast("suggested_price", FloatField()) / Cast("current_price", FloatField()) - 1.0
                ),
            )
            # No expected profit ranks below every gain, in both directions of the sort.
            .alias(gain_rank=Coalesce("expected_gain", Value(NO_GAIN_RANK), output_field=money))
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("pricing.change_pricesuggestion")

    def has_apply_permission(self, request: HttpRequest) -> bool:
        return self.has_approve_permission(request) and request.user.has_perm("pricing.add_pricechange")

    @admin.display(description="change", ordering="change_size")
    def change(self, obj: PriceSuggestion) -> str:
        return f"{obj.change_share:+.1%}"

    @admin.display(description="Δ profit / week", ordering="gain_rank")
    def profit_delta(self, obj: PriceSuggestion) -> str:
        if obj.expected_profit_suggested is None or obj.expected_profit_current is None:
            return "–"
        return f"{obj.expected_profit_suggested - obj.expected_profit_current:+.2f}"

    @admin.display(description="confidence", ordering="confidence")
    def confidence_pct(self, obj: PriceSuggestion) -> str:
        return f"{obj.confidence:.0%}"

    @admin.display(description="rounding")
    def rounding(self, obj: PriceSuggestion) -> str:
        """What the rounding to a valid price ending added after the binding rule ("–": nothing)."""
        if obj.binding_rule == "price-ending":  # the ending rule itself held the price: no rounding
            return "–"
        moved = sum(
            step["after"] - step["before"]
            for step in obj.clamp_trail
            if step.get("rule") == "price-ending" and step.get("status") == "clamped"
        )
        return f"{moved:+.2f}" if abs(moved) >= 0.005 else "–"

    @admin.display(description="history")
    def chart(self, obj: PriceSuggestion) -> str:
        return _chart_link(obj.product_id)

    @admin.display(description="clamp trail")
    def trail_table(self, obj: PriceSuggestion) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (step["rule"], f"{step['before']:.2f}", f"{step['after']:.2f}", step["status"])
                for step in obj.clamp_trail
            ),
        )
        return format_html("<table><tr><th>rule</th><th>before</th><th>after</th><th>status</th></tr>{}</table>", rows)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.refit_view)
        return [path("refit/", view, name="pricing_pricesuggestion_refit"), *super().get_urls()]

    def refit_view(self, request: HttpRequest) -> HttpResponse:
        """POST: queue the refit-and-suggest job now (the nightly one, run early)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_approve_permission(request):
            raise PermissionDenied
        from .tasks import refit_and_suggest

        transaction.on_commit(lambda: refit_and_suggest.delay())
        self.message_user(request, "Refitting the elasticities and suggesting prices; new suggestions appear here.")
        return HttpResponseRedirect(reverse("admin:pricing_pricesuggestion_changelist"))

    def _each(self, request: HttpRequest, queryset: QuerySet[PriceSuggestion], verb: str, func: Any) -> None:
        done, refused = 0, []
        for suggestion in queryset.order_by("pk"):
            try:
                func(suggestion)
                done += 1
            except actions.PricingError as exc:
                refused.append(f"#{suggestion.pk}: {exc}")
                if isinstance(exc, (actions.PricingPaused, actions.CircuitBreakerTripped)):
                    break  # the same refusal would repeat for every row
        if done:
            self.message_user(request, f"{done} suggestion(s) {verb}.", messages.SUCCESS)
        for text in refused:
            self.message_user(request, text, messages.ERROR)

    @admin.action(description="Approve selected suggestions", permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[PriceSuggestion]) -> None:
        self._each(request, queryset, "approved", lambda s: actions.approve(s, request.user))

    @admin.action(description="Approve and apply selected suggestions", permissions=["apply"])
    def apply_selected(self, request: HttpRequest, queryset: QuerySet[PriceSuggestion]) -> None:
        self._each(request, queryset, "applied", lambda s: actions.apply_suggestion(s, request.user))

    @admin.action(description="Reject selected suggestions (with a reason)", permissions=["approve"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[PriceSuggestion]) -> HttpResponse | None:
        form = RejectForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._each(request, queryset, "rejected", lambda s: actions.reject(s, request.user, reason))
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject price suggestions",
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/pricing/pricesuggestion/reject.html", context)


class BreaksGuardrailsFilter(admin.SimpleListFilter):
    title = "guardrails"
    parameter_name = "breaks"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Changed outside ShopSense, breaking the policy")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[PriceChange]) -> QuerySet[PriceChange]:
        return queryset.exclude(broken_rules="") if self.value() == "yes" else queryset


@admin.register(PriceChange)
class PriceChangeAdmin(PermittedActionsMixin, admin.ModelAdmin):
    """The price history: read-only, never edited or deleted; the latest change of a product can be rolled back."""

    list_display = (
        "product",
        "old_price",
        "new_price",
        "change",
        "source",
        "guardrails",
        "changed_by",
        "changed_at",
        "suggestion",
        "chart",
    )
    list_filter = ("source", BreaksGuardrailsFilter)
    search_fields = ("reason",)
    list_select_related = ("product", "changed_by")
    actions = ("roll_back",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_rollback_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("pricing.add_pricechange")

    @admin.display(description="change")
    def change(self, obj: PriceChange) -> str:
        return f"{obj.new_price / obj.old_price - 1:+.1%}" if obj.old_price else "–"

    @admin.display(description="guardrails")
    def guardrails(self, obj: PriceChange) -> str:
        """Changes made outside ShopSense that break the active policy are flagged (others passed them)."""
        if obj.broken_rules:
            return format_html('<strong style="color: var(--error-fg)">breaks {}</strong>', obj.broken_rules)
        return "–"

    @admin.display(description="history")
    def chart(self, obj: PriceChange) -> str:
        return _chart_link(obj.product_id) if obj.product_id else obj.product_label

    @admin.action(description="Roll back selected changes (restores the old price)", permissions=["rollback"])
    def roll_back(self, request: HttpRequest, queryset: QuerySet[PriceChange]) -> None:
        done = 0
        for change in queryset.order_by("-changed_at", "-id"):
            try:
                actions.rollback(change, request.user)
                done += 1
            except actions.PricingError as exc:
                self.message_user(request, f"Change #{change.pk}: {exc}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} change(s) rolled back.", messages.SUCCESS)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.chart_view)
        return [path("chart/<int:product_id>/", view, name="pricing_pricechange_chart"), *super().get_urls()]

    def chart_view(self, request: HttpRequest, product_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        product = get_object_or_404(get_product_model()._default_manager, pk=product_id)
        changes, suggestions = price_history(product)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Price history of {product}",
            "opts": self.model._meta,
            "product": product,
            "chart": price_history_svg(changes, suggestions, get_adapter().get_price(product)),
            "changes": changes[::-1],
        }
        return TemplateResponse(request, "admin/pricing/pricechange/chart.html", context)


@admin.register(PricingSettings)
class PricingSettingsAdmin(admin.ModelAdmin):
    """The pause switch and the circuit breaker: one row, edited in place."""

    list_display = ("__str__", "paused", "breaker_max_change", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # Permissions first: only someone who may change the settings creates the row (with the defaults).
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if self.has_change_permission(request):
            row: PricingSettings | None = PricingSettings.load()
        else:
            row = PricingSettings.objects.order_by("pk").first()
        if row is None:  # a viewer, before anyone saved the settings: the (empty) list
            return super().changelist_view(request, extra_context)
        return HttpResponseRedirect(reverse("admin:pricing_pricingsettings_change", args=[row.pk]))

    def save_model(self, request: HttpRequest, obj: PricingSettings, form: Any, change: bool) -> None:
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        if "paused" in form.changed_data:
            level = messages.WARNING if obj.paused else messages.SUCCESS
            self.message_user(
                request, "Pricing is paused: no price will change." if obj.paused else "Pricing resumed.", level
            )
