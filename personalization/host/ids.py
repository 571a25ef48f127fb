"""Bounds of database ids: a number past a 64-bit integer is no id (SQLite raises on it, not "no row")."""
from __future__ import annotations

from django.urls import register_converter

MAX_ID = 2**63 - 1


def is_id(value: object) -> bool:
    """A whole number that can be a row's id (1 … 2**63 - 1)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


class IdConverter:
    """``<shopsense_id:pk>``: like ``<int:pk>`` but at most 18 digits, so any match fits a 64-bit id."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "shopsense_id")
