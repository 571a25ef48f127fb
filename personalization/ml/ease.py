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


# Items EASE models at most (the most-bought ones): fitting inverts a dense vocabulary x vocabulary
# matrix, about 4 x 8 x N^2 bytes at its peak (3.2 GB measured at 10,000, ~60 CPU s) and keeps N^2
# float32 weights (400 MB).
MAX_VOCABULARY = 10_000


def bounded_vocabulary(x: sp.csr_matrix, max_items: int | None) -> np.ndarray:
    """The item ids EASE models: all items up to ``max_items``, else the ``max_items`` with the most
    distinct buyers (ties to the lower id), sorted."""
    if max_items is not None and (isinstance(max_items, bool) or not isinstance(max_items, (int, np.integer))
                                  or max_items < 1):
        raise ValueError(f"max_items must be an integer >= 1 or None, not {max_items!r}")
    n_items = x.shape[1]
    if max_items is None or n_items <= max_items:
        return np.arange(n_items, dtype=np.int64)
    buyers = np.diff(sp.csc_matrix(x).indptr)
    order = np.lexsort((np.arange(n_items), -buyers))
    return np.sort(order[:max_items]).astype(np.int64)


class EASE(Recommender):
    """Item-item weights ``B = I - P / diag(P)`` with ``P = (X'X + lambda I)^-1`` and ``diag(B) = 0``.

    ``half_life_days`` weights each user-item pair by time-decayed purchases (``weighting``: the sum
    over its purchases, or only its latest), which both fits B on recent co-purchases and scores with
    recent history. ``max_items`` bounds the vocabulary to the most-bought items so that memory stays
    fixed at any catalogue size (``None``: every item); items outside it score 0 ("no evidence"),
    and the weights are fitted on the purchases of vocabulary items only.
    """

    _state_attrs = ("weights_", "vocabulary_", "user_items_", "n_users_", "n_items_")
    vocabulary_: np.ndarray | None = None  # None: every item (and models saved before the bound)

    def __init__(self, lam: float = 300.0, half_life_days: float | None = None,
                 weighting: str = "sum", max_items: int | None = MAX_VOCABULARY,
                 random_state: int | None = None) -> None:
        self.lam = lam
        self.half_life_days = half_life_days
        self.weighting = weighting
        self.max_items = max_items
        self.random_state = random_state

    def fit(self, interactions: Interactions | sp.spmatrix) -> EASE:
        data = as_interactions(interactions)
        x = user_item_weights(data, self.half_life_days, self.weighting)
        vocabulary = bounded_vocabulary(x, self.max_items)
        bounded = vocabulary.size < data.n_items
        xv = sp.csr_matrix(x[:, vocabulary]) if bounded else x
        gram = np.asarray((xv.T @ xv).todense(), dtype=np.float64)
        gram[np.diag_indices_from(gram)] += self.lam
        p = np.linalg.inv(gram)  # numpy's LU inverse: faster here than potrf/potri or scipy's in-place inv
        del gram
        p /= -np.diag(p)[None, :]  # B = -P / diag(P) in place
        p[np.diag_indices_from(p)] = 0.0
        self.weights_ = p.astype(np.float32)
        self.vocabulary_ = vocabulary if bounded else None
        self.user_items_ = xv
        self.n_users_ = data.n_users
        self.n_items_ = data.n_items
        return self

    def _full_width(self, block: np.ndarray) -> np.ndarray:
        if self.vocabulary_ is None:
            return np.asarray(block, dtype=np.float64)
        out = np.zeros((block.shape[0], self.n_items_), dtype=np.float64)
        out[:, self.vocabulary_] = block
        return out

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        return self._full_width(user_rows(self.user_items_, user_ids) @ self.weights_)

    def _similar_scores(self, item_ids: np.ndarray) -> np.ndarray:
        if self.vocabulary_ is None:
            return np.asarray(self.weights_[item_ids], dtype=np.float64)
        position = np.searchsorted(self.vocabulary_, item_ids)
        position = np.minimum(position, self.vocabulary_.size - 1)
        known = self.vocabulary_[position] == item_ids
        block = np.zeros((item_ids.size, self.vocabulary_.size), dtype=np.float32)
        block[known] = self.weights_[position[known]]
        return self._full_width(block)
