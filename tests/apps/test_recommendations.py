"""Recommendations: training and the registry, request-time rules, fallbacks, the API, widgets."""
from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.template import Context, Template
from django.test import RequestFactory, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from personalization.capture import services as capture
from personalization.models import Event, ModelVersion, RecommendationList
from personalization.ops import registry
from personalization.recommending import experiments, serving, training
from tests.testhost.models import Department, Item

pytestmark = pytest.mark.django_db
URL = "/api/personalization/recommendations/"
_ids = itertools.count(1)


def purchase(user, item, when: dt.datetime) -> Event:
    return Event(event_type="purchase", user=user, product=item, quantity=1, price=Decimal("1.00"),
                 source="import", client_event_id=f"test:{next(_ids)}", timestamp=when)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    serving._TABLES.clear()


@pytest.fixture
def shop():
    """Three departments of four items; 24 customers who each re-buy their own two items weekly and, now and
    then, the department's best seller, over 120 days up to yesterday."""
    departments = [Department.objects.create(title=name) for name in ("Kitchen", "Garden", "Toys")]
    items = [
        Item.objects.create(code=f"I{d}{n}", title=f"{dep.title} item {n}", department=dep, price=Decimal("2.50"),
                            stock=10)
        for d, dep in enumerate(departments) for n in range(4)
    ]
    User = get_user_model()
    users = [User.objects.create_user(f"customer{u}", password="pw") for u in range(24)]
    end = timezone.now() - dt.timedelta(days=1)
    events = []
    for u, user in enumerate(users):
        dep = u % 3
        own = [items[dep * 4 + 1 + (u // 3) % 3], items[dep * 4 + 1 + (u // 3 + 1) % 3]]
        for week in range(17):
            when = end - dt.timedelta(days=7 * week, hours=u)
            events += [purchase(user, own[0], when), purchase(user, own[1], when)]
            if week % 4 == u % 4:
                events.append(purchase(user, items[dep * 4], when))
    Event.objects.bulk_create(events)
    return {"items": items, "users": users, "departments": departments}


@pytest.fixture
def trained(shop):
    result = training.train("simple")
    assert result.activated
    return {**shop, "version": result.version}


def guest_request(visitor: str = "guest-1"):
    request = RequestFactory().get("/")
    request.session = {"shopsense_visitor": visitor}
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    return request


def view(item, *, user=None, session_key: str = "", minutes_ago: int = 0) -> None:
    capture.insert_events([capture.build_event(event_type="view", product_id=item.pk, user_id=user.pk if user else None,
                                               session_key=session_key,
                                               timestamp=timezone.now() - dt.timedelta(minutes=minutes_ago))])


# --- training and the registry ------------------------------------------------------------------
def test_training_stores_an_active_version_with_metrics_and_lists(shop):
    result = training.train("simple")

    version = ModelVersion.objects.get(pk=result.version.pk)
    assert (version.kind, version.status, version.progress) == ("recommender", "active", 100)
    assert version.metrics["ndcg@20"] > 0 and version.metrics["users"] > 0
    assert RecommendationList.objects.filter(model_version=version, placement="for_you").count() == 24
    assert set(RecommendationList.objects.filter(user__isnull=True).values_list("key", flat=True)) == {
        "popular", "category:Kitchen", "category:Garden", "category:Toys"}


def test_a_worse_model_is_not_activated_nor_served(trained):
    result = training.train("popular")

    assert result.activated is False
    assert "does not beat" in result.message
    assert ModelVersion.objects.get(pk=result.version.pk).status == "ready"
    assert registry.active_version("recommender").pk == trained["version"].pk
    served = serving.recommend("for_you", user=trained["users"][0], record_impressions=False)
    assert served.model_version_id == trained["version"].pk


def test_old_versions_lists_are_pruned_after_training(trained):
    worse = training.train("popular").version
    training.train("popular")

    assert not RecommendationList.objects.filter(model_version=worse).exists()
    assert RecommendationList.objects.filter(model_version=trained["version"]).exists()


# --- A/B tests --------------------------------------------------------------------------------------------------
def test_an_ab_test_splits_customers_deterministically_between_versions(trained):
    challenger = training.train("popular").version
    experiments.start(challenger, share=0.5)

    served = {user.pk: serving.recommend("for_you", user=user, record_impressions=False).model_version_id
              for user in trained["users"]}
    again = {user.pk: serving.recommend("for_you", user=user, record_impressions=False).model_version_id
             for user in trained["users"]}

    assert served == again
    assert set(served.values()) == {trained["version"].pk, challenger.pk}
    assert [pk for pk, v in served.items() if v == challenger.pk] == [
        user.pk for user in trained["users"] if experiments.bucket(challenger.pk, f"u{user.pk}") < 0.5]


def test_stopping_the_ab_test_serves_the_active_version_to_everyone(trained):
    experiments.start(training.train("popular").version, share=0.9)
    experiments.stop()

    served = {serving.recommend("for_you", user=user, record_impressions=False).model_version_id
              for user in trained["users"]}

    assert served == {trained["version"].pk}


def test_click_through_per_version_counts_lists_shown_clicked_and_carted(trained):
    customer, items = trained["users"][0], trained["items"]
    rec_ids = [serving.new_recommendation_id(trained["version"].pk, "for_you", user_id=customer.pk) for _ in range(4)]
    events = [capture.build_event(event_type="impression", product_id=items[0].pk, user_id=customer.pk,
                                  recommendation_id=rec) for rec in rec_ids]
    events += [capture.build_event(event_type="click", product_id=items[0].pk, user_id=customer.pk,
                                   recommendation_id=rec) for rec in rec_ids[:2]]
    events += [capture.build_event(event_type="cart", product_id=items[0].pk, user_id=customer.pk,
                                   recommendation_id=rec_ids[0])]
    capture.insert_events(events)

    [stats] = experiments.version_stats()

    assert (stats.version_id, stats.lists, stats.clicked, stats.carted) == (trained["version"].pk, 4, 2, 1)
    assert stats.ctr == 0.5
    low, high = stats.ctr_interval
    assert low < 0.5 < high


@pytest.mark.parametrize(("successes", "trials", "expected"), [(0, 0, (0.0, 0.0)), (5, 10, (0.2366, 0.7634))])
def test_wilson_interval(successes, trials, expected):
    low, high = experiments.wilson(successes, trials)

    assert (round(low, 4), round(high, 4)) == expected


def test_training_without_purchases_is_refused(db):
    with pytest.raises(training.TrainingError, match="No purchases"):
        training.train("simple")


def test_training_refuses_to_run_twice_at_once(shop):
    from personalization.ops import locks

    locks.acquire(training.LOCK_NAME, "someone-else", 60)

    with pytest.raises(training.AlreadyRunning):
        training.train("simple")


# --- request-time rules ---------------------------------------------------------------------------
@pytest.fixture
def later(monkeypatch):
    """Move serving's clock forward by some seconds."""
    def advance(seconds: float) -> None:
        now = serving._clock()
        monkeypatch.setattr(serving, "_clock", lambda: now + seconds)

    return advance


@pytest.mark.parametrize("change", [{"stock": 0}, {"available": False}])
@pytest.mark.parametrize("placement", ["for_you", "best_sellers", "similar"])
def test_out_of_stock_or_inactive_products_leave_every_list_within_the_availability_bound(
        trained, change, placement, later):
    customer, items = trained["users"][0], trained["items"]
    product = [items[1].pk] if placement == "similar" else ()
    before = serving.recommend(placement, user=customer, product_ids=product, limit=12)
    assert serving.recommend(placement, user=customer, product_ids=product, limit=12).product_ids == before.product_ids
    hidden = before.product_ids[0]
    Item.objects.filter(pk=hidden).update(**change)  # a bulk update: no signal tells serving

    later(serving.rec_settings()["AVAILABILITY_SECONDS"])
    after = serving.recommend(placement, user=customer, product_ids=product, limit=12)

    assert hidden not in after.product_ids
    assert len(after) == len(before) - 1


def test_a_list_served_again_runs_no_database_query(trained, django_assert_num_queries, redis_client):
    customer = trained["users"][0]
    first = serving.recommend("for_you", user=customer, limit=5)
    serving.recommend("for_you", user=customer, limit=5)  # reads the unavailable products (once per 5 s)

    with django_assert_num_queries(0):
        again = serving.recommend("for_you", user=customer, limit=5)

    assert again.product_ids == first.product_ids
    assert again.id != first.id


def test_when_many_products_go_out_of_stock_the_list_is_built_again_full(trained, later, redis_client):
    customer = trained["users"][0]
    before = serving.recommend("best_sellers", user=customer, limit=3)
    Item.objects.filter(pk__in=before.product_ids).update(stock=0)

    later(serving.rec_settings()["AVAILABILITY_SECONDS"])
    after = serving.recommend("best_sellers", user=customer, limit=3)

    assert len(after) == 3 and not set(after.product_ids) & set(before.product_ids)


def test_already_bought_products_can_be_left_out(trained):
    customer = trained["users"][0]
    bought = set(Event.objects.filter(user=customer, event_type="purchase").values_list("product_id", flat=True))

    kept = serving.recommend("for_you", user=customer, limit=12)
    left_out = serving.recommend("for_you", user=customer, limit=12, exclude_bought=True)

    assert bought <= set(kept.product_ids)
    assert not bought & set(left_out.product_ids)
    assert len(left_out) == 12 - len(bought)


def test_category_filter_keeps_only_that_category(trained):
    result = serving.recommend("for_you", user=trained["users"][0], limit=12, category="Garden")

    assert {item.product.department.title for item in result} == {"Garden"}
    assert len(result) == 4


@pytest.mark.parametrize("k", [1, 2])
def test_at_most_k_items_per_category(trained, k):
    result = serving.recommend("best_sellers", user=trained["users"][0], limit=12, per_category=k)

    counts = {}
    for item in result:
        counts[item.product.department_id] = counts.get(item.product.department_id, 0) + 1
    assert counts == {dep.pk: k for dep in trained["departments"]}


# --- fallbacks and fresh behaviour ------------------------------------------------------------------
def test_a_guest_gets_neighbours_of_the_session_views(trained):
    garden_item = trained["items"][5]
    view(garden_item, session_key="guest-1")

    result = serving.recommend("for_you", session_key="guest-1", limit=3)

    assert [item.source for item in result] == ["because you viewed"] * 3
    assert {item.product.department.title for item in result} == {"Garden"}


def test_a_new_view_changes_the_next_list_without_retraining(trained):
    customer, items = trained["users"][0], trained["items"]  # a Kitchen buyer
    before = serving.recommend("for_you", user=customer, limit=4)
    view(items[9], user=customer, session_key="s-0")  # a Toys item
    capture.flush_buffer()

    after = serving.recommend("for_you", user=customer, session_key="s-0", limit=4)

    assert after.product_ids != before.product_ids
    assert after.items[0].source == "because you viewed"
    assert after.items[0].product.department.title == "Toys"


@pytest.mark.parametrize("event_type", ["view", "cart"])
def test_a_captured_view_or_cart_changes_the_next_list_before_the_events_are_flushed(
        trained, event_type, redis_client, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    customer, items = trained["users"][0], trained["items"]  # a Kitchen buyer
    before = serving.recommend("for_you", user=customer, limit=4)
    assert serving.recommend("for_you", user=customer, limit=4).product_ids == before.product_ids  # cached

    with django_capture_on_commit_callbacks(execute=True):
        capture.record_event(event_type=event_type, product_id=items[9].pk, user_id=customer.pk)  # buffered
    with django_assert_max_num_queries(1):  # the products of the new candidates, nothing else
        after = serving.recommend("for_you", user=customer, limit=4)

    assert not Event.objects.filter(event_type=event_type).exists()
    assert after.items[0].source == "because you viewed"
    assert after.items[0].product.department.title == "Toys"


def test_recently_viewed_lists_the_visitors_views_newest_first(trained):
    items = trained["items"]
    view(items[2], session_key="g", minutes_ago=5)
    view(items[7], session_key="g", minutes_ago=1)

    result = serving.recommend("recently_viewed", session_key="g", limit=5)

    assert result.product_ids == [items[7].pk, items[2].pk]


def test_without_a_trained_model_the_best_sellers_are_served(shop):
    result = serving.recommend("for_you", session_key="nobody", limit=3)

    assert result.model_version_id is None
    assert [item.source for item in result] == ["best seller"] * 3
    assert result.id.startswith("0-for_you-")


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                       "LOCATION": "redis://127.0.0.1:1/0",
                                       "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}},
                   REDIS_URL="redis://127.0.0.1:1/0")
def test_recommendations_are_served_when_redis_is_down(trained):
    result = serving.recommend("for_you", user=trained["users"][0], limit=5, record_impressions=False)

    assert len(result) == 5
    assert result.model_version_id == trained["version"].pk


def test_impressions_are_recorded_with_the_recommendation_id(trained, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = serving.recommend("for_you", user=trained["users"][0], limit=3, record_impressions=True)
    capture.flush_buffer()

    shown = Event.objects.filter(event_type="impression", recommendation_id=result.id)
    assert sorted(shown.values_list("product_id", flat=True)) == sorted(result.product_ids)
    assert serving.version_of_recommendation(result.id) == trained["version"].pk


def test_impressions_are_stored_exactly_once_even_when_handed_over_twice(trained, django_capture_on_commit_callbacks):
    customer = trained["users"][0]
    with django_capture_on_commit_callbacks(execute=True):
        served = serving.recommend("for_you", user=customer, limit=4, record_impressions=True)
        again = serving.recommend("for_you", user=customer, limit=4, record_impressions=True)  # from the cache
        capture.record_impressions(served.product_ids, user_id=customer.pk, session_key="",
                                   recommendation_id=served.id)  # a retry of the first list's impressions
    capture.flush_buffer()
    capture.flush_buffer()

    stored = Event.objects.filter(event_type="impression")
    assert stored.count() == 8
    for result in (served, again):
        assert sorted(stored.filter(recommendation_id=result.id).values_list("product_id", flat=True)) == sorted(
            result.product_ids)
    assert set(stored.values_list("user_id", flat=True)) == {customer.pk}


SERVER = """
import os, sys
import django
django.setup()
from django.conf import settings
settings.MEDIA_ROOT = os.environ["TEST_MEDIA_ROOT"]
from django.contrib.auth import get_user_model
from personalization.recommending import serving
for line in sys.stdin:
    user = get_user_model().objects.get(pk=int(line))
    print(serving.recommend("for_you", user=user, record_impressions=False).model_version_id, flush=True)
"""


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_an_activation_reaches_another_server_process_on_its_next_request(trained, settings, redis_client):
    import os
    import subprocess
    import sys

    from django.db import connection

    from tests.processes import ROOT, database_url

    customer, first = trained["users"][0], trained["version"]
    second = training.train("popular").version  # ready, not active (not better)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": database_url(connection.settings_dict), "REDIS_URL": settings.REDIS_URL,
           "TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    server = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def served_version() -> int:
        server.stdin.write(f"{customer.pk}\n")
        server.stdin.flush()
        return int(server.stdout.readline())

    try:
        assert served_version() == first.pk
        ModelVersion.objects.filter(pk=first.pk).update(status="retired")  # behind the registry's back
        ModelVersion.objects.filter(pk=second.pk).update(status="active")
        assert served_version() == first.pk  # the other process memoised its versions
        ModelVersion.objects.filter(pk=second.pk).update(status="ready")
        ModelVersion.objects.filter(pk=first.pk).update(status="active")

        registry.activate(second)  # through the registry (the admin's action)

        assert served_version() == second.pk
    finally:
        server.stdin.close()
        server.wait(timeout=10)


# --- the API ----------------------------------------------------------------------------------------------
def test_a_customer_reads_their_own_list(trained):
    customer = trained["users"][0]
    client = APIClient()
    client.force_authenticate(customer)

    response = client.get(URL, {"placement": "for_you", "limit": 3})

    assert response.status_code == 200
    body = response.json()
    expected = serving.recommend("for_you", user=customer, limit=3, record_impressions=False)
    assert [item["product"] for item in body["items"]] == expected.product_ids
    assert body["model_version"] == trained["version"].pk
    assert body["recommendation_id"].startswith(f"{trained['version'].pk}-for_you-")


def test_the_api_passes_its_parameters_to_serving(trained):
    customer = trained["users"][0]
    client = APIClient()
    client.force_authenticate(customer)

    response = client.get(URL, {"placement": "for_you", "limit": "5", "exclude_bought": "true", "per_category": "1"})

    expected = serving.recommend("for_you", user=customer, limit=5, exclude_bought=True, per_category=1,
                                 record_impressions=False)
    assert [item["product"] for item in response.json()["items"]] == expected.product_ids
    assert len(expected) == 3  # one per department


def test_a_customer_cannot_read_another_customers_list(trained):
    client = APIClient()
    client.force_authenticate(trained["users"][0])

    response = client.get(URL, {"placement": "for_you", "user": trained["users"][1].pk})

    assert response.status_code == 403


def test_staff_may_read_any_customers_list(trained):
    staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_customerprofile"))
    client = APIClient()
    client.force_authenticate(staff)

    response = client.get(URL, {"placement": "for_you", "user": trained["users"][1].pk, "limit": 4})

    expected = serving.recommend("for_you", user=trained["users"][1], limit=4, record_impressions=False)
    assert [item["product"] for item in response.json()["items"]] == expected.product_ids


def test_a_guest_gets_a_list_from_their_session(trained):
    client = APIClient()

    response = client.get(URL, {"placement": "best_sellers", "limit": 2})

    assert response.status_code == 200
    assert [item["source"] for item in response.json()["items"]] == ["best seller", "best seller"]


@pytest.mark.parametrize(("params", "field"), [
    ({}, "placement"),
    ({"placement": "everything"}, "placement"),
    ({"placement": "for_you", "limit": "0"}, "limit"),
    ({"placement": "for_you", "limit": "many"}, "limit"),
    ({"placement": "similar"}, "product"),
    ({"placement": "similar", "product": "abc"}, "product"),
    ({"placement": "bought_together", "product": "999999"}, "product"),
    ({"placement": "for_you", "per_category": "-1"}, "per_category"),
    ({"placement": "for_you", "per_category": "²"}, "per_category"),
    ({"placement": "similar", "product": "1,²"}, "product"),
    ({"placement": "for_you", "user": "0"}, "user"),
    ({"placement": "for_you", "exclude_bought": "maybe"}, "exclude_bought"),
    ({"placement": "best_sellers", "category": "x" * 256}, "category"),
])
def test_bad_parameters_give_400_naming_the_field(db, params, field):
    response = APIClient().get(URL, params)

    assert response.status_code == 400
    assert field in response.json()


def test_similar_items_through_the_api_leave_out_the_product_itself(trained):
    product = trained["items"][1]

    response = APIClient().get(URL, {"placement": "similar", "product": str(product.pk), "limit": 3})

    products = [item["product"] for item in response.json()["items"]]
    assert len(products) == 3 and product.pk not in products


# --- template tags -----------------------------------------------------------------------------------------
def test_the_widget_shows_the_list_with_its_recommendation_id(trained):
    request = guest_request("guest-7")
    request.user = trained["users"][0]
    html = Template('{% load personalization_tags %}{% recommendations "for_you" limit=3 %}').render(
        Context({"request": request}))

    expected = serving.recommend("for_you", user=trained["users"][0], session_key="guest-7", limit=3,
                                 record_impressions=False)
    shown = [int(pk) for pk in re.findall(r'data-product-id="(\d+)"', html)]
    assert shown == expected.product_ids
    assert re.search(r'data-recommendation-id="\d+-for_you-[0-9a-f]{12}-[0-9a-f]{16}"', html)


def test_the_best_sellers_widget_leaves_out_the_product_of_the_page(trained):
    top = serving.recommend("best_sellers", session_key="g", limit=3, category="Garden").product_ids[0]
    page_product = Item.objects.get(pk=top)

    html = Template('{% load personalization_tags %}{% best_sellers category="Garden" product=page limit=3 %}').render(
        Context({"request": guest_request(), "page": page_product}))

    shown = [int(pk) for pk in re.findall(r'data-product-id="(\d+)"', html)]
    assert len(shown) == 3
    assert top not in shown


def test_the_widgets_of_one_page_do_not_repeat_each_other_s_products(trained):
    # given a product page with three widgets whose lists, alone, overlap
    page_product = trained["items"][1]
    alone = [set(serving.recommend(p, session_key="g", product_ids=[page_product.pk], limit=4,
                                   record_impressions=False).product_ids)
             for p in ("similar", "bought_together")]
    alone.append(set(serving.recommend("best_sellers", session_key="g", limit=4, record_impressions=False).product_ids))
    assert alone[0] & alone[1] or alone[0] & alone[2] or alone[1] & alone[2]

    # when they render on one page (one request)
    html = Template(
        "{% load personalization_tags %}{% similar_items page limit=4 %}{% bought_together page limit=4 %}"
        "{% best_sellers limit=4 %}"
    ).render(Context({"request": guest_request("g"), "page": page_product}))

    # then no product shows twice; the first widget shows its own list, the others fill past what it shows
    shown = [int(pk) for pk in re.findall(r'data-product-id="(\d+)"', html)]
    assert len(shown) == len(set(shown))
    assert set(shown[:len(alone[0])]) == alone[0]
    assert len(shown) >= len(alone[0] | alone[1] | alone[2])


def test_similar_items_widget_renders_nothing_without_a_product(trained):
    html = Template("{% load personalization_tags %}{% similar_items product %}").render(
        Context({"request": guest_request(), "product": None}))

    assert html.strip() == ""


# --- admin ---------------------------------------------------------------------------------------------------
def test_the_retrain_button_trains_a_new_version(shop, admin_client):
    response = admin_client.post("/admin/personalization/modelversion/retrain/", follow=True)

    assert response.status_code == 200
    assert ModelVersion.objects.filter(kind="recommender", status="active").count() == 1


def test_the_retrain_button_explains_when_there_is_nothing_to_learn(admin_client):
    response = admin_client.post("/admin/personalization/modelversion/retrain/", follow=True)

    assert "No purchases" in response.content.decode()
    assert not ModelVersion.objects.filter(status="active").exists()


def test_the_model_versions_page_charts_the_metrics_of_every_version(trained, admin_client):
    training.train("popular")

    html = admin_client.get("/admin/personalization/modelversion/").content.decode()

    assert html.count('<svg class="recommender-metrics"') == 1
    assert len(re.findall(r"<title>v\d+ ndcg@20 = ", html)) == 2


def test_staff_preview_a_customers_lists_with_sources(trained, admin_client):
    customer = trained["users"][0]

    response = admin_client.get("/admin/personalization/modelversion/preview/", {"user": customer.username})

    html = response.content.decode()

    assert "bought before" in html and "best seller" in html
    assert not Event.objects.filter(event_type="impression").exists()


# --- evaluate_recommenders ---------------------------------------------------------------------------------
def test_evaluate_recommenders_scores_each_configuration_as_json(shop):
    cutoff = (timezone.now() - dt.timedelta(days=30)).date().isoformat()
    out = io.StringIO()

    call_command("evaluate_recommenders", "--cutoff", cutoff, "--days", "30", "--json", stdout=out)

    result = json.loads(out.getvalue())
    assert set(result["results"]) == {"popular", "simple", "served"}  # served: what the nightly retrain serves
    assert result["results"]["served"]["config"]["model"] == "hybrid"
    assert result["results"]["simple"]["all"]["users"] == 24
    assert result["results"]["simple"]["all"]["ndcg@20"] > result["results"]["popular"]["all"]["ndcg@20"]


@pytest.mark.parametrize(("args", "message"), [
    (["--cutoff", "2024-13-01"], "--cutoff must be a date"),
    (["--cutoff", "2024-01-01", "--models", "magic"], "Unknown configuration"),
    (["--cutoff", "2024-01-01", "--days", "0"], "--days must be"),
    (["--cutoff", "2000-01-01"], "No purchases before"),
])
def test_evaluate_recommenders_refuses_bad_input_clearly(shop, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("evaluate_recommenders", *args)


def test_train_recommenders_command_reports_activation(shop):
    out = io.StringIO()

    call_command("train_recommenders", "--model", "simple", "--no-progress", stdout=out)

    assert "Activated." in out.getvalue()
    assert registry.active_version("recommender") is not None


def test_the_admin_starts_an_ab_test_and_shows_click_through_per_version(trained, admin_client):
    challenger = training.train("popular").version
    capture.insert_events([capture.build_event(
        event_type="impression", product_id=trained["items"][0].pk, user_id=trained["users"][0].pk,
        recommendation_id=serving.new_recommendation_id(challenger.pk, "for_you", user_id=trained["users"][0].pk))])

    admin_client.post("/admin/personalization/modelversion/",
                      {"action": "start_ab_test", "_selected_action": [challenger.pk]})
    html = admin_client.get("/admin/personalization/modelversion/").content.decode()

    assert experiments.challenger_version() == challenger
    assert f"A/B test: {challenger} serves 50% of visitors" in html
    assert f"<td>v{challenger.pk}</td><td>1</td><td>0</td>" in html
