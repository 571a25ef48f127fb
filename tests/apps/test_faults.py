"""Faults (``-m faults``): what happens when a worker dies, Redis or PostgreSQL restarts, jobs collide,
beat fires twice or the model storage cannot be written.

Real processes throughout (tests/processes.py): Celery workers on the test Redis, gunicorn serving the
test host, and private Redis / PostgreSQL servers on free ports for the tests that stop them.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from personalization import registry
from personalization.models import ModelVersion
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
    processes.wait_for(
        lambda: ModelVersion.objects.filter(kind=KIND, pk__gt=killed.pk,
                                            status__in=["ready", "active"]).exists(),
        "the redelivered task to train a new version", [worker.log], timeout=TRAINING_WAIT,
    )
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
        return re.findall(r"retrain_recommenders\[[^\]]+\] succeeded in [\d.]+s: (\S+)", worker.log.read_text())

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
