"""The storefront's forms need the CSRF token; a whole shopping flow logs no personal data."""
from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse

from personalization.capture import api_keys
from pricing import actions as pricing_actions

from .conftest import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url_name", "args", "data"),
    [
        ("login", (), {"username": "alice", "password": TEST_PASSWORD}),
        ("logout", (), {}),
        ("shop:cart-add", ("{product}",), {"quantity": 1}),
        ("shop:cart-update", ("{product}",), {"quantity": 2}),
        ("shop:cart-remove", ("{product}",), {}),
        ("shop:checkout", (), {"country": "France"}),
        ("admin:login", (), {"username": "alice", "password": TEST_PASSWORD}),
    ],
)
def test_every_storefront_form_refuses_a_post_without_the_csrf_token(url_name, args, data, product, shopper):
    client = Client(enforce_csrf_checks=True)
    client.force_login(shopper)
    url = reverse(url_name, args=[product.pk if arg == "{product}" else arg for arg in args])

    response = client.post(url, data)

    assert response.status_code == 403
    assert b"CSRF verification failed" in response.content


def test_with_the_token_the_same_form_goes_through(product, shopper):
    client = Client(enforce_csrf_checks=True)
    client.force_login(shopper)
    client.get(product.get_absolute_url())  # the page with the form sets the CSRF cookie

    response = client.post(
        reverse("shop:cart-add", args=[product.pk]),
        {"quantity": 1, "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
    )

    assert response.status_code == 302


def test_a_shopping_flow_logs_no_personal_data(caplog, product):
    shopper = UserFactory(username="margaret.hamilton", email="margaret@example.org")
    _, raw_key = api_keys.create_api_key("mobile app")
    caplog.set_level(logging.DEBUG)
    client = Client(REMOTE_ADDR="198.51.100.23")

    client.post(reverse("login"), {"username": shopper.username, "password": "wrong"})  # a failed login
    client.post(reverse("login"), {"username": shopper.username, "password": TEST_PASSWORD})
    client.get(product.get_absolute_url())
    client.get(reverse("shop:search"), {"q": "mug"})
    client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": 1})
    client.post(reverse("shop:checkout"), {"country": "France"})
    client.get("/api/personalization/profiles/")  # 403, logged by django.request
    server = Client(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    server.post(
        "/api/personalization/events/",
        {"events": [{"type": "view", "product": product.pk, "user": shopper.pk}, {"type": "nonsense"}]},
        content_type="application/json",
    )
    Client(HTTP_AUTHORIZATION=f"Api-Key {raw_key}x").get("/api/personalization/recommendations/?placement=for_you")
    pricing_actions.set_paused(True, shopper)  # a staff action that is logged
    session_key = client.session.session_key

    logged = "\n".join(
        record.getMessage() + (caplog.text if record.exc_info else "") for record in caplog.records
    )
    assert caplog.records  # the flow did log (requests refused, events rejected)
    for secret in (shopper.username, shopper.email, raw_key, raw_key.split(".")[1], session_key, "198.51.100.23"):
        assert secret not in logged
