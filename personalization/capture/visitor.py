"""The visitor id: a random id per browser session, for the events of a guest (and of a customer's browser).

It lives in the session, so it costs a session only where there is one: a storefront page for a
browser starts one (:func:`get_visitor_id`), an API call without a session cookie does not
(``start_session=False``: bots and app clients never fill the session table). At login it is replaced
by a new one (:func:`replace_visitor_id`): an id planted before the login does not survive it.
"""
from __future__ import annotations

import uuid

from django.http import HttpRequest

SESSION_KEY = "shopsense_visitor"


def get_visitor_id(request: HttpRequest, *, start_session: bool = True) -> str:
    """The visitor id stored in the session, created on first use.

    With ``start_session=False`` an id is created only in a session the request already has (one
    named by its cookie); a request without one gets "" and writes nothing.
    """
    session = getattr(request, "session", None)
    if session is None:
        return ""
    visitor = session.get(SESSION_KEY)  # loads the session: an unknown cookie leaves no session_key
    if not visitor and (start_session or session.session_key):
        visitor = uuid.uuid4().hex
        session[SESSION_KEY] = visitor
    return visitor or ""


def current_visitor_id(request: HttpRequest) -> str:
    """The visitor id of the request's session, or "" (never creates one)."""
    session = getattr(request, "session", None)
    return (session.get(SESSION_KEY) or "") if session is not None else ""


def replace_visitor_id(request: HttpRequest) -> str:
    """Give the session a new visitor id; returns the old one ("" when it had none)."""
    session = getattr(request, "session", None)
    if session is None:
        return ""
    old = session.get(SESSION_KEY) or ""
    session[SESSION_KEY] = uuid.uuid4().hex
    return old


def actor_of(request: HttpRequest) -> dict[str, object]:
    """``user_id`` and ``session_key`` for an event sent from this request."""
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else None
    return {"user_id": user_id, "session_key": get_visitor_id(request)}
