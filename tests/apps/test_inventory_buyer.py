"""Restock a buyer trusts (issue #15, item 8): no negative safety stock, no orders without demand, supplier
minimums, whole packs, urgency order, purchase orders with costs and totals, only ordered ones received."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from inventory import services
from inventory.models import (
    DemandForecast,
    PurchaseOrder,
    PurchaseOrderLine,
    ReplenishmentPolicy,
    RestockSuggestion,
    Supplier,
)
from inventory.planning import PolicyValues
from inventory.purchasing import CSV_HEADER
from inventory.templatetags.inventory_tags import stock_badge_context
from tests.testhost.models import Department, Item

pytestmark = pytest.mark.django_db
TODAY = dt.date(2024, 3, 6)


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.INVENTORY = {"FORECASTER": "WindowAverage", "REFERENCE_TIME": TODAY.isoformat()}


@pytest.fixture
def staff():
    return get_user_model().objects.create_user("boss", password="pw", is_staff=True, is_superuser=True)


@pytest.fixture
def api(staff):
    client = APIClient()
    client.force_authenticate(staff)
    return client


def _item(code="A1", stock=0, price="10.00", cost="4.00"):
    dept, _ = Department.objects.get_or_create(title="Toys")
    return Item.objects.create(code=code, title=f"Item {code}", department=dept, price=Decimal(price),
                               cost=None if cost is None else Decimal(cost), stock=stock)


def _forecast(item, weekly_mean, history, demand_class="smooth"):
    return DemandForecast.objects.create(
        product=item, origin=TODAY - dt.timedelta(days=2), horizon=4, mean=[weekly_mean] * 4,
        quantiles={}, method="test", demand_class=demand_class, history=history,
    )


def _plan(on_hand=5, on_order=0, d=10.0, sigma=4.0, **policy):
    values = PolicyValues(**{"lead_time_days": 14.0, "review_period_days": 7.0, **policy})
    return services.compute_plan(services.PlanInput(on_hand, on_order, d, sigma, values, TODAY, Decimal("2.50")))


def _suggestion(item, **fields):
    values = {
        "planned_at": TODAY, "on_hand": 0, "on_order": 0, "forecast_demand": 20.0, "safety_stock": 3.0,
        "reorder_point": 13.0, "order_up_to": 23.0, "suggested_quantity": 23, "policy": {"lead_time_days": 7},
    }
    return RestockSuggestion.objects.create(product=item, **{**values, **fields})


def _ordered(item, quantity=5, arrival=None, status="ordered"):
    order = PurchaseOrder.objects.create(status=status, expected_arrival=arrival)
    order.lines.create(product=item, quantity=quantity, unit_cost=Decimal("4.00"))
    return order


# --- the plan -------------------------------------------------------------------------------------------
def test_a_product_without_demand_in_the_review_horizon_gets_no_order_and_no_stockout_warning():
    # given 0.1 units a week: 0.3 units over 2 weeks of lead time + 1 of review, below half a unit
    result = _plan(on_hand=0, d=0.1, sigma=0.3)
    # then
    assert result.suggested_quantity == 0
    assert (result.stockout_before_arrival, result.order_by_date, result.projected_stockout_date) == (
        False, None, None
    )
    assert result.lost_revenue_estimate == Decimal("0.00")
    assert not result.needs_attention


def test_a_policy_that_asks_orders_even_without_demand():
    assert _plan(on_hand=0, d=0.1, sigma=0.3, order_without_demand=True).suggested_quantity == 1


def test_the_no_demand_threshold_is_a_setting(settings):
    settings.INVENTORY = {**settings.INVENTORY, "NO_DEMAND_BELOW": 0.2}

    assert _plan(on_hand=0, d=0.1, sigma=0.3).suggested_quantity == 1


@pytest.mark.parametrize(("threshold", "expected"), [(0, 35), (35, 35), (36, 0), (100, 0)])
def test_do_not_order_below_drops_small_orders(threshold, expected):
    # wanted: order-up-to 39.3 - position 5 = 34.3 units -> 35
    assert _plan(do_not_order_below=threshold).suggested_quantity == expected


@pytest.mark.parametrize(
    "policy",
    [
        {"pack_size": 12},
        {"pack_size": 12, "min_order_quantity": 30},
        {"pack_size": 6, "max_days_of_cover": 20},
        {"pack_size": 10, "order_cost": 50.0},
        {"pack_size": 7, "review_policy": "RS"},
    ],
)
def test_quantities_are_whole_packs(policy):
    values = PolicyValues(**{"lead_time_days": 14.0, "review_period_days": 7.0, **policy})
    result = services.compute_plan(
        services.PlanInput(5, 0, 10.0, 4.0, values, TODAY, Decimal("2.50"), unit_cost=Decimal("1.00"))
    )

    assert result.suggested_quantity > 0
    assert isinstance(result.suggested_quantity, int)
    assert result.suggested_quantity % policy["pack_size"] == 0


def test_a_lumpy_product_is_stored_with_no_negative_safety_stock_and_figures_to_a_tenth():
    # given one big sale in 26 weeks: its 95 % lead-time-demand quantile is 0, below the mean
    item = _item(stock=0)
    _forecast(item, 4.0, [0.0] * 25 + [100.0], demand_class="lumpy")
    # when
    services.plan_restock(TODAY)
    # then
    suggestion = RestockSuggestion.objects.get(product=item)
    assert suggestion.safety_stock == 0.0
    assert suggestion.reorder_point == 4.0  # the mean demand over the default 7-day lead time
    for value in (suggestion.forecast_demand, suggestion.safety_stock, suggestion.reorder_point,
                  suggestion.order_up_to):
        assert value == round(value, 1)


def test_stored_figures_are_rounded_to_a_tenth_of_a_unit():
    item = _item(stock=0)
    _forecast(item, 3.0, [1.0, 5.0, 2.0, 4.0, 3.0, 7.0, 0.0, 2.0])

    services.plan_restock(TODAY)

    suggestion = RestockSuggestion.objects.get(product=item)
    assert [str(v) for v in (suggestion.safety_stock, suggestion.reorder_point, suggestion.order_up_to)] == [
        f"{v:.1f}" for v in (suggestion.safety_stock, suggestion.reorder_point, suggestion.order_up_to)
    ]
    assert suggestion.safety_stock > 0


def test_a_product_without_forecast_demand_gets_no_suggestion_in_the_plan():
    item = _item(stock=0)
    _forecast(item, 0.05, [0.0] * 25 + [1.0])

    summary = services.plan_restock(TODAY)

    assert summary.products == 1
    assert not RestockSuggestion.objects.filter(product=item).exists()


# --- supplier minimums ------------------------------------------------------------------------------------
def _supplied(supplier, *codes, weekly=10.0):
    items = [_item(code, stock=0) for code in codes]
    for item in items:
        _forecast(item, weekly, [weekly] * 8)
        ReplenishmentPolicy.objects.create(scope="product", product=item, supplier=supplier)
    return items


def test_suggestions_of_a_supplier_below_its_minimum_are_flagged_and_not_turned_into_an_order():
    # given a supplier taking 100 units at least, and two products wanting about 21 units each
    supplier = Supplier.objects.create(name="Kites Ltd", min_order_units=100)
    _supplied(supplier, "A1", "B1")
    # when
    services.plan_restock(TODAY)
    # then
    suggestions = list(RestockSuggestion.objects.order_by("product_id"))
    assert [s.below_supplier_minimum for s in suggestions] == [True, True]
    units = sum(s.suggested_quantity for s in suggestions)
    with pytest.raises(services.PurchasingError) as error:
        services.create_purchase_orders([s.pk for s in suggestions])
    assert str(error.value) == (
        f"Kites Ltd takes orders of at least 100 units; these come to {units}. "
        "Add suggestions of that supplier, or order it by hand."
    )
    assert PurchaseOrder.objects.count() == 0


def test_a_minimum_order_value_counts_the_unit_costs():
    # given two products at a unit cost of 4.00 and a supplier taking orders worth 150.00 at least
    supplier = Supplier.objects.create(name="Kites Ltd", min_order_value=Decimal("150.00"))
    _supplied(supplier, "A1", "B1")
    services.plan_restock(TODAY)
    suggestions = list(RestockSuggestion.objects.order_by("product_id"))
    value = sum(s.suggested_quantity for s in suggestions) * Decimal("4.00")
    # when only one is ordered, then refused; both together pass when they reach the minimum
    with pytest.raises(services.PurchasingError, match="worth at least 150.00"):
        services.create_purchase_orders([suggestions[0].pk])
    if value >= 150:
        assert [s.below_supplier_minimum for s in suggestions] == [False, False]
        assert len(services.create_purchase_orders([s.pk for s in suggestions])) == 1
    else:
        assert [s.below_supplier_minimum for s in suggestions] == [True, True]


def test_a_supplier_above_its_minimum_is_not_flagged():
    supplier = Supplier.objects.create(name="Kites Ltd", min_order_units=10)
    _supplied(supplier, "A1")

    services.plan_restock(TODAY)

    assert RestockSuggestion.objects.get().below_supplier_minimum is False


# --- purchase orders ----------------------------------------------------------------------------------
def test_a_purchase_order_from_suggestions_has_its_supplier_the_adapters_unit_costs_and_totals():
    supplier = Supplier.objects.create(name="Kites Ltd")
    cheap, dear, unknown = _item("A1", cost="1.25"), _item("B1", cost="4.00"), _item("C1", cost=None)
    ids = [_suggestion(i, supplier=supplier, suggested_quantity=q).pk for i, q in ((cheap, 12), (dear, 3),
                                                                                     (unknown, 5))]

    [order] = services.create_purchase_orders(ids)

    order = PurchaseOrder.objects.prefetch_related("lines").get(pk=order.pk)
    assert order.supplier == supplier
    lines = {line.product_id: (line.unit_cost, services.line_total(line)) for line in order.lines.all()}
    assert lines == {cheap.pk: (Decimal("1.25"), Decimal("15.00")), dear.pk: (Decimal("4.00"), Decimal("12.00")),
                     unknown.pk: (None, None)}
    assert services.order_total(order) == Decimal("27.00")


def test_only_an_ordered_purchase_order_can_be_received():
    item = _item(stock=2)
    draft = _ordered(item, status="draft")

    with pytest.raises(services.PurchasingError, match="is a draft: mark it ordered"):
        services.receive_purchase_order(draft.pk)
    services.mark_ordered([draft.pk])
    services.receive_purchase_order(draft.pk)

    item.refresh_from_db()
    assert item.stock == 7


def test_only_ordered_purchase_orders_drive_back_in_stock():
    item = _item(stock=0)
    _ordered(item, arrival=dt.date(2030, 1, 5), status="draft")
    assert stock_badge_context(item)["state"] == "out"

    _ordered(_item("B1"), arrival=dt.date(2030, 1, 5))  # another product's order says nothing of this one
    order = _ordered(item, arrival=dt.date(2030, 2, 9))

    assert stock_badge_context(item) == {"state": "incoming", "stock": 0, "arrival": order.expected_arrival}


def test_the_api_refuses_to_receive_a_draft_with_a_clear_409(api):
    item = _item(stock=0)
    draft = _ordered(item, status="draft")

    response = api.post(reverse("inventory-api:purchase-order-receive", kwargs={"pk": draft.pk}))

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"PO-{draft.pk} is a draft: mark it ordered (sent to the supplier) before receiving it."
    }
    item.refresh_from_db()
    assert item.stock == 0


def test_the_api_fills_a_missing_unit_cost_from_the_adapter_and_reports_totals(api):
    item, other = _item("A1", cost="2.50"), _item("B1", cost="3.00")
    supplier = Supplier.objects.create(name="Kites Ltd")

    response = api.post(
        reverse("inventory-api:purchase-orders"),
        {"supplier": supplier.pk,
         "lines": [{"product": item.pk, "quantity": 4}, {"product": other.pk, "quantity": 2, "unit_cost": "1.00"}]},
        format="json",
    )

    assert response.status_code == 201
    detail = api.get(reverse("inventory-api:purchase-order", kwargs={"pk": response.json()["id"]})).json()
    assert detail["supplier_name"] == "Kites Ltd"
    assert detail["lines"] == [
        {"product": item.pk, "quantity": 4, "unit_cost": "2.50", "line_total": "10.00"},
        {"product": other.pk, "quantity": 2, "unit_cost": "1.00", "line_total": "2.00"},
    ]
    assert detail["total"] == "12.00"


@pytest.mark.parametrize(
    ("line", "field"),
    [({"quantity": 1, "unit_cost": "-5"}, "unit_cost"), ({"quantity": -1}, "quantity"), ({"quantity": 0}, "quantity")],
)
def test_the_api_refuses_negative_costs_and_quantities(api, line, field):
    item = _item()

    response = api.post(
        reverse("inventory-api:purchase-orders"), {"lines": [{"product": item.pk, **line}]}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["lines"]["0"]) == [field]
    assert PurchaseOrder.objects.count() == 0


def test_the_csv_of_a_purchase_order_has_lines_costs_and_totals(api):
    item = _item()
    order = PurchaseOrder.objects.create(supplier=Supplier.objects.create(name="Kites Ltd"), reference="K-1")
    order.lines.create(product=item, quantity=3, unit_cost=Decimal("2.50"))

    response = api.get(reverse("inventory-api:purchase-order-csv", kwargs={"pk": order.pk}))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        list(CSV_HEADER),
        [f"PO-{order.pk} (Kites Ltd)", "Kites Ltd", "draft", "", "K-1", str(item.pk), "Item A1", "3", "2.50", "7.50"],
        [f"PO-{order.pk} (Kites Ltd)", "Kites Ltd", "draft", "", "K-1", "", "TOTAL", "3", "", "7.50"],
    ]


# --- urgency order ------------------------------------------------------------------------------------------
def _by_urgency():
    a, b, c, d = (_item(code) for code in ("A1", "B1", "C1", "D1"))
    later = _suggestion(a, order_by_date=TODAY + dt.timedelta(days=9), lost_revenue_estimate=Decimal("500"))
    no_date = _suggestion(b, order_by_date=None, lost_revenue_estimate=Decimal("900"))
    soon_small = _suggestion(c, order_by_date=TODAY, lost_revenue_estimate=Decimal("10"))
    soon_big = _suggestion(d, order_by_date=TODAY, lost_revenue_estimate=Decimal("80"))
    return [soon_big.pk, soon_small.pk, later.pk, no_date.pk]


def test_the_api_lists_suggestions_by_order_by_date_then_lost_revenue(api):
    expected = _by_urgency()

    response = api.get(reverse("inventory-api:suggestions"))

    assert [row["id"] for row in response.json()["results"]] == expected


def test_the_admin_lists_suggestions_by_urgency(client, staff):
    expected = _by_urgency()
    client.force_login(staff)

    response = client.get(reverse("admin:inventory_restocksuggestion_changelist"))

    assert [obj.pk for obj in response.context["cl"].result_list] == expected


# --- the admin -------------------------------------------------------------------------------------------
def test_the_planners_figures_are_read_only_in_the_admin(client, staff):
    suggestion = _suggestion(_item())
    client.force_login(staff)

    form = client.get(reverse("admin:inventory_restocksuggestion_change", args=[suggestion.pk])).context[
        "adminform"
    ].form

    assert set(form.fields) == {"status", "snoozed_until"}


def test_the_admin_refuses_to_receive_a_draft_and_says_why(client, staff):
    item = _item(stock=0)
    draft = _ordered(item, status="draft")
    client.force_login(staff)

    response = client.post(
        reverse("admin:inventory_purchaseorder_changelist"),
        {"action": "receive", "_selected_action": [draft.pk]},
        follow=True,
    )

    messages = [str(m) for m in response.context["messages"]]
    assert messages == [f"PO-{draft.pk} is a draft: mark it ordered (sent to the supplier) before receiving it."]
    assert PurchaseOrder.objects.get(pk=draft.pk).status == "draft"
    item.refresh_from_db()
    assert item.stock == 0


def test_the_admin_exports_selected_purchase_orders_as_csv(client, staff):
    order = _ordered(_item(), quantity=4)
    client.force_login(staff)

    response = client.post(
        reverse("admin:inventory_purchaseorder_changelist"), {"action": "export_csv", "_selected_action": [order.pk]}
    )

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[-1][-5:] == ["", "TOTAL", "4", "", "16.00"]


def test_the_admin_shows_totals_and_fills_unit_costs_from_the_adapter(client, staff):
    item = _item(cost="2.50")
    client.force_login(staff)

    response = client.post(
        reverse("admin:inventory_purchaseorder_add"),
        {
            "reference": "", "expected_arrival": "", "supplier": "",
            "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0",
            "lines-MAX_NUM_FORMS": "1000", "lines-0-product": str(item.pk), "lines-0-quantity": "4",
            "lines-0-unit_cost": "",
        },
    )

    assert response.status_code == 302
    order = PurchaseOrder.objects.get()
    assert order.lines.get().unit_cost == Decimal("2.50")
    page = client.get(reverse("admin:inventory_purchaseorder_changelist")).content.decode()
    assert "10.00" in page


def test_the_admin_refuses_a_negative_unit_cost(client, staff):
    item = _item()
    client.force_login(staff)

    response = client.post(
        reverse("admin:inventory_purchaseorder_add"),
        {
            "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0",
            "lines-MAX_NUM_FORMS": "1000", "lines-0-product": str(item.pk), "lines-0-quantity": "1",
            "lines-0-unit_cost": "-5",
        },
    )

    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 0." in response.content.decode()
    assert PurchaseOrder.objects.count() == 0


# --- validation of every number ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "fields", "error_field"),
    [
        (Supplier, {"name": "S", "min_order_value": Decimal("-1")}, "min_order_value"),
        (ReplenishmentPolicy, {"scope": "global", "pack_size": 0}, "pack_size"),
        (ReplenishmentPolicy, {"scope": "global", "review_period_days": -7}, "review_period_days"),
        (ReplenishmentPolicy, {"scope": "global", "holding_cost_rate": -0.1}, "holding_cost_rate"),
    ],
)
def test_negative_numbers_are_refused_by_validation(model, fields, error_field):
    with pytest.raises(ValidationError) as info:
        model(**fields).full_clean()

    assert error_field in info.value.message_dict


@pytest.mark.parametrize(
    "field", ["on_order", "forecast_demand", "safety_stock", "reorder_point", "order_up_to", "lost_revenue_estimate"]
)
def test_a_suggestion_with_a_negative_figure_is_refused_by_validation_and_by_the_database(field):
    item = _item()
    suggestion = RestockSuggestion(product=item, planned_at=TODAY, on_hand=0, on_order=0, forecast_demand=1,
                                   safety_stock=1, reorder_point=1, order_up_to=2, suggested_quantity=1)
    setattr(suggestion, field, -1)

    with pytest.raises(ValidationError) as info:
        suggestion.full_clean()
    assert field in info.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        suggestion.save()


def test_the_database_refuses_a_negative_unit_cost():
    order = PurchaseOrder.objects.create()

    with pytest.raises(ValidationError):
        PurchaseOrderLine(purchase_order=order, product=_item(), quantity=1, unit_cost=Decimal("-5")).full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        PurchaseOrderLine.objects.create(purchase_order=order, product=_item("B1"), quantity=1,
                                         unit_cost=Decimal("-5"))


def test_a_received_purchase_order_cannot_be_deleted_in_the_admin(client, staff):
    item = _item(stock=0)
    received = _ordered(item, status="received")
    draft = _ordered(item, status="draft")
    client.force_login(staff)

    assert client.get(reverse("admin:inventory_purchaseorder_delete", args=[received.pk])).status_code == 403
    selection = {"action": "delete_selected", "_selected_action": [received.pk, draft.pk]}
    confirmation = client.post(reverse("admin:inventory_purchaseorder_changelist"), selection)
    forced = client.post(reverse("admin:inventory_purchaseorder_changelist"), {**selection, "post": "yes"})

    assert "Cannot delete purchase orders" in confirmation.content.decode()  # no button to confirm
    assert forced.status_code == 403
    assert set(PurchaseOrder.objects.values_list("pk", flat=True)) == {received.pk, draft.pk}
    client.post(reverse("admin:inventory_purchaseorder_changelist"),
                {"action": "delete_selected", "_selected_action": [draft.pk], "post": "yes"})
    assert list(PurchaseOrder.objects.values_list("pk", flat=True)) == [received.pk]


def test_a_forecast_is_shown_not_edited_in_the_admin(client, staff):
    forecast = _forecast(_item(), 3.0, [1, 2, 3])
    client.force_login(staff)
    url = reverse("admin:inventory_demandforecast_change", args=[forecast.pk])

    page = client.get(url)
    client.post(url, {"mean": "[99, 99, 99, 99]", "method": "edited", "origin": "2020-01-01", "horizon": 4})

    assert page.status_code == 200
    assert set(page.context["adminform"].form.fields) == set()  # every field shown read-only
    assert "Save" not in page.content.decode()
    forecast.refresh_from_db()
    assert (forecast.mean, forecast.method) == ([3.0] * 4, "test")
