"""Customers' lists precomputed in shards (``RECOMMENDATIONS["LIST_SHARDS"]``) and artifacts on another storage.

The sharded path is a Celery chord: in-process here with eager Celery, over two real ``ml`` worker processes
in the ``worker`` tests. Either way the rows equal those of one process, row for row.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage, storages

from personalization.models import ModelVersion, RecommendationList
from personalization.ops import registry
from personalization.recommending import precompute, serving, training
from personalization.recommending.config import KIND
from personalization.tasks import precompute_lists_shard
from tests import processes
from tests.apps.test_recommendations import shop  # noqa: F401 - a fixture: 24 customers' purchases

WAIT = 120  # seconds: two workers starting and writing their shards on 2 busy cores


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    serving._TABLES.clear()


def _shards(settings, n: int, **more) -> None:
    recommendations = {**settings.PERSONALIZATION.get("RECOMMENDATIONS", {}), "LIST_SHARDS": n, **more}
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "RECOMMENDATIONS": recommendations}


def _rows(version: ModelVersion) -> list[tuple]:
    """Every list of a version, without ids or the version: what a customer or a page is served."""
    rows = RecommendationList.objects.filter(model_version=version).values_list(
        "user_id", "key", "placement", "items", "scores", "sources")
    return sorted(rows, key=lambda row: (row[0] or 0, row[1], row[2]))


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "shards"), [("simple", 2), ("simple", 4), ("popular", 3), ("hybrid", 3)])
def test_lists_written_in_shards_equal_those_written_in_one_process(shop, settings, model, shards):  # noqa: F811
    _shards(settings, 1, SEARCH={"ENABLED": False})  # the hybrid's defaults: the same model twice
    whole = training.train(model)
    _shards(settings, shards, SEARCH={"ENABLED": False})

    sharded = training.train(model)

    assert whole.activated and not sharded.pending
    assert sharded.version.status == ModelVersion.Status.READY  # equal, so not better: the gate still holds
    assert registry.refusal(sharded.version).startswith("Not better than the active version")
    assert sharded.version.metrics["ndcg@20"] == whole.version.metrics["ndcg@20"]
    assert sharded.lists == whole.lists == len(_rows(whole.version))
    assert RecommendationList.objects.filter(model_version=whole.version, placement="for_you").count() == 24
    assert _rows(sharded.version) == _rows(whole.version)


@pytest.mark.django_db
def test_the_shards_split_the_customers_stably_and_completely():
    pks = list(range(1, 1001))

    first, again = precompute.shard_of(pks, 4), precompute.shard_of(pks, 4)

    assert (first == again).all()
    assert sorted(set(first.tolist())) == [0, 1, 2, 3]
    assert min(int((first == s).sum()) for s in range(4)) > 200  # roughly even
    assert (precompute.shard_of(pks, 1) == 0).all()


@pytest.mark.django_db
def test_a_first_version_trained_in_shards_is_activated_and_served(shop, settings):  # noqa: F811
    _shards(settings, 3)

    result = training.train("simple")

    assert result.activated
    assert result.version.status == ModelVersion.Status.ACTIVE
    assert "train_seconds" in result.version.metrics
    served = serving.recommend("for_you", user=shop["users"][0], limit=5, record_impressions=False)
    assert served.model_version_id == result.version.pk and len(served) == 5


@pytest.mark.django_db
def test_a_failing_shard_leaves_the_previous_version_active_and_says_why(shop, settings, monkeypatch):  # noqa: F811
    before = training.train("simple").version
    _shards(settings, 3)
    real, calls = precompute.load_for_lists, []

    def unreachable_on_the_second_shard(version):
        calls.append(version.pk)
        if len(calls) == 2:
            raise registry.ArtifactError("the shared storage is unreachable")
        return real(version)

    monkeypatch.setattr(precompute, "load_for_lists", unreachable_on_the_second_shard)

    with pytest.raises(training.TrainingError, match="shard 2 of 3"):
        training.train("simple")

    failed = ModelVersion.objects.exclude(pk=before.pk).get()
    assert failed.status == ModelVersion.Status.FAILED
    assert failed.error == ("Precomputing the lists failed in shard 2 of 3: ArtifactError: the shared storage is "
                            "unreachable")
    assert not RecommendationList.objects.filter(model_version=failed).exists()
    assert registry.active_version(KIND) == before
    served = serving.recommend("for_you", user=shop["users"][0], limit=5, record_impressions=False)
    assert served.model_version_id == before.pk
    monkeypatch.setattr(precompute, "load_for_lists", real)
    assert training.train("simple").version.status == ModelVersion.Status.READY  # the lock was released


@pytest.mark.django_db
def test_a_redelivered_shard_rewrites_its_own_rows_once(shop, settings):  # noqa: F811
    _shards(settings, 2)
    version = training.train("simple").version
    rows = _rows(version)
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.TRAINING)  # as while it ran

    written = [precompute_lists_shard(version.pk, 0, 2) for _ in range(2)]

    assert written[0] == written[1] > 0
    assert _rows(version) == rows


@pytest.mark.django_db
@pytest.mark.parametrize(("args", "message"), [
    ((10**9, 0, 2), "There is no recommender version"),
    (("VERSION", 2, 2), "Shard 2 of 2 does not exist"),
    (("VERSION", 0, 0), "Shard 0 of 0 does not exist"),
    (("VERSION", 0, 2), "no longer training"),
])
def test_a_shard_that_cannot_run_says_why(shop, args, message):  # noqa: F811
    version = training.train("popular").version
    args = tuple(version.pk if a == "VERSION" else a for a in args)

    with pytest.raises(precompute.ShardError, match=message):
        precompute_lists_shard(*args)

    assert registry.active_version(KIND) == version


@pytest.mark.django_db
@pytest.mark.parametrize("value", [0, -1, 1.5, "2", True])
def test_a_bad_list_shards_setting_is_a_clear_error(shop, settings, value):  # noqa: F811
    _shards(settings, value)

    with pytest.raises(ImproperlyConfigured, match=r'\["LIST_SHARDS"\] must be a whole number'):
        training.train("simple")


# --- artifacts on their own storage ---------------------------------------------------------------------
def _memory_storage(settings) -> None:
    settings.STORAGES = {**settings.STORAGES,
                         "models": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    settings.SHOPSENSE_ARTIFACT_STORAGE = "models"


@pytest.mark.django_db
@pytest.mark.parametrize("shards", [1, 2])
def test_artifacts_go_to_the_named_storage_and_are_served_from_it(shop, settings, shards):  # noqa: F811
    _memory_storage(settings)
    _shards(settings, shards)

    version = training.train("simple").version

    assert version.status == ModelVersion.Status.ACTIVE
    assert storages["models"].exists(version.artifact)
    assert not default_storage.exists(version.artifact)
    assert not Path(settings.MEDIA_ROOT, registry.ARTIFACT_DIR).exists()  # the media storage is untouched
    assert registry.load_artifact(version)["product_pks"].size == 12
    assert serving.tables_of(version) is not None
    served = serving.recommend("similar", product_ids=[shop["items"][1].pk], limit=3, record_impressions=False)
    assert served.model_version_id == version.pk and len(served) > 0


def test_the_artifact_storage_must_be_a_configured_alias(settings):
    settings.SHOPSENSE_ARTIFACT_STORAGE = "s3-models"

    errors = [e for e in run_checks() if e.id == "personalization.E008"]

    assert len(errors) == 1
    assert "'s3-models' is not an alias of settings.STORAGES" in errors[0].msg
    _memory_storage(settings)
    assert not [e for e in run_checks() if e.id == "personalization.E008"]


# --- two real ml workers --------------------------------------------------------------------------------
def _ready(worker) -> bool:
    if worker.poll() is not None:
        pytest.fail(f"The worker exited with {worker.returncode}.\n{processes.tail([worker.log])}")
    return "ready." in worker.log.read_text(errors="replace")


def _lock_free() -> bool:
    return cache.get(f"shopsense:lock:{training.LOCK_NAME}") is None


def _shard_runs(worker) -> int:
    return len(re.findall(r"precompute_lists_shard\[[^\]]+\] succeeded", worker.log.read_text(errors="replace")))


@pytest.mark.worker
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_two_ml_workers_write_the_same_rows_as_one_process(shop, settings, start_worker):  # noqa: F811
    workers = [start_worker("ml"), start_worker("ml")]
    for worker in workers:
        processes.wait_for(lambda w=worker: _ready(w), "the ml worker to start", [w.log for w in workers], WAIT)
    _shards(settings, 4)

    queued = training.train("simple")

    assert queued.pending and not queued.activated
    version = queued.version
    processes.wait_for(lambda: ModelVersion.objects.get(pk=version.pk).status == ModelVersion.Status.ACTIVE
                       and _lock_free(), "the workers to write the shards and activate the version",
                       [w.log for w in workers], WAIT)
    assert all(_shard_runs(worker) > 0 for worker in workers)  # both workers wrote shards
    assert sum(_shard_runs(worker) for worker in workers) == 4
    _shards(settings, 1)
    whole = training.train("simple")  # in this process; equal, so it stays ready beside the active one
    assert whole.version.status == ModelVersion.Status.READY
    assert len(_rows(version)) == whole.lists
    assert _rows(version) == _rows(whole.version)


@pytest.mark.worker
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_without_the_shared_storage_fails_its_shards_and_the_old_version_serves(
        shop, settings, start_worker, tmp_path):  # noqa: F811
    before = training.train("simple").version
    worker = start_worker("ml", env={"SHOPSENSE_MEDIA_ROOT": str(tmp_path / "not-shared")})
    processes.wait_for(lambda: _ready(worker), "the ml worker to start", [worker.log], WAIT)
    _shards(settings, 2)

    queued = training.train("simple")

    version = queued.version
    processes.wait_for(lambda: ModelVersion.objects.get(pk=version.pk).status == ModelVersion.Status.FAILED
                       and _lock_free(), "the shards to fail", [worker.log], WAIT)
    version.refresh_from_db()
    assert re.match(r"Precomputing the lists failed in shard [12] of 2: ArtifactError: Cannot read the artifact",
                    version.error)
    assert registry.active_version(KIND) == before
    assert not RecommendationList.objects.filter(model_version=version).exists()
    serving._TABLES.clear()
    served = serving.recommend("for_you", user=shop["users"][0], limit=5, record_impressions=False)
    assert served.model_version_id == before.pk
