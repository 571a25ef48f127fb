"""A real browser (headless Debian Chromium through Playwright) against the live demo storefront."""
from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from personalization.capture.services import flush_buffer
from personalization.models import Event, EventType
from shop_project.shop.models import Product

from .conftest import TEST_PASSWORD, CategoryFactory, ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lantern(transactional_db) -> Product:
    category = CategoryFactory(name="Lighting", slug="lighting")
    return ProductFactory(
        name="Moroccan Metal Lantern",
        sku="21733",
        category=category,
        list_price=Decimal("6.95"),
        stock_on_hand=12,
        description="A hanging lantern of punched metal.",
    )


def save_screenshot(page, name: str) -> None:
    """With SHOPSENSE_SCREENSHOTS=<dir> set, keep a full-page screenshot there for a person to look at."""
    folder = os.environ.get("SHOPSENSE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def admin_login(page, base_url: str, next_path: str, username: str = "staffer") -> None:
    """Create a superuser and log in through the admin's login form, landing on ``next_path``."""
    from urllib.parse import quote

    get_user_model().objects.create_user(username, password=TEST_PASSWORD, is_staff=True, is_superuser=True)
    page.goto(f"{base_url}/admin/login/?next={quote(next_path)}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def run_admin_action(page, label: str, *row_ids: int) -> str:
    """Select the rows (all listed when none named), choose the action in the dropdown, press Go; the messages."""
    if row_ids:
        for row_id in row_ids:
            page.locator(f"input[name=_selected_action][value='{row_id}']").check()
    else:
        page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option(label=label)
    page.get_by_role("button", name="Go").click()
    page.wait_for_load_state()
    messages = page.locator("ul.messagelist")
    return messages.inner_text() if messages.count() else ""


def shop_for_lantern(page, base_url: str, product: Product) -> None:
    """A guest opens the product page and adds 2 to the cart."""
    page.goto(f"{base_url}{product.get_absolute_url()}")
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url(re.compile(r".*/cart/$"))


def test_shopper_views_and_adds_to_cart_and_events_are_stored(page, live_server, lantern):
    # when a guest opens the product page and adds 2 lanterns to the cart
    page.goto(f"{live_server.url}{lantern.get_absolute_url()}")
    assert page.get_by_role("heading", level=1).inner_text() == "Moroccan Metal Lantern"
    assert page.get_by_text("In stock", exact=True).is_visible()
    save_screenshot(page, "product")
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url(re.compile(r".*/cart/$"))

    # then the cart shows them with the header's count and total
    assert page.get_by_test_id("cart-count").inner_text() == "2"
    assert page.get_by_test_id("cart-total").inner_text() == "£13.90"
    assert page.get_by_role("status").first.inner_text() == "Added 2 × “Moroccan Metal Lantern” to your cart."
    save_screenshot(page, "cart")

    # and a view and a cart event of that visitor are stored
    flush_buffer()
    events = list(Event.objects.order_by("id").values_list("event_type", "product_id", "quantity", "user_id"))
    assert events == [(EventType.VIEW, lantern.pk, 1, None), (EventType.CART, lantern.pk, 2, None)]
    assert Event.objects.values("session_key").distinct().count() == 1


def test_staff_sees_the_shoppers_events_in_the_admin(browser, page, live_server, lantern):
    # given a guest who viewed the lantern and added it to the cart, in their own browser
    shopper_context = browser.new_context()
    shop_for_lantern(shopper_context.new_page(), live_server.url, lantern)
    shopper_context.close()
    flush_buffer()
    get_user_model().objects.create_user("staffer", password=TEST_PASSWORD, is_staff=True, is_superuser=True)

    # when a staff user logs into the admin and opens the event list
    page.goto(f"{live_server.url}/admin/login/?next=/admin/personalization/event/")
    page.get_by_label("Username").fill("staffer")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/admin/personalization/event/$"))

    # then both events are listed with their type and product
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    texts = [rows.nth(index).inner_text() for index in range(2)]
    assert sorted("Product view" in text for text in texts) == [False, True]
    assert sorted("Add to cart" in text for text in texts) == [False, True]
    assert all("Moroccan Metal Lantern (21733)" in text for text in texts)


def test_staff_create_and_revoke_an_api_key_and_search_the_events_in_a_browser(page, live_server, lantern):
    from django.test import Client

    from personalization.models import ApiKey

    admin_login(page, live_server.url, "/admin/personalization/apikey/add/")

    # adding a key shows it once
    page.get_by_label("Name").fill("mobile app")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r".*/admin/personalization/apikey/$"))
    shown = page.locator("ul.messagelist").inner_text()
    raw_key = re.search(r"Copy it now, it is not shown again: (\S+)", shown).group(1)
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    event = {"type": "view", "product": lantern.pk, "client_event_id": "11111111-1111-4111-8111-111111111111"}
    body = {"events": [{**event, "session_key": "device-42"}]}
    assert api.post("/api/personalization/events/", body, content_type="application/json").status_code == 202

    # the revoke action disables it
    key = ApiKey.objects.get(name="mobile app")
    assert "Revoked 1 key(s)." in run_admin_action(page, "Revoke selected keys", key.pk)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api.post("/api/personalization/events/", body, content_type="application/json").status_code in (401, 403)

    # the event it sent is found by its visitor id in the event list
    flush_buffer()
    page.goto(f"{live_server.url}/admin/personalization/event/")
    page.locator("#searchbar").fill("device-42")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*q=device-42.*"))
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "Moroccan Metal Lantern" in rows.first.inner_text()
