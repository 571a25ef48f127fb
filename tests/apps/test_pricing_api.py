from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from pricing import services
from pricing.models import PriceChange, PricingSettings
from tests.apps.test_pricing_support import make_item, make_policy

pytestmark = pytest.mark.django_db
ALL_PERMS = ("view_pricesuggestion", "change_pricesuggestion", "add_pricechange", "view_pricechange")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def suggestion():
    item = make_item(price="10.00")
    make_policy(absolute_floor=Decimal("10.99"), ceiling=Decimal("10.99"))
    return services.generate_suggestions([item]).created[0]


def _user(django_user_model, *, staff=True, perms=ALL_PERMS):
    user = django_user_model.objects.create_user("u", is_staff=staff)
    user.user_permissions.set(Permission.objects.filter(codename__in=perms))
    return user


def test_anyone_gets_current_and_prior_prices(api):
    reduced = make_item(code="R", price="20.00", cost="1.00")
    plain = make_item(code="P", price="5.00")
    services.write_price(reduced, Decimal("16.00"))

    response = api.get(f"/api/pricing/prices/?products={reduced.pk},{plain.pk},999999")

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"product": reduced.pk, "price": "16.00", "prior_price": "20.00", "currency": "£"},
            {"product": plain.pk, "price": "5.00", "prior_price": None, "currency": "£"},
        ]
    }


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?products=",
        "?products=a,b",
        "?products=1,-2",
        "?products=1.5",
        "?products=" + ",".join(str(i) for i in range(1, 102)),
    ],
)
def test_bad_product_ids_get_a_400_with_a_message(api, query):
    response = api.get(f"/api/pricing/prices/{query}")

    assert response.status_code == 400
    assert list(response.json()) == ["products"]


def test_anonymous_visitors_and_customers_cannot_see_or_change_suggestions(api, django_user_model, suggestion):
    anonymous = [
        api.get("/api/pricing/suggestions/").status_code,
        api.post(f"/api/pricing/suggestions/{suggestion.pk}/apply/").status_code,
    ]
    api.force_authenticate(_user(django_user_model, staff=False))
    customer = [
        api.get("/api/pricing/suggestions/").status_code,
        api.post(f"/api/pricing/suggestions/{suggestion.pk}/apply/").status_code,
        api.get("/api/pricing/history/").status_code,
    ]

    assert anonymous == [403, 403]  # session authentication first: 403, not 401
    assert customer == [403, 403, 403]
    suggestion.refresh_from_db()
    assert suggestion.status == "pending"


@pytest.mark.parametrize(
    "perms, codes",
    [
        (("view_pricesuggestion",), (200, 403, 403)),
        (("view_pricesuggestion", "change_pricesuggestion"), (200, 200, 403)),
        (ALL_PERMS, (200, 200, 200)),
    ],
)
def test_staff_endpoints_follow_the_model_permissions(api, django_user_model, suggestion, perms, codes):
    api.force_authenticate(_user(django_user_model, perms=perms))

    got = (
        api.get("/api/pricing/suggestions/?status=pending").status_code,
        api.post(f"/api/pricing/suggestions/{suggestion.pk}/approve/").status_code,
        api.post(f"/api/pricing/suggestions/{suggestion.pk}/apply/").status_code,
    )

    assert got == codes


def test_staff_list_approve_apply_and_read_the_history(api, django_user_model, suggestion):
    staff = _user(django_user_model)
    api.force_authenticate(staff)

    listed = api.get("/api/pricing/suggestions/?status=pending").json()
    applied = api.post(f"/api/pricing/suggestions/{suggestion.pk}/apply/").json()
    history = api.get(f"/api/pricing/history/?product={suggestion.product_id}").json()

    assert [row["id"] for row in listed["results"]] == [suggestion.pk]
    assert (applied["status"], applied["decided_by"]) == ("applied", staff.pk)
    assert [(row["old_price"], row["new_price"], row["source"], row["changed_by"]) for row in history["results"]] == [
        ("10.00", "10.99", "suggestion", staff.pk)
    ]


def test_rejecting_needs_a_reason(api, django_user_model, suggestion):
    api.force_authenticate(_user(django_user_model))

    missing = api.post(f"/api/pricing/suggestions/{suggestion.pk}/reject/", {}, format="json")
    given = api.post(f"/api/pricing/suggestions/{suggestion.pk}/reject/", {"reason": "too high"}, format="json")

    assert (missing.status_code, list(missing.json())) == (400, ["reason"])
    assert (given.status_code, given.json()["status"], given.json()["reason"]) == (200, "rejected", "too high")


@pytest.mark.parametrize(
    "setup, message",
    [
        ("pause", "Pricing is paused"),
        ("breaker", "Circuit breaker: change of +9.9%"),
    ],
)
def test_a_refused_change_answers_409_with_the_reason(api, django_user_model, suggestion, setup, message):
    row = PricingSettings.load()
    if setup == "pause":
        row.paused = True
    else:
        row.breaker_max_change = Decimal("0.05")
    row.save()
    api.force_authenticate(_user(django_user_model))

    response = api.post(f"/api/pricing/suggestions/{suggestion.pk}/apply/")

    assert response.status_code == 409
    assert response.json()["detail"].startswith(message)
    assert PriceChange.objects.count() == 0


@pytest.mark.parametrize("query", ["?status=bogus", "?product=x"])
def test_bad_filters_get_a_400(api, django_user_model, query):
    api.force_authenticate(_user(django_user_model))
    url = "/api/pricing/suggestions/" if "status" in query else "/api/pricing/history/"

    assert api.get(url + query).status_code == 400


def test_the_schema_documents_the_pricing_endpoints(api, django_user_model):
    api.force_authenticate(_user(django_user_model))

    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    paths = {p for p in schema["paths"] if p.startswith("/api/pricing/")}
    assert paths == {
        "/api/pricing/prices/",
        "/api/pricing/suggestions/",
        "/api/pricing/suggestions/{id}/",
        "/api/pricing/suggestions/{id}/approve/",
        "/api/pricing/suggestions/{id}/reject/",
        "/api/pricing/suggestions/{id}/apply/",
        "/api/pricing/history/",
    }
