"""A real Celery worker drains the Redis event buffer — and a worker killed mid-flush loses nothing.

The test process buffers events and sends ``flush_events`` through the broker (not eagerly); a
worker subprocess started with the same settings, test database, Redis and buffer key stores them.
"""

from __future__ import annotations

import signal
from decimal import Decimal

import pytest

from personalization.capture import buffer
from personalization.capture import services as capture
from personalization.models import Event
from personalization.ops import redis_conn
from personalization.tasks import flush_events
from tests.processes import wait_for
from tests.testhost.models import Department, Item

pytestmark = [pytest.mark.worker, pytest.mark.redis]


@pytest.fixture
def item(transactional_db) -> Item:
    department = Department.objects.create(title="Candles")
    return Item.objects.create(code="W-1", title="Lantern", department=department, price=Decimal("3.75"))


def _buffer(n: int, product_id: int, chunk: int = 5000) -> set[str]:
    """Push ``n`` events straight onto the Redis list (no flush is requested); returns their ids."""
    client = redis_conn.get_client()
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
    wait_for(lambda: buffer.length() == 0 and not buffer.is_flushing(), "the worker to drain the buffer", [worker.log])

    assert Event.objects.count() == 50
    assert _stored_ids() == pushed
    assert worker.poll() is None


def test_a_worker_killed_mid_flush_loses_and_duplicates_nothing(start_worker, item):
    total = 30_000
    pushed = _buffer(total, item.pk)
    first = start_worker(batch_size=500)

    flush_events.delay()
    wait_for(lambda: Event.objects.count() >= 3000, "the first batches to be stored", [first.log])
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    stored_at_kill, left_at_kill = Event.objects.count(), buffer.length()
    assert 0 < stored_at_kill < total and left_at_kill > 0
    assert stored_at_kill + left_at_kill >= total  # nothing trimmed before it was stored
    assert buffer.is_flushing()  # the dead worker's lock is still there...
    redis_conn.get_client().delete(buffer.lock_key())  # ...until it expires
    second = start_worker(batch_size=500)

    flush_events.delay()
    wait_for(
        lambda: buffer.length() == 0 and not buffer.is_flushing(),
        "the second worker to drain the buffer",
        [first.log, second.log],
    )

    assert Event.objects.count() == total
    assert _stored_ids() == pushed


def test_with_a_gpu_worker_the_forecast_job_travels_on_the_gpu_queue_and_trains_there(start_worker, settings,
                                                                                        transactional_db):
    """A worker consuming only ``gpu`` (a CUDA host; here torch runs on its CPU) takes the nightly forecast,
    which trains the torch MLP: the job is routed there, not to ``ml``."""
    from inventory.forecasting import MODEL_KIND
    from inventory.models import RestockSuggestion
    from inventory.tasks import plan_restock
    from personalization.models import ModelVersion
    from tests.apps.test_pricing_support import make_item, make_sales

    for n in range(3):
        make_sales(make_item(code=f"G{n}", price="10.00", cost="8.00"), weeks=20, seed=n)
    settings.SHOPSENSE_GPU_QUEUE = True
    worker = start_worker("gpu", env={"SHOPSENSE_GPU_QUEUE": "1"})

    plan_restock.delay()
    wait_for(lambda: "succeeded in" in worker.log.read_text() or "raised unexpected" in worker.log.read_text(),
             "the gpu worker to run the forecast", [worker.log], timeout=180)

    assert "inventory.plan_restock" in worker.log.read_text() and "raised unexpected" not in worker.log.read_text()
    version = ModelVersion.objects.get(kind=MODEL_KIND, status=ModelVersion.Status.ACTIVE)
    assert "MLP" in "".join(version.params["candidates"]), version.params  # the served average holds the MLP
    import torch

    assert version.params["torch_device"] == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert RestockSuggestion.objects.exists()
