"""The admin's Events list stays quick on a large table: whole-value searches through the indexes, no
COUNT(*) over every row (figures on a million events: bench/admin_events.py, bench/RESULTS.md)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from personalization.capture.admin_paging import EXACT_UP_TO
from personalization.models import Event

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _event(n: int, **fields) -> Event:
    return Event(event_type="view", session_key=f"visitor-{n % 50}", client_event_id=f"ev-{n}",
                 timestamp=NOW - dt.timedelta(seconds=n), **fields)


@pytest.fixture
def events(django_user_model):
    ann = django_user_model.objects.create_user("ann")
    Event.objects.bulk_create([
        _event(1, user=ann), _event(2, query="Metal Lantern"), _event(3, recommendation_id="rec-77"),
        *[_event(n) for n in range(4, 40)],
    ])
    return ann


@pytest.mark.parametrize(
    ("term", "client_ids"),
    [
        ("ann", ["ev-1"]),
        ("ANN", ["ev-1"]),
        ("metal lantern", ["ev-2"]),
        ("rec-77", ["ev-3"]),
        ("ev-5", ["ev-5"]),
        ("visitor-7", ["ev-7"]),
        ("lantern", []),  # whole values only: a part of one is no match
        ("nobody", []),
    ],
)
def test_the_event_list_searches_whole_values(admin_client, events, term, client_ids):
    response = admin_client.get("/admin/personalization/event/", {"q": term})

    assert response.status_code == 200
    assert [e.client_event_id for e in response.context["cl"].result_list] == client_ids


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the estimate is PostgreSQL's planner's")
def test_a_long_event_list_is_not_counted_row_by_row(admin_client):
    Event.objects.bulk_create([_event(n) for n in range(EXACT_UP_TO + 500)])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Event._meta.db_table}")

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/personalization/event/")

    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]
    assert counts and all("LIMIT 10001" in sql for sql in counts)
    assert response.context["cl"].result_count > EXACT_UP_TO
    assert len(response.context["cl"].result_list) == 100


def test_a_short_event_list_is_counted_exactly(admin_client, events):
    response = admin_client.get("/admin/personalization/event/", {"event_type__exact": "view"})

    assert response.context["cl"].result_count == 39
