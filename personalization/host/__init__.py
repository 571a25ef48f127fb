"""The host contract: what ShopSense needs from the shop, and what a host names in its settings.

- this module — which of the shop's models are the product, order and order line (below);
- ``adapters`` — the ``ShopAdapter`` protocol and ``DefaultShopAdapter``: every shop fact read, every
  price and stock written; ``conf`` — the ``PERSONALIZATION`` settings dict (and ``AppSettings`` for the
  other apps' dicts); ``checks`` — system checks of that configuration; ``ids`` — valid host ids;
  ``money`` — prices formatted with the currency setting and the active locale;
- ``routing`` (Celery task routes), ``broker`` (kombu's Redis transport that survives Redis restarts),
  ``cache`` (the fail-safe Redis cache backend), ``log_format`` (JSON logs), ``middleware`` (a NUL in a
  request is a 400) and ``urls`` (health, schema and docs pages) — the pieces a host names in its own settings.

Like ``AUTH_USER_MODEL``, the host names its models in flat settings (``SHOP_PRODUCT_MODEL`` and
friends, ``"app_label.Model"``); app code reaches them only through these helpers, and foreign keys
use ``settings.SHOP_PRODUCT_MODEL`` directly.
"""
from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

HOST_MODEL_SETTINGS = ("SHOP_PRODUCT_MODEL", "SHOP_ORDER_MODEL", "SHOP_ORDER_LINE_MODEL")


def _get_host_model(setting_name: str) -> type[models.Model]:
    label = getattr(settings, setting_name, None)
    if not label:
        raise ImproperlyConfigured(f"{setting_name} is not set; name your model as 'app_label.Model'.")
    try:
        return apps.get_model(label, require_ready=False)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{setting_name} must be of the form 'app_label.Model', not {label!r}.") from exc
    except LookupError as exc:
        raise ImproperlyConfigured(f"{setting_name} refers to model {label!r}, which is not installed.") from exc


def get_product_model() -> type[models.Model]:
    """The host's product model (``settings.SHOP_PRODUCT_MODEL``)."""
    return _get_host_model("SHOP_PRODUCT_MODEL")


def get_order_model() -> type[models.Model]:
    """The host's order model (``settings.SHOP_ORDER_MODEL``)."""
    return _get_host_model("SHOP_ORDER_MODEL")


def get_order_line_model() -> type[models.Model]:
    """The host's order line model (``settings.SHOP_ORDER_LINE_MODEL``)."""
    return _get_host_model("SHOP_ORDER_LINE_MODEL")
