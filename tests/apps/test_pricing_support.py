"""Helpers and fixtures shared by the pricing tests (no tests here)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from pricing.models import PricingPolicy
from tests.testhost.models import Department, Item, Purchase, PurchaseLine


@pytest.fixture
def media(settings, tmp_path):
    """Model artifacts go to a temporary folder."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def make_item(
    code: str = "A1", price: str = "10.00", cost: str | None = "5.00", department: str = "Candles", stock: int = 10
) -> Item:
    dept, _ = Department.objects.get_or_create(title=department)
    return Item.objects.create(
        code=code,
        title=f"Item {code}",
        department=dept,
        price=Decimal(price),
        cost=None if cost is None else Decimal(cost),
        stock=stock,
    )


def make_policy(scope: str = PricingPolicy.Scope.SHOP, **fields) -> PricingPolicy:
    defaults = {"min_margin": Decimal("0.10"), "strategy": PricingPolicy.Strategy.HOLD}
    policy = PricingPolicy(scope=scope, **{**defaults, **fields})
    policy.full_clean()
    policy.save()
    return policy


def make_sales(
    item: Item,
    *,
    weeks: int = 16,
    elasticity: float = -3.0,
    base_units: float = 20.0,
    multipliers: tuple[float, ...] = (0.85, 1.0, 1.15),
    seed: int = 0,
    end: dt.datetime | None = None,
) -> None:
    """Weekly purchases of ``item`` at prices varying around its price, units following ``elasticity``."""
    rng = np.random.default_rng(seed)
    end = end or timezone.now() - dt.timedelta(days=7)
    list_price = float(item.price)
    for week in range(weeks):
        price = round(list_price * multipliers[week % len(multipliers)], 2)
        units = int(rng.poisson(base_units * (price / list_price) ** elasticity))
        if units == 0:
            continue
        purchase = Purchase.objects.create(created=end - dt.timedelta(weeks=weeks - week))
        PurchaseLine.objects.create(purchase=purchase, item=item, qty=units, unit_price=Decimal(str(price)))
