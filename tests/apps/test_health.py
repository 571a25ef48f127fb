"""GET /api/health/: database, Redis, model versions and the worker heartbeat."""
import time

import pytest
from celery import current_app
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from personalization import tasks
from personalization.models import ModelVersion
from personalization.ops.health import record_heartbeat

URL = "/api/health/"
CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def with_worker(monkeypatch):
    """Tasks go to a worker (as in production), so the heartbeat counts."""
    monkeypatch.setattr(current_app.conf, "task_always_eager", False)


@pytest.mark.django_db
def test_health_reports_every_part_and_the_latest_model_of_each_kind(settings, with_worker):
    old = ModelVersion.objects.create(kind="recommender", status=ModelVersion.Status.ACTIVE, trained_at=timezone.now())
    new = ModelVersion.objects.create(kind="recommender", status=ModelVersion.Status.TRAINING)
    failed = ModelVersion.objects.create(kind="pricing.elasticity", status=ModelVersion.Status.FAILED)
    tasks.worker_heartbeat.apply()  # what the worker runs every minute

    response = Client().get(URL)

    body = response.json()
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert body["database"]["ok"] is True
    assert body["redis"]["status"] == ("ok" if settings.REDIS_URL else "not configured")
    assert body["worker"]["status"] == "ok"
    assert body["worker"]["age_seconds"] < 60
    assert body["status"] == "ok"
    kinds = [(m["kind"], m["latest"]["id"], m["latest"]["status"], (m["active"] or {}).get("id"))
             for m in body["models"]]
    assert kinds == [
        ("pricing.elasticity", failed.pk, "failed", None),
        ("recommender", new.pk, "training", old.pk),
    ]
    assert body["models"][1]["active"]["trained_at"] == old.trained_at.isoformat()


@pytest.mark.django_db
def test_a_stale_or_missing_heartbeat_degrades_the_status(with_worker):
    missing = Client().get(URL).json()["worker"]
    record_heartbeat(now=time.time() - 600)

    response = Client().get(URL)

    assert missing["status"] == "missing"
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["worker"]["status"] == "stale"
    assert response.json()["worker"]["age_seconds"] >= 600


@pytest.mark.django_db
def test_a_worker_gone_for_90_seconds_shows_while_one_late_heartbeat_does_not(with_worker):
    from personalization.schedules import DEFAULT_SCHEDULES

    every = next(s.every_seconds for s in DEFAULT_SCHEDULES if s.task == "personalization.worker_heartbeat")
    record_heartbeat(now=time.time() - 2 * every)  # one heartbeat missed or late: the worker is there
    late = Client().get(URL).json()["worker"]["status"]
    record_heartbeat(now=time.time() - 90)  # the worker died just after its last heartbeat, 90 s ago

    gone = Client().get(URL).json()

    assert late == "ok"
    assert gone["worker"]["status"] == "stale" and gone["status"] == "degraded"


@pytest.mark.django_db
def test_without_a_worker_tasks_run_in_process_and_the_heartbeat_is_not_needed():
    assert current_app.conf.task_always_eager  # the test settings run tasks eagerly

    body = Client().get(URL).json()

    assert body["worker"]["status"] == "in-process"
    assert body["status"] == "ok"


@pytest.mark.django_db
def test_redis_down_is_reported_and_the_answer_is_still_200():
    with override_settings(REDIS_URL=CLOSED_PORT_REDIS):
        response = Client().get(URL)

    body = response.json()
    assert response.status_code == 200
    assert body["redis"]["status"] == "down"
    assert body["redis"]["error"] == "ConnectionError"
    assert body["status"] == "degraded"
    assert CLOSED_PORT_REDIS not in response.content.decode()


@pytest.mark.django_db
def test_redis_not_configured():
    with override_settings(REDIS_URL=""):
        body = Client().get(URL).json()

    assert body["redis"] == {"status": "not configured", "latency_ms": None}


@pytest.mark.django_db(transaction=True)
def test_database_down_is_503_without_leaking_its_address():
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-dir/db.sqlite3"
    else:
        connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        response = Client().get(URL)
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "down"
    assert body["database"]["ok"] is False
    assert body["database"]["error"] == "OperationalError"
    assert body["models"] == []
    assert "nonexistent-dir" not in response.content.decode()


@pytest.mark.django_db
def test_health_needs_no_credentials_and_ignores_bad_ones():
    response = Client(HTTP_AUTHORIZATION="Api-Key nonsense.key").get(URL)

    assert response.status_code == 200
