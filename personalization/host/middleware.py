"""``RefuseUnstorableTextMiddleware``: a request carrying text no database can store is a 400, never a 500.

PostgreSQL refuses a NUL character in any text value, so ``/search/?q=%00`` or an admin search for it
fails deep inside a query (a 500) in every view that filters on what the client sent — the host's, the
Django admin's and the apps'. This middleware answers such a request at the door instead: a NUL in the
path, a query parameter, a cookie or a form field (urlencoded or multipart) gives 400 with the place
named (JSON under ``/api/``). JSON bodies are checked by the apps' parser and their field validation.

Under ``/api/`` it also keeps every client error JSON, with ``DEBUG`` on or off: a body larger than
``DATA_UPLOAD_MAX_MEMORY_SIZE`` is refused with 413 before anything reads it, and an HTML 4xx page
(Django's "Page not found" for a URL that matches no route, such as a malformed id in
``/api/pricing/suggestions/abc/``, or its 400 page) becomes ``{"detail": ...}`` with the same status.

Add it near the top of ``MIDDLEWARE``, before the session middleware (a NUL in the session cookie
would otherwise reach the session table)::

    MIDDLEWARE = ["django.middleware.security.SecurityMiddleware",
                  "personalization.host.middleware.RefuseUnstorableTextMiddleware", ...]
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from django.conf import settings
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


API_ERROR_DETAILS = {
    400: "Bad request.",
    403: "Forbidden.",
    404: "Not found: no API endpoint matches this path (ids are whole numbers).",
    405: "Method not allowed.",
}


def oversized_body(request: HttpRequest) -> str | None:
    """Why the request's body is too large to be read (its declared length past the limit), or None."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None  # Django's own parsing refuses it (a 400, made JSON below)
    if limit is None or length <= limit:
        return None
    return f"The request body is {length:,} bytes; at most {limit:,} are accepted."


def as_json_error(response: HttpResponse) -> HttpResponse:
    """An HTML client-error page of an API URL as ``{"detail": ...}``, other headers kept (``Allow`` …)."""
    status = response.status_code
    if not 400 <= status < 500 or not response.get("Content-Type", "").startswith("text/html"):
        return response
    json_response = JsonResponse({"detail": API_ERROR_DETAILS.get(status, response.reason_phrase)}, status=status)
    for name, value in response.items():
        if name.lower() not in ("content-type", "content-length"):
            json_response[name] = value
    return json_response


class RefuseUnstorableTextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        is_api = request.path.startswith(API_PATH_PREFIX)
        if is_api:
            too_big = oversized_body(request)
            if too_big is not None:
                return JsonResponse({"detail": too_big}, status=413)
        part = unstorable_part(request)
        if part is None:
            response = self.get_response(request)
            return as_json_error(response) if is_api else response
        message = f"{part[0].upper()}{part[1:]} holds a NUL character, which cannot be stored."
        if is_api:
            return JsonResponse({"detail": message}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
