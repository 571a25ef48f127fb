"""A host that followed the README before the layout had one folder per concern still works unedited.

Every import path, dotted path in settings, template tag library, URL module and task name that the
README documented keeps resolving; paths that moved resolve to the same object as their new home and
warn that they moved.
"""
from __future__ import annotations

import importlib
import sys

import pytest
from celery import current_app
from django.template import Context, Template
from django.test import override_settings
from django.urls import include, path
from django.utils.module_loading import import_string

from personalization.host import adapters, cache, log_format, routing


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("personalization.adapters.ShopAdapter", adapters.ShopAdapter),
        ("personalization.adapters.DefaultShopAdapter", adapters.DefaultShopAdapter),
        ("personalization.adapters.get_adapter", adapters.get_adapter),
        ("personalization.adapters.OrderLineFact", adapters.OrderLineFact),
        ("personalization.cache.FailSafeRedisCache", cache.FailSafeRedisCache),
        ("personalization.log_format.JsonFormatter", log_format.JsonFormatter),
        ("personalization.routing.route_task", routing.route_task),
    ],
)
def test_a_moved_module_re_exports_its_names_and_warns(old: str, new: object) -> None:
    module_name = old.rsplit(".", 1)[0]
    sys.modules.pop(module_name, None)  # the warning is given on import

    with pytest.warns(DeprecationWarning, match="moved to personalization.host"):
        importlib.import_module(module_name)

    assert import_string(old) is new


def test_the_capture_service_still_resolves_at_its_old_path() -> None:
    import personalization.capture as capture
    from personalization.capture import services

    with pytest.warns(DeprecationWarning, match="personalization.capture.services.record_event"):
        record_event = capture.record_event

    assert record_event is services.record_event
    with pytest.raises(AttributeError):
        capture.no_such_service  # noqa: B018


@pytest.mark.parametrize(
    "dotted",
    [
        "personalization.signals.product_viewed",
        "personalization.signals.product_added_to_cart",
        "personalization.signals.search_performed",
        "personalization.signals.order_placed",
        "personalization.host.get_product_model",
        "personalization.host.get_order_model",
        "personalization.host.get_order_line_model",
        "personalization.api.health.HealthView",
        "personalization.api.errors.bad_request",
        "personalization.api.errors.not_found",
        "personalization.api.errors.server_error",
        "personalization.api.schema.add_error_responses",
    ],
)
def test_documented_paths_that_did_not_move_still_import(dotted: str) -> None:
    assert import_string(dotted) is not None


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:personalization.adapters moved:DeprecationWarning")
def test_an_adapter_named_at_its_old_path_in_settings_still_works() -> None:
    with override_settings(PERSONALIZATION={"SHOP_ADAPTER": "personalization.adapters.DefaultShopAdapter"}):
        assert isinstance(adapters.get_adapter(), adapters.DefaultShopAdapter)


def test_the_documented_url_modules_and_tag_libraries_load() -> None:
    patterns = [path(f"{app}/", include(f"{app}.urls")) for app in ("personalization", "pricing", "inventory")]

    assert len(patterns) == 3
    html = Template("{% load personalization_tags pricing_tags inventory_tags %}ok").render(Context({}))
    assert html == "ok"


@pytest.mark.parametrize(
    "name",
    [
        "personalization.flush_events", "personalization.merge_guest_events", "personalization.worker_heartbeat",
        "personalization.build_profiles", "personalization.update_profile", "personalization.retrain_recommenders",
        "pricing.refit_and_suggest", "inventory.plan_restock", "inventory.record_stockouts",
    ],
)
def test_the_task_names_are_registered(name: str) -> None:
    current_app.loader.import_default_modules()  # what a worker does at start: autodiscover the tasks modules

    assert name in current_app.tasks
