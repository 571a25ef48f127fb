"""Training the served recommender: read purchases, fit, validate, store a ModelVersion, precompute lists.

One run (:func:`train`) under a job lock:

1. purchases of signed-in customers from the Event log and the catalogue through the adapter;
2. the served model is fitted on everything before ``end - VALIDATION_DAYS`` and scored on the last
   ``VALIDATION_DAYS`` exactly like the offline protocol (``personalization.ml.evaluation``); for the hybrid
   this is the search of its settings (:mod:`.tuning`, ``SEARCH``), whose best trial is the validation;
3. it is fitted again on all the data (the hybrid with the chosen settings, kept in ``metadata["search"]``);
   the artifact holds its arrays plus the serving tables (similar items, bought together with lift, product ids);
4. every customer's "for you" list and the shared lists (best sellers overall, per category, per
   segment) are written as :class:`~personalization.models.RecommendationList` rows of the version;
5. the version is activated only if it beats the active one on ``COMPARE_ON`` (else
   :class:`~personalization.ops.registry.NotBetter`: it stays *ready* and its lists are deleted).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from django.db import transaction

from ..host import clock
from ..host.threads import job_threads, limited_threads
from ..ml.base import Recommender
from ..ml.copurchase import CoPurchase, basket_matrix
from ..ml.hybrid import HybridRecommender, NotEnoughHistory
from ..ml.itemknn import ItemKNN
from ..ml.toppop import TopPop
from ..models import CustomerProfile, ModelVersion, RecommendationList
from ..ops import jobs, locks, registry
from . import experiments, tuning
from .blend import RepeatThenNeighbours
from .config import DEFAULTS, KIND, rec_settings
from .data import TrainingData, build_training_data, item_table, purchase_frame

logger = logging.getLogger(__name__)
LOCK_NAME = "recommender.train"
MODEL_CHOICES = ("auto", "hybrid", "simple", "popular")
Progress = Callable[[int, str], None]


class TrainingError(RuntimeError):
    """Training cannot run (no data, another run holds the lock, an unknown model)."""


class AlreadyRunning(TrainingError):
    """Another training run holds the lock."""


@dataclass
class TrainResult:
    """What a run produced; ``activated`` is False when the version did not beat the active one."""

    version: ModelVersion
    activated: bool
    message: str
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    lists: int = 0
    model: str = ""
    reason: str = ""  # why this model was trained (what ``auto`` chose and why)


def make_model(name: str, random_state: int = 0, settings: dict[str, Any] | None = None) -> Recommender:
    """A fresh, unfitted model of one of the served configurations.

    ``settings`` (the hybrid only) are the ones the search chose (:func:`.tuning.search`):
    ``{"sources": ..., "ranker": {...}}``; the defaults without them.
    """
    if name == "hybrid":
        chosen = settings or {}
        return HybridRecommender(task="all", sources=chosen.get("sources", tuning.default_sources(rec_settings())),
                                 num_threads=job_threads(), random_state=random_state, **chosen.get("ranker", {}))
    if name == "simple":
        return RepeatThenNeighbours()
    if name == "popular":
        return TopPop(window_days=90.0)
    raise TrainingError(f"Unknown recommender {name!r}; choose one of {', '.join(MODEL_CHOICES)}.")


def _label_windows_hold_purchases(frame: pd.DataFrame, now: pd.Timestamp, window_days: float, windows: int) -> bool:
    """Whether one of the hybrid's label windows before ``now`` has a purchase by a customer who bought
    before that window (the ranker learns from those; without any, fitting the hybrid fails)."""
    for w in range(windows):
        end = now - pd.Timedelta(days=window_days * w)
        start = end - pd.Timedelta(days=window_days)
        before = frame.loc[frame["timestamp"] < start, "user"]
        during = frame.loc[(frame["timestamp"] >= start) & (frame["timestamp"] < end), "user"]
        if not before.empty and not during.empty and during.isin(before).any():
            return True
    return False


def choose_model(requested: str, frame: pd.DataFrame, settings: dict[str, Any],
                 end: pd.Timestamp | None = None) -> tuple[str, str]:
    """The model to train on these purchases and why: ``auto`` picks what the data supports.

    The hybrid, at any size, when every fit of the run (on the data before the validation window, when
    there is one, and on all of it) has a label window with purchases of returning customers; else the
    simple blend (repeat + item neighbours); popularity when there are fewer than two customers or two
    products (no neighbours to learn).
    """
    if requested not in MODEL_CHOICES:
        raise TrainingError(f"Unknown recommender {requested!r}; choose one of {', '.join(MODEL_CHOICES)}.")
    n = len(frame)
    if requested != "auto":
        return requested, f"{requested}: asked for by name ({n:,} purchases)"
    customers, products = frame["user"].nunique(), frame["item"].nunique()
    if customers < 2 or products < 2:
        return "popular", (f"popular: {customers:,} customer(s) and {products:,} product(s) bought, too few to "
                           "learn neighbours from")
    hybrid = make_model("hybrid").get_params()
    days, windows = float(hybrid["label_window_days"]), int(hybrid["label_windows"])
    end = end if end is not None else frame["timestamp"].max()  # the as-of (naive UTC) the training runs for
    cutoff = (end - pd.Timedelta(days=int(settings["VALIDATION_DAYS"]))).normalize()
    fits = [(frame, end)]
    if (frame["timestamp"] < cutoff).any():  # validation fits on the data before the cutoff too
        fits.append((frame[frame["timestamp"] < cutoff], cutoff))
    if not all(_label_windows_hold_purchases(part, now, days, windows) for part, now in fits):
        return "simple", (f"simple: the hybrid learns from customers who buy again within its {windows} label "
                          f"windows of {days:g} days, and the {n:,} purchases ({frame['timestamp'].min():%Y-%m-%d} "
                          f"to {end:%Y-%m-%d}) have none")
    return "hybrid", f"hybrid: {n:,} purchases with repeat customers in its label windows"


def validate(name: str, frame: pd.DataFrame, items: pd.DataFrame, end: pd.Timestamp, days: int,
             random_state: int) -> dict[str, float]:
    """Fit on the data before ``end - days`` and score the last ``days`` (empty without a split)."""
    split = tuning.validation_split(frame, items, end, days)
    if split is None:
        return {}
    return tuning.score(make_model(name, random_state).fit(split.train), split, days)


def _neighbour_table(similar: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]], n_items: int, k: int,
                     batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    ids = np.full((n_items, k), -1, dtype=np.int64)
    scores = np.zeros((n_items, k), dtype=np.float32)
    for lo in range(0, n_items, batch):
        block = np.arange(lo, min(lo + batch, n_items))
        got, vals = similar(block, k)
        keep = (got >= 0) & np.isfinite(vals) & (vals > 0)
        ids[block] = np.where(keep, got, -1)
        scores[block] = np.where(keep, vals, 0.0)
    return ids, scores


def serving_tables(data: TrainingData, main: Recommender, k: int) -> dict[str, np.ndarray]:
    """Similar items (item-item cosine) and bought together (co-purchase, kept where lift > 1)."""
    n_items = data.interactions.n_items
    knn = main.knn_ if isinstance(main, RepeatThenNeighbours) else ItemKNN(n_neighbors=100).fit(data.interactions)
    sim_ids, sim_scores = _neighbour_table(knn.similar_items, n_items, k)
    co_model = CoPurchase(half_life_days=None).fit(data.interactions)
    tog_ids, tog_scores = _neighbour_table(co_model.similar_items, n_items, k)
    baskets = basket_matrix(data.interactions)
    co = sp.csr_matrix(baskets.T @ baskets)
    counts = np.asarray(baskets.sum(axis=0)).ravel()
    rows = np.repeat(np.arange(n_items), k)
    cols = tog_ids.ravel()
    ok = cols >= 0
    lift = np.zeros(rows.size)
    if ok.any():
        pair = np.asarray(co[rows[ok], cols[ok]]).ravel()
        lift[ok] = pair * baskets.shape[0] / np.maximum(counts[rows[ok]] * counts[cols[ok]], 1.0)
    lift = lift.reshape(n_items, k)
    tog_ids = np.where(lift > 1.0, tog_ids, -1)
    return {
        "product_pks": data.product_pks, "user_pks": data.user_pks,
        "similar_ids": sim_ids, "similar_scores": sim_scores,
        "together_ids": tog_ids, "together_scores": tog_scores, "together_lift": lift.astype(np.float32),
    }


def _popular_lists(data: TrainingData, settings: dict[str, Any], version: ModelVersion) -> list[RecommendationList]:
    length = int(settings["POPULAR_LENGTH"])
    pop = TopPop(window_days=float(settings["POPULAR_WINDOW_DAYS"])).fit(data.interactions)
    pks = data.product_pks
    out = []

    def make(key: str, ids: np.ndarray, scores: np.ndarray, source: str) -> None:
        keep = ids >= 0
        if keep.any():
            out.append(RecommendationList(
                key=key, placement="best_sellers", items=[int(p) for p in pks[ids[keep]]],
                scores=[round(float(s), 6) for s in scores[keep]], sources=[source] * int(keep.sum()),
                model_version=version,
            ))

    make("popular", *pop.best_sellers(length), source="best seller")
    codes, labels = data.interactions.item_features.category_codes()  # type: ignore[union-attr]
    for code, label in enumerate(labels):
        make(f"category:{label}"[:255], *pop.best_sellers(length, category=code), source="best seller in category")
    # The segment's favourites: distinct buyers per item among the cluster's customers, recent window.
    clusters = dict(CustomerProfile.objects.filter(cluster__isnull=False).values_list("user_id", "cluster"))
    if clusters:
        inter = data.interactions
        window = float(settings["POPULAR_WINDOW_DAYS"]) * 86_400
        recent = inter.timestamps >= (inter.now or 0) - window  # type: ignore[operator]
        user_cluster = np.array([clusters.get(int(u), -1) for u in data.user_pks], dtype=np.int64)
        frame = pd.DataFrame({"c": user_cluster[inter.user_ids[recent]], "u": inter.user_ids[recent],
                              "i": inter.item_ids[recent]})
        frame = frame[frame["c"] >= 0].drop_duplicates()
        for cluster, group in frame.groupby("c"):
            counts = group["i"].value_counts()
            counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable").head(length)
            make(f"segment:{int(cluster)}", counts.index.to_numpy(dtype=np.int64),
                 counts.to_numpy(dtype=np.float64), source="popular in your segment")
    return out


def _user_lists(data: TrainingData, model: Recommender, length: int,
                version: ModelVersion) -> list[RecommendationList]:
    n_users = data.interactions.n_users
    if n_users == 0:
        return []
    seen = data.interactions.seen()
    out = []
    for lo in range(0, n_users, 1024):
        users = np.arange(lo, min(lo + 1024, n_users))
        ids, scores = model.recommend(users, n=length)
        for row, user in enumerate(users):
            keep = ids[row] >= 0
            items = ids[row][keep]
            bought = set(seen.indices[seen.indptr[user]:seen.indptr[user + 1]].tolist())
            out.append(RecommendationList(
                user_id=int(data.user_pks[user]), placement="for_you",
                items=[int(p) for p in data.product_pks[items]],
                scores=[round(float(s), 6) for s in scores[row][keep]],
                sources=["bought before" if int(i) in bought else "model" for i in items],
                model_version=version,
            ))
    return out


def prune_lists(keep: ModelVersion | None = None) -> int:
    """Delete the lists of every version except the active one, an A/B challenger and ``keep``."""
    active = ModelVersion.objects.filter(kind=KIND, status=ModelVersion.Status.ACTIVE)
    keep_ids = set(active.values_list("pk", flat=True))
    challenger = experiments.challenger_version()
    keep_ids |= {v.pk for v in (keep, challenger) if v is not None}
    stale = RecommendationList.objects.filter(model_version__kind=KIND).exclude(model_version__in=keep_ids)
    deleted, _ = stale.delete()
    return deleted


def train(model: str | None = None, *, activate: bool = True, progress: Progress | None = None,
          owner: str | None = None) -> TrainResult:
    """One training run (see the module docstring). Raises :class:`TrainingError` when it cannot run.

    ``owner`` names the run for the job lock (the Celery task id: a redelivered task may retake it).
    A version left *training* by a run that died is marked failed first.
    """
    settings = rec_settings()
    owner = owner or uuid.uuid4().hex
    if not locks.acquire(LOCK_NAME, owner, int(settings["LOCK_SECONDS"])):
        raise AlreadyRunning("Another recommender training run is in progress.")
    try:
        registry.fail_abandoned(KIND)
        with limited_threads():  # SHOPSENSE_THREADS: implicit, numpy/scipy BLAS, scikit-learn and torch
            return _train(model or settings["MODEL"], settings, activate, progress)
    finally:
        locks.release(LOCK_NAME, owner)


def training_minimums(data: TrainingData, settings: dict[str, Any]) -> list[registry.Minimum]:
    """What a recommender version was trained on against ``RECOMMENDATIONS["MIN_TRAINING"]``."""
    need = {**DEFAULTS["MIN_TRAINING"], **(settings.get("MIN_TRAINING") or {})}
    interactions = data.interactions
    weeks = (data.end - data.start).days / 7 if data.start and data.end else 0.0
    bought = int(np.unique(interactions.item_ids).size) if interactions.item_ids.size else 0
    have = {"purchases": len(interactions.user_ids), "customers": int(data.user_pks.size), "products": bought,
            "weeks": weeks}
    setting = 'PERSONALIZATION["RECOMMENDATIONS"]["MIN_TRAINING"]'
    return [registry.Minimum(what if what != "weeks" else "weeks of purchases", have[what], float(need[what]),
                             f"{setting}[{what!r}]") for what in ("purchases", "customers", "products", "weeks")]


def _train(requested: str, settings: dict[str, Any], activate: bool, progress: Progress | None) -> TrainResult:
    started = time.perf_counter()
    say = progress or (lambda percent, stage: None)
    say(2, "Reading purchases and the catalogue")
    as_of = clock.reference_time()  # now, or PERSONALIZATION["REFERENCE_TIME"]; never the latest purchase
    end = pd.Timestamp(as_of.astimezone(dt.UTC).replace(tzinfo=None))
    frame = purchase_frame(until=as_of)
    items = item_table()
    if frame.empty or items.empty:
        raise TrainingError("No purchases of signed-in customers to learn from (import orders first).")
    name, reason = choose_model(requested, frame, settings, end)
    say(5, f"Model: {reason}")
    data = build_training_data(frame, items)
    random_state = int(settings["RANDOM_STATE"])
    params = make_model(name, random_state).get_params()
    version = registry.begin(KIND, {"model": name, "params": params, "interactions": len(frame), "reason": reason},
                             data_start=data.start, data_end=data.end)

    def step(percent: int, stage: str) -> None:
        registry.report_progress(version, percent, stage)
        say(percent, stage)

    search: dict[str, Any] = {}
    try:
        try:
            if name == "hybrid" and settings["SEARCH"]["ENABLED"]:
                chosen, metrics, search = _search(frame, items, end, settings, step)
                version.params = {**version.params, "params": make_model(name, random_state, chosen).get_params()}
                version.save(update_fields=["params"])
            else:
                chosen = None
                step(10, f"Validating {name} on the last {settings['VALIDATION_DAYS']} days")
                metrics = validate(name, frame, items, end, int(settings["VALIDATION_DAYS"]),
                                   random_state)
            step(40, f"Fitting {name} on all {len(frame):,} purchases")
            model = make_model(name, random_state, chosen).fit(data.interactions)
        except NotEnoughHistory as exc:
            if requested != "auto":
                raise TrainingError(f"The {name} recommender cannot learn from these purchases: {exc}.") from exc
            # The label windows held returning customers but none bought a candidate: the simple blend.
            name, reason = "simple", f"simple: the hybrid could not be fitted ({exc})"
            version.params = {"model": name, "params": make_model(name).get_params(), "interactions": len(frame),
                              "reason": reason}
            version.save(update_fields=["params"])
            step(40, f"Model: {reason}; fitting {name} on all {len(frame):,} purchases")
            metrics = validate(name, frame, items, end, int(settings["VALIDATION_DAYS"]),
                               random_state)
            model = make_model(name, random_state).fit(data.interactions)
            search = {}
        step(60, "Item neighbours and bought-together pairs")
        tables = serving_tables(data, model, int(settings["NEIGHBOURS"]))
        arrays = dict(tables)
        arrays.update({f"model/{key}": value for key, value in model.to_arrays().items()})
        metadata = {"model": name, "n_users": int(data.user_pks.size), "n_items": int(data.product_pks.size)}
        if search:
            metadata["search"] = search
        registry.store_artifact(version, arrays, metadata=metadata)
        step(75, "Precomputing every customer's list")
        lists = _user_lists(data, model, int(settings["LIST_LENGTH"]), version)
        lists += _popular_lists(data, settings, version)
        with transaction.atomic():
            RecommendationList.objects.bulk_create(lists, batch_size=1000)
        metrics["train_seconds"] = round(time.perf_counter() - started, 2)
        registry.finish(version, metrics)
    except Exception as exc:
        registry.fail(version, exc)
        raise
    activated, message = False, f"{version} is ready (not activated)."
    if activate:
        activated, message = registry.promote(version, training_minimums(data, settings),
                                              compare_on=str(settings["COMPARE_ON"]))
        if not activated:
            message = f"{message} It stays ready (with its lists, for an A/B test)."
    prune_lists(keep=version)
    version.refresh_from_db()
    seconds = time.perf_counter() - started
    message = f"Trained {reason}. {message}"
    logger.info("Recommender training: %s (%.1f s)", message, seconds)
    return TrainResult(version, activated, message, dict(version.metrics), seconds, len(lists), name, reason)


def _search(frame: pd.DataFrame, items: pd.DataFrame, end: pd.Timestamp, settings: dict[str, Any],
            step: Progress) -> tuple[dict[str, Any], dict[str, float], dict[str, Any]]:
    """The hybrid's settings chosen by the search (:mod:`.tuning`), their validation metrics and the search."""
    budget = settings["SEARCH"]
    step(10, f"Searching the hybrid's settings on the last {settings['VALIDATION_DAYS']} days "
             f"(at most {budget['MAX_TRIALS']} trials, {budget['TIME_BUDGET_S']} s)")
    active = registry.active_version(KIND)
    random_state = int(settings["RANDOM_STATE"])
    result = tuning.search(frame, items, end, settings,
                           build=lambda chosen: make_model("hybrid", random_state, chosen),
                           active=active.params if active is not None else None,
                           progress=lambda spent, stage: step(10 + int(28 * spent), stage))
    return result.settings, result.metrics, result.summary


def request_retrain(model: str | None = None) -> tuple[bool, str]:
    """Queue a training run (run in-process without a broker); ``(ok, message)`` for the admin."""
    try:
        jobs.enqueue("personalization.retrain_recommenders", model)
    except TrainingError as exc:  # eager mode: the run happened here and could not train
        return False, str(exc)
    except Exception as exc:  # noqa: BLE001 - a broker that is down is a message, not a 500
        logger.exception("Could not queue the recommender training.")
        return False, f"Could not queue the training: {exc}"
    return True, "Recommender training queued; its progress shows in the list below."
