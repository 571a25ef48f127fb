"""Faults (``-m faults``): what happens when a worker dies, Redis or PostgreSQL restarts, jobs collide,
beat fires twice or the model storage cannot be written.

Real processes throughout (tests/processes.py): Celery workers on the test Redis, gunicorn serving the
test host, and private Redis / PostgreSQL servers on free ports for the tests that stop them.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.test import override_settings

from personalization.capture import api_keys, buffer
from personalization.capture import services as capture
from personalization.models import Event, ModelVersion
from personalization.ops import redis_conn, registry
from personalization.recommending import serving, training
from personalization.recommending.config import KIND
from personalization.tasks import retrain_recommenders
from tests import processes
from tests.apps.test_recommendations import shop  # noqa: F401 - a fixture: 24 customers' purchases

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]
TRAINING_WAIT = 120  # seconds: a worker starting and training on 2 busy cores


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    serving._TABLES.clear()


def _active() -> ModelVersion:
    version = registry.active_version(KIND)
    assert version is not None
    return version


def _served_version_id(user) -> int | None:
    serving._TABLES.clear()
    return serving.recommend("for_you", user=user, limit=5, record_impressions=False).model_version_id


def _results(log: Path, task: str) -> list[str]:
    """What each finished run of ``task`` returned, from a worker's log."""
    return re.findall(rf"{task}\[[^\]]+\] succeeded in [\d.]+s: (\S+)", log.read_text())


# --- training ---------------------------------------------------------------------------------------
@pytest.mark.worker
def test_a_worker_killed_mid_training_keeps_the_active_model_and_the_job_is_retried(shop, start_worker, settings,  # noqa: F811
                                                                                    tmp_path):
    before = training.train("popular").version
    marker = tmp_path / "slow-write"
    worker = start_worker("ml", pool="prefork", env={
        "SHOPSENSE_TEST_STORAGE": "tests.storage.SlowStorage", "SHOPSENSE_TEST_STORAGE_MARKER": str(marker),
        "SHOPSENSE_TEST_STORAGE_PAUSE": "60", "SHOPSENSE_TEST_STORAGE_ONCE": "1",
    })

    retrain_recommenders.delay("simple")
    processes.wait_for(marker.exists, "the worker to be half-way through writing the artifact", [worker.log],
                       timeout=TRAINING_WAIT)
    pid, name = marker.read_text().split()
    killed = ModelVersion.objects.get(kind=KIND, status=ModelVersion.Status.TRAINING)
    processes.kill(int(pid))  # the pool process that trains; the worker's main process survives

    assert (Path(settings.MEDIA_ROOT) / name).stat().st_size > 0  # half an artifact is on disk...
    assert not ModelVersion.objects.filter(artifact=name).exists()  # ...and no version names it
    assert _active().pk == before.pk and _served_version_id(shop["users"][0]) == before.pk

    # acks_late + reject_on_worker_lost: the task is redelivered, retakes its lock and trains again.
    processes.wait_for(lambda: _results(worker.log, "retrain_recommenders"), "the redelivered task to finish",
                       [worker.log], timeout=TRAINING_WAIT)
    assert ModelVersion.objects.filter(kind=KIND, pk__gt=killed.pk, status__in=["ready", "active"]).exists()
    killed.refresh_from_db()
    assert killed.status == ModelVersion.Status.FAILED and "Abandoned" in killed.error
    active = _active()
    assert active.pk in {before.pk, killed.pk + 1}
    assert registry.load_artifact(active)  # its checksum holds
    assert _served_version_id(shop["users"][0]) == active.pk
    assert not ModelVersion.objects.filter(kind=KIND, status=ModelVersion.Status.TRAINING).exists()


@pytest.mark.worker
def test_two_retrains_started_at_once_train_one_version(shop, start_worker, tmp_path):  # noqa: F811
    worker = start_worker("ml", pool="prefork", concurrency=2, env={
        "SHOPSENSE_TEST_STORAGE": "tests.storage.SlowStorage",
        "SHOPSENSE_TEST_STORAGE_MARKER": str(tmp_path / "slow-write"), "SHOPSENSE_TEST_STORAGE_PAUSE": "8",
    })

    retrain_recommenders.delay("simple")
    retrain_recommenders.delay("simple")

    def outcomes() -> list[str]:
        return _results(worker.log, "retrain_recommenders")

    processes.wait_for(lambda: len(outcomes()) == 2, "both retrain tasks to finish", [worker.log],
                       timeout=TRAINING_WAIT)
    versions = list(ModelVersion.objects.filter(kind=KIND))
    assert len(versions) == 1 and versions[0].status == ModelVersion.Status.ACTIVE
    assert sorted(outcomes()) == sorted(["None", str(versions[0].pk)])


@pytest.mark.parametrize("error", ["ENOSPC", "EROFS", "EACCES"])
def test_a_full_or_unwritable_model_storage_fails_clearly_and_keeps_the_previous_model(shop, settings,  # noqa: F811
                                                                                      monkeypatch, error):
    before = training.train("popular").version
    monkeypatch.setenv("SHOPSENSE_TEST_STORAGE_ERRNO", error)
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "tests.storage.FailingStorage"}}

    with pytest.raises(registry.ArtifactError, match=r"Cannot write the model artifact of .*Errno") as raised:
        training.train("simple")

    failed = ModelVersion.objects.exclude(pk=before.pk).get(kind=KIND)
    assert failed.status == ModelVersion.Status.FAILED and str(raised.value) in failed.error
    assert not failed.artifact
    assert not list((Path(settings.MEDIA_ROOT) / registry.ARTIFACT_DIR / KIND).glob(f"{failed.pk}-*"))  # no half file
    assert _active().pk == before.pk and registry.load_artifact(_active())
    assert _served_version_id(shop["users"][0]) == before.pk


# --- serving while Redis or PostgreSQL restarts -----------------------------------------------------
EVENTS_URL = "/api/personalization/events/"


def _server_env(process_env: dict[str, str], **overrides: str) -> dict[str, str]:
    """gunicorn as in production: DEBUG off, rates high enough not to refuse the test's load."""
    return {**process_env, "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "fault-tests-" + uuid.uuid4().hex,
            "THROTTLE_ANON": "100000/min", "THROTTLE_USER": "100000/min", "THROTTLE_EVENTS": "100000/min",
            **overrides}


class Traffic:
    """Event batches (10 events, unique ids) and public reads sent to a server, with every answer kept."""

    def __init__(self, base: str, key: str, product_ids: list[int], reads: list[str]) -> None:
        self.base, self.key, self.product_ids, self.reads = base, key, product_ids, reads
        self.batches: list[tuple[float, int, list[str]]] = []  # (time, status, client_event_ids)
        self.responses: list[tuple[float, str, int, bytes]] = []  # (time, path, status, start of the body)
        self._lock = threading.Lock()

    def post_batch(self) -> int:
        ids = [uuid.uuid4().hex for _ in range(10)]
        body = json.dumps({"events": [
            {"type": "view", "product": self.product_ids[n % len(self.product_ids)], "client_event_id": event_id,
             "session_key": "fault-test-visitor"}
            for n, event_id in enumerate(ids)
        ]}).encode()
        status, answer = processes.http("POST", self.base + EVENTS_URL, body, {
            "Content-Type": "application/json", "Authorization": f"Api-Key {self.key}"})
        with self._lock:
            self.batches.append((time.monotonic(), status, ids))
            self.responses.append((time.monotonic(), EVENTS_URL, status, answer[:300]))
        return status

    def read(self, n: int) -> int:
        path = self.reads[n % len(self.reads)]
        status, answer = processes.http("GET", self.base + path)
        with self._lock:
            self.responses.append((time.monotonic(), path, status, answer[:300]))
        return status

    def round(self, n: int) -> None:
        self.post_batch()
        self.read(n)

    def run(self, seconds: float, threads: int = 3) -> None:
        """Send traffic from ``threads`` threads for ``seconds``."""
        deadline = time.monotonic() + seconds

        def loop(offset: int) -> None:
            n = offset
            while time.monotonic() < deadline:
                self.round(n)
                n += threads

        workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def accepted_ids(self) -> list[str]:
        return [event_id for _, status, ids in self.batches if status == 202 for event_id in ids]


def _stored_client_ids() -> list[str]:
    """The ``client_event_id`` of every stored view event, as the client sent it (without the API's prefix)."""
    ids = Event.objects.filter(event_type="view").values_list("client_event_id", flat=True)
    return [stored.rsplit(":", 1)[-1] for stored in ids]


@pytest.fixture
def served_shop(shop, transactional_db):  # noqa: F811
    """The shop with an active recommender and an API key; reads that need Redis, the cache and the database."""
    training.train("simple")
    _, key = api_keys.create_api_key("fault tests")
    items = [item.pk for item in shop["items"]]
    reads = [
        "/api/personalization/recommendations/?placement=best_sellers&limit=5",
        f"/api/personalization/recommendations/?placement=similar&product={items[1]}&limit=5",
        "/api/pricing/prices/?products=" + ",".join(map(str, items[:5])),
    ]
    return {**shop, "key": key, "product_ids": items, "reads": reads}


@pytest.mark.redis
def test_redis_stopped_and_restarted_the_apis_keep_serving_and_no_event_is_lost(served_shop, process_env, tmp_path):
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    # The event buffer's Redis keeps an append-only file (fsync always), as the operations guide asks.
    private = processes.PrivateRedis(redis_dir, persistent=True)
    private.start()
    server, base = processes.start_gunicorn(_server_env(process_env, REDIS_URL=private.url), tmp_path / "gunicorn.log")
    traffic = Traffic(base, served_shop["key"], served_shop["product_ids"], served_shop["reads"])
    try:
        with override_settings(REDIS_URL=private.url):
            traffic.run(3)  # Redis up: events are buffered
            buffered_before = buffer.length()
            processes.kill(private.process.pid)  # Redis crashes
            private.process.wait(timeout=10)
            down_from = time.monotonic()
            traffic.run(4)
            down_until = time.monotonic()
            private.start()  # same port, same append-only file
            traffic.run(3)
            stored_while_down = set(_stored_client_ids())
            redis_conn.reset()
            flushed = capture.flush_buffer()
    finally:
        processes.stop(server)
        private.stop()

    statuses = [(path, status, body) for _, path, status, body in traffic.responses if status not in (200, 202)]
    assert statuses == [], f"{statuses[:10]}\n{processes.tail([tmp_path / 'gunicorn.log'])}"
    assert buffered_before > 0  # the first phase went through the buffer
    during_outage = [i for at, status, ids in traffic.batches if down_from <= at <= down_until for i in ids]
    assert during_outage and set(during_outage) <= stored_while_down  # capture fell back to the database
    sent = traffic.accepted_ids()
    stored = _stored_client_ids()
    assert flushed > 0
    assert sorted(stored) == sorted(sent)  # every accepted event exactly once


_SEED_PRIVATE_DATABASE = """
import json, django
django.setup()
from decimal import Decimal
from personalization.capture import api_keys
from tests.testhost.models import Department, Item
department = Department.objects.create(title="Candles")
items = [Item.objects.create(code=f"P{n}", title=f"Item {n}", department=department, price=Decimal("2.50"), stock=5)
         for n in range(5)]
print(json.dumps({"key": api_keys.create_api_key("fault tests")[1], "items": [item.pk for item in items]}))
"""


def test_postgresql_restarted_under_load_requests_fail_cleanly_recover_and_write_nothing_partially(
        process_env, tmp_path):
    postgres = processes.PrivatePostgres()
    try:
        postgres.init()
        postgres.start()
        postgres.create_database("shop")
        env = _server_env(process_env, DATABASE_URL=postgres.url("shop"), REDIS_URL="", SHOPSENSE_TEST_EAGER="1")
        for command in (["-m", "django", "migrate", "--noinput", "-v", "0"], ["-c", _SEED_PRIVATE_DATABASE]):
            done = subprocess.run([sys.executable, *command], cwd=processes.ROOT, env=env, capture_output=True,
                                  text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-3000:]
        seed = json.loads(done.stdout.strip().splitlines()[-1])
        server, base = processes.start_gunicorn(env, tmp_path / "gunicorn.log")
        reads = ["/api/pricing/prices/?products=" + ",".join(map(str, seed["items"])),
                 "/api/personalization/recommendations/?placement=best_sellers&limit=5"]
        traffic = Traffic(base, seed["key"], seed["items"], reads)
        try:
            traffic.run(2)  # warm both gunicorn workers up
            load = threading.Thread(target=traffic.run, args=(12,))
            load.start()
            time.sleep(3)
            restart_from = time.monotonic()
            postgres.stop("fast")  # every connection is cut, in-flight transactions roll back
            time.sleep(1)
            postgres.start()
            restart_until = time.monotonic()
            load.join()
        finally:
            processes.stop(server)
        with psycopg.connect(postgres.url("shop")) as conn:
            stored = [row[0].rsplit(":", 1)[-1] for row in
                      conn.execute("SELECT client_event_id FROM personalization_event").fetchall()]
    finally:
        postgres.destroy()

    statuses = {status for _, _, status, _ in traffic.responses}
    failures = [(path, status, body) for _, path, status, body in traffic.responses if status not in (200, 202)]
    assert statuses <= {200, 202, 503}, f"{failures[:5]}\n{processes.tail([tmp_path / 'gunicorn.log'])}"
    assert all(b"retry" in body for _, _, body in failures)  # a clean 503, not an error page
    after = [status for at, _, status, _ in traffic.responses if at > restart_until + 1]
    assert after and set(after) <= {200, 202}  # recovered
    assert {status for at, _, status, _ in traffic.responses if restart_from - 1 < at < restart_from} == {200, 202}
    print(f"{len(traffic.responses)} responses, {len(failures)} answered 503 during the restart")
    stored_set = set(stored)
    assert len(stored) == len(stored_set)  # no event twice
    for _, status, ids in traffic.batches:  # all or nothing per batch; every accepted batch in full
        kept = sum(event_id in stored_set for event_id in ids)
        assert kept == len(ids) if status == 202 else kept in (0, len(ids))
    assert stored_set <= {event_id for _, _, ids in traffic.batches for event_id in ids}


# --- beat firing twice --------------------------------------------------------------------------------
@pytest.mark.worker
def test_beat_firing_every_scheduled_task_twice_at_once_does_each_job_once(shop, start_worker):  # noqa: F811
    from django.db.models import Count

    from inventory.models import RestockSuggestion
    from personalization.management.commands.install_schedules import collect_schedules
    from personalization.models import CustomerProfile
    from pricing.models import PriceSuggestion, PricingPolicy
    from tests.apps.test_pricing_support import make_item, make_policy, make_sales
    from tests.testhost.models import Purchase

    make_policy(strategy=PricingPolicy.Strategy.OPTIMISE, max_change=Decimal("0.10"))
    for n in range(3):
        make_sales(make_item(code=f"P{n}", price="10.00", cost="8.00"), weeks=20, seed=n)
    purchases = list(Purchase.objects.order_by("pk"))
    for n, purchase in enumerate(purchases):  # the orders are the customers'
        purchase.buyer = shop["users"][n % 8]
    Purchase.objects.bulk_update(purchases, ["buyer"])
    client = redis_conn.get_client()
    views = [capture.build_event(event_type="view", session_key="beat", product_id=shop["items"][0].pk,
                                 client_event_id=f"beat-{n}") for n in range(300)]
    client.rpush(buffer.buffer_key(), *(event.to_json() for event in views))
    events_before = Event.objects.count()
    worker = start_worker("default,ml", pool="prefork", concurrency=2)
    names = sorted({spec.task for spec in collect_schedules()})

    for name in names:  # two beats (or one beat restarted) send every job twice
        retrain_recommenders.app.send_task(name)
        retrain_recommenders.app.send_task(name)

    def finished() -> int:
        return len(re.findall(r"\] (?:succeeded in|raised unexpected)", worker.log.read_text()))

    processes.wait_for(lambda: finished() == 2 * len(names), f"{2 * len(names)} tasks to finish", [worker.log],
                       timeout=TRAINING_WAIT)
    assert "raised unexpected" not in worker.log.read_text()
    assert Event.objects.count() == events_before + len(views) and buffer.length() == 0
    assert not Event.objects.values("client_event_id").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert CustomerProfile.objects.count() == 8
    versions = ModelVersion.objects.values("kind", "status").annotate(n=Count("pk"))
    active = {(v["kind"], v["n"]) for v in versions if v["status"] == "active"}
    assert active == {(KIND, 1), ("pricing.elasticity", 1), ("inventory.forecaster", 1)}, (
        list(versions), processes.tail([worker.log]))
    assert not [v for v in versions if v["status"] in ("training", "failed")]
    # The second retrain was refused (overlapping) or trained on the same data and, not being better,
    # was not activated: the first version serves either way.
    recommenders = list(ModelVersion.objects.filter(kind=KIND).order_by("pk"))
    assert len(recommenders) <= 2 and recommenders[0].status == ModelVersion.Status.ACTIVE
    pending = PriceSuggestion.objects.filter(status="pending").values("product_id").annotate(n=Count("pk"))
    assert len(pending) == 3 and all(row["n"] == 1 for row in pending)
    open_restock = RestockSuggestion.objects.filter(status="open").values("product_id").annotate(n=Count("pk"))
    assert open_restock and all(row["n"] == 1 for row in open_restock)


def test_a_profile_build_left_running_by_a_dead_worker_is_marked_failed_by_the_next_build(shop):  # noqa: F811
    from personalization.models import ProfileBuild
    from personalization.profiles import services as profiles

    dead = ProfileBuild.objects.create(trigger="schedule", status=ProfileBuild.Status.RUNNING)

    build = profiles.run_build(trigger="command")

    dead.refresh_from_db()
    assert build.status == ProfileBuild.Status.DONE
    assert dead.status == ProfileBuild.Status.FAILED and "Abandoned" in dead.message
