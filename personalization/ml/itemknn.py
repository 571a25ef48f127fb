"""Item-based nearest neighbours with cosine similarity."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import Interactions, Recommender, as_interactions, user_rows

# Nonzeros of the item x item gram held at once while computing similarities (about 16 bytes each).
GRAM_BLOCK_NONZEROS = 8_000_000


def _row_blocks(x: sp.csc_matrix, budget: int) -> list[tuple[int, int]]:
    """Consecutive item ranges whose gram rows hold at most ``budget`` nonzeros together (one item at least).

    The bound per item is the sum of the basket sizes of its buyers, capped at the catalogue width.
    """
    n_users, n_items = x.shape
    user_sizes = np.diff(sp.csr_matrix(x).indptr).astype(np.float64)
    bound = np.minimum(np.asarray(x.T @ user_sizes).ravel(), n_items)
    blocks, start, total = [], 0, 0.0
    for i in range(n_items):
        if i > start and total + bound[i] > budget:
            blocks.append((start, i))
            start, total = i, 0.0
        total += bound[i]
    if n_items:
        blocks.append((start, n_items))
    return blocks


def _top_k_per_row(block: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The ``k`` largest entries of each row of a CSR block with sorted indices; ties at the boundary go
    to the lower column."""
    lengths = np.diff(block.indptr)
    keep = np.ones(block.nnz, dtype=bool)
    for r in np.flatnonzero(lengths > k):
        lo, hi = block.indptr[r], block.indptr[r + 1]
        vals = block.data[lo:hi]
        kth = np.partition(vals, vals.size - k)[vals.size - k]  # the k-th largest value
        row_keep = vals > kth
        ties = np.flatnonzero(vals == kth)[:k - int(row_keep.sum())]  # indices are sorted: lowest ids first
        row_keep[ties] = True
        keep[lo:hi] = row_keep
    rows = np.repeat(np.arange(block.shape[0]), lengths)[keep]
    return sp.csr_matrix((block.data[keep], (rows, block.indices[keep])), shape=block.shape)


def cosine_item_similarity(matrix: sp.spmatrix, shrink: float = 0.0, n_neighbors: int | None = None,
                           block_nonzeros: int = GRAM_BLOCK_NONZEROS) -> sp.csr_matrix:
    """Item x item cosine similarity of the columns of a user x item matrix, the diagonal set to zero.

    ``shrink`` damps similarities resting on few co-buyers (``dot / (|a||b| + shrink)``);
    ``n_neighbors`` keeps only each item's strongest neighbours (a row-wise top-k, ties to the lower
    item id). Computed from sparse blocks of the gram ``X'X`` holding at most ``block_nonzeros``
    nonzeros (or one item's row), so memory grows with the co-purchases kept, never with a dense row
    of the catalogue's width.
    """
    if n_neighbors is not None and n_neighbors < 1:
        raise ValueError(f"n_neighbors must be >= 1 or None, not {n_neighbors!r}")
    x = sp.csc_matrix(matrix, dtype=np.float64)
    x.sort_indices()
    n = x.shape[1]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    xt = sp.csr_matrix(x.T)
    rows, cols, vals = [], [], []
    for start, stop in _row_blocks(x, block_nonzeros):
        gram = sp.csr_matrix(xt[start:stop] @ x)
        gram.sort_indices()
        r = np.repeat(np.arange(start, stop), np.diff(gram.indptr))
        gram.data = gram.data / (norms[r] * norms[gram.indices] + shrink + 1e-12)
        gram.data[gram.indices == r] = 0.0  # the diagonal
        gram.eliminate_zeros()
        if n_neighbors is not None:
            gram = _top_k_per_row(gram, n_neighbors)
        coo = gram.tocoo()
        rows.append(coo.row.astype(np.int64) + start)
        cols.append(coo.col.astype(np.int64))
        vals.append(coo.data)
    if not rows:
        return sp.csr_matrix((n, n), dtype=np.float64)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


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
