"""Deprecated: the shop adapter contract moved to :mod:`personalization.host.adapters`.

The apps now have one folder per concern. This module only re-exports it, so that hosts written
against the earlier layout keep working; it warns on import.
Use ``personalization.host.adapters`` in new code and settings.
"""
import warnings

from .host.adapters import DefaultShopAdapter, OrderLineFact, ShopAdapter, get_adapter

__all__ = ["DefaultShopAdapter", "OrderLineFact", "ShopAdapter", "get_adapter"]

warnings.warn(
    "personalization.adapters moved to personalization.host.adapters; "
    "this re-export will be removed in a future release.",
    DeprecationWarning,
    stacklevel=2,
)
