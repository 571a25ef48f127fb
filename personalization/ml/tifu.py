"""TIFU-KNN (Hu et al., SIGIR 2020): time-decayed personal item frequencies plus the user's neighbours.

Each user's baskets (one per distinct purchase time) are taken in time order and split into at most
``n_groups`` consecutive groups of near-equal size. A group's vector is the mean of its baskets'
binary item vectors, the j-th of ``n`` baskets weighted ``within_decay ** (n - 1 - j)``; the user's
personal vector sums the group vectors, the i-th of ``g`` groups weighted ``group_decay ** (g - 1 - i)``.
A user's score vector is ``alpha * own + (1 - alpha) * mean of the n_neighbors nearest users' vectors``
(cosine on the personal vectors, self excluded).

Everything stays sparse: the neighbours are found for a block of users at a time (a ``block x users``
similarity block, never ``users x users``) and kept as a sparse ``users x users`` matrix of
``1 / n_neighbors`` weights, so a score block is ``alpha * V[block] + (1 - alpha) * N[block] @ V``.
``alpha=1`` is the personal-frequency model alone (no neighbours are searched); ``alpha=0`` scores by
the neighbours only (the user-neighbour source of the hybrid).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import Interactions, Recommender, as_interactions, user_rows


def personal_vectors(data: Interactions, n_groups: int, within_decay: float, group_decay: float) -> sp.csr_matrix:
    """The users x items matrix of TIFU personal vectors (see the module docstring)."""
    if n_groups < 1:
        raise ValueError("n_groups must be >= 1")
    if not (0.0 < within_decay <= 1.0 and 0.0 < group_decay <= 1.0):
        raise ValueError("within_decay and group_decay must lie in (0, 1]")
    stamps = data.timestamps if data.timestamps is not None else np.zeros(len(data), dtype=np.int64)
    # Basket = (user, purchase time); one entry per (basket, item).
    order = np.lexsort((data.item_ids, stamps, data.user_ids))
    users, stamps_s, items = data.user_ids[order], stamps[order], data.item_ids[order]
    if users.size == 0:
        return sp.csr_matrix((data.n_users, data.n_items))
    new_line = np.ones(users.size, dtype=bool)
    new_line[1:] = (users[1:] != users[:-1]) | (stamps_s[1:] != stamps_s[:-1]) | (items[1:] != items[:-1])
    users, stamps_s, items = users[new_line], stamps_s[new_line], items[new_line]
    new_basket = np.ones(users.size, dtype=bool)
    new_basket[1:] = (users[1:] != users[:-1]) | (stamps_s[1:] != stamps_s[:-1])
    basket = np.cumsum(new_basket) - 1                      # global basket id per line
    basket_user = users[new_basket]
    n_baskets_user = np.bincount(basket_user, minlength=data.n_users)
    first_basket = np.concatenate([[0], np.cumsum(n_baskets_user)])[basket_user]
    b_index = np.arange(basket_user.size) - first_basket    # basket position within its user, 0-based
    b_count = n_baskets_user[basket_user]
    g_count = np.minimum(n_groups, b_count)
    group = (b_index * g_count) // b_count                  # near-equal consecutive groups
    # Group start = ceil(group * B / g); its size = next start - start.
    start = -((-group * b_count) // g_count)
    stop = -((-(group + 1) * b_count) // g_count)
    size = stop - start
    weight = (within_decay ** (stop - 1 - b_index).astype(np.float64)) / size \
        * group_decay ** (g_count - 1 - group).astype(np.float64)
    vectors = sp.csr_matrix((weight[basket], (users, items)), shape=(data.n_users, data.n_items))
    vectors.sum_duplicates()
    return vectors


def neighbour_weights(vectors: sp.csr_matrix, n_neighbors: int, block: int = 512) -> sp.csr_matrix:
    """Sparse users x users matrix: ``1 / k`` for each of a user's ``k`` most cosine-similar users.

    Users without history get no neighbours (an empty row); a user with fewer than ``n_neighbors``
    similar users (similarity > 0) averages over those it has.
    """
    n_users = vectors.shape[0]
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    inv = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
    unit = sp.csr_matrix(sp.diags(inv) @ vectors)
    unit_t = sp.csr_matrix(unit.T)
    k = int(min(n_neighbors, max(n_users - 1, 0)))
    rows, cols, vals = [], [], []
    if k <= 0:
        return sp.csr_matrix((n_users, n_users))
    for lo in range(0, n_users, block):
        hi = min(lo + block, n_users)
        sims = (unit[lo:hi] @ unit_t).toarray()
        sims[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf   # never one's own neighbour
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1)
        ok = top_sims > 0
        count = ok.sum(axis=1)
        r = np.repeat(np.arange(lo, hi), k).reshape(hi - lo, k)[ok]
        rows.append(r)
        cols.append(top[ok])
        vals.append((1.0 / np.maximum(count, 1))[r - lo])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n_users, n_users))


class TIFUKNN(Recommender):
    """TIFU-KNN; defaults are PROTOCOL §1's anchor setting (groups 7, within 0.9, group 0.6, k 300, α 0.5)."""

    _state_attrs = ("vectors_", "neighbours_", "n_users_", "n_items_")

    def __init__(self, n_groups: int = 7, within_decay: float = 0.9, group_decay: float = 0.6,
                 n_neighbors: int = 300, alpha: float = 0.5, random_state: int | None = None) -> None:
        self.n_groups = n_groups
        self.within_decay = within_decay
        self.group_decay = group_decay
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, interactions: Interactions | sp.spmatrix) -> TIFUKNN:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError("alpha must lie in [0, 1]")
        if self.alpha < 1.0 and self.n_neighbors < 1:
            raise ValueError("n_neighbors must be >= 1 when alpha < 1")
        data = as_interactions(interactions)
        self.vectors_ = personal_vectors(data, int(self.n_groups), float(self.within_decay),
                                         float(self.group_decay))
        self.neighbours_ = (neighbour_weights(self.vectors_, int(self.n_neighbors)) if self.alpha < 1.0
                            else None)
        self.n_users_ = data.n_users
        self.n_items_ = data.n_items
        return self

    @property
    def item_vectors_(self) -> sp.csr_matrix:
        """Items as vectors of their buyers' personal weights (for item similarity)."""
        return sp.csr_matrix(self.vectors_.T)

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        scores = np.zeros((user_ids.size, self.n_items_))
        if self.alpha > 0.0:
            own = user_rows(self.vectors_, user_ids).tocoo()
            scores[own.row, own.col] = self.alpha * own.data
        if self.neighbours_ is not None and self.alpha < 1.0:
            scores += (1.0 - self.alpha) * (user_rows(self.neighbours_, user_ids) @ self.vectors_).toarray()
        return scores
