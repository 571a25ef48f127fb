"""The events API: POST /api/personalization/events/ — authentication, all-or-nothing validation,
idempotent retries, permissions, throttling and the OpenAPI schema."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from personalization.capture import api_keys, buffer
from personalization.capture import services as capture
from personalization.models import ApiKey, Event
from tests.testhost.models import Department, Item

pytestmark = pytest.mark.django_db

URL = "/api/personalization/events/"


@pytest.fixture
def items() -> list[Item]:
    department = Department.objects.create(title="Candles")
    return [
        Item.objects.create(code=f"T-{i}", title=f"Item {i}", department=department, price=Decimal("2.50"))
        for i in range(3)
    ]


@pytest.fixture
def ann(django_user_model):
    return django_user_model.objects.create_user("ann", password="pw")


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """POST a JSON body and run the commit callbacks (the Redis push waits for the commit)."""

    def send(client: APIClient, body, **extra):
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, data=data, content_type=extra.pop("content_type", "application/json"), **extra)

    return send


@pytest.fixture
def customer(ann) -> APIClient:
    client = APIClient()
    client.force_login(ann)
    return client


@pytest.fixture
def server_key() -> tuple[ApiKey, str]:
    return api_keys.create_api_key("mobile backend")


@pytest.fixture
def server(server_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {server_key[1]}")
    return client


def events_for(items: list[Item], n: int, prefix: str = "id") -> list[dict]:
    return [{"type": "view", "product": items[i % len(items)].pk, "client_event_id": f"{prefix}-{i}"} for i in range(n)]


def stored() -> list[tuple]:
    capture.flush_buffer()
    return sorted(
        Event.objects.values_list("client_event_id", "event_type", "user_id", "session_key", "product_id", "source")
    )


# --- authentication -----------------------------------------------------------------------------
def test_a_signed_in_customer_posts_a_batch_with_the_session(customer, ann, items, post):
    response = post(
        customer,
        {
            "events": [
                {"type": "view", "product": items[0].pk, "client_event_id": "e1"},
                {"type": "search", "query": "lantern", "client_event_id": "e2"},
            ]
        },
    )

    assert (response.status_code, response.json()) == (202, {"accepted": 2, "duplicates": 0})
    assert stored() == [
        (f"api:u{ann.pk}:e1", "view", ann.pk, "", items[0].pk, "api"),
        (f"api:u{ann.pk}:e2", "search", ann.pk, "", None, "api"),
    ]


def test_a_customer_posts_with_a_drf_token(ann, items, post):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=ann).key}")

    response = post(client, {"events": events_for(items, 3)})

    assert (response.status_code, response.json()) == (202, {"accepted": 3, "duplicates": 0})
    assert [row[2] for row in stored()] == [ann.pk] * 3


def test_a_server_posts_with_an_api_key_for_customers_and_visitors(server, server_key, ann, items, post):
    response = post(
        server,
        {
            "events": [
                {
                    "type": "cart",
                    "product": items[1].pk,
                    "user": ann.pk,
                    "quantity": 2,
                    "price": "2.50",
                    "client_event_id": "k1",
                },
                {"type": "view", "product": items[2].pk, "session_key": "device-7", "client_event_id": "k2"},
            ]
        },
    )

    assert (response.status_code, response.json()) == (202, {"accepted": 2, "duplicates": 0})
    key_id = server_key[0].pk
    assert stored() == [
        (f"api:k{key_id}:k1", "cart", ann.pk, "", items[1].pk, "api"),
        (f"api:k{key_id}:k2", "view", None, "device-7", items[2].pk, "api"),
    ]
    assert ApiKey.objects.get().last_used_at is not None


@pytest.mark.parametrize("header", ["revoked", "Api-Key nonsense", "Api-Key abcdefgh.wrong-secret", "Api-Key "])
def test_a_revoked_or_wrong_api_key_is_refused(header, server_key, items, post):
    api_key, raw_key = server_key
    if header == "revoked":
        assert api_keys.revoke_api_key(api_key) is True
        header = f"Api-Key {raw_key}"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = post(client, {"events": events_for(items, 1)})

    assert response.status_code in (401, 403)
    assert response.json() == {"detail": "Invalid or revoked API key."}
    assert stored() == []


def test_missing_credentials_are_refused(items, post):
    response = post(APIClient(), {"events": events_for(items, 1)})

    assert response.status_code in (401, 403)
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert stored() == []


# --- validation: all or nothing -----------------------------------------------------------------
def test_a_valid_batch_of_a_thousand_is_accepted_and_stored_once(customer, items, post):
    response = post(customer, {"events": events_for(items, 1000)})

    assert (response.status_code, response.json()) == (202, {"accepted": 1000, "duplicates": 0})
    assert len(stored()) == 1000
    assert buffer.length() == 0


def test_one_bad_event_rejects_the_whole_batch(customer, items, post):
    batch = events_for(items, 50)
    batch[17]["quantity"] = 0
    batch[31]["type"] = "like"

    response = post(customer, {"events": batch})

    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "2 of 50 events are invalid; nothing was stored."
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(17, "quantity"), (31, "type")]
    assert body["errors"][0]["message"] == "must be a whole number from 1 to 1,000,000."
    assert stored() == []
    assert buffer.length() == 0


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"product": 999_999}, "product", "No product with id 999999."),
        ({"quantity": "2"}, "quantity", "must be a whole number from 1 to 1,000,000."),
        ({"quantity": "two"}, "quantity", "must be a whole number from 1 to 1,000,000."),
        (
            {"timestamp": "last tuesday"},
            "timestamp",
            "must be an ISO 8601 date and time, such as 2024-05-01T12:30:00Z.",
        ),
        (
            {"timestamp": "2024-02-30T10:00:00Z"},
            "timestamp",
            "must be an ISO 8601 date and time, such as 2024-05-01T12:30:00Z.",
        ),
        ({"type": "like"}, "type", "must be one of view, cart, purchase, search, impression, click, not 'like'."),
        ({"type": None}, "type", "must be one of view, cart, purchase, search, impression, click, not None."),
        ({"product": "12"}, "product", "must be a whole number from 1, not '12'."),
        ({"product": None}, "product", "a view event needs a product."),
        ({"price": -1}, "price", "must be a non-negative amount below 10,000,000,000."),
        ({"client_event_id": 42}, "client_event_id", "must be text of 1 to 64 characters."),
        ({"client_event_id": "x" * 65}, "client_event_id", "must be text of 1 to 64 characters."),
        ({"session_key": ["a"]}, "session_key", "must be text of at most 64 characters."),
    ],
)
def test_a_bad_field_is_named_with_its_index(changes, field, message, customer, items, post):
    batch = events_for(items, 3)
    batch[1].update(changes)

    response = post(customer, {"events": batch})

    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 1, "field": field, "message": message}]
    assert stored() == []


def test_a_missing_type_and_a_future_timestamp_are_refused(customer, items, post):
    future = (timezone.now() + dt.timedelta(hours=2)).isoformat()

    response = post(
        customer, {"events": [{"product": items[0].pk}, {"type": "view", "product": items[0].pk, "timestamp": future}]}
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "field": "type", "message": "This field is required."},
        {"index": 1, "field": "timestamp", "message": "lies in the future."},
    ]


def test_a_timestamp_from_before_the_shop_could_exist_is_refused(customer, items, post):
    response = post(customer, {"events": [{"type": "view", "product": items[0].pk, "timestamp": "1900-01-01T00:00Z"}]})

    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "field": "timestamp", "message": (
        "lies before 2000-01-01 (PERSONALIZATION['EVENT_EARLIEST_TIMESTAMP'])."
    )}]


def test_an_item_that_is_not_an_object_is_refused(customer, items, post):
    response = post(customer, {"events": [events_for(items, 1)[0], "view"]})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 1, "field": "non_field_errors", "message": "Each event must be a JSON object."}
    ]


def test_an_oversized_batch_is_refused(customer, items, post):
    response = post(customer, {"events": events_for(items, 1001)})

    assert (response.status_code, response.json()) == (
        400,
        {"detail": "A batch holds at most 1000 events; this one has 1001."},
    )
    assert stored() == []


def test_a_client_id_repeated_inside_a_batch_is_refused(customer, items, post):
    batch = events_for(items, 3)
    batch[2]["client_event_id"] = batch[0]["client_event_id"]

    response = post(customer, {"events": batch})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 2, "field": "client_event_id", "message": "repeats the id of event 0 in this batch."}
    ]
    assert stored() == []


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        ("{not json", "application/json", 400),
        ('{"events": {"type": "view"}}', "application/json", 400),
        ('{"events": []}', "application/json", 400),
        ('{"event": []}', "application/json", 400),
        ('[{"type": "view"}]', "application/json", 400),
        ("events=1", "application/x-www-form-urlencoded", 415),
    ],
)
def test_a_body_that_is_not_a_batch_is_refused(body, content_type, status, customer, post):
    response = post(customer, body, content_type=content_type)

    assert response.status_code == status
    assert response.json()["detail"]
    assert stored() == []


# --- retries ------------------------------------------------------------------------------------
def test_replaying_a_batch_stores_nothing_twice(customer, items, post):
    batch = events_for(items, 5)
    first = post(customer, {"events": batch})
    before = stored()

    replay = post(customer, {"events": batch})
    partly_new = post(customer, {"events": batch[:2] + events_for(items, 2, prefix="new")})

    assert (first.status_code, first.json()) == (202, {"accepted": 5, "duplicates": 0})
    assert (replay.status_code, replay.json()) == (202, {"accepted": 0, "duplicates": 5})
    assert (partly_new.status_code, partly_new.json()) == (202, {"accepted": 2, "duplicates": 2})
    after = stored()
    assert after[:5] == before and len(after) == 7


def test_the_same_client_ids_from_two_senders_do_not_collide(customer, server, ann, items, post):
    batch = events_for(items, 2)

    assert post(customer, {"events": batch}).json() == {"accepted": 2, "duplicates": 0}
    assert post(server, {"events": [dict(e, session_key="device-1") for e in batch]}).json() == {
        "accepted": 2,
        "duplicates": 0,
    }
    assert len(stored()) == 4


# --- permissions ----------------------------------------------------------------------------------
def test_a_customer_cannot_send_events_for_another_customer(customer, django_user_model, items, post):
    bob = django_user_model.objects.create_user("bob")
    batch = events_for(items, 2)
    batch[1]["user"] = bob.pk

    response = post(customer, {"events": batch})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 1, "field": "user", "message": "Only a server API key may send events for another customer."}
    ]
    assert stored() == []


def test_a_customer_may_name_themselves(customer, ann, items, post):
    response = post(customer, {"events": [dict(events_for(items, 1)[0], user=ann.pk)]})

    assert response.status_code == 202


def test_an_api_key_may_send_for_any_customer_but_not_an_unknown_one(server, ann, django_user_model, items, post):
    bob = django_user_model.objects.create_user("bob")
    batch = [dict(e, user=user.pk) for e, user in zip(events_for(items, 2), (ann, bob), strict=True)]

    accepted = post(server, {"events": batch})
    unknown = post(server, {"events": [dict(events_for(items, 1, prefix="u")[0], user=bob.pk + 100)]})

    assert accepted.status_code == 202
    assert [row[2] for row in stored()] == [ann.pk, bob.pk]
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == [
        {"index": 0, "field": "user", "message": f"No customer with id {bob.pk + 100}."}
    ]


def test_a_server_event_needs_a_customer_or_a_visitor(server, items, post):
    response = post(server, {"events": events_for(items, 1)})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "field": "session_key", "message": "an event needs a signed-in user or a session key."}
    ]


# --- throttling -----------------------------------------------------------------------------------
def test_too_many_batches_are_throttled(settings, customer, items, post):
    rates = {**settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}), "events": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}

    statuses = [post(customer, {"events": events_for(items, 1, prefix=f"t{i}")}).status_code for i in range(3)]

    assert statuses == [202, 202, 429]
    assert len(stored()) == 2


def test_each_api_key_has_its_own_throttle_bucket(settings, server, items, post):
    rates = {**settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}), "events": "1/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_keys.create_api_key('web backend')[1]}")
    batch = {"events": [dict(e, session_key="d") for e in events_for(items, 1)]}

    statuses = [post(server, batch).status_code, post(other, batch).status_code, post(server, batch).status_code]

    assert statuses == [202, 202, 429]


# --- schema and commands ------------------------------------------------------------------------
def test_the_openapi_schema_documents_the_endpoint(client):
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    operation = schema["paths"][URL]["post"]
    assert operation["operationId"] == "personalization_events_create"
    assert sorted(operation["responses"]) == ["202", "400", "403", "415", "429"]  # the last three: every endpoint
    assert {"ApiKeyAuth": []} in operation["security"]
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["type"] == "apiKey"
    batch = schema["components"]["schemas"]["EventBatch"]
    assert batch["properties"]["events"]["maxItems"] == 1000
    event = schema["components"]["schemas"]["EventIn"]
    assert event["required"] == ["type"]
    assert set(event["properties"]) == set(capture.API_FIELDS)


def test_create_api_key_prints_a_working_key_once():
    out, err = StringIO(), StringIO()

    call_command("create_api_key", "partner app", stdout=out, stderr=err)

    raw_key = out.getvalue().strip()
    api_key = api_keys.verify_api_key(raw_key)
    assert api_key is not None and api_key.name == "partner app"
    assert raw_key not in err.getvalue() and "not shown again" in err.getvalue()
    assert api_key.key_hash != raw_key.partition(".")[2]


@pytest.mark.parametrize("name", ["   ", "n" * 101])
def test_create_api_key_refuses_a_bad_name(name):
    with pytest.raises(CommandError):
        call_command("create_api_key", name, stdout=StringIO(), stderr=StringIO())

    assert ApiKey.objects.count() == 0


# --- admin ----------------------------------------------------------------------------------------
def test_adding_a_key_in_the_admin_shows_the_raw_key_once(admin_client):
    response = admin_client.post("/admin/personalization/apikey/add/", {"name": "shop backend"}, follow=True)

    assert response.status_code == 200
    message, added = [str(m) for m in response.context["messages"]]
    raw_key = message.rpartition(": ")[2]
    assert message.startswith("API key created. Copy it now, it is not shown again:")
    assert "was added successfully" in added and raw_key not in added
    api_key = api_keys.verify_api_key(raw_key)
    assert api_key is not None and api_key.name == "shop backend"
    assert ApiKey.objects.count() == 1


def test_the_admin_revokes_selected_keys(admin_client, server_key):
    api_key, raw_key = server_key

    response = admin_client.post(
        "/admin/personalization/apikey/", {"action": "revoke", "_selected_action": [api_key.pk]}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == ["Revoked 1 key(s)."]
    assert api_keys.verify_api_key(raw_key) is None


def test_the_event_admin_lists_and_searches_events(admin_client, ann, items, customer, post):
    post(customer, {"events": events_for(items, 2)})
    capture.flush_buffer()

    listing = admin_client.get("/admin/personalization/event/", {"q": "ann"})
    nothing = admin_client.get("/admin/personalization/event/", {"q": "nobody"})

    assert (listing.status_code, nothing.status_code) == (200, 200)
    assert listing.context["cl"].result_count == 2
    assert nothing.context["cl"].result_count == 0
