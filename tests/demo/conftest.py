"""Factories and fixtures of the demo project's tests (run with ``--ds=shop_project.settings``)."""
from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import factory
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from shop_project.shop.models import Category, Order, OrderLine, Product

TEST_PASSWORD = "correct-horse-battery-staple"  # noqa: S105


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    description = factory.LazyAttribute(lambda o: f"A fine {o.name.lower()} for the home.")
    category = factory.SubFactory(CategoryFactory)
    list_price = Decimal("4.95")
    unit_cost = Decimal("2.10")
    stock_on_hand = 10
    is_active = True


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"shopper{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password(TEST_PASSWORD)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"T{n:06d}")
    customer = factory.SubFactory(UserFactory)
    country = "United Kingdom"


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda o: o.product.list_price)


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _tiny_search(settings) -> None:
    """The nightly search of the hybrid's settings on a tiny budget, so that tests training it stay fast."""
    recs = settings.PERSONALIZATION.get("RECOMMENDATIONS") or {}
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "RECOMMENDATIONS": {
        **recs, "SEARCH": {"TIME_BUDGET_S": 10, "MAX_TRIALS": 3}}}


@pytest.fixture(autouse=True)
def _tasks_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """Celery tasks (guest-event merge, buffer flush) run in-process, as in the embedded default.

    With ``REDIS_URL`` set the project would send them to the broker, where no worker listens in these
    tests. Tests marked ``worker`` keep the real configuration.
    """
    if request.node.get_closest_marker("worker"):
        yield
        return
    from shop_project.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def category(db) -> Category:
    return CategoryFactory(name="Kitchen", slug="kitchen")


@pytest.fixture
def product(category: Category) -> Product:
    return ProductFactory(
        name="Enamel Mug", sku="84029E", category=category, list_price=Decimal("3.75"), stock_on_hand=5
    )


@pytest.fixture
def shopper(db):
    return UserFactory(username="alice")


@pytest.fixture
def shopper_client(shopper) -> Client:
    """A test client logged in as ``shopper``."""
    client = Client()
    client.force_login(shopper)
    return client
