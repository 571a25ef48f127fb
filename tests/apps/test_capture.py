"""Behaviour capture: validation, the Redis buffer and its crash-safe flush, signals and login merge.

Tests that need Redis take the ``redis_client`` fixture (skipped without REDIS_URL); the others run
in whichever mode the environment gives and flush the buffer before looking at the database.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal
from io import StringIO

import pytest
import redis
from django.contrib.auth import login
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone

from personalization import signals, tasks
from personalization.capture import buffer
from personalization.capture import services as capture
from personalization.capture.visitor import SESSION_KEY
from personalization.models import Event, EventSource, EventType
from personalization.ops import redis_conn
from tests.testhost.models import Department, Item, Purchase, PurchaseLine

pytestmark = pytest.mark.django_db

VISITOR = "a" * 32


# --- helpers ----------------------------------------------------------------------------------
@pytest.fixture
def item() -> Item:
    department = Department.objects.create(title="Candles")
    return Item.objects.create(code="T-1", title="Lantern", department=department, price=Decimal("3.75"))


@pytest.fixture
def other_item(item: Item) -> Item:
    return Item.objects.create(code="T-2", title="Bag", department=item.department, price=Decimal("1.25"))


@pytest.fixture
def no_redis(settings):
    """Events go straight to the database (no buffer)."""
    settings.REDIS_URL = ""


@pytest.fixture
def small_batches(settings):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "EVENT_FLUSH_BATCH_SIZE": 4}


def make_request(user=None, visitor: str | None = VISITOR):
    request = RequestFactory().get("/product/1/")
    request.session = SessionStore()
    if visitor:
        request.session[SESSION_KEY] = visitor
    request.user = user or AnonymousUser()
    return request


def stored() -> list[Event]:
    """Every stored event (after flushing the buffer, if there is one), oldest first."""
    capture.flush_buffer()
    return list(Event.objects.order_by("timestamp", "id"))


def buffer_events(n: int, product_id: int, prefix: str = "e") -> list[str]:
    """Push ``n`` view events straight into the Redis buffer; returns their client ids."""
    events = [
        capture.build_event(
            event_type="view", session_key=VISITOR, product_id=product_id, client_event_id=f"{prefix}{i}"
        )
        for i in range(n)
    ]
    assert buffer.push([event.to_json() for event in events])
    return [event.client_event_id for event in events]


def stored_ids() -> list[str]:
    return sorted(Event.objects.values_list("client_event_id", flat=True))


# --- validation -------------------------------------------------------------------------------
GOOD = {"event_type": "view", "session_key": VISITOR, "product_id": 1}


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"event_type": "like"}, "event_type"),
        ({"event_type": None}, "event_type"),
        ({"event_type": ["view"]}, "event_type"),
        ({"session_key": ""}, "session_key"),
        ({"session_key": "s" * 65}, "session_key"),
        ({"session_key": 12}, "session_key"),
        ({"user_id": 0}, "user"),
        ({"user_id": -4}, "user"),
        ({"user_id": True}, "user"),
        ({"product_id": None}, "product"),
        ({"product_id": 0}, "product"),
        ({"product_id": 2.5}, "product"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 1_000_001}, "quantity"),
        ({"quantity": "2"}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"price": -1}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": "NaN"}, "price"),
        ({"price": float("inf")}, "price"),
        ({"price": Decimal("1e10")}, "price"),
        ({"price": True}, "price"),
        ({"price": [1]}, "price"),
        ({"event_type": "search", "product_id": None, "query": "   "}, "query"),
        ({"query": "q" * 256}, "query"),
        ({"query": 5}, "query"),
        ({"recommendation_id": "r" * 65}, "recommendation_id"),
        ({"source": "fax"}, "source"),
        ({"client_event_id": ""}, "client_event_id"),
        ({"client_event_id": "c" * 101}, "client_event_id"),
        ({"client_event_id": 7}, "client_event_id"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": "2024-13-45T10:00:00Z"}, "timestamp"),
        ({"timestamp": 1700000000}, "timestamp"),
        ({"timestamp": dt.date(2024, 1, 1)}, "timestamp"),
        ({"timestamp": timezone.now() + dt.timedelta(hours=1)}, "timestamp"),
    ],
)
def test_build_event_names_the_bad_field(changes, field):
    with pytest.raises(capture.InvalidEvent) as caught:
        capture.build_event(**{**GOOD, **changes})

    assert list(caught.value.errors) == [field]
    assert field in str(caught.value)


def test_build_event_reports_every_bad_field_at_once():
    with pytest.raises(capture.InvalidEvent) as caught:
        capture.build_event(event_type="view", session_key="", quantity=0, price=-2)

    assert sorted(caught.value.errors) == ["price", "product", "quantity", "session_key"]


def test_build_event_normalises_its_fields():
    naive = dt.datetime(2024, 5, 1, 12, 30)

    event = capture.build_event(
        event_type="search", user_id=7, query="  red lantern ", price="3.5", timestamp=naive, source=EventSource.API
    )

    assert (event.query, event.price, event.user_id, event.session_key, event.source) == (
        "red lantern",
        Decimal("3.50"),
        7,
        "",
        "api",
    )
    assert event.timestamp == timezone.make_aware(naive)
    assert len(event.client_event_id) == 32


def test_event_survives_the_json_round_trip():
    event = capture.build_event(
        event_type="cart",
        user_id=3,
        session_key=VISITOR,
        product_id=9,
        quantity=2,
        price=Decimal("1.10"),
        recommendation_id="rec-1",
        client_event_id="c-1",
        timestamp="2024-05-01T12:30:00+02:00",
    )

    assert capture.EventData.from_json(event.to_json()) == event


def test_record_event_refuses_an_unknown_product(item):
    with pytest.raises(capture.InvalidEvent) as caught:
        capture.record_event(event_type="view", session_key=VISITOR, product_id=item.pk + 100)

    assert caught.value.errors == {"product": f"no product with id {item.pk + 100}."}
    assert buffer.length() == 0
    assert Event.objects.count() == 0


# --- direct insert and the buffer ---------------------------------------------------------------
def test_without_redis_events_are_inserted_at_once(no_redis, item):
    capture.record_event(event_type="view", session_key=VISITOR, product_id=item.pk, client_event_id="v1")

    assert list(Event.objects.values_list("client_event_id", "event_type", "product_id")) == [("v1", "view", item.pk)]


def test_buffered_event_waits_in_redis_until_the_flush(redis_client, item, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        capture.record_event(
            event_type="cart", session_key=VISITOR, product_id=item.pk, quantity=2, price="3.75", client_event_id="c1"
        )

    assert (buffer.length(), Event.objects.count()) == (1, 0)
    assert capture.flush_buffer() == 1
    event = Event.objects.get()
    assert (
        event.client_event_id,
        event.event_type,
        event.product_id,
        event.quantity,
        event.price,
        event.session_key,
    ) == (
        "c1",
        "cart",
        item.pk,
        2,
        Decimal("3.75"),
        VISITOR,
    )
    assert (capture.flush_buffer(), buffer.length(), Event.objects.count()) == (0, 0, 1)


def test_when_redis_is_down_events_are_inserted_directly(settings, item, django_capture_on_commit_callbacks, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:6390/0"  # nothing listens there

    with caplog.at_level(logging.WARNING, logger="personalization.capture.buffer"):
        with django_capture_on_commit_callbacks(execute=True):
            for i in range(3):
                capture.record_event(
                    event_type="view", session_key=VISITOR, product_id=item.pk, client_event_id=f"d{i}"
                )

    assert stored_ids() == ["d0", "d1", "d2"]
    assert "Redis unavailable" in caplog.text


@pytest.mark.parametrize("redis_on", [False, True], ids=["direct", "buffered"])
def test_nothing_is_captured_inside_a_rolled_back_transaction(
    redis_on, settings, item, django_capture_on_commit_callbacks
):
    if redis_on and not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    if not redis_on:
        settings.REDIS_URL = ""

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            capture.record_event(event_type="view", session_key=VISITOR, product_id=item.pk)
            raise RuntimeError("order failed")

    assert (callbacks, buffer.length()) == ([], 0)
    assert stored() == []


@pytest.mark.parametrize("copy_from", [1, 10**9], ids=["copy-on-postgresql", "bulk-create"])
def test_insert_events_stores_each_client_id_once(copy_from, monkeypatch, item, other_item):
    monkeypatch.setattr(capture, "COPY_MIN_EVENTS", copy_from)
    first = [
        capture.build_event(
            event_type="view", user_id=None, session_key=VISITOR, product_id=item.pk, client_event_id=f"i{i}"
        )
        for i in range(250)
    ]
    again = first[100:] + [
        capture.build_event(
            event_type="cart",
            session_key=VISITOR,
            product_id=other_item.pk,
            quantity=2,
            price="1.25",
            client_event_id=f"j{i}",
        )
        for i in range(50)
    ]

    assert capture.insert_events(first) == 250
    assert capture.insert_events(again) == 200

    assert Event.objects.count() == 300
    assert stored_ids() == sorted([e.client_event_id for e in first] + [f"j{i}" for i in range(50)])
    sample = Event.objects.get(client_event_id="j7")
    assert (
        sample.event_type,
        sample.product_id,
        sample.quantity,
        sample.price,
        sample.session_key,
        sample.timestamp,
    ) == (
        "cart",
        other_item.pk,
        2,
        Decimal("1.25"),
        VISITOR,
        again[157].timestamp,
    )


def test_a_full_buffer_enqueues_one_flush_per_interval(redis_client, settings, item, monkeypatch):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "EVENT_FLUSH_THRESHOLD": 3}
    enqueued: list[int] = []
    monkeypatch.setattr(tasks.flush_events, "delay", lambda: enqueued.append(buffer.length()))

    buffer_events(2, item.pk, prefix="a")
    buffer_events(2, item.pk, prefix="b")
    buffer_events(1, item.pk, prefix="c")
    redis_client.delete(buffer.buffer_key() + buffer.ENQUEUED_KEY_SUFFIX)  # the interval is over
    buffer_events(1, item.pk, prefix="d")

    assert enqueued == [4, 6]


def test_a_large_push_goes_in_chunks_and_keeps_the_order(redis_client, item, monkeypatch):
    monkeypatch.setattr(buffer, "PUSH_CHUNK", 2)

    pushed = buffer_events(5, item.pk)

    assert [
        capture.EventData.from_json(raw).client_event_id for raw in redis_client.lrange(buffer.buffer_key(), 0, -1)
    ] == pushed


@pytest.fixture
def redis_recovers():
    """Redis is marked down for a few seconds after a failure; afterwards it is back at once."""
    yield
    redis_conn.reset()


def test_when_redis_fails_part_way_the_rest_is_inserted_directly(
    redis_client, item, monkeypatch, django_capture_on_commit_callbacks, redis_recovers
):
    monkeypatch.setattr(buffer, "PUSH_CHUNK", 2)
    real_eval = redis_client.eval
    calls: list[int] = []

    def eval_failing_on_the_second_chunk(*args):
        calls.append(1)
        if len(calls) == 2:
            raise redis.ConnectionError("connection reset")
        return real_eval(*args)

    monkeypatch.setattr(redis_client, "eval", eval_failing_on_the_second_chunk)
    events = [
        capture.build_event(event_type="view", session_key=VISITOR, product_id=item.pk, client_event_id=f"p{i}")
        for i in range(5)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        capture.record_events(events)
    monkeypatch.undo()

    assert (buffer.length(), Event.objects.count()) == (2, 3)
    assert capture.flush_buffer() == 2
    assert stored_ids() == ["p0", "p1", "p2", "p3", "p4"]


# --- the crash-safe flush -----------------------------------------------------------------------
def test_a_flush_that_dies_between_insert_and_trim_is_repaired_by_the_next(
    redis_client, item, small_batches, monkeypatch
):
    pushed = buffer_events(10, item.pk)
    real_store = capture._store_raw
    batches: list[int] = []

    def store_then_crash(raw):
        stored_count = real_store(raw)
        batches.append(stored_count)
        if len(batches) == 2:
            raise RuntimeError("worker killed after the insert, before the trim")
        return stored_count

    monkeypatch.setattr(capture, "_store_raw", store_then_crash)
    with pytest.raises(RuntimeError):
        capture.flush_buffer()
    assert (batches, Event.objects.count(), buffer.length()) == ([4, 4], 8, 6)

    monkeypatch.undo()
    assert capture.flush_buffer() == 6
    assert stored_ids() == sorted(pushed)
    assert buffer.length() == 0


def test_a_second_flusher_gets_nothing_while_the_lock_is_held(redis_client, item, small_batches, monkeypatch):
    buffer_events(6, item.pk)
    real_store = capture._store_raw
    concurrent: list[int] = []

    def store_while_another_flushes(raw):
        concurrent.append(capture.flush_buffer())
        return real_store(raw)

    monkeypatch.setattr(capture, "_store_raw", store_while_another_flushes)
    flushed = capture.flush_buffer()

    assert (flushed, concurrent) == (6, [0, 0])
    assert Event.objects.count() == 6
    assert not redis_client.exists(buffer.lock_key())


def test_a_flush_blocked_by_a_foreign_lock_leaves_the_buffer_alone(redis_client, item):
    buffer_events(3, item.pk)
    redis_client.set(buffer.lock_key(), "someone-else", px=60_000)

    assert capture.flush_buffer() == 0
    assert (buffer.length(), Event.objects.count(), redis_client.get(buffer.lock_key())) == (3, 0, b"someone-else")


def test_a_flusher_that_lost_its_lock_stores_but_does_not_trim(redis_client, item, small_batches, monkeypatch):
    pushed = buffer_events(6, item.pk)
    real_store = capture._store_raw

    def store_then_lose_lock(raw):
        count = real_store(raw)
        redis_client.set(buffer.lock_key(), "next-flusher")  # our lock expired and another took it
        return count

    monkeypatch.setattr(capture, "_store_raw", store_then_lose_lock)
    assert capture.flush_buffer() == 0
    assert (buffer.length(), redis_client.get(buffer.lock_key())) == (6, b"next-flusher")

    monkeypatch.undo()
    redis_client.delete(buffer.lock_key())
    assert capture.flush_buffer() == 6
    assert stored_ids() == sorted(pushed)


def test_the_flush_leaves_out_events_of_a_deleted_product(redis_client, item, other_item, caplog):
    kept = buffer_events(2, item.pk, prefix="keep")
    buffer_events(3, other_item.pk, prefix="gone")
    other_item.delete()

    with caplog.at_level(logging.WARNING, logger="personalization.capture.services"):
        flushed = capture.flush_buffer()

    assert (flushed, buffer.length()) == (5, 0)
    assert stored_ids() == sorted(kept)
    assert "Left out 3 events" in caplog.text


def test_the_flush_sets_malformed_items_aside(redis_client, item, caplog):
    good = buffer_events(2, item.pk)
    redis_client.rpush(buffer.buffer_key(), b"not json", b'{"event_type": "view"}')

    with caplog.at_level(logging.ERROR, logger="personalization.capture.services"):
        flushed = capture.flush_buffer()

    assert (flushed, buffer.length()) == (4, 0)
    assert stored_ids() == sorted(good)
    set_aside = [json.loads(raw) for raw in redis_client.lrange(buffer.dead_letter_key(), 0, -1)]
    assert [entry["item"] for entry in set_aside] == ["not json", '{"event_type": "view"}']
    assert {entry["reason"] for entry in set_aside} == {"malformed: not a buffered event"}
    assert "Set aside 2 malformed" in caplog.text
    redis_client.delete(buffer.dead_letter_key())


def test_flush_events_command_reports_the_count(redis_client, item):
    buffer_events(3, item.pk)
    out = StringIO()

    call_command("flush_events", stdout=out)

    assert out.getvalue().strip() == "Flushed 3 events; 0 left in the buffer."
    assert Event.objects.count() == 3


def test_flush_events_command_without_redis(no_redis):
    out = StringIO()

    call_command("flush_events", stdout=out)

    assert "nothing to flush" in out.getvalue()


# --- signals through the receivers ---------------------------------------------------------------
def test_product_viewed_records_a_view_of_the_visitor(item, django_capture_on_commit_callbacks):
    request = make_request(visitor=None)

    with django_capture_on_commit_callbacks(execute=True):
        signals.product_viewed.send(sender=Item, request=request, product=item, recommendation_id="rec-9")

    event, click = stored()
    assert (click.event_type, click.product_id, click.recommendation_id) == ("click", item.pk, "rec-9")
    assert (event.event_type, event.product_id, event.price, event.user_id, event.recommendation_id, event.source) == (
        "view",
        item.pk,
        Decimal("3.75"),
        None,
        "rec-9",
        "web",
    )
    assert event.session_key == request.session[SESSION_KEY] != ""


def test_product_added_to_cart_records_the_customer_and_quantity(
    item, django_user_model, django_capture_on_commit_callbacks
):
    ann = django_user_model.objects.create_user("ann")

    with django_capture_on_commit_callbacks(execute=True):
        signals.product_added_to_cart.send(sender=Item, request=make_request(user=ann), product=item, quantity="3")

    [event] = stored()
    assert (event.event_type, event.user_id, event.session_key, event.product_id, event.quantity, event.price) == (
        "cart",
        ann.pk,
        VISITOR,
        item.pk,
        3,
        Decimal("3.75"),
    )


def test_search_performed_records_the_query(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signals.search_performed.send(sender=None, request=make_request(), query="  red lantern  ")

    [event] = stored()
    assert (event.event_type, event.query, event.product_id, event.session_key) == (
        "search",
        "red lantern",
        None,
        VISITOR,
    )


def test_a_bad_signal_is_logged_and_never_breaks_the_page(item, django_capture_on_commit_callbacks, caplog):
    with caplog.at_level(logging.WARNING, logger="personalization.capture.receivers"):
        with django_capture_on_commit_callbacks(execute=True):
            signals.product_added_to_cart.send(sender=Item, request=make_request(), product=item, quantity=0)
            signals.search_performed.send(sender=None, request=make_request(), query="   ")

    assert stored() == []
    assert caplog.text.count("Event not recorded") == 2


@pytest.fixture
def purchase(item, other_item, django_user_model):
    buyer = django_user_model.objects.create_user("bob")
    order = Purchase.objects.create(buyer=buyer, created=timezone.now() - dt.timedelta(minutes=5))
    lines = [
        PurchaseLine.objects.create(purchase=order, item=item, qty=2, unit_price=Decimal("3.50")),
        PurchaseLine.objects.create(purchase=order, item=other_item, qty=1, unit_price=Decimal("1.25")),
    ]
    return order, lines


def _purchases() -> list[tuple]:
    return [
        (e.client_event_id, e.event_type, e.user_id, e.product_id, e.quantity, e.price, e.timestamp, e.source)
        for e in stored()
        if e.event_type == EventType.PURCHASE
    ]


def _expected(order, lines) -> list[tuple]:
    return sorted(
        (
            f"orderline:{line.pk}",
            "purchase",
            order.buyer_id,
            line.item_id,
            line.qty,
            line.unit_price,
            order.created,
            "order",
        )
        for line in lines
    )


def test_order_placed_records_one_purchase_per_line(purchase, django_capture_on_commit_callbacks):
    order, lines = purchase

    with django_capture_on_commit_callbacks(execute=True):
        signals.order_placed.send(sender=Purchase, request=make_request(user=order.buyer), order=order)

    assert sorted(_purchases()) == _expected(order, lines)


def test_saving_order_lines_records_nothing_by_default(item, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = Purchase.objects.create()
        PurchaseLine.objects.create(purchase=order, item=item, qty=1, unit_price=Decimal("3.75"))

    assert stored() == []


def test_saving_order_lines_records_purchases_when_opted_in(settings, item, django_capture_on_commit_callbacks):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "CAPTURE_ORDER_LINES": True}

    with django_capture_on_commit_callbacks(execute=True):
        order = Purchase.objects.create()
        line = PurchaseLine.objects.create(purchase=order, item=item, qty=4, unit_price=Decimal("3.00"))

    [event] = stored()
    assert (event.client_event_id, event.event_type, event.user_id, event.session_key, event.quantity, event.price) == (
        f"orderline:{line.pk}",
        "purchase",
        None,
        f"order-{order.pk}",
        4,
        Decimal("3.00"),
    )


def test_order_placed_and_order_line_capture_store_each_purchase_once(
    settings, item, other_item, django_user_model, django_capture_on_commit_callbacks
):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "CAPTURE_ORDER_LINES": True}
    buyer = django_user_model.objects.create_user("cy")

    with django_capture_on_commit_callbacks(execute=True):
        order = Purchase.objects.create(buyer=buyer)
        lines = [
            PurchaseLine.objects.create(purchase=order, item=item, qty=2, unit_price=Decimal("3.50")),
            PurchaseLine.objects.create(purchase=order, item=other_item, qty=1, unit_price=Decimal("1.25")),
        ]
    with django_capture_on_commit_callbacks(execute=True):
        signals.order_placed.send(sender=Purchase, request=make_request(user=buyer), order=order)

    assert sorted(_purchases()) == _expected(order, lines)


# --- guest events merge at login ------------------------------------------------------------------
def test_guest_events_are_merged_into_the_user_at_login(
    item, django_user_model, django_capture_on_commit_callbacks, caplog
):
    ann = django_user_model.objects.create_user("ann")
    with django_capture_on_commit_callbacks(execute=True):
        capture.record_event(event_type="view", session_key=VISITOR, product_id=item.pk, client_event_id="guest-1")
        capture.record_event(event_type="cart", session_key=VISITOR, product_id=item.pk, client_event_id="guest-2")
        capture.record_event(event_type="view", session_key="b" * 32, product_id=item.pk, client_event_id="stranger")
    request = make_request()

    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True) as callbacks:
        login(request, ann, backend="django.contrib.auth.backends.ModelBackend")

    assert len(callbacks) == 1
    assert "Could not enqueue" not in caplog.text  # the merge went through Celery, not the fallback
    assert request.session[SESSION_KEY] not in ("", VISITOR)  # a new visitor id after the login
    assert sorted(Event.objects.values_list("client_event_id", "user_id", "session_key")) == [
        ("guest-1", ann.pk, VISITOR),
        ("guest-2", ann.pk, VISITOR),
        ("stranger", None, "b" * 32),
    ]


def test_login_without_a_visitor_id_enqueues_nothing(django_user_model, django_capture_on_commit_callbacks):
    ann = django_user_model.objects.create_user("ann")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        login(make_request(visitor=None), ann, backend="django.contrib.auth.backends.ModelBackend")

    assert callbacks == []


# --- several flushers: a sharded buffer ---------------------------------------------------------
@pytest.fixture
def four_shards(settings):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "EVENT_BUFFER_SHARDS": 4, "EVENT_FLUSH_BATCH_SIZE": 4}


def test_pushes_spread_over_the_shards_and_one_flush_drains_them_all(redis_client, item, four_shards):
    pushed = [cid for n in range(40) for cid in buffer_events(3, item.pk, prefix=f"s{n}-")]

    lengths = [redis_client.llen(key) for key in buffer.shard_keys()]
    assert buffer.shard_keys()[0] == buffer.buffer_key() and len(set(buffer.shard_keys())) == 4
    assert sum(lengths) == buffer.length() == 120 and sum(1 for n in lengths if n) >= 3
    assert capture.flush_buffer() == 120
    assert stored_ids() == sorted(pushed) and buffer.length() == 0 and not buffer.is_flushing()


def test_a_second_flusher_takes_the_shards_the_first_does_not_hold(redis_client, item, four_shards, monkeypatch):
    pushed = [cid for n in range(40) for cid in buffer_events(3, item.pk, prefix=f"t{n}-")]
    real_store = capture._store_raw
    concurrent: list[int] = []
    started: list[bool] = []

    def store_while_another_flushes(raw):
        if not started:  # the second flusher runs once, while the first holds one shard's lock
            started.append(True)
            concurrent.append(capture.flush_buffer())
        return real_store(raw)

    monkeypatch.setattr(capture, "_store_raw", store_while_another_flushes)
    first = capture.flush_buffer()

    assert 0 < concurrent[0] < 120 and first + concurrent[0] == 120  # every event left the buffer once
    assert stored_ids() == sorted(pushed) and Event.objects.count() == 120 and buffer.length() == 0


def test_a_dead_flushers_shard_waits_for_its_lock_and_is_drained_by_another(redis_client, item, four_shards):
    pushed = [cid for n in range(40) for cid in buffer_events(3, item.pk, prefix=f"u{n}-")]
    held = buffer.shard_keys()[2]
    waiting = redis_client.llen(held)
    redis_client.set(buffer.lock_key(held), "a-dead-flusher", px=60_000)

    assert capture.flush_buffer() == 120 - waiting and buffer.length() == waiting and buffer.is_flushing()
    redis_client.delete(buffer.lock_key(held))  # the dead flusher's lock expired
    assert capture.flush_buffer() == waiting
    assert stored_ids() == sorted(pushed)


def test_a_full_shard_enqueues_one_flush_per_shard(redis_client, settings, item, monkeypatch):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "EVENT_BUFFER_SHARDS": 2, "EVENT_FLUSH_THRESHOLD": 2}
    enqueued: list[int] = []
    monkeypatch.setattr(tasks.flush_events, "delay", lambda: enqueued.append(1))

    buffer_events(1, item.pk, prefix="a")
    buffer_events(1, item.pk, prefix="b")  # a shard reaches 1 = 2 / 2 shards

    assert enqueued == [1, 1]
