"""System checks of an Oscar shop's ShopSense settings (ids ``shopsense_oscar.E00x`` / ``W00x``).

Besides the adapter, a few places read a product or order field by the name in ``PRODUCT_FIELDS`` /
``ORDER_FIELDS`` (the product's name, the order's date, and a stock or category lookup in queries). In
Oscar stock and categories live on related rows, so those two must be ``None``; the names must exist.
"""
from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import FieldDoesNotExist
from oscar.core.loading import get_model

from personalization.host.conf import personalization_settings

from .adapter import OscarShopAdapter

_HINT = 'Use the lines of README "Plug into django-oscar".'


def _has_field(model: Any, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def check_oscar_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        adapter_class = personalization_settings.SHOP_ADAPTER
    except ImportError:
        return []  # personalization.E002 says so
    if not (isinstance(adapter_class, type) and issubclass(adapter_class, OscarShopAdapter)):
        return [Warning(
            "personalization.contrib.oscar is installed but PERSONALIZATION['SHOP_ADAPTER'] is not its adapter.",
            hint='Set "SHOP_ADAPTER": "personalization.contrib.oscar.adapter.OscarShopAdapter".',
            id="shopsense_oscar.W001",
        )]
    errors: list[CheckMessage] = []
    fields = personalization_settings.PRODUCT_FIELDS
    for key in ("stock", "category"):
        if fields.get(key):
            errors.append(Error(
                f"PERSONALIZATION['PRODUCT_FIELDS']['{key}'] = {fields[key]!r} with the Oscar adapter: Oscar keeps "
                f"the {key} on related rows, which only the adapter reads; queries by that name would fail.",
                hint=f'Set "{key}": None. ' + _HINT, id="shopsense_oscar.E001",
            ))
    checks = [("PRODUCT_FIELDS", "name", get_model("catalogue", "Product"), fields.get("name")),
              ("ORDER_FIELDS", "placed_at", get_model("order", "Order"),
               personalization_settings.ORDER_FIELDS.get("placed_at"))]
    for group, key, model, name in checks:
        if name and not _has_field(model, name):
            errors.append(Error(
                f"PERSONALIZATION['{group}']['{key}'] = {name!r} is not a field of {model._meta.label}.",
                hint=_HINT, id="shopsense_oscar.E002",
            ))
    return errors
