"""``{% shopsense_todos %}``: the to-dos of the admin home (personalization.ops.todos)."""
from __future__ import annotations

from typing import Any

from django import template

from ..ops import todos

register = template.Library()


@register.inclusion_tag("admin/personalization/todos.html", takes_context=True)
def shopsense_todos(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    items = todos.collect(request) if request is not None else []
    return {
        # What needs doing first, then what is clear (in the providers' order within each).
        "todos": sorted((item for item in items if item.level != "info"), key=lambda item: item.count == 0),
        "notes": [item for item in items if item.level == "info"],
    }
