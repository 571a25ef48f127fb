"""Serializers of the inventory staff API."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from personalization.host.ids import MAX_ID

from ..models import DemandForecast, PurchaseOrder, PurchaseOrderLine, RestockSuggestion, Supplier
from ..purchasing import fill_unit_costs, line_total, order_total


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
    pack_size = serializers.SerializerMethodField(help_text="Units per pack: the suggested quantity is whole packs.")
    packs = serializers.SerializerMethodField(help_text="The suggested quantity in packs.")

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
            "pack_size",
            "packs",
            "projected_stockout_date",
            "order_by_date",
            "lost_revenue_estimate",
            "stockout_before_arrival",
            "excess",
            "dead_stock",
            "below_supplier_minimum",
            "method",
            "policy",
            "supplier",
            "purchase_order",
            "forecast",
            "updated_at",
        )
        read_only_fields = fields

    def get_pack_size(self, obj: RestockSuggestion) -> int:
        return max(int((obj.policy or {}).get("pack_size") or 1), 1)

    def get_packs(self, obj: RestockSuggestion) -> int:
        return obj.suggested_quantity // self.get_pack_size(obj)


class SuggestionStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ordered", "snoozed", "dismissed"])
    snooze_days = serializers.IntegerField(min_value=1, max_value=365, default=7)


class SuggestionIdsSerializer(serializers.Serializer):
    suggestions = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1, max_length=1000
    )


class PurchaseOrderLineSerializer(serializers.ModelSerializer):
    quantity = serializers.IntegerField(min_value=1, max_value=2_147_483_647)
    unit_cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), allow_null=True, required=False,
        help_text="Cost of one unit; left out or null: the shop's unit cost of the product.",
    )
    line_total = serializers.SerializerMethodField(help_text="quantity x unit cost (null while the cost is unknown).")

    class Meta:
        model = PurchaseOrderLine
        fields = ("product", "quantity", "unit_cost", "line_total")
        # The column is nullable (a product the shop deleted later), but a line is written with a product.
        extra_kwargs = {"product": {"allow_null": False, "required": True}}

    @extend_schema_field(serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True))
    def get_line_total(self, obj: PurchaseOrderLine) -> str | None:
        total = line_total(obj)
        return None if total is None else f"{total:.2f}"


class PurchaseOrderSerializer(serializers.ModelSerializer):
    lines = PurchaseOrderLineSerializer(many=True)
    supplier = serializers.PrimaryKeyRelatedField(queryset=Supplier.objects.all(), allow_null=True, required=False)
    supplier_name = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField(help_text="Sum of the line totals whose unit cost is known.")

    class Meta:
        model = PurchaseOrder
        fields = (
            "id",
            "supplier",
            "supplier_name",
            "status",
            "expected_arrival",
            "reference",
            "lines",
            "total",
            "created_at",
            "ordered_at",
            "received_at",
        )
        read_only_fields = ("status", "created_at", "ordered_at", "received_at")

    def get_supplier_name(self, obj: PurchaseOrder) -> str:
        return obj.supplier.name if obj.supplier_id else ""

    @extend_schema_field(serializers.DecimalField(max_digits=14, decimal_places=2))
    def get_total(self, obj: PurchaseOrder) -> str:
        return f"{order_total(obj):.2f}"

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
            fill_unit_costs(order)
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
