"""A real browser on the customer segments admin page of the demo shop (headless Chromium, Playwright)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from personalization.models import CustomerProfile, Segment
from personalization.profiles import services as profiles
from shop_project.shop.models import Order

from .conftest import TEST_PASSWORD, CategoryFactory, OrderFactory, OrderLineFactory, ProductFactory, UserFactory
from .test_browser import admin_login, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

START = dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def orders(transactional_db, settings) -> int:
    """Twelve customers of the demo shop: small occasional baskets, and big frequent ones."""
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    garden = CategoryFactory(name="Garden", slug="garden")
    products = [
        ProductFactory(category=kitchen, list_price=Decimal("3.75")),
        ProductFactory(category=kitchen, list_price=Decimal("12.50")),
        ProductFactory(category=garden, list_price=Decimal("7.95")),
    ]
    for index in range(12):
        customer = UserFactory(username=f"customer{index}")
        big = index % 3 == 0
        for order_number in range(6 if big else 1 + index % 2):
            order = OrderFactory(customer=customer, placed_at=START + dt.timedelta(days=20 * order_number + index))
            for product in products[: 3 if big else 1]:
                OrderLineFactory(order=order, product=product, quantity=48 if big else 1)
    last = max(Order.objects.values_list("placed_at", flat=True))  # profiles are built as of the last order
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "REFERENCE_TIME": last.isoformat()}
    return 12


def test_staff_see_the_segments_with_a_scatter_plot(page, live_server, orders):
    # given profiles built from the demo shop's orders, and a staff user
    build = profiles.run_build(trigger="test")
    get_user_model().objects.create_user("staffer", password=TEST_PASSWORD, is_staff=True, is_superuser=True)
    segments = list(Segment.objects.filter(build=build).order_by("cluster_id"))

    # when the staff user logs into the admin and opens the segments page
    page.goto(f"{live_server.url}/admin/login/?next=/admin/personalization/customerprofile/segments/")
    page.get_by_label("Username").fill("staffer")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/admin/personalization/customerprofile/segments/$"))
    save_screenshot(page, "segments")

    # then the scatter plot shows one dot per customer and one ringed dot per cluster
    assert page.get_by_role("heading", name=re.compile(r"Clusters \(k = \d+")).is_visible()
    scatter = page.locator("svg.segment-scatter")
    assert scatter.is_visible()
    assert scatter.locator("circle.customer").count() == orders == CustomerProfile.objects.count()
    assert scatter.locator("circle.centroid").count() == len(segments) == build.k >= 2

    # and the table lists each cluster with its size and its description in words
    rows = page.locator("#segment-table tbody tr")
    assert rows.count() == len(segments)
    for row, segment in zip(range(rows.count()), segments, strict=True):
        cells = rows.nth(row).locator("td")
        assert [cells.nth(i).inner_text().strip() for i in range(3)] == [
            str(segment.cluster_id),
            segment.label,
            str(segment.size),
        ]
    assert sum(segment.size for segment in segments) == orders

    # and the RFM table counts every customer
    counts = page.locator("#rfm-segments tbody td:nth-child(2)")
    assert sum(int(counts.nth(i).inner_text()) for i in range(counts.count())) == orders


def _download(page, click) -> list[str]:
    with page.expect_download() as download_info:
        click()
    return Path(download_info.value.path()).read_text().splitlines()


def test_every_profiles_button_works_in_a_browser(page, live_server, orders):
    # given the demo shop's orders and no profiles yet
    admin_login(page, live_server.url, "/admin/personalization/customerprofile/segments/")
    assert "No profiles have been built yet." in page.locator("#content").inner_text()

    # when the staff user presses "Rebuild now" (no worker: it runs before the page returns)
    page.locator("#rebuild-now").click()
    page.wait_for_url(re.compile(r".*/admin/personalization/customerprofile/segments/$"))

    # then the profiles are built and shown
    assert f"Rebuilt {orders} profiles." in page.locator("ul.messagelist").inner_text()
    assert page.locator("svg.segment-scatter circle.customer").count() == orders

    # the profile list's "Export CSV" exports what the list shows, filters included
    page.goto(f"{live_server.url}/admin/personalization/customerprofile/")
    assert page.locator("#result_list tbody tr").count() == orders
    lines = _download(page, lambda: page.get_by_role("link", name="Export CSV").click())
    assert len(lines) == 1 + orders
    page.get_by_role("link", name="Wholesale").click()
    page.wait_for_url(re.compile(r".*buyer_type__exact=wholesale.*"))
    wholesale = CustomerProfile.objects.filter(buyer_type="wholesale").count()
    assert page.locator("#result_list tbody tr").count() == wholesale == 4
    lines = _download(page, lambda: page.get_by_role("link", name="Export CSV").click())
    assert len(lines) == 1 + wholesale

    # the export action exports the selected rows
    ids = list(CustomerProfile.objects.filter(buyer_type="wholesale").values_list("pk", flat=True)[:2])
    for pk in ids:
        page.locator(f"input[name=_selected_action][value='{pk}']").check()
    page.locator("select[name=action]").select_option(label="Export selected profiles as CSV")
    lines = _download(page, lambda: page.get_by_role("button", name="Go").click())
    assert len(lines) == 1 + 2

    # the builds list links to the segments; the segments list opens
    page.goto(f"{live_server.url}/admin/personalization/profilebuild/")
    assert page.locator("#result_list tbody tr").count() == 1
    page.locator("#content-main .object-tools").get_by_role("link", name="Segments").click()
    page.wait_for_url(re.compile(r".*/admin/personalization/customerprofile/segments/$"))
    page.goto(f"{live_server.url}/admin/personalization/segment/")
    assert page.locator("#result_list tbody tr").count() == Segment.objects.count() >= 2
