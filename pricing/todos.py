"""The pricing to-dos of the admin home (registered in ``PricingConfig.ready``)."""
from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from personalization.ops.todos import Todo

from .models import PriceChange, PriceSuggestion, PricingSettings


def pricing_todos(request: HttpRequest) -> list[Todo]:
    """Suggestions waiting for approval (and approved ones not applied), price changes made outside ShopSense
    that break the policy, and the pause switch."""
    user = request.user
    items: list[Todo] = []
    if user.has_perm("pricing.view_pricesuggestion"):
        listing = reverse("admin:pricing_pricesuggestion_changelist")
        pending = PriceSuggestion.objects.filter(status=PriceSuggestion.Status.PENDING).count()
        items.append(Todo("Pricing", "Price suggestions waiting for approval", pending,
                          f"{listing}?status__exact=pending&o=-5", "Sorted by expected gain.", "warning"))
        approved = PriceSuggestion.objects.filter(status=PriceSuggestion.Status.APPROVED).count()
        if approved:
            items.append(Todo("Pricing", "Approved suggestions not applied yet", approved,
                              f"{listing}?status__exact=approved", "", "warning"))
    if user.has_perm("pricing.view_pricechange"):
        broken = PriceChange.objects.exclude(broken_rules="").count()
        items.append(Todo("Pricing", "Prices changed outside ShopSense, breaking the policy", broken,
                          reverse("admin:pricing_pricechange_changelist") + "?breaks=yes", "", "warning"))
    if user.has_perm("pricing.view_pricingsettings"):
        row = PricingSettings.objects.order_by("pk").first()
        if row is not None and row.paused:
            items.append(Todo("Pricing", "Pricing is paused: no price changes", 1,
                              reverse("admin:pricing_pricingsettings_change", args=[row.pk]), "", "info"))
    return items
