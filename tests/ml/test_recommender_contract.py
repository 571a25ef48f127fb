"""One contract for every recommender in personalization.ml, plus model-specific checks.

No database, no Django: small synthetic purchase histories built here.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from personalization.ml.base import Interactions, ItemFeatures, Recommender, top_n
from personalization.ml.content import ContentBased
from personalization.ml.copurchase import CoPurchase
from personalization.ml.ease import EASE
from personalization.ml.forest import TreeEnsemble
from personalization.ml.hybrid import HybridRecommender, fit_hybrids
from personalization.ml.ials import ImplicitALS
from personalization.ml.itemknn import ItemKNN
from personalization.ml.repeat import RepeatPurchase
from personalization.ml.sequence import SequenceRecommender
from personalization.ml.tifu import TIFUKNN
from personalization.ml.toppop import TopPop
from personalization.ml.vae import MultVAE

DAY = 86_400
N_USERS, N_ITEMS = 60, 40
NOW = 1_300_000_000

SMALL_SOURCES = {
    "repeat": {"model": "RepeatPurchase", "params": {"half_life_days": 30.0}, "candidates": 10},
    "ease": {"model": "EASE", "params": {"lam": 5.0}, "candidates": 10},
    "copurchase": {"model": "CoPurchase", "params": {}, "candidates": 5},
    "content": {"model": "ContentBased", "params": {}, "candidates": 5},
    "pop": {"model": "TopPop", "params": {"window_days": 14.0}, "candidates": 5},
    "tifu": {"model": "TIFUKNN", "params": {"n_groups": 3, "alpha": 1.0}, "candidates": 5},
    "neighbours": {"model": "TIFUKNN", "params": {"n_groups": 3, "n_neighbors": 10, "alpha": 0.0}, "candidates": 5},
}

FACTORIES: dict[str, Callable[[], Recommender]] = {
    "toppop": lambda: TopPop(window_days=30),
    "repeat": lambda: RepeatPurchase(half_life_days=30),
    "repeat_pop": lambda: RepeatPurchase(half_life_days=30, popularity_weight=0.5),
    "itemknn": lambda: ItemKNN(n_neighbors=10, shrink=1.0),
    "ease": lambda: EASE(lam=5.0),
    "ease_decay": lambda: EASE(lam=5.0, half_life_days=30, weighting="latest"),
    "ials": lambda: ImplicitALS(factors=8, iterations=3, random_state=3),
    "content": lambda: ContentBased(),
    "copurchase": lambda: CoPurchase(),
    "tifu": lambda: TIFUKNN(n_groups=3, n_neighbors=10),
    "tifu_personal": lambda: TIFUKNN(n_groups=3, alpha=1.0),
    "multvae": lambda: MultVAE(hidden=16, latent=8, epochs=2, batch_size=16, num_threads=1, random_state=3),
    "sequence": lambda: SequenceRecommender(dim=8, n_heads=1, n_blocks=1, epochs=2, batch_size=16, negatives=8,
                                            num_threads=1, random_state=3),
    "hybrid_all": lambda: HybridRecommender(task="all", sources=SMALL_SOURCES, max_iter=10, min_samples_leaf=5,
                                            num_threads=1, label_window_days=20),
    "hybrid_new": lambda: HybridRecommender(task="new", sources=SMALL_SOURCES, max_iter=10, min_samples_leaf=5,
                                            num_threads=1, label_window_days=20),
}


def make_interactions(seed: int = 0) -> Interactions:
    """Users with a favourite item group each, re-buying over 120 days; item 39 is never bought."""
    rng = np.random.default_rng(seed)
    users, items, stamps = [], [], []
    for u in range(N_USERS):
        group = u % 4
        pool = np.arange(group * 9, group * 9 + 9)
        for _ in range(int(rng.integers(4, 14))):
            users.append(u)
            items.append(int(rng.choice(pool)) if rng.random() < 0.85 else int(rng.integers(0, 36)))
            stamps.append(NOW - int(rng.integers(0, 120 * DAY)))
    names = [f"{['RED', 'BLUE', 'GREEN', 'GOLD'][min(i // 9, 3)]} THING {i}" for i in range(N_ITEMS)]
    names[39] = "RED THING SPECIAL"
    features = ItemFeatures(
        names=names,
        categories=[["Kitchen", "Garden", "Toys", "Party"][min(i // 9, 3)] for i in range(N_ITEMS)],
        prices=np.linspace(0.5, 20.0, N_ITEMS),
    )
    return Interactions(np.array(users), np.array(items), N_USERS, N_ITEMS, timestamps=np.array(stamps),
                        quantities=rng.integers(1, 12, size=len(users)).astype(float), item_features=features,
                        now=NOW)


@pytest.fixture(scope="module")
def data() -> Interactions:
    return make_interactions()


@pytest.fixture(scope="module")
def fitted(data: Interactions) -> dict[str, Recommender]:
    return {name: factory().fit(data) for name, factory in FACTORIES.items()}


MODELS = sorted(FACTORIES)


@pytest.mark.parametrize("name", MODELS)
def test_hyperparameters_live_in_init_and_learned_attributes_end_in_underscore(name: str) -> None:
    # given an unfitted model
    model = FACTORIES[name]()
    # when its parameters are read back
    params = model.get_params()
    # then they are exactly the constructor's arguments, random_state included, and nothing is learned yet
    assert "random_state" in params
    assert FACTORIES[name]().get_params() == params
    assert not [attr for attr in vars(model) if attr.endswith("_")]
    with pytest.raises(RuntimeError, match="not fitted"):
        model.recommend([0], n=3)


@pytest.mark.parametrize("name", MODELS)
def test_fit_returns_self_and_recommend_returns_sorted_unique_lists(name: str, data: Interactions) -> None:
    # given a model
    model = FACTORIES[name]()
    # when it is fitted and asked for 7 items for 5 users
    assert model.fit(data) is model
    ids, scores = model.recommend(np.arange(5), n=7)
    # then each row holds 7 distinct valid items, scores not increasing
    assert ids.shape == (5, 7) and scores.shape == (5, 7)
    assert ids.dtype == np.int64
    assert ((ids >= 0) & (ids < N_ITEMS)).all()
    assert all(len(set(row)) == 7 for row in ids.tolist())
    assert (np.diff(scores, axis=1) <= 1e-12).all()


@pytest.mark.parametrize("name", MODELS)
def test_exclusions_as_matrix_or_per_user_sets_are_honoured(name: str, fitted: dict[str, Recommender],
                                                             data: Interactions) -> None:
    # given a fitted model and each user's purchases
    model = fitted[name]
    seen = data.seen()
    users = np.arange(10)
    # when the purchases are excluded as a matrix, and as per-user sets
    by_matrix, _ = model.recommend(users, n=10, exclude=seen)
    per_user = [set(seen[u].indices.tolist()) for u in users]
    by_sets, _ = model.recommend(users, n=10, exclude=per_user)
    # then no list holds a purchased item, and both forms agree
    for row, bought in zip(by_matrix.tolist(), per_user, strict=True):
        assert not bought.intersection(row)
    np.testing.assert_array_equal(by_matrix, by_sets)


@pytest.mark.parametrize("name", MODELS)
def test_filter_items_and_allowed_items_are_honoured(name: str, fitted: dict[str, Recommender]) -> None:
    # given a fitted model
    model = fitted[name]
    # when items 0-19 are filtered out, and when only items 5, 6, 7 are allowed
    filtered, _ = model.recommend(np.arange(6), n=5, filter_items=np.arange(20))
    allowed, allowed_scores = model.recommend(np.arange(6), n=5, items=[5, 6, 7])
    # then the first never shows 0-19, the second only shows 5-7 and pads with -1 / -inf
    # (a model for new items may have fewer than three left: the user's past purchases never show)
    assert (filtered >= 20).all()
    assert set(allowed.ravel().tolist()) - {-1} <= {5, 6, 7}
    assert (allowed[:, 3:] == -1).all() and np.isneginf(allowed_scores[:, 3:]).all()
    assert ((allowed == -1) == np.isneginf(allowed_scores)).all()


@pytest.mark.parametrize("name", MODELS)
def test_same_random_state_gives_identical_recommendations(name: str, fitted: dict[str, Recommender],
                                                           data: Interactions) -> None:
    # given a second model fitted with the same hyperparameters
    again = FACTORIES[name]().fit(data)
    # when both recommend
    first = fitted[name].recommend(np.arange(N_USERS), n=10)
    second = again.recommend(np.arange(N_USERS), n=10)
    # then the lists are identical
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_allclose(first[1], second[1])


@pytest.mark.parametrize("name", MODELS)
def test_save_then_load_round_trips_recommendations(name: str, fitted: dict[str, Recommender],
                                                    tmp_path: Path) -> None:
    # given a fitted model saved to disk
    model = fitted[name]
    path = model.save(tmp_path / name)
    # when it is loaded through the base class
    loaded = Recommender.load(path)
    # then it is the same class with the same parameters and gives identical lists and similar items
    assert path.suffix == ".npz"
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    meta = Recommender.read_metadata(path)
    assert meta["class"].endswith(type(model).__name__) and "numpy" in meta["versions"]
    before, after = model.recommend(np.arange(N_USERS), n=8), loaded.recommend(np.arange(N_USERS), n=8)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_allclose(before[1], after[1], rtol=1e-6)
    np.testing.assert_array_equal(model.similar_items([0, 10], n=4)[0], loaded.similar_items([0, 10], n=4)[0])


@pytest.mark.parametrize("name", MODELS)
def test_similar_items_never_return_the_item_itself(name: str, fitted: dict[str, Recommender]) -> None:
    # given a fitted model
    model = fitted[name]
    # when asked for items similar to 0, 9 and 18
    ids, scores = model.similar_items([0, 9, 18], n=5)
    # then three rows of up to five other items come back, best first
    assert ids.shape == (3, 5)
    for item, row in zip([0, 9, 18], ids.tolist(), strict=True):
        assert item not in row
    finite = np.where(np.isfinite(scores), scores, -1e300)
    assert (np.diff(finite, axis=1) <= 1e-12).all()


@pytest.mark.parametrize("name", MODELS)
def test_unknown_user_still_gets_a_full_list(name: str, fitted: dict[str, Recommender]) -> None:
    # given a user id past every fitted user
    model = fitted[name]
    # when that user asks for recommendations
    ids, _ = model.recommend([N_USERS + 5], n=4)
    # then a list of four valid items comes back
    assert ((ids >= 0) & (ids < N_ITEMS)).all()


def test_loading_a_saved_ease_as_another_model_class_is_refused(fitted: dict[str, Recommender],
                                                                tmp_path: Path) -> None:
    # given a saved EASE
    path = fitted["ease"].save(tmp_path / "ease.npz")
    # when it is loaded as an ItemKNN
    # then loading fails clearly
    with pytest.raises(TypeError, match="is not a ItemKNN"):
        ItemKNN.load(path)


def test_a_model_outside_personalization_ml_loads_only_through_its_own_class(data: Interactions,
                                                                            tmp_path: Path) -> None:
    # given the served simple blend (it lives in personalization.recommending) saved to disk
    from personalization.recommending.blend import RepeatThenNeighbours

    model = RepeatThenNeighbours().fit(data)
    path = model.save(tmp_path / "simple.npz")
    # when it is loaded by name through the base class, then it is refused
    with pytest.raises(ValueError, match="refusing to load a model of class 'personalization.recommending.blend"):
        Recommender.load(path)
    # when it is loaded through its own class, then it recommends exactly as before
    loaded = RepeatThenNeighbours.load(path)
    before, after = model.recommend(np.arange(N_USERS), n=8), loaded.recommend(np.arange(N_USERS), n=8)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])


# ------------------------------------------------------------------------------------------ specifics
def test_ease_weights_solve_the_constrained_least_squares_equations() -> None:
    # given a tiny binary matrix and lambda = 1
    x = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [1, 1, 1], [1, 0, 0]], dtype=float))
    model = EASE(lam=1.0).fit(x)
    b = model.weights_.astype(float)
    gram = (x.T @ x).toarray()
    # when the stationarity condition ((X'X + lambda I) B)_ij = (X'X)_ij is checked off the diagonal
    lhs = (gram + np.eye(3)) @ b
    off = ~np.eye(3, dtype=bool)
    # then it holds, and the diagonal of B is zero
    np.testing.assert_allclose(lhs[off], gram[off], atol=1e-5)
    np.testing.assert_array_equal(np.diag(b), np.zeros(3))


def test_ease_weights_match_a_hand_computed_two_item_case() -> None:
    # given two items bought together by 2 of 3 users: X'X = [[3, 2], [2, 2]], lambda = 1
    x = sp.csr_matrix(np.array([[1, 1], [1, 1], [1, 0]], dtype=float))
    # when EASE is fitted
    b = EASE(lam=1.0).fit(x).weights_
    # then item 0 predicts item 1 with B_01 = G_01 / (G_00 + lambda) = 2 / 4, and B_10 = 2 / (2 + 1)
    np.testing.assert_allclose(b, [[0.0, 0.5], [2.0 / 3.0, 0.0]], atol=1e-6)


def test_repeat_model_ranks_the_users_own_frequent_item_first() -> None:
    # given a user who bought item 3 four times and item 1 once, while item 0 is the best-seller
    users = np.array([0, 0, 0, 0, 0, 1, 2, 3, 4])
    items = np.array([3, 3, 3, 3, 1, 0, 0, 0, 0])
    stamps = NOW - np.array([1, 10, 20, 30, 2, 1, 1, 1, 1]) * DAY
    data = Interactions(users, items, 5, 5, timestamps=stamps, now=NOW)
    # when the repeat model recommends for that user
    ids, _ = RepeatPurchase(half_life_days=30).fit(data).recommend([0], n=3)
    # then their own items come first (frequent first), then the best-seller
    assert ids[0].tolist() == [3, 1, 0]


def test_repeat_popularity_weight_puts_own_items_in_demand_first() -> None:
    # given a user who bought item 3 twice and item 1 once, item 1 being bought by three others recently
    users = np.array([0, 0, 0, 1, 2, 3])
    items = np.array([3, 3, 1, 1, 1, 1])
    stamps = NOW - np.array([5, 6, 5, 1, 1, 1]) * DAY
    data = Interactions(users, items, 4, 5, timestamps=stamps, now=NOW)
    # when the repeat model ranks without and with a popularity weight
    plain, _ = RepeatPurchase(half_life_days=30).fit(data).recommend([0], n=2)
    weighted, _ = RepeatPurchase(half_life_days=30, popularity_weight=1.0).fit(data).recommend([0], n=2)
    # then the user's own frequent item leads alone, the popular own item leads with the weight
    assert plain[0].tolist() == [3, 1]
    assert weighted[0].tolist() == [1, 3]


def test_toppop_counts_distinct_buyers_within_the_window_only() -> None:
    # given item 0 bought by three users 100 days ago, item 1 by two users yesterday (one of them twice)
    users = np.array([0, 1, 2, 3, 4, 4])
    items = np.array([0, 0, 0, 1, 1, 1])
    stamps = NOW - np.array([100, 100, 100, 1, 1, 2]) * DAY
    data = Interactions(users, items, 5, 3, timestamps=stamps, now=NOW)
    # when TopPop with a 30-day window ranks the items
    ids, scores = TopPop(window_days=30).fit(data).recommend([0], n=3)
    # then item 1 leads on 2 recent buyers, item 0 follows only on the all-time tie-break
    assert ids[0].tolist() == [1, 0, 2]
    assert np.floor(scores[0]).tolist() == [2.0, 0.0, 0.0]


def test_toppop_best_sellers_per_category() -> None:
    # given two categories
    data = make_interactions()
    model = TopPop(window_days=None).fit(data)
    codes, labels = data.item_features.category_codes()
    # when the best-sellers of "Toys" are asked for
    ids, _ = model.best_sellers(n=4, category=labels.index("Toys"))
    # then all four are toys
    assert (codes[ids] == labels.index("Toys")).all()


def test_itemknn_cosine_of_items_with_identical_buyers_is_one() -> None:
    # given items 0 and 1 bought by the same two users, item 2 by one of them
    x = sp.csr_matrix(np.array([[1, 1, 1], [1, 1, 0]], dtype=float))
    # when ItemKNN is fitted without shrink
    sim = ItemKNN(n_neighbors=None).fit(x).similarity_.toarray()
    # then cos(0, 1) = 1 and cos(0, 2) = 1 / sqrt(2)
    np.testing.assert_allclose(sim[0, 1], 1.0)
    np.testing.assert_allclose(sim[0, 2], 1.0 / np.sqrt(2.0))
    assert sim[0, 0] == 0.0


def test_content_model_recommends_an_item_nobody_bought() -> None:
    # given item 39 ("RED THING SPECIAL") that nobody bought, and a user who buys red things
    data = make_interactions()
    model = ContentBased().fit(data)
    # when the content model ranks new items for user 0 (a red-group user)
    ids, _ = model.recommend([0], n=N_ITEMS, exclude=data.seen())
    # then the unbought red item is in the list, ahead of every non-red unbought item
    row = ids[0].tolist()
    assert 39 in row
    non_red = [i for i in row if i >= 9 and i != 39]
    assert row.index(39) < row.index(non_red[0])


def test_copurchase_similar_items_are_the_ones_sharing_baskets() -> None:
    # given items 0 and 1 always bought in the same basket, item 2 alone
    users = np.array([0, 0, 1, 1, 2])
    items = np.array([0, 1, 0, 1, 2])
    stamps = np.full(5, NOW)
    data = Interactions(users, items, 3, 3, timestamps=stamps)
    # when "bought together" is asked for item 0
    ids, scores = CoPurchase(shrink=0.0).fit(data).similar_items([0], n=1)
    # then it is item 1, with P(1 | 0) = 1
    assert ids[0].tolist() == [1]
    np.testing.assert_allclose(scores[0], [1.0])


def test_tree_ensemble_predicts_like_scikit_learn() -> None:
    # given a boosted classifier trained on data with missing values
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.random((400, 4))
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0.8).astype(int)
    x[::7, 3] = np.nan
    classifier = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(x, y)
    # when its trees are exported to arrays and round-tripped, and walked compiled or in numpy
    forest = TreeEnsemble.from_arrays(TreeEnsemble.from_hist_gradient_boosting(classifier).to_arrays())
    compiled = forest.predict_proba(x)
    plain = TreeEnsemble.from_arrays(forest.to_arrays())
    object.__setattr__(plain, "_compiled", [])  # as if scikit-learn's private tree walker were gone
    # then both give scikit-learn's probabilities
    expected = classifier.predict_proba(x)[:, 1]
    np.testing.assert_allclose(compiled, expected, rtol=1e-9)
    np.testing.assert_allclose(plain.predict_proba(x), expected, rtol=1e-9)


def test_hybrid_for_new_items_never_returns_a_past_purchase(fitted: dict[str, Recommender],
                                                            data: Interactions) -> None:
    # given the hybrid fitted for task "new"
    model = fitted["hybrid_new"]
    # when it recommends without an explicit exclusion
    ids, _ = model.recommend(np.arange(N_USERS), n=10)
    # then no list contains something the user bought
    seen = data.seen()
    for u, row in enumerate(ids.tolist()):
        assert not set(seen[u].indices.tolist()).intersection(row)


def test_hybrids_fitted_together_equal_hybrids_fitted_alone(fitted: dict[str, Recommender],
                                                            data: Interactions) -> None:
    # given both tasks' hybrids fitted in one pass that shares the candidate models
    together = fit_hybrids(data, [FACTORIES["hybrid_all"](), FACTORIES["hybrid_new"]()])
    # when they recommend
    # then each gives exactly what the same hybrid fitted alone gives
    for hybrid, name in zip(together, ["hybrid_all", "hybrid_new"], strict=True):
        alone = fitted[name].recommend(np.arange(N_USERS), n=10)
        shared = hybrid.recommend(np.arange(N_USERS), n=10)
        np.testing.assert_array_equal(shared[0], alone[0])
        np.testing.assert_allclose(shared[1], alone[1])


def test_hybrid_asks_sources_for_more_candidates_than_there_are_items(data: Interactions) -> None:
    # given a hybrid whose sources each propose 100 candidates from a 40-item catalogue
    sources = {name: {**spec, "candidates": 100} for name, spec in SMALL_SOURCES.items()}
    model = HybridRecommender(sources=sources, max_iter=5, min_samples_leaf=5, label_window_days=20)
    # when it is fitted and recommends
    ids, _ = model.fit(data).recommend([0, 1], n=N_ITEMS)
    # then every item is ranked once
    assert sorted(ids[0].tolist()) == list(range(N_ITEMS))


def test_hybrids_fitted_together_must_share_their_sources(data: Interactions) -> None:
    # given two hybrids with different candidate models
    other = HybridRecommender(task="new", sources={"pop": {"model": "TopPop", "params": {}, "candidates": 5}})
    # when they are fitted together
    # then it is refused
    with pytest.raises(ValueError, match="must share 'sources'"):
        fit_hybrids(data, [FACTORIES["hybrid_all"](), other])


def test_top_n_breaks_ties_by_lower_item_id_and_pads() -> None:
    # given scores with ties and a -inf
    scores = np.array([[1.0, 3.0, 3.0, -np.inf]])
    # when the top 5 are taken
    ids, vals = top_n(scores, 5)
    # then ties keep id order and missing places are -1 / -inf
    assert ids.tolist() == [[1, 2, 0, -1, -1]]
    assert vals[0, :3].tolist() == [3.0, 3.0, 1.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"user_ids": [0, 5], "item_ids": [0, 1]}, "user ids must lie"),
        ({"user_ids": [0, 1], "item_ids": [0, 9]}, "item ids must lie"),
        ({"user_ids": [0, 1], "item_ids": [0]}, "same length"),
        ({"user_ids": [0, 1], "item_ids": [0, 1], "timestamps": [1]}, "aligned"),
    ],
)
def test_interactions_reject_inconsistent_input(kwargs: dict, message: str) -> None:
    # given arrays that do not fit the declared id spaces
    # when Interactions is built
    # then it refuses with a clear message
    with pytest.raises(ValueError, match=message):
        Interactions(n_users=3, n_items=3, **{k: np.array(v) for k, v in kwargs.items()})


@pytest.mark.parametrize(
    "now",
    [np.datetime64("2011-01-01T00:00:00"), "pandas", 1_293_840_000],
)
def test_interactions_now_accepts_datetimes_and_seconds(now: object) -> None:
    # given a reference time as numpy datetime64, pandas Timestamp, or int seconds
    import pandas as pd

    value = pd.Timestamp("2011-01-01") if now == "pandas" else now
    # when Interactions is built
    data = Interactions(np.array([0]), np.array([0]), 1, 1, timestamps=np.array([1_293_753_600]), now=value)
    # then now is int seconds and ages are measured from it
    assert data.now == 1_293_840_000
    np.testing.assert_allclose(data.age_days(), [1.0])
