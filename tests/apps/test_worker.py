"""A real Celery worker drains the Redis event buffer — and a worker killed mid-flush loses nothing.

The test process buffers events and sends ``flush_events`` through the broker (not eagerly); a
worker subprocess started with the same settings, test database, Redis and buffer key stores them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from personalization import buffer, capture
from personalization.models import Event
from personalization.tasks import flush_events
from tests.testhost.models import Department, Item

pytestmark = [pytest.mark.worker, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 25


def _database_url() -> str:
    """The URL of the database this test runs against (pytest-django's test database)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip(f"no worker URL for {db['ENGINE']}")
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


def _wait_for(condition: Callable[[], bool], what: str, logs: list[Path], timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    tail = "\n".join(path.read_text(errors="replace")[-3000:] for path in logs if path.exists())
    pytest.fail(f"Timed out waiting for {what}. Worker log:\n{tail}")


@pytest.fixture
def start_worker(settings, transactional_db, tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start Celery worker processes on the ``default`` queue; all are terminated at the end."""
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    app = flush_events.app
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # .delay() goes through the broker to the worker
    processes: list[subprocess.Popen] = []
    base_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "SHOPSENSE_TEST_EAGER": "0",
        "SHOPSENSE_TEST_BUFFER_KEY": buffer.buffer_key(),
        "PYTHONUNBUFFERED": "1",
    }

    def start(batch_size: int = 5000) -> subprocess.Popen:
        log = tmp_path / f"worker-{len(processes) + 1}.log"
        env = {**base_env, "SHOPSENSE_TEST_FLUSH_BATCH_SIZE": str(batch_size)}
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "shop_project",
            "worker",
            "-Q",
            "default",
            "--pool=solo",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
            "-n",
            f"capture-test-{uuid.uuid4().hex[:8]}@%h",
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        process.log = log  # type: ignore[attr-defined]
        processes.append(process)
        return process

    yield start

    app.conf.task_always_eager = eager
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    client = buffer.get_client()
    client.delete(buffer.buffer_key(), buffer.lock_key())


@pytest.fixture
def item(transactional_db) -> Item:
    department = Department.objects.create(title="Candles")
    return Item.objects.create(code="W-1", title="Lantern", department=department, price=Decimal("3.75"))


def _buffer(n: int, product_id: int, chunk: int = 5000) -> set[str]:
    """Push ``n`` events straight onto the Redis list (no flush is requested); returns their ids."""
    client = buffer.get_client()
    ids: set[str] = set()
    for start in range(0, n, chunk):
        events = [
            capture.build_event(
                event_type="view", session_key="worker-test", product_id=product_id, client_event_id=f"w{i}"
            )
            for i in range(start, min(n, start + chunk))
        ]
        client.rpush(buffer.buffer_key(), *(event.to_json() for event in events))
        ids.update(event.client_event_id for event in events)
    return ids


def _stored_ids() -> set[str]:
    return set(Event.objects.values_list("client_event_id", flat=True))


def test_a_real_worker_flushes_the_buffer_exactly_once(start_worker, item):
    pushed = _buffer(50, item.pk)
    worker = start_worker()

    flush_events.delay()
    _wait_for(lambda: buffer.length() == 0 and not buffer.is_flushing(), "the worker to drain the buffer", [worker.log])

    assert Event.objects.count() == 50
    assert _stored_ids() == pushed
    assert worker.poll() is None


def test_a_worker_killed_mid_flush_loses_and_duplicates_nothing(start_worker, item):
    total = 30_000
    pushed = _buffer(total, item.pk)
    first = start_worker(batch_size=500)

    flush_events.delay()
    _wait_for(lambda: Event.objects.count() >= 3000, "the first batches to be stored", [first.log])
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    stored_at_kill, left_at_kill = Event.objects.count(), buffer.length()
    assert 0 < stored_at_kill < total and left_at_kill > 0
    assert stored_at_kill + left_at_kill >= total  # nothing trimmed before it was stored
    assert buffer.is_flushing()  # the dead worker's lock is still there...
    buffer.get_client().delete(buffer.lock_key())  # ...until it expires
    second = start_worker(batch_size=500)

    flush_events.delay()
    _wait_for(
        lambda: buffer.length() == 0 and not buffer.is_flushing(),
        "the second worker to drain the buffer",
        [first.log, second.log],
    )

    assert Event.objects.count() == total
    assert _stored_ids() == pushed
