"""The API configuration every view of the three apps owns, whatever the host's ``REST_FRAMEWORK`` says.

A view that leaves a class to DRF's defaults takes the host's: in a host with DRF's bare defaults the
events API accepted anonymous posts without a CSRF check, ignored API keys and failed on a missing
throttle rate; with ``AllowAny`` defaults staff lists would open; without a pagination class they came
back whole. So each view of the apps inherits :class:`ShopSenseAPI` first and names only what differs
(its permission, a throttle scope). Checked by running the permission matrix and the events API under a
host with DRF's bare defaults and one with ``AllowAny`` (``bin/test``).
"""
from __future__ import annotations

from typing import Any

from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.versioning import AcceptHeaderVersioning

from .authentication import ApiKeyAuthentication
from .parsers import API_PARSERS
from .throttling import AnonRateThrottle, UserRateThrottle


class Pagination(PageNumberPagination):
    """50 rows a page (``?page=``), whatever the host's ``PAGE_SIZE``."""

    page_size = 50


class Versioning(AcceptHeaderVersioning):
    """``Accept: application/json; version=1``; version 1 when none is asked for."""

    default_version = "1"
    allowed_versions = ("1",)


class ShopSenseAPI:
    """Authentication, permission, throttles, parsers, renderers, pagination and versioning of the apps'
    API views (a view overrides only what differs, usually ``permission_classes``).

    The schema class is the one setting the apps take from the host: drf-spectacular's ``extend_schema``
    reads ``DEFAULT_SCHEMA_CLASS`` when a view module is imported, so ``manage.py check`` requires it to be
    drf-spectacular's (``personalization.E005``).
    """

    authentication_classes = [SessionAuthentication, TokenAuthentication, ApiKeyAuthentication]
    permission_classes: Any = [IsAuthenticated]
    throttle_classes: Any = [AnonRateThrottle, UserRateThrottle]
    parser_classes = API_PARSERS
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    pagination_class: Any = Pagination
    versioning_class = Versioning

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Lists are paginated by the generic views and viewsets only; a plain APIView that answers with a
        # list (POST suggestions/purchase-orders/) returns it whole, and its schema must not say otherwise.
        super().__init_subclass__(**kwargs)
        if "pagination_class" not in cls.__dict__:
            cls.pagination_class = Pagination if issubclass(cls, GenericAPIView) else None
