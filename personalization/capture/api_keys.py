"""Server API keys: created once (the raw key is shown a single time), stored as a SHA-256 hash."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import ApiKey

PREFIX_LENGTH = 8
NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length or 100
# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION_SECONDS = 60


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(name: str) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key ``"<prefix>.<secret>"`` (not stored anywhere).

    Raises ``ValueError`` for an empty or too long name.
    """
    name = (name or "").strip()
    if not name:
        raise ValueError("An API key needs a name (who uses it, e.g. 'mobile app').")
    if len(name) > NAME_MAX_LENGTH:
        raise ValueError(f"An API key's name has at most {NAME_MAX_LENGTH} characters.")
    for _ in range(5):
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        secret = secrets.token_urlsafe(32)
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(name=name, prefix=prefix, key_hash=_hash(secret))
        except IntegrityError:  # the random prefix is taken: draw another
            continue
        return api_key, f"{prefix}.{secret}"
    raise RuntimeError("Could not draw an unused API key prefix.")


def verify_api_key(raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, or None (unknown, malformed or revoked)."""
    prefix, _, secret = raw_key.strip().partition(".")
    if not prefix or not secret or len(prefix) != PREFIX_LENGTH:
        return None
    api_key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _hash(secret)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def revoke_api_key(api_key: ApiKey) -> bool:
    """Revoke a key from now on; False if it was revoked already."""
    return bool(ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()))
