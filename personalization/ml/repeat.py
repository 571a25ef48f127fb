"""Repeat purchase: the user's own time-decayed purchase history first, then popularity."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import Interactions, Recommender, as_interactions, user_rows
from .toppop import windowed_buyers


class RepeatPurchase(Recommender):
    """Ranks the items a user bought before by ``h = sum 0.5 ** (age / half_life_days)`` over their
    purchases (one per order line), every one of them above the never-bought items, which follow in
    order of popularity (distinct buyers in the last ``popularity_window_days`` days).

    With ``popularity_weight`` > 0 a bought item scores ``h / max_h(user) + popularity_weight * pop``
    (``pop`` scaled into [0, 1)), so that among a user's own items the ones in demand now come first.
    Wholesale customers re-buy, so this is the strongest single signal in task ``all``.
    """

    _state_attrs = ("history_", "popularity_", "n_users_", "n_items_")

    def __init__(self, half_life_days: float | None = 60.0, popularity_window_days: float | None = 90.0,
                 popularity_weight: float = 0.0, random_state: int | None = None) -> None:
        self.half_life_days = half_life_days
        self.popularity_window_days = popularity_window_days
        self.popularity_weight = popularity_weight
        self.random_state = random_state

    def fit(self, interactions: Interactions | sp.spmatrix) -> RepeatPurchase:
        data = as_interactions(interactions)
        history = data.to_csr(weights=data.decay_weights(self.half_life_days))
        if self.popularity_weight:
            per_user_max = history.max(axis=1).toarray().ravel()
            per_user_max[per_user_max <= 0] = 1.0
            history = sp.csr_matrix(sp.diags(1.0 / per_user_max) @ history)
        self.history_ = history
        pop = windowed_buyers(data, self.popularity_window_days)
        ever = windowed_buyers(data, None)
        pop = pop + ever / (ever.max() + 1.0 if ever.size else 1.0)
        # Scaled into [0, 1) so that any bought item (score >= 1) ranks above every other item.
        self.popularity_ = pop / (pop.max() + 1.0 if pop.size else 1.0)
        self.n_users_ = data.n_users
        self.n_items_ = data.n_items
        return self

    @property
    def item_vectors_(self) -> sp.csr_matrix:
        """Items as vectors of their buyers' decayed purchases (for co-purchase similarity)."""
        return sp.csr_matrix(self.history_.T)

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        scores = np.tile(self.popularity_, (user_ids.size, 1))
        hist = user_rows(self.history_, user_ids).tocoo()
        scores[hist.row, hist.col] = 1.0 + hist.data + self.popularity_weight * self.popularity_[hist.col]
        return scores
