"""The nightly search of the served hybrid's settings on the shop's own purchases (Optuna TPE, seeded).

The purchases are split by time (:func:`validation_split`): every trial fits the hybrid on the
purchases before ``end - VALIDATION_DAYS`` and scores ``COMPARE_ON`` (NDCG@20, task ``all``) on the last
``VALIDATION_DAYS``. What is searched is read from the hybrid's ``sources`` specs: each source's
``candidates`` and the parameters its model class names in :data:`SOURCE_SPACE`, plus the ranker's settings
(:data:`RANKER_SPACE`); a source of a model class without a line keeps its parameters and still has its
``candidates`` searched. A new candidate model's parameters are searched by adding its line.

The sources are :data:`~personalization.ml.hybrid.DEFAULT_SOURCES`, plus the optional ones
(:data:`~personalization.ml.hybrid.OPTIONAL_SOURCES`: the torch sequence model) as ``RECOMMENDATIONS
["SEQUENCE"]`` says (:func:`hybrid_sources`): ``"off"`` never, ``"on"`` always, ``"search"`` as a trial
parameter ``sequence.use`` (0 or 1) that the defaults trial leaves at 0, so the search keeps the source only
when a trial with it scores higher on the validation window.

The first trial is the defaults, the second the active version's settings when they differ (so the winner
is never worse on this validation than either); the search stops after ``SEARCH["MAX_TRIALS"]`` trials or
once ``SEARCH["TIME_BUDGET_S"]`` has passed (the running trial finishes first). The sampler is seeded
with ``RANDOM_STATE``: the same purchases and the same number of trials give the same choice.
"""
from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..ml import evaluation
from ..ml.base import Recommender
from ..ml.hybrid import DEFAULT_SOURCES, OPTIONAL_SOURCES, HybridRecommender, NotEnoughHistory

logger = logging.getLogger(__name__)

# model class -> parameter -> (low, high, "log" | "linear"); ints stay ints. A range is widened to hold
# the default; a parameter whose default is not a number (None: no decay) is left alone.
SOURCE_SPACE: dict[str, dict[str, tuple[float, float, str]]] = {
    "RepeatPurchase": {"half_life_days": (30.0, 1_000.0, "log"), "popularity_weight": (0.0, 1.0, "linear")},
    "EASE": {"lam": (10.0, 3_000.0, "log"), "half_life_days": (7.0, 365.0, "log")},
    "CoPurchase": {"half_life_days": (3.0, 180.0, "log")},
    "TopPop": {"window_days": (7.0, 90.0, "log")},
    "ItemKNN": {},
    "ContentBased": {},
    # alpha stays as the source sets it (1: the personal frequencies, 0: the neighbours' mean)
    "TIFUKNN": {"n_groups": (1, 12, "linear"), "within_decay": (0.5, 1.0, "linear"),
                "group_decay": (0.3, 1.0, "linear"), "n_neighbors": (20, 500, "log")},
    "SequenceRecommender": {"max_len": (10, 100, "log"), "lr": (3e-4, 3e-3, "log")},
}
CANDIDATES = (0, 200, "linear")  # every source: how many top items it proposes (0: a ranker feature only)
RANKER_SPACE: dict[str, tuple[float, float, str]] = {
    "learning_rate": (0.02, 0.2, "log"),
    "max_iter": (50, 400, "log"),
    "max_leaf_nodes": (7, 63, "log"),
    "min_samples_leaf": (20, 400, "log"),
    "negative_rate": (0.1, 1.0, "linear"),
}
_RANKER_DEFAULTS = ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf", "negative_rate")
Progress = Callable[[float, str], None]  # (share of the budget spent, what happens)
Build = Callable[[dict[str, Any]], Recommender]  # the chosen settings -> an unfitted hybrid


def validation_split(frame: pd.DataFrame, items: pd.DataFrame, end: pd.Timestamp,
                     days: int) -> evaluation.Split | None:
    """The purchases before ``end - days`` to fit on and the last ``days`` to score, as the offline protocol
    splits them; None when the window or the history before it holds no purchases of the same customers."""
    cutoff = (end - pd.Timedelta(days=days)).normalize()
    if not (frame["timestamp"] < cutoff).any() or not (frame["timestamp"] >= cutoff).any():
        return None
    split = evaluation.make_split(frame, cutoff, window_days=days + 1,
                                  items=items[["item", "name", "category", "price"]])
    return split if split.eval_users["all"].size else None


def score(model: Recommender, split: evaluation.Split, days: int) -> dict[str, float]:
    """The protocol's metrics of a model fitted on ``split.train`` (task ``new`` prefixed ``new_``)."""
    result = {key: float(value) for key, value in evaluation.evaluate(model, split, "all").items()}
    if split.eval_users["new"].size:
        new = evaluation.evaluate(model, split, "new")
        result.update({f"new_{key}": float(value) for key, value in new.items()})
    result["validation_days"] = float(days)
    return result


@dataclass
class SearchResult:
    """The chosen settings, their validation metrics and the search (for ``ModelVersion.metadata``)."""

    settings: dict[str, Any]
    metrics: dict[str, float]
    summary: dict[str, Any] = field(default_factory=dict)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def hybrid_sources(settings: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], tuple[str, ...]]:
    """The sources the search works on and those of them it may leave out (``source.use``), by
    ``settings["SEQUENCE"]`` (see the module docstring)."""
    mode = settings.get("SEQUENCE", "off")
    if mode == "off":
        return DEFAULT_SOURCES, ()
    return {**DEFAULT_SOURCES, **OPTIONAL_SOURCES}, tuple(OPTIONAL_SOURCES) if mode == "search" else ()


def default_sources(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The sources served without a search: the optional ones only when ``SEQUENCE`` is ``"on"``."""
    sources, optional = hybrid_sources(settings)
    return {name: spec for name, spec in sources.items() if name not in optional}


def search_space(sources: dict[str, dict[str, Any]] | None = None, ranker: dict[str, Any] | None = None,
                 optional: tuple[str, ...] = ()) -> dict[str, tuple[Any, Any, Any]]:
    """Trial parameter name (``source.param``, ``source.candidates``, ``ranker.param``) -> (low, high, scale,
    default) of ``sources`` (the hybrid's defaults without it) and ``ranker`` (its defaults); each source named
    in ``optional`` also gets ``source.use`` (1: in the hybrid, 0: left out; default 0)."""
    sources = DEFAULT_SOURCES if sources is None else sources
    ranker = ranker if ranker is not None else default_ranker()
    space: dict[str, tuple[Any, Any, Any]] = {}

    def add(name: str, bounds: tuple[float, float, str], default: Any) -> None:
        low, high, scale = bounds
        kind = int if isinstance(default, int) else float
        space[name] = (kind(min(low, default)), kind(max(high, default)), scale, default)

    for source, spec in sources.items():
        for param, bounds in SOURCE_SPACE.get(spec["model"], {}).items():
            default = spec.get("params", {}).get(param)
            if _is_number(default):
                add(f"{source}.{param}", bounds, default)
        add(f"{source}.candidates", CANDIDATES, int(spec.get("candidates", 0)))
        if source in optional:
            add(f"{source}.use", (0, 1, "linear"), 0)
    for param, bounds in RANKER_SPACE.items():
        add(f"ranker.{param}", bounds, ranker[param])
    return space


def default_ranker() -> dict[str, Any]:
    """The hybrid's own ranker settings (its constructor's defaults)."""
    params = HybridRecommender().get_params()
    return {name: params[name] for name in _RANKER_DEFAULTS}


def settings_from(flat: dict[str, Any], sources: dict[str, dict[str, Any]] | None = None,
                  ranker: dict[str, Any] | None = None) -> dict[str, Any]:
    """The hybrid's ``{"sources", "ranker"}`` with the trial's values (``search_space`` names) put in."""
    chosen = copy.deepcopy(DEFAULT_SOURCES if sources is None else sources)
    tuned_ranker = dict(ranker if ranker is not None else default_ranker())
    for name, value in flat.items():
        owner, param = name.split(".", 1)
        if owner == "ranker":
            tuned_ranker[param] = value
        elif param == "use":
            continue
        elif param == "candidates":
            chosen[owner]["candidates"] = value
        else:
            chosen[owner].setdefault("params", {})[param] = value
    for name, value in flat.items():
        owner, param = name.split(".", 1)
        if param == "use" and not value:
            chosen.pop(owner, None)
    return {"sources": chosen, "ranker": tuned_ranker}


def flat_settings(settings: dict[str, Any], space: dict[str, tuple[Any, Any, Any]]) -> dict[str, Any] | None:
    """The trial values of stored ``settings`` (a hybrid version's params), or None when they do not fit the
    space (another set of sources, a value out of range)."""
    sources, flat = settings.get("sources") or {}, {}
    left_out = {name.split(".", 1)[0] for name in space if name.endswith(".use")} - set(sources)
    for name, (low, high, _scale, default) in space.items():
        owner, param = name.split(".", 1)
        if owner == "ranker":
            value = settings.get(param)
        elif param == "use":
            value = int(owner in sources)
        elif owner in left_out:  # an optional source the version does without: its values do not matter
            value = default
        elif param == "candidates":
            value = (sources.get(owner) or {}).get("candidates")
        else:
            value = ((sources.get(owner) or {}).get("params") or {}).get(param)
        if not _is_number(value) or not low <= value <= high:
            return None
        flat[name] = value
    if set(sources) != {name.split(".", 1)[0] for name in space if not name.startswith("ranker.")} - left_out:
        return None
    return flat


def _suggest(trial: Any, name: str, low: Any, high: Any, scale: str) -> Any:
    log = scale == "log" and low > 0
    if isinstance(low, int):
        return trial.suggest_int(name, low, high, log=log)
    return trial.suggest_float(name, low, high, log=log)


def search(frame: pd.DataFrame, items: pd.DataFrame, end: pd.Timestamp, settings: dict[str, Any],
           build: Build, active: dict[str, Any] | None = None, progress: Progress | None = None) -> SearchResult:
    """Search the hybrid's settings on the last ``VALIDATION_DAYS`` before ``end`` (see the module docstring).

    ``settings`` are the recommendations' (``SEARCH``, ``VALIDATION_DAYS``, ``COMPARE_ON``, ``RANDOM_STATE``);
    ``active`` the active version's params (``{"model", "params"}``), tried second when they fit the space.

    Raises :class:`~personalization.ml.hybrid.NotEnoughHistory` when even the defaults cannot be fitted.
    Without a validation window (too little data) the defaults are returned, unscored.
    """
    import optuna

    budget = settings["SEARCH"]
    days = int(settings["VALIDATION_DAYS"])
    compare_on = str(settings["COMPARE_ON"])
    random_state = int(settings["RANDOM_STATE"])
    sources, optional = hybrid_sources(settings)
    space = search_space(sources, optional=optional)
    defaults = {name: value[3] for name, value in space.items()}
    split = validation_split(frame, items, end, days)
    base = {"time_budget_s": budget["TIME_BUDGET_S"], "max_trials": budget["MAX_TRIALS"], "objective": compare_on,
            "validation_days": days, "seed": random_state, "sampler": "TPE",
            "sequence": settings.get("SEQUENCE", "off")}
    if split is None:
        skipped = f"no purchases of returning customers in the last {days} days to validate on"
        return SearchResult(settings_from(defaults, sources), {}, {**base, "skipped": skipped})
    say = progress or (lambda percent, stage: None)
    scores: dict[int, dict[str, float]] = {}
    seconds: dict[int, float] = {}
    errors: dict[int, str] = {}

    def objective(trial: Any) -> float:
        began = time.perf_counter()
        flat = {name: _suggest(trial, name, low, high, scale) for name, (low, high, scale, _d) in space.items()}
        try:
            metrics = score(build(settings_from(flat, sources)).fit(split.train), split, days)
        except NotEnoughHistory as exc:
            errors[trial.number] = str(exc)
            raise
        finally:
            seconds[trial.number] = round(time.perf_counter() - began, 2)
        scores[trial.number] = metrics
        spent = max((time.perf_counter() - started) / float(budget["TIME_BUDGET_S"]),
                    (trial.number + 1) / int(budget["MAX_TRIALS"]))
        say(min(spent, 1.0), f"Search trial {trial.number}: {compare_on} {metrics[compare_on]:.4f} "
                             f"({seconds[trial.number]:.0f} s)")
        return float(metrics[compare_on])

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=random_state, n_startup_trials=5)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(defaults, user_attrs={"origin": "defaults"})
    if active and active.get("model") == "hybrid":
        current = flat_settings(active.get("params") or {}, space)
        if current is not None and current != defaults:
            study.enqueue_trial(current, user_attrs={"origin": "active version"})
    started = time.perf_counter()
    study.optimize(objective, n_trials=int(budget["MAX_TRIALS"]), timeout=float(budget["TIME_BUDGET_S"]),
                   catch=(NotEnoughHistory,))
    if 0 not in scores:
        raise NotEnoughHistory(errors.get(0, "the defaults could not be fitted"))
    best = study.best_trial
    trials = [{
        "number": t.number, "origin": t.user_attrs.get("origin", "TPE"), "params": t.params,
        "value": float(t.value) if t.value is not None else None,
        "new_value": scores.get(t.number, {}).get(f"new_{compare_on}"),
        "seconds": seconds.get(t.number), "state": t.state.name.lower(), "error": errors.get(t.number, ""),
        "best": t.number == best.number,
    } for t in study.trials]
    summary = {**base, "trials": trials, "n_trials": len(trials), "best_trial": best.number,
               "best_value": float(best.value), "default_value": trials[0]["value"],
               "seconds": round(time.perf_counter() - started, 2),
               "changed": {name: value for name, value in best.params.items() if value != defaults[name]}}
    logger.info("Recommender search: %d trials in %.0f s, best %s %.4f (defaults %.4f)", len(trials),
                summary["seconds"], compare_on, best.value, trials[0]["value"])
    return SearchResult(settings_from(best.params, sources), scores[best.number], summary)
