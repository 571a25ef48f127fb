"""Approximate maximum-inner-product search over item vectors (iALS factors) for large catalogues.

An HNSW graph from ``usearch`` (chosen against faiss-cpu on 100,000 synthetic items, see
bench/sparse_models.py and bench/RESULTS.md). Inner products are turned into distances with the
usual extra coordinate (Bachrach et al., 2014): every item vector is lengthened to the largest norm,
so the largest inner product is the smallest Euclidean distance. The index is rebuilt from the
factors (one thread, so the same factors give the same graph) rather than saved, so model files stay plain numpy.
"""
from __future__ import annotations

import numpy as np

# Below this many items an exact product over the whole catalogue is cheap; above it models may use the index.
ANN_MIN_ITEMS = 50_000


class ItemIndex:
    """HNSW index over ``vectors`` (items x factors) answering top-k inner-product queries."""

    def __init__(self, vectors: np.ndarray, connectivity: int = 32, expansion_add: int = 200,
                 expansion_search: int = 128) -> None:
        from usearch.index import Index

        items = np.asarray(vectors, dtype=np.float32)
        if items.ndim != 2 or items.shape[0] == 0:
            raise ValueError("ItemIndex needs a non-empty 2-d array of item vectors")
        norms = np.linalg.norm(items, axis=1)
        extra = np.sqrt(np.maximum(norms.max() ** 2 - norms ** 2, 0.0))
        self.n_items, self.dim = items.shape
        self._index = Index(ndim=self.dim + 1, metric="l2sq", dtype="f32", connectivity=connectivity,
                            expansion_add=expansion_add, expansion_search=expansion_search)
        self._index.add(np.arange(self.n_items, dtype=np.uint64),
                        np.hstack([items, extra[:, None]]).astype(np.float32), threads=1)
        self._items = items

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and inner products of (about) the ``k`` best items per query row, best first; ``-1`` / ``-inf`` pad."""
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"queries must be a 2-d array with {self.dim} columns")
        k = int(k)
        ids = np.full((q.shape[0], k), -1, dtype=np.int64)
        scores = np.full((q.shape[0], k), -np.inf, dtype=np.float64)
        if k <= 0 or q.shape[0] == 0:
            return ids, scores
        found = self._index.search(np.hstack([q, np.zeros((q.shape[0], 1), np.float32)]), min(k, self.n_items),
                                   threads=1)
        keys = np.asarray(found.keys, dtype=np.int64).reshape(q.shape[0], -1)
        counts = np.asarray(found.counts).reshape(-1)
        width = keys.shape[1]
        valid = np.arange(width)[None, :] < counts[:, None]
        keys = np.where(valid, keys, -1)
        exact = np.einsum("qd,qkd->qk", q, self._items[np.maximum(keys, 0)]).astype(np.float64)
        exact = np.where(valid, exact, -np.inf)
        order = np.argsort(-exact, axis=1, kind="stable")
        ids[:, :width] = np.take_along_axis(keys, order, axis=1)
        scores[:, :width] = np.take_along_axis(exact, order, axis=1)
        return ids, scores
