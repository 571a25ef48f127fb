"""EASE: embarrassingly shallow autoencoder (Steck, 2019), closed form."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import Interactions, Recommender, as_interactions, user_rows


def user_item_weights(data: Interactions, half_life_days: float | None, weighting: str = "sum") -> sp.csr_matrix:
    """User x item matrix: 1 per pair without a half-life; with one, per pair either the ``sum`` of
    ``0.5 ** (age / half_life_days)`` over its purchases or that weight of its ``latest`` purchase."""
    if weighting not in ("sum", "latest"):
        raise ValueError(f"weighting must be 'sum' or 'latest', not {weighting!r}")
    if not half_life_days:
        return data.to_csr(binary=True)
    weights = data.decay_weights(half_life_days)
    if weighting == "sum":
        return data.to_csr(weights=weights)
    m = sp.coo_matrix((weights, (data.user_ids, data.item_ids)), shape=(data.n_users, data.n_items))
    # The latest purchase of each pair decides its weight (max, not sum, keeps heavy re-buyers in scale).
    order = np.lexsort((m.data, m.col, m.row))
    r, c, w = m.row[order], m.col[order], m.data[order]
    last = np.ones(r.size, dtype=bool)
    last[:-1] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    return sp.csr_matrix((w[last], (r[last], c[last])), shape=(data.n_users, data.n_items))


class EASE(Recommender):
    """Item-item weights ``B = I - P / diag(P)`` with ``P = (X'X + lambda I)^-1`` and ``diag(B) = 0``.

    ``half_life_days`` weights each user-item pair by time-decayed purchases (``weighting``: the sum
    over its purchases, or only its latest), which both fits B on recent co-purchases and scores with
    recent history.
    """

    _state_attrs = ("weights_", "user_items_", "n_users_", "n_items_")

    def __init__(self, lam: float = 300.0, half_life_days: float | None = None,
                 weighting: str = "sum", random_state: int | None = None) -> None:
        self.lam = lam
        self.half_life_days = half_life_days
        self.weighting = weighting
        self.random_state = random_state

    def fit(self, interactions: Interactions | sp.spmatrix) -> EASE:
        data = as_interactions(interactions)
        x = user_item_weights(data, self.half_life_days, self.weighting)
        gram = np.asarray((x.T @ x).todense(), dtype=np.float64)
        gram[np.diag_indices_from(gram)] += self.lam
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)[None, :]
        b[np.diag_indices_from(b)] = 0.0
        self.weights_ = b.astype(np.float32)
        self.user_items_ = x
        self.n_users_ = data.n_users
        self.n_items_ = data.n_items
        return self

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        return np.asarray(user_rows(self.user_items_, user_ids) @ self.weights_, dtype=np.float64)

    def _similar_scores(self, item_ids: np.ndarray) -> np.ndarray:
        return np.asarray(self.weights_[item_ids], dtype=np.float64)
