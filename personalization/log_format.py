"""Deprecated: the JSON log formatter moved to :mod:`personalization.host.log_format`.

The apps now have one folder per concern. This module only re-exports it, so that hosts written
against the earlier layout keep working; it warns on import.
Use ``personalization.host.log_format`` in new code and settings.
"""
import warnings

from .host.log_format import JsonFormatter, redact

__all__ = ["JsonFormatter", "redact"]

warnings.warn(
    "personalization.log_format moved to personalization.host.log_format; "
    "this re-export will be removed in a future release.",
    DeprecationWarning,
    stacklevel=2,
)
