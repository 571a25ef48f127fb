"""A real browser on the admin home: today's to-dos of the three apps, each link opening the filtered list."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import PurchaseOrder
from pricing.models import PriceSuggestion

from .conftest import OrderFactory, ProductFactory
from .test_browser import admin_login, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_owner_sees_today_s_to_dos_and_follows_them(page, live_server):
    # given two suggestions waiting, one expired, an ordered purchase order due yesterday and an order placed
    lamp, mug = ProductFactory(name="Lamp"), ProductFactory(name="Mug")
    for product, status in ((lamp, "pending"), (mug, "pending"), (mug, "expired")):
        PriceSuggestion.objects.create(product=product, strategy="hold", current_price=Decimal("4.95"),
                                       suggested_price=Decimal("5.25"), binding_rule="none", status=status)
    PurchaseOrder.objects.create(status="ordered", expected_arrival=timezone.localdate() - dt.timedelta(days=1))
    placed = timezone.now() - dt.timedelta(hours=1)
    OrderFactory(placed_at=placed)

    # when the owner logs into the admin
    admin_login(page, live_server.url, "/admin/", "owner")
    page.wait_for_selector("#shopsense-todos")
    save_screenshot(page, "admin-home")

    # then the home lists the to-dos with their counts and the data's date
    todos = page.locator("#shopsense-todos")
    waiting = todos.get_by_test_id("todo-pricing-price-suggestions-waiting-for-approval")
    assert waiting.locator(".count").inner_text() == "2"
    due = todos.get_by_test_id("todo-inventory-purchase-orders-due--to-receive-")
    assert due.locator(".count").inner_text() == "1"
    as_of = todos.get_by_test_id("note-shop-shop-data-as-of").inner_text()
    assert f"{timezone.localtime(placed):%d %B %Y %H:%M}" in as_of
    assert page.locator("#content-main .app-pricing").is_visible()  # the app list is still there

    # and each link opens the list it counts
    waiting.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*/admin/pricing/pricesuggestion/\?status__exact=pending&o=-5$"))
    assert page.locator("#result_list tbody tr").count() == 2
    page.go_back()
    todos.get_by_test_id("todo-inventory-purchase-orders-due--to-receive-").get_by_role("link").click()
    page.wait_for_url(re.compile(r".*/admin/inventory/purchaseorder/\?status__exact=ordered&due=yes$"))
    assert page.locator("#result_list tbody tr").count() == 1
