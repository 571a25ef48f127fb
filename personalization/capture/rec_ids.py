"""Recommendation ids: issued by the server to one customer or visitor, and checked before they count.

An id is ``<version or 0>-<placement>-<nonce>-<signature>``: 12 random hex digits name the list, and
the signature (16 hex digits of an HMAC-SHA256 keyed with ``SECRET_KEY``) binds the version, the
placement and the nonce to the one caller the list was served to — ``u<user id>`` for a signed-in
customer, else ``s<visitor id>``. Nobody without the secret key can make an id that verifies, nor
move one to another caller. The A/B figures (:mod:`personalization.recommending.experiments`) count
an impression, click or add-to-cart only when its id verifies for the event's own user or visitor;
the capture paths count (and log) the events that arrive with an id that does not
(:func:`note_unverified`). Issuing costs one HMAC, no query: it runs on serving's hot path.

The id is at most 64 characters (``Event.recommendation_id``) while the version id has at most 18
digits, and holds only ``[0-9a-z_-]``, so it travels in ``?rec=`` links unescaped.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from typing import Any, Protocol

import redis
from django.conf import settings
from django.utils.crypto import constant_time_compare

from ..host.conf import personalization_settings
from ..ops import redis_conn

logger = logging.getLogger(__name__)

SALT = "personalization.recommendation-id"
NONCE_HEX = 12
SIGNATURE_HEX = 16
MAX_LENGTH = 64
COUNTER_SUFFIX = ":recommendation-ids:unverified"


def owner(user_id: Any = None, session_key: str = "") -> str:
    """Whom a list is issued to: the customer when signed in, else the visitor ("" for neither)."""
    if user_id:
        return f"u{user_id}"
    return f"s{session_key}" if session_key else ""


@functools.lru_cache(maxsize=8)
def _key(secret: str | bytes) -> bytes:
    """The HMAC key derived from a secret key and the salt (as ``salted_hmac`` does), once per secret."""
    secret = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha256(SALT.encode() + secret).digest()


def _signature(body: str, owner_id: str, secret: str | bytes | None = None) -> str:
    key = _key(settings.SECRET_KEY if secret is None else secret)
    return hmac.new(key, f"{body}|{owner_id}".encode(), hashlib.sha256).hexdigest()[:SIGNATURE_HEX]


def issue(version_id: int | None, placement: str, *, user_id: Any = None, session_key: str = "") -> str:
    """A new id for a list of ``placement`` served by ``version_id`` to this customer or visitor."""
    body = f"{version_id or 0}-{placement}-{secrets.token_hex(NONCE_HEX // 2)}"
    return f"{body}-{_signature(body, owner(user_id, session_key))}"


def verify(recommendation_id: str, *, user_id: Any = None, session_key: str = "") -> bool:
    """Whether the id was issued to this customer or to this visitor (an event names both when it can).

    Ids signed with a key of ``SECRET_KEY_FALLBACKS`` still verify, so a key rotation does not void the
    lists already on the shoppers' screens.
    """
    body, dash, signature = recommendation_id.rpartition("-")
    if not dash or len(signature) != SIGNATURE_HEX or len(recommendation_id) > MAX_LENGTH:
        return False
    owners = [name for name in (owner(user_id=user_id), owner(session_key=session_key)) if name]
    for secret in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())):
        for name in owners:
            if constant_time_compare(_signature(body, name, secret), signature):
                return True
    return False


def version_of(recommendation_id: str) -> int | None:
    """The model version an id names (None for lists served without a model); says nothing of its validity."""
    head = recommendation_id.split("-", 1)[0]
    return int(head) if head.isdecimal() and int(head) > 0 else None


class Attributed(Protocol):
    """What :func:`unverified` reads of an event (``services.EventData`` has it)."""

    recommendation_id: str
    user_id: int | str | None
    session_key: str


def unverified(events: Iterable[Attributed]) -> int:
    """How many of ``events`` (with ``recommendation_id``, ``user_id``, ``session_key``) carry an id
    that was not issued to their own customer or visitor."""
    return sum(1 for event in events if event.recommendation_id
               and not verify(event.recommendation_id, user_id=event.user_id, session_key=event.session_key))


def counter_key() -> str:
    """The Redis hash counting events with an unverified id, per capture path (``web``, ``api``)."""
    return personalization_settings.REDIS_KEY_PREFIX + COUNTER_SUFFIX


def note_unverified(count: int, path: str) -> None:
    """Count and log ``count`` events that arrived by ``path`` with an id not issued to their sender.

    They are stored like any event (the behaviour is real), but never count for a version's A/B
    figures. Without Redis only the log line remains (a warning for ``api``, info for ``web``).
    """
    if count <= 0:
        return
    # From the storefront the usual cause is a shared link (info); through the API, a client making ids up.
    logger.log(logging.WARNING if path == "api" else logging.INFO,
               "%d %s event(s) carried a recommendation id not issued to their sender: not counted for A/B figures.",
               count, path)
    client = redis_conn.get_client()
    if client is None or not redis_conn.available():
        return
    try:
        client.hincrby(counter_key(), path, count)
    except redis.RedisError as exc:
        redis_conn.mark_down(exc)


def unverified_counts() -> dict[str, int]:
    """The counts of :func:`note_unverified` per capture path (empty without Redis)."""
    client = redis_conn.get_client()
    if client is None or not redis_conn.available():
        return {}
    try:
        raw = client.hgetall(counter_key())
    except redis.RedisError as exc:
        redis_conn.mark_down(exc)
        return {}
    return {key.decode(): int(value) for key, value in raw.items()}
