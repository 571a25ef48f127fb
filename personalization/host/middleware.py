"""``RefuseUnstorableTextMiddleware``: a request carrying text no database can store is a 400, never a 500.

PostgreSQL refuses a NUL character in any text value, so ``/search/?q=%00`` or an admin search for it
fails deep inside a query (a 500) in every view that filters on what the client sent — the host's, the
Django admin's and the apps'. This middleware answers such a request at the door instead: a NUL in the
path, a query parameter, a cookie or a form field (urlencoded or multipart) gives 400 with the place
named (JSON under ``/api/``). JSON bodies are checked by the apps' parser and their field validation.

Add it near the top of ``MIDDLEWARE``, before the session middleware (a NUL in the session cookie
would otherwise reach the session table)::

    MIDDLEWARE = ["django.middleware.security.SecurityMiddleware",
                  "personalization.host.middleware.RefuseUnstorableTextMiddleware", ...]
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

API_PATH_PREFIX = "/api/"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _first_with_nul(pairs: Iterable[tuple[str, list[str]]]) -> str | None:
    for name, values in pairs:
        if "\x00" in name or any("\x00" in value for value in values if isinstance(value, str)):
            return name.replace("\x00", "\\x00")
    return None


def unstorable_part(request: HttpRequest) -> str | None:
    """Where the request carries a NUL character (``path``, ``query parameter 'q'`` …), or None."""
    if "\x00" in request.path:
        return "the path"
    name = _first_with_nul(request.GET.lists())
    if name is not None:
        return f"the query parameter {name!r}"
    name = _first_with_nul((key, [value]) for key, value in request.COOKIES.items())
    if name is not None:
        return f"the cookie {name!r}"
    if request.method in ("POST", "PUT", "PATCH") and request.content_type in FORM_TYPES:
        name = _first_with_nul(request.POST.lists())
        if name is not None:
            return f"the form field {name!r}"
    return None


class RefuseUnstorableTextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        part = unstorable_part(request)
        if part is None:
            return self.get_response(request)
        message = f"{part[0].upper()}{part[1:]} holds a NUL character, which cannot be stored."
        if request.path.startswith(API_PATH_PREFIX):
            return JsonResponse({"detail": message}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
