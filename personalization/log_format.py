"""Deprecated re-export: the JSON log formatter is in :mod:`personalization.host.log_format` (warns on import)."""
from .host.log_format import JsonFormatter, redact
from .ops.deprecation import warn_moved

__all__ = ["JsonFormatter", "redact"]

warn_moved(__name__, "personalization.host.log_format")
