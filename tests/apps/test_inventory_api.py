"""Inventory staff API, admin actions and the storefront stock badge, against the test host app."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.urls import reverse
from django.utils.html import strip_tags
from rest_framework.test import APIClient

from inventory.models import DemandForecast, PurchaseOrder, RestockSuggestion
from tests.testhost.models import Department, Item

pytestmark = pytest.mark.django_db
TODAY = dt.date(2024, 3, 6)


@pytest.fixture
def item():
    dept = Department.objects.create(title="Toys")
    return Item.objects.create(code="A1", title="Kite", department=dept, price=Decimal("10.00"), stock=0)


@pytest.fixture
def staff():
    return get_user_model().objects.create_user("boss", password="pw", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(staff):
    client = APIClient()
    client.force_authenticate(staff)
    return client


def _suggestion(item, **fields):
    values = {
        "planned_at": TODAY,
        "on_hand": 0,
        "on_order": 0,
        "forecast_demand": 20.0,
        "safety_stock": 3.0,
        "reorder_point": 13.0,
        "order_up_to": 23.0,
        "suggested_quantity": 23,
        "policy": {"lead_time_days": 7},
    }
    return RestockSuggestion.objects.create(product=item, **{**values, **fields})


URLS = [
    ("get", "inventory-api:forecasts", {}),
    ("get", "inventory-api:suggestions", {}),
    ("post", "inventory-api:suggestion-order", {}),
    ("get", "inventory-api:purchase-orders", {}),
    ("post", "inventory-api:purchase-orders", {}),
    ("post", "inventory-api:purchase-order-receive", {"pk": 1}),
]


@pytest.mark.parametrize(("method", "name", "kwargs"), URLS)
def test_anonymous_visitors_get_401_or_403(method, name, kwargs):
    response = getattr(APIClient(), method)(reverse(name, kwargs=kwargs), {}, format="json")

    assert response.status_code in (401, 403)


@pytest.mark.parametrize(("method", "name", "kwargs"), URLS)
def test_customers_get_403(method, name, kwargs):
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("cust", password="pw"))

    response = getattr(client, method)(reverse(name, kwargs=kwargs), {}, format="json")

    assert response.status_code == 403


@pytest.mark.parametrize("query", ["?status=nonsense", "?exception=lots", "?status=open&exception=all"])
def test_bad_suggestion_filters_are_400(staff_client, query):
    assert staff_client.get(reverse("inventory-api:suggestions") + query).status_code == 400


def test_a_bad_product_filter_is_400(staff_client):
    assert staff_client.get(reverse("inventory-api:forecasts") + "?product=abc").status_code == 400


def test_staff_list_the_latest_forecasts(staff_client, item):
    for origin in (dt.date(2024, 2, 26), dt.date(2024, 3, 4)):
        DemandForecast.objects.create(product=item, origin=origin, horizon=1, mean=[4.0], method="TSB")

    response = staff_client.get(reverse("inventory-api:forecasts") + f"?product={item.pk}")

    assert response.status_code == 200
    assert [(r["origin"], r["mean"]) for r in response.json()["results"]] == [("2024-03-04", [4.0])]


def test_staff_filter_suggestions_by_exception(staff_client, item):
    flagged = _suggestion(item, stockout_before_arrival=True)

    response = staff_client.get(reverse("inventory-api:suggestions") + "?exception=stockout&status=open")

    assert [r["id"] for r in response.json()["results"]] == [flagged.pk]


@pytest.mark.parametrize("body", [{}, {"suggestions": []}, {"suggestions": ["x"]}, {"suggestions": [999999]}])
def test_ordering_bad_or_unknown_suggestions_is_400(staff_client, body):
    assert staff_client.post(reverse("inventory-api:suggestion-order"), body, format="json").status_code == 400


def test_staff_turn_a_suggestion_into_an_order_and_receive_it(staff_client, item):
    suggestion = _suggestion(item)

    created = staff_client.post(
        reverse("inventory-api:suggestion-order"), {"suggestions": [suggestion.pk]}, format="json"
    )
    order_id = created.json()[0]["id"]
    draft = staff_client.post(reverse("inventory-api:purchase-order-receive", kwargs={"pk": order_id}))
    ordered = staff_client.post(reverse("inventory-api:purchase-order-order", kwargs={"pk": order_id}))
    received = staff_client.post(reverse("inventory-api:purchase-order-receive", kwargs={"pk": order_id}))
    again = staff_client.post(reverse("inventory-api:purchase-order-receive", kwargs={"pk": order_id}))

    assert created.status_code == 201
    assert created.json()[0]["lines"] == [{"product": item.pk, "quantity": 23, "unit_cost": None, "line_total": None}]
    assert (draft.status_code, draft.json()["detail"]) == (
        409, f"PO-{order_id} is a draft: mark it ordered (sent to the supplier) before receiving it."
    )
    assert ordered.status_code == 200
    assert (received.status_code, received.json()["status"]) == (200, "received")
    assert again.status_code == 409
    item.refresh_from_db()
    assert item.stock == 23


@pytest.mark.parametrize(
    "lines",
    [[], [{"product": 999999, "quantity": 1}], [{"product": "ITEM", "quantity": 0}], "ITEM_TWICE"],
)
def test_bad_purchase_orders_are_400(staff_client, item, lines):
    if lines == "ITEM_TWICE":
        lines = [{"product": item.pk, "quantity": 1}, {"product": item.pk, "quantity": 2}]
    lines = [{**line, "product": item.pk} if line.get("product") == "ITEM" else line for line in lines]

    response = staff_client.post(reverse("inventory-api:purchase-orders"), {"lines": lines}, format="json")

    assert response.status_code == 400
    assert PurchaseOrder.objects.count() == 0


def test_snoozing_through_the_api_and_snoozing_twice_conflicts(staff_client, item):
    suggestion = _suggestion(item)
    url = reverse("inventory-api:suggestion-status", kwargs={"pk": suggestion.pk})

    first = staff_client.post(url, {"status": "dismissed"}, format="json")
    second = staff_client.post(url, {"status": "dismissed"}, format="json")
    bad = staff_client.post(url, {"status": "eaten"}, format="json")

    assert (first.status_code, first.json()["status"]) == (200, "dismissed")
    assert (second.status_code, bad.status_code) == (409, 400)


def test_the_admin_action_creates_a_purchase_order(client, staff, item):
    suggestion = _suggestion(item)
    client.force_login(staff)

    response = client.post(
        reverse("admin:inventory_restocksuggestion_changelist"),
        {"action": "create_purchase_order", "_selected_action": [suggestion.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert list(PurchaseOrder.objects.values_list("status", "lines__quantity")) == [("draft", 23)]
    assert RestockSuggestion.objects.get(pk=suggestion.pk).status == "ordered"


def test_the_admin_pages_render_with_the_chart(client, staff, item):
    forecast = DemandForecast.objects.create(
        product=item,
        origin=dt.date(2024, 3, 4),
        horizon=2,
        mean=[4.0, 5.0],
        quantiles={"q50": [4.0, 5.0], "q90": [7.0, 8.0]},
        method="TSB",
        history=[3.0, 0.0, 6.0],
    )
    suggestion = _suggestion(item, forecast=forecast)
    client.force_login(staff)

    pages = [
        reverse("admin:inventory_restocksuggestion_change", args=[suggestion.pk]),
        reverse("admin:inventory_demandforecast_change", args=[forecast.pk]),
        reverse("admin:inventory_restocksuggestion_changelist") + "?exception=any",
        reverse("admin:inventory_purchaseorder_add"),
        reverse("admin:inventory_replenishmentpolicy_add"),
    ]
    responses = [client.get(url) for url in pages]

    assert [r.status_code for r in responses] == [200] * 5
    assert responses[0].content.count(b'class="inventory-forecast-chart"') == 1
    assert b'class="band"' in responses[1].content


def test_an_invalid_policy_is_refused_by_the_admin_form(client, staff):
    client.force_login(staff)

    response = client.post(
        reverse("admin:inventory_replenishmentpolicy_add"),
        {
            "scope": "global",
            "lead_time_days": "0",
            "lead_time_std_days": "0",
            "review_period_days": "7",
            "service_level_type": "csl",
            "service_level": "0.95",
            "min_order_quantity": "0",
            "pack_size": "1",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert "The lead time must be more than 0 days." in response.content.decode()


def _badge(product):
    return Template("{% load inventory_tags %}{% stock_badge product %}").render(Context({"product": product})).strip()


@pytest.mark.parametrize(
    ("stock", "expected"),
    [(3, "In stock, only 3 left"), (5, "In stock, only 5 left"), (6, "In stock"), (0, "Out of stock")],
)
def test_the_stock_badge(item, stock, expected):
    item.stock = stock

    assert strip_tags(_badge(item)) == expected


def test_an_out_of_stock_product_with_an_open_order_shows_its_arrival(item):
    order = PurchaseOrder.objects.create(status="ordered", expected_arrival=dt.date(2030, 5, 12))
    order.lines.create(product=item, quantity=10)

    assert strip_tags(_badge(item)) == "Back in stock on 12 May 2030"


def _forecast_for(item, mean):
    return DemandForecast.objects.create(product=item, origin=dt.date(2024, 3, 4), horizon=len(mean), mean=mean,
                                         quantiles={"q50": mean, "q90": mean}, method="TSB", history=[5.0] * 4)


def test_projected_stock_takes_out_the_forecast_and_adds_open_orders_when_they_arrive(item):
    from inventory.dashboard import projected_stock

    suggestion = _suggestion(item, on_hand=12, forecast=_forecast_for(item, [5.0, 5.0, 5.0, 5.0]))
    arriving = PurchaseOrder.objects.create(status="ordered", expected_arrival=dt.date(2024, 3, 19))  # week 3
    arriving.lines.create(product=item, quantity=20)
    PurchaseOrder.objects.create(status="cancelled", expected_arrival=dt.date(2024, 3, 12)).lines.create(
        product=item, quantity=99)  # cancelled: never arrives

    projection = projected_stock(suggestion)

    assert projection.incoming == [0, 0, 20, 0]
    assert projection.stock == [7.0, 2.0, 17.0, 12.0]  # 12 - 5, - 5, + 20 - 5, - 5


def test_the_exceptions_dashboard_counts_and_ranks_the_open_suggestions(client, staff, item):
    dept = item.department
    kite2 = Item.objects.create(code="A2", title="Big kite", department=dept, price=Decimal("10.00"), stock=0)
    ball = Item.objects.create(code="B1", title="Ball", department=dept, price=Decimal("10.00"), stock=90)
    old = Item.objects.create(code="C1", title="Old yoyo", department=dept, price=Decimal("10.00"), stock=40)
    _suggestion(item, stockout_before_arrival=True, lost_revenue_estimate=Decimal("50.00"), order_by_date=TODAY)
    _suggestion(kite2, stockout_before_arrival=True, lost_revenue_estimate=Decimal("80.00"))
    _suggestion(ball, on_hand=90, excess=True, suggested_quantity=0)
    _suggestion(old, on_hand=40, dead_stock=True, suggested_quantity=0, status="dismissed")  # not open: left out
    client.force_login(staff)

    response = client.get(reverse("admin:inventory_restocksuggestion_dashboard"))

    assert response.status_code == 200
    summary = response.context["summary"]
    assert [(g.key, g.count) for g in summary.groups] == [("stockout", 2), ("excess", 1), ("dead", 0)]
    assert [s.product_id for s in summary.groups[0].top] == [kite2.pk, item.pk]  # most lost revenue first
    assert (summary.open_suggestions, summary.to_order, summary.lost_revenue) == (3, 2, Decimal("130.00"))
    page = strip_tags(response.content.decode())
    assert "Stocks out before the next arrival: 2" in page and "Big kite" in page and "Old yoyo" not in page
    changelist = client.get(reverse("admin:inventory_restocksuggestion_changelist"))
    assert reverse("admin:inventory_restocksuggestion_dashboard") in changelist.content.decode()


def test_the_suggestion_page_draws_the_projected_stock(client, staff, item):
    suggestion = _suggestion(item, on_hand=3, forecast=_forecast_for(item, [5.0, 5.0]))
    client.force_login(staff)

    page = client.get(reverse("admin:inventory_restocksuggestion_change", args=[suggestion.pk])).content

    assert page.count(b'class="inventory-projection-chart"') == 1
    assert page.count(b'class="short"') == 2  # 3 - 5 and 3 - 10 units: both weeks short


def test_the_exceptions_endpoint_gives_the_dashboard_summary(staff_client, item):
    _suggestion(item, stockout_before_arrival=True, lost_revenue_estimate=Decimal("12.50"))

    body = staff_client.get(reverse("inventory-api:exceptions")).json()

    assert (body["open_suggestions"], body["to_order"], body["lost_revenue"]) == (1, 1, "12.50")
    assert [(g["key"], g["count"]) for g in body["groups"]] == [("stockout", 1), ("excess", 0), ("dead", 0)]
    assert body["groups"][0]["top"][0]["product"] == item.pk
