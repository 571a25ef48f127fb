"""Server API keys: created once (the raw key is shown a single time), stored as a SHA-256 hash."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from django.utils import timezone

from .models import ApiKey

PREFIX_LENGTH = 8


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(name: str) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key ``"<prefix>.<secret>"`` (not stored anywhere)."""
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    secret = secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(name=name, prefix=prefix, key_hash=_hash(secret))
    return api_key, f"{prefix}.{secret}"


def verify_api_key(raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, or None (unknown, malformed or revoked)."""
    prefix, _, secret = raw_key.strip().partition(".")
    if not prefix or not secret:
        return None
    api_key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _hash(secret)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key


def revoke_api_key(api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
