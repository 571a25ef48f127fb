"""The model registry: train, store, evaluate and activate model versions of every ShopSense app.

A training job calls :func:`begin`, reports progress, stores its arrays with :func:`store_artifact`
(an ``.npz`` written with ``allow_pickle=False`` to the Django storage named by the setting
``SHOPSENSE_ARTIFACT_STORAGE``, an alias of ``STORAGES``, ``"default"`` unless set: :func:`artifact_storage`;
plus JSON metadata on the row), then :func:`finish` or :func:`fail`. :func:`activate` swaps the active
version of a kind in one transaction, and refuses a version that is not better than the active one on a
named metric, so a failed or worse model never replaces a good one. Torch models store their ``state_dict`` as arrays.

:func:`promote` is the one rule every retrain goes through: a version goes live only when it was
trained on enough data (per-kind minimums, :class:`Minimum`) and is not worse than the active version
on its own validation metric; otherwise the active version stays, and the new one stays *ready* with
the reason in ``metadata["refused"]`` (:func:`refusal`, shown in the model versions admin) and in the log.

Serving processes memoise which versions are live; every change of a version's status (or of an A/B
test) calls :func:`changed`, which after the commit writes a new *generation* token to Redis. Servers
read the token with their other per-request Redis reads and reload the versions when it differs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import io
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.utils import timezone

from ..host.conf import personalization_settings
from ..models import ModelVersion
from ..ops import redis_conn

logger = logging.getLogger(__name__)

ARTIFACT_DIR = "shopsense/models"
ARTIFACT_STORAGE_SETTING = "SHOPSENSE_ARTIFACT_STORAGE"
TRACKED_LIBRARIES = ("numpy", "scipy", "scikit-learn", "pandas", "torch", "implicit", "statsforecast")


_local_changes = 0


def generation_key() -> str:
    """The Redis key holding the registry's generation token (see :func:`changed`)."""
    return f"{personalization_settings.REDIS_KEY_PREFIX}:registry:generation"


def local_changes() -> int:
    """How many changes this process has made (a process sees its own changes even without Redis)."""
    return _local_changes


def changed() -> None:
    """Announce that live versions changed: after the commit, a new generation token in Redis.

    Call it after any change of a version's status or A/B share; every serving process reloads its
    memoised versions on its next request (or within seconds when Redis is down).
    """

    def bump() -> None:
        global _local_changes
        _local_changes += 1
        client = redis_conn.get_client()
        if client is None:
            return
        try:
            client.set(generation_key(), uuid.uuid4().hex)
        except Exception:  # noqa: BLE001 - servers then reload on their memo's age instead
            logger.warning("Could not announce a model version change in Redis.", exc_info=True)

    transaction.on_commit(bump)


class ArtifactError(RuntimeError):
    """An artifact is missing, unreadable or not the one that was stored."""


def artifact_storage_alias() -> str:
    """The ``STORAGES`` alias model artifacts are written to: ``settings.SHOPSENSE_ARTIFACT_STORAGE``, else
    ``"default"`` (checked at start-up: ``personalization.E008``)."""
    return getattr(settings, ARTIFACT_STORAGE_SETTING, None) or "default"


def artifact_storage() -> Storage:
    """The storage holding every app's model artifacts (shared by all workers and servers, e.g. S3 through
    django-storages, while the shop's media stay on the default storage)."""
    return storages[artifact_storage_alias()]


class NotBetter(ValueError):
    """The candidate is not better than the active version on the compared metric."""


def library_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def begin(
    kind: str,
    params: Mapping[str, Any] | None = None,
    *,
    data_start: dt.datetime | None = None,
    data_end: dt.datetime | None = None,
) -> ModelVersion:
    """Create a version in status *training*."""
    return ModelVersion.objects.create(
        kind=kind,
        params=dict(params or {}),
        data_start=data_start,
        data_end=data_end,
        library_versions=library_versions(),
        stage="Starting",
    )


def report_progress(version: ModelVersion, percent: int, stage: str = "") -> None:
    """Record how far training has got (visible in the admin while it runs)."""
    percent = max(0, min(100, int(percent)))
    ModelVersion.objects.filter(pk=version.pk).update(progress=percent, stage=stage[:200])
    version.progress, version.stage = percent, stage[:200]


def store_artifact(
    version: ModelVersion, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, Any] | None = None
) -> str:
    """Write ``arrays`` as one ``.npz`` (no pickles) to the artifact storage and record it on the version.

    The file is written completely before the row points at it, so a crash never leaves a version
    naming a half-written artifact. Raises :class:`ArtifactError` when the storage refuses the write
    (disk full, read-only), after removing what part of the file was written.
    """
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{name: np.asarray(value) for name, value in arrays.items()})
    payload = buffer.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    name = f"{ARTIFACT_DIR}/{version.kind}/{version.pk}-{digest[:12]}.npz"
    try:
        path = artifact_storage().save(name, ContentFile(payload))
    except OSError as exc:
        _remove_partial(name)
        raise ArtifactError(f"Cannot write the model artifact of {version}: {exc}") from exc
    ModelVersion.objects.filter(pk=version.pk).update(
        artifact=path, artifact_sha256=digest, metadata=dict(metadata or {})
    )
    version.artifact, version.artifact_sha256, version.metadata = path, digest, dict(metadata or {})
    return path


def _remove_partial(name: str) -> None:
    try:
        storage = artifact_storage()
        if storage.exists(name):
            storage.delete(name)
    except OSError:
        logger.warning("Could not remove the partial artifact %s", name)


def load_artifact(version: ModelVersion) -> dict[str, np.ndarray]:
    """The arrays of a version's artifact, checked against the stored SHA-256."""
    if not version.artifact:
        raise ArtifactError(f"{version} has no artifact.")
    try:
        with artifact_storage().open(version.artifact, "rb") as handle:
            payload = handle.read()
    except OSError as exc:
        raise ArtifactError(f"Cannot read the artifact of {version}: {exc}") from exc
    if hashlib.sha256(payload).hexdigest() != version.artifact_sha256:
        raise ArtifactError(f"The artifact of {version} does not match its checksum.")
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def finish(version: ModelVersion, metrics: Mapping[str, float] | None = None) -> ModelVersion:
    """Mark a trained version *ready* with its validation metrics."""
    version.metrics = {key: float(value) for key, value in (metrics or {}).items()}
    version.status, version.progress, version.stage, version.trained_at = (
        ModelVersion.Status.READY,
        100,
        "Ready",
        timezone.now(),
    )
    version.save(update_fields=["metrics", "status", "progress", "stage", "trained_at"])
    return version


def fail(version: ModelVersion, error: BaseException | str) -> None:
    """Mark a version *failed*; the active version of its kind is left as it is."""
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    ModelVersion.objects.filter(pk=version.pk).update(
        status=ModelVersion.Status.FAILED, error=message[:5000], stage="Failed"
    )
    version.status, version.error = ModelVersion.Status.FAILED, message[:5000]


def fail_abandoned(kind: str) -> int:
    """Mark the versions of ``kind`` still *training* as failed; returns how many.

    Call it only while holding the kind's job lock: no live run is then training a version of that
    kind, so one still *training* belongs to a run whose worker died (killed, out of memory, machine
    lost). Its artifact, if any was stored, is never served.
    """
    stale = ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.TRAINING)
    count = stale.update(status=ModelVersion.Status.FAILED, stage="Failed",
                         error="Abandoned: the process training it stopped before it finished.")
    if count:
        logger.warning("Marked %d abandoned %s version(s) as failed.", count, kind)
    return count


def active_version(kind: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.ACTIVE).first()


def activate(
    version: ModelVersion,
    *,
    compare_on: str | None = None,
    higher_is_better: bool = True,
) -> ModelVersion:
    """Make ``version`` the active one of its kind, retiring the previous, in one transaction.

    With ``compare_on`` the version must beat the active one on that metric, else :class:`NotBetter`
    is raised and nothing changes. Only a *ready* (or *retired*, for a roll-back) version with an
    artifact can be activated.
    """
    with transaction.atomic():
        candidate = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if candidate.status == ModelVersion.Status.ACTIVE:
            return candidate
        if candidate.status not in {ModelVersion.Status.READY, ModelVersion.Status.RETIRED}:
            raise ValueError(f"Only a ready or retired version can be activated; {candidate} is {candidate.status}.")
        if not candidate.artifact:
            raise ArtifactError(f"{candidate} has no artifact.")
        current = (
            ModelVersion.objects.select_for_update()
            .filter(kind=candidate.kind, status=ModelVersion.Status.ACTIVE)
            .first()
        )
        if current is not None and compare_on is not None:
            new, old = candidate.metrics.get(compare_on), current.metrics.get(compare_on)
            if new is None:
                raise NotBetter(f"{candidate} has no {compare_on!r} metric to compare.")
            if old is not None and (new <= old if higher_is_better else new >= old):
                raise NotBetter(f"{candidate} {compare_on}={new:.4f} does not beat the active {current} ({old:.4f}).")
        now = timezone.now()
        if current is not None:
            ModelVersion.objects.filter(pk=current.pk).update(status=ModelVersion.Status.RETIRED)
        candidate.status, candidate.activated_at = ModelVersion.Status.ACTIVE, now
        candidate.save(update_fields=["status", "activated_at"])
        changed()
    version.status, version.activated_at = candidate.status, candidate.activated_at
    return candidate


def retire(version: ModelVersion) -> None:
    """Take a version out of service (an active one leaves its kind with no active version)."""
    ModelVersion.objects.filter(pk=version.pk).exclude(status=ModelVersion.Status.FAILED).update(
        status=ModelVersion.Status.RETIRED
    )
    changed()


@dataclass(frozen=True)
class Minimum:
    """One amount of training data a kind needs before a version of it may go live."""

    what: str  # "weeks of sales", "customers", ...
    have: float
    need: float
    setting: str  # where ``need`` is set, for the message

    def problem(self) -> str:
        if self.have >= self.need:
            return ""
        return f"trained on {self.have:,.0f} {self.what}, needs at least {self.need:,.0f} ({self.setting})"


def refusal(version: ModelVersion) -> str:
    """Why ``version`` was not made live by :func:`promote` ("" when it was not refused)."""
    return str((version.metadata or {}).get("refused", ""))


def refuse(version: ModelVersion, reason: str) -> None:
    """Record why ``version`` stays out of service (it keeps its status) and log it."""
    metadata = {**(version.metadata or {}), "refused": reason}
    ModelVersion.objects.filter(pk=version.pk).update(metadata=metadata)
    version.metadata = metadata
    logger.warning("%s not activated: %s", version, reason)


def shortfall(minimums: Sequence[Minimum]) -> str:
    """Why ``minimums`` are not met ("" when they are), e.g. "Not enough data: trained on 1 weeks ..."."""
    problems = [text for text in (minimum.problem() for minimum in minimums) if text]
    return "Not enough data: " + "; ".join(problems) + "." if problems else ""


def promote(
    version: ModelVersion,
    minimums: Sequence[Minimum] = (),
    *,
    compare_on: str | None = None,
    higher_is_better: bool = True,
) -> tuple[bool, str]:
    """Activate ``version`` if it was trained on enough data and is not worse than the active one.

    Returns ``(activated, message)``. A refused version stays *ready* (so it can still be compared, A/B
    tested or activated by hand) with the reason recorded (:func:`refuse`); the active one stays live.
    """
    reason = shortfall(minimums)
    if reason:
        refuse(version, reason)
        return False, reason
    active = active_version(version.kind)
    if compare_on and active is not None and active.pk != version.pk:
        if (active.metrics or {}).get(compare_on) is None and (version.metrics or {}).get(compare_on) is None:
            compare_on = None  # neither could be validated (too little recent data): the minimums decide
    try:
        activate(version, compare_on=compare_on, higher_is_better=higher_is_better)
    except NotBetter as exc:
        reason = f"Not better than the active version: {exc}"
        refuse(version, reason)
        return False, reason
    return True, f"{version} is now active."
