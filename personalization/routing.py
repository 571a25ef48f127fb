"""Deprecated: the Celery task routing moved to :mod:`personalization.host.routing`.

The apps now have one folder per concern. This module only re-exports it, so that hosts written
against the earlier layout keep working; it warns on import.
Use ``personalization.host.routing`` in new code and settings.
"""
import warnings

from .host.routing import TASK_QUEUES, route_task

__all__ = ["TASK_QUEUES", "route_task"]

warnings.warn(
    "personalization.routing moved to personalization.host.routing; "
    "this re-export will be removed in a future release.",
    DeprecationWarning,
    stacklevel=2,
)
