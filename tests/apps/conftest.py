"""Fixtures of the apps' tests that start real processes (tests/processes.py)."""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from django.db import connection

from personalization import buffer
from tests import processes


@pytest.fixture
def process_env(settings, transactional_db, tmp_path) -> dict[str, str]:
    """The environment of a subprocess sharing this test's database, Redis, buffer, cache and media."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": processes.database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "SHOPSENSE_TEST_EAGER": "0",
        "SHOPSENSE_TEST_BUFFER_KEY": buffer.buffer_key(),
        "SHOPSENSE_TEST_CACHE_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        "SHOPSENSE_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def start_worker(settings, process_env, tmp_path) -> Iterator[Callable[..., object]]:
    """Start real Celery worker processes on the test's Redis (the broker); all are stopped at the end.

    ``start(queues="default", pool="solo", concurrency=1, batch_size=5000, env={})``; the returned
    process has a ``log`` path.
    """
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    from personalization.tasks import flush_events

    app = flush_events.app
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # .delay() goes through the broker to the worker
    started = []

    def start(queues: str = "default", pool: str = "solo", concurrency: int = 1, batch_size: int = 5000,
              env: dict[str, str] | None = None):
        log = tmp_path / f"worker-{len(started) + 1}.log"
        command = processes.celery_worker_command(queues, f"test-{uuid.uuid4().hex[:8]}", pool, concurrency)
        full_env = {**process_env, "SHOPSENSE_TEST_FLUSH_BATCH_SIZE": str(batch_size), **(env or {})}
        process = processes.logged_popen(command, log, full_env)
        started.append(process)
        return process

    yield start

    app.conf.task_always_eager = eager
    for process in started:
        processes.stop(process)
    client = buffer.get_client()
    client.delete(buffer.buffer_key(), buffer.lock_key())
    for queue in ("default", "ml", "gpu"):  # messages no worker took (a refused or crashed test)
        client.delete(queue)
