"""One order per cart, whatever the number of submits: one after the other, or ten at the same moment
(threads, each with its own database connection, on PostgreSQL where the row locks are real)."""
from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from personalization.models import Event, EventType
from shop_project.shop.models import Order, OrderLine, Product

PARALLEL_SUBMITS = 10


def _cart_client(shopper, product, quantity: int = 2) -> Client:
    client = Client()
    client.force_login(shopper)
    client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": str(quantity)})
    client.get(reverse("shop:checkout"))
    return client


def _purchases() -> list[Event]:
    from personalization.capture import services as capture

    capture.flush_buffer()
    return list(Event.objects.filter(event_type=EventType.PURCHASE))


@pytest.mark.django_db(transaction=True)
def test_submitting_the_same_cart_again_places_no_second_order(shopper, product):
    client = _cart_client(shopper, product)
    first = client.post(reverse("shop:checkout"), {"country": "France"}, follow=False)
    # the shopper goes back and submits the page they still have (same session, the cart as it was)
    session = client.session
    session["cart"] = {str(product.pk): 2}
    session["cart_token"] = Order.objects.get().checkout_token
    session.save()

    again = client.post(reverse("shop:checkout"), {"country": "France"})

    order = Order.objects.get()
    assert first["Location"] == again["Location"] == reverse("shop:order", args=[order.number])
    assert Product.objects.get(pk=product.pk).stock_on_hand == 3
    assert [(e.product_id, e.quantity) for e in _purchases()] == [(product.pk, 2)]


@pytest.mark.django_db(transaction=True)
def test_ten_parallel_submits_of_one_cart_make_one_order(shopper, product):
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's row locks (SQLite serialises every write)")
    client = _cart_client(shopper, product)
    cookies = client.cookies
    start = threading.Barrier(PARALLEL_SUBMITS)
    answers: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def submit() -> None:
        own = Client()
        own.cookies = cookies  # the same browser session, ten tabs (or a impatient double click)
        try:
            start.wait(timeout=30)
            response = own.post(reverse("shop:checkout"), {"country": "France"})
            answers.append((response.status_code, response.get("Location", "")))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(PARALLEL_SUBMITS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    orders = list(Order.objects.all())
    assert len(orders) == 1, f"{len(orders)} orders from {PARALLEL_SUBMITS} parallel submits"
    assert OrderLine.objects.count() == 1
    assert Product.objects.get(pk=product.pk).stock_on_hand == 3
    assert all(status == 302 for status, _ in answers) and len(answers) == PARALLEL_SUBMITS
    to_order = [where for _, where in answers if where == reverse("shop:order", args=[orders[0].number])]
    assert to_order, answers  # at least the submit that placed it; the others see the order or an empty cart
    assert [(e.product_id, e.quantity) for e in _purchases()] == [(product.pk, 2)]
