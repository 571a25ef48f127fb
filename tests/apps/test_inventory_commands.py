"""Inventory commands and the nightly task, on a few weeks of test host orders."""

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from inventory import tasks
from inventory.ml.served import served_selector
from inventory.models import DemandForecast, RestockSuggestion
from personalization.ops import locks
from tests.testhost.models import Department, Item, Purchase, PurchaseLine

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.INVENTORY = {"FORECASTER": "WindowAverage", "REFERENCE_TIME": "2024-03-18"}  # the last sales day


@pytest.fixture
def sales():
    dept = Department.objects.create(title="Toys")
    items = [
        Item.objects.create(code=f"A{i}", title=f"Item {i}", department=dept, price=Decimal("3.00"), stock=stock)
        for i, stock in enumerate((0, 20))  # 20: above the reorder point, below the excess line
    ]
    start = dt.datetime(2024, 1, 1, 12)  # a Monday
    for week in range(12):
        purchase = Purchase.objects.create(created=timezone.make_aware(start + dt.timedelta(weeks=week)))
        for item in items:
            PurchaseLine.objects.create(purchase=purchase, item=item, qty=5 + week % 3, unit_price=Decimal("3.00"))
    return items


def test_plan_restock_forecasts_and_suggests_for_the_item_without_stock(sales):
    out = StringIO()

    call_command("plan_restock", stdout=out)

    assert DemandForecast.objects.count() == 2
    assert list(RestockSuggestion.objects.values_list("product_id", flat=True)) == [sales[0].pk]
    assert "Planned 2 products as of 2024-03-18" in out.getvalue()


def test_plan_restock_refuses_a_bad_date(sales):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("plan_restock", "--date", "18/03/2024")


def test_the_task_runs_the_planning_and_skips_while_another_run_holds_the_lock(sales):
    assert tasks.plan_restock.delay().get() == {"products": 2, "created": 1, "updated": 0, "removed": 0}

    locks.acquire(tasks.PLAN_LOCK, "someone-else", 60)
    try:
        assert tasks.plan_restock.delay().get() is None
    finally:
        locks.release(tasks.PLAN_LOCK, "someone-else")


def test_evaluate_forecasts_scores_the_anchors_and_the_served_model(sales):
    out = StringIO()

    call_command("evaluate_forecasts", "--origin", "2024-03-04", "--horizon", "2", "--json", stdout=out)

    result = json.loads(out.getvalue())
    assert (result["n_series"], result["served_configuration"]) == (2, "WindowAverage")
    assert set(result["models"]) == {
        "Naive",
        "HistoricAverage",
        "WindowAverage",
        "CrostonSBA",
        "TSB",
        "ADIDA",
        "IMAPA",
        "AutoETS",
        "served",
        "served_q50",
    }
    # the served WindowAverage and the anchor WindowAverage(4) are the same model
    assert result["models"]["served"]["wape"] == pytest.approx(result["models"]["WindowAverage"]["wape"])


def test_evaluate_forecasts_prints_a_table(sales):
    out = StringIO()

    call_command("evaluate_forecasts", "--origin", "2024-03-04", "--horizon", "2", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == "Origin 2024-03-04, horizon 2 weeks, 2 series; served = WindowAverage"
    assert [line.split()[0] for line in lines[2:-1]][-2:] == ["served", "served_q50"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--origin", "2024-03-05"], "Monday"),
        (["--origin", "March"], "YYYY-MM-DD"),
        (["--origin", "2024-03-04", "--horizon", "0"], "horizon"),
        (["--origin", "2023-03-06"], "No sales before"),
        (["--origin", "2024-02-05"], "No product sold"),
    ],
)
def test_evaluate_forecasts_refuses_bad_input(sales, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("evaluate_forecasts", *args)


def test_plan_restock_shows_its_stages_with_the_time_on_stderr_unless_told_not_to(sales):
    # when
    out, err = StringIO(), StringIO()
    call_command("plan_restock", stdout=out, stderr=err)
    quiet = StringIO()
    call_command("plan_restock", "--no-progress", stdout=StringIO(), stderr=quiet)
    # then
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("[  1%] Forecast: Reading the order history (0:0")
    assert any("Forecast: Storing forecasts" in line for line in lines)
    assert lines[-1].startswith("[ 90%] Planning restock (") and "elapsed, about " in lines[-1]
    assert "%]" not in out.getvalue()  # the summary stays alone on stdout
    assert quiet.getvalue() == ""


def test_plan_restock_names_an_unknown_forecaster(sales):
    with pytest.raises(CommandError, match="Unknown forecaster 'Prophet'"):
        call_command("plan_restock", "--forecaster", "Prophet")


def test_plan_restock_with_another_forecaster_records_it_on_the_version(sales):
    call_command("plan_restock", "--forecaster", "Naive", stdout=StringIO())

    assert set(DemandForecast.objects.values_list("method", "model_version__params__forecaster")) == {
        ("Naive", "Naive")
    }


def test_the_served_gbm_stores_ordered_quantiles(sales, settings):
    settings.INVENTORY = {**settings.INVENTORY, "FORECASTER": "gbm", "GBM_PARAMS": {"max_iter": 5}}  # few trees

    call_command("plan_restock", stdout=StringIO())

    forecasts = list(DemandForecast.objects.all())
    assert {f.method for f in forecasts} == {"gbm"}
    for f in forecasts:
        assert len(f.mean) == len(f.quantiles["q50"]) == len(f.quantiles["q90"]) == 4
        assert all(0 <= q50 <= q90 for q50, q90 in zip(f.quantiles["q50"], f.quantiles["q90"], strict=True))


def test_the_default_served_selector_serves_its_candidate_on_a_history_too_short_to_backtest(sales, settings):
    # given the default settings (the benchmarked selector) and 12 weeks of orders: too few to backtest
    settings.INVENTORY = {"REFERENCE_TIME": settings.INVENTORY["REFERENCE_TIME"]}

    # when planning
    call_command("plan_restock", stdout=StringIO())

    # then the selector served its (first) candidate, recorded per product and on the version
    forecasts = list(DemandForecast.objects.all())
    served = next(iter(served_selector().candidates))
    assert {(f.method, f.model_version.params["forecaster"]) for f in forecasts} == {(served, "selector")}
    assert all(len(f.quantiles["q90"]) == 4 for f in forecasts)
    assert "backtest_wape" not in forecasts[0].model_version.metrics


def test_plan_restock_long_after_the_last_order_forecasts_from_the_history_with_a_warning(sales, settings):
    # given orders up to 2024-03-18 and the served GBM, planning 24 weeks later (the data stopped, not the demand)
    settings.INVENTORY = {**settings.INVENTORY, "FORECASTER": "gbm", "GBM_PARAMS": {"max_iter": 5}}
    err = StringIO()

    call_command("plan_restock", "--date", "2024-09-04", stdout=StringIO(), stderr=err)

    # then it forecast the weeks from 2024-09-02 from the history up to its last week, and said so
    assert "The order history ends 23 weeks before 2024-09-02" in err.getvalue()
    forecasts = list(DemandForecast.objects.all())
    assert {f.origin for f in forecasts} == {dt.date(2024, 9, 2)}
    assert all(4 <= sum(f.mean) / len(f.mean) <= 8 for f in forecasts)  # the weeks sold 5-7 units, not 0
    assert forecasts[0].model_version.params["history_end"] == "2024-03-25"
    assert list(RestockSuggestion.objects.values_list("product_id", flat=True)) == [sales[0].pk]


def test_a_short_silence_is_zero_demand_a_long_one_ends_the_history(sales):
    from inventory.forecasting import MAX_SILENT_WEEKS, history_end

    after_last = dt.date(2024, 3, 25)  # the Monday after the last order's week
    short = after_last + dt.timedelta(weeks=MAX_SILENT_WEEKS)
    assert history_end(short) == short
    assert history_end(short + dt.timedelta(weeks=1)) == after_last
    assert history_end(dt.date(2024, 2, 5)) == dt.date(2024, 2, 5)  # orders after the origin: the data go on
