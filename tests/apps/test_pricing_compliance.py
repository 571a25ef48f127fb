import datetime as dt
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone

from pricing.models import PriceChange
from pricing.selectors import prior_price
from tests.apps.test_pricing_support import make_item

pytestmark = pytest.mark.django_db


def _history(item, start_price: str, changes: list[tuple[int, str]]) -> None:
    """Changes as (days ago, new price), oldest first; the item ends at the last price."""
    now = timezone.now()
    old = Decimal(start_price)
    for days_ago, price in changes:
        PriceChange.objects.create(product=item, old_price=old, new_price=Decimal(price), source="manual",
                                   changed_at=now - dt.timedelta(days=days_ago))
        old = Decimal(price)
    item.price = old
    item.save()


@pytest.mark.parametrize(
    "changes, expected",
    [
        ([], None),  # never changed
        ([(1, "15.00")], "20.00"),  # one cut: the price before it
        ([(10, "18.00"), (2, "15.00")], "20.00"),  # successive cuts keep the anchor of the first (not 18)
        ([(60, "12.00"), (45, "20.00"), (5, "15.00")], "20.00"),  # a low price more than 30 days before is ignored
        ([(30, "17.00"), (20, "20.00"), (5, "16.50")], "17.00"),  # the lowest inside the 30 days counts
        ([(30, "12.00"), (20, "20.00"), (5, "16.00")], None),  # lowest (12) not above now (16): nothing to show
        ([(10, "15.00"), (2, "17.00")], None),  # the latest change is a rise: no reduction in force
    ],
)
def test_the_prior_price_is_the_lowest_in_the_30_days_before_the_reduction_started(changes, expected):
    item = make_item(price="20.00")
    _history(item, "20.00", changes)

    assert prior_price(item) == (None if expected is None else Decimal(expected))


def test_the_window_is_anchored_at_the_start_of_the_reduction_not_today():
    item = make_item(price="20.00")
    # 16 -> 22 fifty days ago (a rise), cuts to 20 and 15 35 and 3 days ago: a rolling window of the last
    # 30 days would give 20; anchored at the first cut it covers days 65-35 ago, when 16 was charged.
    _history(item, "16.00", [(50, "22.00"), (35, "20.00"), (3, "15.00")])

    assert prior_price(item) == Decimal("16.00")


def _render(source: str, item) -> str:
    return Template("{% load pricing_tags %}" + source).render(Context({"product": item})).strip()


def test_the_price_tag_shows_was_and_now_during_a_reduction():
    item = make_item(price="20.00")
    _history(item, "20.00", [(1, "15.00")])

    html = _render("{% price_tag product %}", item)

    assert '<s class="price-was" data-testid="prior-price"' in html
    assert ">£20.00</s>" in html
    assert '<span class="price" data-testid="price">£15.00</span>' in html
    assert '<span class="price-off" data-testid="price-off">−25%</span>' in html


def test_the_price_tag_shows_only_the_price_without_a_reduction():
    item = make_item(price="20.00")
    _history(item, "18.00", [(1, "20.00")])

    html = _render("{% price_tag product %}", item)

    assert "price-was" not in html
    assert '<span class="price" data-testid="price">£20.00</span>' in html


def test_the_simple_tags_give_the_current_and_the_prior_price():
    item = make_item(price="20.00")
    _history(item, "20.00", [(1, "14.50")])

    assert _render("{% current_price product %}|{% prior_price product %}", item) == "14.50|20.00"
