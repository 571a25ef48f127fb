"""Gradient-boosted trees as plain arrays: train with scikit-learn, persist and predict without pickle."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

_FIELDS = ("feature", "threshold", "left", "right", "missing_left", "is_leaf", "value", "roots")


@dataclass(frozen=True)
class TreeEnsemble:
    """The trees of a fitted binary ``HistGradientBoostingClassifier`` (numerical features only).

    Nodes of all trees live in flat arrays; ``roots[t]`` is the first node of tree ``t`` and child
    indices are local to their tree. A row goes left when its feature is ``<= threshold``, or when it is
    NaN and ``missing_left`` holds, exactly as scikit-learn decides. The raw score is ``baseline`` plus
    the sum of the leaves reached. Prediction uses scikit-learn's compiled tree walker when it can be
    imported (it is private API) and a numpy walk otherwise; both give the same numbers.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    missing_left: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    baseline: float
    _compiled: list[Any] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_hist_gradient_boosting(cls, model: object) -> TreeEnsemble:
        """Export a fitted binary ``HistGradientBoostingClassifier`` (raises if it used categoricals)."""
        predictors = model._predictors  # type: ignore[attr-defined]
        if any(len(per_iteration) != 1 for per_iteration in predictors):
            raise ValueError("only binary classifiers / single-output regressors can be exported")
        parts, roots, offset = [], [], 0
        for (tree,) in predictors:
            nodes = tree.nodes
            if np.any(nodes["is_categorical"]):
                raise ValueError("categorical splits are not supported")
            parts.append(nodes)
            roots.append(offset)
            offset += nodes.shape[0]
        nodes = np.concatenate(parts) if parts else np.zeros(0, dtype=predictors[0][0].nodes.dtype)
        return cls(
            feature=nodes["feature_idx"].astype(np.int64),
            threshold=nodes["num_threshold"].astype(np.float64),
            left=nodes["left"].astype(np.int64),
            right=nodes["right"].astype(np.int64),
            missing_left=nodes["missing_go_to_left"].astype(bool),
            is_leaf=nodes["is_leaf"].astype(bool),
            value=nodes["value"].astype(np.float64),
            roots=np.array(roots, dtype=np.int64),
            baseline=float(np.ravel(model._baseline_prediction)[0]),  # type: ignore[attr-defined]
        )

    def _tree_slices(self) -> list[slice]:
        ends = list(self.roots[1:]) + [self.feature.size]
        return [slice(int(a), int(b)) for a, b in zip(self.roots, ends, strict=True)]

    def _compiled_trees(self) -> list[Any] | None:
        """scikit-learn ``TreePredictor`` objects rebuilt from the arrays (None when unavailable)."""
        if self._compiled is None:
            try:
                from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
                from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
            except ImportError:  # pragma: no cover - private API moved
                object.__setattr__(self, "_compiled", [])
                return None
            trees = []
            for part in self._tree_slices():
                nodes = np.zeros(part.stop - part.start, dtype=PREDICTOR_RECORD_DTYPE)
                nodes["value"] = self.value[part]
                nodes["feature_idx"] = self.feature[part]
                nodes["num_threshold"] = self.threshold[part]
                nodes["missing_go_to_left"] = self.missing_left[part]
                nodes["left"] = self.left[part]
                nodes["right"] = self.right[part]
                nodes["is_leaf"] = self.is_leaf[part]
                trees.append(TreePredictor(nodes, np.zeros((0, 8), np.uint32), np.zeros((0, 8), np.uint32)))
            object.__setattr__(self, "_compiled", trees)
        return self._compiled or None

    def decision_function(self, x: np.ndarray, n_threads: int = 1) -> np.ndarray:
        """Raw (log-odds) score per row."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        total = np.full(x.shape[0], self.baseline, dtype=np.float64)
        compiled = self._compiled_trees()
        if compiled:
            known = np.zeros((0, 8), dtype=np.uint32)
            f_idx_map = np.zeros(x.shape[1], dtype=np.uint32)
            for tree in compiled:
                total += tree.predict(x, known, f_idx_map, n_threads)
            return total
        rows = np.arange(x.shape[0])
        for part in self._tree_slices():
            base = part.start
            node = np.full(x.shape[0], base, dtype=np.int64)
            active = ~self.is_leaf[node]
            while active.any():
                idx = node[active]
                values = x[rows[active], self.feature[idx]]
                go_left = np.where(np.isnan(values), self.missing_left[idx], values <= self.threshold[idx])
                node[active] = base + np.where(go_left, self.left[idx], self.right[idx])
                active = ~self.is_leaf[node]
            total += self.value[node]
        return total

    def predict_proba(self, x: np.ndarray, n_threads: int = 1) -> np.ndarray:
        """Probability of the positive class per row."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(x, n_threads)))

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: getattr(self, name) for name in _FIELDS}
        arrays["baseline"] = np.array(self.baseline)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> TreeEnsemble:
        return cls(**{name: np.asarray(arrays[name]) for name in _FIELDS}, baseline=float(arrays["baseline"]))
