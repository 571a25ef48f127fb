"""Pricing policies, price suggestions, the immutable price history, the pause switch and the breaker.

Business logic lives in :mod:`pricing.services`; the models hold fields, constraints and the
validation (``clean``) that explains conflicting bounds to the person editing a policy.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from .bands import parse_price_bands

SHARE_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))]
PRICE_VALIDATORS = [MinValueValidator(Decimal("0.01"))]


class ImmutableRecordError(RuntimeError):
    """A price history row may be created, never changed or deleted."""


class PricingPolicy(models.Model):
    """The limits and the strategy for one product, one category, or the whole shop.

    The effective policy of a product is its own, else its category's, else the shop-wide one (see
    :func:`pricing.policies.effective_policy`). A product is only repriced when it has a floor: a
    minimum margin over a known unit cost, or an absolute floor. Leave both blank to keep the
    product's price as it is.
    """

    class Scope(models.TextChoices):
        PRODUCT = "product", "One product"
        CATEGORY = "category", "One category"
        SHOP = "global", "Whole shop"

    class Strategy(models.TextChoices):
        OPTIMISE = "optimise", "Profit optimiser (elasticity model)"
        MARKDOWN = "markdown", "Markdown (sell through the stock)"
        HOLD = "hold", "Hold (only enforce the limits)"

    class Mode(models.TextChoices):
        SUGGEST = "suggest", "Suggest (a person approves)"
        AUTO = "auto", "Auto-apply within the limits"

    name = models.CharField(max_length=100, blank=True)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.PRODUCT)
    product = models.ForeignKey(
        settings.SHOP_PRODUCT_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    category = models.CharField(
        max_length=200, blank=True, help_text="The category name, as the shop adapter reports it."
    )
    min_margin = models.DecimalField(
        max_digits=6,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Floor = unit cost × (1 + this share); 0.10 means never below cost + 10 %. "
        "Blank here and in the absolute floor: the product is not repriced.",
    )
    map_price = models.DecimalField(
        "MAP",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=PRICE_VALIDATORS,
        help_text="Minimum advertised price.",
    )
    absolute_floor = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, validators=PRICE_VALIDATORS
    )
    ceiling = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True, validators=PRICE_VALIDATORS)
    max_change = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.0001")), MaxValueValidator(Decimal("0.9999"))],
        help_text="Largest move per step as a share of the current price (0.10 = 10 %).",
    )
    min_interval = models.DurationField(
        null=True, blank=True, help_text="Least time between two changes, e.g. 7 00:00:00."
    )
    price_endings = models.CharField(
        max_length=200,
        blank=True,
        help_text='Endings per price band, e.g. ".99 < 100; .95 < 1000; whole". Blank: any cents.',
    )
    strategy = models.CharField(max_length=16, choices=Strategy.choices, default=Strategy.OPTIMISE)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.SUGGEST)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "pricing policies"
        constraints = [
            models.UniqueConstraint(
                fields=["product"], condition=Q(scope="product"), name="pricing_policy_one_per_product"
            ),
            models.UniqueConstraint(
                fields=["category"], condition=Q(scope="category"), name="pricing_policy_one_per_category"
            ),
            models.UniqueConstraint(fields=["scope"], condition=Q(scope="global"), name="pricing_policy_one_shop_wide"),
        ]

    def __str__(self) -> str:
        target = {
            "product": f"product {self.product_id}",
            "category": f"category {self.category!r}",
            "global": "whole shop",
        }
        return self.name or f"Policy for {target[self.scope]}"

    def clean(self) -> None:
        """Explain missing targets and conflicting bounds (floor above ceiling, MAP above ceiling, ...)."""
        errors: dict[str, list[str]] = {}

        def add(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        if self.scope == self.Scope.PRODUCT and self.product_id is None:
            add("product", "Choose the product this policy is for.")
        if self.scope == self.Scope.CATEGORY and not self.category.strip():
            add("category", "Name the category this policy is for.")
        if self.scope != self.Scope.PRODUCT and self.product_id is not None:
            add("product", "Only a product policy names a product.")
        if self.scope != self.Scope.CATEGORY and self.category:
            add("category", "Only a category policy names a category.")
        if self.ceiling is not None:
            for field, label in (("absolute_floor", "absolute floor"), ("map_price", "MAP")):
                value = getattr(self, field)
                if value is not None and value > self.ceiling:
                    add(
                        field,
                        f"The {label} ({value}) is above the ceiling ({self.ceiling}): no price could satisfy both.",
                    )
            cost_floor = self.cost_floor()
            if cost_floor is not None and cost_floor > self.ceiling:
                add(
                    "min_margin",
                    f"Unit cost × (1 + minimum margin) = {cost_floor} is above the ceiling ({self.ceiling}).",
                )
        try:
            parse_price_bands(self.price_endings)
        except ValueError as exc:
            add("price_endings", str(exc))
        if errors:
            raise ValidationError(errors)

    def cost_floor(self) -> Decimal | None:
        """The margin floor of a product policy (needs the unit cost through the adapter), else ``None``."""
        if self.scope != self.Scope.PRODUCT or self.product_id is None or self.min_margin is None:
            return None
        from personalization.host.adapters import get_adapter

        cost = get_adapter().get_unit_cost(self.product)
        if cost is None:
            return None
        return (cost * (1 + self.min_margin)).quantize(Decimal("0.01"))


class PricingSettings(models.Model):
    """The one row of shop-wide switches: the global pause and the circuit breaker."""

    paused = models.BooleanField(default=False, help_text="While paused no price is applied, by hand or automatically.")
    breaker_max_change = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.25"),
        validators=SHARE_VALIDATORS,
        help_text="The circuit breaker refuses any single change larger than this share of the current price.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = verbose_name_plural = "pricing settings"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="pricing_settings_singleton")]

    def __str__(self) -> str:
        return "Pricing paused" if self.paused else "Pricing running"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> PricingSettings:
        """The settings row, created with the defaults from ``PRICING`` on first use."""
        from .conf import pricing_settings

        row, _ = cls.objects.get_or_create(
            pk=1, defaults={"breaker_max_change": Decimal(str(pricing_settings.BREAKER_MAX_CHANGE))}
        )
        return row


class PriceSuggestion(models.Model):
    """A price the strategy proposes for one product, with what it expects and why it landed there."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"

    product = models.ForeignKey(settings.SHOP_PRODUCT_MODEL, on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(
        PricingPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="suggestions"
    )
    strategy = models.CharField(max_length=16)
    current_price = models.DecimalField(max_digits=10, decimal_places=2)
    suggested_price = models.DecimalField(max_digits=10, decimal_places=2)
    unit_cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    expected_units_current = models.FloatField(
        null=True, blank=True, help_text="Expected units per week at the current price."
    )
    expected_units_suggested = models.FloatField(null=True, blank=True)
    expected_revenue_current = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    expected_revenue_suggested = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    expected_profit_current = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    expected_profit_suggested = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    elasticity = models.FloatField(null=True, blank=True)
    confidence = models.FloatField(default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    binding_rule = models.CharField(
        max_length=32, help_text='The last guardrail that moved the price ("none": none did).'
    )
    clamp_trail = models.JSONField(default=list, blank=True)
    model_version = models.ForeignKey(
        "personalization.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True, help_text="Why it was rejected (or what stopped it from being applied).")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["status", "-created_at"], name="pricing_sugg_status")]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.current_price} → {self.suggested_price} ({self.get_status_display()})"

    @property
    def change_share(self) -> float:
        """The suggested move as a share of the current price."""
        return float(self.suggested_price / self.current_price - 1) if self.current_price else 0.0


class PriceChange(models.Model):
    """One price change written to the shop. Rows are never updated or deleted: the history is evidence."""

    class Source(models.TextChoices):
        SUGGESTION = "suggestion", "Approved suggestion"
        AUTO = "auto", "Auto-applied"
        MANUAL = "manual", "Manual"
        ROLLBACK = "rollback", "Roll-back"
        OUTSIDE = "outside", "Outside ShopSense"

    # The shop may delete the product: the evidence stays, labelled with what the product was.
    product = models.ForeignKey(settings.SHOP_PRODUCT_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    product_label = models.CharField(
        max_length=255, blank=True, editable=False, help_text="What the product was, once the shop deleted it."
    )
    old_price = models.DecimalField(max_digits=10, decimal_places=2)
    new_price = models.DecimalField(max_digits=10, decimal_places=2)
    changed_at = models.DateTimeField(db_index=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    reason = models.TextField(blank=True)
    suggestion = models.ForeignKey(
        PriceSuggestion, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    rollback_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rolled_back_by"
    )
    broken_rules = models.CharField(
        max_length=200, blank=True,
        help_text="For a change made outside ShopSense: the active policy's guardrails it breaks (comma-separated).",
    )

    class Meta:
        ordering = ("-changed_at", "-id")
        indexes = [models.Index(fields=["product", "changed_at"], name="pricing_change_product_time")]

    def __str__(self) -> str:
        product = self.product_id or self.product_label or "deleted product"
        return f"{product}: {self.old_price} → {self.new_price} at {self.changed_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ImmutableRecordError("Price history rows cannot be changed; record a new change instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableRecordError("Price history rows cannot be deleted.")
