"""Faults (``-m faults``): the Celery worker survives its broker (Redis) going away and coming back.

A private Redis (tests/processes.py) is the worker's broker, cache and event buffer. The worker is
started with the command the operations guide gives for the ``default`` queue (prefork, gossip, mingle
and heartbeats as configured by the project, not the test helper's stripped-down worker). Event
traffic runs throughout; Redis is killed (SIGKILL, no append-only file) and restarted three times,
and after each restart the same worker process must be alive and flushing.
"""
from __future__ import annotations

import re
import sys
import threading
import time
import uuid
from decimal import Decimal

import pytest
import redis
from django.test import override_settings

from personalization.capture import buffer
from personalization.capture import services as capture
from personalization.models import Event
from personalization.ops import redis_conn
from personalization.tasks import flush_events
from tests import processes
from tests.testhost.models import Department, Item

pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
RESTARTS = 3
OUTAGE_SECONDS = 4
FLUSH_WAIT = 90  # seconds: reconnecting (Celery backs off), then the flush, on 2 busy cores


def production_worker_command(queues: str, name: str) -> list[str]:
    """``celery -A shop_project worker -Q default -c 2`` as docs/operations.md runs it (plus a node name)."""
    return [sys.executable, "-m", "celery", "-A", "shop_project", "worker", "-Q", queues, "-c", "2",
            "-l", "info", "-n", f"{name}@%h"]


class EventTraffic:
    """Pushes view events onto the buffer and asks the broker for a flush, ignoring Redis being down."""

    def __init__(self, url: str, product_id: int) -> None:
        self.url, self.product_id = url, product_id
        self.client = redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=1.0)
        self.pushed: list[tuple[float, str]] = []
        self.stop = threading.Event()

    def push(self, n: int, prefix: str) -> list[str]:
        events = [capture.build_event(event_type="view", session_key="broker-restarts", product_id=self.product_id,
                                      client_event_id=f"{prefix}-{uuid.uuid4().hex[:12]}") for _ in range(n)]
        self.client.rpush(buffer.buffer_key(), *(event.to_json() for event in events))
        ids = [event.client_event_id for event in events]
        self.pushed.extend((time.monotonic(), event_id) for event_id in ids)
        return ids

    def request_flush(self) -> None:
        with flush_events.app.connection_for_write(self.url) as connection:
            flush_events.apply_async(connection=connection, retry=False)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            try:
                self.push(5, f"t{n}")
                if n % 5 == 0:
                    self.request_flush()
            except Exception:  # noqa: BLE001 - Redis is down on purpose; traffic goes on
                pass
            n += 1
            self.stop.wait(0.1)


@pytest.fixture
def item(transactional_db) -> Item:
    department = Department.objects.create(title="Candles")
    return Item.objects.create(code="BR-1", title="Lantern", department=department, price=Decimal("3.75"))


def _stored(ids: list[str]) -> int:
    return Event.objects.filter(client_event_id__in=ids).count()


def test_the_same_worker_reconnects_and_flushes_after_each_of_three_redis_restarts(item, process_env, tmp_path,
                                                                                    monkeypatch):
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    private = processes.PrivateRedis(redis_dir)  # no append-only file: a crash loses what is buffered
    private.start()
    monkeypatch.setattr(flush_events.app.conf, "task_always_eager", False)
    log = tmp_path / "worker.log"
    worker = processes.logged_popen(production_worker_command("default", f"restarts-{uuid.uuid4().hex[:6]}"), log,
                                    {**process_env, "REDIS_URL": private.url})
    traffic = EventTraffic(private.url, item.pk)
    sender = threading.Thread(target=traffic.run)
    lost_per_crash: list[int] = []
    try:
        with override_settings(REDIS_URL=private.url):
            redis_conn.reset()
            processes.wait_for(lambda: "ready." in log.read_text(), "the worker to start", [log], timeout=60)
            sender.start()
            first = traffic.push(20, "first")
            traffic.request_flush()
            processes.wait_for(lambda: _stored(first) == 20, "the first flush", [log], timeout=FLUSH_WAIT)

            since = time.monotonic()
            for restart in range(1, RESTARTS + 1):
                # A flush is running when Redis dies: the worker acknowledges it (acks_late) after reconnecting.
                traffic.push(20_000, f"big-{restart}")
                traffic.request_flush()
                processes.wait_for(lambda: traffic.client.exists(buffer.lock_key()), "a flush to be running", [log])
                crashed_at = time.monotonic()
                processes.kill(private.process.pid)
                private.process.wait(timeout=10)
                time.sleep(OUTAGE_SECONDS)
                private.start()  # same port, empty: what was buffered is gone
                marker = traffic.push(20, f"after-{restart}")
                traffic.request_flush()
                processes.wait_for(lambda m=marker: _stored(m) == 20, f"a flush after restart {restart}", [log],
                                   timeout=FLUSH_WAIT)
                assert worker.poll() is None, f"the worker exited after restart {restart}\n{processes.tail([log])}"
                buffered = [event_id for at, event_id in traffic.pushed if since <= at < crashed_at]
                lost_per_crash.append((len(buffered), len(buffered) - _stored(buffered)))
                since = crashed_at
    finally:
        traffic.stop.set()
        if sender.is_alive():
            sender.join(timeout=10)
        exit_code = worker.poll()
        processes.stop(worker)
        private.stop()
        redis_conn.reset()

    text = log.read_text()
    assert exit_code is None
    assert "Unrecoverable error" not in text, processes.tail([log])
    assert len(re.findall(r"\] Connected to ", text)) >= RESTARTS + 1  # connected, then reconnected after each
    refused_acks = text.count("Couldn't ack")
    print(f"(events pushed since the last restart, of which lost) per Redis crash without AOF: {lost_per_crash}; "
          f"late acknowledgements refused on a closed channel: {refused_acks}")
