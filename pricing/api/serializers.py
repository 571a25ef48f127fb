"""Serializers of the pricing API."""

from __future__ import annotations

from rest_framework import serializers

from ..models import PriceChange, PriceSuggestion


class PricingErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ProductPriceSerializer(serializers.Serializer):
    """One product's public price: the same for every shopper."""

    product = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    prior_price = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        allow_null=True,
        help_text="Lowest price in the 30 days before the current reduction started; null without a reduction.",
    )
    currency = serializers.CharField()


class ProductPricesSerializer(serializers.Serializer):
    results = ProductPriceSerializer(many=True)


class PriceSuggestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PriceSuggestion
        fields = (
            "id",
            "product",
            "policy",
            "strategy",
            "current_price",
            "suggested_price",
            "unit_cost",
            "expected_units_current",
            "expected_units_suggested",
            "expected_revenue_current",
            "expected_revenue_suggested",
            "expected_profit_current",
            "expected_profit_suggested",
            "elasticity",
            "confidence",
            "binding_rule",
            "clamp_trail",
            "model_version",
            "status",
            "reason",
            "created_at",
            "decided_at",
            "decided_by",
        )
        read_only_fields = fields


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the suggestion is rejected.")


class PriceChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = PriceChange
        fields = (
            "id",
            "product",
            "old_price",
            "new_price",
            "changed_at",
            "changed_by",
            "source",
            "reason",
            "suggestion",
            "rollback_of",
        )
        read_only_fields = fields
