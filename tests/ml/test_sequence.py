"""The SASRec-style sequence model (personalization/ml/sequence.py) and the hybrid with it as a source."""
from __future__ import annotations

import numpy as np
import pytest

from personalization.ml.base import Interactions, Recommender
from personalization.ml.hybrid import OPTIONAL_SOURCES, HybridRecommender
from personalization.ml.sequence import SequenceRecommender, purchase_sequences
from personalization.ml.toppop import TopPop

from .test_recommender_contract import SMALL_SOURCES, make_interactions

torch = pytest.importorskip("torch")
DAY = 86_400
START = 1_300_000_000


def chains(n_users: int = 300, n_chains: int = 10, seed: int = 0) -> tuple[Interactions, np.ndarray]:
    """Each user walks one chain A -> B -> C -> A ... (three items) from a random start, one item a day; chain
    0 is bought by most users, so popularity favours its items. Returns the data and each user's next item."""
    rng = np.random.default_rng(seed)
    users, items, stamps, following = [], [], [], []
    for u in range(n_users):
        chain = 0 if rng.random() < 0.4 else int(rng.integers(1, n_chains))
        step = int(rng.integers(0, 3))
        for day in range(int(rng.integers(3, 9))):
            users.append(u)
            items.append(chain * 3 + (step + day) % 3)
            stamps.append(START + day * DAY)
        following.append(chain * 3 + (step + day + 1) % 3)
    data = Interactions(np.array(users), np.array(items), n_users, n_chains * 3, timestamps=np.array(stamps))
    return data, np.array(following)


def small(**params: object) -> SequenceRecommender:
    defaults = {"dim": 16, "n_heads": 1, "n_blocks": 1, "epochs": 30, "lr": 0.01, "negatives": 0,
                "num_threads": 1, "random_state": 1}
    return SequenceRecommender(**{**defaults, **params})  # type: ignore[arg-type]


@pytest.mark.parametrize(("negatives", "epochs"), [(0, 30), (8, 100)])  # sampled softmax learns slower
def test_it_learns_a_sequential_pattern_that_popularity_cannot(negatives, epochs):
    data, following = chains()

    model = small(negatives=negatives, epochs=epochs).fit(data)
    popular = TopPop(window_days=30).fit(data)

    users = np.arange(data.n_users)
    seq_hits = (model.recommend(users, n=1)[0][:, 0] == following).mean()
    pop_hits = (popular.recommend(users, n=1)[0][:, 0] == following).mean()
    assert seq_hits >= 0.95
    assert pop_hits <= 0.2


def test_the_same_seed_gives_the_same_model_and_another_seed_another():
    data, _ = chains(n_users=80)

    first = small(epochs=3).fit(data).score(np.arange(20))
    again = small(epochs=3).fit(data).score(np.arange(20))
    other = small(epochs=3, random_state=2).fit(data).score(np.arange(20))

    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_the_vocabulary_holds_only_the_most_bought_items_and_the_others_rank_below_them():
    data, _ = chains(n_users=200)
    counts = np.bincount(data.item_ids, minlength=data.n_items)

    model = small(max_items=5, epochs=2).fit(data)

    expected = np.sort(np.lexsort((np.arange(data.n_items), -counts))[:5])
    np.testing.assert_array_equal(model.vocab_, expected)
    assert tuple(model.network_.items.weight.shape) == (6, 16)  # padding + 5 rows, whatever the catalogue
    scores = model.score(np.arange(data.n_users))
    active = np.diff(model.indptr_) > 0
    outside = np.setdiff1d(np.arange(data.n_items), expected)
    assert (scores[active][:, expected].min(axis=1) > scores[active][:, outside].max(axis=1)).all()


def test_sequences_follow_time_then_item_id_and_skip_items_outside_the_vocabulary():
    data = Interactions(np.array([0, 0, 0, 1, 0]), np.array([3, 1, 2, 0, 4]), 3, 5,
                        timestamps=np.array([20, 10, 10, 5, 30]))
    vocab_of_item = np.array([1, 2, 3, 0, 4])  # item 3 is outside

    indptr, tokens = purchase_sequences(data, vocab_of_item)

    assert indptr.tolist() == [0, 3, 4, 4]
    assert tokens.tolist() == [2, 3, 4, 1]  # user 0: items 1, 2 (same basket, by id), 4; user 1: item 0


def test_the_time_budget_stops_training_after_the_running_epoch(monkeypatch):
    import types

    from personalization.ml import sequence

    # a clock that moves a second each time it is read: the first epoch ends past a 0.5-s budget on any machine
    # (a real 10-ms budget was not reached by a tiny epoch on fast, quiet cores)
    ticks = iter(range(1_000_000))
    monkeypatch.setattr(sequence, "time", types.SimpleNamespace(perf_counter=lambda: float(next(ticks))))
    data, _ = chains(n_users=80)

    model = small(epochs=1_000, max_seconds=0.5).fit(data)

    assert model.epochs_run_ == 1  # the clock read at the start (0 s) and after the first epoch (1 s >= 0.5)


def test_users_without_history_get_a_neutral_row():
    data, _ = chains(n_users=50)
    model = small(epochs=1).fit(data)

    np.testing.assert_array_equal(model.score([data.n_users + 3]), np.zeros((1, data.n_items)))


@pytest.mark.parametrize("params", [{"dim": 15, "n_heads": 2}, {"max_len": 0}, {"negatives": -1},
                                    {"max_seconds": 0}])
def test_bad_settings_are_refused_before_training(params):
    data, _ = chains(n_users=20)

    with pytest.raises(ValueError):
        small(**params).fit(data)


def test_the_hybrid_with_the_sequence_source_trains_end_to_end_and_round_trips(tmp_path):
    data = make_interactions()
    params = {k: v for k, v in OPTIONAL_SOURCES["sequence"]["params"].items() if k != "num_threads"}
    sequence = {**OPTIONAL_SOURCES["sequence"], "candidates": 5, "params": {**params, "dim": 8, "epochs": 2}}
    hybrid = HybridRecommender(task="all", sources={**SMALL_SOURCES, "sequence": sequence}, max_iter=10,
                               min_samples_leaf=5, num_threads=2, label_window_days=20)

    hybrid.fit(data)

    assert {"sequence_score", "sequence_rank", "sequence_rel"} <= set(hybrid.feature_names_.tolist())
    assert isinstance(hybrid.models_["sequence"], SequenceRecommender)
    assert hybrid.models_["sequence"].num_threads == 2  # the hybrid's thread budget, unless the source sets one
    ids, _ = hybrid.recommend(np.arange(10), n=5)
    assert (ids >= 0).all()
    hybrid.save(tmp_path / "hybrid.npz")
    loaded = Recommender.load(tmp_path / "hybrid.npz")
    np.testing.assert_allclose(loaded.score(np.arange(10)), hybrid.score(np.arange(10)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_it_learns_the_pattern_and_auto_picks_the_gpu():
    data, following = chains()

    model = small(device="auto").fit(data)

    assert next(model.network_.parameters()).device.type == "cuda"
    assert (model.recommend(np.arange(data.n_users), n=1)[0][:, 0] == following).mean() >= 0.95
