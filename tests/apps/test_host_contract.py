import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import checks
from django.test import override_settings

from personalization.host import get_order_line_model, get_order_model, get_product_model
from personalization.host.adapters import DefaultShopAdapter, ShopAdapter, get_adapter
from tests.testhost.models import Department, Item, Purchase, PurchaseLine

ROOT = Path(__file__).resolve().parents[2]
APPS = ("personalization", "pricing", "inventory")
# The demo shop's label as a migration would write it: 'shop', "shop.product", ('shop', '0001_initial').
DEMO_LABEL = re.compile(r"""['"]shop(\.\w+)?['"]""", re.IGNORECASE)


@pytest.mark.parametrize("app", APPS)
def test_app_migrations_never_name_the_demo_shop(app):
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / app / "migrations").glob("*.py")
        if DEMO_LABEL.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize("app", APPS)
def test_apps_never_import_the_demo_project(app):
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / app).rglob("*.py")
        if "shop_project" in path.read_text()
    ]
    assert offenders == []


def test_host_models_come_from_settings():
    assert (get_product_model(), get_order_model(), get_order_line_model()) == (Item, Purchase, PurchaseLine)


def _check_ids():
    return sorted(
        message.id for message in checks.run_checks() if message.id and message.id.startswith("personalization.")
    )


def test_checks_pass_with_a_valid_contract():
    assert _check_ids() == []


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"SHOP_PRODUCT_MODEL": None}, ["personalization.E001"]),
        ({"SHOP_PRODUCT_MODEL": "testhost.Nope"}, ["personalization.E001"]),
        ({"SHOP_ORDER_MODEL": "not-a-label"}, ["personalization.E001"]),
    ],
)
def test_checks_report_missing_or_wrong_model_settings(overrides, expected):
    with override_settings(**overrides):
        assert _check_ids() == expected


def test_checks_report_an_adapter_that_cannot_be_imported(settings):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "SHOP_ADAPTER": "nowhere.Adapter"}
    assert _check_ids() == ["personalization.E002"]


def test_checks_report_a_field_the_product_does_not_have(settings):
    fields = {**settings.PERSONALIZATION["PRODUCT_FIELDS"], "stock": "stock_level"}
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "PRODUCT_FIELDS": fields}
    assert _check_ids() == ["personalization.E003"]


@pytest.mark.parametrize(
    ("key", "lookup"),
    [
        ("price", "purchaseline__unit_price"),  # like django-oscar's stockrecords__price: a reverse foreign key
        ("category", "department__item__title"),  # through a to-many relation further along
    ],
)
def test_checks_report_a_lookup_across_a_to_many_relation(settings, key, lookup):
    fields = {**settings.PERSONALIZATION["PRODUCT_FIELDS"], key: lookup}
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "PRODUCT_FIELDS": fields}

    errors = [e for e in checks.run_checks() if e.id.startswith("personalization.")]

    assert [e.id for e in errors] == ["personalization.E004"]
    assert "to-many relation" in errors[0].msg and "adapter" in errors[0].hint


def test_checks_report_a_schema_class_drf_spectacular_cannot_use(settings):
    plain_drf = "rest_framework.schemas.openapi.AutoSchema"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_SCHEMA_CLASS": plain_drf}

    assert _check_ids() == ["personalization.E005"]


@pytest.mark.django_db
def test_default_adapter_reads_configured_field_names():
    dept = Department.objects.create(title="Candles")
    item = Item.objects.create(
        code="A1", title="Lantern", blurb="White metal", department=dept, price=Decimal("3.75"),
        cost=Decimal("2.25"), stock=7, incoming=12, available=False,
    )
    adapter = get_adapter()
    assert isinstance(adapter, ShopAdapter)
    facts = (adapter.get_price(item), adapter.get_unit_cost(item), adapter.get_stock(item), adapter.get_on_order(item))
    assert facts == (
        Decimal("3.75"), Decimal("2.25"), 7, 12,
    )
    assert adapter.get_category(item) == "Candles"
    assert adapter.get_text(item) == "Lantern White metal Candles"
    assert adapter.is_active(item) is False
    assert list(adapter.active_products()) == []


@pytest.mark.django_db
def test_default_adapter_lists_order_lines_and_writes_prices(django_user_model):
    dept = Department.objects.create(title="Bags")
    item = Item.objects.create(code="B1", title="Bag", department=dept, price=Decimal("1.00"))
    buyer = django_user_model.objects.create_user("ann")
    purchase = Purchase.objects.create(buyer=buyer)
    line = PurchaseLine.objects.create(purchase=purchase, item=item, qty=3, unit_price=Decimal("0.85"))
    adapter = DefaultShopAdapter()

    facts = adapter.order_lines_of(purchase)

    assert [(f.line_id, f.order_id, f.product_id, f.user_id, f.quantity, f.price) for f in facts] == [
        (line.pk, purchase.pk, item.pk, buyer.pk, 3, Decimal("0.85"))
    ]
    assert list(adapter.order_lines_since(purchase.created)) == facts
    adapter.set_price(item, Decimal("1.25"))
    item.refresh_from_db()
    assert item.price == Decimal("1.25")
