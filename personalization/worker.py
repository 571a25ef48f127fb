"""The Celery app of ShopSense, for a host that has none: ``celery -A personalization.worker worker -Q default``.

It reads the host's settings module from ``DJANGO_SETTINGS_MODULE`` and every ``CELERY_*`` setting in it
(``CELERY_BROKER_URL`` first of all), declares the ``default``, ``ml`` and ``gpu`` queues and routes the
apps' tasks to them (``personalization.host.routing``), and finds the tasks of every installed app. The
web processes use it too (``PersonalizationConfig.ready()`` loads it when the host made no Celery app of
its own), so what they enqueue goes to the broker the workers consume. The demo project's Celery app
is this one.
"""
from __future__ import annotations

from celery import Celery
from kombu import Queue

app = Celery("shopsense")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("ml"), Queue("gpu"))
app.conf.task_routes = ("personalization.host.routing.route_task",)
app.autodiscover_tasks()
