"""Customer segments: K-means on standardised features, k by silhouette, stable ids, words, PCA (no Django).

``CustomerSegmenter.fit(X)`` standardises the feature matrix, tries every k in ``k_range`` on a
sample and keeps the k with the best silhouette, refits K-means on all rows with that k, and projects
everything onto the first two principal components for plotting. Passing the previous run's
centroids (in the same, unstandardised feature space) matches the new clusters to them with the
Hungarian algorithm so that a cluster keeps its id across rebuilds. :func:`describe_centroid` puts a
standardised centroid into words ("large baskets, frequent, high value").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def describe_centroid(
    z: Sequence[float] | FloatArray,
    feature_names: Sequence[str],
    words: Mapping[str, tuple[str, str]],
    threshold: float = 0.5,
    max_terms: int = 3,
    default: str = "typical customers",
) -> str:
    """Words for the features on which a standardised centroid stands out most.

    ``words[name] = (high, low)``; features further than ``threshold`` standard deviations from the
    mean are named, strongest first, at most ``max_terms`` of them.
    """
    z = np.asarray(z, dtype=np.float64)
    order = np.argsort(-np.abs(z), kind="stable")
    terms = []
    for index in order[:max_terms]:
        if abs(z[index]) < threshold or feature_names[index] not in words:
            continue
        high, low = words[feature_names[index]]
        terms.append(high if z[index] > 0 else low)
    return ", ".join(terms) if terms else default


def match_clusters(
    centroids: FloatArray,
    previous_centroids: FloatArray,
    previous_ids: Sequence[int],
    max_distance: float | None = None,
) -> IntArray:
    """Stable ids for new clusters: each takes the id of the previous centroid it is matched to.

    The assignment minimises the total Euclidean distance (Hungarian algorithm); a pair further apart
    than ``max_distance`` is not a match. Unmatched clusters (new ones, or more clusters than before)
    get fresh ids above every previous id, in the order of ``centroids``.
    """
    centroids = np.asarray(centroids, dtype=np.float64)
    previous = np.asarray(previous_centroids, dtype=np.float64)
    ids = np.full(len(centroids), -1, dtype=np.int64)
    if len(previous) and len(centroids):
        if previous.shape[1] != centroids.shape[1]:
            raise ValueError("Previous centroids have a different number of features.")
        cost = np.linalg.norm(centroids[:, None, :] - previous[None, :, :], axis=2)
        rows, cols = linear_sum_assignment(cost)
        for row, col in zip(rows, cols, strict=True):
            if max_distance is None or cost[row, col] <= max_distance:
                ids[row] = int(previous_ids[col])
    next_id = int(max(previous_ids, default=-1)) + 1
    for row in np.flatnonzero(ids < 0):
        ids[row] = next_id
        next_id += 1
    return ids


class CustomerSegmenter:
    """K-means segments of customers with k chosen by silhouette: ``fit(X) -> self``.

    Hyperparameters: ``k_range`` (inclusive), ``n_init``, ``selection_sample`` (rows used to choose
    k), ``silhouette_sample`` (rows scored per k), ``max_match_distance`` (in standard deviations),
    ``random_state``. Learned: ``mean_``/``scale_`` (standardisation), ``k_``, ``silhouette_``,
    ``silhouette_by_k_``, ``cluster_centers_`` (standardised, one row per cluster), ``cluster_ids_``
    (stable id of each row of ``cluster_centers_``), ``labels_`` (stable id per customer),
    ``components_``/``explained_variance_ratio_`` (PCA) and ``projection_`` (n x 2).
    """

    def __init__(
        self,
        k_range: tuple[int, int] = (2, 8),
        n_init: int = 4,
        selection_sample: int = 20_000,
        silhouette_sample: int = 4_000,
        max_match_distance: float | None = 1.5,
        random_state: int | None = 0,
    ):
        self.k_range = k_range
        self.n_init = n_init
        self.selection_sample = selection_sample
        self.silhouette_sample = silhouette_sample
        self.max_match_distance = max_match_distance
        self.random_state = random_state

    def _standardise(self, X: FloatArray) -> FloatArray:
        return (X - self.mean_) / self.scale_

    def fit(
        self,
        X: npt.ArrayLike,
        previous_centroids: npt.ArrayLike | None = None,
        previous_ids: Sequence[int] | None = None,
    ) -> CustomerSegmenter:
        """Cluster the rows of ``X``; ``previous_centroids`` are unstandardised, like ``X``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError("X must be a non-empty 2-D array (customers x features).")
        if not np.all(np.isfinite(X)):
            raise ValueError("X must not contain NaN or infinite values.")
        k_min, k_max = self.k_range
        if not 2 <= k_min <= k_max:
            raise ValueError("k_range must be (k_min, k_max) with 2 <= k_min <= k_max.")
        rng = np.random.default_rng(self.random_state)
        n = X.shape[0]
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        Z = self._standardise(X)

        sample = Z if n <= self.selection_sample else Z[rng.choice(n, self.selection_sample, replace=False)]
        distinct = len(np.unique(sample, axis=0))
        # silhouette needs 2 <= k <= n - 1, and K-means cannot find more clusters than distinct points
        candidates = [k for k in range(k_min, k_max + 1) if k <= min(distinct, len(sample) - 1)]
        self.silhouette_by_k_: dict[int, float] = {}
        models: dict[int, KMeans] = {}
        if candidates:
            score_rows = min(self.silhouette_sample, len(sample))
            with threadpool_limits(limits=1):
                # small problems: thread start-up costs more than it saves, badly so on a busy machine
                self._try_k(candidates, sample, score_rows, models)

        # the best silhouette wins; on a tie, the smaller k
        scores = self.silhouette_by_k_
        self.k_ = max(scores, key=lambda k: (scores[k], -k)) if scores else 1
        self.silhouette_ = self.silhouette_by_k_.get(self.k_)
        if self.k_ == 1:
            # too few (distinct) customers to split: one cluster holding everyone
            centers = Z.mean(axis=0, keepdims=True)
            order = np.zeros(n, dtype=np.int64)
        elif sample is Z:
            centers, order = models[self.k_].cluster_centers_, models[self.k_].labels_.astype(np.int64)
        else:
            # all rows, started from the centres found on the sample: one run instead of n_init
            final = KMeans(n_clusters=self.k_, init=models[self.k_].cluster_centers_, n_init=1).fit(Z)
            centers, order = final.cluster_centers_, final.labels_.astype(np.int64)

        # clusters in a deterministic order: largest first
        sizes = np.bincount(order, minlength=len(centers))
        rank = np.argsort(-sizes, kind="stable")
        self.cluster_centers_ = centers[rank]
        position = np.empty_like(rank)
        position[rank] = np.arange(len(rank))
        index = position[order]
        self.sizes_ = sizes[rank]

        if previous_centroids is not None and previous_ids is not None and len(previous_ids):
            previous_z = self._standardise(np.asarray(previous_centroids, dtype=np.float64))
            self.cluster_ids_ = match_clusters(
                self.cluster_centers_, previous_z, list(previous_ids), self.max_match_distance
            )
        else:
            self.cluster_ids_ = np.arange(len(self.cluster_centers_), dtype=np.int64)
        self.labels_ = self.cluster_ids_[index]

        self._fit_pca(Z)
        self.projection_ = self.project(X)
        return self

    def _try_k(self, candidates: list[int], sample: FloatArray, score_rows: int, models: dict[int, KMeans]) -> None:
        for k in candidates:
            model = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit(sample)
            if len(np.unique(model.labels_)) < 2:
                continue
            models[k] = model
            self.silhouette_by_k_[k] = float(
                silhouette_score(sample, model.labels_, sample_size=score_rows, random_state=self.random_state)
            )

    def _fit_pca(self, Z: FloatArray) -> None:
        # the standardised data are centred already; the SVD of Z gives the principal axes
        centred = Z - Z.mean(axis=0)
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        components = np.zeros((2, Z.shape[1]))
        used = min(2, vt.shape[0])
        components[:used] = vt[:used]
        # a deterministic sign: the largest loading of each axis is positive
        for row in components:
            pivot = np.argmax(np.abs(row))
            if row[pivot] < 0:
                row *= -1
        self.components_ = components
        self.pca_mean_ = Z.mean(axis=0)
        variance = singular**2
        ratio = np.zeros(2)
        if variance.sum() > 0:
            ratio[:used] = variance[:used] / variance.sum()
        self.explained_variance_ratio_ = ratio

    def centroids(self) -> FloatArray:
        """Cluster centres in the original (unstandardised) feature space."""
        return self.cluster_centers_ * self.scale_ + self.mean_

    def predict(self, X: npt.ArrayLike) -> IntArray:
        """Stable cluster id of the nearest centre for each row of ``X``."""
        Z = self._standardise(np.asarray(X, dtype=np.float64))
        distances = np.linalg.norm(Z[:, None, :] - self.cluster_centers_[None, :, :], axis=2)
        return self.cluster_ids_[np.argmin(distances, axis=1)]

    def project(self, X: npt.ArrayLike) -> FloatArray:
        """Coordinates of the rows of ``X`` on the first two principal components."""
        Z = self._standardise(np.asarray(X, dtype=np.float64))
        return (Z - self.pca_mean_) @ self.components_.T

    def state(self) -> dict[str, object]:
        """What :meth:`from_state` needs to predict and project later (JSON-friendly)."""
        return {
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "centers": self.cluster_centers_.tolist(),
            "ids": [int(i) for i in self.cluster_ids_],
            "components": self.components_.tolist(),
            "pca_mean": self.pca_mean_.tolist(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, object]) -> CustomerSegmenter:
        """A fitted segmenter restored from :meth:`state`."""
        model = cls()
        model.mean_ = np.asarray(state["mean"], dtype=np.float64)
        model.scale_ = np.asarray(state["scale"], dtype=np.float64)
        model.cluster_centers_ = np.asarray(state["centers"], dtype=np.float64)
        model.cluster_ids_ = np.asarray(state["ids"], dtype=np.int64)
        model.components_ = np.asarray(state["components"], dtype=np.float64)
        model.pca_mean_ = np.asarray(state["pca_mean"], dtype=np.float64)
        return model
