"""Fixtures shared by the apps' tests."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from inventory.models import DemandForecast, PurchaseOrder, PurchaseOrderLine, RestockSuggestion
from personalization import api_keys
from personalization.models import CustomerProfile, ModelVersion
from pricing import services as pricing_services
from pricing.models import PriceChange
from tests.apps.test_pricing_support import make_item, make_policy


@pytest.fixture
def world(settings, tmp_path) -> dict[str, Any]:
    """One row of everything the API and the admin act on; the ids by name (and the raw API key)."""
    settings.MEDIA_ROOT = tmp_path  # model artifacts
    User = get_user_model()
    cust = User.objects.create_user("cust", email="cust@example.com", password="pw")
    User.objects.create_user("other", email="other@example.com", password="pw")
    item = make_item(code="A1", price="10.00", cost="5.00", stock=0)
    make_policy(absolute_floor=Decimal("10.99"), ceiling=Decimal("10.99"))
    suggestion = pricing_services.generate_suggestions([item]).created[0]
    pricing_services.write_price(make_item(code="B2", price="20.00"), Decimal("18.00"))
    now = timezone.now()
    profile = CustomerProfile.objects.create(
        user=cust, first_purchase_at=now, last_purchase_at=now, orders=1, purchase_days=1, lines=1, units=1,
        revenue=Decimal("10.00"), average_order_value=Decimal("10.00"), average_basket_units=1.0,
        buyer_type="retail", recency_days=0,
    )
    today = dt.date.today()
    forecast = DemandForecast.objects.create(product=item, origin=today, horizon=1, mean=[4.0], method="TSB")
    restock = RestockSuggestion.objects.create(
        product=item, forecast=forecast, planned_at=today, on_hand=0, on_order=0, forecast_demand=20.0,
        safety_stock=3.0, reorder_point=13.0, order_up_to=23.0, suggested_quantity=23, policy={"lead_time_days": 7},
    )
    draft_po = PurchaseOrder.objects.create()
    ordered_po = PurchaseOrder.objects.create(status=PurchaseOrder.Status.ORDERED, ordered_at=now)
    for po in (draft_po, ordered_po):
        PurchaseOrderLine.objects.create(purchase_order=po, product=item, quantity=5, unit_cost=Decimal("4.00"))
    version = ModelVersion.objects.create(kind="recommender.simple", status=ModelVersion.Status.READY)
    api_key, raw_key = api_keys.create_api_key("mobile app")
    return {
        "cust": cust.pk, "item": item.pk, "suggestion": suggestion.pk, "profile": profile.pk, "restock": restock.pk,
        "draft_po": draft_po.pk, "ordered_po": ordered_po.pk, "version": version.pk, "api_key": api_key.pk,
        "price_change": PriceChange.objects.latest("id").pk, "raw_key": raw_key,
    }
