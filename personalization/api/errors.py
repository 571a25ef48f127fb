"""JSON error pages for the API's URLs (``handler400`` / ``handler404`` / ``handler500`` of the host's root
URLconf).

A URL that matches no route (``/api/pricing/suggestions/abc/``) is answered by Django's 404 page,
HTML; API clients get ``{"detail": ...}`` instead. Other paths keep Django's pages.
"""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PATH_PREFIX = "/api/"


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404 = "personalization.api.errors.not_found"``."""
    if request.path.startswith(API_PATH_PREFIX):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler400 = "personalization.api.errors.bad_request"`` (e.g. a form with too many fields)."""
    if request.path.startswith(API_PATH_PREFIX):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500 = "personalization.api.errors.server_error"``."""
    if request.path.startswith(API_PATH_PREFIX):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)
