"""Under /api/ every client error is JSON, with DEBUG on (the demo's default) or off: a URL that matches no
route (a malformed or oversized id) is a JSON 404, a body past DATA_UPLOAD_MAX_MEMORY_SIZE a JSON 413."""
from __future__ import annotations

import pytest
from django.test import Client

from personalization.capture import api_keys

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[True, False], ids=["debug", "no-debug"])
def api_client(request, settings) -> Client:
    settings.DEBUG = request.param
    _, raw_key = api_keys.create_api_key("errors")
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Api-Key {raw_key}")


@pytest.mark.parametrize(
    "path",
    [
        "/api/personalization/profiles/abc/",
        "/api/pricing/suggestions/abc/",
        "/api/pricing/suggestions/99999999999999999999999/",
        "/api/inventory/purchase-orders/1x/",
        "/api/inventory/suggestions/-1/status/",
        "/api/no-such-endpoint/",
    ],
)
def test_a_url_that_matches_no_endpoint_is_a_json_404(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found: no API endpoint matches this path (ids are whole numbers)."}


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_an_oversized_body_is_a_json_413_and_stores_nothing(api_client, settings, content_type):
    from personalization.models import Event

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"events": [' + ",".join(['{"type": "view", "product": 1, "user": 1}'] * 40) + "]}"

    response = api_client.post("/api/personalization/events/", body, content_type=content_type)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": f"The request body is {len(body):,} bytes; at most 1,000 are accepted."}
    assert not Event.objects.exists()


def test_a_body_within_the_limit_still_reaches_the_endpoint(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = api_client.post("/api/personalization/events/", '{"events": "no"}', content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_pages_outside_the_api_keep_django_s_html(api_client):
    response = api_client.get("/admin/no-such-page/")

    assert response.status_code in (302, 404)
    assert not response["Content-Type"].startswith("application/json")
