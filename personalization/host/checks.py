"""System checks for the host contract and the deployment (ids ``personalization.E00x``)."""
from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models

from .. import host
from .conf import personalization_settings

# Keys whose lookup is meant to cross a to-many relation: the adapter reads them with one query, all rows.
TO_MANY_KEYS = frozenset({("PRODUCT_FIELDS", "categories")})
OSCAR_HINT = "For django-oscar, set PERSONALIZATION['SHOP_ADAPTER'] = 'personalization.contrib.oscar.OscarShopAdapter'."


def _lookup_problem(model: type[models.Model], path: str, to_many: bool = False) -> str:
    """Why the default adapter cannot read ``path`` on one ``model`` row ("" when it can).

    The adapter follows ``a__b`` one object at a time, so every step before the last must lead to one
    object: a to-many relation (a reverse foreign key, a many-to-many) has no single value to read
    (unless ``to_many``: a lookup the adapter reads as a list of values).
    """
    current: type[models.Model] | None = model
    for part in path.split("__"):
        if current is None:
            return f"{path!r} goes past a field that is not a relation"
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            return f"{path!r} is not a field of {model._meta.label}"
        if field.is_relation and (field.many_to_many or field.one_to_many) and not to_many:
            return (f"{path!r} crosses the to-many relation {current._meta.label}.{part}, which has no single "
                    "value per row")
        current = field.related_model if field.is_relation else None
    return ""


def check_host_contract(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    resolved: dict[str, type[models.Model]] = {}
    for setting_name in host.HOST_MODEL_SETTINGS:
        try:
            resolved[setting_name] = host._get_host_model(setting_name)
        except ImproperlyConfigured as exc:
            errors.append(
                Error(
                    str(exc),
                    hint=f"Add {setting_name} = 'yourapp.Model' to your settings.",
                    id="personalization.E001",
                )
            )

    try:
        adapter_class = personalization_settings.SHOP_ADAPTER
    except ImportError as exc:
        errors.append(
            Error(
                f"PERSONALIZATION['SHOP_ADAPTER'] cannot be imported: {exc}",
                hint="Give the dotted path of a class implementing personalization.host.adapters.ShopAdapter.",
                id="personalization.E002",
            )
        )
        return errors

    errors.extend(_check_schema_class())
    errors.extend(_check_adapter_methods(adapter_class))
    if "SHOP_ORDER_LINE_MODEL" in resolved and "SHOP_PRODUCT_MODEL" in resolved:
        from .adapters import DefaultShopAdapter

        if isinstance(adapter_class, type) and issubclass(adapter_class, DefaultShopAdapter):
            errors.extend(_check_default_adapter_fields(resolved))
    errors.extend(_check_non_sale_statuses())
    return errors


def _check_adapter_methods(adapter_class: Any) -> list[CheckMessage]:
    """Every method of the ShopAdapter protocol is there (a host's own adapter may predate a new one)."""
    from .adapters import ShopAdapter

    wanted = [name for name, value in vars(ShopAdapter).items() if callable(value) and not name.startswith("_")]
    missing = [name for name in wanted if not callable(getattr(adapter_class, name, None))]
    if not missing:
        return []
    return [Error(
        f"PERSONALIZATION['SHOP_ADAPTER'] lacks {', '.join(missing)} of the ShopAdapter protocol.",
        hint="Implement them (see personalization.host.adapters.ShopAdapter and the README's adapter section), "
             "or subclass personalization.host.adapters.DefaultShopAdapter, which has them all.",
        id="personalization.E007",
    )]


def _check_non_sale_statuses() -> list[CheckMessage]:
    value = personalization_settings.NON_SALE_ORDER_STATUSES
    if isinstance(value, list | tuple | set | frozenset) and all(isinstance(s, str) for s in value):
        return []
    return [Error(
        f"PERSONALIZATION['NON_SALE_ORDER_STATUSES'] must be a list of status strings, not {value!r}.",
        hint='For example ["cancelled", "refunded"] (matched case-insensitively against ORDER_FIELDS["status"]).',
        id="personalization.E006",
    )]


def _check_schema_class() -> list[CheckMessage]:
    """drf-spectacular documents the apps' API only with its own AutoSchema as DRF's schema class."""
    from drf_spectacular.openapi import AutoSchema
    from rest_framework.settings import api_settings

    schema_class = api_settings.DEFAULT_SCHEMA_CLASS
    if isinstance(schema_class, type) and issubclass(schema_class, AutoSchema):
        return []
    return [Error(
        "REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] is not drf-spectacular's AutoSchema: the apps' API schema "
        "(/api/schema/, /api/docs/) cannot be generated.",
        hint='Set REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema" (the only '
        "REST_FRAMEWORK setting the apps need; every other one they set on their views).",
        id="personalization.E005",
    )]


def _check_default_adapter_fields(resolved: dict[str, type[models.Model]]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    product = resolved["SHOP_PRODUCT_MODEL"]
    line = resolved["SHOP_ORDER_LINE_MODEL"]
    order = resolved.get("SHOP_ORDER_MODEL")
    groups: list[tuple[str, type[models.Model] | None, dict[str, str | None], set[str]]] = [
        ("PRODUCT_FIELDS", product, personalization_settings.PRODUCT_FIELDS, {"price"}),
        ("ORDER_LINE_FIELDS", line, personalization_settings.ORDER_LINE_FIELDS,
         {"order", "product", "quantity", "price"}),
        ("ORDER_FIELDS", order, personalization_settings.ORDER_FIELDS, {"user", "placed_at"}),
    ]
    for group, model, fields, required in groups:
        if model is None:
            continue
        for key, path in fields.items():
            if not path:
                if key in required:
                    errors.append(
                        Error(f"PERSONALIZATION['{group}']['{key}'] must name a field.", id="personalization.E003")
                    )
                continue
            problem = _lookup_problem(model, path, to_many=(group, key) in TO_MANY_KEYS)
            if problem.startswith(f"{path!r} crosses"):
                errors.append(
                    Error(
                        f"PERSONALIZATION['{group}']['{key}']: {problem}.",
                        hint="The default adapter reads one value per row (only PRODUCT_FIELDS['categories'] may "
                        "cross a to-many relation, e.g. 'categories__name'). Where a fact lives on related rows, "
                        "use an adapter that knows the host (subclass DefaultShopAdapter and override the "
                        f"getter), or None if the shop has no such fact. {OSCAR_HINT}",
                        id="personalization.E004",
                    )
                )
            elif problem:
                errors.append(
                    Error(
                        f"PERSONALIZATION['{group}']['{key}'] = {path!r} is not a field of {model._meta.label}.",
                        hint="Set it to the name of the field that holds this fact, or None if the shop has none. "
                        + OSCAR_HINT,
                        id="personalization.E003",
                    )
                )
    return errors


def check_artifact_storage(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``SHOPSENSE_ARTIFACT_STORAGE`` names a configured ``STORAGES`` alias (where model artifacts go)."""
    from django.core.files.storage import storages

    from ..ops.registry import ARTIFACT_STORAGE_SETTING, artifact_storage_alias

    alias = artifact_storage_alias()
    if isinstance(alias, str) and alias in storages.backends:
        return []
    configured = ", ".join(repr(name) for name in storages.backends) or "none"
    return [Error(
        f"settings.{ARTIFACT_STORAGE_SETTING} = {alias!r} is not an alias of settings.STORAGES (configured: "
        f"{configured}): model artifacts could be neither written nor read.",
        hint=f'Add it to STORAGES (e.g. STORAGES["models"] = {{"BACKEND": "storages.backends.s3.S3Storage", '
             f'"OPTIONS": {{...}}}}), or leave {ARTIFACT_STORAGE_SETTING} unset to use "default".',
        id="personalization.E008",
    )]
