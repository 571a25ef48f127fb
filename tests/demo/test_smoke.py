"""The demo project boots: system checks pass, migrations are complete, the API schema is served."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


def test_system_checks_pass():
    out = StringIO()

    call_command("check", stdout=out)

    assert "System check identified no issues" in out.getvalue()


@pytest.mark.django_db
def test_migrations_are_complete():
    # makemigrations --check exits (SystemExit 1) when a model change has no migration
    out = StringIO()

    call_command("makemigrations", "--check", "--dry-run", stdout=out)

    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_api_schema_is_served(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert b"ShopSense API" in response.content
