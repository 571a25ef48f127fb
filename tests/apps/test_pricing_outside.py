"""A price the host changes itself (its product admin, a shell, an import) lands in the price history.

Before, 13.99 -> 19.99 (+43%) in the host's own admin went live with no history row, no step limit and no
pause switch, and the EU prior price (computed from that history) was wrong.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from pricing import selectors, services
from pricing.models import PriceChange
from pricing.outside import reconcile_outside_changes
from tests.apps.test_pricing_support import make_item, make_policy
from tests.testhost.models import Item

pytestmark = pytest.mark.django_db


def test_a_price_saved_by_the_host_is_recorded_with_the_guardrails_it_breaks():
    make_policy(max_change=Decimal("0.10"))
    item = make_item(price="13.99")

    item.price = Decimal("19.99")  # the host's own code: a form, a shell, an import saving the product
    item.save()

    change = PriceChange.objects.get(product_id=item.pk)
    assert (change.old_price, change.new_price, change.source) == (Decimal("13.99"), Decimal("19.99"), "outside")
    assert "max-change" in change.broken_rules.split(",")
    assert "breaks the active policy's guardrails" in change.reason.lower()


def test_a_host_save_that_keeps_the_price_or_is_shopsense_s_own_write_records_one_row_only():
    make_policy(max_change=Decimal("0.25"))
    item = make_item(price="10.00")

    item.stock = 3
    item.save()  # no price change: nothing recorded
    services.write_price(item, Decimal("9.50"))  # ShopSense's own write: its own row, not an "outside" one

    assert list(PriceChange.objects.values_list("source", "new_price")) == [("manual", Decimal("9.50"))]


def test_a_change_that_sent_no_signal_is_found_by_the_reconciliation_before_suggesting():
    make_policy(max_change=Decimal("0.10"))
    item = make_item(price="10.00")
    services.write_price(item, Decimal("9.50"))

    Item.objects.filter(pk=item.pk).update(price=Decimal("12.00"))  # raw update: no signal
    recorded = reconcile_outside_changes()

    assert recorded == 1
    latest = PriceChange.objects.order_by("-id").first()
    assert (latest.old_price, latest.new_price, latest.source) == (Decimal("9.50"), Decimal("12.00"), "outside")
    assert reconcile_outside_changes() == 0  # the history now agrees with the shop


def test_the_prior_price_counts_a_change_made_outside_shopsense():
    make_policy(max_change=Decimal("0.50"))
    item = make_item(price="20.00")
    item.price = Decimal("14.00")  # the host cuts the price in its own admin
    item.save()

    assert selectors.prior_price(item) == Decimal("20.00")


def test_the_price_history_admin_flags_outside_changes_that_break_the_policy():
    make_policy(max_change=Decimal("0.10"))
    item = make_item(price="13.99")
    item.price = Decimal("19.99")
    item.save()
    admin = Client()
    admin.force_login(get_user_model().objects.create_user("boss", is_staff=True, is_superuser=True))

    page = admin.get("/admin/pricing/pricechange/", {"breaks": "yes"}).content.decode()

    assert "Outside ShopSense" in page and "breaks max-change" in page
