"""``OscarShopAdapter`` on real Oscar rows: price and availability through Oscar's strategy, stock net of
allocations, many-to-many categories, unit cost from a product attribute, order lines in bulk."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oscar.test import factories as oscar_factories

from personalization.contrib.oscar.adapter import OscarShopAdapter
from personalization.host.adapters import ShopAdapter, get_adapter

from .factories import Product, StockRecord, make_customer, make_product, place_order

pytestmark = pytest.mark.django_db


def test_the_configured_adapter_is_oscars_and_satisfies_the_protocol():
    adapter = get_adapter()
    assert isinstance(adapter, OscarShopAdapter)
    assert isinstance(adapter, ShopAdapter)


def test_reads_price_stock_categories_and_cost_through_oscar():
    product = make_product("Mug", price="12.50", stock=10, allocated=3, cost="4.20",
                           categories=["Kitchen > Mugs", "Gifts"])
    adapter = get_adapter()
    assert adapter.get_price(product) == Decimal("12.50")
    assert adapter.get_stock(product) == 7  # num_in_stock - num_allocated
    assert adapter.get_categories(product) == ["Mugs", "Gifts"]
    assert adapter.get_category(product) == "Mugs"
    assert adapter.get_unit_cost(product) == Decimal("4.2")
    assert adapter.get_on_order(product) == 0
    assert adapter.is_active(product)
    assert "Mug" in adapter.get_text(product) and "Gifts" in adapter.get_text(product)


def test_unit_cost_from_a_stock_record_field(settings):
    product = make_product("Plate", cost=None)
    settings.PERSONALIZATION = {**settings.PERSONALIZATION,
                                "OSCAR": {"UNIT_COST_STOCKRECORD_FIELD": "price", "UNIT_COST_ATTRIBUTE": None}}
    assert get_adapter().get_unit_cost(product) == Decimal("10.00")
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "OSCAR": {}}
    assert get_adapter().get_unit_cost(product) is None  # the default: no unit cost source


def test_active_products_are_public_priced_and_not_parents():
    sold = make_product("Sold")
    hidden = make_product("Hidden")
    Product.objects.filter(pk=hidden.pk).update(is_public=False)
    unpriced = oscar_factories.create_product(title="Unpriced")  # no stock record
    parent = oscar_factories.create_product(title="Shirt", structure="parent")
    ids = set(get_adapter().active_products().values_list("pk", flat=True))
    assert sold.pk in ids
    assert not ids & {hidden.pk, unpriced.pk, parent.pk}
    assert not get_adapter().is_active(Product.objects.get(pk=unpriced.pk))


def test_a_parents_price_is_its_cheapest_childs_and_an_unpriced_product_reads_zero():
    parent = oscar_factories.create_product(title="Shirt", structure="parent")
    for price in ("12.00", "9.00"):
        oscar_factories.create_product(title=f"Shirt {price}", parent=parent, price=Decimal(price), num_in_stock=3)
    unpriced = oscar_factories.create_product(title="Unpriced")
    adapter = get_adapter()
    assert adapter.get_price(Product.objects.get(pk=parent.pk)) == Decimal("9.00")
    assert adapter.get_price(Product.objects.get(pk=unpriced.pk)) == Decimal("0")


def test_available_products_are_those_oscar_would_sell_now():
    adapter = get_adapter()
    free = make_product("Free", stock=5)
    sold_out = make_product("Sold out", stock=0)
    allocated = make_product("All allocated", stock=3, allocated=3)
    assert set(adapter.available_products().values_list("pk", flat=True)) == {free.pk}
    assert [adapter.is_available(p) for p in (free, sold_out, allocated)] == [True, False, False]
    assert adapter.get_name(free) == "Free"
    assert adapter.categories_of([free]) == {free.pk: ["Gifts"]}


def test_categories_of_many_products_in_one_query_as_get_categories_reads_them():
    adapter = get_adapter()
    products = [make_product("Lamp", categories=("Home > Lights", "Gifts")), make_product("Mug"),
                make_product("Bare", categories=())]
    with CaptureQueriesContext(connection) as queries:
        bulk = adapter.categories_of(products)
    assert len(queries) == 1
    assert bulk == {p.pk: adapter.get_categories(p) for p in products}
    assert sorted(bulk[products[0].pk]) == ["Gifts", "Lights"]


def test_the_latest_order_and_the_lines_left_out_for_their_status():
    adapter = get_adapter()
    ann, mug = make_customer("ann"), make_product("Mug")
    assert adapter.last_order_at() is None
    place_order(ann, [(mug, 1)])
    cancelled = place_order(ann, [(mug, 2)], status="Cancelled")
    assert adapter.last_order_at() == cancelled.date_placed
    assert adapter.non_sale_line_count() == 1


def test_writes_price_and_stock_to_the_stock_record():
    product = make_product("Bowl", price="8.00", stock=5)
    adapter = get_adapter()
    adapter.set_price(product, Decimal("7.49"))
    adapter.adjust_stock(product, 12)
    record = StockRecord.objects.get(product=product)
    assert (record.price, record.num_in_stock) == (Decimal("7.49"), 17)
    assert adapter.get_price(product) == Decimal("7.49") and adapter.get_stock(product) == 17
    adapter.adjust_stock(product, -100)  # never below 0 (Oscar's column is unsigned)
    assert StockRecord.objects.get(product=product).num_in_stock == 0


def test_writing_to_a_product_without_stock_record_is_a_clear_error():
    product = oscar_factories.create_product(title="Nowhere")
    with pytest.raises(ValueError, match="no stock record"):
        get_adapter().set_price(product, Decimal("1.00"))


def test_order_lines_in_bulk_without_cancelled_orders_deleted_products_and_guests():
    customer = make_customer("ann")
    mug, plate = make_product("Mug", price="3.00"), make_product("Plate", price="5.00")
    kept = place_order(customer, [(mug, 2), (plate, 1)])
    place_order(customer, [(mug, 5)], status="Cancelled")
    guest = place_order(None, [(plate, 1)])
    plate.delete()  # Oscar keeps the order lines, with product NULL
    adapter = get_adapter()
    with CaptureQueriesContext(connection) as queries:
        lines = list(adapter.order_lines_since())
    assert len(queries) == 1  # columns in one query, not one object per row
    assert sorted(((line.order_id, line.product_id, line.user_id, line.quantity, line.price) for line in lines),
                  key=lambda row: (row[0], row[1] or 0)) == [
        (kept.pk, None, customer.pk, 1, Decimal("5.00")),
        (kept.pk, mug.pk, customer.pk, 2, Decimal("3.00")),
        (guest.pk, None, None, 1, Decimal("5.00")),
    ]
    assert {line.order_id for line in adapter.order_lines_of(kept)} == {kept.pk}
    assert adapter.order_lines_since(since=guest.date_placed)


def test_weekly_sales_sum_the_sold_lines_per_product_and_week_in_one_grouped_query():
    import datetime as dt

    from django.utils import timezone

    ann, bob = make_customer("ann"), make_customer("bob")
    mug, plate = make_product("Mug", price="3.00"), make_product("Plate", price="5.00")
    place_order(ann, [(mug, 2), (plate, 1)])
    place_order(bob, [(mug, 3)])
    place_order(ann, [(mug, 5)], status="Cancelled")
    place_order(None, [(plate, 1)])
    plate.delete()  # its lines stay, product NULL
    monday = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    with CaptureQueriesContext(connection) as queries:
        weeks = list(get_adapter().weekly_sales(None, timezone.now() + dt.timedelta(hours=1)))
    # One GROUP BY reads every product-week; on SQLite without ``since`` one more query finds the first sale,
    # from which week_of's CASE over the week boundaries is built (its TruncWeek calls Python on every row).
    assert sum("GROUP BY" in q["sql"] for q in queries) == 1
    assert len(queries) == (2 if connection.vendor == "sqlite" else 1)
    assert sorted(((w.product_id, w.week, w.units, w.revenue, w.lines, w.customers) for w in weeks),
                  key=lambda row: row[0] or 0) == [
        (None, monday, 2, Decimal("10.00"), 2, 1),  # the guest is no customer
        (mug.pk, monday, 5, Decimal("15.00"), 2, 2),
    ]
    assert list(get_adapter().weekly_sales(None, timezone.now() - dt.timedelta(days=8))) == []


def _oscar_check_ids():
    from django.core import checks

    prefixes = ("shopsense_oscar.", "personalization.")
    return sorted(m.id for m in checks.run_checks() if m.id and m.id.startswith(prefixes))


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, []),
    ({"PRODUCT_FIELDS": {"stock": "num_in_stock"}}, ["shopsense_oscar.E001"]),
    ({"PRODUCT_FIELDS": {"category": "categories__name"}}, ["shopsense_oscar.E001"]),
    ({"PRODUCT_FIELDS": {"name": "name"}}, ["shopsense_oscar.E002"]),
    ({"ORDER_FIELDS": {"placed_at": "created_at"}}, ["shopsense_oscar.E002"]),
    ({"SHOP_ADAPTER": "personalization.host.adapters.DefaultShopAdapter"}, ["shopsense_oscar.W001"]),
])
def test_check_catches_settings_that_would_fail_at_run_time(settings, overrides, expected):
    merged = dict(settings.PERSONALIZATION)
    for key, value in overrides.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    settings.PERSONALIZATION = merged
    ids = _oscar_check_ids()
    assert [i for i in ids if i.startswith("shopsense_oscar.")] == expected
    if not expected:
        assert ids == []  # the README's settings pass every check
