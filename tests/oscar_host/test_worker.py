"""Celery for a host with settings only: ``celery -A personalization.worker worker`` reads the host's
``CELERY_*`` settings, and what the shop's web process enqueues reaches that worker."""
from __future__ import annotations

import os
import sys

import pytest
from celery import current_app
from django.db import connection

from personalization.capture import buffer
from personalization.capture import services as capture
from personalization.host.routing import route_task
from personalization.models import Event
from personalization.ops import jobs
from personalization.worker import app
from tests import processes

from .factories import make_product


def test_the_web_process_uses_shopsenses_celery_app_with_the_hosts_settings(settings):
    assert current_app._get_current_object() is app  # loaded by PersonalizationConfig.ready()
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert {queue.name for queue in app.conf.task_queues} == {"default", "ml", "gpu"}
    assert "personalization.flush_events" in app.tasks
    assert route_task("personalization.build_profiles", (), {}, {}) == {"queue": "ml"}


@pytest.mark.worker
@pytest.mark.redis
def test_a_worker_started_as_the_readme_says_runs_what_the_shop_enqueues(transactional_db, settings, tmp_path,
                                                                          redis_client):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.oscar_host.settings",
        "DATABASE_URL": processes.database_url(connection.settings_dict),
        "SHOPSENSE_TEST_EAGER": "0",
        "SHOPSENSE_TEST_BUFFER_KEY": buffer.buffer_key(),
        "SHOPSENSE_TEST_CACHE_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "worker.log"
    worker = processes.logged_popen(
        [sys.executable, "-m", "celery", "-A", "personalization.worker", "worker", "-Q", "default", "--pool=solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"], log, env)
    try:
        product = make_product("Mug")
        capture.record_events([capture.build_event(event_type="view", product_id=product.pk, session_key="s1")])
        assert buffer.length() == 1 and not Event.objects.exists()
        app.conf.task_always_eager = False
        try:
            jobs.enqueue("personalization.flush_events")  # routed to "default", as the web process does
        finally:
            app.conf.task_always_eager = True
        processes.wait_for(lambda: Event.objects.filter(product_id=product.pk).exists(), "the worker's flush",
                           [log], timeout=90)
    finally:
        processes.stop(worker)
