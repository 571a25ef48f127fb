"""Inventory services against the test host app: plan maths, rounding, on-order counting, receiving, forecasts."""

import datetime as dt
import math
import statistics
from decimal import Decimal
from statistics import NormalDist

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inventory import services
from inventory.models import DemandForecast, PurchaseOrder, ReplenishmentPolicy, RestockSuggestion, Supplier
from inventory.planning import PolicyResolver, PolicyValues
from personalization.host.adapters import get_adapter
from personalization.models import ModelVersion
from tests.testhost.models import Department, Item, Purchase, PurchaseLine

pytestmark = pytest.mark.django_db
TODAY = dt.date(2024, 3, 6)  # a Wednesday
Z95 = 1.6448536269514722


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.INVENTORY = {"FORECASTER": "WindowAverage", "REFERENCE_TIME": TODAY.isoformat()}


def _item(code="A1", stock=0, price="10.00", department="Toys"):
    dept, _ = Department.objects.get_or_create(title=department)
    return Item.objects.create(code=code, title=f"Item {code}", department=dept, price=Decimal(price), stock=stock)


def _forecast(item, weekly_mean, history, demand_class="smooth"):
    return DemandForecast.objects.create(
        product=item,
        origin=TODAY - dt.timedelta(days=2),
        horizon=4,
        mean=[weekly_mean] * 4,
        quantiles={"q50": [weekly_mean] * 4, "q90": [weekly_mean * 1.5] * 4},
        method="test",
        demand_class=demand_class,
        history=history,
    )


def _plan(on_hand=5, on_order=0, d=10.0, sigma=4.0, **policy):
    values = PolicyValues(**{"lead_time_days": 14.0, "review_period_days": 7.0, **policy})
    return services.compute_plan(services.PlanInput(on_hand, on_order, d, sigma, values, TODAY, Decimal("2.50")))


def test_the_plan_follows_the_textbook_formulas_in_weeks():
    result = _plan()

    ss = Z95 * math.sqrt(2 * 4.0**2)  # L = 14 days = 2 weeks, sigma 4 units per week
    assert result.safety_stock == pytest.approx(ss)
    assert result.reorder_point == pytest.approx(10 * 2 + ss)
    assert result.order_up_to == pytest.approx(10 * 3 + ss)
    assert result.forecast_demand == pytest.approx(30.0)
    assert result.suggested_quantity == math.ceil(10 * 3 + ss - 5)
    assert result.projected_stockout_date == TODAY + dt.timedelta(days=3)  # 5 units at 10/7 a day
    assert result.order_by_date == TODAY  # already below the reorder point
    assert result.lost_revenue_estimate == Decimal("37.50")  # (20 - 5) units short before arrival x 2.50
    assert (result.stockout_before_arrival, result.excess, result.dead_stock) == (True, False, False)


def test_lead_time_spread_raises_the_safety_stock():
    result = _plan(lead_time_std_days=7.0)

    assert result.safety_stock == pytest.approx(Z95 * math.sqrt(2 * 16 + 100 * 1))


def test_a_fill_rate_target_needs_less_safety_stock_than_the_same_cycle_service_level():
    cycle, fill = _plan(service_level=0.95), _plan(service_level=0.95, service_level_type="fill_rate")

    assert 0 <= fill.safety_stock < cycle.safety_stock


@pytest.mark.parametrize(
    ("pack_size", "moq", "expected"),
    [(1, 0, 35), (12, 0, 36), (12, 48, 48), (10, 5, 40), (1, 100, 100)],
)
def test_the_quantity_is_rounded_up_to_packs_and_the_minimum_order(pack_size, moq, expected):
    # wanted: order-up-to 39.3 - position 5 = 34.3 units
    assert _plan(pack_size=pack_size, min_order_quantity=moq).suggested_quantity == expected


def test_the_cover_cap_limits_the_quantity_in_whole_packs():
    # 21 days of cover at 10 a week = 30 units; position 5 leaves room for 25 -> two packs of 12
    assert _plan(pack_size=12, max_days_of_cover=21).suggested_quantity == 24


def test_stock_above_the_reorder_point_orders_nothing():
    assert _plan(on_hand=35).suggested_quantity == 0


def test_the_most_specific_policy_wins(settings):
    item, other = _item("A1"), _item("B1", department="Garden")
    ReplenishmentPolicy.objects.create(scope="global", lead_time_days=3)
    ReplenishmentPolicy.objects.create(scope="category", category="Toys", lead_time_days=10)
    ReplenishmentPolicy.objects.create(scope="product", product=item, lead_time_days=20)

    resolver = PolicyResolver()

    assert resolver.for_product(item.pk, ["Toys"]).lead_time_days == 20
    assert resolver.for_product(other.pk, ["Toys"]).lead_time_days == 10
    assert resolver.for_product(other.pk, ["Garden"]).lead_time_days == 3


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"scope": "product"}, "product"),
        ({"scope": "category", "category": ""}, "category"),
        ({"scope": "global", "lead_time_days": 0}, "lead_time_days"),
        ({"scope": "global", "service_level": 1.0}, "service_level"),
        ({"scope": "global", "pack_size": 0}, "pack_size"),
        ({"scope": "global", "lead_time_std_days": -1}, "lead_time_std_days"),
        ({"scope": "global", "max_days_of_cover": 3, "lead_time_days": 7}, "max_days_of_cover"),
        ({"scope": "global", "holding_cost_rate": 0}, "holding_cost_rate"),
        ({"scope": "global", "order_cost": Decimal("-1")}, "order_cost"),
        ({"scope": "global", "order_cost": Decimal("5"), "review_policy": "RS"}, "order_cost"),
    ],
)
def test_policy_validation_names_the_bad_field(fields, error_field):
    with pytest.raises(ValidationError) as info:
        ReplenishmentPolicy(**fields).full_clean()

    assert error_field in info.value.message_dict


def test_planning_twice_keeps_one_open_suggestion_per_product():
    item = _item("A1", stock=5)
    _forecast(item, 10.0, [6.0, 14.0] * 13)

    services.plan_restock(TODAY)
    summary = services.plan_restock(TODAY)

    assert (summary.created, summary.updated) == (0, 1)
    assert RestockSuggestion.objects.filter(product_id=item.pk).count() == 1


def test_an_order_placed_from_a_suggestion_counts_as_on_order_and_is_not_suggested_again():
    item = _item("A1", stock=5)
    _forecast(item, 10.0, [6.0, 14.0] * 13)
    services.plan_restock(TODAY)
    suggestion = RestockSuggestion.objects.get(product_id=item.pk, status="open")

    [order] = services.create_purchase_orders([suggestion.pk])
    services.mark_ordered([order.pk])
    services.plan_restock(TODAY)

    assert order.lines.get().quantity == suggestion.suggested_quantity
    assert services.on_order_by_product() == {item.pk: suggestion.suggested_quantity}
    # still flagged (5 on hand run out before the order arrives) but with nothing more to order
    assert list(RestockSuggestion.objects.filter(status="open").values_list("suggested_quantity", "on_order")) == [
        (0, suggestion.suggested_quantity)
    ]
    assert RestockSuggestion.objects.get(pk=suggestion.pk).status == "ordered"


def test_suggestions_of_one_supplier_become_one_purchase_order_with_the_longest_lead_time():
    supplier = Supplier.objects.create(name="Acme")
    items = [_item("A1", stock=0), _item("B1", stock=0)]
    for item, lead in zip(items, (7, 21), strict=True):
        ReplenishmentPolicy.objects.create(scope="product", product=item, supplier=supplier, lead_time_days=lead)
        _forecast(item, 10.0, [10.0] * 26)
    services.plan_restock(TODAY)

    orders = services.create_purchase_orders(RestockSuggestion.objects.values_list("pk", flat=True))

    assert [(o.supplier, o.lines.count(), o.expected_arrival) for o in orders] == [
        (supplier, 2, timezone.localdate() + dt.timedelta(days=21))
    ]


def test_creating_an_order_from_nothing_open_is_refused():
    with pytest.raises(services.PurchasingError):
        services.create_purchase_orders([12345])


def test_receiving_adds_the_quantities_to_the_stock_through_the_adapter_once():
    item = _item("A1", stock=3)
    order = PurchaseOrder.objects.create(status="ordered")
    order.lines.create(product=item, quantity=24)

    services.receive_purchase_order(order.pk)

    item.refresh_from_db()
    assert (item.stock, PurchaseOrder.objects.get(pk=order.pk).status) == (27, "received")
    with pytest.raises(services.PurchasingError, match="received"):
        services.receive_purchase_order(order.pk)
    item.refresh_from_db()
    assert item.stock == 27
    assert services.on_order_by_product() == {}


def test_the_adapter_adjusts_stock_in_both_directions():
    item = _item("A1", stock=10)

    get_adapter().adjust_stock(item, -4)

    assert (item.stock, Item.objects.get(pk=item.pk).stock) == (6, 6)


def test_a_snoozed_suggestion_stays_snoozed_while_the_snooze_runs():
    item = _item("A1", stock=0)
    _forecast(item, 10.0, [10.0] * 26)
    services.plan_restock(TODAY)
    suggestion = RestockSuggestion.objects.get()

    services.set_suggestion_status([suggestion.pk], "snoozed", snooze_days=3)
    services.plan_restock(TODAY)

    assert list(RestockSuggestion.objects.values_list("status", flat=True)) == ["snoozed"]


def test_a_resolved_product_loses_its_open_suggestion():
    item = _item("A1", stock=0)
    _forecast(item, 10.0, [10.0] * 26)
    services.plan_restock(TODAY)
    Item.objects.filter(pk=item.pk).update(stock=25)  # above s = 10 and below the excess line 2 x S = 40

    summary = services.plan_restock(TODAY)

    assert summary.removed == 1
    assert RestockSuggestion.objects.filter(status="open").count() == 0


def _sell(item, weeks, units, start=dt.datetime(2024, 1, 1, 12)):
    for week in range(weeks):
        purchase = Purchase.objects.create(created=timezone.make_aware(start + dt.timedelta(weeks=week)))
        PurchaseLine.objects.create(purchase=purchase, item=item, qty=units, unit_price=Decimal("2.00"))


def test_forecasting_stores_one_forecast_per_selling_product_with_an_active_version():
    steady, young = _item("A1", stock=0), _item("B1", stock=0)
    _sell(steady, 10, 7)
    _sell(young, 2, 3, start=dt.datetime(2024, 2, 26, 12))

    run = services.forecast_demand()

    # the last order is in the week of 2024-03-04: history ends the Sunday before
    assert run.origin == dt.date(2024, 3, 4)
    forecasts = {f.product_id: f for f in DemandForecast.objects.all()}
    assert forecasts[steady.pk].mean == [7.0] * 4  # window average of a flat series
    assert forecasts[steady.pk].method == "WindowAverage"
    assert forecasts[young.pk].method == "recent_mean"
    assert forecasts[steady.pk].history == [7.0] * 9
    assert ModelVersion.objects.get(kind="inventory.forecaster").status == "active"


def test_forecasting_without_sales_is_a_clear_error():
    with pytest.raises(services.ForecastError, match="No sales"):
        services.forecast_demand(dt.date(2024, 1, 1))


def test_planning_costs_the_same_few_queries_for_any_number_of_products(django_assert_max_num_queries):
    for index in range(8):
        _forecast(_item(f"P{index}", stock=0, department=f"Dept {index}"), 10.0, [10.0] * 26)

    with django_assert_max_num_queries(12):
        summary = services.plan_restock(TODAY)

    assert summary.created == 8


def _costed_plan(price="10.00", cost="6.00", **policy):
    values = PolicyValues(**{"lead_time_days": 14.0, "review_period_days": 7.0, **policy})
    data = services.PlanInput(5, 0, 10.0, 4.0, values, TODAY, Decimal(price), None if cost is None else Decimal(cost))
    return services.compute_plan(data)


def test_a_margin_target_is_the_newsvendor_critical_ratio():
    result = _costed_plan(service_level_type="margin", holding_cost_rate=0.25)

    under, over = 10.0 - 6.0, 6.0 * 0.25 * 7 / 365  # margin lost per unit short; a unit held one review period
    z = NormalDist().inv_cdf(under / (under + over))  # 0.99286 -> z = 2.4507
    assert result.safety_stock == pytest.approx(z * math.sqrt(2 * 4.0**2))
    assert result.order_up_to == pytest.approx(10 * 3 + z * math.sqrt(2 * 4.0**2))


def test_a_thin_margin_targets_less_service_and_an_unknown_cost_falls_back_to_the_service_level():
    rich = _costed_plan(service_level_type="margin")
    thin = _costed_plan(price="6.05", service_level_type="margin", holding_cost_rate=2.0)
    unknown = _costed_plan(cost=None, service_level_type="margin", service_level=0.95)

    assert thin.safety_stock < rich.safety_stock
    assert unknown.safety_stock == pytest.approx(Z95 * math.sqrt(2 * 4.0**2))


def test_an_order_cost_orders_the_economic_order_quantity():
    result = _costed_plan(order_cost=20.0, holding_cost_rate=0.25)

    eoq = math.sqrt(2 * (10 * 52) * 20.0 / (6.0 * 0.25))  # 117.76 units
    ss = Z95 * math.sqrt(2 * 4.0**2)
    assert result.order_up_to == pytest.approx(10 * 2 + ss + eoq)
    assert result.suggested_quantity == math.ceil(10 * 2 + ss + eoq - 5)
    assert result.method == "normal+eoq"
    assert _costed_plan(cost=None, order_cost=20.0).order_up_to == pytest.approx(10 * 3 + ss)  # no cost, no EOQ
    assert _costed_plan(order_cost=0.0).order_up_to == pytest.approx(10 * 3 + ss)  # free orders: no lot size


def test_planning_reads_the_unit_cost_for_margin_policies():
    item = Item.objects.create(code="C1", title="C1", department=Department.objects.get_or_create(title="Toys")[0],
                               price=Decimal("10.00"), cost=Decimal("6.00"), stock=0)
    _forecast(item, 10.0, [10.0, 6.0, 14.0, 10.0] * 4)
    ReplenishmentPolicy.objects.create(scope="global", service_level_type="margin", service_level=0.6,
                                       lead_time_days=14)

    services.plan_restock(TODAY)

    suggestion = RestockSuggestion.objects.get(product=item)
    z = NormalDist().inv_cdf(4.0 / (4.0 + 6.0 * 0.25 * 7 / 365))
    sigma = statistics.stdev([10.0, 6.0, 14.0, 10.0] * 4)
    assert suggestion.safety_stock == round(z * math.sqrt(2 * sigma**2), 1)  # stored to a tenth of a unit


def test_a_periodic_policy_orders_up_to_cover_lead_time_and_review_period_only_when_due():
    ss = Z95 * math.sqrt(3 * 4.0**2)  # protection interval L + R = 3 weeks
    due = _plan(on_hand=40, review_policy="RS")
    assert due.safety_stock == pytest.approx(ss)
    assert due.order_up_to == pytest.approx(10 * 3 + ss)  # S = d (R + L) + SS(R + L)
    assert due.suggested_quantity == math.ceil(10 * 3 + ss - 40)  # above the (s, S) reorder point: orders anyway
    assert _plan(on_hand=40).suggested_quantity == 0  # the (s, S) policy waits for s

    values = PolicyValues(lead_time_days=14.0, review_period_days=7.0, review_policy="RS")
    ordered_yesterday = services.PlanInput(40, 0, 10.0, 4.0, values, TODAY, Decimal("2.50"),
                                           last_ordered=TODAY - dt.timedelta(days=1))
    assert services.compute_plan(ordered_yesterday).suggested_quantity == 0  # not due before R days


def test_periodic_review_counts_from_the_last_purchase_order_of_the_product():
    item = _item("R1", stock=2)
    _forecast(item, 10.0, [10.0] * 26)
    ReplenishmentPolicy.objects.create(scope="global", review_policy="RS", review_period_days=7)
    order = PurchaseOrder.objects.create()
    order.lines.create(product=item, quantity=5)

    services.plan_restock(timezone.localdate())
    assert RestockSuggestion.objects.get(product=item).suggested_quantity == 0  # ordered today: not due

    PurchaseOrder.objects.filter(pk=order.pk).update(created_at=timezone.now() - dt.timedelta(days=8))
    services.plan_restock(timezone.localdate())
    assert RestockSuggestion.objects.get(product=item).suggested_quantity > 0
