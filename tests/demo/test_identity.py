"""The demo shop and the visitor id (issue #13, items 7 and 8): a browser gets one on its first page, an API
call without a cookie writes no session, and the login gives the session a new one."""
from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from personalization.capture.services import flush_buffer
from personalization.models import Event, EventType
from personalization.recommending import serving

from .conftest import TEST_PASSWORD, ProductFactory

pytestmark = pytest.mark.django_db
VISITOR_KEY = "shopsense_visitor"


def test_a_browser_gets_its_visitor_id_on_its_first_product_page(client, product, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(product.get_absolute_url())

    assert response.status_code == 200
    assert "sessionid" in response.cookies
    visitor = client.session[VISITOR_KEY]
    flush_buffer()
    assert list(Event.objects.values_list("event_type", "session_key")) == [(EventType.VIEW, visitor)]


def test_api_calls_without_a_cookie_write_no_session(product):
    before = Session.objects.count()
    paths = [f"/api/personalization/recommendations/?placement={placement}"
             for placement in ("for_you", "recently_viewed", "best_sellers")] + [
        f"/api/pricing/prices/?products={product.pk}"]

    statuses = [Client().get(path).status_code for path in paths for _ in range(5)]

    assert statuses == [200] * 20
    assert Session.objects.count() == before


def test_a_visitor_id_planted_in_the_browser_stops_at_the_login(
    client, product, shopper, django_capture_on_commit_callbacks
):
    # given a session cookie that someone else browsed with, planted in the shopper's browser
    other = ProductFactory(name="Tea Towel", category=product.category)
    planter = Client()
    with django_capture_on_commit_callbacks(execute=True):
        planter.get(product.get_absolute_url())
    planted = planter.session[VISITOR_KEY]
    client.cookies["sessionid"] = planter.cookies["sessionid"].value

    # when the shopper logs in through the login view and views another product
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("login"), {"username": "alice", "password": TEST_PASSWORD})
        client.get(other.get_absolute_url())

    # then the session has a new visitor id: the shopper's view is filed under it, and whoever knows the planted
    # id does not see it among that id's recently viewed products
    assert response.status_code == 302
    visitor = client.session[VISITOR_KEY]
    assert visitor not in ("", planted)
    flush_buffer()
    assert list(Event.objects.filter(product=other).values_list("event_type", "user_id", "session_key")) == [
        (EventType.VIEW, shopper.pk, visitor)]
    assert other.pk not in serving.recommend("recently_viewed", session_key=planted, limit=5).product_ids
