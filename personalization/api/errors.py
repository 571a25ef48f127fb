"""JSON error pages for the API's URLs (``handler400`` / ``handler404`` / ``handler500`` of the host's root
URLconf).

A URL that matches no route (``/api/pricing/suggestions/abc/``) is answered by Django's 404 page,
HTML; API clients get ``{"detail": ...}`` instead. Other paths keep Django's pages. An error raised because
the database cannot be reached (restarting, failing over) is answered 503 with ``Retry-After`` instead of a
500, wherever in the request it was raised (a view, or a middleware such as the session's saving).
"""
from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from ..host.middleware import API_ERROR_DETAILS, API_PATH_PREFIX

RETRY_AFTER_SECONDS = 5


def is_database_unavailable(exception: BaseException | None) -> bool:
    """The database could not be reached (Django's wrappers of the driver's connection errors)."""
    return isinstance(exception, OperationalError | InterfaceError)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After``: clients and load balancers retry; nothing half-done was committed."""
    message = "The service is briefly unavailable; please retry."
    if request.path.startswith(API_PATH_PREFIX):
        response: HttpResponse = JsonResponse({"detail": message}, status=503)
    else:
        response = HttpResponse(message, status=503, content_type="text/plain")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404 = "personalization.api.errors.not_found"``."""
    if request.path.startswith(API_PATH_PREFIX):
        return JsonResponse({"detail": API_ERROR_DETAILS[404]}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler400 = "personalization.api.errors.bad_request"`` (e.g. a form with too many fields)."""
    if request.path.startswith(API_PATH_PREFIX):
        return JsonResponse({"detail": API_ERROR_DETAILS[400]}, status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500 = "personalization.api.errors.server_error"`` (called while the exception is handled)."""
    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable(request)
    if request.path.startswith(API_PATH_PREFIX):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)
