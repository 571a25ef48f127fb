"""Every customer's precomputed "for you" list of a trained version, in one process or one customer shard.

Training (:mod:`.training`) writes the lists in its own process when ``RECOMMENDATIONS["LIST_SHARDS"]`` is 1
(the default), from the model it has just fitted. With ``N > 1`` it stores the artifact and hands the lists
to N tasks ``personalization.precompute_lists_shard(version_id, shard, N)`` on the ``ml`` queue, which any
number of ``ml`` workers (on any number of machines sharing the database and the artifact storage) share:
each loads the version's artifact (:func:`load_for_lists`), scores only the customers whose stable hash
falls in its shard (:func:`shard_of`) and writes their rows in one transaction (:func:`compute_shard`). The
same function (:func:`write_user_lists`) writes the rows in both cases, from the same arrays, so the rows are
the same whatever the number of shards or workers.

A shard is idempotent: a redelivered one (its worker died) deletes the rows it wrote before writing them again.
"""
from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from django.db import transaction

from ..host.threads import limited_threads
from ..ml.base import Recommender
from ..ml.hybrid import HybridRecommender
from ..ml.toppop import TopPop
from ..models import ModelVersion, RecommendationList
from ..ops import registry
from .blend import RepeatThenNeighbours
from .config import KIND

logger = logging.getLogger(__name__)

# The served models by the name training stores in the artifact's metadata ("model").
MODEL_CLASSES: dict[str, type[Recommender]] = {"hybrid": HybridRecommender, "simple": RepeatThenNeighbours,
                                               "popular": TopPop}
SCORE_BATCH = 1024  # customers scored at once (the model splits further on a wide catalogue)
FAILURE_PREFIX = "Precomputing the lists failed"


class ShardError(ValueError):
    """A shard cannot run: an unknown version, one that is no longer training, a shard out of range."""


@dataclass(frozen=True)
class ListInputs:
    """What the lists of a version are computed from: the fitted model and the training's id maps."""

    model: Recommender
    seen: sp.csr_matrix  # customer x product: bought before (the "bought before" source)
    user_pks: np.ndarray
    product_pks: np.ndarray
    length: int


def seen_arrays(seen: sp.csr_matrix) -> dict[str, np.ndarray]:
    """The artifact's copy of the customer x product purchases (the "bought before" source of a shard)."""
    csr = sp.csr_matrix(seen)
    return {"seen_indptr": csr.indptr.astype(np.int64), "seen_indices": csr.indices.astype(np.int32)}


def shard_of(user_pks: np.ndarray, n_shards: int) -> np.ndarray:
    """The shard (0 .. n_shards - 1) of each customer: CRC-32 of its primary key's decimal text, modulo
    ``n_shards`` (the same on every machine and Python, unlike ``hash()``)."""
    return np.fromiter((zlib.crc32(str(int(pk)).encode("ascii")) % n_shards for pk in user_pks),
                       dtype=np.int64, count=len(user_pks))


def load_for_lists(version: ModelVersion) -> ListInputs:
    """The model and id maps of ``version``, from its artifact (raises :class:`registry.ArtifactError`)."""
    arrays = registry.load_artifact(version)
    metadata = version.metadata or {}
    name = str(metadata.get("model", ""))
    if name not in MODEL_CLASSES or "seen_indptr" not in arrays:
        raise registry.ArtifactError(f"The artifact of {version} holds no model its lists can be computed from.")
    model = MODEL_CLASSES[name].from_arrays({key[6:]: value for key, value in arrays.items()
                                             if key.startswith("model/")})
    user_pks, product_pks = arrays["user_pks"], arrays["product_pks"]
    indices = arrays["seen_indices"]
    seen = sp.csr_matrix((np.ones(indices.size, dtype=np.float32), indices, arrays["seen_indptr"]),
                         shape=(user_pks.size, product_pks.size))
    return ListInputs(model, seen, user_pks, product_pks, int(metadata["list_length"]))


def _lists(inputs: ListInputs, users: np.ndarray, version: ModelVersion) -> list[RecommendationList]:
    ids, scores = inputs.model.recommend(users, n=inputs.length)
    seen, out = inputs.seen, []
    for row, user in enumerate(users):
        keep = ids[row] >= 0
        items = ids[row][keep]
        bought = set(seen.indices[seen.indptr[user]:seen.indptr[user + 1]].tolist())
        out.append(RecommendationList(
            user_id=int(inputs.user_pks[user]), placement="for_you",
            items=[int(p) for p in inputs.product_pks[items]],
            scores=[round(float(s), 6) for s in scores[row][keep]],
            sources=["bought before" if int(i) in bought else "model" for i in items],
            model_version=version,
        ))
    return out


def write_user_lists(inputs: ListInputs, version: ModelVersion, users: np.ndarray | None = None) -> int:
    """Write the "for you" lists of ``users`` (customer indexes; all by default) for ``version``; how many.

    Call it inside a transaction: the rows these customers already have for the version are deleted first,
    so writing them again (a redelivered shard) leaves one list per customer.
    """
    users = np.arange(inputs.user_pks.size) if users is None else np.asarray(users, dtype=np.int64)
    if users.size == 0:
        return 0
    pks = [int(pk) for pk in inputs.user_pks[users]]
    for lo in range(0, len(pks), 10_000):
        RecommendationList.objects.filter(model_version=version, placement="for_you",
                                          user_id__in=pks[lo:lo + 10_000]).delete()
    written = 0
    for lo in range(0, users.size, SCORE_BATCH):
        rows = _lists(inputs, users[lo:lo + SCORE_BATCH], version)
        RecommendationList.objects.bulk_create(rows, batch_size=1000)
        written += len(rows)
    return written


def compute_shard(version_id: int, shard: int, n_shards: int) -> int:
    """Precompute and write the lists of one customer shard of a version being trained; how many lists.

    Raises :class:`ShardError` for a shard that cannot run; any failure marks the version failed with the
    reason (the active version keeps serving) before it is raised.
    """
    if n_shards < 1 or not 0 <= shard < n_shards:
        raise ShardError(f"Shard {shard} of {n_shards} does not exist (shards are numbered 0 to n_shards - 1).")
    version = ModelVersion.objects.filter(pk=version_id, kind=KIND).first()
    if version is None:
        raise ShardError(f"There is no recommender version {version_id}.")
    if version.status != ModelVersion.Status.TRAINING:
        raise ShardError(f"{version} is {version.status}, no longer training: its lists are not precomputed.")
    try:
        with limited_threads():  # SHOPSENSE_THREADS, as in training
            inputs = load_for_lists(version)
            users = np.flatnonzero(shard_of(inputs.user_pks, n_shards) == shard)
            with transaction.atomic():
                written = write_user_lists(inputs, version, users)
    except Exception as exc:
        registry.fail(version, f"{FAILURE_PREFIX} in shard {shard + 1} of {n_shards}: {type(exc).__name__}: {exc}")
        raise
    logger.info("%s: lists of shard %d/%d written (%d customers).", version, shard + 1, n_shards, written)
    return written
