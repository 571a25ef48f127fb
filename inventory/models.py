"""Inventory models: suppliers, replenishment policies, demand forecasts, restock suggestions, purchase orders.

Fields, constraints and validation only; the planning logic lives in :mod:`inventory.services`.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

NOT_NEGATIVE = [MinValueValidator(0)]
NOT_NEGATIVE_MONEY = [MinValueValidator(Decimal("0"))]


class Supplier(models.Model):
    """Who a product is bought from."""

    name = models.CharField(max_length=200, unique=True)
    email = models.EmailField(blank=True)
    notes = models.TextField(blank=True)
    min_order_units = models.PositiveIntegerField(
        default=0, validators=NOT_NEGATIVE,
        help_text="The supplier takes no purchase order of fewer units than this, all lines together (0: no minimum).",
    )
    min_order_value = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), validators=NOT_NEGATIVE_MONEY,
        help_text="Nor one worth less than this at unit cost, all lines together (0: no minimum).",
    )

    class Meta:
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(condition=Q(min_order_value__gte=0), name="inv_supplier_min_value_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class ReplenishmentPolicy(models.Model):
    """How a product is replenished; the most specific policy wins: product, then category, then shop-wide."""

    class Scope(models.TextChoices):
        PRODUCT = "product", "Product"
        CATEGORY = "category", "Category"
        GLOBAL = "global", "Whole shop"

    class ReviewPolicy(models.TextChoices):
        CONTINUOUS = "sS", "(s, S): at every plan, order up to S once the position is at or below s"
        PERIODIC = "RS", "(R, S): once every review period, order up to S"

    class ServiceLevelType(models.TextChoices):
        CYCLE = "csl", "Cycle service level (chance of no stock-out per cycle)"
        FILL_RATE = "fill_rate", "Fill rate (share of demand served from stock)"
        MARGIN = "margin", "From the margin (newsvendor critical ratio; the service level is the fallback)"

    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.PRODUCT)
    product = models.ForeignKey(
        settings.SHOP_PRODUCT_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    category = models.CharField(
        max_length=200, blank=True, help_text="The category name, as the shop adapter reports it."
    )
    supplier = models.ForeignKey(Supplier, null=True, blank=True, on_delete=models.SET_NULL, related_name="policies")
    lead_time_days = models.FloatField(default=7.0, help_text="Mean days from order to arrival.")
    lead_time_std_days = models.FloatField(default=0.0, help_text="Standard deviation of the lead time, in days.")
    review_period_days = models.FloatField(default=7.0, help_text="Days between two ordering decisions.")
    review_policy = models.CharField(max_length=2, choices=ReviewPolicy.choices, default=ReviewPolicy.CONTINUOUS)
    service_level_type = models.CharField(
        max_length=16, choices=ServiceLevelType.choices, default=ServiceLevelType.CYCLE
    )
    service_level = models.FloatField(
        default=0.95,
        help_text="Target between 0 and 1, e.g. 0.95. With 'from the margin', used where the unit cost is unknown.",
    )
    holding_cost_rate = models.FloatField(
        default=0.25, help_text="Cost of holding stock per year, as a share of its unit cost (0.25 = 25 %)."
    )
    order_cost = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True,
        help_text="Fixed cost of placing one order. When set, orders are the economic order quantity "
                  "sqrt(2 x annual demand x order cost / holding cost) instead of one review period's demand.",
    )
    min_order_quantity = models.PositiveIntegerField(
        default=0, help_text="The least the supplier sells of this product at once (rounded up to whole packs)."
    )
    pack_size = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="Orders are whole packs of this many units."
    )
    do_not_order_below = models.PositiveIntegerField(
        default=0,
        help_text="Suggest nothing when the rounded quantity comes to fewer units than this (0: any quantity).",
    )
    order_without_demand = models.BooleanField(
        default=False,
        help_text="Suggest orders even when the forecast demand over the lead time plus the review period rounds "
                  "to no unit (INVENTORY['NO_DEMAND_BELOW']); off: such products get no order.",
    )
    max_days_of_cover = models.PositiveIntegerField(
        null=True, blank=True, help_text="Never order more than this many days of forecast demand (empty: no cap)."
    )
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "replenishment policies"
        ordering = ("scope", "category", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["product"], condition=Q(scope="product"), name="inv_policy_one_per_product"
            ),
            models.UniqueConstraint(
                fields=["category"], condition=Q(scope="category"), name="inv_policy_one_per_category"
            ),
            models.UniqueConstraint(fields=["scope"], condition=Q(scope="global"), name="inv_policy_one_global"),
            models.CheckConstraint(
                condition=Q(lead_time_days__gt=0, review_period_days__gt=0, lead_time_std_days__gte=0,
                            holding_cost_rate__gt=0, pack_size__gte=1)
                & (Q(order_cost__isnull=True) | Q(order_cost__gte=0)),
                name="inv_policy_numbers_in_range",
            ),
        ]

    def __str__(self) -> str:
        if self.scope == self.Scope.PRODUCT:
            return f"Policy for product {self.product}"
        if self.scope == self.Scope.CATEGORY:
            return f"Policy for category {self.category}"
        return "Shop-wide policy"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.scope == self.Scope.PRODUCT and self.product_id is None:
            errors["product"] = "A product policy needs a product."
        if self.scope != self.Scope.PRODUCT and self.product_id is not None:
            errors["product"] = "Only a product policy names a product."
        if self.scope == self.Scope.CATEGORY and not self.category.strip():
            errors["category"] = "A category policy needs a category."
        if self.scope != self.Scope.CATEGORY and self.category:
            errors["category"] = "Only a category policy names a category."
        if self.lead_time_days is not None and self.lead_time_days <= 0:
            errors["lead_time_days"] = "The lead time must be more than 0 days."
        if self.lead_time_std_days is not None and self.lead_time_std_days < 0:
            errors["lead_time_std_days"] = "The lead time spread cannot be negative."
        if self.review_period_days is not None and self.review_period_days <= 0:
            errors["review_period_days"] = "The review period must be more than 0 days."
        if self.holding_cost_rate is not None and not 0 < self.holding_cost_rate <= 5:
            errors["holding_cost_rate"] = "The holding cost rate must be more than 0 and at most 5 (500 % a year)."
        if self.order_cost is not None and self.order_cost < 0:
            errors["order_cost"] = "The order cost cannot be negative."
        if self.order_cost is not None and self.review_policy == self.ReviewPolicy.PERIODIC:
            errors["order_cost"] = (
                "An (R, S) policy orders once per review period; economic order quantities need (s, S)."
            )
        if self.service_level is not None and not 0.5 <= self.service_level < 1.0:
            errors["service_level"] = "The service level must lie between 0.5 and 1 (e.g. 0.95), 1 excluded."
        if self.pack_size is not None and self.pack_size < 1:
            errors["pack_size"] = "The pack size must be at least 1."
        if self.max_days_of_cover is not None and self.lead_time_days and self.max_days_of_cover < self.lead_time_days:
            errors["max_days_of_cover"] = "The cover cap must be at least the lead time."
        if errors:
            raise ValidationError(errors)


class StockoutDay(models.Model):
    """A day a product was seen with no stock (recorded by the hourly ``inventory.record_stockouts`` task).

    A week with such a day and no sale is censored demand: the forecaster treats it as unknown, not as zero.
    """

    product = models.ForeignKey(settings.SHOP_PRODUCT_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        ordering = ("-day", "product_id")
        constraints = [models.UniqueConstraint(fields=["product", "day"], name="inv_stockout_once_a_day")]
        indexes = [models.Index(fields=["day"], name="inv_stockout_day")]

    def __str__(self) -> str:
        return f"{self.product_id} out of stock on {self.day}"


class DemandForecast(models.Model):
    """Weekly demand forecast of one product from one origin (the Monday of the first forecast week)."""

    product = models.ForeignKey(settings.SHOP_PRODUCT_MODEL, on_delete=models.CASCADE, related_name="+")
    origin = models.DateField(help_text="First day of the first forecast week.")
    horizon = models.PositiveSmallIntegerField(help_text="Number of forecast weeks.")
    period_days = models.PositiveSmallIntegerField(default=7)
    mean = models.JSONField(help_text="Mean units per week, one value per step.")
    quantiles = models.JSONField(default=dict, blank=True, help_text='{"q50": [...], "q90": [...]} per step.')
    method = models.CharField(max_length=64, help_text="Forecaster that produced it (e.g. the chosen candidate).")
    demand_class = models.CharField(max_length=16, blank=True)
    history = models.JSONField(
        default=list, blank=True, help_text="Units sold in each of the weeks before the origin, oldest first."
    )
    model_version = models.ForeignKey(
        "personalization.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-origin", "product_id")
        constraints = [
            models.UniqueConstraint(fields=["product", "origin"], name="inv_forecast_one_per_origin"),
        ]

    def __str__(self) -> str:
        return f"Forecast of {self.product_id} from {self.origin}"

    @property
    def total_mean(self) -> float:
        return float(sum(self.mean))


class PurchaseOrder(models.Model):
    """An order placed with a supplier; received stock goes to the shop through the adapter."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ORDERED = "ordered", "Ordered"
        RECEIVED = "received", "Received"
        CANCELLED = "cancelled", "Cancelled"

    supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.PROTECT, related_name="purchase_orders"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    expected_arrival = models.DateField(null=True, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ordered_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["status", "expected_arrival"], name="inv_po_status_arrival")]

    def __str__(self) -> str:
        return f"PO-{self.pk}" + (f" ({self.supplier})" if self.supplier_id else "")


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    # The shop may delete a product a purchase order named: the line stays (the order's history and total),
    # labelled with what the product was (see inventory.receivers).
    product = models.ForeignKey(settings.SHOP_PRODUCT_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    product_label = models.CharField(
        max_length=255, blank=True, editable=False, help_text="What the product was, once the shop deleted it."
    )
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_cost = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=NOT_NEGATIVE_MONEY,
        help_text="Cost of one unit; empty on a new line: the shop adapter's unit cost of the product.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "product"], name="inv_poline_one_per_product"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="inv_poline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_cost__isnull=True) | Q(unit_cost__gte=0), name="inv_poline_unit_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_name}"

    @property
    def product_name(self) -> str:
        """The product, or the label of the deleted product it was."""
        return str(self.product) if self.product_id else (self.product_label or "deleted product")


class RestockSuggestion(models.Model):
    """What the planner suggests for one product; one open (or snoozed) suggestion per product at a time.

    Quantities are units; demand figures are over the lead time plus the review period.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ORDERED = "ordered", "Ordered"
        SNOOZED = "snoozed", "Snoozed"
        DISMISSED = "dismissed", "Dismissed"

    product = models.ForeignKey(settings.SHOP_PRODUCT_MODEL, on_delete=models.CASCADE, related_name="+")
    forecast = models.ForeignKey(DemandForecast, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    supplier = models.ForeignKey(Supplier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    purchase_order = models.ForeignKey(
        PurchaseOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="suggestions"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    snoozed_until = models.DateField(null=True, blank=True)
    planned_at = models.DateField(help_text="The day the plan is for.")
    on_hand = models.IntegerField(help_text="Stock on hand when planned, as the shop reports it.")
    on_order = models.IntegerField(validators=NOT_NEGATIVE)
    forecast_demand = models.FloatField(
        validators=NOT_NEGATIVE, help_text="Forecast units over the lead time plus the review period."
    )
    safety_stock = models.FloatField(validators=NOT_NEGATIVE)
    reorder_point = models.FloatField(validators=NOT_NEGATIVE)
    order_up_to = models.FloatField(validators=NOT_NEGATIVE)
    suggested_quantity = models.PositiveIntegerField(help_text="Units to order: whole packs, 0 for none.")
    projected_stockout_date = models.DateField(null=True, blank=True)
    order_by_date = models.DateField(null=True, blank=True)
    lost_revenue_estimate = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, validators=NOT_NEGATIVE_MONEY
    )
    below_supplier_minimum = models.BooleanField(
        default=False,
        help_text="The supplier's open suggestions together come to less than its minimum order (units or value).",
    )
    stockout_before_arrival = models.BooleanField(
        default=False, help_text="Stock runs out before an order placed now arrives."
    )
    excess = models.BooleanField(default=False)
    dead_stock = models.BooleanField(default=False)
    method = models.CharField(
        max_length=16, blank=True, help_text="normal or empirical safety stock; +eoq: economic order quantities."
    )
    policy = models.JSONField(default=dict, blank=True, help_text="The policy values used.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # by urgency: the order-by date first (none last), then the revenue a stock-out would lose
        ordering = (F("order_by_date").asc(nulls_last=True), "-lost_revenue_estimate", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["product"], condition=Q(status__in=["open", "snoozed"]), name="inv_suggestion_one_open"
            ),
            models.CheckConstraint(
                condition=Q(on_order__gte=0, forecast_demand__gte=0, safety_stock__gte=0, reorder_point__gte=0,
                            order_up_to__gte=0, lost_revenue_estimate__gte=0),
                name="inv_suggestion_numbers_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["status", "order_by_date"], name="inv_suggestion_status")]

    def __str__(self) -> str:
        return f"Restock {self.suggested_quantity} of {self.product}"
