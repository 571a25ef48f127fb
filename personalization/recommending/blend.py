"""The simple served model: the customer's own re-purchases first, then item-to-item neighbours.

Django-free (numpy / scipy only); it belongs in ``personalization.ml`` and lives here until the models'
owner takes it over. It wraps two fitted ``personalization.ml`` models and saves them with prefixes.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..ml.base import Interactions, Recommender, as_interactions
from ..ml.itemknn import ItemKNN
from ..ml.repeat import RepeatPurchase


class RepeatThenNeighbours(Recommender):
    """Items the user bought (``RepeatPurchase``, scores >= 1) rank first; the rest by ``ItemKNN``
    scores squashed into [0, 0.5) plus recent popularity squashed into [0, 0.5) (ties and users with
    no neighbours)."""

    _state_attrs = ("n_users_", "n_items_")

    def __init__(self, half_life_days: float | None = 60.0, n_neighbors: int | None = 100,
                 popularity_window_days: float | None = 90.0, random_state: int | None = None) -> None:
        self.half_life_days = half_life_days
        self.n_neighbors = n_neighbors
        self.popularity_window_days = popularity_window_days
        self.random_state = random_state

    def fit(self, interactions: Interactions | sp.spmatrix) -> RepeatThenNeighbours:
        data = as_interactions(interactions)
        self.repeat_ = RepeatPurchase(half_life_days=self.half_life_days,
                                      popularity_window_days=self.popularity_window_days).fit(data)
        self.knn_ = ItemKNN(n_neighbors=self.n_neighbors, half_life_days=self.half_life_days).fit(data)
        self.n_users_, self.n_items_ = data.n_users, data.n_items
        return self

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        repeat = self.repeat_.score(user_ids)
        knn = np.asarray(self.knn_.score(user_ids), dtype=np.float64)
        top = knn.max(axis=1, keepdims=True)
        top[top <= 0] = 1.0
        blended = 0.5 * np.clip(knn, 0, None) / top * 0.999 + 0.5 * self.repeat_.popularity_[None, :]
        return np.where(repeat >= 1.0, repeat, blended)

    def _similar_scores(self, item_ids: np.ndarray) -> np.ndarray:
        return self.knn_._similar_scores(item_ids)

    def _extra_state(self) -> dict[str, np.ndarray]:
        arrays = {f"repeat/{k}": v for k, v in self.repeat_.to_arrays().items()}
        arrays.update({f"knn/{k}": v for k, v in self.knn_.to_arrays().items()})
        return arrays

    def _restore_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.repeat_ = RepeatPurchase.from_arrays({k[7:]: v for k, v in arrays.items() if k.startswith("repeat/")})
        self.knn_ = ItemKNN.from_arrays({k[4:]: v for k, v in arrays.items() if k.startswith("knn/")})
