"""The demo project's Celery app: ShopSense's own (``personalization.worker``) with the demo's settings."""
from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_project.settings")

from personalization.worker import app  # noqa: E402 - the settings module is named first

__all__ = ("app",)
