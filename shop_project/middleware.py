"""Middleware of the demo project."""
from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from personalization.api import errors

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """Answer 503 with ``Retry-After`` when a view cannot reach the database (restarting, failing over),
    instead of a 500: clients and load balancers retry, and nothing half-done was committed (each
    write is one transaction). Errors raised outside the view (the session middleware saving a session)
    reach ``handler500``, which answers the same (:mod:`personalization.api.errors`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not errors.is_database_unavailable(exception):
            return None
        logger.error("Database unavailable for %s %s: %s", request.method, request.path, exception)
        return errors.database_unavailable(request)
