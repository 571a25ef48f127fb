"""Receivers of the host's signals; connected in ``AppConfig.ready()``."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import pre_delete

from .models import PurchaseOrderLine


def on_product_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Label the purchase-order lines of a product the shop deletes (their product becomes NULL)."""
    label = f"{instance} (deleted product {instance.pk})"[:255]
    PurchaseOrderLine.objects.filter(product_id=instance.pk).update(product_label=label)


def connect() -> None:
    pre_delete.connect(on_product_deleted, sender=settings.SHOP_PRODUCT_MODEL,
                       dispatch_uid="inventory.product_deleted")
