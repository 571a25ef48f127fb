"""Every page of the three apps' admin and every endpoint of their API, called with hostile text: no 5xx.

With ``RefuseUnstorableTextMiddleware`` (as the README asks) a NUL is refused at the door; the API is
fuzzed once more without it, because the apps own their endpoints whatever the host's middleware.
"""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.url_fuzz import DEEP_JSON, hostile_paths, hostile_queries

MIDDLEWARE = "personalization.host.middleware.RefuseUnstorableTextMiddleware"
pytestmark = pytest.mark.django_db


def _server_errors(client: Client, paths: list[str], **headers: str) -> list[tuple[str, str, int]]:
    failures = []
    for path in paths:
        for query in hostile_queries():
            response = client.get(path, query, **headers)
            if response.status_code >= 500:
                failures.append(("GET", f"{path}?{sorted(query.values())[0]!r}", response.status_code))
        for method, body, content_type in (
            ("post", DEEP_JSON, "application/json"),
            ("post", {"name": "a\x00b", "reason": "\x00", "q": "\x00"}, "application/x-www-form-urlencoded"),
        ):
            data = body if isinstance(body, str) else "&".join(f"{k}={v}" for k, v in body.items())
            response = getattr(client, method)(path, data, content_type=content_type, **headers)
            if response.status_code >= 500:
                failures.append((method.upper(), f"{path} ({content_type})", response.status_code))
    return failures


@pytest.fixture
def staff(world) -> tuple[Client, dict[str, str]]:
    user = get_user_model().objects.create_user("fuzz-admin", is_staff=True, is_superuser=True)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client, {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=user).key}"}


def test_no_admin_page_or_endpoint_answers_5xx_to_hostile_text(world, staff):
    admin_client, token = staff
    # not the logout page: it would end the staff session half-way (and the test host has no page after it)
    paths = [path for path in hostile_paths(world["item"])
             if path.startswith(("/admin/", "/api/")) and path != "/admin/logout/"]
    assert any(path.startswith("/admin/pricing/") for path in paths) and "/api/personalization/events/" in paths

    failures = _server_errors(admin_client, paths)
    failures += _server_errors(Client(raise_request_exception=False), paths)  # anonymous
    failures += _server_errors(Client(raise_request_exception=False),
                               [path for path in paths if path.startswith("/api/")], **token)

    assert failures == []


def test_no_endpoint_answers_5xx_without_the_middleware(world, staff, settings):
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != MIDDLEWARE]
    _, token = staff
    paths = [path for path in hostile_paths(world["item"]) if path.startswith("/api/")]

    failures = _server_errors(Client(raise_request_exception=False), paths, **token)

    assert failures == []
