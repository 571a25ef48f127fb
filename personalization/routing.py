"""Deprecated re-export: the Celery task routing is in :mod:`personalization.host.routing` (warns on import)."""
from .host.routing import TASK_QUEUES, route_task
from .ops.deprecation import warn_moved

__all__ = ["TASK_QUEUES", "route_task"]

warn_moved(__name__, "personalization.host.routing")
