"""Deprecated: the fail-safe Redis cache backend moved to :mod:`personalization.host.cache`.

The apps now have one folder per concern. This module only re-exports it, so that hosts written
against the earlier layout keep working; it warns on import.
Use ``personalization.host.cache`` in new code and settings.
"""
import warnings

from .host.cache import FailSafeRedisCache

__all__ = ["FailSafeRedisCache"]

warnings.warn(
    "personalization.cache moved to personalization.host.cache; "
    "this re-export will be removed in a future release.",
    DeprecationWarning,
    stacklevel=2,
)
