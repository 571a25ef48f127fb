"""``order_placed`` sent more than once for one order (a host that retries, a double submit that reached the
signal twice, two capture paths) stores one purchase per order line: through the Redis buffer, straight
into the database while Redis is away, and from parallel requests."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from personalization import signals
from personalization.capture import services as capture
from personalization.models import Event, EventType
from tests.apps.test_capture import make_request
from tests.testhost.models import Department, Item, Purchase, PurchaseLine


@pytest.fixture
def order(django_user_model):
    department = Department.objects.create(title="Candles")
    items = [Item.objects.create(code=f"I-{n}", title=f"Item {n}", department=department, price=Decimal("2.00"))
             for n in range(3)]
    purchase = Purchase.objects.create(buyer=django_user_model.objects.create_user("dee"))
    for n, item in enumerate(items):
        PurchaseLine.objects.create(purchase=purchase, item=item, qty=n + 1, unit_price=Decimal("2.00"))
    return purchase


def _purchases() -> list[tuple[int, int, str]]:
    capture.flush_buffer()
    return sorted(Event.objects.filter(event_type=EventType.PURCHASE)
                  .values_list("product_id", "quantity", "client_event_id"))


def _expected(order) -> list[tuple[int, int, str]]:
    lines = PurchaseLine.objects.filter(purchase=order)
    return sorted((line.item_id, line.qty, f"orderline:{line.pk}") for line in lines)


@pytest.mark.django_db
@pytest.mark.parametrize("redis_up", [True, False], ids=["buffered", "redis-down"])
def test_order_placed_twice_stores_one_purchase_per_line(order, settings, redis_up,
                                                         django_capture_on_commit_callbacks):
    if not redis_up:
        settings.REDIS_URL = ""  # events go straight to the database

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            signals.order_placed.send(sender=Purchase, request=make_request(user=order.buyer), order=order)

    assert _purchases() == _expected(order)


@pytest.mark.django_db(transaction=True)
def test_order_placed_from_parallel_requests_stores_one_purchase_per_line(order, settings):
    start = threading.Barrier(8)

    def send() -> None:
        try:
            start.wait(timeout=30)
            signals.order_placed.send(sender=Purchase, request=make_request(user=order.buyer), order=order)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert _purchases() == _expected(order)
