"""Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) through ``implicit`` on CPU."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import Interactions, Recommender, as_interactions
from .ease import user_item_weights


class ImplicitALS(Recommender):
    """iALS with ``implicit.cpu.als.AlternatingLeastSquares``; confidence ``1 + alpha * x``.

    Deterministic for a given ``random_state``: one thread by default (the conjugate-gradient solver
    run on several threads reorders float sums) and BLAS held to one thread while fitting.
    """

    _state_attrs = ("user_factors_", "item_factors_", "n_users_", "n_items_")

    def __init__(self, factors: int = 64, regularization: float = 0.05, alpha: float = 10.0,
                 iterations: int = 20, half_life_days: float | None = None, num_threads: int = 1,
                 random_state: int | None = 0) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.half_life_days = half_life_days
        self.num_threads = num_threads
        self.random_state = random_state

    def fit(self, interactions: Interactions | sp.spmatrix) -> ImplicitALS:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        data = as_interactions(interactions)
        x = user_item_weights(data, self.half_life_days).astype(np.float32)
        with threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                iterations=self.iterations, num_threads=self.num_threads, random_state=self.random_state,
            )
            model.fit(sp.csr_matrix(x), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)
        self.n_users_ = data.n_users
        self.n_items_ = data.n_items
        return self

    @property
    def item_vectors_(self) -> np.ndarray:
        return self.item_factors_

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        known = user_ids < self.n_users_
        scores = np.zeros((user_ids.size, self.n_items_), dtype=np.float64)
        scores[known] = self.user_factors_[user_ids[known]] @ self.item_factors_.T
        return scores


