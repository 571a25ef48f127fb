"""Who owns what (issue #13, items 6–8): recommendation ids issued to one caller, visitor ids bound to
their session, and no session written for an API call without a cookie."""
from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import login
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import RequestFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from personalization import signals
from personalization.capture import api_keys
from personalization.capture import services as capture
from personalization.models import Event
from personalization.recommending import experiments, serving
from tests.apps import test_recommendations
from tests.testhost.models import Item

pytestmark = pytest.mark.django_db

EVENTS = "/api/personalization/events/"
RECS = "/api/personalization/recommendations/"
PRICES = "/api/pricing/prices/"
VISITOR_KEY = "shopsense_visitor"
# The shop of the recommendation tests: 24 customers, 12 items, a trained "simple" model.
_media, shop, trained = test_recommendations._media, test_recommendations.shop, test_recommendations.trained


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    def send(client: APIClient, events: list[dict]):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(EVENTS, data=json.dumps({"events": events}), content_type="application/json")

    return send


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def session_client(user, visitor: str) -> APIClient:
    """A customer signed in with the session cookie, whose session holds ``visitor``."""
    client = APIClient()
    client.force_login(user)
    session = client.session
    session[VISITOR_KEY] = visitor
    session.save()
    return client


def browser_request(user=None, visitor: str = ""):
    request = RequestFactory().get("/")
    request.session = SessionStore()
    if visitor:
        request.session[VISITOR_KEY] = visitor
    request.user = user or AnonymousUser()
    return request


def tampered(rec_id: str) -> str:
    return rec_id[:-1] + ("0" if rec_id[-1] != "0" else "1")


# --- item 6: A/B figures nobody can forge -------------------------------------------------------------------
def test_forged_and_foreign_recommendation_ids_do_not_move_a_versions_click_through(
    trained, post, django_capture_on_commit_callbacks
):
    # given a customer who was shown one list (through the API) and clicked nothing in it
    victim, attacker, product = trained["users"][0], trained["users"][1], trained["items"][0].pk
    version = trained["version"].pk
    with django_capture_on_commit_callbacks(execute=True):
        shown = signed_in(victim).get(RECS, {"placement": "for_you", "limit": 3}).json()
    capture.flush_buffer()
    # when another signed-in customer posts impressions, clicks and carts for made-up ids, for a tampered copy
    # of the victim's id and for the victim's own id
    made_up = [f"{version}-for_you-{n:016x}" for n in range(10)]
    ids = [*made_up, tampered(shown["recommendation_id"]), shown["recommendation_id"]]
    events = [{"type": kind, "product": product, "recommendation_id": rec, "client_event_id": f"{kind}-{n}"}
              for n, rec in enumerate(ids) for kind in ("impression", "click", "cart")]
    response = post(signed_in(attacker), events)

    # then the events are taken (the behaviour is stored), but the A/B figures show one list, unclicked
    assert response.status_code == 202
    capture.flush_buffer()
    assert Event.objects.filter(user=attacker, event_type="click").count() == 12
    stats = {row.version_id: (row.lists, row.clicked, row.carted) for row in experiments.version_stats()}
    assert stats == {version: (1, 0, 0)}


def test_forged_ids_are_counted_per_version_and_per_capture_path(
    trained, post, redis_client, django_capture_on_commit_callbacks
):
    from personalization.capture import rec_ids

    victim, attacker, product = trained["users"][0], trained["users"][1], trained["items"][0]
    version = trained["version"].pk
    redis_client.delete(rec_ids.counter_key())
    real = serving.recommend("for_you", user=victim, limit=3, record_impressions=False)
    forged = [f"{version}-for_you-{n:012x}-{n:016x}" for n in range(3)] + [real.id]

    post(signed_in(attacker), [{"type": "click", "product": product.pk, "recommendation_id": rec,
                                "client_event_id": f"c{n}"} for n, rec in enumerate(forged)])
    with django_capture_on_commit_callbacks(execute=True):  # a view and a click from the storefront
        signals.product_viewed.send(sender=Item, request=browser_request(visitor="v" * 32), product=product,
                                    recommendation_id=forged[0])
    capture.flush_buffer()

    [stats] = experiments.version_stats()
    assert (stats.version_id, stats.lists, stats.clicked, stats.ignored) == (version, 0, 0, 4)
    assert rec_ids.unverified_counts() == {"api": 4, "web": 2}


def test_a_click_counts_when_it_comes_from_the_customer_the_list_was_issued_to(
    trained, post, django_capture_on_commit_callbacks
):
    customer, product = trained["users"][0], trained["items"][0].pk
    with django_capture_on_commit_callbacks(execute=True):
        shown = signed_in(customer).get(RECS, {"placement": "for_you", "limit": 3}).json()

    post(signed_in(customer), [{"type": "click", "product": product, "recommendation_id": shown["recommendation_id"],
                                "client_event_id": "c1"}])
    capture.flush_buffer()

    [stats] = experiments.version_stats()
    assert (stats.version_id, stats.lists, stats.clicked, stats.ignored) == (trained["version"].pk, 1, 1, 0)


def test_a_guests_click_counts_only_from_the_guests_own_browser(trained, django_capture_on_commit_callbacks):
    product = trained["items"][0]
    with django_capture_on_commit_callbacks(execute=True):
        shown = serving.recommend("for_you", session_key="g" * 32, limit=3, record_impressions=True)
        for visitor in ("g" * 32, "h" * 32):  # the guest, then someone the link was passed to
            signals.product_viewed.send(sender=Item, request=browser_request(visitor=visitor), product=product,
                                        recommendation_id=shown.id)
    capture.flush_buffer()

    [stats] = experiments.version_stats()
    assert (stats.lists, stats.clicked, stats.ignored) == (1, 1, 1)
    assert Event.objects.filter(event_type="click", recommendation_id=shown.id).count() == 2


def test_a_recommendation_id_is_bound_to_its_version_placement_and_caller(settings):
    from personalization.capture import rec_ids

    rec = rec_ids.issue(7, "for_you", user_id=5, session_key="v1")

    assert rec_ids.verify(rec, user_id=5) and rec_ids.verify(rec, user_id=5, session_key="other")
    assert not rec_ids.verify(rec, session_key="v1")  # issued to the customer, not to their browser
    assert not rec_ids.verify(rec, user_id=6)
    assert not rec_ids.verify(rec.replace("7-for_you", "8-for_you", 1), user_id=5)
    assert not rec_ids.verify(rec.replace("for_you", "similar", 1), user_id=5)
    guest = rec_ids.issue(None, "similar", session_key="v1")
    assert rec_ids.verify(guest, session_key="v1") and not rec_ids.verify(guest, session_key="v2")
    assert not rec_ids.verify(rec_ids.issue(1, "for_you"), session_key="")  # issued to nobody
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-key-" * 5, [old_key]
    assert rec_ids.verify(rec, user_id=5)  # a key rotation keeps the lists on screen valid
    settings.SECRET_KEY_FALLBACKS = []
    assert not rec_ids.verify(rec, user_id=5)


def test_a_recommendation_id_fits_the_event_column_and_a_link():
    from personalization.capture import rec_ids

    rec = rec_ids.issue(10**17, "bought_together", session_key="v" * 64)

    assert len(rec) == 64 == rec_ids.MAX_LENGTH
    assert rec_ids.version_of(rec) == 10**17
    assert re.fullmatch(r"[0-9a-z_-]+", rec)
    assert len(f"imp:{rec}:{2**63 - 1}") <= Event._meta.get_field("client_event_id").max_length


# --- item 7: visitor ids bound to their owner -----------------------------------------------------------------
def test_a_customer_cannot_write_into_another_visitors_recently_viewed(trained, post):
    # given a guest's visitor id, known to a signed-in customer
    victim_visitor, product = "v" * 32, trained["items"][5].pk

    # when the customer sends a view under that visitor id
    response = post(session_client(trained["users"][1], "m" * 32),
                    [{"type": "view", "product": product, "session_key": victim_visitor, "client_event_id": "x"}])

    # then it is refused, and the guest's recently viewed stays their own
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "field": "session_key", "message": "Only a server API key may send events for another visitor."}
    ]
    capture.flush_buffer()
    assert Event.objects.count() == Event.objects.filter(event_type="purchase").count()
    assert serving.recommend("recently_viewed", session_key=victim_visitor, limit=5).product_ids == []


def test_a_customer_with_a_token_may_name_no_visitor(trained, post):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=trained['users'][1]).key}")

    response = post(client, [{"type": "view", "product": trained["items"][0].pk, "session_key": "device-1"}])

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "session_key"


def test_a_customer_may_name_their_own_sessions_visitor_and_a_server_any(trained, post):
    customer, product = trained["users"][1], trained["items"][0].pk
    _, raw_key = api_keys.create_api_key("backend")
    server = APIClient()
    server.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")

    own = post(session_client(customer, "m" * 32), [{"type": "view", "product": product, "session_key": "m" * 32}])
    any_visitor = post(server, [{"type": "view", "product": product, "session_key": "v" * 32}])

    assert (own.status_code, any_visitor.status_code) == (202, 202)
    capture.flush_buffer()
    assert sorted(Event.objects.filter(event_type="view").values_list("session_key", "user_id")) == [
        ("m" * 32, customer.pk), ("v" * 32, None)]


def test_a_visitor_id_planted_before_login_stops_at_the_login(trained, django_capture_on_commit_callbacks):
    # given a browser carrying a visitor id that someone else planted (and browsed with)
    planted, customer, product = "p" * 32, trained["users"][0], trained["items"][0]
    request = browser_request(visitor=planted)

    # when the shopper signs in and then views a product
    with django_capture_on_commit_callbacks(execute=True):
        login(request, customer, backend="django.contrib.auth.backends.ModelBackend")
        signals.product_viewed.send(sender=Item, request=request, product=product)
    capture.flush_buffer()

    # then the session has a new visitor id, and nothing the customer does after the login is filed under the old
    assert request.session[VISITOR_KEY] not in ("", planted)
    assert list(Event.objects.filter(event_type="view").values_list("user_id", "session_key")) == [
        (customer.pk, request.session[VISITOR_KEY])]
    assert serving.recommend("recently_viewed", session_key=planted, limit=5).product_ids == []


def test_the_login_merges_only_the_events_that_session_captured(trained, django_capture_on_commit_callbacks):
    visitor, customer, items = "a" * 32, trained["users"][0], trained["items"]
    _, raw_key = api_keys.create_api_key("backend")
    server = APIClient()
    server.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    with django_capture_on_commit_callbacks(execute=True):
        # the guest's own storefront view, and one a server sent under the same visitor id
        signals.product_viewed.send(sender=Item, request=browser_request(visitor=visitor), product=items[0])
        server.post(EVENTS, data=json.dumps({"events": [{"type": "view", "product": items[1].pk,
                                                         "session_key": visitor, "client_event_id": "s1"}]}),
                    content_type="application/json")
    request = browser_request(visitor=visitor)

    with django_capture_on_commit_callbacks(execute=True):
        login(request, customer, backend="django.contrib.auth.backends.ModelBackend")

    assert sorted(Event.objects.filter(event_type="view").values_list("product_id", "user_id", "source")) == [
        (items[0].pk, customer.pk, "web"), (items[1].pk, None, "api")]


# --- item 8: no session writes for cookie-less API calls -------------------------------------------------------
@pytest.mark.parametrize("path", [
    f"{RECS}?placement=for_you&limit=3", f"{RECS}?placement=recently_viewed", f"{RECS}?placement=best_sellers",
    f"{PRICES}?products=1,2,3",
])
def test_cookie_less_anonymous_calls_write_no_session(trained, path):
    before = Session.objects.count()

    responses = [APIClient().get(path) for _ in range(20)]

    assert [response.status_code for response in responses] == [200] * 20
    assert Session.objects.count() == before
    assert all("sessionid" not in response.cookies for response in responses)


def test_a_repeated_cookie_less_list_runs_no_sql_query(trained, redis_client, django_assert_num_queries):
    APIClient().get(RECS, {"placement": "for_you", "limit": 3})  # builds and caches the list
    APIClient().get(RECS, {"placement": "for_you", "limit": 3})  # reads the unavailable products (once per 5 s)

    with django_assert_num_queries(0):
        response = APIClient().get(RECS, {"placement": "for_you", "limit": 3})

    assert response.status_code == 200 and len(response.json()["items"]) == 3


def test_a_guest_with_a_session_gets_a_visitor_id_and_their_impressions(trained, django_capture_on_commit_callbacks):
    client = APIClient()
    session = client.session
    session["cart"] = {}
    session.save()  # a browser that has a session (its cookie) but no visitor id yet

    with django_capture_on_commit_callbacks(execute=True):
        body = client.get(RECS, {"placement": "best_sellers", "limit": 2}).json()
    capture.flush_buffer()

    visitor = client.session[VISITOR_KEY]
    assert visitor
    assert set(Event.objects.filter(event_type="impression").values_list("session_key", "recommendation_id")) == {
        (visitor, body["recommendation_id"])}


def test_the_model_versions_page_shows_the_ignored_ids(trained, post, redis_client, admin_client):
    from personalization.capture import rec_ids

    redis_client.delete(rec_ids.counter_key())
    version, product = trained["version"].pk, trained["items"][0].pk
    post(signed_in(trained["users"][1]), [{"type": "click", "product": product, "client_event_id": "c1",
                                           "recommendation_id": f"{version}-for_you-{0:012x}-{0:016x}"}])
    capture.flush_buffer()

    html = admin_client.get("/admin/personalization/modelversion/").content.decode()

    assert f"<td>v{version}</td><td>0</td><td>0</td>" in html and "<td>1</td></tr>" in html
    assert "not issued to their sender (stored, never counted above): api 1." in html
