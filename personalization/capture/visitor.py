"""A stable visitor id per browser session, kept across login (Django cycles the session key)."""
from __future__ import annotations

import uuid

from django.http import HttpRequest

SESSION_KEY = "shopsense_visitor"


def get_visitor_id(request: HttpRequest) -> str:
    """The visitor id stored in the session, created on first use."""
    session = getattr(request, "session", None)
    if session is None:
        return ""
    visitor = session.get(SESSION_KEY)
    if not visitor:
        visitor = uuid.uuid4().hex
        session[SESSION_KEY] = visitor
    return visitor


def actor_of(request: HttpRequest) -> dict[str, object]:
    """``user_id`` and ``session_key`` for an event sent from this request."""
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else None
    return {"user_id": user_id, "session_key": get_visitor_id(request)}
