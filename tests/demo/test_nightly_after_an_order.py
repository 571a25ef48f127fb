"""One order placed now, then every nightly job: nothing the shop owner sees degrades (issue 15 §1)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from personalization.models import CustomerProfile, ModelVersion
from shop_project.shop.models import Order, Product

from . import nightly

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    for name, value in nightly.SETTINGS.items():
        setattr(settings, name, value)
    nightly.first_run()
    return nightly.snapshot()


def place_an_order_now(client: Client) -> Order:
    customer = CustomerProfile.objects.order_by("-orders").first().user
    client.force_login(customer)
    product = Product.objects.filter(is_active=True, stock_on_hand__gt=2).order_by("pk").first()
    client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": "2"})
    response = client.post(reverse("shop:checkout"), {"country": "United Kingdom"})
    assert response.status_code == 302
    return Order.objects.get(customer=customer, placed_at__date=timezone.localdate())


def test_one_order_now_then_every_nightly_job_degrades_nothing(demo, client):
    # given the demo, first run done: every kind of model is live
    assert all(demo["active"].values()), demo["active"]
    # when a customer places an order now through the storefront, and every scheduled job runs
    order = place_an_order_now(client)
    tasks = nightly.run_nightly_jobs()
    # then
    assert {"personalization.build_profiles", "personalization.retrain_recommenders", "pricing.refit_and_suggest",
            "inventory.plan_restock"} <= set(tasks)
    after = nightly.snapshot()
    nightly.assert_nothing_degraded(demo, after)
    profile = CustomerProfile.objects.get(user=order.customer)
    assert profile.recency_days == 0 and profile.last_purchase_at == order.placed_at
    newest = ModelVersion.objects.filter(kind="recommender").order_by("-created_at").first()
    assert newest.status in {"active", "ready"}  # the retrain ran (and went live or was refused, with a reason)
    assert newest.status == "active" or newest.metadata.get("refused")
