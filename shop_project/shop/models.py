"""The demo shop's catalogue and orders: the host models the ShopSense apps plug into."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:category", args=[self.slug])


class Product(models.Model):
    sku = models.CharField("SKU", max_length=32, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    list_price = models.DecimalField(max_digits=10, decimal_places=2)
    unit_cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    stock_on_hand = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name",)
        indexes = [models.Index(fields=["category", "is_active"], name="shop_product_cat_active")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self) -> str:
        return reverse("shop:product", args=[self.pk])

    @property
    def in_stock(self) -> bool:
        return self.stock_on_hand > 0


class Order(models.Model):
    number = models.CharField(max_length=32, unique=True)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    placed_at = models.DateTimeField(default=timezone.now, db_index=True)
    country = models.CharField(max_length=64, blank=True)
    # The cart this order was placed from (Cart.checkout_token): a second submit of the same cart,
    # even at the same moment, finds this order instead of placing another.
    checkout_token = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-placed_at",)

    def __str__(self) -> str:
        return f"Order {self.number}"

    @property
    def total(self) -> Decimal:
        return sum((line.line_total for line in self.lines.all()), Decimal("0.00"))


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} in {self.order_id}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class DataShift(models.Model):
    """How the imported history was moved in time (one row, written by ``import_online_retail``).

    ``days`` is a whole number of weeks (weekdays are kept): every imported timestamp is its file date plus
    ``days``. ``original_first`` / ``original_last`` are the first and last days of the imported sales as the
    file has them; 0 days means the import kept the file's dates. See :mod:`shop_project.shop.data_shift`.
    """

    days = models.IntegerField(default=0)
    original_first = models.DateField()
    original_last = models.DateField()
    source = models.CharField("file", max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "imported data's date shift"
        verbose_name_plural = "imported data's date shift"

    def __str__(self) -> str:
        return f"{self.days:+,} days"

    @property
    def shifted_first(self) -> dt.date:
        return self.original_first + dt.timedelta(days=self.days)

    @property
    def shifted_last(self) -> dt.date:
        return self.original_last + dt.timedelta(days=self.days)
