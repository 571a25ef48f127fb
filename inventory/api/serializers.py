"""Serializers of the inventory staff API."""

from __future__ import annotations

from rest_framework import serializers

from personalization.host.ids import MAX_ID

from ..models import DemandForecast, PurchaseOrder, PurchaseOrderLine, RestockSuggestion, Supplier


class InventoryErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class DemandForecastSerializer(serializers.ModelSerializer):
    class Meta:
        model = DemandForecast
        fields = (
            "id",
            "product",
            "origin",
            "horizon",
            "period_days",
            "mean",
            "quantiles",
            "method",
            "demand_class",
            "history",
            "model_version",
            "created_at",
        )


class RestockSuggestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = RestockSuggestion
        fields = (
            "id",
            "product",
            "status",
            "snoozed_until",
            "planned_at",
            "on_hand",
            "on_order",
            "forecast_demand",
            "safety_stock",
            "reorder_point",
            "order_up_to",
            "suggested_quantity",
            "projected_stockout_date",
            "order_by_date",
            "lost_revenue_estimate",
            "stockout_before_arrival",
            "excess",
            "dead_stock",
            "method",
            "policy",
            "supplier",
            "purchase_order",
            "forecast",
            "updated_at",
        )


class SuggestionStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ordered", "snoozed", "dismissed"])
    snooze_days = serializers.IntegerField(min_value=1, max_value=365, default=7)


class SuggestionIdsSerializer(serializers.Serializer):
    suggestions = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1, max_length=1000
    )


class PurchaseOrderLineSerializer(serializers.ModelSerializer):
    quantity = serializers.IntegerField(min_value=1)

    class Meta:
        model = PurchaseOrderLine
        fields = ("product", "quantity", "unit_cost")


class PurchaseOrderSerializer(serializers.ModelSerializer):
    lines = PurchaseOrderLineSerializer(many=True)
    supplier = serializers.PrimaryKeyRelatedField(queryset=Supplier.objects.all(), allow_null=True, required=False)

    class Meta:
        model = PurchaseOrder
        fields = (
            "id",
            "supplier",
            "status",
            "expected_arrival",
            "reference",
            "lines",
            "created_at",
            "ordered_at",
            "received_at",
        )
        read_only_fields = ("status", "created_at", "ordered_at", "received_at")

    def validate_lines(self, value: list[dict]) -> list[dict]:
        if not value:
            raise serializers.ValidationError("A purchase order needs at least one line.")
        products = [line["product"].pk for line in value]
        if len(products) != len(set(products)):
            raise serializers.ValidationError("Each product may appear on one line only.")
        return value

    def create(self, validated_data: dict) -> PurchaseOrder:
        from django.db import transaction

        lines = validated_data.pop("lines")
        with transaction.atomic():
            order = PurchaseOrder.objects.create(**validated_data)
            PurchaseOrderLine.objects.bulk_create([PurchaseOrderLine(purchase_order=order, **line) for line in lines])
        return order


class ExceptionGroupSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The suggestions filter value: ?exception=<key>.")
    title = serializers.CharField()
    explanation = serializers.CharField()
    count = serializers.IntegerField()
    top = RestockSuggestionSerializer(many=True, help_text="The worst ten open suggestions with this exception.")


class ExceptionSummarySerializer(serializers.Serializer):
    today = serializers.DateField(help_text="The day the plans are made for.")
    open_suggestions = serializers.IntegerField()
    to_order = serializers.IntegerField(help_text="Open suggestions with a quantity to order.")
    order_by_passed = serializers.IntegerField(help_text="Of those, how many should be ordered today or earlier.")
    suggested_units = serializers.IntegerField()
    lost_revenue = serializers.DecimalField(max_digits=14, decimal_places=2,
                                            help_text="Estimated revenue lost to stock-outs before the next arrival.")
    groups = ExceptionGroupSerializer(many=True)
