"""End to end in a django-oscar shop that installed ShopSense with settings and URL includes only: Oscar's
own views and ``OrderCreator`` make the events, the profiles, the training data; ShopSense's tags render in
Oscar's product page; prices and received stock land on Oscar's stock records."""
from __future__ import annotations

import datetime as dt
import gzip
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model

from inventory.models import PurchaseOrder, PurchaseOrderLine
from inventory.purchasing import receive_purchase_order
from personalization.models import CustomerProfile, Event, EventType, ModelVersion
from pricing import services as pricing_services
from pricing.models import PricingPolicy

from .factories import Product, StockRecord, flush, make_customer, make_product, place_order

pytestmark = pytest.mark.django_db
SLICE = Path(__file__).resolve().parents[1] / "data" / "online_retail_slice.csv.gz"


def events(event_type: str) -> list[Event]:
    flush()
    return list(Event.objects.filter(event_type=event_type).order_by("id"))


# The tests run in a transaction: buffered events reach Redis on commit, so the actions run inside
# django_capture_on_commit_callbacks(execute=True), as if each request had committed.


def test_oscar_product_view_basket_add_and_search_become_events(client, django_capture_on_commit_callbacks):
    product = make_product("Blue Mug", price="6.00", categories=["Kitchen"])
    customer = make_customer("bob")
    client.force_login(customer)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(product.get_absolute_url() + "?rec=abc123").status_code == 200
        response = client.post(reverse("basket:add", kwargs={"pk": product.pk}), {"quantity": "2"})
        assert response.status_code == 302
        assert client.get(reverse("search:search"), {"q": "mug"}).status_code == 200

    [view] = events(EventType.VIEW)
    assert (view.product_id, view.user_id, view.price, view.recommendation_id) == (
        product.pk, customer.pk, Decimal("6.00"), "abc123")
    [cart] = events(EventType.CART)
    assert (cart.product_id, cart.user_id, cart.quantity) == (product.pk, customer.pk, 2)
    [search] = events(EventType.SEARCH)
    assert (search.query, search.user_id) == ("mug", customer.pk)


def test_a_guests_view_is_an_event_of_the_session(client, django_capture_on_commit_callbacks):
    product = make_product("Red Mug")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(product.get_absolute_url()).status_code == 200
    [view] = events(EventType.VIEW)
    assert view.user_id is None and view.session_key


def test_an_oscar_order_makes_purchases_and_the_customers_profile(django_capture_on_commit_callbacks):
    customer = make_customer("cat")
    mug, plate = make_product("Mug", price="3.00"), make_product("Plate", price="5.00")
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(customer, [(mug, 2), (plate, 1)])
    purchases = events(EventType.PURCHASE)
    assert sorted((e.product_id, e.quantity, e.price, e.user_id) for e in purchases) == sorted([
        (mug.pk, 2, Decimal("3.00"), customer.pk), (plate.pk, 1, Decimal("5.00"), customer.pk)])
    assert {e.client_event_id for e in purchases} == {f"orderline:{line.pk}" for line in order.lines.all()}
    profile = CustomerProfile.objects.get(user=customer)
    assert (profile.orders, profile.units, profile.revenue) == (1, 3, Decimal("11.00"))
    # Oscar allocated the ordered units: the adapter's stock is net of them
    assert StockRecord.objects.get(product=mug).num_allocated == 2
    from personalization.host.adapters import get_adapter

    assert get_adapter().get_stock(Product.objects.get(pk=mug.pk)) == 18


def test_a_guest_order_is_recorded_without_a_customer(django_capture_on_commit_callbacks):
    plate = make_product("Plate")
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(None, [(plate, 1)])
    [purchase] = events(EventType.PURCHASE)
    assert purchase.user_id is None and purchase.session_key == f"order-{order.pk}"


def test_cancelled_orders_are_not_sales():
    ann, ben = make_customer("ann"), make_customer("ben")
    mug = make_product("Mug", price="3.00")
    place_order(ann, [(mug, 2)])
    place_order(ben, [(mug, 1)])
    place_order(ben, [(mug, 40)], status="Cancelled")
    call_command("build_profiles", "--no-progress", verbosity=0)
    profiles = {p.user_id: p for p in CustomerProfile.objects.all()}
    assert (profiles[ann.pk].units, profiles[ben.pk].units) == (2, 1)  # the cancelled order's 40 units are not


def test_a_deleted_product_with_order_lines_does_not_break_build_profiles():
    ann = make_customer("ann")
    mug, gone = make_product("Mug", price="3.00"), make_product("Gone", price="9.00")
    place_order(ann, [(mug, 1), (gone, 2)])
    gone.delete()  # Oscar keeps the line with product NULL
    call_command("build_profiles", "--no-progress", verbosity=0)
    assert CustomerProfile.objects.get(user=ann).units == 1


def test_import_history_reads_oscar_orders_once():
    ann = make_customer("ann")
    mug = make_product("Mug", price="3.00")
    place_order(ann, [(mug, 2)])
    place_order(ann, [(mug, 9)], status="Cancelled")
    Event.objects.all().delete()
    call_command("import_history", verbosity=0)
    call_command("import_history", verbosity=0)
    flush()
    assert list(Event.objects.filter(event_type=EventType.PURCHASE).values_list("quantity", flat=True)) == [2]


def _load_slice_as_oscar_orders(lines: int = 100) -> dict[str, int]:
    """The slice's first invoices of signed-in customers as Oscar orders (``OrderCreator``): products by stock code."""
    with gzip.open(SLICE, "rt") as handle:
        raw = pd.read_csv(handle, dtype=str, keep_default_na=False)
    raw = raw[(raw["CustomerID"] != "") & ~raw["InvoiceNo"].str.startswith("C")]
    raw = raw[(raw["Quantity"].astype(int) > 0) & (raw["UnitPrice"].astype(float) > 0)].head(lines)
    products = {code: make_product(f"Product {code}", price=f"{float(price):.2f}", stock=100_000)
                for code, price in raw.groupby("StockCode")["UnitPrice"].first().items()}
    customers = {cid: make_customer(f"c{cid}") for cid in raw["CustomerID"].unique()}
    for (_, cid), invoice in raw.groupby(["InvoiceNo", "CustomerID"], sort=False):
        place_order(customers[cid], [(products[code], int(qty)) for code, qty in zip(
            invoice["StockCode"], invoice["Quantity"], strict=True)])
    return {code: product.pk for code, product in products.items()}


def test_training_on_oscar_orders_and_the_tags_in_oscars_product_page(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        by_code = _load_slice_as_oscar_orders()
    flush()
    lines = get_model("order", "Line").objects.count()  # Oscar's basket merges a product added twice
    assert lines > 90 and Event.objects.filter(event_type=EventType.PURCHASE).count() == lines  # one per line
    call_command("train_recommenders", "--no-progress", verbosity=0)
    assert ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists()

    popular = Event.objects.filter(event_type=EventType.PURCHASE).values_list("product_id", flat=True)
    product = Product.objects.get(pk=pd.Series(list(popular)).value_counts().index[0])
    html = client.get(product.get_absolute_url()).content.decode()
    assert 'data-testid="price"' in html  # pricing's price tag, in Oscar's product_stock_record block
    assert "In stock" in html  # inventory's stock badge
    assert 'class="shopsense-recs"' in html  # a recommendation widget in Oscar's product_info block
    assert "?rec=" in html
    assert by_code


def test_a_price_suggestion_applied_lands_on_the_stock_record():
    product = make_product("Candle", price="10.00", cost="5.00")
    policy = PricingPolicy(scope=PricingPolicy.Scope.SHOP, min_margin=Decimal("0.10"),
                           strategy=PricingPolicy.Strategy.HOLD, absolute_floor=Decimal("10.99"),
                           ceiling=Decimal("10.99"))
    policy.full_clean()
    policy.save()
    [suggestion] = pricing_services.generate_suggestions([product]).created
    pricing_services.apply_suggestion(suggestion)
    assert StockRecord.objects.get(product=product).price == Decimal("10.99")


def test_a_received_purchase_order_raises_the_stock_record():
    product = make_product("Lamp", stock=3)
    order = PurchaseOrder.objects.create(status=PurchaseOrder.Status.ORDERED, ordered_at=timezone.now())
    PurchaseOrderLine.objects.create(purchase_order=order, product=product, quantity=12, unit_cost=Decimal("2.00"))
    receive_purchase_order(order.pk)
    assert StockRecord.objects.get(product=product).num_in_stock == 15


def test_plans_are_made_as_of_today_whatever_the_latest_oscar_order():
    from inventory.forecasting import planning_date

    ann = make_customer("ann")
    order = place_order(ann, [(make_product("Mug"), 1)])
    type(order).objects.filter(pk=order.pk).update(date_placed=timezone.now() - dt.timedelta(days=400))
    assert planning_date() == timezone.localdate()


def test_a_purchase_order_for_a_product_without_stock_record_is_refused_whole():
    from inventory.purchasing import PurchasingError

    lamp, gone = make_product("Lamp", stock=3), make_product("Gone", stock=1)
    order = PurchaseOrder.objects.create(status=PurchaseOrder.Status.ORDERED, ordered_at=timezone.now())
    for product in (lamp, gone):
        PurchaseOrderLine.objects.create(purchase_order=order, product=product, quantity=5, unit_cost=Decimal("2"))
    StockRecord.objects.filter(product=gone).delete()
    with pytest.raises(PurchasingError, match="cannot be received"):
        receive_purchase_order(order.pk)
    assert StockRecord.objects.get(product=lamp).num_in_stock == 3  # nothing half-booked
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.ORDERED


def test_a_price_for_a_product_without_stock_record_is_a_pricing_error():
    from pricing.actions import PricingError

    product = make_product("Candle", price="10.00")
    StockRecord.objects.filter(product=product).delete()
    with pytest.raises(PricingError, match="cannot be written"):
        pricing_services.write_price(Product.objects.get(pk=product.pk), Decimal("9.00"))
