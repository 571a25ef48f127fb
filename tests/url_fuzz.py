"""Every page and endpoint of a URLconf, called with hostile text: NUL and other control characters in
query parameters and path segments, lone surrogates, form fields with NUL, and deeply nested JSON.

The URLs come from the resolver itself (so a new page is fuzzed without a list to keep), with each
path converter filled by the id of a row that exists and by a hostile value. Only the status is
checked: anything but a 5xx is an answer.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

# Query parameter names the apps, the admin and the demo read (the rest of the alphabet costs nothing).
PARAMS = ("q", "category", "user", "placement", "product", "products", "limit", "page", "o", "rec", "search",
          "status", "exception", "segment", "cluster", "ordering", "p", "e", "_changelist_filters", "kind",
          "next", "number", "id", "event_type", "source", "all", "format", "per_category", "exclude_bought")
HOSTILE = ("\x00", "a\x00b", "\x01\x1f\x7f", "\t\n\r", "%ED%A0%80", "\ufffe", "é€😀" * 40)
DEEP_JSON = "[" * 5_000 + "]" * 5_000


def _route_paths(route: str, ids: list[str]) -> Iterator[str]:
    """``route`` with each ``<conv:name>`` filled by every value of ``ids`` (a safe one and hostile ones)."""
    if "<" not in route:
        yield route
        return
    for value in ids:
        yield re.sub(r"<(?:\w+:)?\w+>", value, route)


def _regex_paths(regex: str) -> Iterator[str]:
    """The simple regex patterns Django's admin uses: ``^(?P<app_label>a|b)/$``, ``^$``."""
    body = regex.lstrip("^").rstrip("$").replace("\\Z", "")
    match = re.fullmatch(r"\(\?P<\w+>([\w|]+)\)/", body)
    if match:
        for label in match.group(1).split("|"):
            yield f"{label}/"
    elif not re.search(r"[(\[\\?*+]", body):
        yield body


def every_path(ids: list[str], prefix: str = "", patterns: Any = None) -> Iterator[str]:
    """Every concrete path of the root URLconf, converters filled from ``ids``."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            pieces = list(_route_paths(str(pattern), ids))
        elif isinstance(pattern, RegexPattern):
            pieces = list(_regex_paths(pattern._regex))
        else:  # locale prefixes and the like
            pieces = [""]
        for piece in pieces:
            if isinstance(entry, URLResolver):
                yield from every_path(ids, prefix + piece, entry.url_patterns)
            elif isinstance(entry, URLPattern):
                yield "/" + prefix + piece


def hostile_paths(existing_id: int) -> list[str]:
    ids = [str(existing_id), quote("1\x00"), quote("\x01\x7f"), "%ED%A0%80", "9" * 30]
    return sorted(set(every_path(ids)))


def hostile_queries() -> Iterator[dict[str, str]]:
    for text in HOSTILE:
        yield {name: text for name in PARAMS}
