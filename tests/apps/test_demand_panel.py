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
    assert len(read) == 1 and "GROUP BY" in read[0]  # one aggregate query, not a row per line
    pd.testing.assert_frame_equal(panel.drop(columns="stockout"), expected, check_dtype=False)
    week_of_a = panel[(panel["unique_id"] == str(a.pk)) & (panel["ds"] == pd.Timestamp("2024-01-01"))].iloc[0]
    assert (week_of_a["y"], week_of_a["n_lines"], week_of_a["n_customers"], week_of_a["price"]) == (5, 2, 2, 2.2)
    assert panel["ds"].max() == pd.Timestamp("2024-01-29")
