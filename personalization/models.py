"""Behaviour capture and API access models of the personalization app."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class EventType(models.TextChoices):
    VIEW = "view", "Product view"
    CART = "cart", "Add to cart"
    PURCHASE = "purchase", "Purchase"
    SEARCH = "search", "Search"
    IMPRESSION = "impression", "Recommendation impression"
    CLICK = "click", "Recommendation click"


class EventSource(models.TextChoices):
    WEB = "web", "Storefront"
    API = "api", "API"
    ORDER = "order", "Order line"
    IMPORT = "import", "Import"


class Event(models.Model):
    """One thing a shopper did. Append-only; ``client_event_id`` makes every write idempotent."""

    event_type = models.CharField(max_length=16, choices=EventType.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session_key = models.CharField(max_length=64, blank=True, help_text="Visitor id of a guest (or before login).")
    product = models.ForeignKey(
        settings.SHOP_PRODUCT_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    quantity = models.PositiveIntegerField(default=1)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    query = models.CharField(max_length=255, blank=True)
    recommendation_id = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=16, choices=EventSource.choices, default=EventSource.WEB)
    client_event_id = models.CharField(max_length=100, unique=True)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-timestamp", "-id")
        indexes = [
            models.Index(fields=["user", "timestamp"], name="pers_event_user_ts"),
            models.Index(fields=["session_key", "timestamp"], name="pers_event_session_ts"),
            models.Index(fields=["product", "event_type", "timestamp"], name="pers_event_product_ts"),
            models.Index(fields=["event_type", "timestamp"], name="pers_event_type_ts"),
            models.Index(fields=["recommendation_id"], name="pers_event_rec"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(session_key=""), name="pers_event_has_actor"
            ),
        ]

    def __str__(self) -> str:
        who = f"user {self.user_id}" if self.user_id else f"visitor {self.session_key[:8]}"
        what = f"product {self.product_id}" if self.product_id else repr(self.query)
        return f"{self.get_event_type_display()} of {what} by {who}"


class ApiKey(models.Model):
    """A server-to-server credential for the events API. Only a SHA-256 hash of the key is stored."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
