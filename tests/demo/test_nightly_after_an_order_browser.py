"""In a real browser: a customer orders in the demo shop, every nightly job runs, and the admin pages for
segments, price suggestions, forecasts and a customer's recommendations still show the same kinds of thing
(no customer thousands of days old, no elasticity model trained on one week live)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from personalization.models import CustomerProfile, ModelVersion, Segment
from pricing.models import PriceSuggestion
from shop_project.shop import data_shift
from shop_project.shop.models import Order, Product

from . import nightly
from .conftest import TEST_PASSWORD
from .test_browser import save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    for name, value in nightly.SETTINGS.items():
        setattr(settings, name, value)
    nightly.first_run()
    return nightly.snapshot()


def log_in(page, base: str, username: str, next_url: str, login: str = "/accounts/login/") -> None:
    page.goto(f"{base}{login}?next={next_url}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(rf".*{re.escape(next_url)}$"))


def test_an_order_then_the_nightly_jobs_leave_the_admin_pages_sane(browser, page, live_server, demo):
    base = live_server.url
    # given a customer of the imported data who can sign in
    customer = CustomerProfile.objects.order_by("-orders").first().user
    customer.set_password(TEST_PASSWORD)
    customer.save()
    product = Product.objects.filter(is_active=True, stock_on_hand__gt=2).order_by("pk").first()

    # when they order through the storefront in their own browser
    shopper = browser.new_context()
    store = shopper.new_page()
    log_in(store, base, customer.username, product.get_absolute_url())
    store.get_by_role("button", name="Add to cart").click()
    store.goto(f"{base}/cart/")
    store.get_by_role("link", name="Checkout").click()
    store.get_by_role("button", name="Place order").click()
    store.wait_for_url(re.compile(r".*/account/orders/[^/]+/$"))
    shopper.close()
    order = Order.objects.get(customer=customer, placed_at__date=timezone.localdate())
    # and every scheduled job runs
    nightly.run_nightly_jobs()
    nightly.assert_nothing_degraded(demo, nightly.snapshot())

    # then the owner, in the admin, sees sane segments ...
    get_user_model().objects.create_user("owner", password=TEST_PASSWORD, is_staff=True, is_superuser=True)
    log_in(page, base, "owner", "/admin/personalization/customerprofile/segments/", login="/admin/login/")
    save_screenshot(page, "nightly-segments")
    segments = Segment.objects.filter(build=CustomerProfile.objects.first().build)
    assert page.locator("svg circle.centroid").count() == segments.count() >= 2
    # ... the customer who just ordered as recent, and nobody older than the data
    profile = CustomerProfile.objects.get(user=customer)
    page.goto(f"{base}/admin/personalization/customerprofile/{profile.pk}/change/")
    assert page.locator(".field-recency_days .readonly").inner_text().strip() == "0"
    span = (timezone.localdate() - data_shift.current().shifted_first).days
    assert max(CustomerProfile.objects.values_list("recency_days", flat=True)) <= span
    # ... the price suggestions, made by a live elasticity model trained on weeks, not one
    page.goto(f"{base}/admin/pricing/pricesuggestion/")
    save_screenshot(page, "nightly-suggestions")
    pending = PriceSuggestion.objects.filter(status="pending")
    assert pending.exists()
    assert page.locator("#result_list tbody tr").count() >= pending.count() >= 1
    live = ModelVersion.objects.get(kind="pricing.elasticity", status="active")
    assert live.metrics["weeks"] >= 8
    # ... forecasts made this week
    page.goto(f"{base}/admin/inventory/demandforecast/")
    save_screenshot(page, "nightly-forecasts")
    monday = timezone.localdate() - timezone.timedelta(days=timezone.localdate().weekday())
    assert page.locator("#result_list tbody tr").count() >= 1
    assert monday.strftime("%Y") in page.locator("#result_list").inner_text()
    # ... and the customer's recommendations, from the live recommender, naming products of the shop
    page.goto(f"{base}/admin/personalization/modelversion/preview/?user={customer.username}")
    save_screenshot(page, "nightly-recommendations")
    live = ModelVersion.objects.get(kind="recommender", status="active")
    assert f"model version {live}" in page.locator("h2").first.inner_text()
    for_you = page.locator("#content table").first.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert len(for_you) == 10  # the for_you list, full
    names = {text.rsplit(" (", 1)[0] for text in for_you}
    assert Product.objects.filter(name__in=names).count() >= 5
    assert order.lines.count() == 1
