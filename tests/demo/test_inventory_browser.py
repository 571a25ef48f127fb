"""A real browser in the demo shop's admin: a staff user turns a restock suggestion into a purchase order,
and the next planning run counts it as on order (headless Chromium, Playwright)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from inventory import services
from inventory.models import PurchaseOrder, RestockSuggestion

from .conftest import TEST_PASSWORD, CategoryFactory, OrderFactory, OrderLineFactory, ProductFactory
from .test_browser import admin_login, run_admin_action, save_screenshot

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


@pytest.fixture
def three_planned(transactional_db, settings, tmp_path):
    """Three products that sell 6 a week with no stock left, planned: three open suggestions."""
    settings.MEDIA_ROOT = tmp_path
    settings.INVENTORY = {"FORECASTER": "WindowAverage", "REFERENCE_TIME": "2024-03-18"}  # the last sales day
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    products = [ProductFactory(category=kitchen, stock_on_hand=0, name=f"Jar {n}") for n in range(3)]
    for week in range(12):
        order = OrderFactory(placed_at=START + dt.timedelta(weeks=week))
        for product in products:
            OrderLineFactory(order=order, product=product, quantity=6)
    services.run_planning()
    return list(RestockSuggestion.objects.filter(status="open").order_by("product_id"))


def test_every_restock_suggestion_action_works_in_a_browser(page, live_server, three_planned):
    ordered, snoozed, dismissed = three_planned
    admin_login(page, live_server.url, "/admin/inventory/restocksuggestion/?status__exact=open", "buyer")

    assert "Marked as ordered 1 open suggestion(s)." in run_admin_action(
        page, "Mark selected as ordered (outside ShopSense)", ordered.pk)
    assert "Snoozed 1 open suggestion(s)." in run_admin_action(page, "Snooze selected for 7 days", snoozed.pk)
    assert "Dismissed 1 open suggestion(s)." in run_admin_action(page, "Dismiss selected", dismissed.pk)

    statuses = dict(RestockSuggestion.objects.filter(pk__in=[s.pk for s in three_planned]).values_list("pk", "status"))
    assert statuses == {ordered.pk: "ordered", snoozed.pk: "snoozed", dismissed.pk: "dismissed"}
    assert page.locator("#result_list tbody tr").count() == 0  # the open list is empty now

    # a suggestion's own page shows its computed values read-only, with the projection chart
    page.goto(f"{live_server.url}/admin/inventory/restocksuggestion/{ordered.pk}/change/")
    assert page.locator("input[name=suggested_quantity]").count() == 0
    assert page.locator(".inventory-projection-chart").is_visible()

    # the forecasts list opens a forecast with its history-and-forecast chart
    page.goto(f"{live_server.url}/admin/inventory/demandforecast/")
    page.locator("#result_list tbody tr").first.get_by_role("link").first.click()
    page.wait_for_url(re.compile(r".*/admin/inventory/demandforecast/\d+/change/$"))
    assert page.locator("svg.inventory-forecast-chart").is_visible()


def test_every_purchase_order_action_works_in_a_browser(page, live_server, three_planned):
    first, second, _ = three_planned
    order = services.create_purchase_orders([first.pk, second.pk])[0]
    admin_login(page, live_server.url, "/admin/inventory/purchaseorder/", "buyer")

    # a draft cannot be received: it was never sent
    messages = run_admin_action(page, "Receive selected (adds the quantities to the stock)", order.pk)
    assert "draft" in messages.lower()
    assert order.lines.first().product.stock_on_hand == 0

    # mark it ordered, download it as CSV, then receive it into stock
    assert "Marked 1 draft(s) as ordered." in run_admin_action(page, "Mark selected drafts as ordered", order.pk)
    page.locator(f"input[name=_selected_action][value='{order.pk}']").check()
    page.locator("select[name=action]").select_option(label="Download selected as CSV (lines, unit costs, totals)")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Go").click()
    csv_text = Path(download_info.value.path()).read_text()
    assert csv_text.count("\n") >= 3 and str(first.product.sku) in csv_text and str(second.product.sku) in csv_text
    page.goto(f"{live_server.url}/admin/inventory/purchaseorder/")
    messages = run_admin_action(page, "Receive selected (adds the quantities to the stock)", order.pk)
    assert "stock updated" in messages
    order.refresh_from_db()
    assert order.status == "received"
    for line in order.lines.select_related("product"):
        line.product.refresh_from_db()
        assert line.product.stock_on_hand == line.quantity

    # the received order opens read-only
    page.locator("#result_list tbody tr").first.get_by_role("link").first.click()
    page.wait_for_url(re.compile(rf".*/admin/inventory/purchaseorder/{order.pk}/change/$"))
    save_screenshot(page, "inventory-purchase-order-received")
    assert page.get_by_role("button", name="Save", exact=True).count() == 0


def test_a_supplier_and_a_replenishment_policy_are_added_through_their_forms(page, live_server):
    from inventory.models import ReplenishmentPolicy, Supplier

    admin_login(page, live_server.url, "/admin/inventory/supplier/add/", "buyer")
    page.get_by_label("Name").fill("Candle Co")
    page.get_by_label("Email").fill("orders@candle.example")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r".*/admin/inventory/supplier/$"))
    assert Supplier.objects.get().name == "Candle Co"

    page.goto(f"{live_server.url}/admin/inventory/replenishmentpolicy/add/")
    page.get_by_label("Scope").select_option(value="category")
    page.get_by_label("Category").fill("Kitchen")
    page.get_by_label("Supplier").select_option(label="Candle Co")
    page.locator("#id_lead_time_days").fill("10")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r".*/admin/inventory/replenishmentpolicy/$"))
    policy = ReplenishmentPolicy.objects.get()
    assert (policy.scope, policy.category, policy.supplier.name, policy.lead_time_days) == (
        "category", "Kitchen", "Candle Co", 10.0)

    # a bad value is shown on its field and nothing is saved
    page.goto(f"{live_server.url}/admin/inventory/replenishmentpolicy/add/")
    page.get_by_label("Scope").select_option(value="category")
    page.locator("#id_lead_time_days").fill("-3")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector(".errornote")  # the form comes back with its errors (not read while it navigates)
    assert page.locator(".errornote").is_visible()
    assert ReplenishmentPolicy.objects.count() == 1
