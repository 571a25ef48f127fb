"""Deprecated re-export: the fail-safe Redis cache backend is in :mod:`personalization.host.cache` (warns on import)."""
from .host.cache import FailSafeRedisCache
from .ops.deprecation import warn_moved

__all__ = ["FailSafeRedisCache"]

warn_moved(__name__, "personalization.host.cache")
