"""Gradient-boosted trees as plain arrays: train with scikit-learn, persist and predict without pickle."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_FIELDS = ("feature", "threshold", "left", "right", "missing_left", "is_leaf", "value", "roots")


@dataclass(frozen=True)
class TreeEnsemble:
    """The trees of a fitted binary ``HistGradientBoostingClassifier`` (numerical features only).

    Nodes of all trees live in flat arrays; ``roots[t]`` is the first node of tree ``t`` and child
    indices are global. A row goes left when its feature is ``<= threshold``, or when it is NaN and
    ``missing_left`` holds, exactly as scikit-learn decides. The raw score is ``baseline`` plus the sum of
    the leaves reached.
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
        nodes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)
        shift = np.repeat(np.array(roots, dtype=np.int64), [p.shape[0] for p in parts])
        return cls(
            feature=nodes["feature_idx"].astype(np.int64),
            threshold=nodes["num_threshold"].astype(np.float64),
            left=nodes["left"].astype(np.int64) + shift,
            right=nodes["right"].astype(np.int64) + shift,
            missing_left=nodes["missing_go_to_left"].astype(bool),
            is_leaf=nodes["is_leaf"].astype(bool),
            value=nodes["value"].astype(np.float64),
            roots=np.array(roots, dtype=np.int64),
            baseline=float(np.ravel(model._baseline_prediction)[0]),  # type: ignore[attr-defined]
        )

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Raw (log-odds) score per row."""
        x = np.asarray(x, dtype=np.float64)
        rows = np.arange(x.shape[0])
        total = np.full(x.shape[0], self.baseline, dtype=np.float64)
        for root in self.roots:
            node = np.full(x.shape[0], root, dtype=np.int64)
            active = ~self.is_leaf[node]
            while active.any():
                idx = node[active]
                values = x[rows[active], self.feature[idx]]
                go_left = np.where(np.isnan(values), self.missing_left[idx], values <= self.threshold[idx])
                node[active] = np.where(go_left, self.left[idx], self.right[idx])
                active = ~self.is_leaf[node]
            total += self.value[node]
        return total

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Probability of the positive class per row."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(x)))

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: getattr(self, name) for name in _FIELDS}
        arrays["baseline"] = np.array(self.baseline)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> TreeEnsemble:
        return cls(**{name: np.asarray(arrays[name]) for name in _FIELDS}, baseline=float(arrays["baseline"]))
