"""TIFU-KNN (personalization.ml.tifu): the personal vectors, the sparse neighbours, and the hybrid's two sources.

No database, no Django: small synthetic purchase histories built here.
"""
from __future__ import annotations

import numpy as np
import pytest

from personalization.ml.base import Interactions, Recommender
from personalization.ml.hybrid import DEFAULT_SOURCES, HybridRecommender
from personalization.ml.tifu import TIFUKNN, neighbour_weights, personal_vectors

N_USERS, N_ITEMS = 25, 15


def random_history(seed: int = 0, n: int = 500) -> Interactions:
    rng = np.random.default_rng(seed)
    return Interactions(rng.integers(0, N_USERS - 1, n), rng.integers(0, N_ITEMS, n), N_USERS, N_ITEMS,
                        timestamps=rng.integers(0, 40, n) * 86_400)


def naive_vector(data: Interactions, user: int, groups: int, within: float, across: float) -> np.ndarray:
    """The paper's definition, one basket at a time."""
    mine = data.user_ids == user
    times = sorted(set(data.timestamps[mine].tolist()))
    vector = np.zeros(data.n_items)
    if not times:
        return vector
    g = min(groups, len(times))
    bounds = [-(-k * len(times) // g) for k in range(g + 1)]
    for i in range(g):
        baskets = times[bounds[i]:bounds[i + 1]]
        group = np.zeros(data.n_items)
        for j, stamp in enumerate(baskets):
            basket = np.zeros(data.n_items)
            basket[np.unique(data.item_ids[mine & (data.timestamps == stamp)])] = 1.0
            group += within ** (len(baskets) - 1 - j) * basket
        vector += across ** (g - 1 - i) * group / len(baskets)
    return vector


def test_personal_vectors_follow_the_papers_grouped_decays() -> None:
    data = random_history()
    vectors = personal_vectors(data, 3, 0.8, 0.5).toarray()
    for user in range(N_USERS):
        np.testing.assert_allclose(vectors[user], naive_vector(data, user, 3, 0.8, 0.5), atol=1e-12)
    assert not vectors[N_USERS - 1].any()  # a user without purchases has an empty vector


def test_the_latest_basket_weighs_most() -> None:
    # One user, three baskets of one item each, one group: weights 0.9², 0.9, 1 over 3.
    data = Interactions([0, 0, 0], [0, 1, 2], 1, 3, timestamps=[10, 20, 30])
    np.testing.assert_allclose(personal_vectors(data, 1, 0.9, 0.6).toarray()[0], [0.81 / 3, 0.9 / 3, 1 / 3])
    # Three groups of one basket: group decay 0.6², 0.6, 1.
    np.testing.assert_allclose(personal_vectors(data, 3, 0.9, 0.6).toarray()[0], [0.36, 0.6, 1.0])


def test_neighbours_are_the_top_k_by_cosine_never_oneself() -> None:
    vectors = personal_vectors(random_history(1), 3, 0.9, 0.6)
    weights = neighbour_weights(vectors, 5, block=7)  # several blocks
    dense = vectors.toarray()
    norms = np.linalg.norm(dense, axis=1)
    cos = dense @ dense.T / np.outer(np.where(norms > 0, norms, 1), np.where(norms > 0, norms, 1))
    np.fill_diagonal(cos, -np.inf)
    for user in range(N_USERS - 1):
        row = weights.getrow(user)
        assert row.nnz == 5 and user not in row.indices
        np.testing.assert_allclose(row.data, 0.2)
        kth = np.sort(cos[user])[-5]
        assert (cos[user, row.indices] >= kth - 1e-12).all()
    assert weights.getrow(N_USERS - 1).nnz == 0  # no history, no neighbours


def test_score_blends_own_vector_and_neighbour_mean() -> None:
    data = random_history(2)
    model = TIFUKNN(n_groups=3, n_neighbors=4, alpha=0.3).fit(data)
    users = np.arange(N_USERS)
    expected = 0.3 * model.vectors_.toarray() + 0.7 * (model.neighbours_ @ model.vectors_).toarray()
    np.testing.assert_allclose(model.score(users), expected)
    personal = TIFUKNN(n_groups=3, alpha=1.0).fit(data)
    assert personal.neighbours_ is None
    np.testing.assert_allclose(personal.score(users), model.vectors_.toarray())


@pytest.mark.parametrize("params", [{"alpha": 1.5}, {"n_groups": 0}, {"within_decay": 0.0},
                                    {"alpha": 0.5, "n_neighbors": 0}])
def test_bad_settings_are_refused(params: dict) -> None:
    with pytest.raises(ValueError):
        TIFUKNN(**params).fit(random_history())


def test_hybrid_serves_both_tifu_sources_and_restores_them(tmp_path) -> None:
    rng = np.random.default_rng(3)
    n = 3000
    users = rng.integers(0, 60, n)
    items = ((users % 6) * 5 + rng.integers(0, 8, n)) % 30  # user groups prefer item groups
    stamps = 1_300_000_000 - rng.integers(0, 120, n) * 86_400
    data = Interactions(users, items, 60, 30, timestamps=stamps, now=1_300_000_000 + 86_400)
    assert DEFAULT_SOURCES["tifu"]["model"] == DEFAULT_SOURCES["neighbours"]["model"] == "TIFUKNN"
    sources = {name: {**DEFAULT_SOURCES[name], "candidates": 10} for name in ("tifu", "neighbours")}
    sources["neighbours"]["params"] = {**sources["neighbours"]["params"], "n_neighbors": 10}
    hybrid = HybridRecommender(task="all", sources=sources, max_iter=10, min_samples_leaf=5,
                               label_window_days=20).fit(data)
    names = hybrid.feature_names_.tolist()
    assert {"tifu_score", "tifu_rank", "neighbours_score", "neighbours_rel"} <= set(names)
    assert hybrid.models_["neighbours"].neighbours_ is not None
    restored = Recommender.load(hybrid.save(tmp_path / "hybrid"))
    assert isinstance(restored.models_["tifu"], TIFUKNN)
    ids = np.arange(60)
    np.testing.assert_array_equal(restored.recommend(ids, n=10)[0], hybrid.recommend(ids, n=10)[0])
