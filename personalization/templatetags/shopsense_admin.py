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
        "todos": [item for item in items if item.level != "info"],
        "notes": [item for item in items if item.level == "info"],
    }
