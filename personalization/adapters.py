"""Deprecated re-export: the shop adapter contract is in :mod:`personalization.host.adapters` (warns on import)."""
from .host.adapters import DefaultShopAdapter, OrderLineFact, ShopAdapter, get_adapter
from .ops.deprecation import warn_moved

__all__ = ["DefaultShopAdapter", "OrderLineFact", "ShopAdapter", "get_adapter"]

warn_moved(__name__, "personalization.host.adapters")
