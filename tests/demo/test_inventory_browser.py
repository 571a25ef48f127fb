"""A real browser in the demo shop's admin: a staff user turns a restock suggestion into a purchase order,
and the next planning run counts it as on order (headless Chromium, Playwright)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model

from inventory import services
from inventory.models import PurchaseOrder, RestockSuggestion

from .conftest import TEST_PASSWORD, CategoryFactory, OrderFactory, OrderLineFactory, ProductFactory
from .test_browser import save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

START = dt.datetime(2024, 1, 1, 10, 0, tzinfo=dt.UTC)  # a Monday


@pytest.fixture
def planned(transactional_db, settings, tmp_path):
    """Twelve weeks of steady sales of a product with no stock left, forecast and planned."""
    settings.MEDIA_ROOT = tmp_path
    settings.INVENTORY = {"FORECASTER": "WindowAverage", "REFERENCE_TIME": "2024-03-18"}  # the last sales day
    product = ProductFactory(category=CategoryFactory(name="Kitchen", slug="kitchen"), stock_on_hand=0)
    for week in range(12):
        OrderLineFactory(order=OrderFactory(placed_at=START + dt.timedelta(weeks=week)), product=product, quantity=6)
    services.run_planning()
    return RestockSuggestion.objects.get(product=product, status="open")


def test_staff_order_a_suggestion_in_the_admin_and_the_next_plan_counts_it(page, live_server, planned):
    # given an open suggestion and a staff user
    get_user_model().objects.create_user("buyer", password=TEST_PASSWORD, is_staff=True, is_superuser=True)
    assert planned.suggested_quantity > 0

    # when the staff user selects it in the admin and runs "Create purchase order(s)"
    page.goto(f"{live_server.url}/admin/login/?next=/admin/inventory/restocksuggestion/?status__exact=open")
    page.get_by_label("Username").fill("buyer")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/admin/inventory/restocksuggestion/.*"))
    page.locator(f"input[name=_selected_action][value='{planned.pk}']").check()
    page.select_option("select[name=action]", "create_purchase_order")
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector(".messagelist")
    save_screenshot(page, "inventory-purchase-order")

    # then a draft purchase order holds the suggested quantity
    assert "Created draft purchase order" in page.locator(".messagelist").inner_text()
    order = PurchaseOrder.objects.get()
    assert list(order.lines.values_list("product_id", "quantity")) == [(planned.product_id, planned.suggested_quantity)]

    # and the next planning run counts it as on order and suggests nothing more
    services.plan_restock()
    open_now = RestockSuggestion.objects.filter(product_id=planned.product_id, status="open")
    assert [(s.on_order, s.suggested_quantity) for s in open_now] in ([], [(planned.suggested_quantity, 0)])


def test_staff_find_the_stockouts_on_the_exceptions_dashboard(page, live_server, planned):
    get_user_model().objects.create_user("buyer", password=TEST_PASSWORD, is_staff=True, is_superuser=True)
    assert planned.stockout_before_arrival

    page.goto(f"{live_server.url}/admin/login/?next=/admin/inventory/restocksuggestion/")
    page.get_by_label("Username").fill("buyer")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Exceptions dashboard").click()
    page.wait_for_selector("#exception-stockout")
    save_screenshot(page, "inventory-exceptions-dashboard")

    assert "Stocks out before the next arrival: 1" in page.locator("#exception-stockout").inner_text()
    assert "1 open suggestions, 1 to order" in page.locator("#headline").inner_text()
    page.locator("#exception-stockout").get_by_role("link", name="Show all 1").click()
    page.wait_for_url(re.compile(r".*exception=stockout.*"))
    page.get_by_role("link", name=str(planned.product)).first.click()
    page.wait_for_selector(".inventory-projection-chart")
    assert page.locator(".inventory-projection-chart circle.short").count() == len(planned.forecast.mean)
