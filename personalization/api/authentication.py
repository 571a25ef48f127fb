"""``Authorization: Api-Key <prefix>.<secret>`` for servers sending events on behalf of shoppers."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from ..capture.api_keys import verify_api_key
from ..models import ApiKey

KEYWORD = "Api-Key"


class ApiKeyUser(AnonymousUser):
    """The request's user when a server authenticates with an API key (not a shop customer)."""

    def __init__(self, api_key: ApiKey):
        super().__init__()
        self.api_key = api_key

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    @property
    def is_anonymous(self) -> bool:  # type: ignore[override]
        return False

    def __str__(self) -> str:
        return f"API key {self.api_key}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates ``Authorization: Api-Key <prefix>.<secret>``; other schemes are left to others.

    The request's user is an :class:`ApiKeyUser` (no ``pk``): views that serve a customer's own
    data must not treat it as a customer.
    """

    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        keyword, _, raw_key = header.strip().partition(" ")
        if keyword.lower() != KEYWORD.lower():
            return None
        api_key = verify_api_key(raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "personalization.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Value: `Api-Key <prefix>.<secret>` — a server key created in the admin.",
        }
