"""Training the served recommender: read purchases, fit, validate, store a ModelVersion, precompute lists.

One run (:func:`train`) under a job lock:

1. purchases of signed-in customers from the Event log and the catalogue through the adapter;
2. the served model is fitted on everything before ``end - VALIDATION_DAYS`` and scored on the last
   ``VALIDATION_DAYS`` exactly like the offline protocol (``personalization.ml.evaluation``); for the hybrid
   this is the search of its settings (:mod:`.tuning`, ``SEARCH``), whose best trial is the validation;
3. it is fitted again on all the data (the hybrid with the chosen settings, kept in ``metadata["search"]``);
   the artifact holds its arrays plus the serving tables (similar items, bought together with lift, product ids);
4. every customer's "for you" list and the shared lists (best sellers overall, per category, per
   segment) are written as :class:`~personalization.models.RecommendationList` rows of the version: here,
   or with ``LIST_SHARDS`` > 1 by a Celery chord of customer shards on the ``ml`` workers (:mod:`.precompute`),
   whose last step (:func:`finish_fan_out`) carries on with 5.;
5. the version is activated only if it beats the active one on ``COMPARE_ON`` (else
   :class:`~personalization.ops.registry.NotBetter`: it stays *ready* with its lists, for an A/B test).
"""
from __future__ import annotations

import dataclasses
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
from celery import chord, current_app, group
from celery.backends.base import DisabledBackend
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
from . import experiments, precompute, tuning
from .blend import RepeatThenNeighbours
from .config import DEFAULTS, KIND, rec_settings
from .data import TrainingData, build_training_data, item_table, purchase_frame

logger = logging.getLogger(__name__)
LOCK_NAME = "recommender.train"
MODEL_CHOICES = ("auto", "hybrid", "simple", "popular")
Progress = Callable[[int, str], None]
SHARD_TASK = "personalization.precompute_lists_shard"
FINISH_TASK = "personalization.finish_precomputed_lists"
FAILED_TASK = "personalization.precomputed_lists_failed"


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
    pending: bool = False  # its lists are being precomputed by ml workers; they activate it (LIST_SHARDS > 1)


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
    handed_over = False  # the lock passes to the chord's last step while ml workers precompute the lists
    try:
        registry.fail_abandoned(KIND)
        with limited_threads():  # SHOPSENSE_THREADS: implicit, numpy/scipy BLAS, scikit-learn and torch
            result = _train(model or settings["MODEL"], settings, activate, progress, owner)
        handed_over = result.pending
        return result
    finally:
        if not handed_over:
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


def _train(requested: str, settings: dict[str, Any], activate: bool, progress: Progress | None,
           owner: str) -> TrainResult:
    started, started_at = time.perf_counter(), time.time()
    say = progress or (lambda percent, stage: None)
    shards = int(settings["LIST_SHARDS"])
    if shards > 1 and not current_app.conf.task_always_eager and isinstance(current_app.backend, DisabledBackend):
        raise TrainingError('PERSONALIZATION["RECOMMENDATIONS"]["LIST_SHARDS"] > 1 needs a Celery result backend '
                            "(CELERY_RESULT_BACKEND, e.g. the Redis of the broker) to know when every shard is done.")
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
        arrays.update(precompute.seen_arrays(data.interactions.seen()))
        arrays.update({f"model/{key}": value for key, value in model.to_arrays().items()})
        metadata = {"model": name, "n_users": int(data.user_pks.size), "n_items": int(data.product_pks.size),
                    "list_length": int(settings["LIST_LENGTH"])}
        if search:
            metadata["search"] = search
        registry.store_artifact(version, arrays, metadata=metadata)
        popular = _popular_lists(data, settings, version)
        if shards > 1:
            with transaction.atomic():
                RecommendationList.objects.bulk_create(popular, batch_size=1000)
        else:
            step(75, "Precomputing every customer's list")
            inputs = precompute.ListInputs(model, data.interactions.seen(), data.user_pks, data.product_pks,
                                           int(settings["LIST_LENGTH"]))
            with transaction.atomic():
                lists = precompute.write_user_lists(inputs, version)
                RecommendationList.objects.bulk_create(popular, batch_size=1000)
            metrics["train_seconds"] = round(time.perf_counter() - started, 2)
            registry.finish(version, metrics)
    except Exception as exc:
        registry.fail(version, exc)
        raise
    minimums = training_minimums(data, settings)
    if shards > 1:
        step(75, f"Precomputing every customer's list in {shards} shards on the ml workers")
        return _fan_out(version, shards, owner=owner, activate=activate, metrics=metrics, minimums=minimums,
                        started_at=started_at, popular=len(popular), name=name, reason=reason)
    activated, message = conclude(version, minimums, activate)
    seconds = time.perf_counter() - started
    message = f"Trained {reason}. {message}"
    logger.info("Recommender training: %s (%.1f s)", message, seconds)
    return TrainResult(version, activated, message, dict(version.metrics), seconds, lists + len(popular), name,
                       reason)


def conclude(version: ModelVersion, minimums: list[registry.Minimum], activate: bool) -> tuple[bool, str]:
    """Activate a version whose lists are written (when asked and it passes :func:`registry.promote`), prune
    the lists of versions no longer needed; ``(activated, message)``."""
    activated, message = False, f"{version} is ready (not activated)."
    if activate:
        activated, message = registry.promote(version, minimums, compare_on=str(rec_settings()["COMPARE_ON"]))
        if not activated:
            message = f"{message} It stays ready (with its lists, for an A/B test)."
    prune_lists(keep=version)
    version.refresh_from_db()
    return activated, message


def _fan_out(version: ModelVersion, shards: int, *, owner: str, activate: bool, metrics: dict[str, float],
             minimums: list[registry.Minimum], started_at: float, popular: int, name: str,
             reason: str) -> TrainResult:
    """Queue the chord: ``shards`` list tasks on the ``ml`` queue, then :func:`finish_fan_out` (which holds
    the lock from here on). Eagerly (no broker) the chord runs here and the result is final."""
    app = current_app
    header = group(app.signature(SHARD_TASK, args=(version.pk, shard, shards)) for shard in range(shards))
    body = app.signature(FINISH_TASK, args=(version.pk, owner, activate, metrics,
                                            [dataclasses.asdict(m) for m in minimums], started_at, popular))
    body.link_error(app.signature(FAILED_TASK, args=(version.pk, owner)))
    try:
        outcome = chord(header)(body)
        final = outcome.get() if app.conf.task_always_eager else None
    except Exception as exc:  # eager: a shard raised here; else the broker refused the chord
        fan_out_failed(version.pk, owner, f"{type(exc).__name__}: {exc}")
        version.refresh_from_db()
        raise TrainingError(f"{version} was trained but not activated: {version.error}") from exc
    version.refresh_from_db()
    if final is not None:
        message = f"Trained {reason}. {final['message']}"
        logger.info("Recommender training: %s (%.1f s)", message, time.time() - started_at)
        return TrainResult(version, bool(final["activated"]), message, dict(version.metrics),
                           time.time() - started_at, int(final["lists"]), name, reason)
    message = (f"Trained {reason}. {version}'s lists are being precomputed in {shards} shards on the ml workers; "
               "it is activated after them if it passes the checks.")
    logger.info("Recommender training: %s", message)
    return TrainResult(version, False, message, dict(metrics), time.time() - started_at, popular, name, reason,
                       pending=True)


def finish_fan_out(shard_lists: list[int], version_id: int, owner: str, activate: bool, metrics: dict[str, float],
                   minimums: list[dict[str, Any]], started_at: float, popular: int) -> dict[str, Any]:
    """The chord's last step once every shard wrote its lists: the version is *ready* with its metrics, then
    activated as in one process (:func:`conclude`), and the training lock released."""
    version = ModelVersion.objects.filter(pk=version_id, kind=KIND).first()
    if version is None or version.status != ModelVersion.Status.TRAINING:
        # A newer run marked it abandoned (its lock had expired): that run owns the lock now.
        logger.warning("Recommender version %s is no longer training; its lists are not activated.", version_id)
        return {"activated": False, "message": f"Version {version_id} is no longer training.", "lists": 0}
    try:
        registry.finish(version, {**metrics, "train_seconds": round(time.time() - started_at, 2)})
        activated, message = conclude(version, [registry.Minimum(**m) for m in minimums], activate)
    finally:
        locks.release(LOCK_NAME, owner)
    logger.info("Recommender training: %s (lists in %d shards)", message, len(shard_lists))
    return {"activated": activated, "message": message, "lists": int(sum(shard_lists)) + popular}


def fan_out_failed(version_id: int, owner: str, reason: str) -> None:
    """A shard failed (or the chord could not be queued): the version is failed with the reason, its lists
    deleted, the lock released; the active version keeps serving."""
    version = ModelVersion.objects.filter(pk=version_id, kind=KIND).first()
    if version is None:
        return
    if version.status == ModelVersion.Status.TRAINING:
        registry.fail(version, f"{precompute.FAILURE_PREFIX}: {reason}")
    elif version.status != ModelVersion.Status.FAILED or not version.error.startswith(precompute.FAILURE_PREFIX):
        return  # abandoned (a newer run holds the lock) or already concluded
    RecommendationList.objects.filter(model_version=version).delete()
    locks.release(LOCK_NAME, owner)
    logger.error("Recommender version %s not activated: %s", version, version.error)


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
