"""Bought together: items that share baskets with what the user bought recently."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import SECONDS_PER_DAY, Interactions, Recommender, as_interactions, user_rows


def basket_matrix(data: Interactions) -> sp.csr_matrix:
    """Basket x item binary matrix; a basket is one user's purchases on one day."""
    if data.timestamps is None:
        baskets = data.user_ids
    else:
        day = data.timestamps // int(SECONDS_PER_DAY)
        keys = data.user_ids * (int(day.max()) + 1 if day.size else 1) + day
        _, baskets = np.unique(keys, return_inverse=True)
    n_baskets = int(baskets.max()) + 1 if baskets.size else 0
    m = sp.csr_matrix((np.ones(baskets.size), (baskets, data.item_ids)), shape=(n_baskets, data.n_items))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


class CoPurchase(Recommender):
    """Scores ``sum_i w_ui P(j | i)``: how often ``j`` shares a basket with each item ``i`` the user
    bought, ``P(j | i) = baskets(i, j) / (baskets(i) + shrink)``, weighted by the recency of the user's
    purchase of ``i`` (``half_life_days``). ``similar_items`` is "bought together"."""

    _state_attrs = ("conditional_", "user_items_", "n_users_", "n_items_")

    def __init__(self, half_life_days: float | None = 30.0, shrink: float = 5.0, n_neighbors: int | None = 200,
                 random_state: int | None = None) -> None:
        self.half_life_days = half_life_days
        self.shrink = shrink
        self.n_neighbors = n_neighbors
        self.random_state = random_state

    def fit(self, interactions: Interactions | sp.spmatrix) -> CoPurchase:
        data = as_interactions(interactions)
        baskets = basket_matrix(data)
        co = (baskets.T @ baskets).tocsr()
        counts = co.diagonal().astype(np.float64)
        co.setdiag(0.0)
        co.eliminate_zeros()
        cond = sp.diags(1.0 / (counts + self.shrink + 1e-12)) @ co
        cond = sp.csr_matrix(cond)
        if self.n_neighbors is not None:
            cond = _prune_rows(cond, self.n_neighbors)
        self.conditional_ = cond.astype(np.float32)
        weights = data.decay_weights(self.half_life_days)
        latest = data.to_csr(weights=weights)
        latest.data = np.minimum(latest.data, 1.0)  # one recent purchase counts as much as many
        self.user_items_ = latest.astype(np.float32)
        self.n_users_ = data.n_users
        self.n_items_ = data.n_items
        return self

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        return np.asarray((user_rows(self.user_items_, user_ids) @ self.conditional_).todense(), dtype=np.float64)

    def _similar_scores(self, item_ids: np.ndarray) -> np.ndarray:
        return self.conditional_[item_ids].toarray().astype(np.float64)


def _prune_rows(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row."""
    rows, cols, vals = [], [], []
    for r in range(matrix.shape[0]):
        lo, hi = matrix.indptr[r], matrix.indptr[r + 1]
        if hi - lo > k:
            keep = lo + np.argpartition(-matrix.data[lo:hi], k - 1)[:k]
        else:
            keep = np.arange(lo, hi)
        rows.append(np.full(keep.size, r))
        cols.append(matrix.indices[keep])
        vals.append(matrix.data[keep])
    if not rows:
        return matrix
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=matrix.shape)
