"""A real browser clicks a recommended product in the demo shop; the click is recorded with its list's id."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from personalization.capture import services as capture
from personalization.capture.receivers import purchase_events
from personalization.host.adapters import get_adapter
from personalization.models import Event, EventType
from personalization.recommending import experiments, serving, training

from .conftest import CategoryFactory, OrderFactory, OrderLineFactory, ProductFactory, UserFactory
from .test_browser import save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def trained_shop(transactional_db, settings, tmp_path):
    """Eight customers who buy a lantern with candles (and now and then a mug) for ten weeks; trained."""
    settings.MEDIA_ROOT = tmp_path
    serving._TABLES.clear()
    lights = CategoryFactory(name="Lights", slug="lights")
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    lantern = ProductFactory(name="Lantern", category=lights, list_price=Decimal("9.50"), stock_on_hand=20)
    candles = ProductFactory(name="Candles", category=lights, list_price=Decimal("2.25"), stock_on_hand=50)
    mug = ProductFactory(name="Mug", category=kitchen, list_price=Decimal("3.00"), stock_on_hand=30)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=70)
    for index in range(8):
        customer = UserFactory(username=f"buyer{index}")
        for week in range(10):
            order = OrderFactory(customer=customer, placed_at=start + dt.timedelta(days=7 * week, hours=index))
            OrderLineFactory(order=order, product=lantern, quantity=1)
            OrderLineFactory(order=order, product=candles, quantity=2)
            if (week + index) % 3 == 0:
                OrderLineFactory(order=order, product=mug, quantity=1)
    capture.insert_events(purchase_events(list(get_adapter().order_lines_since())))
    assert training.train("simple").activated
    return {"lantern": lantern, "candles": candles, "mug": mug}


def test_a_clicked_recommendation_is_recorded_against_its_recommendation_id(page, live_server, trained_shop):
    lantern, candles = trained_shop["lantern"], trained_shop["candles"]

    # given a guest on the lantern's page, who is shown what is bought with it
    page.goto(f"{live_server.url}{lantern.get_absolute_url()}")
    widget = page.locator('section.shopsense-recs[data-placement="bought_together"]')
    rec_id = widget.get_attribute("data-recommendation-id")
    save_screenshot(page, "recommendations-product")
    assert re.fullmatch(r"\d+-bought_together-[0-9a-f]{12}-[0-9a-f]{16}", rec_id)

    # when they click the candles in that widget
    widget.locator(f'article[data-product-id="{candles.pk}"] a').click()
    page.wait_for_url(re.compile(rf".*{re.escape(candles.get_absolute_url())}\?rec={rec_id}$"))

    # then the impression and the click are stored with the list's recommendation id
    capture.flush_buffer()
    recorded = Event.objects.filter(recommendation_id=rec_id, product=candles)
    assert sorted(recorded.values_list("event_type", flat=True)) == [
        EventType.CLICK, EventType.IMPRESSION, EventType.VIEW]
    # and the click counts for the version's A/B figures: the id was issued to this browser's visitor
    [stats] = experiments.version_stats()
    assert (stats.clicked, stats.ignored) == (1, 0)
