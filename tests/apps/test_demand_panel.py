"""The forecasters' weekly demand panel, summed by the database (the adapter's ``weekly_sales``)."""

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.forecasting import demand_panel
from inventory.ml import demand as dm
from personalization.host.adapters import get_adapter
from tests.testhost.models import Department, Item, Purchase, PurchaseLine

pytestmark = pytest.mark.django_db


def _buy(when: dt.datetime, item: Item | None, qty: int, price: str, buyer=None) -> None:
    purchase = Purchase.objects.create(created=timezone.make_aware(when), buyer=buyer)
    PurchaseLine.objects.create(purchase=purchase, item=item, qty=qty, unit_price=Decimal(price))


def test_the_panel_summed_in_the_database_equals_the_one_from_every_line():
    dept = Department.objects.create(title="Toys")
    a, b, gone = (Item.objects.create(code=c, title=c, department=dept, price=Decimal("2.00"), stock=1)
                  for c in ("A", "B", "C"))
    ann, bob = (get_user_model().objects.create_user(username=n) for n in ("ann", "bob"))
    _buy(dt.datetime(2024, 1, 1, 0, 5), a, 3, "2.00", ann)  # Monday just after midnight, local time
    _buy(dt.datetime(2024, 1, 7, 23, 50), a, 2, "2.50", bob)  # Sunday just before midnight: the same week
    _buy(dt.datetime(2024, 1, 8, 9), a, 1, "2.00", ann)
    _buy(dt.datetime(2024, 1, 8, 10), a, 4, "2.00")  # a guest
    _buy(dt.datetime(2024, 1, 22, 10), b, 7, "1.00", ann)
    _buy(dt.datetime(2024, 1, 23, 10), b, 1, "0.00", ann)  # free: no sale
    _buy(dt.datetime(2024, 1, 9, 10), gone, 5, "1.00", bob)
    _buy(dt.datetime(2024, 2, 5, 10), a, 9, "2.00", ann)  # on the origin: after the history
    gone.delete()
    lines = [line for line in get_adapter().order_lines_since(None)
             if line.product_id is not None and line.quantity > 0 and line.price > 0]
    tx = pd.DataFrame({
        "StockCode": [str(line.product_id) for line in lines],
        "InvoiceDate": [timezone.localtime(line.placed_at).replace(tzinfo=None) for line in lines],
        "Quantity": [line.quantity for line in lines],
        "UnitPrice": [float(line.price) for line in lines],
        "CustomerID": [line.user_id for line in lines],
    })
    origin = dt.date(2024, 2, 5)
    expected = dm.weekly_demand(tx[tx["InvoiceDate"] < pd.Timestamp(origin)], end=pd.Timestamp("2024-01-29"))

    with CaptureQueriesContext(connection) as queries:
        panel = demand_panel(origin)

    read = [q["sql"] for q in queries.captured_queries if "purchaseline" in q["sql"]]
    grouped = [sql for sql in read if "GROUP BY" in sql]
    assert len(grouped) == 1  # one aggregate query, not a row per line
    assert all(sql.startswith("SELECT MIN(") for sql in read if sql not in grouped)  # SQLite: where the weeks start
    pd.testing.assert_frame_equal(panel.drop(columns=["stockout", "category"]), expected, check_dtype=False)
    # each product's category, for the global models' category seasonal index
    assert set(panel["category"].unique()) == {"Toys"}
    week_of_a = panel[(panel["unique_id"] == str(a.pk)) & (panel["ds"] == pd.Timestamp("2024-01-01"))].iloc[0]
    assert (week_of_a["y"], week_of_a["n_lines"], week_of_a["n_customers"], week_of_a["price"]) == (5, 2, 2, 2.2)
    assert panel["ds"].max() == pd.Timestamp("2024-01-29")


@pytest.mark.parametrize("zone", ["Europe/London", "America/Sao_Paulo", "Asia/Kolkata"])
def test_the_week_of_a_sale_is_truncweeks_on_every_database_across_daylight_saving_changes(zone):
    from django.db.models.functions import TruncWeek

    from personalization.host.adapters import week_monday, week_of

    with timezone.override(zone):
        for day in ("2024-03-24", "2024-03-31", "2024-04-01", "2024-10-27", "2024-10-28", "2024-11-03", "2024-11-04"):
            for hour, minute in ((0, 0), (0, 30), (1, 30), (23, 59)):
                when = dt.datetime.fromisoformat(day).replace(hour=hour, minute=minute)
                Purchase.objects.create(created=timezone.make_aware(when))
        since = timezone.make_aware(dt.datetime(2024, 3, 1))
        until = timezone.make_aware(dt.datetime(2024, 12, 1))
        rows = Purchase.objects.filter(created__lt=until)
        ours = dict(rows.annotate(w=week_of(rows, "created", None, until)).values_list("pk", "w"))
        bounded = dict(rows.annotate(w=week_of(rows, "created", since, until)).values_list("pk", "w"))
        truncated = dict(rows.annotate(w=TruncWeek("created")).values_list("pk", "w"))
        local = {p.pk: timezone.localtime(p.created).date() for p in rows}

        assert len(ours) == 28
        for pk, day in local.items():
            monday = day - dt.timedelta(days=day.weekday())
            assert week_monday(ours[pk]) == week_monday(bounded[pk]) == week_monday(truncated[pk]) == monday, (pk, day)


def test_more_weeks_than_a_case_should_hold_keep_the_databases_own_truncweek(monkeypatch):
    from django.db.models.functions import TruncWeek

    from personalization.host import adapters

    Purchase.objects.create(created=timezone.make_aware(dt.datetime(2020, 1, 1)))
    rows = Purchase.objects.all()
    until = timezone.make_aware(dt.datetime(2024, 1, 1))
    monkeypatch.setattr(adapters, "MAX_CASE_WEEKS", 100)

    assert isinstance(adapters.week_of(rows, "created", None, until), TruncWeek)
    assert isinstance(adapters.week_of(rows.none(), "created", None, until), TruncWeek)  # no rows: nothing to bound
    monkeypatch.setattr(adapters, "MAX_CASE_WEEKS", 1_000)
    expected = TruncWeek if connection.vendor != "sqlite" else __import__("django").db.models.Case
    assert isinstance(adapters.week_of(rows, "created", None, until), expected)
