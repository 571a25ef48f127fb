"""A real browser: staff approve and apply a price suggestion in the admin; the storefront shows was / now."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from pricing import services
from pricing.models import PriceChange, PricingPolicy

from .conftest import TEST_PASSWORD, CategoryFactory, ProductFactory
from .test_browser import admin_login, run_admin_action, save_screenshot

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


@pytest.fixture
def two_suggestions(transactional_db):
    """Pending suggestions for a lantern (to the £8.99 ceiling) and a mug, under a shop policy, and a staff user."""
    lighting = CategoryFactory(name="Lighting", slug="lighting")
    lantern = ProductFactory(name="Moroccan Metal Lantern", sku="21733", category=lighting,
                             list_price=Decimal("10.00"), unit_cost=Decimal("5.00"))
    mug = ProductFactory(name="Enamel Mug", sku="84029E", category=lighting,
                         list_price=Decimal("12.00"), unit_cost=Decimal("5.00"))
    PricingPolicy.objects.create(scope=PricingPolicy.Scope.SHOP, min_margin=Decimal("0.10"), ceiling=Decimal("8.99"),
                                 strategy=PricingPolicy.Strategy.HOLD)
    services.generate_suggestions([lantern, mug])
    return lantern, mug


def test_every_button_of_the_suggestion_list_works_in_a_browser(page, live_server, two_suggestions):
    from pricing.models import PriceSuggestion

    lantern, mug = two_suggestions
    admin_login(page, live_server.url, "/admin/pricing/pricesuggestion/", "pricer")

    # search by name, then by SKU
    page.locator("#searchbar").fill("lantern")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*q=lantern.*"))
    assert page.locator("#result_list tbody tr").count() == 1
    page.locator("#searchbar").fill("84029E")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*q=84029E.*"))
    assert "Enamel Mug" in page.locator("#result_list tbody").inner_text()
    page.get_by_role("link", name=re.compile(r"\d+ total")).click()  # back to all

    # sort by the size of the change, largest first (the mug moves -25 %, the lantern -10 %)
    page.get_by_role("link", name="Change", exact=True).click()
    page.wait_for_url(re.compile(r".*o=\d.*"))
    page.locator("th.column-change a.toggle").click()  # descending
    page.wait_for_load_state()
    first = page.locator("#result_list tbody tr").first.inner_text()
    assert "Enamel Mug" in first and "-25.1%" in first
    save_screenshot(page, "pricing-suggestions-sorted")

    # a filter of the side bar
    page.get_by_role("link", name="5 % or more").click()
    page.wait_for_url(re.compile(r".*change=large.*"))
    assert page.locator("#result_list tbody tr").count() == 2

    # reject the mug's suggestion with a reason (the action's own form)
    mug_suggestion = PriceSuggestion.objects.get(product_id=mug.pk)
    page.goto(f"{live_server.url}/admin/pricing/pricesuggestion/")
    run_admin_action(page, "Reject selected suggestions (with a reason)", mug_suggestion.pk)
    page.get_by_label("Reason").fill("Competitor sells it at 12.")
    page.get_by_role("button", name="Reject").click()
    page.wait_for_url(re.compile(r".*/admin/pricing/pricesuggestion/$"))
    assert page.locator("ul.messagelist").inner_text().strip() == "1 suggestion(s) rejected."
    mug_suggestion.refresh_from_db()
    assert (mug_suggestion.status, mug_suggestion.reason) == ("rejected", "Competitor sells it at 12.")

    # the refit button queues the nightly job now
    page.get_by_test_id("refit-now").click()
    page.wait_for_url(re.compile(r".*/admin/pricing/pricesuggestion/$"))
    assert "Refitting the elasticities and suggesting prices" in page.locator("ul.messagelist").inner_text()


def test_every_button_of_the_price_history_and_the_pause_switch_works_in_a_browser(page, live_server,
                                                                                   two_suggestions):
    from pricing import actions
    from pricing.models import PriceSuggestion, PricingSettings

    lantern, mug = two_suggestions
    admin_login(page, live_server.url, "/admin/pricing/pricingsettings/", "pricer")
    user = get_user_model().objects.get(username="pricer")
    actions.apply_suggestion(PriceSuggestion.objects.get(product_id=lantern.pk), user)

    # the settings list opens the one row in place; pausing says so
    page.wait_for_url(re.compile(r".*/admin/pricing/pricingsettings/\d+/change/$"))
    page.get_by_label("Paused").check()
    page.get_by_role("button", name="Save", exact=True).click()
    assert "Pricing is paused: no price will change." in page.locator("ul.messagelist").inner_text()
    assert PricingSettings.load().paused

    # while paused, applying is refused with a message and nothing changes
    page.goto(f"{live_server.url}/admin/pricing/pricesuggestion/?status__exact=pending")
    messages = run_admin_action(page, "Approve and apply selected suggestions")
    assert "paused" in messages.lower()
    mug.refresh_from_db()
    assert mug.list_price == Decimal("12.00")

    # resume, then roll the lantern's change back from the history
    page.goto(f"{live_server.url}/admin/pricing/pricingsettings/")
    page.get_by_label("Paused").uncheck()
    page.get_by_role("button", name="Save", exact=True).click()
    assert "Pricing resumed." in page.locator("ul.messagelist").inner_text()
    page.goto(f"{live_server.url}/admin/pricing/pricechange/")
    change = PriceChange.objects.get()
    messages = run_admin_action(page, "Roll back selected changes (restores the old price)", change.pk)
    assert "1 change(s) rolled back." in messages
    lantern.refresh_from_db()
    assert lantern.list_price == Decimal("10.00")

    # the chart link of a row opens the price history chart
    page.locator("#result_list tbody tr").first.get_by_role("link", name="chart").click()
    page.wait_for_url(re.compile(rf".*/admin/pricing/pricechange/chart/{lantern.pk}/$"))
    assert page.locator("svg").first.is_visible()
    save_screenshot(page, "pricing-history-chart")


def test_a_pricing_policy_is_added_through_its_form(page, live_server):
    admin_login(page, live_server.url, "/admin/pricing/pricingpolicy/add/", "pricer")

    page.get_by_label("Name").fill("Lighting 8% margin")
    page.get_by_label("Scope").select_option(label="One category")
    page.get_by_label("Category").fill("Lighting")
    page.get_by_label("Min margin").fill("0.08")
    page.get_by_label("Max change").fill("0.10")
    page.get_by_role("button", name="Save", exact=True).click()

    page.wait_for_url(re.compile(r".*/admin/pricing/pricingpolicy/$"))
    assert "was added successfully" in page.locator("ul.messagelist").inner_text()
    policy = PricingPolicy.objects.get()
    assert (policy.name, policy.scope, policy.category, policy.min_margin) == (
        "Lighting 8% margin", "category", "Lighting", Decimal("0.08"))
