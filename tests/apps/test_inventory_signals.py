"""Demand signals beyond the order lines: recorded stock-outs (censored demand) and recommendation exposure."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory import services
from inventory.demand_signals import record_stockouts
from inventory.models import DemandForecast, RestockSuggestion, StockoutDay
from inventory.tasks import record_stockouts as record_stockouts_task
from personalization.models import Event
from tests.testhost.models import Department, Item, Purchase, PurchaseLine

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.INVENTORY = {"FORECASTER": "WindowAverage", "REFERENCE_TIME": "2024-03-06"}  # the week after the sales


def _item(code, stock=0, available=True):
    dept, _ = Department.objects.get_or_create(title="Toys")
    return Item.objects.create(code=code, title=f"Item {code}", department=dept, price=Decimal("10.00"), stock=stock,
                               available=available)


def _sell(item, weeks, units, start=dt.datetime(2024, 1, 1, 12)):
    for week in range(weeks):
        purchase = Purchase.objects.create(created=timezone.make_aware(start + dt.timedelta(weeks=week)))
        PurchaseLine.objects.create(purchase=purchase, item=item, qty=units, unit_price=Decimal("2.00"))


def test_recording_stockouts_notes_active_products_without_stock_once_a_day():
    empty, negative, stocked, hidden = _item("E", 0), _item("N", -2), _item("S", 5), _item("H", 0, available=False)
    day = dt.date(2024, 3, 6)

    assert record_stockouts(day) == 2
    assert record_stockouts(day) == 2  # the hourly task runs again: still one row a product and day
    assert set(StockoutDay.objects.values_list("product_id", "day")) == {(empty.pk, day), (negative.pk, day)}
    assert not StockoutDay.objects.filter(product__in=[stocked, hidden]).exists()

    record_stockouts_task.delay()  # the task records today
    assert StockoutDay.objects.filter(day=timezone.localdate()).count() == 2


def test_without_a_stock_field_nothing_is_recorded(settings):
    _item("E", 0)
    settings.PERSONALIZATION = {**settings.PERSONALIZATION,
                                "PRODUCT_FIELDS": {**settings.PERSONALIZATION["PRODUCT_FIELDS"], "stock": None}}
    assert record_stockouts(dt.date(2024, 3, 6)) == 0
    assert not StockoutDay.objects.exists()


def test_stockouts_are_recorded_hourly_on_the_default_queue():
    from django_celery_beat.models import PeriodicTask

    from personalization.host.routing import route_task

    call_command("install_schedules")
    task = PeriodicTask.objects.get(task="inventory.record_stockouts")
    assert (task.crontab.minute, task.crontab.hour) == ("17", "*")
    assert route_task("inventory.record_stockouts", (), {}, {}) == {"queue": "default"}


def test_the_panel_flags_stockout_weeks_and_counts_recommendation_exposure():
    item = _item("A", 0)
    _sell(item, 6, 5)  # Mondays 2024-01-01 .. 2024-02-05
    StockoutDay.objects.create(product=item, day=dt.date(2024, 1, 17))  # a Wednesday of the week of 01-15
    shown = timezone.make_aware(dt.datetime(2024, 1, 23, 10))  # the week of 01-22
    Event.objects.bulk_create([
        Event(event_type="impression", product=item, session_key="s", client_event_id=f"imp:{n}", timestamp=shown)
        for n in range(3)
    ] + [Event(event_type="view", product=item, session_key="s", client_event_id="v", timestamp=shown)])

    panel = services.demand_panel(dt.date(2024, 2, 12)).set_index("ds")

    assert panel["stockout"].to_dict() == {day: day == dt.datetime(2024, 1, 15) for day in panel.index}
    assert panel["exposures"].to_dict() == {day: 3.0 if day == dt.datetime(2024, 1, 22) else 0.0
                                            for day in panel.index}


def test_sold_out_weeks_are_unknown_demand_not_zero(settings):
    """A product selling 10 a week sells out for its last two weeks: with the stock-outs recorded the forecast
    stays at its selling rate and a restock is suggested; without them it halves."""
    item = _item("A", 0)
    _sell(item, 10, 10)  # the weeks of 2024-01-01 .. 2024-03-04
    other = _item("B", 5)
    _sell(other, 13, 4)  # the shop's last order is on 2024-03-25
    settings.INVENTORY = {**settings.INVENTORY, "REFERENCE_TIME": "2024-03-27"}  # the origin is that Monday

    services.forecast_demand()
    blind = DemandForecast.objects.get(product=item).mean
    for week in range(2):  # out of stock the whole of the weeks of 03-11 and 03-18
        for day in range(7):
            StockoutDay.objects.create(product=item, day=dt.date(2024, 3, 11) + dt.timedelta(weeks=week, days=day))
    services.forecast_demand()
    aware = DemandForecast.objects.get(product=item).mean

    assert blind == [5.0] * 4  # the window average of 10, 10, 0, 0
    assert aware == [10.0] * 4  # the zero weeks were stock-outs, not a collapse of demand
    services.plan_restock(dt.date(2024, 3, 27))
    assert RestockSuggestion.objects.get(product=item, status="open").suggested_quantity >= 10
