"""manage.py import_history: purchase events for a host's past orders, idempotent, skipped lines counted."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from personalization.capture import history
from personalization.capture.receivers import on_order_placed
from personalization.models import CustomerProfile, Event, EventSource, EventType, ProfileBuild
from tests.apps.test_pricing_support import make_item
from tests.testhost.models import Purchase, PurchaseLine

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
START = timezone.make_aware(dt.datetime(2011, 3, 1, 10, 0))


def _order(buyer, when, items, state=""):
    purchase = Purchase.objects.create(buyer=buyer, created=when, state=state)
    for item in items:
        PurchaseLine.objects.create(purchase=purchase, item=item, qty=2, unit_price=Decimal("3.50"))
    return purchase


@pytest.fixture
def past(django_user_model, settings):
    """Two customers' orders over four days, one guest order, and the products they name; the shop's as-of
    is the day after (a profile build years after the data would be refused as absurd)."""
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "REFERENCE_TIME": "2011-03-05"}
    ann = django_user_model.objects.create_user("ann")
    bob = django_user_model.objects.create_user("bob")
    a, b, c = make_item("A"), make_item("B"), make_item("C")
    orders = [
        _order(ann, START, [a, b]),
        _order(bob, START + DAY, [c]),
        _order(None, START + 2 * DAY, [a]),
        _order(ann, START + 3 * DAY, [c]),
    ]
    return {"ann": ann, "bob": bob, "items": (a, b, c), "orders": orders}


def _purchases():
    return Event.objects.filter(event_type=EventType.PURCHASE)


def _run(*args: str) -> str:
    out = StringIO()
    call_command("import_history", "--no-progress", *args, stdout=out)
    return out.getvalue()


def test_a_first_run_writes_one_event_per_line_and_rebuilds_the_profiles_once(past):
    output = _run()

    lines = PurchaseLine.objects.order_by("pk")
    assert sorted(_purchases().values_list("client_event_id", flat=True)) == sorted(
        f"orderline:{line.pk}" for line in lines
    )
    assert set(_purchases().values_list("source", flat=True)) == {EventSource.IMPORT}
    guest = _purchases().get(client_event_id=f"orderline:{past['orders'][2].lines.get().pk}")
    assert (guest.user_id, guest.session_key) == (None, f"order-{past['orders'][2].pk}")
    assert ProfileBuild.objects.filter(trigger="import_history").count() == 1
    assert CustomerProfile.objects.get(user=past["ann"]).orders == 2
    assert "Read 5 order lines: 5 purchase events written, 0 already there" in output
    assert "Profiles rebuilt: 2 customers" in output


def test_a_second_run_stores_nothing_twice_and_does_not_rebuild(past):
    _run()
    first = list(_purchases().order_by("pk").values_list("pk", "client_event_id", "timestamp"))

    output = _run()

    assert list(_purchases().order_by("pk").values_list("pk", "client_event_id", "timestamp")) == first
    assert "Read 5 order lines: 0 purchase events written, 5 already there" in output
    assert "Profiles not rebuilt: no new purchase." in output
    assert ProfileBuild.objects.count() == 1


def test_lines_captured_when_the_order_was_placed_count_as_already_there(past, settings):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "EVENT_BUFFER": False}  # stored at once
    on_order_placed(sender=None, request=None, order=past["orders"][0])  # 2 lines, captured live
    assert _purchases().count() == 2

    result = history.import_history(rebuild_profiles=False)

    assert (result.lines_read, result.events_written, result.already_there) == (5, 3, 2)
    assert _purchases().count() == 5


def test_since_takes_only_orders_placed_from_that_day(past):
    output = _run("--since", (START + 2 * DAY).date().isoformat())

    assert sorted(_purchases().values_list("timestamp", flat=True)) == [START + 2 * DAY, START + 3 * DAY]
    assert "Read 2 order lines: 2 purchase events written" in output


def test_deleted_products_and_cancelled_orders_are_skipped_and_counted(past, settings):
    settings.PERSONALIZATION = {
        **settings.PERSONALIZATION,
        "ORDER_FIELDS": {**settings.PERSONALIZATION["ORDER_FIELDS"], "status": "state"},
    }
    _order(past["bob"], START + 4 * DAY, [past["items"][0], past["items"][1]], state="CANCELLED")
    past["items"][1].delete()  # its line of the first order stays, with no product (and the cancelled one's)

    result = history.import_history(rebuild_profiles=False)
    output = _run()

    assert (result.lines_read, result.events_written, result.already_there) == (5, 4, 0)
    assert dict(result.skipped) == {history.DELETED_PRODUCT: 1, history.NON_SALE_STATUS: 2}
    assert "skipped, product deleted: 1" in output
    assert "skipped, order not a sale (status): 2" in output
    assert _purchases().filter(product__isnull=True).count() == 0


@pytest.mark.parametrize("value", ["yesterday", "2011-13-01", "2011-02-30", "01/03/2011"])
def test_a_bad_since_is_a_command_error_and_writes_nothing(past, value):
    with pytest.raises(CommandError, match="--since must be a date"):
        _run("--since", value)

    assert _purchases().count() == 0


def test_an_empty_shop_imports_nothing():
    result = history.import_history()

    assert (result.lines_read, result.events_written, result.profile_build) == (0, 0, None)
