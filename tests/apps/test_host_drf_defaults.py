"""Whatever the host's ``REST_FRAMEWORK`` defaults, the apps' endpoints keep their own configuration.

bin/test runs this file (with the permission matrix and the events API) under tests.settings, under DRF's
bare defaults (tests.settings_drf_bare) and under permissive ones (tests.settings_drf_open).
"""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import get_resolver
from rest_framework.test import APIClient

from personalization.api.base import ShopSenseAPI

pytestmark = pytest.mark.django_db


def _app_views() -> list[type]:
    views = []

    def walk(patterns):
        for entry in patterns:
            if hasattr(entry, "url_patterns"):
                walk(entry.url_patterns)
            else:
                cls = getattr(entry.callback, "cls", None)
                if cls is not None and cls.__module__.split(".")[0] in {"personalization", "pricing", "inventory"}:
                    views.append(cls)

    walk(get_resolver().url_patterns)
    return views


def test_every_api_view_of_the_apps_owns_its_configuration():
    views = _app_views()

    assert len(views) >= 15
    assert [view.__name__ for view in views if not issubclass(view, ShopSenseAPI)] == []


def test_an_anonymous_post_to_the_events_api_is_refused_and_stores_nothing(client):
    response = APIClient().post("/api/personalization/events/",
                                {"events": [{"type": "view", "product": 1, "session_key": "victim"}]}, format="json")

    assert response.status_code in (401, 403)


def test_a_server_api_key_is_accepted(world):
    server = APIClient()
    server.credentials(HTTP_AUTHORIZATION=f"Api-Key {world['raw_key']}")

    response = server.post("/api/personalization/events/",
                           {"events": [{"type": "view", "product": world["item"], "session_key": "device-1"}]},
                           format="json")

    assert response.status_code == 202, response.content


def test_staff_lists_are_paginated_and_the_schema_answers(world):
    staff = APIClient()
    staff.force_authenticate(get_user_model().objects.create_user("lists", is_staff=True, is_superuser=True))

    listing = staff.get("/api/pricing/history/")
    schema = staff.get("/api/schema/")

    assert listing.status_code == 200 and {"count", "next", "previous", "results"} <= set(listing.json())
    assert schema.status_code == 200
    assert b"/api/personalization/events/" in schema.content
