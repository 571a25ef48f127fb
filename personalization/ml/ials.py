"""Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) through ``implicit`` on CPU."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from .ann import ANN_MIN_ITEMS, ItemIndex
from .base import Interactions, Recommender, as_interactions, exclusion_matrix, rows_per_block
from .ease import user_item_weights


class ImplicitALS(Recommender):
    """iALS with ``implicit.cpu.als.AlternatingLeastSquares``; confidence ``1 + alpha * x``.

    Deterministic for a given ``random_state``: one thread by default (the conjugate-gradient solver
    run on several threads reorders float sums) and BLAS held to one thread while fitting.
    From ``ann_min_items`` items on (``None``: never), :meth:`recommend` retrieves each user's items
    from an approximate inner-product index (:class:`~.ann.ItemIndex`, built on first use) instead of
    scoring the whole catalogue; ``score`` stays exact.
    """

    _state_attrs = ("user_factors_", "item_factors_", "n_users_", "n_items_")

    def __init__(self, factors: int = 64, regularization: float = 0.05, alpha: float = 10.0,
                 iterations: int = 20, half_life_days: float | None = None, num_threads: int = 1,
                 ann_min_items: int | None = ANN_MIN_ITEMS, random_state: int | None = 0) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.half_life_days = half_life_days
        self.num_threads = num_threads
        self.ann_min_items = ann_min_items
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
        self._index = None
        return self

    @property
    def item_vectors_(self) -> np.ndarray:
        return self.item_factors_

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        known = user_ids < self.n_users_
        scores = np.zeros((user_ids.size, self.n_items_), dtype=np.float64)
        scores[known] = self.user_factors_[user_ids[known]] @ self.item_factors_.T
        return scores

    def uses_ann(self) -> bool:
        """Whether :meth:`recommend` goes through the approximate index (catalogue of ``ann_min_items`` or more)."""
        self._check_fitted()
        return self.ann_min_items is not None and self.n_items_ >= self.ann_min_items

    def recommend(
        self,
        user_ids: Sequence[int] | np.ndarray,
        n: int = 10,
        exclude: sp.spmatrix | Sequence[Iterable[int]] | None = None,
        filter_items: Sequence[int] | np.ndarray | None = None,
        items: Sequence[int] | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`Recommender.recommend`; above ``ann_min_items`` the top items come from the index,
        asked for enough extra items to cover each user's exclusions and the filtered items (an
        ``items`` allow-list, or a filter larger than the catalogue's tenth, scores exactly)."""
        users = np.asarray(user_ids, dtype=np.int64).reshape(-1)
        blocked = np.unique(np.asarray(filter_items if filter_items is not None else [], dtype=np.int64))
        if (not self.uses_ann() or items is not None or n <= 0 or users.size == 0 or users.min() < 0
                or blocked.size > self.n_items_ // 10):
            return super().recommend(users, n, exclude=exclude, filter_items=filter_items, items=items)
        if getattr(self, "_index", None) is None:
            self._index = ItemIndex(self.item_factors_)
        excl = exclusion_matrix(exclude, users, self.n_items_)
        out_ids = np.full((users.size, n), -1, dtype=np.int64)
        out_scores = np.full((users.size, n), -np.inf, dtype=np.float64)
        known = users < self.n_users_
        per_user = np.zeros(users.size, dtype=np.int64) if excl is None else np.diff(excl.indptr)
        batch = rows_per_block(self.n_items_, self.batch_size)
        for start in range(0, users.size, batch):
            stop = min(start + batch, users.size)
            rows = np.arange(start, stop)
            rows = rows[known[rows]]
            if rows.size == 0:
                continue
            k = min(self.n_items_, n + int(per_user[rows].max()) + blocked.size)
            ids, scores = self._index.search(self.user_factors_[users[rows]], k)
            drop = ids < 0
            if blocked.size:
                drop |= np.isin(ids, blocked)
            if excl is not None:
                sub = excl[rows]
                drop |= np.asarray(sub[np.repeat(np.arange(rows.size), k), np.maximum(ids, 0).ravel()]
                                   ).reshape(ids.shape) > 0
            scores = np.where(drop, -np.inf, scores)
            order = np.argsort(-scores, axis=1, kind="stable")[:, :n]
            top = np.take_along_axis(scores, order, axis=1)
            got = np.where(np.isfinite(top), np.take_along_axis(ids, order, axis=1), -1)
            out_ids[rows, :got.shape[1]] = got
            out_scores[rows, :top.shape[1]] = top
        unknown = np.flatnonzero(~known)
        if unknown.size:  # users the model never saw: the exact path (all-zero scores) as before
            rest = None if excl is None else [excl[r].indices for r in unknown]
            got, top = super().recommend(users[unknown], n, exclude=rest, filter_items=filter_items)
            out_ids[unknown], out_scores[unknown] = got, top
        return out_ids, out_scores
