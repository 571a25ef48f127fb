"""No byte a client sends can stop the shop learning (issue: one NUL halted capture for the whole shop).

Text no supported database stores is refused at the edge (400 naming the field in the events API, a log
line from signals); a row that still reaches the flush and is refused by the database is set aside with
its reason while the rest of its batch is stored, and the dead-letter count shows in /api/health/ and the
admin. Deep JSON is a 400.
"""
from __future__ import annotations

import json
import logging
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory, TestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from personalization import signals
from personalization.capture import api_keys, buffer
from personalization.capture import services as capture
from personalization.capture.visitor import SESSION_KEY
from personalization.host.text import CONTROL_MESSAGE
from personalization.models import Event
from tests.testhost.models import Department, Item

NUL = "bad\x00text"
SURROGATE_JSON = '"bad\\ud800text"'  # a lone surrogate, as JSON can carry it


@pytest.fixture
def item(db) -> Item:
    department = Department.objects.create(title="Candles")
    return Item.objects.create(code="P-1", title="Lantern", department=department, price=Decimal("3.75"))


@pytest.fixture
def server(db) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_keys.create_api_key('poison test')[1]}")
    return client


def good_event(item: Item, i: int) -> dict:
    return {"type": "view", "product": item.pk, "session_key": "visitor-1", "client_event_id": f"good-{i}"}


# --- the edge -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "event"),
    [
        ("session_key", {"type": "view", "session_key": NUL}),
        ("query", {"type": "search", "session_key": "s", "query": NUL}),
        ("recommendation_id", {"type": "click", "session_key": "s", "recommendation_id": NUL}),
        ("client_event_id", {"type": "view", "session_key": "s", "client_event_id": NUL}),
        ("query", {"type": "search", "session_key": "s", "query": "line\x1fbreak"}),
    ],
)
def test_the_events_api_refuses_text_no_database_stores_and_names_the_field(server, item, field, event):
    event.setdefault("product", item.pk)

    response = server.post("/api/personalization/events/", {"events": [event]}, format="json")

    assert response.status_code == 400
    assert [(error["index"], error["field"]) for error in response.json()["errors"]] == [(0, field)]
    assert "control characters" in response.json()["errors"][0]["message"]
    assert Event.objects.count() == 0 and buffer.length() == 0


def test_a_lone_surrogate_in_the_json_body_is_a_400(server, item):
    body = '{"events": [{"type": "search", "session_key": "s", "query": ' + SURROGATE_JSON + "}]}"

    response = server.post("/api/personalization/events/", body, content_type="application/json")

    assert response.status_code == 400
    assert "invalid Unicode" in response.json()["detail"]


@pytest.mark.parametrize("depth", [40, 950, 5_000])
def test_deeply_nested_json_is_a_400(server, depth):
    body = '{"events": ' + "[" * depth + "]" * depth + "}"

    response = server.post("/api/personalization/events/", body, content_type="application/json")

    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]


def test_a_product_view_with_a_poisoned_rec_id_is_dropped_with_a_log_line(item, caplog, redis_client):
    request = RequestFactory().get(f"/product/{item.pk}/", {"rec": "\x00"})
    request.session, request.user = SessionStore(), AnonymousUser()
    request.session[SESSION_KEY] = "visitor-1"

    with caplog.at_level(logging.WARNING, logger="personalization.capture.receivers"):
        signals.product_viewed.send(sender=Item, request=request, product=item, recommendation_id="\x00")

    assert buffer.length() == 0
    assert capture.flush_buffer() == 0 and Event.objects.count() == 0
    assert "recommendation_id: must not contain control characters" in caplog.text


# --- the flush ----------------------------------------------------------------------------------------
def _poisoned(item: Item, client_id: str, **fields: str) -> bytes:
    """A buffered event that passed no edge (an older version, a bug): it holds what no database stores."""
    event = capture.build_event(event_type="view", session_key="visitor-1", product_id=item.pk,
                                client_event_id=client_id)
    data = json.loads(event.to_json())
    data.update(fields)
    return json.dumps(data).encode()


@pytest.mark.parametrize("size", [7, 450])  # a small batch (INSERT) and one that PostgreSQL gets through COPY
def test_the_flush_sets_aside_buffered_events_that_fail_the_edge_checks(item, redis_client, caplog, size):
    good = [capture.build_event(event_type="view", session_key="visitor-1", product_id=item.pk,
                                client_event_id=f"good-{i}").to_json().encode() for i in range(size)]
    bad = [_poisoned(item, "bad-surrogate", session_key="bad\ud800"),
           _poisoned(item, "bad-nul", recommendation_id="bad\x00rec"),
           _poisoned(item, "bad-nobody", session_key="")]  # SQLite's INSERT OR IGNORE would skip it silently
    redis_client.rpush(buffer.buffer_key(), *(good[: size // 2] + bad[:2] + good[size // 2:] + bad[2:]))

    with caplog.at_level(logging.ERROR, logger="personalization.capture.services"):
        flushed = capture.flush_buffer()

    assert flushed == size + 3 and buffer.length() == 0  # the head moved past the bad rows
    assert set(Event.objects.values_list("client_event_id", flat=True)) == {f"good-{i}" for i in range(size)}
    set_aside = {json.loads(entry["item"])["client_event_id"]: entry["reason"]
                 for entry in map(json.loads, redis_client.lrange(buffer.dead_letter_key(), 0, -1))}
    assert sorted(set_aside) == ["bad-nobody", "bad-nul", "bad-surrogate"]
    assert set_aside["bad-nul"] == "invalid: recommendation_id: " + CONTROL_MESSAGE
    assert set_aside["bad-nobody"] == "invalid: session_key: an event needs a signed-in user or a session key."
    assert buffer.dead_letter_count() == 3
    assert "Set aside 1 invalid buffered events" in caplog.text


@pytest.fixture
def database_refusing_poison(db):
    """A real refusal by the database: a trigger that rejects events whose query is 'poison'."""
    from django.db import connection

    table = Event._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                           "IF NEW.query = 'poison' THEN RAISE EXCEPTION 'poison refused' USING ERRCODE = '23514'; "
                           "END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
            cursor.execute(f"CREATE TRIGGER refuse_poison BEFORE INSERT ON {table} "
                           "FOR EACH ROW EXECUTE FUNCTION refuse_poison()")
        else:
            cursor.execute(f"CREATE TRIGGER refuse_poison BEFORE INSERT ON {table} WHEN NEW.query = 'poison' "
                           "BEGIN SELECT RAISE(ABORT, 'poison refused'); END")
    yield  # the test's transaction rolls the trigger back


@pytest.mark.parametrize("size", [7, 450])
def test_the_flush_sets_aside_rows_the_database_refuses_and_stores_the_rest(
        item, redis_client, database_refusing_poison, size):
    events = [capture.build_event(event_type="search", session_key="visitor-1", product_id=item.pk,
                                  query="poison" if i in (0, size // 2, size - 1) else "kite",
                                  client_event_id=f"e-{i}") for i in range(size)]
    redis_client.rpush(buffer.buffer_key(), *[event.to_json() for event in events])

    flushed = capture.flush_buffer()

    assert flushed == size and buffer.length() == 0
    refused = {"e-0", f"e-{size // 2}", f"e-{size - 1}"}
    assert set(Event.objects.values_list("client_event_id", flat=True)) == {f"e-{i}" for i in range(size)} - refused
    set_aside = [json.loads(raw) for raw in redis_client.lrange(buffer.dead_letter_key(), 0, -1)]
    assert {json.loads(entry["item"])["client_event_id"] for entry in set_aside} == refused
    assert all(entry["reason"].startswith("refused by the database: ") and "poison refused" in entry["reason"]
               for entry in set_aside)


def test_a_database_that_is_down_keeps_the_batch_in_the_buffer(item, redis_client, monkeypatch):
    from django.db import OperationalError

    redis_client.rpush(buffer.buffer_key(), *[
        capture.build_event(event_type="view", session_key="v", product_id=item.pk).to_json() for _ in range(3)])

    def down(events):
        raise OperationalError("connection refused")

    monkeypatch.setattr(capture, "insert_events", down)
    with pytest.raises(OperationalError):
        capture.flush_buffer()

    assert buffer.length() == 3 and buffer.dead_letter_count() == 0


def test_health_and_the_admin_show_the_dead_letter_count(item, redis_client, admin_client):
    redis_client.rpush(buffer.buffer_key(), _poisoned(item, "bad", session_key="x\ud800"))
    capture.flush_buffer()

    health = APIClient().get("/api/health/").json()
    page = admin_client.get("/admin/personalization/event/", follow=True)

    assert health["events"] == {"buffered": 0, "dead_letter": 1}
    assert "1 buffered events could not be stored" in page.content.decode()


# --- property: whatever the text, the flush advances and every good event is stored once ---------------
TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=12) | st.sampled_from(
    ["", "plain", "\x00", "a\x00b", "\ud800", "tab\there", "\x7f", "é€😀"])
FIELDS = ("session_key", "query", "recommendation_id", "client_event_id")
EVENT_TYPES = ("view", "cart", "purchase", "search", "impression", "click")


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(st.tuples(st.sampled_from(EVENT_TYPES), st.sampled_from(FIELDS), TEXT), min_size=1,
                       max_size=8),
       path=st.sampled_from(["api", "signal", "buffer"]))
def test_whatever_text_arrives_the_flush_advances_and_good_events_are_stored_once(redis_client, events, path):
    department, _ = Department.objects.get_or_create(title="Toys")
    item, _ = Item.objects.get_or_create(code="K1", defaults={"title": "Kite", "department": department, "price": 3})
    Event.objects.all().delete()
    redis_client.delete(buffer.buffer_key(), buffer.dead_letter_key())
    server = APIClient()
    server.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_keys.create_api_key('property')[1]}")
    accepted: set[str] = set()  # client ids accepted at the edge (one id sent twice is stored once)
    pushed: set[str] = set()
    for event_type, field, text in events:
        fields = {"event_type": event_type, "session_key": "visitor-1", "product_id": item.pk, "query": "kite",
                  "recommendation_id": "rec-1", "client_event_id": uuid.uuid4().hex}
        with TestCase.captureOnCommitCallbacks(execute=True):  # the buffer push waits for the commit
            if path == "api":  # one event per batch, so that a bad one refuses only itself
                body = {"type": event_type, "product": item.pk, **{k: fields[k] for k in FIELDS}, field: text}
                response = server.post("/api/personalization/events/", json.dumps({"events": [body]}),
                                       content_type="application/json")  # \uXXXX escapes, as clients send them
                assert response.status_code in (202, 400), response.content
                if response.status_code == 202:
                    accepted.add(body["client_event_id"])
            elif path == "signal":
                try:
                    accepted.add(capture.record_event(**{**fields, field: text}).client_event_id)
                except capture.InvalidEvent:
                    pass
            else:  # straight into the buffer, past every edge check
                raw = {**json.loads(capture.build_event(**fields).to_json()), field: text}
                redis_client.rpush(buffer.buffer_key(), json.dumps(raw))
                pushed.add(raw["client_event_id"])

    capture.flush_buffer()

    assert buffer.length() == 0  # the head always moves
    stored = list(Event.objects.values_list("client_event_id", flat=True))
    assert len(stored) == len(set(stored))  # exactly once
    if path == "buffer":  # each pushed event is stored or set aside with its reason (a repeated id: stored once)
        dead = {json.loads(json.loads(raw)["item"])["client_event_id"]
                for raw in redis_client.lrange(buffer.dead_letter_key(), 0, -1)}
        assert set(stored) | dead == pushed
    else:  # everything accepted at the edge is stored (API ids under the sender's prefix)
        assert len(stored) == len(accepted)
