"""The permission matrix: every API endpoint and admin action or page × six kinds of caller.

Callers: ``anon`` (nobody signed in), ``cust`` (the customer the data belongs to), ``other`` (another
customer), ``staff-`` (staff without any permission), ``staff+`` (staff holding exactly the row's
permissions), ``key`` (a server with an API key). Every cell is the expected HTTP status. A refused
unsafe request changes nothing. The endpoint list is read from the OpenAPI schema and the admin's
registry, so an endpoint, admin action or admin page without a row fails the coverage tests.

Anonymous API calls get 403, not 401: session authentication comes first and has no challenge.
Admin pages send everyone who is not staff to the login page (302).
"""
# ruff: noqa: E501 - the matrix reads best as one wide table
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db
CALLERS = ("anon", "cust", "other", "staff-", "staff+", "key")
SAFE = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Row:
    method: str
    url: str  # "{name}" placeholders are filled from the world fixture
    expect: tuple[int, int, int, int, int, int]  # one status per caller, in CALLERS order
    perms: tuple[str, ...] = ()  # what staff+ holds
    body: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.url}"


VIEW_PROFILES = ("personalization.view_customerprofile",)
SUGGESTION_VIEW = ("pricing.view_pricesuggestion",)
SUGGESTION_DECIDE = ("pricing.change_pricesuggestion",)
RESTOCK_CHANGE = ("inventory.change_restocksuggestion",)
PO_CHANGE = ("inventory.change_purchaseorder",)

# --- the API ---------------------------------------------------------------------------------------
#        method  url                                                       anon cust other staff- staff+ key
API_ROWS = [
    Row("GET", "/api/health/",                                            (200, 200, 200, 200, 200, 200)),
    Row("POST", "/api/personalization/events/",                            (403, 202, 202, 202, 202, 400),
        body={"events": [{"type": "view", "product": "{item}"}]}),  # a server must name the user or visitor
    Row("POST", "/api/personalization/events/",                            (403, 202, 400, 400, 400, 202),
        body={"events": [{"type": "view", "product": "{item}", "user": "{cust}"}]}),
    Row("GET", "/api/personalization/profile/",                            (403, 200, 404, 404, 404, 403)),
    Row("GET", "/api/personalization/profiles/",                           (403, 403, 403, 403, 200, 403), VIEW_PROFILES),
    Row("GET", "/api/personalization/profiles/{cust}/",                    (403, 403, 403, 403, 200, 403), VIEW_PROFILES),
    Row("GET", "/api/personalization/segments/",                           (403, 403, 403, 403, 200, 403), VIEW_PROFILES),
    Row("POST", "/api/personalization/segments/rebuild/",                  (403, 403, 403, 403, 202, 403),
        ("personalization.add_profilebuild",)),
    Row("GET", "/api/personalization/recommendations/?placement=for_you",  (200, 200, 200, 200, 200, 200)),
    Row("GET", "/api/personalization/recommendations/?placement=for_you&user={cust}",
                                                                           (403, 200, 403, 403, 200, 403), VIEW_PROFILES),
    Row("GET", "/api/pricing/prices/?products={item}",                     (200, 200, 200, 200, 200, 200)),
    Row("GET", "/api/pricing/suggestions/",                                (403, 403, 403, 403, 200, 403), SUGGESTION_VIEW),
    Row("GET", "/api/pricing/suggestions/{suggestion}/",                   (403, 403, 403, 403, 200, 403), SUGGESTION_VIEW),
    Row("POST", "/api/pricing/suggestions/{suggestion}/approve/",          (403, 403, 403, 403, 200, 403),
        SUGGESTION_DECIDE),
    Row("POST", "/api/pricing/suggestions/{suggestion}/reject/",           (403, 403, 403, 403, 200, 403),
        SUGGESTION_DECIDE, {"reason": "too dear"}),
    Row("POST", "/api/pricing/suggestions/{suggestion}/apply/",            (403, 403, 403, 403, 200, 403),
        (*SUGGESTION_DECIDE, "pricing.add_pricechange")),
    Row("GET", "/api/pricing/history/",                                    (403, 403, 403, 403, 200, 403),
        ("pricing.view_pricechange",)),
    Row("GET", "/api/inventory/forecasts/",                                (403, 403, 403, 403, 200, 403),
        ("inventory.view_demandforecast",)),
    Row("GET", "/api/inventory/suggestions/",                              (403, 403, 403, 403, 200, 403),
        ("inventory.view_restocksuggestion",)),
    Row("GET", "/api/inventory/exceptions/",                               (403, 403, 403, 403, 200, 403),
        ("inventory.view_restocksuggestion",)),
    Row("POST", "/api/inventory/suggestions/{restock}/status/",            (403, 403, 403, 403, 200, 403),
        RESTOCK_CHANGE, {"status": "dismissed"}),
    Row("POST", "/api/inventory/suggestions/purchase-orders/",             (403, 403, 403, 403, 201, 403),
        (*RESTOCK_CHANGE, "inventory.add_purchaseorder"), {"suggestions": ["{restock}"]}),
    Row("GET", "/api/inventory/purchase-orders/",                          (403, 403, 403, 403, 200, 403),
        ("inventory.view_purchaseorder",)),
    Row("POST", "/api/inventory/purchase-orders/",                         (403, 403, 403, 403, 201, 403),
        ("inventory.add_purchaseorder",), {"lines": [{"product": "{item}", "quantity": 5, "unit_cost": "4.00"}]}),
    Row("GET", "/api/inventory/purchase-orders/{draft_po}/",               (403, 403, 403, 403, 200, 403),
        ("inventory.view_purchaseorder",)),
    Row("GET", "/api/inventory/purchase-orders/{draft_po}/csv/",           (403, 403, 403, 403, 200, 403),
        ("inventory.view_purchaseorder",)),
    Row("POST", "/api/inventory/purchase-orders/{draft_po}/order/",        (403, 403, 403, 403, 200, 403), PO_CHANGE),
    Row("POST", "/api/inventory/purchase-orders/{ordered_po}/receive/",    (403, 403, 403, 403, 200, 403), PO_CHANGE),
]


# --- the admin: actions (POST to the change list) and the apps' own pages ------------------------------
@dataclass(frozen=True)
class AdminRow:
    model: str  # app_label.model_name
    target: str  # an action name, or the URL name of an extra page
    expect: tuple[int, int, int, int, int, int]
    perms: tuple[str, ...]
    selected: str = ""  # the world object an action runs on
    method: str = "POST"
    data: dict[str, str] = field(default_factory=dict)
    kwargs: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.model}:{self.target}"


LOGIN = (302, 302, 302, 403)  # anon, cust, other, staff- ; key (no session) is also sent to the login page
MV = ("personalization.view_modelversion", "personalization.change_modelversion")
SUGGESTION_ACT = ("pricing.view_pricesuggestion", "pricing.change_pricesuggestion")
RESTOCK_ACT = ("inventory.view_restocksuggestion", "inventory.change_restocksuggestion")
PO_ACT = ("inventory.view_purchaseorder", "inventory.change_purchaseorder")

#        model                            target                                   expect (… staff+, key)  perms
ADMIN_ROWS = [
    AdminRow("personalization.apikey",        "revoke",                                (*LOGIN, 302, 302),
             ("personalization.view_apikey", "personalization.change_apikey"), "api_key"),
    AdminRow("personalization.modelversion",  "activate_versions",                     (*LOGIN, 302, 302), MV, "version"),
    AdminRow("personalization.modelversion",  "retire_versions",                       (*LOGIN, 302, 302), MV, "version"),
    AdminRow("personalization.modelversion",  "retrain_recommender",                   (*LOGIN, 302, 302), MV, "version"),
    AdminRow("personalization.modelversion",  "start_ab_test",                         (*LOGIN, 302, 302), MV, "version"),
    AdminRow("personalization.modelversion",  "stop_ab_test",                          (*LOGIN, 302, 302), MV, "version"),
    AdminRow("personalization.modelversion",  "personalization_modelversion_retrain",  (*LOGIN, 302, 302),
             ("personalization.change_modelversion",)),
    AdminRow("personalization.modelversion",  "personalization_modelversion_preview",  (*LOGIN, 200, 302),
             ("personalization.view_modelversion", *VIEW_PROFILES), method="GET", data={"user": "{cust}"}),
    AdminRow("personalization.customerprofile", "export_csv",                          (*LOGIN, 200, 302),
             VIEW_PROFILES, "profile"),
    AdminRow("personalization.customerprofile", "personalization_customerprofile_segments", (*LOGIN, 200, 302),
             VIEW_PROFILES, method="GET"),
    AdminRow("personalization.customerprofile", "personalization_customerprofile_rebuild",  (*LOGIN, 302, 302),
             ("personalization.add_profilebuild",)),
    AdminRow("personalization.customerprofile", "personalization_customerprofile_export",   (*LOGIN, 200, 302),
             VIEW_PROFILES, method="GET"),
    AdminRow("pricing.pricesuggestion",       "approve_selected",                      (*LOGIN, 302, 302),
             SUGGESTION_ACT, "suggestion"),
    AdminRow("pricing.pricesuggestion",       "reject_selected",                       (*LOGIN, 302, 302),
             SUGGESTION_ACT, "suggestion", data={"reason": "too dear"}),
    AdminRow("pricing.pricesuggestion",       "apply_selected",                        (*LOGIN, 302, 302),
             (*SUGGESTION_ACT, "pricing.add_pricechange"), "suggestion"),
    AdminRow("pricing.pricesuggestion",       "pricing_pricesuggestion_refit",         (*LOGIN, 302, 302),
             SUGGESTION_DECIDE),
    AdminRow("pricing.pricechange",           "roll_back",                             (*LOGIN, 302, 302),
             ("pricing.view_pricechange", "pricing.add_pricechange"), "price_change"),
    AdminRow("pricing.pricechange",           "pricing_pricechange_chart",             (*LOGIN, 200, 302),
             ("pricing.view_pricechange",), method="GET", kwargs={"product_id": "{item}"}),
    AdminRow("inventory.restocksuggestion",   "create_purchase_order",                 (*LOGIN, 302, 302),
             (*RESTOCK_ACT, "inventory.add_purchaseorder"), "restock"),
    AdminRow("inventory.restocksuggestion",   "inventory_restocksuggestion_dashboard", (*LOGIN, 200, 302),
             ("inventory.view_restocksuggestion",), method="GET"),
    AdminRow("inventory.restocksuggestion",   "mark_ordered",                          (*LOGIN, 302, 302), RESTOCK_ACT, "restock"),
    AdminRow("inventory.restocksuggestion",   "snooze",                                (*LOGIN, 302, 302), RESTOCK_ACT, "restock"),
    AdminRow("inventory.restocksuggestion",   "dismiss",                               (*LOGIN, 302, 302), RESTOCK_ACT, "restock"),
    AdminRow("inventory.purchaseorder",       "mark_as_ordered",                       (*LOGIN, 302, 302), PO_ACT, "draft_po"),
    AdminRow("inventory.purchaseorder",       "receive",                               (*LOGIN, 302, 302), PO_ACT, "ordered_po"),
    AdminRow("inventory.purchaseorder",       "export_csv",                            (*LOGIN, 200, 302),
             ("inventory.view_purchaseorder",), "draft_po"),
]
APP_LABELS = ("personalization", "pricing", "inventory")


def _fill(value: Any, world: dict[str, Any]) -> Any:
    """Replace ``"{name}"`` placeholders (a whole value becomes the id itself, an int)."""
    if isinstance(value, dict):
        return {key: _fill(item, world) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, world) for item in value]
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+)\}", value)
        if whole:
            return world[whole.group(1)]
        return value.format(**world)
    return value


def _client(caller: str, perms: tuple[str, ...], world: dict[str, Any]) -> Client:
    """A Django test client signed in as ``caller`` (sessions: the real authentication path)."""
    User = get_user_model()
    if caller == "key":
        return Client(HTTP_AUTHORIZATION=f"Api-Key {world['raw_key']}")
    client = Client()
    if caller in ("cust", "other"):
        client.force_login(User.objects.get(username=caller))
    elif caller.startswith("staff"):
        staff = User.objects.create_user(caller, is_staff=True)
        if caller == "staff+":
            staff.user_permissions.set([_permission(name) for name in perms])
        client.force_login(staff)
    return client


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of the apps' and the shop's tables (tiny here), to prove a refusal changed nothing."""
    state = {}
    for model in apps.get_models():
        if model._meta.app_label in (*APP_LABELS, "testhost"):
            rows = list(model._default_manager.order_by("pk").values())
            for row in rows:
                row.pop("last_used_at", None)  # an API key's use is recorded even when the request is refused
            state[model._meta.label] = rows
    return state


def _cells(rows: list[Any]) -> list[Any]:
    return [
        pytest.param(row, caller, row.expect[index], id=f"{row.id} as {caller}")
        for row in rows
        for index, caller in enumerate(CALLERS)
    ]


def _normalise(path: str) -> str:
    return re.sub(r"\{\w+\}", "{}", path.split("?")[0])


# --- coverage: every endpoint, admin action and admin page has a row ------------------------------------
def test_every_api_operation_has_a_row():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {(method.upper(), _normalise(path)) for path, ops in schema["paths"].items() for method in ops}

    rows = {(row.method, _normalise(row.url)) for row in API_ROWS}

    assert operations == rows


def _admin_targets() -> set[tuple[str, str]]:
    targets = set()
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in APP_LABELS:
            continue
        label = model._meta.label_lower
        targets |= {(label, name) for name in (model_admin.actions or ())}
        built_in = {pattern.name for pattern in admin.ModelAdmin.get_urls(model_admin)}
        targets |= {(label, p.name) for p in model_admin.get_urls() if p.name and p.name not in built_in}
    return targets


def test_every_admin_action_and_page_has_a_row():
    assert _admin_targets() == {(row.model, row.target) for row in ADMIN_ROWS}


# --- the matrix -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("row", "caller", "expected"), _cells(API_ROWS))
def test_api_matrix(row, caller, expected, world):
    client = _client(caller, row.perms, world)
    before = snapshot() if row.method not in SAFE else None

    response = client.generic(
        row.method, _fill(row.url, world), data=_json(_fill(row.body, world)), content_type="application/json"
    )

    assert response.status_code == expected, response.content[:300]
    if before is not None and expected >= 400:
        assert snapshot() == before


def _json(body: dict[str, Any] | None) -> str:
    import json

    return json.dumps(body) if body is not None else ""


def _admin_request(client: Client, row: AdminRow, world: dict[str, Any]) -> Any:
    app_label, model_name = row.model.split(".")
    if row.target.startswith(f"{app_label}_"):  # an extra page
        url = reverse(f"admin:{row.target}", kwargs=_fill(row.kwargs, world))
        data = _fill(row.data, world)
        return client.get(url, data) if row.method == "GET" else client.post(url, data)
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    data = {"action": row.target, "_selected_action": [world[row.selected]], "index": 0, **row.data}
    return client.post(url, data)


@pytest.mark.parametrize(("row", "caller", "expected"), _cells(ADMIN_ROWS))
def test_admin_matrix(row, caller, expected, world):
    client = _client(caller, row.perms, world)
    before = snapshot() if row.method == "POST" else None

    response = _admin_request(client, row, world)

    assert response.status_code == expected, response.content[:300]
    if expected == 302 and caller != "staff+":
        assert "/login/" in response["Location"]
    if before is not None and caller != "staff+":
        assert snapshot() == before


# --- admin actions refuse staff who may see the list but lack the action's permission ------------------------
ACTION_ROWS = [row for row in ADMIN_ROWS if not row.target.startswith(f"{row.model.split('.')[0]}_")]


@pytest.mark.parametrize("row", [r for r in ACTION_ROWS if len(r.perms) > 1], ids=lambda r: r.id)
def test_an_action_without_its_permission_is_refused_with_a_message_and_changes_nothing(row, world):
    view_only = tuple(name for name in row.perms if ".view_" in name)
    client = _client("staff+", view_only, world)
    before = snapshot()

    response = _admin_request(client, row, world)

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"You do not have permission to run the action “{row.target}”."
    ]
    assert snapshot() == before
