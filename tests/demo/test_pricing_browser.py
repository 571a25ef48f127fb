"""A real browser: staff approve and apply a price suggestion in the admin; the storefront shows was / now."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from pricing import services
from pricing.models import PriceChange, PricingPolicy

from .conftest import TEST_PASSWORD, CategoryFactory, ProductFactory
from .test_browser import save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _run_action(page, label: str) -> None:
    page.locator("#result_list tbody input.action-select").first.check()
    page.locator("select[name=action]").select_option(label=label)
    page.get_by_role("button", name="Go").click()


def test_staff_approve_and_apply_a_suggestion_and_the_shop_shows_the_prior_price(page, live_server):
    # given a lantern at £10.00 and a pending suggestion to cut it to the policy's ceiling of £8.99
    lantern = ProductFactory(name="Moroccan Metal Lantern", category=CategoryFactory(name="Lighting", slug="lighting"),
                             list_price=Decimal("10.00"), unit_cost=Decimal("5.00"), stock_on_hand=12)
    PricingPolicy.objects.create(scope=PricingPolicy.Scope.SHOP, min_margin=Decimal("0.10"), ceiling=Decimal("8.99"),
                                 strategy=PricingPolicy.Strategy.HOLD)
    suggestion = services.generate_suggestions([lantern]).created[0]
    get_user_model().objects.create_user("pricer", password=TEST_PASSWORD, is_staff=True, is_superuser=True)

    # when a staff user approves it, then applies it, in the admin
    page.goto(f"{live_server.url}/admin/login/?next=/admin/pricing/pricesuggestion/")
    page.get_by_label("Username").fill("pricer")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/admin/pricing/pricesuggestion/$"))
    _run_action(page, "Approve selected suggestions")
    assert page.locator("ul.messagelist").inner_text().strip() == "1 suggestion(s) approved."
    _run_action(page, "Approve and apply selected suggestions")
    assert page.locator("ul.messagelist").inner_text().strip() == "1 suggestion(s) applied."
    save_screenshot(page, "pricing-admin")

    # then the history records it and the product page shows the new price with the prior price
    change = PriceChange.objects.get()
    assert (change.old_price, change.new_price, change.suggestion_id, change.changed_by.username) == (
        Decimal("10.00"), Decimal("8.99"), suggestion.pk, "pricer")
    page.goto(f"{live_server.url}{lantern.get_absolute_url()}")
    price = page.locator(".product-price")
    assert price.get_by_test_id("price").inner_text() == "£8.99"
    assert price.get_by_test_id("prior-price").inner_text() == "£10.00"
    save_screenshot(page, "pricing-product")


def test_a_price_edited_in_the_host_s_own_product_admin_lands_in_the_price_history(page, live_server):
    # given a lantern at £13.99 under a policy that allows at most 10 % a step
    lantern = ProductFactory(name="Glass Lantern", category=CategoryFactory(name="Lights", slug="lights"),
                             list_price=Decimal("13.99"), unit_cost=Decimal("5.00"), stock_on_hand=4)
    PricingPolicy.objects.create(scope=PricingPolicy.Scope.SHOP, min_margin=Decimal("0.10"),
                                 max_change=Decimal("0.10"), strategy=PricingPolicy.Strategy.HOLD)
    get_user_model().objects.create_user("owner", password=TEST_PASSWORD, is_staff=True, is_superuser=True)

    # when the owner raises it to £19.99 in the demo shop's own product page (not through ShopSense)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/shop/product/{lantern.pk}/change/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("List price").fill("19.99")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r".*/admin/shop/product/$"))

    # then the price history has the change, flagged as breaking the policy's step limit
    page.goto(f"{live_server.url}/admin/pricing/pricechange/?breaks=yes")
    save_screenshot(page, "pricing-outside-change")
    row = page.locator("#result_list tbody tr").first
    assert "Outside ShopSense" in row.inner_text() and "breaks max-change" in row.inner_text()
    change = PriceChange.objects.get(product_id=lantern.pk)
    assert (change.old_price, change.new_price) == (Decimal("13.99"), Decimal("19.99"))
