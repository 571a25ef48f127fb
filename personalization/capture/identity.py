"""Whose guest events become a customer's at login.

At login the visitor id of the session is replaced by a new one (:func:`.visitor.replace_visitor_id`),
so that an id planted in a shopper's browser before they sign in stops at the login, and the old id's
guest events are merged into the customer: only those the storefront captured for that session
(``web`` events and guest ``order`` purchases received up to the login). Events that a server sent
under the same visitor id through the events API are not the session's own and stay a guest's.
"""
from __future__ import annotations

import datetime as dt

from ..models import Event, EventSource
from . import services

# The sources whose events a browser session captured itself (a guest checkout's purchases included).
SESSION_SOURCES = (EventSource.WEB, EventSource.ORDER)


def merge_guest_events(session_key: str, user_id: int, until: str | dt.datetime | None = None) -> int:
    """Attach the guest events of the visitor id ``session_key`` that its browser session captured
    (received up to ``until``, the login; ISO text from a task) to the user who signed in; returns how many.

    Idempotent: a merged event has a user and is not touched again.
    """
    if not session_key:
        return 0
    services.flush_buffer()
    events = Event.objects.filter(session_key=session_key, user__isnull=True, source__in=SESSION_SOURCES)
    if until is not None:
        events = events.filter(received_at__lte=dt.datetime.fromisoformat(until) if isinstance(until, str) else until)
    return events.update(user_id=user_id)
