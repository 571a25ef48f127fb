"""CSRF on every unsafe request made with a session (API and admin), and throttles on public endpoints."""
from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.apps.test_permission_matrix import (
    ADMIN_ROWS,
    API_ROWS,
    SAFE,
    _admin_request,
    _client,
    _fill,
    _json,
    snapshot,
)

pytestmark = pytest.mark.django_db


def _csrf_client(perms: tuple[str, ...], world: dict) -> Client:
    client = _client("staff+", perms, world)  # signed in with a session cookie
    client.handler.enforce_csrf_checks = True  # as a browser's request is checked
    return client


@pytest.mark.parametrize("row", [r for r in API_ROWS if r.method not in SAFE], ids=lambda r: r.id)
def test_an_unsafe_api_call_with_a_session_but_no_csrf_token_is_refused(row, world):
    client = _csrf_client(row.perms, world)
    before = snapshot()

    response = client.generic(row.method, _fill(row.url, world), _json(_fill(row.body, world)), "application/json")

    assert response.status_code == 403
    assert response.json()["detail"].startswith("CSRF Failed")
    assert snapshot() == before


@pytest.mark.parametrize("row", [r for r in ADMIN_ROWS if r.method == "POST"], ids=lambda r: r.id)
def test_an_admin_post_without_a_csrf_token_is_refused(row, world):
    client = _csrf_client(row.perms, world)
    before = snapshot()

    response = _admin_request(client, row, world)

    assert response.status_code == 403
    assert b"CSRF verification failed" in response.content
    assert snapshot() == before


def test_with_the_csrf_token_the_same_session_call_goes_through(world):
    row = next(r for r in API_ROWS if r.url.endswith("/approve/"))
    client = _csrf_client(row.perms, world)
    client.get("/admin/")  # any page that renders a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value

    response = client.post(_fill(row.url, world), HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200


def _anon_limit() -> int:
    count, _, _period = django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["anon"].partition("/")
    return int(count)


@pytest.mark.parametrize(
    "url", ["/api/pricing/prices/?products={item}", "/api/personalization/recommendations/?placement=best_sellers"]
)
def test_public_endpoints_are_throttled_per_client_at_the_configured_rate(url, world):
    client = Client(REMOTE_ADDR="203.0.113.7")
    limit = _anon_limit()

    statuses = [client.get(_fill(url, world)).status_code for _ in range(limit + 1)]
    other_client = Client(REMOTE_ADDR="203.0.113.8").get(_fill(url, world))

    assert statuses[:limit] == [200] * limit
    assert statuses[limit] == 429
    assert other_client.status_code == 200


def test_a_throttled_answer_says_when_to_retry(world):
    client = Client(REMOTE_ADDR="203.0.113.9")
    url = _fill("/api/pricing/prices/?products={item}", world)
    for _ in range(_anon_limit()):
        client.get(url)

    response = client.get(url)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "throttled" in response.json()["detail"].lower()


# --- who the client is, and throttling while Redis is down ------------------------------------------
PRICES = "/api/pricing/prices/?products={item}"


@pytest.mark.parametrize("url", [PRICES, "/api/personalization/recommendations/?placement=best_sellers"])
def test_a_forged_x_forwarded_for_does_not_reset_the_anonymous_budget(url, world):
    client = Client(REMOTE_ADDR="203.0.113.20")  # no proxy in front (NUM_PROXIES unset): the socket's address
    limit = _anon_limit()

    statuses = [client.get(_fill(url, world), HTTP_X_FORWARDED_FOR=f"198.51.100.{n % 250}, 192.0.2.{n // 250}")
                .status_code for n in range(limit + 1)]

    assert statuses[:limit] == [200] * limit
    assert statuses[limit] == 429


def test_behind_trusted_proxies_the_address_the_outermost_proxy_saw_is_the_client(settings, world):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 2}  # e.g. a load balancer, then nginx
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    url = _fill(PRICES, world)
    limit = _anon_limit()

    # Whatever the client writes into the header stays on the left of what the two proxies appended.
    statuses = [proxy.get(url, HTTP_X_FORWARDED_FOR=f"198.51.100.{n % 250}, 203.0.113.30, 10.0.0.1").status_code
                for n in range(limit + 1)]
    another_client = proxy.get(url, HTTP_X_FORWARDED_FOR="203.0.113.31, 10.0.0.1")

    assert statuses[:limit] == [200] * limit
    assert statuses[limit] == 429
    assert another_client.status_code == 200


def test_while_redis_is_down_each_process_keeps_throttling(settings, world):
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    settings.CACHES = {"default": {  # the production cache, on a Redis that does not answer
        "BACKEND": "personalization.host.cache.FailSafeRedisCache", "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }}
    client = Client(REMOTE_ADDR="203.0.113.40")
    url = _fill(PRICES, world)
    limit = _anon_limit()

    statuses = [client.get(url).status_code for _ in range(limit + 1)]

    assert statuses[:limit] == [200] * limit
    assert statuses[limit] == 429
