"""The events table by month on PostgreSQL (partitions, exactly once without a UNIQUE client id) and retention
(``manage.py prune_events``) on both databases."""
from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from personalization.capture import partitions
from personalization.capture import services as capture
from personalization.models import Event, EventId
from tests.testhost.models import Department, Item

pytestmark = pytest.mark.django_db
VISITOR = "partition-visitor"
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")


@pytest.fixture
def item() -> Item:
    return Item.objects.create(code="P-1", title="Lantern", department=Department.objects.create(title="Candles"),
                               price="3.75")


def event(item, cid: str, when: dt.datetime, event_type: str = "view"):
    return capture.build_event(event_type=event_type, session_key=VISITOR, product_id=item.pk, client_event_id=cid,
                               timestamp=when, now=max(when, dt.datetime.now(dt.UTC)))


def partition_of(cid: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM personalization_event WHERE client_event_id = %s", [cid])
        return cursor.fetchone()[0]


@postgresql_only
def test_the_table_is_partitioned_by_month_with_the_coming_months_ready(db):
    assert partitions.is_partitioned()
    with connection.cursor() as cursor:
        names = [name for name, _ in partitions.month_partitions(cursor)]
    month = dt.datetime.now(dt.UTC).date().replace(day=1)
    for _ in range(partitions.MONTHS_AHEAD + 1):
        assert partitions.partition_name(month) in names
        month = partitions.next_month(month)


@postgresql_only
@pytest.mark.parametrize("copy_from", [1, 10**9], ids=["copy", "few-events"])
def test_each_client_id_is_stored_once_without_a_unique_index(copy_from, monkeypatch, item):
    monkeypatch.setattr(capture, "COPY_MIN_EVENTS", copy_from)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    first = [event(item, f"x{i}", now - dt.timedelta(minutes=i)) for i in range(5)]
    # the same ids again (another timestamp, so another partition could take them), and a duplicate in one batch
    again = [event(item, "x1", now - dt.timedelta(days=70)), event(item, "y", now, "cart"), event(item, "y", now)]

    capture.insert_events(first)
    capture.insert_events(again)

    assert sorted(Event.objects.values_list("client_event_id", flat=True)) == ["x0", "x1", "x2", "x3", "x4", "y"]
    assert Event.objects.get(client_event_id="y").event_type == "cart"  # the first of the batch wins
    assert EventId.objects.count() == 6
    assert partition_of("x0") == partitions.partition_name(now.date().replace(day=1))
    Event.objects.filter(client_event_id="x2").delete()  # a deleted event frees its id
    assert not EventId.objects.filter(client_event_id="x2").exists()
    capture.insert_events([event(item, "x2", now)])
    assert Event.objects.filter(client_event_id="x2").count() == 1


@postgresql_only
def test_months_ahead_are_created_but_never_carved_out_of_the_default_partition(item):
    capture.insert_events([event(item, "old", dt.datetime(2031, 2, 10, tzinfo=dt.UTC))])  # lands in DEFAULT
    assert partition_of("old") == partitions.DEFAULT_PARTITION

    created = partitions.ensure_ahead(dt.date(2031, 1, 15), force=True)

    assert created == ["personalization_event_p2031_01", "personalization_event_p2031_03"]  # not February
    capture.insert_events([event(item, "march", dt.datetime(2031, 3, 1, tzinfo=dt.UTC))])
    assert partition_of("march") == "personalization_event_p2031_03"
    assert partitions.ensure_ahead(dt.date(2031, 1, 15), force=True) == []


def test_prune_events_removes_what_is_older_than_the_month(item):
    if connection.vendor == "postgresql":
        partitions.ensure_ahead(dt.date(2024, 1, 1), force=True)  # 2024-01 … 2024-03
    dates = {"a": dt.datetime(2023, 6, 5, tzinfo=dt.UTC), "b": dt.datetime(2024, 1, 31, 23, 59, tzinfo=dt.UTC),
             "c": dt.datetime(2024, 2, 10, tzinfo=dt.UTC), "d": dt.datetime(2024, 3, 1, tzinfo=dt.UTC)}
    capture.insert_events([event(item, cid, when) for cid, when in dates.items()])
    out = StringIO()

    call_command("prune_events", "--before", "2024-03", "--dry-run", stdout=out)
    assert Event.objects.count() == 4
    call_command("prune_events", "--before", "2024-03", stdout=out)

    assert list(Event.objects.values_list("client_event_id", flat=True)) == ["d"]
    if connection.vendor == "postgresql":
        assert "Dropped 2 monthly partitions: personalization_event_p2024_01, personalization_event_p2024_02." in (
            out.getvalue())
        assert "Deleted 1 events one by one and forget 3 client ids" in out.getvalue()  # "a", from DEFAULT
        assert list(EventId.objects.values_list("client_event_id", flat=True)) == ["d"]
    else:
        assert "Deleted 3 events one by one" in out.getvalue()
    capture.insert_events([event(item, "b", dates["b"])])  # a forgotten id is new again
    assert Event.objects.count() == 2


@pytest.mark.parametrize("value", ["2024-13", "2024-1", "last year", "2024-03-01"])
def test_prune_events_refuses_a_bad_month(value, db):
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("prune_events", "--before", value)


def test_prune_events_refuses_a_month_after_this_one(db):
    with pytest.raises(CommandError, match="after the current month"):
        call_command("prune_events", "--before", f"{dt.datetime.now(dt.UTC).year + 1}-01")
