"""The importer nets cancellations: a ``C`` line cancels the sale it refers to (docs/import.md, "Cancellations").

Crafted rows, one file per test; the rule: same CustomerID, StockCode and quantity, an earlier (or
same-time) InvoiceDate on another invoice, the latest such sale not yet cancelled.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import F, Sum

from personalization.models import Event
from shop_project.shop import importing
from shop_project.shop.models import Order, OrderLine, Product

pytestmark = pytest.mark.django_db

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
# The data's largest cancelled order, in miniature: 74,215 jars bought and cancelled 16 minutes later.
BIG_SALE = "541431,23166,MEDIUM CERAMIC TOP STORAGE JAR,74215,2011-01-18 10:01:00,1.04,12346,United Kingdom"
BIG_CANCEL = "C541433,23166,MEDIUM CERAMIC TOP STORAGE JAR,-74215,2011-01-18 10:17:00,1.04,12346,United Kingdom"
OTHER_SALE = "541500,23166,MEDIUM CERAMIC TOP STORAGE JAR,6,2011-01-20 09:00:00,1.25,17850,United Kingdom"


def write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def revenue() -> Decimal:
    return OrderLine.objects.aggregate(total=Sum(F("quantity") * F("unit_price")))["total"] or Decimal("0")


def test_a_fully_cancelled_order_leaves_no_order_revenue_stock_or_demand(tmp_path):
    # given a sale of 74,215 units cancelled by its customer, and another customer's ordinary sale
    path = write(tmp_path, BIG_SALE, BIG_CANCEL, OTHER_SALE)
    # when
    summary = importing.import_online_retail(path)
    # then the cancelled order is not there, nor its line, event, revenue or customer
    assert list(Order.objects.values_list("number", flat=True)) == ["541500"]
    assert OrderLine.objects.aggregate(units=Sum("quantity"))["units"] == 6
    assert revenue() == Decimal("7.50")
    assert Event.objects.aggregate(units=Sum("quantity"))["units"] == 6
    assert not get_user_model().objects.filter(username="customer-12346").exists()
    # and the stock is three weeks of the 6 units sold, not of 74,221
    product = Product.objects.get(sku="23166")
    assert product.stock_on_hand == 3  # ceil(6 x 3 / 8)
    assert product.list_price == Decimal("1.25")  # the median of the sales left
    assert summary.skipped["cancelled"] == 1
    assert summary.skipped["cancellation"] == 1
    assert summary.cancellations == {"matched": 1, "unmatched": 0}
    assert summary.rows_read == summary.rows_imported + sum(summary.skipped.values())


def test_a_partly_cancelled_order_keeps_its_other_lines(tmp_path):
    # given an order of two products, one of them cancelled
    path = write(
        tmp_path,
        "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
        "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom",
        "C536379,71053,WHITE METAL LANTERN,-6,2010-12-01 09:41:00,3.39,17850,United Kingdom",
    )
    # when
    importing.import_online_retail(path)
    # then
    assert list(OrderLine.objects.values_list("order__number", "product__sku", "quantity")) == [
        ("536365", "85123A", 6)
    ]
    assert revenue() == Decimal("15.30")
    assert not Product.objects.filter(sku="71053").exists()  # no sale of it is left


@pytest.mark.parametrize(
    ("case", "cancel"),
    [
        ("partial quantity", "C536400,22222,MUG,-2,2011-01-05 10:00:00,1.50,12345,United Kingdom"),
        ("larger quantity", "C536400,22222,MUG,-5,2011-01-05 10:00:00,1.50,12345,United Kingdom"),
        ("another customer", "C536400,22222,MUG,-3,2011-01-05 10:00:00,1.50,99999,United Kingdom"),
        ("another product", "C536400,33333,MUG,-3,2011-01-05 10:00:00,1.50,12345,United Kingdom"),
        ("before the sale", "C536400,22222,MUG,-3,2011-01-02 10:00:00,1.50,12345,United Kingdom"),
        ("a guest's", "C536400,22222,MUG,-3,2011-01-05 10:00:00,1.50,,United Kingdom"),
    ],
)
def test_a_cancellation_that_does_not_match_exactly_cancels_nothing(tmp_path, case, cancel):
    # given a sale of 3 mugs and a cancellation that differs from it in one respect
    path = write(tmp_path, "536300,22222,MUG,3,2011-01-03 10:00:00,1.50,12345,United Kingdom", cancel)
    # when
    summary = importing.import_online_retail(path)
    # then the sale stays
    assert list(OrderLine.objects.values_list("order__number", "quantity")) == [("536300", 3)], case
    assert summary.skipped["cancelled"] == 0
    assert summary.cancellations == {"matched": 0, "unmatched": 1}


def test_a_guest_sale_is_never_cancelled(tmp_path):
    # given a guest's sale and a cancellation with no customer either
    path = write(
        tmp_path,
        "536300,22222,MUG,3,2011-01-03 10:00:00,1.50,,United Kingdom",
        "C536400,22222,MUG,-3,2011-01-05 10:00:00,1.50,,United Kingdom",
    )
    # when
    importing.import_online_retail(path)
    # then
    assert Order.objects.get().customer_id is None
    assert OrderLine.objects.get().quantity == 3


def test_a_cancellation_cancels_the_latest_earlier_sale_and_only_one(tmp_path):
    # given three identical sales; the cancellation comes after the second, before the third
    path = write(
        tmp_path,
        "536300,22222,MUG,3,2011-01-03 10:00:00,1.50,12345,United Kingdom",
        "536301,22222,MUG,3,2011-01-04 10:00:00,1.50,12345,United Kingdom",
        "C536302,22222,MUG,-3,2011-01-04 12:00:00,1.50,12345,United Kingdom",
        "536303,22222,MUG,3,2011-01-05 10:00:00,1.50,12345,United Kingdom",
    )
    # when
    summary = importing.import_online_retail(path)
    # then
    assert sorted(Order.objects.values_list("number", flat=True)) == ["536300", "536303"]
    assert summary.cancellations == {"matched": 1, "unmatched": 0}


def test_two_cancellations_cancel_two_sales_and_a_duplicate_cancellation_line_cancels_nothing(tmp_path):
    # given two sales, two distinct cancellations of them, and an exact copy of the second cancellation line
    path = write(
        tmp_path,
        "536300,22222,MUG,3,2011-01-03 10:00:00,1.50,12345,United Kingdom",
        "536301,22222,MUG,3,2011-01-04 10:00:00,1.50,12345,United Kingdom",
        "536302,22222,MUG,3,2011-01-04 11:00:00,1.50,12345,United Kingdom",
        "C536310,22222,MUG,-3,2011-01-06 10:00:00,1.50,12345,United Kingdom",
        "C536311,22222,MUG,-3,2011-01-06 11:00:00,1.50,12345,United Kingdom",
        "C536311,22222,MUG,-3,2011-01-06 11:00:00,1.50,12345,United Kingdom",
    )
    # when
    summary = importing.import_online_retail(path)
    # then the two latest sales are cancelled, the first stays
    assert list(Order.objects.values_list("number", flat=True)) == ["536300"]
    assert summary.skipped["cancellation"] == 3
    assert summary.cancellations == {"matched": 2, "unmatched": 1}


def test_a_cancellation_after_the_window_still_cancels_its_sale(tmp_path):
    # given a sale in June cancelled in July
    path = write(
        tmp_path,
        "550000,22222,MUG,3,2011-06-30 10:00:00,1.50,12345,United Kingdom",
        "550001,33333,JUG,1,2011-06-30 10:00:00,4.00,12345,United Kingdom",
        "C560000,22222,MUG,-3,2011-07-02 10:00:00,1.50,12345,United Kingdom",
    )
    # when the file is imported in two windows
    first = importing.import_online_retail(path, until=dt.date(2011, 6, 30))
    second = importing.import_online_retail(path, since=dt.date(2011, 7, 1))
    # then the cancelled sale was never imported, as with one full import
    assert list(OrderLine.objects.values_list("product__sku", flat=True)) == ["33333"]
    assert first.skipped["cancelled"] == 1 and first.skipped["outside_dates"] == 1
    assert second.cancellations == {"matched": 1, "unmatched": 0}


def test_second_run_with_cancellations_changes_nothing(tmp_path):
    # given
    path = write(tmp_path, BIG_SALE, BIG_CANCEL, OTHER_SALE)
    importing.import_online_retail(path)
    # when
    again = importing.import_online_retail(path)
    # then
    assert (Order.objects.count(), OrderLine.objects.count(), Event.objects.count()) == (1, 1, 1)
    assert again.skipped["cancelled"] == 1 and again.skipped["existing_order"] == 1


def test_the_summary_prints_the_cancellation_counts(tmp_path):
    # given
    path = write(tmp_path, BIG_SALE, BIG_CANCEL, OTHER_SALE)
    out = StringIO()
    # when
    call_command("import_online_retail", str(path), "--no-progress", stdout=out, stderr=StringIO())
    # then
    counts = dict(re.findall(r"^ {4}(\S.*?) +([\d,]+)$", out.getvalue(), flags=re.MULTILINE))
    assert counts["sale cancelled by a later C line"] == "1"
    assert counts["cancellation (InvoiceNo C...)"] == "1"
    assert counts["cancelled a sale (same customer, product, quantity)"] == "1"
    assert counts["matched no sale (partial, guest, non-product or duplicate)"] == "0"

