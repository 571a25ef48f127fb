"""``GET /api/ping/``: the trivial endpoint (the serving benchmark's floor) answers and is documented."""
from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token


@pytest.mark.django_db
def test_ping_answers_a_guest(client):
    response = client.get("/api/ping/")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


@pytest.mark.django_db
def test_ping_accepts_a_token(client, django_user_model):
    user = django_user_model.objects.create_user("pinger", password="x")
    token = Token.objects.create(user=user)

    response = client.get("/api/ping/", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


@pytest.mark.django_db
def test_ping_rejects_a_bad_token(client):
    response = client.get("/api/ping/", HTTP_AUTHORIZATION="Token not-a-token")

    # the default stack's first class is SessionAuthentication, so DRF answers 403 (as on every endpoint)
    assert response.status_code == 403


@pytest.mark.django_db
def test_ping_is_in_the_api_schema(client):
    response = client.get("/api/schema/?format=json")

    assert response.status_code == 200
    assert response.json()["paths"]["/api/ping/"]["get"]["operationId"] == "ping"
