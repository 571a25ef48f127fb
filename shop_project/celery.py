"""The demo project's Celery app. The reusable apps only declare ``@shared_task``s."""
from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_project.settings")

app = Celery("shop_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("ml"), Queue("gpu"))
app.conf.task_routes = ("personalization.host.routing.route_task",)
app.autodiscover_tasks()
