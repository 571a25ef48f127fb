"""Schemathesis over the OpenAPI schema: no 5xx, every answer as documented, for three kinds of caller.

Each operation is called with generated data (valid and invalid) as staff with every permission, as a
customer and as a server with an API key; operations with an id in the path are called once more with
the id of a row that exists, so the success path is exercised, not only 404. A stateful run follows
the links Schemathesis infers (a list's ids into detail and actions, a created order into order/receive).
"""
from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis import checks

from personalization.capture import api_keys

SCHEMA = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
APP = WSGIHandler()
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def keep_test_connection():
    """The WSGI app would close the test's database connection after each request (the test client
    does not either)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def callers(db, keep_test_connection) -> dict[str, dict[str, str]]:
    User = get_user_model()
    staff = User.objects.create_user("fuzz-staff", is_staff=True, is_superuser=True)
    customer = User.objects.create_user("fuzz-customer")
    _, raw_key = api_keys.create_api_key("fuzz server")
    return {
        "staff": {"Authorization": f"Token {Token.objects.create(user=staff).key}"},
        "customer": {"Authorization": f"Token {Token.objects.create(user=customer).key}"},
        "key": {"Authorization": f"Api-Key {raw_key}"},
    }


# Which row of the world an operation's path id names, by the start of its path.
EXISTING = {
    "/api/personalization/profiles/": "cust",
    "/api/pricing/suggestions/": "suggestion",
    "/api/inventory/suggestions/": "restock",
    "/api/inventory/purchase-orders/{id}/receive/": "ordered_po",
    "/api/inventory/purchase-orders/": "draft_po",
}


def _existing_id(path: str, world: dict[str, Any]) -> int:
    return next(world[name] for prefix, name in EXISTING.items() if path.startswith(prefix))


@pytest.mark.parametrize("caller", ["staff", "customer", "key"])
@SCHEMA.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case, caller, callers, world):
    response = case.call(app=APP, headers=callers[caller])
    case.validate_response(response, checks=CHECKS)

    if case.path_parameters:  # again, on a row that exists
        case.path_parameters = {name: _existing_id(case.path, world) for name in case.path_parameters}
        response = case.call(app=APP, headers=callers[caller])
        case.validate_response(response, checks=CHECKS)


# --- stateful: sequences of calls linked through the ids one answer gives the next (inferred links) ---------
def test_api_workflows_as_staff_conform_to_the_schema(callers, world):
    headers = callers["staff"]

    class Workflow(SCHEMA.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):
            return {"app": APP, "headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=settings(
            max_examples=25, stateful_step_count=6, deadline=None, derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
