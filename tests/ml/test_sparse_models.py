"""Memory-bounded recommenders (issue #18): sparse item neighbours, EASE on a bounded vocabulary,
score blocks that shrink as the catalogue grows, approximate neighbours for item factors.

No database: synthetic purchases built here; the references are the dense computations they replace.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from personalization.ml import base
from personalization.ml.base import Interactions, Recommender
from personalization.ml.ease import EASE, bounded_vocabulary
from personalization.ml.itemknn import ItemKNN, cosine_item_similarity


def purchases(n_users: int = 300, n_items: int = 120, seed: int = 0) -> sp.csr_matrix:
    """Binary user x item matrix with a popular head and a long tail (integer-valued gram, few ties)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1) ** 0.8
    weights /= weights.sum()
    rows, cols = [], []
    for u in range(n_users):
        k = int(rng.integers(1, 12))
        rows += [u] * k
        cols += list(rng.choice(n_items, size=k, p=weights))
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))
    m.data[:] = 1.0
    return m


def dense_cosine(matrix: sp.spmatrix, shrink: float = 0.0) -> np.ndarray:
    """The dense computation the sparse one replaces (catalogue-width rows), diagonal zero."""
    x = sp.csc_matrix(matrix, dtype=np.float64)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    dense = (x.T @ x).toarray()
    dense /= np.outer(norms, norms) + shrink + 1e-12
    np.fill_diagonal(dense, 0.0)
    return dense


@pytest.mark.parametrize("shrink", [0.0, 5.0])
def test_sparse_cosine_equals_dense_without_pruning(shrink: float) -> None:
    x = purchases()
    sparse = cosine_item_similarity(x, shrink=shrink).toarray()
    np.testing.assert_array_equal(sparse, dense_cosine(x, shrink))


@pytest.mark.parametrize("block_nonzeros", [1, 50, 10_000_000])
def test_sparse_cosine_top_k_keeps_each_rows_largest(block_nonzeros: int) -> None:
    x = purchases(seed=1)
    k = 7
    dense = dense_cosine(x, 2.0)
    sim = cosine_item_similarity(x, shrink=2.0, n_neighbors=k, block_nonzeros=block_nonzeros)
    assert sim.shape == dense.shape
    for i in range(dense.shape[0]):
        row = dense[i]
        nonzero = np.flatnonzero(row)
        lo, hi = sim.indptr[i], sim.indptr[i + 1]
        assert hi - lo == min(k, nonzero.size)
        # The kept values are the k largest (ties at the boundary go to the lower item id) ...
        expected = nonzero[np.lexsort((nonzero, -row[nonzero]))][:k]
        np.testing.assert_array_equal(np.sort(sim.indices[lo:hi]), np.sort(expected))
        # ... with exactly the dense values.
        np.testing.assert_array_equal(sim.data[lo:hi], row[sim.indices[lo:hi]])


def test_sparse_cosine_blocks_change_nothing() -> None:
    x = purchases(seed=2)
    whole = cosine_item_similarity(x, n_neighbors=5)
    tiny = cosine_item_similarity(x, n_neighbors=5, block_nonzeros=1)
    assert (whole != tiny).nnz == 0


def test_sparse_cosine_empty_items_and_catalogue() -> None:
    x = purchases(n_items=30)
    x = sp.hstack([x, sp.csr_matrix((x.shape[0], 3))], format="csr")  # three items nobody bought
    sim = cosine_item_similarity(x, n_neighbors=4)
    assert sim.shape == (33, 33)
    assert sim[30:].nnz == 0 and sim[:, 30:].nnz == 0
    assert cosine_item_similarity(sp.csr_matrix((5, 0))).shape == (0, 0)


def test_itemknn_recommendations_match_dense_similarity() -> None:
    x = purchases(seed=3)
    model = ItemKNN(n_neighbors=None).fit(x)
    dense = dense_cosine(x)
    users = np.arange(40)
    np.testing.assert_allclose(model.score(users), x[users].toarray() @ dense, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- EASE, bounded vocabulary
def test_ease_vocabulary_at_least_the_catalogue_is_the_full_model() -> None:
    x = purchases(seed=4)
    full = EASE(lam=10.0, max_items=None).fit(x)
    bounded = EASE(lam=10.0, max_items=x.shape[1]).fit(x)
    assert bounded.vocabulary_ is None
    np.testing.assert_array_equal(full.score(np.arange(50)), bounded.score(np.arange(50)))


def test_ease_bounded_vocabulary_is_the_most_bought_items() -> None:
    x = purchases(seed=5)
    buyers = np.asarray(x.sum(axis=0)).ravel()
    vocab = bounded_vocabulary(x, 20)
    assert vocab.size == 20 and np.all(np.diff(vocab) > 0)
    outside = np.setdiff1d(np.arange(x.shape[1]), vocab)
    assert buyers[vocab].min() >= buyers[outside].max()

    model = EASE(lam=10.0, max_items=20).fit(x)
    np.testing.assert_array_equal(model.vocabulary_, vocab)
    assert model.weights_.shape == (20, 20)
    # Inside the vocabulary: exactly EASE fitted on those columns; outside: 0.
    sub = EASE(lam=10.0, max_items=None).fit(sp.csr_matrix(x[:, vocab]))
    users = np.arange(60)
    scores = model.score(users)
    np.testing.assert_array_equal(scores[:, vocab], sub.score(users))
    assert not scores[:, outside].any()
    similar = model._similar_scores(np.array([vocab[0], outside[0]]))
    np.testing.assert_array_equal(similar[0, vocab], sub._similar_scores(np.array([0]))[0])
    assert not similar[1].any()


def test_ease_bounded_round_trips(tmp_path) -> None:
    x = purchases(seed=6)
    model = EASE(lam=10.0, max_items=25).fit(x)
    loaded = Recommender.load(model.save(tmp_path / "ease"))
    np.testing.assert_array_equal(loaded.vocabulary_, model.vocabulary_)
    np.testing.assert_array_equal(loaded.recommend(np.arange(30), n=10)[0], model.recommend(np.arange(30), n=10)[0])


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "100"])
def test_ease_rejects_bad_vocabulary_bound(bad) -> None:
    with pytest.raises(ValueError, match="max_items"):
        EASE(max_items=bad).fit(purchases())


# --------------------------------------------------------------------------- score blocks
def test_rows_per_block_shrinks_with_the_catalogue() -> None:
    assert base.rows_per_block(1_000, 512) == 512
    assert base.rows_per_block(100_000, 512) == base.SCORE_BLOCK_CELLS // 100_000
    assert base.rows_per_block(10 * base.SCORE_BLOCK_CELLS, 512) == 1


def test_recommend_and_similar_items_do_not_depend_on_block_size(monkeypatch) -> None:
    x = purchases(seed=7)
    model = ItemKNN(n_neighbors=20).fit(x)
    users, items = np.arange(100), np.arange(x.shape[1])
    before = model.recommend(users, n=15, exclude=x), model.similar_items(items, n=8)
    monkeypatch.setattr(base, "SCORE_BLOCK_CELLS", 3 * x.shape[1])  # three rows per block
    after = model.recommend(users, n=15, exclude=x), model.similar_items(items, n=8)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_recommend_interactions_still_accepted() -> None:
    x = purchases(seed=8)
    coo = x.tocoo()
    data = Interactions(coo.row, coo.col, x.shape[0], x.shape[1])
    ids, _ = EASE(lam=10.0, max_items=30).fit(data).recommend(np.arange(10), n=5, exclude=x)
    assert ids.shape == (10, 5)


# --------------------------------------------------------------------------- approximate neighbours
def clustered_vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    scale = rng.lognormal(0.0, 0.3, size=(n, 1))
    return ((centres[rng.integers(0, 20, n)] + 0.5 * rng.normal(size=(n, dim))) * scale).astype(np.float32)


def test_item_index_recall_against_exact_inner_product() -> None:
    from personalization.ml.ann import ItemIndex

    items, queries = clustered_vectors(3_000), clustered_vectors(200, seed=1)
    ids, scores = ItemIndex(items).search(queries, 20)
    exact = np.argsort(-(queries @ items.T), axis=1, kind="stable")[:, :20]
    recall = np.mean([np.intersect1d(a, b).size / 20 for a, b in zip(ids, exact, strict=True)])
    assert recall >= 0.95
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ items.T, ids, axis=1), rtol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 0)
    again, _ = ItemIndex(items).search(queries, 20)  # built on one thread: the same graph every time
    np.testing.assert_array_equal(ids, again)
    more, _ = ItemIndex(items[:5]).search(queries[:3], 8)  # more asked for than there are items: padded
    assert np.all(more[:, 5:] == -1) and sorted(more[0, :5]) == list(range(5))


def test_item_index_rejects_bad_input() -> None:
    from personalization.ml.ann import ItemIndex

    with pytest.raises(ValueError, match="non-empty"):
        ItemIndex(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="columns"):
        ItemIndex(clustered_vectors(10)).search(np.zeros((2, 3)), 5)


def test_ials_recommend_through_the_index_matches_exact() -> None:
    from personalization.ml.ials import ImplicitALS

    x = purchases(n_users=400, n_items=300, seed=9)
    exact = ImplicitALS(factors=8, iterations=3, random_state=1, ann_min_items=None).fit(x)
    approx = ImplicitALS(factors=8, iterations=3, random_state=1, ann_min_items=100).fit(x)
    assert approx.uses_ann() and not exact.uses_ann()
    users = np.r_[np.arange(0, 400, 4), 500]  # 500: a user the model never saw
    blocked = np.arange(0, 300, 17)
    a_ids, a_scores = approx.recommend(users, n=10, exclude=x, filter_items=blocked)
    e_ids, e_scores = exact.recommend(users, n=10, exclude=x, filter_items=blocked)
    seen = x.tolil().rows
    for u, row in zip(users, a_ids, strict=True):
        assert not set(row) & set(blocked)
        if u < x.shape[0]:
            assert not set(row) & set(seen[u])
    overlap = np.mean([np.intersect1d(a, b).size / 10 for a, b in zip(a_ids, e_ids, strict=True)])
    assert overlap >= 0.95
    np.testing.assert_array_equal(a_ids[-1], e_ids[-1])
    # An allow-list takes the exact path.
    np.testing.assert_array_equal(approx.recommend(users, n=5, items=np.arange(50))[0],
                                  exact.recommend(users, n=5, items=np.arange(50))[0])


def test_sparse_cosine_rejects_no_neighbours() -> None:
    with pytest.raises(ValueError, match="n_neighbors"):
        cosine_item_similarity(purchases(), n_neighbors=0)
