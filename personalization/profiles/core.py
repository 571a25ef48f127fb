"""The Django-free core of customer profiles: order lines in, one row per customer out.

:func:`compute_profiles` takes every order line (a pandas frame) and the products' categories and
list prices, and computes per customer: first and last purchase, orders, revenue, basket size and
value, RFM scores and segment, category affinity, price sensitivity, wholesale or retail, BG/NBD +
Gamma-Gamma lifetime value, and a K-means segment with its 2-D PCA position. It returns the profiles
and the fitted state (:class:`ProfileResult`); :func:`apply_order` later folds one new order into a
stored profile using that state, without refitting anything.

``personalization.profiles.services`` reads the data through the shop adapter and writes the results; the
benchmark calls this module directly on synthetic data.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..ml.clv import BetaGeoFitter, GammaGammaFitter, compress
from ..ml.rfm import RFMScorer, rfm_segments
from ..ml.segmentation import CustomerSegmenter, describe_centroid

ProgressCallback = Callable[[int, str], None]
LINE_COLUMNS = ("user_id", "order_id", "product_id", "quantity", "price", "placed_at")
DAY_NS = 86_400 * 10**9
TOP_CATEGORIES = 5
STATE_VERSION = 1


@dataclass(frozen=True)
class Feature:
    """One clustering feature: the profile column, how it is transformed, and words for its extremes."""

    name: str
    title: str
    transform: str  # "log1p", "log" or "none"
    high: str
    low: str

    def forward(self, values: np.ndarray) -> np.ndarray:
        if self.transform == "log1p":
            return np.log1p(np.maximum(values, 0.0))
        if self.transform == "log":
            return np.log(np.clip(values, 0.05, 20.0))
        return values

    def inverse(self, values: np.ndarray) -> np.ndarray:
        if self.transform == "log1p":
            return np.expm1(values)
        if self.transform == "log":
            return np.exp(values)
        return values


FEATURES: tuple[Feature, ...] = (
    Feature("recency_days", "Days since last purchase", "log1p", "lapsed", "recent"),
    Feature("orders", "Orders", "log1p", "frequent", "infrequent"),
    Feature("revenue", "Revenue", "log1p", "high value", "low value"),
    Feature("average_order_value", "Average order value", "log1p", "high order value", "low order value"),
    Feature("average_basket_units", "Units per order", "log1p", "large baskets", "small baskets"),
    Feature("price_index", "Price paid vs category median", "log", "premium prices", "bargain prices"),
    Feature("discount_share", "Share of lines below list price", "none", "discount buyers", "full-price buyers"),
)
FEATURE_WORDS = {feature.name: (feature.high, feature.low) for feature in FEATURES}


@dataclass(frozen=True)
class ProfileConfig:
    """Settings of one build (see ``PERSONALIZATION["PROFILES"]``)."""

    k_range: tuple[int, int] = (2, 8)
    wholesale_basket_units: float = 100.0
    horizon_days: float = 90.0
    clv_max_fit_customers: int = 200_000
    scatter_points: int = 2_000
    random_state: int = 0


@dataclass
class ProfileResult:
    """Profiles (one row per customer, indexed by user id) and what the build learned."""

    profiles: pd.DataFrame
    as_of: pd.Timestamp
    data_until: pd.Timestamp | None
    lines: int
    k: int | None = None
    silhouette: float | None = None
    silhouette_by_k: dict[str, float] = field(default_factory=dict)
    explained_variance: list[float] = field(default_factory=list)
    clv_params: dict[str, Any] = field(default_factory=dict)
    model_state: dict[str, Any] = field(default_factory=dict)
    segments: list[dict[str, Any]] = field(default_factory=list)
    points: list[list[float]] = field(default_factory=list)


def segment_code(name: str) -> str:
    """``"Can't Lose Them"`` -> ``"cant_lose_them"`` (the stored choice value)."""
    return name.lower().replace("'", "").replace(" ", "_")


def _report(progress: ProgressCallback | None, percent: int, stage: str) -> None:
    if progress is not None:
        progress(percent, stage)


def _day_numbers(times: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Whole UTC days since the epoch."""
    return np.asarray(times.astype("int64"), dtype=np.int64) // DAY_NS if len(times) else np.zeros(0, dtype=np.int64)


# --- aggregation -------------------------------------------------------------------------------
def aggregate_customers(
    lines: pd.DataFrame, products: pd.DataFrame, as_of: pd.Timestamp, config: ProfileConfig
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-customer purchase facts from order lines; also the typical (median) price per category."""
    lines = lines.loc[lines["user_id"].notna() & (lines["quantity"] > 0)]
    quantity = lines["quantity"].to_numpy(dtype=np.float64)
    price = lines["price"].to_numpy(dtype=np.float64)
    placed_ns = np.asarray(lines["placed_at"].astype("int64"), dtype=np.int64)
    amount = quantity * price

    # categories as small integers (-1: unknown product or no category), looked up per product once
    category_codes, category_names = pd.factorize(products["category"], use_na_sentinel=True)
    position = products.index.get_indexer(lines["product_id"].to_numpy(dtype=np.int64))
    known = position >= 0
    safe = np.where(known, position, 0)
    category = np.where(known, category_codes[safe], -1)
    list_price = np.where(known, products["list_price"].to_numpy(dtype=np.float64)[safe], np.nan)

    # customers (sorted ids) and orders: every line of an order has the same customer and time
    user_index, users = pd.factorize(lines["user_id"].to_numpy(dtype=np.int64), sort=True)
    n = len(users)
    order_index, order_codes = pd.factorize(lines["order_id"].to_numpy(dtype=np.int64))
    order_user_index = np.zeros(len(order_codes), dtype=np.int64)
    order_user_index[order_index] = user_index
    order_time = np.zeros(len(order_codes), dtype=np.int64)
    order_time[order_index] = placed_ns

    orders = np.bincount(order_user_index, minlength=n)
    revenue = np.bincount(user_index, weights=amount, minlength=n)
    units = np.bincount(user_index, weights=quantity, minlength=n)
    line_count = np.bincount(user_index, minlength=n)
    span = pd.Series(order_time).groupby(order_user_index).agg(["min", "max"])
    first = span["min"].to_numpy(dtype=np.int64)
    last = span["max"].to_numpy(dtype=np.int64)
    days = order_time // DAY_NS
    purchase_days = np.bincount(pd.unique(order_user_index * (1 << 32) + days) >> 32, minlength=n)

    # price sensitivity: price paid against the category's median price paid, and lines below list price
    with_category = category >= 0
    medians = pd.Series(price[with_category]).groupby(category[with_category]).median()
    typical_by_code = np.full(len(category_names) + 1, np.nan)
    typical_by_code[medians.index.to_numpy()] = medians.to_numpy()
    typical_price = typical_by_code[category]  # code -1 reads the trailing NaN
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = price / typical_price
    has_ratio = np.isfinite(ratio) & (typical_price > 0)
    ratio_sum = np.bincount(user_index, weights=np.where(has_ratio, ratio, 0.0), minlength=n)
    ratio_count = np.bincount(user_index, weights=has_ratio.astype(np.float64), minlength=n)
    has_list = np.isfinite(list_price) & (list_price > 0)
    below = has_list & (price < list_price - 0.005)
    below_count = np.bincount(user_index, weights=below.astype(np.float64), minlength=n)
    list_count = np.bincount(user_index, weights=has_list.astype(np.float64), minlength=n)

    with np.errstate(invalid="ignore", divide="ignore"):
        frame = pd.DataFrame(
            {
                "first_ns": first,
                "last_ns": last,
                "orders": orders.astype(np.int64),
                "purchase_days": purchase_days.astype(np.int64),
                "lines": line_count.astype(np.int64),
                "units": units.astype(np.int64),
                "revenue": revenue,
                "average_order_value": revenue / orders,
                "average_basket_units": units / orders,
                "price_index": np.where(ratio_count > 0, ratio_sum / ratio_count, np.nan),
                "discount_share": np.where(list_count > 0, below_count / list_count, np.nan),
            },
            index=pd.Index(np.asarray(users), name="user_id"),
        )
    frame["buyer_type"] = np.where(
        frame["average_basket_units"] >= config.wholesale_basket_units, "wholesale", "retail"
    )
    as_of_ns = int(as_of.value)
    frame["recency_days"] = np.maximum((as_of_ns - last) // DAY_NS, 0)
    frame["first_day"] = first // DAY_NS
    frame["last_day"] = last // DAY_NS
    names = [str(name) for name in category_names]
    affinity, top = _category_affinity(
        user_index[with_category], category[with_category], amount[with_category], revenue, names
    )
    frame["category_affinity"] = affinity
    frame["top_category"] = top
    typical = {names[int(code)]: float(value) for code, value in medians.items()}
    return frame, typical


def _category_affinity(
    user_index: np.ndarray, category: np.ndarray, amount: np.ndarray, revenue: np.ndarray, names: list[str]
) -> tuple[list[dict[str, float]], list[str]]:
    """Per customer, the share of spend of their (up to five) biggest categories."""
    n = len(revenue)
    affinity: list[dict[str, float]] = [{} for _ in range(n)]
    top = [""] * n
    if not len(user_index):
        return affinity, top
    n_categories = len(names)
    pair_index, pairs = pd.factorize(user_index.astype(np.int64) * n_categories + category)
    spend = np.bincount(pair_index, weights=amount)
    pair_user, pair_category = pairs // n_categories, pairs % n_categories
    # by customer, biggest spend first (ties: category order), then the first five of each customer
    order = np.lexsort((pair_category, -spend, pair_user))
    pair_user, pair_category, spend = pair_user[order], pair_category[order], spend[order]
    starts = np.flatnonzero(np.r_[True, pair_user[1:] != pair_user[:-1]])
    rank = np.arange(len(pair_user)) - np.repeat(starts, np.diff(np.r_[starts, len(pair_user)]))
    keep = rank < TOP_CATEGORIES
    pair_user, pair_category, spend = pair_user[keep], pair_category[keep], spend[keep]
    share = np.round(spend / np.maximum(revenue[pair_user], 1e-12), 4).tolist()
    labels = np.asarray(names, dtype=object)[pair_category].tolist()
    who = pair_user.tolist()
    starts = np.flatnonzero(np.r_[True, pair_user[1:] != pair_user[:-1]]).tolist()
    ends = [*starts[1:], len(who)]
    for start, end in zip(starts, ends, strict=True):
        customer = who[start]
        affinity[customer] = dict(zip(labels[start:end], share[start:end], strict=True))
        top[customer] = labels[start]
    return affinity, top


# --- lifetime value ----------------------------------------------------------------------------
def fit_clv(frame: pd.DataFrame, as_of_day: int, config: ProfileConfig) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Fit BG/NBD and Gamma-Gamma on purchase days; predictions for every customer.

    A purchase is a day with at least one order (several orders on one day count once), the time
    unit is the day, and the customer's age runs from the first purchase to the reference day.
    """
    n = len(frame)
    empty = {name: np.full(n, np.nan) for name in ("expected_purchases", "probability_alive", "expected_order_value")}
    x = (frame["purchase_days"].to_numpy() - 1).astype(np.float64)
    t_x = (frame["last_day"].to_numpy() - frame["first_day"].to_numpy()).astype(np.float64)
    age = np.maximum(as_of_day - frame["first_day"].to_numpy(), t_x).astype(np.float64)
    spend = frame["revenue"].to_numpy() / frame["purchase_days"].to_numpy()
    info: dict[str, Any] = {"unit": "day", "horizon_days": config.horizon_days}
    if n < 20 or not np.any(x > 0):
        info["skipped"] = "Too few customers with repeat purchases to fit the lifetime-value models."
        return info, empty
    rng = np.random.default_rng(config.random_state)
    fit_rows = (
        np.arange(n)
        if n <= config.clv_max_fit_customers
        else rng.choice(n, config.clv_max_fit_customers, replace=False)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        (cx, ct, cT), counts = compress(x[fit_rows], t_x[fit_rows], age[fit_rows])
        bgnbd = BetaGeoFitter().fit(cx, ct, cT, weights=counts)
        expected = bgnbd.conditional_expected_number_of_purchases_up_to_time(config.horizon_days, x, t_x, age)
        alive = bgnbd.conditional_probability_alive(x, t_x, age)
        positive = fit_rows[spend[fit_rows] > 0]
        gamma = GammaGammaFitter().fit(x[positive] + 1, spend[positive])
        order_value = gamma.conditional_expected_average_profit(x + 1, np.maximum(spend, 0.0))
    info.update(
        bgnbd=bgnbd.params_,
        bgnbd_log_likelihood=bgnbd.log_likelihood_,
        bgnbd_converged=bgnbd.converged_,
        gamma_gamma=gamma.params_,
        gamma_gamma_log_likelihood=gamma.log_likelihood_,
        gamma_gamma_converged=gamma.converged_,
        fitted_customers=int(len(fit_rows)),
    )
    return info, {
        "expected_purchases": np.where(np.isfinite(expected), expected, np.nan),
        "probability_alive": alive,
        "expected_order_value": np.where(np.isfinite(order_value), order_value, np.nan),
    }


# --- segments ----------------------------------------------------------------------------------
def feature_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The clustering features of each profile, transformed (see :data:`FEATURES`)."""
    columns = []
    for feature in FEATURES:
        values = frame[feature.name].to_numpy(dtype=np.float64)
        neutral = 1.0 if feature.name == "price_index" else 0.0
        columns.append(feature.forward(np.where(np.isfinite(values), values, neutral)))
    return np.column_stack(columns)


def _previous_centroids(previous_state: Mapping[str, Any] | None) -> tuple[np.ndarray | None, list[int] | None]:
    segmenter = (previous_state or {}).get("segmenter") or {}
    names = (previous_state or {}).get("features")
    if not segmenter or names != [feature.name for feature in FEATURES]:
        return None, None
    centers = np.asarray(segmenter["centers"], dtype=np.float64)
    raw = centers * np.asarray(segmenter["scale"]) + np.asarray(segmenter["mean"])
    return raw, list(segmenter["ids"])


def segment_customers(
    frame: pd.DataFrame, config: ProfileConfig, previous_state: Mapping[str, Any] | None
) -> tuple[CustomerSegmenter, list[dict[str, Any]]]:
    """K-means segments of the profiles, ids matched to the previous build's clusters."""
    X = feature_matrix(frame)
    previous_centroids, previous_ids = _previous_centroids(previous_state)
    segmenter = CustomerSegmenter(k_range=config.k_range, random_state=config.random_state)
    segmenter.fit(X, previous_centroids, previous_ids)
    names = [feature.name for feature in FEATURES]
    raw_centroids = segmenter.centroids()
    centroid_xy = segmenter.project(raw_centroids)
    n = len(frame)
    segments = []
    for row, cluster_id in enumerate(segmenter.cluster_ids_.tolist()):
        size = int(segmenter.sizes_[row])
        z = segmenter.cluster_centers_[row]
        segments.append(
            {
                "cluster_id": int(cluster_id),
                "label": describe_centroid(z, names, FEATURE_WORDS),
                "size": size,
                "share": size / n if n else 0.0,
                "centroid": {
                    feature.name: round(float(feature.inverse(np.array([raw_centroids[row, i]]))[0]), 4)
                    for i, feature in enumerate(FEATURES)
                },
                "centroid_z": {name: round(float(value), 4) for name, value in zip(names, z, strict=True)},
                "xy": [round(float(v), 4) for v in centroid_xy[row]],
            }
        )
    segments.sort(key=lambda segment: segment["cluster_id"])
    return segmenter, segments


# --- the whole build ---------------------------------------------------------------------------
def empty_lines() -> pd.DataFrame:
    """A frame with the columns :func:`compute_profiles` expects and no rows."""
    return pd.DataFrame(
        {
            "user_id": pd.Series(dtype="int64"),
            "order_id": pd.Series(dtype="int64"),
            "product_id": pd.Series(dtype="int64"),
            "quantity": pd.Series(dtype="int64"),
            "price": pd.Series(dtype="float64"),
            "placed_at": pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )


def compute_profiles(
    lines: pd.DataFrame,
    products: pd.DataFrame,
    *,
    as_of: pd.Timestamp | None = None,
    config: ProfileConfig | None = None,
    previous_state: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> ProfileResult:
    """Profiles of every customer with a purchase in ``lines``.

    ``lines`` has the columns :data:`LINE_COLUMNS` (``placed_at`` timezone-aware); guest lines
    (``user_id`` missing) are ignored. ``products`` is indexed by product id with ``category`` and
    ``list_price``. ``as_of`` (default: the latest order) is the reference time of recency and age.
    """
    config = config or ProfileConfig()
    missing = [column for column in LINE_COLUMNS if column not in lines.columns]
    if missing:
        raise ValueError(f"Order lines lack the columns {missing}.")
    lines = lines.loc[lines["user_id"].notna()]
    data_until = lines["placed_at"].max() if len(lines) else None
    if as_of is None:
        as_of = data_until if data_until is not None else pd.Timestamp.now(tz="UTC")
    as_of = pd.Timestamp(as_of).tz_convert("UTC") if pd.Timestamp(as_of).tzinfo else pd.Timestamp(as_of, tz="UTC")
    result = ProfileResult(profiles=pd.DataFrame(), as_of=as_of, data_until=data_until, lines=len(lines))
    if not len(lines):
        result.model_state = {"version": STATE_VERSION, "features": [f.name for f in FEATURES]}
        return result

    _report(progress, 30, "Aggregating purchases")
    frame, typical = aggregate_customers(lines, products, as_of, config)

    _report(progress, 45, "Scoring recency, frequency and monetary value")
    scorer = RFMScorer().fit(frame["recency_days"], frame["orders"], frame["revenue"])
    r, f, m = scorer.transform(frame["recency_days"], frame["orders"], frame["revenue"])
    frame["recency_score"], frame["frequency_score"], frame["monetary_score"] = r, f, m
    frame["rfm_segment"] = [segment_code(name) for name in rfm_segments(r, f, m)]

    _report(progress, 55, "Fitting lifetime-value models")
    clv_info, clv = fit_clv(frame, int(as_of.value) // DAY_NS, config)
    frame["expected_purchases_90d"] = clv["expected_purchases"]
    frame["probability_alive"] = clv["probability_alive"]
    frame["expected_order_value"] = clv["expected_order_value"]
    frame["clv_90d"] = clv["expected_purchases"] * clv["expected_order_value"]

    _report(progress, 70, "Clustering customers")
    segmenter, segments = segment_customers(frame, config, previous_state)
    frame["cluster"] = segmenter.labels_
    frame["pca_x"] = segmenter.projection_[:, 0]
    frame["pca_y"] = segmenter.projection_[:, 1]

    frame["first_purchase_at"] = pd.to_datetime(frame["first_ns"], utc=True)
    frame["last_purchase_at"] = pd.to_datetime(frame["last_ns"], utc=True)
    result.profiles = frame.drop(columns=["first_ns", "last_ns", "first_day", "last_day"])
    result.k = int(segmenter.k_)
    result.silhouette = segmenter.silhouette_
    result.silhouette_by_k = {str(k): float(v) for k, v in segmenter.silhouette_by_k_.items()}
    result.explained_variance = [round(float(v), 4) for v in segmenter.explained_variance_ratio_]
    result.clv_params = clv_info
    result.segments = segments
    result.points = _scatter_sample(segmenter, config)
    result.model_state = {
        "version": STATE_VERSION,
        "features": [feature.name for feature in FEATURES],
        "rfm_cuts": scorer.cuts_as_lists(),
        "typical_category_price": typical,
        "wholesale_basket_units": config.wholesale_basket_units,
        "horizon_days": config.horizon_days,
        "clv": {key: clv_info[key] for key in ("bgnbd", "gamma_gamma") if key in clv_info},
        "segmenter": segmenter.state(),
        "labels": {str(segment["cluster_id"]): segment["label"] for segment in segments},
        "centroid_xy": {str(segment["cluster_id"]): segment["xy"] for segment in segments},
    }
    return result


def _scatter_sample(segmenter: CustomerSegmenter, config: ProfileConfig) -> list[list[float]]:
    n = len(segmenter.labels_)
    rng = np.random.default_rng(config.random_state)
    rows = np.arange(n) if n <= config.scatter_points else np.sort(rng.choice(n, config.scatter_points, replace=False))
    xy = np.round(segmenter.projection_[rows], 4)
    return [
        [float(x), float(y), int(c)] for (x, y), c in zip(xy.tolist(), segmenter.labels_[rows].tolist(), strict=True)
    ]


# --- one new order -----------------------------------------------------------------------------
@dataclass(frozen=True)
class NewLine:
    """One line of a new order, with the facts the update needs about its product."""

    quantity: int
    price: float
    category: str | None
    list_price: float | None


def apply_order(
    current: Mapping[str, Any] | None,
    placed_at: pd.Timestamp,
    new_lines: Sequence[NewLine],
    state: Mapping[str, Any] | None,
    as_of: pd.Timestamp | None = None,
) -> dict[str, Any]:
    """The profile values after one more order, scored with a build's stored ``state``.

    ``current`` holds the stored profile's values (``None`` for a first purchase). Scores, segment,
    lifetime value and cluster need a build's state; without one they stay empty until the next
    rebuild. ``as_of`` (default: the order's time) is the reference time of recency and age.
    """
    placed_at = pd.Timestamp(placed_at).tz_convert("UTC")
    as_of = max(pd.Timestamp(as_of).tz_convert("UTC"), placed_at) if as_of is not None else placed_at
    state = state or {}
    amount = sum(line.quantity * line.price for line in new_lines)
    units = sum(line.quantity for line in new_lines)
    old = dict(current or {})
    old_revenue = float(old.get("revenue") or 0.0)
    old_lines = int(old.get("lines") or 0)
    first = min(pd.Timestamp(old["first_purchase_at"]).tz_convert("UTC"), placed_at) if current else placed_at
    last = max(pd.Timestamp(old["last_purchase_at"]).tz_convert("UTC"), placed_at) if current else placed_at
    seen_days = {
        pd.Timestamp(old[key]).tz_convert("UTC").normalize()
        for key in ("first_purchase_at", "last_purchase_at")
        if current
    }
    values: dict[str, Any] = {
        "first_purchase_at": first.to_pydatetime(),
        "last_purchase_at": last.to_pydatetime(),
        "orders": int(old.get("orders") or 0) + 1,
        "purchase_days": int(old.get("purchase_days") or 0) + (0 if placed_at.normalize() in seen_days else 1),
        "lines": old_lines + len(new_lines),
        "units": int(old.get("units") or 0) + units,
        "revenue": old_revenue + amount,
    }
    values["average_order_value"] = values["revenue"] / values["orders"]
    values["average_basket_units"] = values["units"] / values["orders"]
    wholesale = float(state.get("wholesale_basket_units", ProfileConfig.wholesale_basket_units))
    values["buyer_type"] = "wholesale" if values["average_basket_units"] >= wholesale else "retail"
    values["recency_days"] = max(int((as_of - last) / pd.Timedelta(days=1)), 0)

    # category affinity: stored shares back to spend, plus the new lines
    spend = {name: share * old_revenue for name, share in (old.get("category_affinity") or {}).items()}
    for line in new_lines:
        if line.category is not None:
            spend[line.category] = spend.get(line.category, 0.0) + line.quantity * line.price
    ranked = sorted(spend.items(), key=lambda item: (-item[1], item[0]))[:TOP_CATEGORIES]
    total = values["revenue"] or 1.0
    values["category_affinity"] = {name: round(value / total, 4) for name, value in ranked}
    values["top_category"] = ranked[0][0] if ranked else ""

    typical = state.get("typical_category_price") or {}
    ratios = [line.price / typical[line.category] for line in new_lines if typical.get(line.category)]
    old_index = old.get("price_index")
    parts = ([(float(old_index), old_lines)] if old_index is not None and old_lines else []) + [(r, 1) for r in ratios]
    weight = sum(w for _, w in parts)
    values["price_index"] = sum(v * w for v, w in parts) / weight if weight else None
    listed = [line for line in new_lines if line.list_price]
    below = sum(1 for line in listed if line.price < float(line.list_price or 0) - 0.005)
    old_share = old.get("discount_share")
    old_listed = old_lines if old_share is not None else 0
    denominator = old_listed + len(listed)
    values["discount_share"] = (
        ((float(old_share) if old_share is not None else 0.0) * old_listed + below) / denominator
        if denominator
        else None
    )
    values.update(_score_one(values, first, last, as_of, state))
    return values


def _score_one(
    values: Mapping[str, Any], first: pd.Timestamp, last: pd.Timestamp, as_of: pd.Timestamp, state: Mapping[str, Any]
) -> dict[str, Any]:
    """RFM, lifetime value and cluster of one customer with a build's stored models."""
    scored: dict[str, Any] = dict.fromkeys(
        (
            "recency_score",
            "frequency_score",
            "monetary_score",
            "expected_purchases_90d",
            "probability_alive",
            "expected_order_value",
            "clv_90d",
            "cluster",
            "pca_x",
            "pca_y",
        ),
        None,
    )
    scored["rfm_segment"] = ""
    cuts = state.get("rfm_cuts")
    if cuts:
        scorer = RFMScorer.from_cuts(cuts)
        r, f, m = (
            int(a[0]) for a in scorer.transform([values["recency_days"]], [values["orders"]], [values["revenue"]])
        )
        scored.update(recency_score=r, frequency_score=f, monetary_score=m)
        scored["rfm_segment"] = segment_code(str(rfm_segments([r], [f], [m])[0]))
    clv = state.get("clv") or {}
    if "bgnbd" in clv and "gamma_gamma" in clv:
        first_day, last_day, as_of_day = (int(t.value) // DAY_NS for t in (first, last, as_of))
        x = values["purchase_days"] - 1
        t_x, age = last_day - first_day, max(as_of_day - first_day, last_day - first_day)
        bgnbd = BetaGeoFitter.from_params(clv["bgnbd"])
        horizon = float(state.get("horizon_days", 90.0))
        expected = float(bgnbd.conditional_expected_number_of_purchases_up_to_time(horizon, [x], [t_x], [age])[0])
        alive = float(bgnbd.conditional_probability_alive([x], [t_x], [age])[0])
        spend = values["revenue"] / max(values["purchase_days"], 1)
        order_value = float(
            GammaGammaFitter.from_params(clv["gamma_gamma"]).conditional_expected_average_profit(
                [x + 1], [max(spend, 0.0)]
            )[0]
        )
        if math.isfinite(expected) and math.isfinite(order_value):
            scored.update(
                expected_purchases_90d=expected,
                probability_alive=alive,
                expected_order_value=order_value,
                clv_90d=expected * order_value,
            )
    if state.get("segmenter"):
        segmenter = CustomerSegmenter.from_state(state["segmenter"])
        X = feature_matrix(
            pd.DataFrame([{feature.name: values.get(feature.name) for feature in FEATURES}]).astype(float)
        )
        scored["cluster"] = int(segmenter.predict(X)[0])
        scored["pca_x"], scored["pca_y"] = (float(v) for v in segmenter.project(X)[0])
    return scored
