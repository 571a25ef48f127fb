"""Item-based nearest neighbours with cosine similarity."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import Interactions, Recommender, as_interactions, user_rows


def cosine_item_similarity(matrix: sp.csr_matrix, shrink: float = 0.0, n_neighbors: int | None = None,
                           block: int = 1024) -> sp.csr_matrix:
    """Item x item cosine similarity of the columns of a user x item matrix, the diagonal set to zero.

    ``shrink`` damps similarities resting on few co-buyers (``dot / (|a||b| + shrink)``);
    ``n_neighbors`` keeps only each item's strongest neighbours (a row-wise top-k, as a sparse matrix).
    """
    x = sp.csc_matrix(matrix, dtype=np.float64)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    gram = (x.T @ x).tocsr()
    n = gram.shape[0]
    rows, cols, vals = [], [], []
    for start in range(0, n, block):
        stop = min(start + block, n)
        dense = gram[start:stop].toarray()
        dense /= np.outer(norms[start:stop], norms) + shrink + 1e-12
        dense[np.arange(stop - start), np.arange(start, stop)] = 0.0
        if n_neighbors is not None and n_neighbors < n:
            keep = np.argpartition(-dense, n_neighbors - 1, axis=1)[:, :n_neighbors]
            kept = np.take_along_axis(dense, keep, axis=1)
            r = np.repeat(np.arange(start, stop), n_neighbors)
            rows.append(r)
            cols.append(keep.ravel())
            vals.append(kept.ravel())
        else:
            r, c = np.nonzero(dense)
            rows.append(r + start)
            cols.append(c)
            vals.append(dense[r, c])
    sim = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    sim.eliminate_zeros()
    return sim


class ItemKNN(Recommender):
    """Scores ``x_u @ S``: the user's (optionally time-decayed) purchases times item-item cosine.

    ``shrink`` damps similarities from few co-buyers; ``n_neighbors`` prunes each item's row of S;
    ``half_life_days`` decays the user's purchases when scoring (the similarity uses binary data).
    """

    _state_attrs = ("similarity_", "user_items_", "n_users_", "n_items_")

    def __init__(self, n_neighbors: int | None = 200, shrink: float = 0.0, half_life_days: float | None = None,
                 random_state: int | None = None) -> None:
        self.n_neighbors = n_neighbors
        self.shrink = shrink
        self.half_life_days = half_life_days
        self.random_state = random_state

    def fit(self, interactions: Interactions | sp.spmatrix) -> ItemKNN:
        data = as_interactions(interactions)
        binary = data.to_csr(binary=True)
        self.similarity_ = cosine_item_similarity(binary, self.shrink, self.n_neighbors)
        if self.half_life_days:
            self.user_items_ = data.to_csr(weights=data.decay_weights(self.half_life_days))
        else:
            self.user_items_ = binary
        self.n_users_ = data.n_users
        self.n_items_ = data.n_items
        return self

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        return np.asarray((user_rows(self.user_items_, user_ids) @ self.similarity_).todense())

    def _similar_scores(self, item_ids: np.ndarray) -> np.ndarray:
        return self.similarity_[item_ids].toarray()
