"""The admin home: today's to-dos of the three apps on the admin index, each linked to the filtered list."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from inventory.models import PurchaseOrder
from personalization.models import ModelVersion
from personalization.ops import todos
from pricing.models import PriceSuggestion
from tests.apps.test_pricing_support import make_item

pytestmark = pytest.mark.django_db


def _suggestion(item, status="pending") -> PriceSuggestion:
    return PriceSuggestion.objects.create(product=item, strategy="hold", current_price=Decimal("10.00"),
                                          suggested_price=Decimal("10.50"), binding_rule="none", status=status)


def _rows(response) -> dict[str, tuple[int, str]]:
    items = response.context["todos"]
    return {f"{t.app}: {t.title}": (t.count, t.url) for t in items}


def test_the_admin_index_lists_today_s_to_dos_with_links(admin_client):
    item = make_item(code="A1")
    _suggestion(item)
    _suggestion(item, status="expired")
    PurchaseOrder.objects.create(status="ordered", expected_arrival=timezone.localdate() - dt.timedelta(days=1))
    PurchaseOrder.objects.create(status="ordered", expected_arrival=timezone.localdate() + dt.timedelta(days=30))
    PurchaseOrder.objects.create(status="draft")
    ModelVersion.objects.create(kind="recommender.hybrid", status="failed", error="MemoryError: too big\nmore")

    response = admin_client.get("/admin/")

    rows = _rows(response)
    assert rows["Pricing: Price suggestions waiting for approval"] == (
        1, "/admin/pricing/pricesuggestion/?status__exact=pending&o=-5")
    assert rows["Inventory: Purchase orders due (to receive)"] == (
        1, "/admin/inventory/purchaseorder/?status__exact=ordered&due=yes")
    assert rows["Inventory: Draft purchase orders to send"][0] == 1
    assert rows["Models: Model versions that failed (last 7 days)"][0] == 1
    assert "recommender.hybrid: MemoryError: too big" in response.content.decode()
    notes = {n.title: n.detail for n in response.context["notes"]}
    assert notes["Shop data as of"] == "no order yet"


@pytest.mark.parametrize(
    "url, count",
    [
        ("/admin/pricing/pricesuggestion/?status__exact=pending&o=-5", 1),
        ("/admin/inventory/purchaseorder/?status__exact=ordered&due=yes", 1),
        ("/admin/inventory/restocksuggestion/?status__exact=open&exception=due", 0),
        ("/admin/personalization/modelversion/?status__exact=failed", 1),
    ],
)
def test_each_link_opens_the_list_it_counts(admin_client, url, count):
    item = make_item(code="A1")
    _suggestion(item)
    PurchaseOrder.objects.create(status="ordered", expected_arrival=timezone.localdate())
    ModelVersion.objects.create(kind="recommender.hybrid", status="failed", error="boom")

    response = admin_client.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count == count


def test_a_clerk_sees_only_the_to_dos_of_what_they_may_view(client, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename="view_pricesuggestion"))
    client.force_login(clerk)

    response = client.get("/admin/")

    assert {t.app for t in response.context["todos"]} == {"Pricing"}


def test_one_failing_provider_does_not_hide_the_others(admin_client, monkeypatch):
    def broken(request):
        raise RuntimeError("no table")

    monkeypatch.setitem(todos._providers, "pricing", broken)

    response = admin_client.get("/admin/")

    rows = _rows(response)
    assert rows["Pricing: To-dos could not be read (see the log)"] == (1, "")
    assert "Inventory: Draft purchase orders to send" in rows
