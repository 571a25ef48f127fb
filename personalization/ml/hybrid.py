"""The served recommender: candidates from several models, re-ranked by gradient-boosted trees.

Fitting on interactions up to ``now`` works in two passes, so that the ranker never sees its own
evaluation window:

1. Label pass: for each of ``label_windows`` consecutive windows of ``label_window_days`` ending at
   ``now``, the candidate models are fitted on the data before the window, candidates and features are
   built for the users who buy in the window, and a pair is labelled positive when the user buys the
   item in the window (task ``new``: buys it for the first time). A
   ``HistGradientBoostingClassifier`` learns from these rows.
2. Serving pass: the candidate models are refitted on all the data; :meth:`recommend` builds the same
   features at ``now`` and ranks each user's candidates by the classifier's probability. Items outside
   the candidates follow, by recent popularity.

The trees are exported to plain arrays (:class:`~.forest.TreeEnsemble`), so the whole hybrid saves to
one ``.npz`` without pickle. :func:`fit_hybrids` fits the hybrids of both tasks in one pass, sharing the
candidate models.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .base import SECONDS_PER_DAY, Interactions, Recommender, as_interactions, rows_per_block, user_rows
from .content import ContentBased
from .copurchase import CoPurchase
from .ease import EASE
from .features import BASE_FEATURES, FeatureContext
from .forest import TreeEnsemble
from .ials import ImplicitALS
from .itemknn import ItemKNN
from .repeat import RepeatPurchase
from .sequence import SequenceRecommender
from .tifu import TIFUKNN
from .toppop import TopPop

MODEL_CLASSES: dict[str, type[Recommender]] = {
    cls.__name__: cls for cls in (RepeatPurchase, EASE, ItemKNN, CoPurchase, ContentBased, TopPop, ImplicitALS,
                                  TIFUKNN, SequenceRecommender)
}

# name -> {"model": class name, "params": hyperparameters, "candidates": how many top items it proposes}.
# The hyperparameters are the ones bench/recommenders.py picked on the validation split (see RESULTS.md);
# both EASE weightings are kept because the re-purchase task and the new-item task prefer different ones.
# "tifu" is TIFU-KNN's personal-frequency vector alone (alpha 1), "neighbours" the mean vector of the user's
# nearest users alone (alpha 0): the ranker weighs the two itself.
DEFAULT_SOURCES: dict[str, dict[str, Any]] = {
    "repeat": {"model": "RepeatPurchase", "params": {"half_life_days": 365.0, "popularity_weight": 0.3},
               "candidates": 100},
    "ease": {"model": "EASE", "params": {"lam": 100.0, "half_life_days": 60.0, "weighting": "sum"}, "candidates": 100},
    "ease_latest": {"model": "EASE", "params": {"lam": 100.0, "half_life_days": 60.0, "weighting": "latest"},
                    "candidates": 50},
    "knn": {"model": "ItemKNN", "params": {"n_neighbors": None}, "candidates": 30},
    "copurchase": {"model": "CoPurchase", "params": {"half_life_days": 14.0}, "candidates": 30},
    "content": {"model": "ContentBased", "params": {"half_life_days": None}, "candidates": 20},
    "pop": {"model": "TopPop", "params": {"window_days": 14.0}, "candidates": 20},
    "tifu": {"model": "TIFUKNN", "params": {"n_groups": 7, "within_decay": 0.9, "group_decay": 0.6, "alpha": 1.0},
             "candidates": 50},
    "neighbours": {"model": "TIFUKNN", "params": {"n_groups": 7, "within_decay": 0.9, "group_decay": 0.6,
                                                  "n_neighbors": 300, "alpha": 0.0}, "candidates": 50},
}
# Sources the hybrid does without unless the settings (or the nightly search) add them: the SASRec-style
# next-item model (torch; "auto": CUDA when the worker has it). Small (one block of width 32) and bounded in
# epochs and seconds, because the hybrid fits its sources three times (two label windows and serving). One CPU
# thread: on the two-year data's 16,266 training sequences an epoch took 7.2 CPU s / 10.9 s wall with one thread
# and 19.5 / 24.3 with two, on 2 loaded cores (small ops do not pay for the threads' synchronisation).
OPTIONAL_SOURCES: dict[str, dict[str, Any]] = {
    "sequence": {"model": "SequenceRecommender",
                 "params": {"max_len": 50, "max_items": 20_000, "dim": 32, "n_blocks": 1, "n_heads": 1,
                            "epochs": 10, "max_seconds": 120.0, "batch_size": 256, "lr": 2e-3, "num_threads": 1,
                            "device": "auto"},
                 "candidates": 50},
}
TASKS = ("all", "new")


class NotEnoughHistory(ValueError):
    """The purchases hold no label window the ranker can learn from (a shop too small or too young)."""


class HybridRecommender(Recommender):
    """Candidates from ``sources`` re-ranked by a learned ranker for one ``task``.

    ``task="all"`` ranks everything the user may buy, re-purchases included; ``task="new"`` leaves the
    user's past purchases out of the candidates and learns from first purchases only. ``sources`` maps
    a name to ``{"model", "params", "candidates"}`` (see ``DEFAULT_SOURCES``). ``negative_rate`` is the
    share of negative rows kept for training (all positives are kept).
    """

    _state_attrs = ("seen_", "fallback_", "feature_names_", "n_users_", "n_items_", "n_train_rows_",
                    "n_train_positives_")

    def __init__(self, task: str = "all", sources: dict[str, dict[str, Any]] | None = None,
                 label_window_days: float = 30.0, label_windows: int = 2, negative_rate: float = 0.5,
                 max_iter: int = 200, learning_rate: float = 0.05, max_leaf_nodes: int = 31,
                 min_samples_leaf: int = 100, l2_regularization: float = 1.0, num_threads: int = 1,
                 random_state: int | None = 0) -> None:
        self.task = task
        self.sources = sources
        self.label_window_days = label_window_days
        self.label_windows = label_windows
        self.negative_rate = negative_rate
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.num_threads = num_threads
        self.random_state = random_state

    # ------------------------------------------------------------------------------------ fitting
    def _source_specs(self) -> dict[str, dict[str, Any]]:
        specs = self.sources if self.sources is not None else DEFAULT_SOURCES
        for name, spec in specs.items():
            if spec.get("model") not in MODEL_CLASSES:
                raise ValueError(f"source {name!r}: unknown model {spec.get('model')!r}")
        return specs

    def _fit_sources(self, data: Interactions) -> dict[str, Recommender]:
        models = {}
        for name, spec in self._source_specs().items():
            model = MODEL_CLASSES[spec["model"]](**spec.get("params", {}))
            params = model.get_params()
            if "random_state" in params and self.random_state is not None:
                model.set_params(random_state=self.random_state)
            if "num_threads" in params and "num_threads" not in spec.get("params", {}):
                model.set_params(num_threads=self.num_threads)  # the hybrid's thread budget holds for torch too
            models[name] = model.fit(data)
        return models

    def fit(self, interactions: Interactions | sp.spmatrix) -> HybridRecommender:
        fit_hybrids(interactions, [self])
        return self

    def _window_rows(self, models: dict[str, Recommender], context: FeatureContext, past: Interactions,
                     label_keys: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
        """Training rows of one label window: candidates at the window's start, labelled by its purchases."""
        n_items = past.n_items
        seen = past.seen()
        if self.task == "new":
            lu, li = np.divmod(label_keys, n_items)
            label_keys = label_keys[np.asarray(seen[lu, li]).ravel() == 0]
        users = np.unique(label_keys // n_items)
        users = users[np.diff(seen.indptr)[users] > 0]
        if users.size == 0:
            return None
        x, cand_users, cand_items = self._candidate_features(models, context, seen, users)
        y = np.isin(cand_users * n_items + cand_items, label_keys)
        keep = y | (rng.random(y.size) < self.negative_rate)
        return x[keep], y[keep]

    def _fit_ranker(self, x_all: np.ndarray, y_all: np.ndarray) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits

        # scikit-learn cannot bin a column that is NaN throughout (past-purchase features in task "new");
        # such a column carries nothing, so zeros train the same trees.
        x_all[:, np.isnan(x_all).all(axis=0)] = 0.0
        classifier = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
            early_stopping=False, random_state=self.random_state,
        )
        with threadpool_limits(limits=max(1, self.num_threads)):
            classifier.fit(x_all, y_all)
        self.ranker_ = TreeEnsemble.from_hist_gradient_boosting(classifier)
        self.classifier_ = classifier
        self.n_train_rows_ = int(y_all.size)
        self.n_train_positives_ = int(y_all.sum())

    def _set_serving_state(self, models: dict[str, Recommender], context: FeatureContext,
                           data: Interactions) -> None:
        self.models_ = models
        self.context_ = context
        self.seen_ = data.seen()
        recent = context.item_values[:, 1]  # distinct buyers in the last 30 days
        ever = context.item_values[:, 3]
        fallback = recent + ever / (ever.max() + 1.0 if ever.size else 1.0)
        # Below any probability: items outside the candidates come last, by recent popularity.
        self.fallback_ = fallback / (fallback.max() + 1.0 if fallback.size else 1.0) - 2.0
        self.feature_names_ = np.array(self._feature_names())
        self.n_users_ = data.n_users
        self.n_items_ = data.n_items

    # ------------------------------------------------------------------------------------ features
    def _feature_names(self) -> list[str]:
        names = list(BASE_FEATURES)
        for source in self._source_specs():
            names += [f"{source}_score", f"{source}_rank", f"{source}_rel"]
        return names

    def _candidate_features(self, models: dict[str, Recommender], context: FeatureContext,
                            seen: sp.csr_matrix, users: np.ndarray, batch: int = 256
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate pairs of ``users`` and their feature rows (``_feature_names`` order)."""
        specs = self._source_specs()
        n_items = context.n_items
        batch = rows_per_block(n_items, batch)  # fewer users per block on a wide catalogue
        xs, us, its = [], [], []
        for lo in range(0, users.size, batch):
            block = users[lo:lo + batch]
            rows_seen = user_rows(seen, block).tocoo() if self.task == "new" else None
            candidate = np.zeros((block.size, n_items), dtype=bool)
            per_source = []
            for name, spec in specs.items():
                scores = models[name].score(block).copy()
                if rows_seen is not None:
                    scores[rows_seen.row, rows_seen.col] = -np.inf
                order = np.argsort(-scores, axis=1, kind="stable")
                ranks = np.empty_like(order)
                np.put_along_axis(ranks, order, np.arange(n_items)[None, :], axis=1)
                k = min(int(spec.get("candidates", 0)), n_items)
                if k > 0:
                    top = order[:, :k]
                    ok = np.isfinite(np.take_along_axis(scores, top, axis=1))
                    r_idx = np.repeat(np.arange(block.size), k)[ok.ravel()]
                    candidate[r_idx, top.ravel()[ok.ravel()]] = True
                best = np.take_along_axis(scores, order[:, :1], axis=1)
                per_source.append((scores, ranks, best))
            if rows_seen is not None:
                candidate[rows_seen.row, rows_seen.col] = False
            r, c = np.nonzero(candidate)
            cols = [context.transform(block[r], c)]
            for scores, ranks, best in per_source:
                s = scores[r, c]
                s = np.where(np.isfinite(s), s, np.nan)
                b = best[r, 0]
                with np.errstate(invalid="ignore", divide="ignore"):
                    rel = np.where(np.isfinite(b) & (b > 0), s / b, np.nan)
                cols.append(np.column_stack([s, ranks[r, c].astype(np.float64), rel]))
            xs.append(np.hstack(cols))
            us.append(block[r])
            its.append(c)
        if not xs:
            return np.zeros((0, len(self._feature_names()))), np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.vstack(xs), np.concatenate(us), np.concatenate(its)

    # ------------------------------------------------------------------------------------ scoring
    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        scores = np.tile(self.fallback_, (user_ids.size, 1))
        known = np.flatnonzero(user_ids < self.n_users_)
        if known.size:
            unique, inverse = np.unique(user_ids[known], return_inverse=True)
            x, cu, ci = self._candidate_features(self.models_, self.context_, self.seen_, unique)
            block = np.tile(self.fallback_, (unique.size, 1))
            block[np.searchsorted(unique, cu), ci] = self.ranker_.predict_proba(x, n_threads=self.num_threads)
            scores[known] = block[inverse]
        if self.task == "new":
            seen = user_rows(self.seen_, user_ids).tocoo()
            scores[seen.row, seen.col] = -np.inf
        return scores

    def _similar_scores(self, item_ids: np.ndarray) -> np.ndarray:
        # "Bought together" is the most useful item-to-item list this hybrid holds.
        name = next((n for n, s in self._source_specs().items() if s["model"] == "CoPurchase"), None)
        model = self.models_[name] if name else next(iter(self.models_.values()))
        return model._similar_scores(item_ids)

    def feature_importances(self) -> dict[str, float]:
        """Total gain of the splits on each feature (only right after fitting)."""
        gains = np.zeros(len(self.feature_names_))
        for (tree,) in self.classifier_._predictors:
            nodes = tree.nodes[~tree.nodes["is_leaf"].astype(bool)]
            np.add.at(gains, nodes["feature_idx"], nodes["gain"])
        return dict(zip(self.feature_names_.tolist(), gains.tolist(), strict=True))

    # ------------------------------------------------------------------------------------ persistence
    def _extra_state(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        for key, value in self.ranker_.to_arrays().items():
            arrays["ranker/" + key] = value
        for name, model in self.models_.items():
            for key, value in model.to_arrays().items():
                arrays[f"model/{name}/{key}"] = value
        for key, value in vars(self.context_).items():
            arrays["context/" + key] = np.asarray(value)
        return arrays

    def _restore_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        def prefixed(prefix: str) -> dict[str, np.ndarray]:
            return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

        self.ranker_ = TreeEnsemble.from_arrays(prefixed("ranker/"))
        self.models_ = {name: Recommender.from_arrays(prefixed(f"model/{name}/")) for name in self._source_specs()}
        context = prefixed("context/")
        for key in ("n_users", "n_items"):
            context[key] = int(context[key])
        self.context_ = FeatureContext(**context)


_SHARED_PARAMS = ("sources", "label_window_days", "label_windows", "random_state")


def fit_hybrids(interactions: Interactions | sp.spmatrix,
                hybrids: Sequence[HybridRecommender]) -> list[HybridRecommender]:
    """Fit several hybrids (typically one per task) that share their candidate models, in one pass.

    The candidate models and features are fitted once per label window and once for serving, then each
    hybrid learns its own ranker: about the cost of one hybrid plus one ranker per extra task. All
    hybrids must agree on ``sources``, ``label_window_days``, ``label_windows`` and ``random_state``.
    """
    if not hybrids:
        return []
    first = hybrids[0]
    for hybrid in hybrids:
        if hybrid.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {hybrid.task!r}")
        for name in _SHARED_PARAMS:
            if getattr(hybrid, name) != getattr(first, name):
                raise ValueError(f"hybrids fitted together must share {name!r}")
    data = as_interactions(interactions)
    if data.timestamps is None or data.now is None:
        raise ValueError("HybridRecommender needs interactions with timestamps")
    rngs = [np.random.default_rng(h.random_state) for h in hybrids]
    rows: list[tuple[list[np.ndarray], list[np.ndarray]]] = [([], []) for _ in hybrids]
    window = first.label_window_days * SECONDS_PER_DAY
    for w in range(first.label_windows):
        end = data.now - w * window
        start = end - window
        past = data.subset(data.timestamps < start, now=int(start))
        in_window = (data.timestamps >= start) & (data.timestamps < end)
        if len(past) == 0 or not in_window.any():
            continue
        label_keys = np.unique(data.user_ids[in_window] * data.n_items + data.item_ids[in_window])
        models = first._fit_sources(past)
        context = FeatureContext.build(past)
        for hybrid, rng, (xs, ys) in zip(hybrids, rngs, rows, strict=True):
            block = hybrid._window_rows(models, context, past, label_keys, rng)
            if block is not None:
                xs.append(block[0])
                ys.append(block[1])
    for hybrid, (xs, ys) in zip(hybrids, rows, strict=True):
        if not xs or not np.concatenate(ys).any():
            raise NotEnoughHistory("no purchases in the label window(s) to learn the ranker from")
        hybrid._fit_ranker(np.vstack(xs), np.concatenate(ys).astype(np.int64))
    models = first._fit_sources(data)
    context = FeatureContext.build(data)
    for hybrid in hybrids:
        hybrid._set_serving_state(models, context, data)
    return list(hybrids)
