"""Behaviour capture: events from the host's signals and the events API, buffered in Redis, stored in bulk.

- ``events`` — what an event is and the checks it passes (``build_event``);
- ``services`` — record events (``record_event``, ``accept_batch``), insert and flush in bulk;
- ``identity`` — whose guest events become a customer's at login (the merge);
- ``rec_ids`` — recommendation ids signed for the one customer or visitor they were issued to;
- ``buffer`` — the Redis list the storefront appends to, and the crash-safe drain;
- ``receivers`` — the host's signals (views, carts, searches, orders, logins) turned into events;
- ``visitor`` — the visitor id kept in a guest's session (new at login); ``api_keys`` — server keys for the events API;
- ``tasks`` — the flush and the guest merge as Celery tasks; ``admin`` — events and API keys in the admin.
"""
from __future__ import annotations

from typing import Any

# ``personalization.capture`` was one module before the layout had a folder per concern; its public
# services (``personalization.capture.record_event`` …) still resolve here, with a deprecation warning.
_MOVED_SERVICES = frozenset({
    "accept_batch", "build_event", "flush_buffer", "insert_events", "merge_guest_events", "record_event",
    "record_events", "record_impressions",
})


def __getattr__(name: str) -> Any:
    if name not in _MOVED_SERVICES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from ..ops.deprecation import warn_moved
    from . import events, identity, services

    home = {"merge_guest_events": identity, "build_event": events}.get(name, services)
    warn_moved(f"{__name__}.{name}", f"{home.__name__}.{name}")
    return getattr(home, name)
