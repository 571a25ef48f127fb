"""Receivers of the pricing app, connected in ``AppConfig.ready()``: the host saving a product with a new
price records that change in the price history (:mod:`pricing.outside`). They never break the host's save."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models.signals import post_save, pre_delete, pre_save

from personalization.host.adapters import get_adapter

from .conf import pricing_settings
from .models import PriceChange
from .outside import is_shopsense_write, record_outside_change

logger = logging.getLogger(__name__)
_BEFORE = "_shopsense_price_before"


def on_product_pre_save(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """Remember the stored price (one query) when the host saves an existing product."""
    if raw or is_shopsense_write() or instance.pk is None or instance._state.adding \
            or not pricing_settings.TRACK_OUTSIDE_CHANGES:
        return
    try:
        stored = sender._default_manager.filter(pk=instance.pk).first()
        if stored is not None:
            setattr(instance, _BEFORE, get_adapter().get_price(stored))
    except Exception:  # noqa: BLE001 - the host's save goes on whatever happens here
        logger.warning("Could not read the stored price of product %s.", instance.pk, exc_info=True)


def on_product_post_save(sender: Any, instance: Any, created: bool = False, raw: bool = False,
                         **kwargs: Any) -> None:
    """Record the change when the saved price differs from the stored one."""
    before = instance.__dict__.pop(_BEFORE, None)
    if before is None or created or raw or is_shopsense_write():
        return
    try:
        after = get_adapter().get_price(instance)
        if after is not None and Decimal(after) != Decimal(before):
            record_outside_change(instance, Decimal(before), Decimal(after), how="the product was saved")
    except Exception:  # noqa: BLE001
        logger.exception("Could not record the outside price change of product %s.", instance.pk)


def on_product_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Label the price history of a product the shop deletes (the rows stay, their product becomes NULL)."""
    label = f"{instance} (deleted product {instance.pk})"[:255]
    PriceChange.objects.filter(product_id=instance.pk).update(product_label=label)


def connect() -> None:
    pre_delete.connect(on_product_deleted, sender=settings.SHOP_PRODUCT_MODEL, dispatch_uid="pricing.product_deleted")
    pre_save.connect(on_product_pre_save, sender=settings.SHOP_PRODUCT_MODEL, dispatch_uid="pricing.outside.pre")
    post_save.connect(on_product_post_save, sender=settings.SHOP_PRODUCT_MODEL, dispatch_uid="pricing.outside.post")
