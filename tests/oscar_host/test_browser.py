"""A real browser opens Oscar's own product page and sees ShopSense's recommendation widget, price tag and
stock badge (rendered through the test host's override of Oscar's ``catalogue/detail.html`` blocks)."""
from __future__ import annotations

import pytest
from django.core.management import call_command

from personalization.models import Event, EventType

from .factories import flush, make_customer, make_product, place_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def trained_oscar_shop(transactional_db):
    """Eight customers who buy a lantern with candles (now and then a mug) three times each; trained."""
    lantern = make_product("Lantern", price="9.50", categories=["Lights"])
    candles = make_product("Candles", price="2.25", stock=500, categories=["Lights"])
    mug = make_product("Mug", price="3.00", categories=["Kitchen"])
    for index in range(8):
        customer = make_customer(f"buyer{index}")
        for week in range(3):
            extra = [(mug, 1)] if (week + index) % 3 == 0 else []
            place_order(customer, [(lantern, 1), (candles, 2), *extra])
    flush()
    call_command("train_recommenders", "--no-progress", verbosity=0)
    return {"lantern": lantern, "candles": candles}


def test_oscars_product_page_shows_the_recommendation_widget(page, live_server, trained_oscar_shop):
    lantern = trained_oscar_shop["lantern"]
    page.goto(f"{live_server.url}{lantern.get_absolute_url()}")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "Lantern"  # Oscar's own page
    widget = page.locator("section.shopsense-recs").first
    widget.wait_for(state="visible")
    assert page.locator("section.shopsense-recs .shopsense-rec").count() >= 1
    assert "Candles" in page.locator("section.shopsense-recs").all_inner_texts()[0]
    assert page.locator('[data-testid="price"]').inner_text().endswith("9.50")
    # following a recommendation is a click of that list in the event log
    page.locator("section.shopsense-recs .shopsense-rec a").first.click()
    page.wait_for_load_state()
    flush()
    assert Event.objects.filter(event_type=EventType.CLICK).exclude(recommendation_id="").exists()
