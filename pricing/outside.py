"""Price changes made outside ShopSense — the host's own product admin, a shell, an import — recorded.

The EU prior price and every guardrail read the price history, so a price that changed without
:func:`pricing.actions.write_price` must still land in it. Two ways find such a change:

- the host saving a product (``post_save`` of ``SHOP_PRODUCT_MODEL``, see :mod:`pricing.receivers`)
  records it at once: the price before the save against the price saved;
- :func:`reconcile_outside_changes` compares each product's current price with the last price in its
  history and records what differs; it catches what sends no signal (``QuerySet.update``, raw SQL, another
  system writing the database) and runs before every suggestion run.

Each such change is a :class:`~pricing.models.PriceChange` with source "outside ShopSense", and the
guardrails of the product's active policy that it breaks are listed on it (``broken_rules``), so the admin
can flag it. Nothing is refused: the host's write has happened already.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from django.db import models
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from personalization.host import get_product_model
from personalization.host.adapters import ShopAdapter, get_adapter

from .ml.guardrails import audit_price
from .models import PriceChange
from .policies import PolicyResolver, guarded_cost, guardrail_policy

logger = logging.getLogger(__name__)

_writing = contextvars.ContextVar("pricing_writing", default=False)


@contextmanager
def shopsense_write() -> Iterator[None]:
    """Marks a price write as ShopSense's own (:func:`pricing.actions.write_price` records it itself)."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def is_shopsense_write() -> bool:
    return _writing.get()


def broken_rules(product: models.Model, old: Decimal, new: Decimal, *, resolver: PolicyResolver | None = None,
                 adapter: ShopAdapter | None = None) -> tuple[str, ...]:
    """The guardrails of the product's active policy that moving ``old`` -> ``new`` breaks (none: no policy)."""
    adapter = adapter or get_adapter()
    policy = (resolver or PolicyResolver(adapter))(product)
    if policy is None:
        return ()
    last = PriceChange.objects.filter(product_id=product.pk).order_by("-changed_at", "-id").first()
    return audit_price(
        float(new), current_price=float(old), unit_cost=guarded_cost(policy, adapter.get_unit_cost(product)),
        policy=guardrail_policy(policy), now=timezone.now(), last_changed_at=last.changed_at if last else None,
    )


def record_outside_change(product: models.Model, old: Decimal, new: Decimal, *, how: str,
                          resolver: PolicyResolver | None = None, adapter: ShopAdapter | None = None) -> PriceChange:
    """Add a change made outside ShopSense to the price history, with the guardrails it breaks."""
    broken = broken_rules(product, old, new, resolver=resolver, adapter=adapter)
    change = PriceChange.objects.create(
        product_id=product.pk, old_price=old, new_price=new, changed_at=timezone.now(),
        source=PriceChange.Source.OUTSIDE, broken_rules=",".join(broken),
        reason=f"Changed outside ShopSense ({how})."
        + (f" Breaks the active policy's guardrails: {', '.join(broken)}." if broken else ""),
    )
    if broken:
        logger.warning("Product %s: price %s -> %s changed outside ShopSense breaks %s.", product.pk, old, new,
                       ", ".join(broken))
    return change


def reconcile_outside_changes() -> int:
    """Record every product whose price differs from the last one in its history; returns how many.

    Products without any history have nothing to compare with (their first ShopSense change records the
    price it started from).
    """
    adapter = get_adapter()
    latest = PriceChange.objects.filter(product_id=OuterRef("pk")).order_by("-changed_at", "-id")
    products = (get_product_model()._default_manager
                .annotate(_last_price=Subquery(latest.values("new_price")[:1]))
                .filter(_last_price__isnull=False))
    resolver = PolicyResolver(adapter)
    recorded = 0
    for product in products.iterator(chunk_size=500):
        try:
            current = adapter.get_price(product)
        except Exception:  # noqa: BLE001 - one unreadable product must not stop the others
            logger.warning("Could not read the price of product %s.", product.pk, exc_info=True)
            continue
        if current is not None and Decimal(current) != product._last_price:
            record_outside_change(product, product._last_price, Decimal(current), how="found by the reconciliation",
                                  resolver=resolver, adapter=adapter)
            recorded += 1
    return recorded
