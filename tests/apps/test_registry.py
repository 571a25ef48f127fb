import numpy as np
import pytest
from django.core.files.storage import default_storage

from personalization.models import ModelVersion
from personalization.ops import registry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path  # Django rebuilds default_storage on this setting change


def _trained(kind="test.model", ndcg=0.3):
    version = registry.begin(kind, {"factors": 8})
    registry.store_artifact(version, {"weights": np.arange(6, dtype=np.float32).reshape(2, 3)}, {"n_items": 3})
    return registry.finish(version, {"ndcg": ndcg})


def test_a_stored_artifact_loads_back_identical_and_records_what_it_was_trained_with():
    version = _trained()

    arrays = registry.load_artifact(ModelVersion.objects.get(pk=version.pk))

    np.testing.assert_array_equal(arrays["weights"], np.arange(6, dtype=np.float32).reshape(2, 3))
    stored = ModelVersion.objects.get(pk=version.pk)
    assert (stored.status, stored.progress, stored.metadata, stored.params) == (
        "ready", 100, {"n_items": 3}, {"factors": 8}
    )
    assert "numpy" in stored.library_versions


def test_a_tampered_artifact_is_refused():
    version = _trained()
    with default_storage.open(version.artifact, "wb") as handle:
        handle.write(b"not the model")

    with pytest.raises(registry.ArtifactError, match="checksum"):
        registry.load_artifact(version)


def test_activation_retires_the_previous_version_atomically():
    first, second = _trained(ndcg=0.30), _trained(ndcg=0.35)
    registry.activate(first)

    registry.activate(second, compare_on="ndcg")

    assert dict(ModelVersion.objects.values_list("pk", "status")) == {first.pk: "retired", second.pk: "active"}
    assert registry.active_version("test.model") == second


def test_a_worse_version_never_replaces_the_active_one():
    good, worse = _trained(ndcg=0.35), _trained(ndcg=0.30)
    registry.activate(good)

    with pytest.raises(registry.NotBetter):
        registry.activate(worse, compare_on="ndcg")

    assert registry.active_version("test.model") == good
    assert ModelVersion.objects.get(pk=worse.pk).status == "ready"


@pytest.mark.parametrize("status", ["training", "failed"])
def test_an_unfinished_or_failed_version_cannot_be_activated(status):
    version = registry.begin("test.model")
    if status == "failed":
        registry.fail(version, RuntimeError("out of memory"))

    with pytest.raises(ValueError, match="ready or retired"):
        registry.activate(version)

    assert registry.active_version("test.model") is None


def test_an_unwritable_storage_gives_a_clear_error_and_keeps_the_active_version(settings, tmp_path):
    active = _trained()
    registry.activate(active)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    settings.MEDIA_ROOT = blocked
    version = registry.begin("test.model")

    with pytest.raises(registry.ArtifactError, match="Cannot write"):
        registry.store_artifact(version, {"w": np.zeros(2)})

    assert registry.active_version("test.model") == active
    assert ModelVersion.objects.get(pk=version.pk).artifact == ""
