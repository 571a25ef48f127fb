"""Keeps a customer's profile current when they place an order; connected in ``AppConfig.ready()``."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .. import signals
from ..ops import jobs


def on_order_placed(sender: Any, order: Any, **kwargs: Any) -> None:
    """Queue the profile update once the order is committed (a guest's order is skipped by the task)."""
    order_id = order.pk
    # robust: without a broker the task runs right here, and a failing update must not fail the checkout
    transaction.on_commit(lambda: jobs.enqueue("personalization.update_profile", order_id), robust=True)


def connect() -> None:
    signals.order_placed.connect(on_order_placed, dispatch_uid="personalization.profiles.order_placed")
