"""Request parsers of the apps' API views: DRF's defaults, with JSON that cannot crash a view.

Python's ``json`` recurses once per nesting level, so about a thousand nested brackets (2 kB) raise
``RecursionError`` — a 500 with DRF's own parser. JSON may also carry a lone UTF-16 surrogate
(``"\\ud800"``) that no database driver can encode. Both are a 400 here, before any view code runs.
"""
from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

MAX_DEPTH = 32


def _check(value: Any, depth: int = 0) -> None:
    """Walk the parsed document without recursion limits of its own (iterative); raise ParseError."""
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ParseError("JSON parse error - a string holds invalid Unicode (a lone surrogate).") from None
        elif isinstance(item, dict | list):
            if level >= MAX_DEPTH:
                raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
            children = list(item.items()) if isinstance(item, dict) else [(None, child) for child in item]
            for key, child in children:
                if key is not None:
                    stack.append((key, level + 1))
                stack.append((child, level + 1))


class SafeJSONParser(JSONParser):
    """DRF's JSON parser; deep nesting and invalid Unicode are a 400 (``ParseError``), never a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        _check(data)
        return data


# What every view of the three apps that takes a body parses (whatever the host's DEFAULT_PARSER_CLASSES).
API_PARSERS = [SafeJSONParser, FormParser, MultiPartParser]
