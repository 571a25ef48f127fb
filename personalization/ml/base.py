"""The one contract every recommender follows, and the data it is fitted on.

Shaped like ``implicit`` and scikit-learn: hyperparameters only in ``__init__``, ``fit(interactions) ->
self``, learned attributes end in ``_``, ``random_state`` for anything random. Models work on
contiguous integer ids (users ``0..n_users-1``, items ``0..n_items-1``); the caller owns the maps
from shop ids to these integers.

Persistence is safe by construction: ``save(path)`` writes one ``.npz`` (loaded with
``allow_pickle=False``) holding the learned arrays plus a JSON document with the class, the
hyperparameters and the library versions. Torch models put their ``state_dict`` tensors in the same
file as numpy arrays.
"""
from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import scipy.sparse as sp

SECONDS_PER_DAY = 86_400.0
# Cells of one dense block of scores (rows x catalogue width) while recommending: 64 MiB of float64,
# so that memory stays flat as the catalogue grows (fewer rows per block instead).
SCORE_BLOCK_CELLS = 1 << 23
_META_KEY = "__meta__"

M = TypeVar("M", bound="Recommender")


@dataclass(frozen=True)
class ItemFeatures:
    """Descriptive facts about every item, aligned with item ids (index ``i`` describes item ``i``).

    Used by the content model (text, category, price band) and by the hybrid's features. Items nobody
    has bought yet are described here too, which is how content recommendations cover them.
    """

    names: Sequence[str]
    descriptions: Sequence[str] | None = None
    categories: Sequence[str] | None = None
    prices: np.ndarray | None = None
    # Every category of each item (a shop with several per product); ``categories`` holds the main one.
    all_categories: Sequence[Sequence[str]] | None = None

    def __post_init__(self) -> None:
        n = len(self.names)
        for label, values in (("descriptions", self.descriptions), ("categories", self.categories),
                              ("prices", self.prices), ("all_categories", self.all_categories)):
            if values is not None and len(values) != n:
                raise ValueError(f"item features: {label} has {len(values)} entries, names has {n}")

    @property
    def n_items(self) -> int:
        return len(self.names)

    def category_codes(self) -> tuple[np.ndarray, list[str]]:
        """Integer category code per item (``-1`` when unknown) and the category labels."""
        if self.categories is None:
            return np.full(self.n_items, -1, dtype=np.int64), []
        labels = sorted({c for c in self.categories if c})
        index = {c: i for i, c in enumerate(labels)}
        return np.array([index.get(c, -1) for c in self.categories], dtype=np.int64), labels


@dataclass(frozen=True)
class Interactions:
    """Purchases (or other positive events) as parallel arrays of contiguous integer ids.

    ``timestamps`` are int64 seconds since the epoch (numpy ``datetime64`` is converted);
    ``quantities`` default to 1. ``now`` is the reference time for time decay and recency windows
    (int seconds after construction; datetime64 / Timestamp accepted); it defaults to the latest
    timestamp, and a caller that fits on data up to a cutoff should pass the cutoff so that "the last
    90 days" means what it says.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    n_users: int
    n_items: int
    timestamps: np.ndarray | None = None
    quantities: np.ndarray | None = None
    item_features: ItemFeatures | None = None
    now: int | np.datetime64 | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        users = np.asarray(self.user_ids, dtype=np.int64)
        items = np.asarray(self.item_ids, dtype=np.int64)
        if users.shape != items.shape or users.ndim != 1:
            raise ValueError("user_ids and item_ids must be 1-d arrays of the same length")
        if users.size and (users.min() < 0 or users.max() >= self.n_users):
            raise ValueError(f"user ids must lie in [0, {self.n_users})")
        if items.size and (items.min() < 0 or items.max() >= self.n_items):
            raise ValueError(f"item ids must lie in [0, {self.n_items})")
        object.__setattr__(self, "user_ids", users)
        object.__setattr__(self, "item_ids", items)
        if self.timestamps is not None:
            ts = np.asarray(self.timestamps)
            if np.issubdtype(ts.dtype, np.datetime64):
                ts = ts.astype("datetime64[s]").astype(np.int64)
            ts = ts.astype(np.int64)
            if ts.shape != users.shape:
                raise ValueError("timestamps must be aligned with user_ids")
            object.__setattr__(self, "timestamps", ts)
        if self.quantities is not None:
            qty = np.asarray(self.quantities, dtype=np.float64)
            if qty.shape != users.shape:
                raise ValueError("quantities must be aligned with user_ids")
            object.__setattr__(self, "quantities", qty)
        if self.item_features is not None and self.item_features.n_items != self.n_items:
            raise ValueError(f"item_features describe {self.item_features.n_items} items, expected {self.n_items}")
        if self.now is None and self.timestamps is not None and self.timestamps.size:
            object.__setattr__(self, "now", int(self.timestamps.max()))
        elif self.now is not None:
            now = self.now
            if not isinstance(now, (int, np.integer)):  # datetime64, pandas Timestamp, datetime
                now = np.datetime64(now, "s").astype(np.int64)
            object.__setattr__(self, "now", int(now))

    @classmethod
    def from_csr(cls, matrix: sp.spmatrix, item_features: ItemFeatures | None = None) -> Interactions:
        """Interactions from a user x item matrix (values become quantities, no timestamps)."""
        coo = sp.coo_matrix(matrix)
        return cls(coo.row, coo.col, coo.shape[0], coo.shape[1], quantities=coo.data.astype(np.float64),
                   item_features=item_features)

    def __len__(self) -> int:
        return int(self.user_ids.size)

    def age_days(self) -> np.ndarray:
        """Age of each interaction in days before ``now`` (zeros without timestamps)."""
        if self.timestamps is None or self.now is None:
            return np.zeros(len(self), dtype=np.float64)
        return np.maximum(self.now - self.timestamps, 0) / SECONDS_PER_DAY

    def decay_weights(self, half_life_days: float | None) -> np.ndarray:
        """``0.5 ** (age / half_life)`` per interaction, or ones when no half-life is given."""
        if not half_life_days:
            return np.ones(len(self), dtype=np.float64)
        return np.power(0.5, self.age_days() / float(half_life_days))

    def to_csr(self, weights: np.ndarray | None = None, binary: bool = False) -> sp.csr_matrix:
        """User x item CSR matrix summing ``weights`` (default one per interaction) of duplicate pairs.

        ``binary=True`` gives 1 for every pair seen, whatever the weights.
        """
        data = np.ones(len(self), dtype=np.float64) if weights is None else np.asarray(weights, dtype=np.float64)
        m = sp.csr_matrix((data, (self.user_ids, self.item_ids)), shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m

    def seen(self) -> sp.csr_matrix:
        """Binary user x item matrix of what each user interacted with (cached)."""
        if "seen" not in self._cache:
            self._cache["seen"] = self.to_csr(binary=True)
        return self._cache["seen"]

    def subset(self, mask: np.ndarray, now: int | None = None) -> Interactions:
        """The interactions where ``mask`` holds, same id spaces; ``now`` defaults to this one's."""
        return Interactions(
            self.user_ids[mask], self.item_ids[mask], self.n_users, self.n_items,
            timestamps=None if self.timestamps is None else self.timestamps[mask],
            quantities=None if self.quantities is None else self.quantities[mask],
            item_features=self.item_features, now=self.now if now is None else now,
        )


def as_interactions(data: Interactions | sp.spmatrix) -> Interactions:
    """Accept either an :class:`Interactions` or a user x item scipy matrix."""
    if isinstance(data, Interactions):
        return data
    if sp.issparse(data):
        return Interactions.from_csr(data)
    raise TypeError(f"expected Interactions or a scipy sparse user x item matrix, got {type(data).__name__}")


def exclusion_matrix(exclude: sp.spmatrix | Sequence[Iterable[int]] | None, user_ids: np.ndarray,
                     n_items: int) -> sp.csr_matrix | None:
    """Rows of a (len(user_ids) x n_items) boolean CSR matrix of items to leave out per user.

    ``exclude`` is either a user x item matrix indexed by user id (rows past its end exclude nothing),
    or one iterable of item ids per entry of ``user_ids``.
    """
    if exclude is None:
        return None
    if sp.issparse(exclude):
        m = sp.csr_matrix(exclude)
        if m.shape[1] != n_items:
            raise ValueError(f"exclude has {m.shape[1]} columns, the model knows {n_items} items")
        return user_rows(m, np.asarray(user_ids, dtype=np.int64))
    if len(exclude) != len(user_ids):
        raise ValueError("exclude must hold one collection of item ids per user")
    rows, cols = [], []
    for r, items in enumerate(exclude):
        ids = np.fromiter((int(i) for i in items), dtype=np.int64)
        ids = ids[(ids >= 0) & (ids < n_items)]
        rows.append(np.full(ids.size, r, dtype=np.int64))
        cols.append(ids)
    r_all = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c_all = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    return sp.csr_matrix((np.ones(r_all.size), (r_all, c_all)), shape=(len(user_ids), n_items))


def torch_device(name: str) -> Any:
    """The torch device a model's ``device`` parameter names (``"auto"``: CUDA when available, else the CPU)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def rows_per_block(n_items: int, cap: int) -> int:
    """Rows of a dense score block over ``n_items`` columns: at most ``cap``, and at most
    ``SCORE_BLOCK_CELLS`` cells in all (one row at least)."""
    return max(1, min(int(cap), SCORE_BLOCK_CELLS // max(int(n_items), 1)))


def top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``n`` largest finite entries per row, best first.

    Ties break by the lower item id (exactly for catalogues up to 20,000 items; past that the
    selection at the boundary is deterministic but not ordered by id). Rows with fewer than ``n``
    finite scores are padded with id ``-1`` and score ``-inf``.
    """
    n_rows, n_cols = scores.shape
    k = min(n, n_cols)
    ids = np.full((n_rows, n), -1, dtype=np.int64)
    vals = np.full((n_rows, n), -np.inf, dtype=np.float64)
    if k == 0:
        return ids, vals
    if n_cols <= 20_000:
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    else:
        part = np.sort(np.argpartition(-scores, k - 1, axis=1)[:, :k], axis=1)
        inner = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        order = np.take_along_axis(part, inner, axis=1)
    top = np.take_along_axis(scores, order, axis=1)
    finite = np.isfinite(top)
    ids[:, :k] = np.where(finite, order, -1)
    vals[:, :k] = np.where(finite, top, -np.inf)
    return ids, vals


def _library_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in ("numpy", "scipy", "sklearn", "implicit", "torch"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = str(getattr(module, "__version__", "unknown"))
    return versions


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


class Recommender(ABC):
    """Base class of every recommender: fit on :class:`Interactions`, recommend top-N per user.

    Subclasses implement :meth:`fit` and :meth:`_score_users` (a dense block of scores, higher is
    better, ``-inf`` for items the model must never return), and list their learned arrays in
    ``_state_attrs`` so that :meth:`save` / :meth:`load` round-trip them. Item-item similarity comes
    from :meth:`_similar_scores` (default: cosine between the columns of the fitted user x item matrix
    kept by the subclass as ``item_vectors_``).
    """

    _state_attrs: ClassVar[tuple[str, ...]] = ()
    batch_size: ClassVar[int] = 512

    # ----------------------------------------------------------------- parameters (scikit-learn style)
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD]

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as passed to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self: M, **params: Any) -> M:
        """Change hyperparameters (before fitting again)."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{type(self).__name__} has no hyperparameter {key!r}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ----------------------------------------------------------------- fitting and scoring
    @abstractmethod
    def fit(self: M, interactions: Interactions | sp.spmatrix) -> M:
        """Learn from interactions; returns ``self``."""

    @abstractmethod
    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        """Dense ``(len(user_ids), n_items_)`` float scores; users past ``n_users_`` get a neutral row."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_items_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")

    def score(self, user_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Dense score matrix for the given users (rows) over every item (columns)."""
        self._check_fitted()
        users = np.asarray(user_ids, dtype=np.int64).reshape(-1)
        return np.asarray(self._score_users(users), dtype=np.float64)

    def recommend(
        self,
        user_ids: Sequence[int] | np.ndarray,
        n: int = 10,
        exclude: sp.spmatrix | Sequence[Iterable[int]] | None = None,
        filter_items: Sequence[int] | np.ndarray | None = None,
        items: Sequence[int] | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` items per user, best first.

        ``exclude``: per-user items to leave out (a user x item matrix such as the purchase history,
        or one collection of item ids per user). ``filter_items``: items never to return (out of stock,
        inactive). ``items``: when given, only these items may be returned. Returns ``(item_ids,
        scores)``, both ``(len(user_ids), n)``; rows with fewer eligible items are padded with ``-1``
        and ``-inf``. Ties break by the lower item id.
        """
        self._check_fitted()
        if n < 0:
            raise ValueError("n must be >= 0")
        users = np.asarray(user_ids, dtype=np.int64).reshape(-1)
        if users.size and users.min() < 0:
            raise ValueError("user ids must be >= 0")
        excl = exclusion_matrix(exclude, users, self.n_items_)
        blocked = np.zeros(self.n_items_, dtype=bool)
        if filter_items is not None:
            blocked[np.asarray(filter_items, dtype=np.int64)] = True
        if items is not None:
            allowed = np.zeros(self.n_items_, dtype=bool)
            allowed[np.asarray(items, dtype=np.int64)] = True
            blocked |= ~allowed
        out_ids = np.empty((users.size, n), dtype=np.int64)
        out_scores = np.empty((users.size, n), dtype=np.float64)
        batch = rows_per_block(self.n_items_, self.batch_size)
        for start in range(0, users.size, batch):
            stop = min(start + batch, users.size)
            scores = self.score(users[start:stop]).copy()
            scores[:, blocked] = -np.inf
            if excl is not None:
                block = excl[start:stop].tocoo()
                scores[block.row, block.col] = -np.inf
            out_ids[start:stop], out_scores[start:stop] = top_n(scores, n)
        return out_ids, out_scores

    def similar_items(self, item_ids: Sequence[int] | np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items most similar to each given item (never the item itself), best first."""
        self._check_fitted()
        ids = np.asarray(item_ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_items_):
            raise ValueError(f"item ids must lie in [0, {self.n_items_})")
        out_ids = np.empty((ids.size, n), dtype=np.int64)
        out_scores = np.empty((ids.size, n), dtype=np.float64)
        batch = rows_per_block(self.n_items_, self.batch_size)
        for start in range(0, ids.size, batch):
            block = ids[start:start + batch]
            scores = np.asarray(self._similar_scores(block), dtype=np.float64).copy()
            scores[np.arange(block.size), block] = -np.inf
            out_ids[start:start + batch], out_scores[start:start + batch] = top_n(scores, n)
        return out_ids, out_scores

    def _similar_scores(self, item_ids: np.ndarray) -> np.ndarray:
        vectors = getattr(self, "item_vectors_", None)
        if vectors is None:
            raise NotImplementedError(f"{type(self).__name__} has no item similarity")
        return cosine_rows(vectors, item_ids)

    # ----------------------------------------------------------------- persistence
    def _extra_state(self) -> dict[str, np.ndarray]:
        """Extra arrays to save (torch weights); restored by :meth:`_restore_extra_state`."""
        return {}

    def _restore_extra_state(self, arrays: dict[str, np.ndarray]) -> None:  # noqa: B027 - optional hook
        """Rebuild whatever :meth:`_extra_state` saved (nothing by default)."""

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted model as named numpy arrays, metadata (JSON bytes) under ``__meta__``."""
        self._check_fitted()
        arrays: dict[str, np.ndarray] = {}
        kinds: dict[str, str] = {}
        for name in self._state_attrs:
            value = getattr(self, name)
            if value is None:
                kinds[name] = "none"
            elif sp.issparse(value):
                csr = sp.csr_matrix(value)
                arrays[name + "__data"] = csr.data
                arrays[name + "__indices"] = csr.indices
                arrays[name + "__indptr"] = csr.indptr
                arrays[name + "__shape"] = np.array(csr.shape, dtype=np.int64)
                kinds[name] = "csr"
            elif isinstance(value, np.ndarray):
                if value.dtype == object:
                    raise TypeError(f"{name} is an object array, which cannot be saved safely")
                arrays[name] = value
                kinds[name] = "array"
            else:
                arrays[name] = np.asarray(value)
                kinds[name] = "scalar"
        for key, value in self._extra_state().items():
            arrays["extra__" + key] = np.asarray(value)
        meta = {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "params": _jsonable(self.get_params()),
            "state": kinds,
            "versions": _library_versions(),
        }
        arrays[_META_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        return arrays

    @classmethod
    def from_arrays(cls: type[M], arrays: dict[str, np.ndarray]) -> M:
        """Rebuild a model from :meth:`to_arrays`; on the base class it returns the saved class.

        Only classes of ``personalization.ml`` are imported by name; a model of another class loads
        through that very class (``RepeatThenNeighbours.from_arrays``), never through the name alone.
        """
        meta = json.loads(bytes(np.asarray(arrays[_META_KEY], dtype=np.uint8)).decode("utf-8"))
        module_name, _, class_name = meta["class"].rpartition(".")
        if meta["class"] == f"{cls.__module__}.{cls.__qualname__}":
            klass: Any = cls
        elif module_name.startswith("personalization.ml."):
            klass = getattr(importlib.import_module(module_name), class_name)
        else:
            raise ValueError(f"refusing to load a model of class {meta['class']!r}")
        if not (isinstance(klass, type) and issubclass(klass, cls)):
            raise TypeError(f"{meta['class']} is not a {cls.__name__}")
        model = klass(**meta["params"])
        for name, kind in meta["state"].items():
            if kind == "none":
                setattr(model, name, None)
            elif kind == "csr":
                shape = tuple(int(v) for v in arrays[name + "__shape"])
                setattr(model, name, sp.csr_matrix(
                    (arrays[name + "__data"], arrays[name + "__indices"], arrays[name + "__indptr"]), shape=shape))
            elif kind == "array":
                setattr(model, name, np.asarray(arrays[name]))
            else:
                setattr(model, name, np.asarray(arrays[name]).item())
        model._restore_extra_state({k[len("extra__"):]: v for k, v in arrays.items() if k.startswith("extra__")})
        return model

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to ``path`` (``.npz`` appended if missing), atomically."""
        target = Path(path)
        if target.suffix != ".npz":
            target = target.with_name(target.name + ".npz")
        arrays = self.to_arrays()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    @staticmethod
    def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
        """The JSON metadata of a saved model (class, params, library versions)."""
        with np.load(path, allow_pickle=False) as data:
            return json.loads(bytes(data[_META_KEY]).decode("utf-8"))

    @classmethod
    def load(cls: type[M], path: str | os.PathLike[str]) -> M:
        """Load a model saved by :meth:`save` (``allow_pickle=False``); ``Recommender.load`` returns
        whichever class was saved, ``EASE.load`` insists on an EASE."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        return cls.from_arrays(arrays)


def cosine_rows(item_vectors: np.ndarray | sp.spmatrix, item_ids: np.ndarray) -> np.ndarray:
    """Cosine similarity between the rows ``item_ids`` of ``item_vectors`` and every row."""
    if sp.issparse(item_vectors):
        v = sp.csr_matrix(item_vectors, dtype=np.float64)
        norms = np.sqrt(np.asarray(v.multiply(v).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        vn = sp.diags(1.0 / norms) @ v
        return np.asarray((vn[item_ids] @ vn.T).todense())
    v = np.asarray(item_vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1)
    norms[norms == 0] = 1.0
    vn = v / norms[:, None]
    return vn[item_ids] @ vn.T


def user_rows(matrix: sp.csr_matrix, user_ids: np.ndarray) -> sp.csr_matrix:
    """Rows of a fitted user x item matrix; users past its end (unknown to the model) get empty rows."""
    users = np.asarray(user_ids, dtype=np.int64)
    n = matrix.shape[0]
    if users.size == 0 or users.max() < n:
        return sp.csr_matrix(matrix[users])
    padded = sp.vstack([matrix, sp.csr_matrix((1, matrix.shape[1]))], format="csr")
    return sp.csr_matrix(padded[np.minimum(users, n)])
