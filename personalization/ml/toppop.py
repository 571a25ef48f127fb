"""Popularity: the items most distinct buyers bought in the last N days."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import SECONDS_PER_DAY, Interactions, Recommender, as_interactions, top_n


def windowed_buyers(interactions: Interactions, window_days: float | None) -> np.ndarray:
    """Distinct buyers per item over the last ``window_days`` before ``now`` (all time when None)."""
    mask = np.ones(len(interactions), dtype=bool)
    if window_days and interactions.timestamps is not None and interactions.now is not None:
        mask = interactions.timestamps >= interactions.now - window_days * SECONDS_PER_DAY
    pairs = sp.csr_matrix(
        (np.ones(int(mask.sum())), (interactions.user_ids[mask], interactions.item_ids[mask])),
        shape=(interactions.n_users, interactions.n_items),
    )
    pairs.sum_duplicates()
    pairs.data[:] = 1.0
    return np.asarray(pairs.sum(axis=0)).ravel()


class TopPop(Recommender):
    """Global best-sellers by distinct buyers in the last ``window_days`` days; the same for everyone.

    Ties break by all-time buyers, then by item id. ``similar_items`` and :meth:`best_sellers` give the
    best-sellers of an item's category when the interactions carry item features.
    """

    _state_attrs = ("popularity_", "category_", "n_users_", "n_items_")

    def __init__(self, window_days: float | None = 90.0, random_state: int | None = None) -> None:
        self.window_days = window_days
        self.random_state = random_state

    def fit(self, interactions: Interactions | sp.spmatrix) -> TopPop:
        data = as_interactions(interactions)
        recent = windowed_buyers(data, self.window_days)
        ever = windowed_buyers(data, None)
        # All-time buyers only break ties between equal windowed counts.
        self.popularity_ = recent + ever / (ever.max() + 1.0 if ever.size else 1.0)
        if data.item_features is not None:
            self.category_, _ = data.item_features.category_codes()
        else:
            self.category_ = np.full(data.n_items, -1, dtype=np.int64)
        self.n_users_ = data.n_users
        self.n_items_ = data.n_items
        return self

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (user_ids.size, self.n_items_))

    def best_sellers(self, n: int = 10, category: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` items overall, or within one category code (see ``ItemFeatures.category_codes``)."""
        self._check_fitted()
        scores = self.popularity_.astype(np.float64).copy()
        if category is not None:
            scores[self.category_ != category] = -np.inf
        ids, vals = top_n(scores[None, :], n)
        return ids[0], vals[0]

    def _similar_scores(self, item_ids: np.ndarray) -> np.ndarray:
        same = self.category_[item_ids][:, None] == self.category_[None, :]
        same &= self.category_[item_ids][:, None] >= 0
        return np.where(same, self.popularity_[None, :], -np.inf)
