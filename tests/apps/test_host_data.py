"""Robust to host data: deleted products and users on order lines, order statuses, several categories,
and a host deleting a product the apps know (through its own admin)."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from io import StringIO

import pytest
from django.core import checks
from django.core.management import call_command
from django.forms import modelform_factory
from django.utils import timezone

from inventory import services as inventory_services
from inventory.models import PurchaseOrder, PurchaseOrderLine, StockoutDay
from personalization.capture.receivers import on_order_placed
from personalization.host.adapters import DefaultShopAdapter, get_adapter
from personalization.models import Event, EventType
from pricing import services as pricing_services
from pricing.models import PriceChange
from tests.apps.test_pricing_support import make_item, make_sales, media  # noqa: F401 - a fixture
from tests.apps.test_profiles import _as_of_the_last_order, catalogue, shop  # noqa: F401 - fixtures
from tests.testhost.models import Item, Purchase, PurchaseLine, Tag

pytestmark = pytest.mark.django_db
WHEN = timezone.make_aware(dt.datetime(2024, 1, 10, 12, 0))


def _fields(settings, group: str, **values) -> None:
    settings.PERSONALIZATION = {
        **settings.PERSONALIZATION, group: {**settings.PERSONALIZATION[group], **values}
    }


def _line_of_a_deleted_product(buyer=None, when=WHEN) -> PurchaseLine:
    gone = make_item("GONE")
    purchase = Purchase.objects.create(buyer=buyer, created=when)
    line = PurchaseLine.objects.create(purchase=purchase, item=gone, qty=3, unit_price=Decimal("2.00"))
    gone.delete()
    line.refresh_from_db()
    assert line.item_id is None
    return line


# --- order lines whose product was deleted ------------------------------------------------------
def test_build_profiles_leaves_out_a_line_whose_product_was_deleted_and_says_so(shop):  # noqa: F811
    _line_of_a_deleted_product(buyer=shop[0])
    out = StringIO()

    call_command("build_profiles", "--no-progress", stdout=out)

    assert "Left out 1 order lines whose product was deleted." in out.getvalue()
    assert "60 customers" in out.getvalue()


def test_a_placed_order_with_a_deleted_product_records_the_other_lines(settings, django_user_model):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "EVENT_BUFFER": False}
    line = _line_of_a_deleted_product(buyer=django_user_model.objects.create_user("ann"))
    kept = PurchaseLine.objects.create(purchase=line.purchase, item=make_item("B"), qty=1, unit_price=Decimal("5"))

    on_order_placed(sender=None, request=None, order=line.purchase)

    assert list(Event.objects.values_list("client_event_id", "product_id")) == [
        (f"orderline:{kept.pk}", kept.item_id)
    ]


def test_a_guest_or_deleted_customer_is_a_guest_purchase(settings, django_user_model):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "EVENT_BUFFER": False}
    ann = django_user_model.objects.create_user("ann")
    purchase = Purchase.objects.create(buyer=ann, created=WHEN)
    PurchaseLine.objects.create(purchase=purchase, item=make_item("B"), qty=1, unit_price=Decimal("5"))
    ann.delete()  # the order stays, without its customer
    purchase.refresh_from_db()

    on_order_placed(sender=None, request=None, order=purchase)

    assert list(Event.objects.values_list("user_id", "session_key")) == [(None, f"order-{purchase.pk}")]


@pytest.mark.usefixtures("media")
def test_elasticities_and_demand_history_leave_out_a_deleted_products_lines(caplog, settings):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "REFERENCE_TIME": "2024-01-15"}  # the data's as-of
    item = make_item(price="10.00", cost="8.00")
    make_sales(item, elasticity=-3.0, end=WHEN)
    _line_of_a_deleted_product(when=WHEN - dt.timedelta(weeks=3))

    version = pricing_services.fit_elasticities()
    panel = inventory_services.demand_panel(dt.date(2024, 1, 15))

    assert version.status == version.Status.ACTIVE
    assert set(panel["unique_id"]) == {str(item.pk)}
    assert "Elasticities: left out 1 order lines whose product was deleted." in caplog.text
    assert "Demand history: left out 1 order lines whose product was deleted." in caplog.text


# --- order status -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status_field", "excluded", "expected"),
    [
        (None, ("cancelled",), ["", "CANCELED", "Cancelled", "paid", "refunded"]),  # no status field: all sales
        ("state", ("cancelled", "canceled"), ["", "paid", "refunded"]),  # the default list, any case
        ("state", ("cancelled", "Refunded"), ["", "CANCELED", "paid"]),
        ("state", (), ["", "CANCELED", "Cancelled", "paid", "refunded"]),
    ],
)
def test_orders_in_a_non_sale_status_are_not_read(settings, status_field, excluded, expected):
    _fields(settings, "ORDER_FIELDS", status=status_field)
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "NON_SALE_ORDER_STATUSES": excluded}
    item = make_item("A")
    for state in ("paid", "Cancelled", "CANCELED", "refunded", ""):
        purchase = Purchase.objects.create(created=WHEN, state=state)
        PurchaseLine.objects.create(purchase=purchase, item=item, qty=1, unit_price=Decimal("1"))
    adapter = get_adapter()

    read = sorted(Purchase.objects.get(pk=fact.order_id).state for fact in adapter.order_lines_since())

    assert read == expected
    assert adapter.non_sale_line_count() == 5 - len(expected)
    orders = Purchase.objects.order_by("pk")
    assert [bool(adapter.order_lines_of(o)) for o in orders] == [o.state in expected for o in orders]


# --- several categories -------------------------------------------------------------------------
def test_categories_come_from_the_configured_to_many_lookup(settings):
    a, b, c = make_item("A", department="Candles"), make_item("B"), make_item("C")
    red, gift = Tag.objects.create(label="red"), Tag.objects.create(label="gift")
    a.tags.set([red, gift])
    b.tags.set([gift])
    adapter = get_adapter()
    assert adapter.get_categories(a) == ["Candles"]  # without the setting: the single category

    _fields(settings, "PRODUCT_FIELDS", categories="tags__label")

    assert adapter.get_categories(a) == ["gift", "red"]
    assert adapter.categories_of([a, b, c]) == {a.pk: ["gift", "red"], b.pk: ["gift"], c.pk: []}
    assert adapter.get_category(a) == "Candles"  # the main category stays what it was


def test_a_category_policy_applies_to_a_product_in_any_of_its_categories(settings):
    from pricing.models import PricingPolicy
    from pricing.policies import effective_policy
    from tests.apps.test_pricing_support import make_policy

    item = make_item("A", department="Candles")
    item.tags.set([Tag.objects.create(label="gift")])
    policy = make_policy(scope=PricingPolicy.Scope.CATEGORY, category="gift")
    assert effective_policy(item) is None

    _fields(settings, "PRODUCT_FIELDS", categories="tags__label")

    assert effective_policy(item) == policy


# --- a host deleting a product ------------------------------------------------------------------
def test_the_hosts_admin_deletes_a_product_with_a_purchase_order_price_history_and_events(admin_client):
    item = make_item("A", price="10.00")
    pricing_services.write_price(item, Decimal("9.00"))
    order = PurchaseOrder.objects.create(status=PurchaseOrder.Status.ORDERED, ordered_at=timezone.now())
    PurchaseOrderLine.objects.create(purchase_order=order, product=item, quantity=5, unit_cost=Decimal("4.00"))
    other = make_item("B", stock=1)
    PurchaseOrderLine.objects.create(purchase_order=order, product=other, quantity=2)
    Event.objects.create(event_type=EventType.VIEW, product=item, session_key="s", client_event_id="v1",
                         timestamp=timezone.now())
    assert PriceChange.objects.filter(product=item).exists()

    response = admin_client.post(f"/admin/testhost/item/{item.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Item.objects.filter(pk=item.pk).exists()
    line = order.lines.get(quantity=5)
    assert (line.product_id, line.product_label, str(line)) == (
        None, f"Item A (deleted product {item.pk})", f"5 x Item A (deleted product {item.pk})"
    )
    assert Event.objects.get(client_event_id="v1").product_id is None  # the behaviour stays, anonymous
    assert not PriceChange.objects.filter(product_id=item.pk).exists()  # a price history means nothing alone
    inventory_services.receive_purchase_order(order.pk)  # the other line still goes into stock
    other.refresh_from_db()
    assert other.stock == 3
    rows = list(csv.DictReader(io.StringIO(inventory_services.purchase_orders_csv([order]))))
    assert [(r["product_id"], r["product"]) for r in rows if r["quantity"] == "5"] == [
        ("", f"Item A (deleted product {item.pk})")
    ]


# --- checks -----------------------------------------------------------------------------------------
def _errors():
    return {m.id: m for m in checks.run_checks() if m.id and m.id.startswith("personalization.")}


@pytest.mark.parametrize(
    ("group", "key", "path", "expected"),
    [
        ("PRODUCT_FIELDS", "categories", "tags__label", []),  # meant to be to-many
        ("PRODUCT_FIELDS", "categories", "tags__nope", ["personalization.E003"]),
        ("PRODUCT_FIELDS", "category", "tags__label", ["personalization.E004"]),  # one value per row
        ("PRODUCT_FIELDS", "stock", "stockrecords__num_in_stock", ["personalization.E003"]),
        ("ORDER_FIELDS", "status", "state", []),
        ("ORDER_FIELDS", "status", "status", ["personalization.E003"]),
        ("ORDER_LINE_FIELDS", "price", "price_incl_tax", ["personalization.E003"]),
    ],
)
def test_check_catches_a_lookup_that_would_fail_at_run_time(settings, group, key, path, expected):
    _fields(settings, group, **{key: path})

    errors = _errors()

    assert sorted(errors) == expected
    for error in errors.values():
        assert "personalization.contrib.oscar.OscarShopAdapter" in error.hint


@pytest.mark.parametrize("value", ["cancelled", ["cancelled", 3]])
def test_check_catches_a_status_list_that_is_not_a_list_of_strings(settings, value):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "NON_SALE_ORDER_STATUSES": value}

    assert sorted(_errors()) == ["personalization.E006"]


class AdapterWithoutWeeklySales:
    """A host's own adapter written before ``weekly_sales`` joined the protocol (three methods of it here)."""


for _name in ("get_price", "get_unit_cost", "get_stock"):
    setattr(AdapterWithoutWeeklySales, _name, lambda self, product: None)


def test_check_names_the_protocol_methods_a_hosts_adapter_lacks(settings):
    settings.PERSONALIZATION = {
        **settings.PERSONALIZATION, "SHOP_ADAPTER": "tests.apps.test_host_data.AdapterWithoutWeeklySales"
    }

    errors = _errors()

    assert sorted(errors) == ["personalization.E007"]
    assert "weekly_sales" in errors["personalization.E007"].msg
    assert "get_price," not in errors["personalization.E007"].msg


def test_the_default_adapter_has_every_protocol_method():
    assert "personalization.E007" not in _errors()


def test_the_hosts_admin_deletes_a_product_every_app_knows(admin_client, world):
    """The item of ``world`` has a price suggestion, a forecast, a restock suggestion and purchase-order lines."""
    response = admin_client.post(f"/admin/testhost/item/{world['item']}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Item.objects.filter(pk=world["item"]).exists()
    assert PurchaseOrderLine.objects.filter(product__isnull=True).count() == 2


# --- stock read through the adapter --------------------------------------------------------------
class WarehouseAdapter(DefaultShopAdapter):
    """Like django-oscar's: stock lives elsewhere (here: the ``incoming`` field stands for a stock record)."""

    def get_stock(self, product):
        return product.incoming

    def is_available(self, product):
        return self.is_active(product) and self.get_stock(product) > 0

    def available_products(self):
        return self.active_products().filter(incoming__gt=0)


def test_recommendations_leave_out_what_the_adapter_says_is_out_of_stock(settings):
    from personalization.recommending import serving

    settings.PERSONALIZATION = {
        **settings.PERSONALIZATION, "SHOP_ADAPTER": "tests.apps.test_host_data.WarehouseAdapter",
        "PRODUCT_FIELDS": {**settings.PERSONALIZATION["PRODUCT_FIELDS"], "stock": None},
    }
    empty, full = make_item("E", stock=9), make_item("F", stock=0)
    Item.objects.filter(pk=full.pk).update(incoming=4)

    rows = serving.apply_rules([(empty.pk, 1.0, "x"), (full.pk, 0.5, "x")], limit=5)

    assert [row[0] for row in rows] == [full.pk]
    assert serving.unavailable_products(max_age=0) == frozenset({empty.pk})


def test_training_data_leaves_out_purchases_of_a_deleted_product(django_user_model, caplog):
    from personalization.recommending.data import purchase_frame

    ann = django_user_model.objects.create_user("ann")
    kept, gone = make_item("K"), make_item("G")
    for n, item in enumerate((kept, gone)):
        Event.objects.create(event_type=EventType.PURCHASE, user=ann, product=item, client_event_id=f"p{n}",
                             timestamp=WHEN, price=Decimal("1"))
    gone.delete()

    frame = purchase_frame()

    assert frame["item"].tolist() == [kept.pk]
    assert "Training data: left out 1 purchases whose product was deleted." in caplog.text


def test_a_purchase_order_with_a_deleted_products_line_stays_editable_in_the_admin():
    from inventory.admin import PurchaseOrderLineForm

    order = PurchaseOrder.objects.create()
    gone = make_item("G")
    line = PurchaseOrderLine.objects.create(purchase_order=order, product=gone, quantity=5)
    gone.delete()
    line.refresh_from_db()
    form_class = modelform_factory(PurchaseOrderLine, form=PurchaseOrderLineForm,
                                   fields=("product", "quantity", "unit_cost"))

    edited = form_class(instance=line, data={"quantity": "6", "unit_cost": "4.00"})
    new = form_class(data={"quantity": "6", "unit_cost": "4.00"})

    assert edited.is_valid(), edited.errors
    assert edited.save().quantity == 6
    assert not new.is_valid() and "product" in new.errors  # a new line still needs a product


def test_the_recommenders_item_table_lists_every_category(settings):
    from personalization.recommending.data import item_features, item_table

    a = make_item("A", department="Candles")
    make_item("B", department="Kitchen")
    a.tags.set([Tag.objects.create(label="gift")])
    assert item_table()["categories"].tolist() == [["Candles"], ["Kitchen"]]  # the single category

    _fields(settings, "PRODUCT_FIELDS", categories="tags__label")
    items = item_table()

    assert items[["category", "categories"]].values.tolist() == [["Candles", ["gift"]], ["Kitchen", []]]
    assert item_features(items).all_categories == [["gift"], []]


def test_stockout_days_come_from_the_adapters_availability(settings):
    from inventory.demand_signals import record_stockouts

    settings.PERSONALIZATION = {
        **settings.PERSONALIZATION, "SHOP_ADAPTER": "tests.apps.test_host_data.WarehouseAdapter",
        "PRODUCT_FIELDS": {**settings.PERSONALIZATION["PRODUCT_FIELDS"], "stock": None},
    }
    empty, full = make_item("E", stock=9), make_item("F", stock=0)
    Item.objects.filter(pk=full.pk).update(incoming=4)

    assert record_stockouts(dt.date(2024, 3, 6)) == 1
    assert list(StockoutDay.objects.values_list("product_id", flat=True)) == [empty.pk]


@pytest.mark.parametrize("line", [{"product": None, "quantity": 2}, {"quantity": 2}])
def test_the_api_refuses_a_purchase_order_line_without_a_product(client, django_user_model, line):
    staff = django_user_model.objects.create_superuser("boss", password="pw")
    client.force_login(staff)

    response = client.post("/api/inventory/purchase-orders/", {"lines": [line]}, content_type="application/json")

    assert response.status_code == 400
    assert "product" in str(response.json())
    assert not PurchaseOrder.objects.exists()
