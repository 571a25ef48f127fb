"""Serving recommendations: precomputed lists + request-time rules + a fallback chain.

:func:`recommend` answers one placement for one visitor:

- ``for_you``: neighbours of the items the visitor viewed or carted lately (the session's fresh
  behaviour, no retraining needed) interleaved with the customer's precomputed list, then the
  customer's segment's favourites, then the best sellers;
- ``similar``: item-to-item neighbours of a product, then best sellers of its category;
- ``bought_together``: co-purchases (lift > 1) of a product or of the cart, then similar items;
- ``recently_viewed``: the visitor's own recent views;
- ``best_sellers``: overall or per category.

Request-time rules, always: inactive and out-of-stock products never appear; optionally already-bought
ones are left out; a category filter; at most ``per_category`` items of one category. Lists are read
from the cache (Redis in production) and fall back to the database when the cache is down. Each answer
carries a recommendation id (``<version>-<placement>-<random>``); the products shown are recorded as
``impression`` events with it, and a click (``?rec=`` on the product page) as a ``click`` event.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone

from .. import capture, registry
from ..adapters import get_adapter
from ..conf import personalization_settings
from ..models import CustomerProfile, Event, EventType, ModelVersion, RecommendationList
from . import experiments
from .config import KIND, PLACEMENTS, rec_settings
from .data import product_queryset

logger = logging.getLogger(__name__)
Candidate = tuple[int, float, str]
_TABLES: dict[int, dict[str, Any]] = {}
_TABLES_LOCK = threading.Lock()
CACHE_PREFIX = "shopsense:recs"
_SAFE_KEY = re.compile(r"[A-Za-z0-9:_.-]*")


class InvalidRequest(ValueError):
    """A request the caller got wrong (unknown placement, missing product, bad limit)."""


@dataclass
class RecommendedItem:
    product: Any
    product_id: int
    score: float
    source: str


@dataclass
class Recommendations:
    """One served list: iterate it for the items; ``id`` goes into every item's link as ``?rec=``."""

    id: str
    placement: str
    items: list[RecommendedItem] = field(default_factory=list)
    model_version_id: int | None = None

    def __iter__(self) -> Iterator[RecommendedItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def product_ids(self) -> list[int]:
        return [item.product_id for item in self.items]


def new_recommendation_id(version_id: int | None, placement: str) -> str:
    """``<version or 0>-<placement>-<16 hex>``: the version and placement travel with every click."""
    return f"{version_id or 0}-{placement}-{uuid.uuid4().hex[:16]}"


def version_of_recommendation(recommendation_id: str) -> int | None:
    """The model version named in a recommendation id (None for lists served without a model)."""
    head = recommendation_id.split("-", 1)[0]
    return int(head) if head.isdecimal() and int(head) > 0 else None


# ------------------------------------------------------------------------------------------- storage
def _cache_get(key: str) -> Any:
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - a cache that is down must not take the shop down
        logger.warning("Cache unavailable: reading recommendations from the database.")
        return None


def _cache_set(key: str, value: Any, seconds: int) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:  # noqa: BLE001
        logger.warning("Cache unavailable: recommendations not cached.")


def active_version() -> ModelVersion | None:
    """The active recommender version (None before the first training)."""
    return registry.active_version(KIND)


def tables_of(version: ModelVersion | None) -> dict[str, Any] | None:
    """The serving tables of a version (neighbours, product ids), loaded once per process."""
    if version is None:
        return None
    with _TABLES_LOCK:
        if version.pk in _TABLES:
            return _TABLES[version.pk]
    try:
        arrays = registry.load_artifact(version)
    except registry.ArtifactError:
        logger.exception("Recommendations served without item neighbours.")
        return None
    keys = ("product_pks", "similar_ids", "similar_scores", "together_ids", "together_scores")
    tables: dict[str, Any] = {key: arrays[key] for key in keys if key in arrays}
    if len(tables) != len(keys):
        return None
    tables["index"] = {int(pk): i for i, pk in enumerate(tables["product_pks"])}
    with _TABLES_LOCK:
        if len(_TABLES) >= 2:
            _TABLES.clear()
        _TABLES[version.pk] = tables
    return tables


def stored_list(version: ModelVersion | None, placement: str, *, user_id: int | None = None,
                key: str = "") -> list[Candidate]:
    """A precomputed list of the version (cache first, database when missing or the cache is down)."""
    if version is None:
        return []
    cache_key = f"{CACHE_PREFIX}:v{version.pk}:{placement}:{'u' + str(user_id) if user_id else 'k' + _safe_key(key)}"
    cached = _cache_get(cache_key)
    if cached is not None:
        return cached
    query = RecommendationList.objects.filter(model_version=version, placement=placement)
    query = query.filter(user_id=user_id) if user_id else query.filter(user__isnull=True, key=key)
    row = query.order_by("-id").values_list("items", "scores", "sources").first()
    result = [] if row is None else [(int(p), float(s), str(src)) for p, s, src in zip(*row, strict=False)]
    _cache_set(cache_key, result, int(rec_settings()["CACHE_SECONDS"]))
    return result


def _safe_key(key: str) -> str:
    """``key`` when it is a valid cache key part, else its digest (category names hold spaces and ``&``)."""
    if _SAFE_KEY.fullmatch(key):
        return key
    return "h" + hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


def live_best_sellers(limit: int = 100) -> list[Candidate]:
    """Products with the most buyers in the last 90 days, straight from the events (no model needed)."""
    cache_key = f"{CACHE_PREFIX}:live-best-sellers"
    cached = _cache_get(cache_key)
    if cached is not None:
        return cached
    since = timezone.now() - dt.timedelta(days=int(rec_settings()["POPULAR_WINDOW_DAYS"]))
    rows = (Event.objects.filter(event_type=EventType.PURCHASE, product__isnull=False, timestamp__gte=since)
            .values("product_id").annotate(n=Count("id")).order_by("-n", "product_id")[:limit])
    result = [(int(r["product_id"]), float(r["n"]), "best seller") for r in rows]
    if not result:  # old data (an import): the most bought ever
        rows = (Event.objects.filter(event_type=EventType.PURCHASE, product__isnull=False)
                .values("product_id").annotate(n=Count("id")).order_by("-n", "product_id")[:limit])
        result = [(int(r["product_id"]), float(r["n"]), "best seller") for r in rows]
    _cache_set(cache_key, result, 600)
    return result


# ------------------------------------------------------------------------------------------ behaviour
def _actor_q(user_id: int | None, session_key: str) -> Q | None:
    q = None
    if user_id:
        q = Q(user_id=user_id)
    if session_key:
        q = Q(session_key=session_key) if q is None else q | Q(session_key=session_key)
    return q


def recent_products(user_id: int | None, session_key: str, n: int,
                    types: Sequence[str] = (EventType.VIEW, EventType.CART)) -> list[int]:
    """The visitor's most recently viewed / carted products, newest first, without repeats."""
    q = _actor_q(user_id, session_key)
    if q is None:
        return []
    rows = (Event.objects.filter(q, event_type__in=list(types), product__isnull=False)
            .order_by("-timestamp", "-id").values_list("product_id", flat=True)[: n * 5])
    out: list[int] = []
    for pk in rows:
        if pk not in out:
            out.append(int(pk))
        if len(out) >= n:
            break
    return out


def bought_products(user_id: int | None, session_key: str) -> set[int]:
    """Everything the visitor bought."""
    q = _actor_q(user_id, session_key)
    if q is None:
        return set()
    return set(Event.objects.filter(q, event_type=EventType.PURCHASE, product__isnull=False)
               .values_list("product_id", flat=True).distinct())


def neighbours(tables: dict[str, Any] | None, product_ids: Sequence[int], table: str, source: str,
               weights: Sequence[float] | None = None) -> list[Candidate]:
    """Products next to ``product_ids`` in a neighbour table (``similar`` / ``together``), best first."""
    if tables is None or not product_ids:
        return []
    index, pks = tables["index"], tables["product_pks"]
    ids, vals = tables[f"{table}_ids"], tables[f"{table}_scores"]
    totals: dict[int, float] = {}
    for rank, pk in enumerate(product_ids):
        row = index.get(int(pk))
        if row is None:
            continue
        weight = weights[rank] if weights is not None else 1.0
        for item, value in zip(ids[row], vals[row], strict=True):
            if item < 0:
                continue
            key = int(pks[item])
            totals[key] = totals.get(key, 0.0) + weight * float(value)
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(pk, score, source) for pk, score in ranked]


def interleave(*lists: Sequence[Candidate]) -> list[Candidate]:
    """Alternate between lists (first of each, then second of each, ...)."""
    out: list[Candidate] = []
    for row in range(max((len(x) for x in lists), default=0)):
        out.extend(x[row] for x in lists if row < len(x))
    return out


# ------------------------------------------------------------------------------------------- rules
def apply_rules(candidates: Iterable[Candidate], limit: int, *, category: str | None = None,
                per_category: int = 0, exclude: Iterable[int] = ()) -> list[RecommendedItem]:
    """The first ``limit`` candidates that pass the rules, in order, each product once.

    Rules: active, in stock (when the adapter knows stock), not in ``exclude``, in ``category`` when
    given, at most ``per_category`` per category when > 0.
    """
    excluded = set(exclude)
    ordered: list[Candidate] = []
    seen: set[int] = set()
    for pk, score, source in candidates:
        if pk in seen or pk in excluded:
            continue
        seen.add(pk)
        ordered.append((pk, score, source))
    if not ordered or limit <= 0:
        return []
    adapter = get_adapter()
    tracks_stock = bool(personalization_settings.PRODUCT_FIELDS.get("stock"))
    out: list[RecommendedItem] = []
    per_cat: dict[str, int] = {}
    chunk = max(limit * 4, 50)
    for lo in range(0, len(ordered), chunk):
        block = ordered[lo:lo + chunk]
        products = {p.pk: p for p in adapter.active_products().filter(pk__in=[pk for pk, _, _ in block])
                    .select_related(*_category_relation())}
        for pk, score, source in block:
            product = products.get(pk)
            if product is None or not adapter.is_active(product):
                continue
            if tracks_stock and adapter.get_stock(product) <= 0:
                continue
            cat = adapter.get_category(product) or ""
            if category and cat != category:
                continue
            if per_category and per_cat.get(cat, 0) >= per_category:
                continue
            per_cat[cat] = per_cat.get(cat, 0) + 1
            out.append(RecommendedItem(product, pk, round(float(score), 6), source))
            if len(out) >= limit:
                return out
    return out


def _category_relation() -> tuple[str, ...]:
    relation = product_queryset().query.select_related
    return tuple(relation) if isinstance(relation, dict) else ()


# ------------------------------------------------------------------------------------------ entry
def recommend(
    placement: str,
    *,
    user: Any = None,
    session_key: str = "",
    product_ids: Sequence[int] = (),
    limit: int = 8,
    category: str | None = None,
    exclude_bought: bool = False,
    per_category: int | None = None,
    record_impressions: bool | None = None,
) -> Recommendations:
    """One placement's list for a visitor (see the module docstring). Raises :class:`InvalidRequest`."""
    if placement not in PLACEMENTS:
        raise InvalidRequest(f"Unknown placement {placement!r}; choose one of {', '.join(PLACEMENTS)}.")
    if placement in {"similar", "bought_together"} and not product_ids:
        raise InvalidRequest(f"The {placement} placement needs a product.")
    if not 1 <= int(limit) <= 100:
        raise InvalidRequest("limit must be between 1 and 100.")
    settings = rec_settings()
    user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
    version = experiments.assign(active_version(), user_id, session_key)
    tables = tables_of(version)
    popular = stored_list(version, "best_sellers", key="popular") or live_best_sellers()
    exclude: set[int] = set(product_ids)
    if exclude_bought:
        exclude |= bought_products(user_id, session_key)
    chain: list[Sequence[Candidate]]
    if placement == "for_you":
        recent = recent_products(user_id, session_key, int(settings["SESSION_ITEMS"]))
        weights = [1.0 / (1 + rank) for rank in range(len(recent))]
        session = interleave(neighbours(tables, recent, "together", "because you viewed", weights),
                             neighbours(tables, recent, "similar", "because you viewed", weights))
        own = stored_list(version, "for_you", user_id=user_id) if user_id else []
        chain = [interleave(session, own) if own else session]
        if user_id:
            cluster = CustomerProfile.objects.filter(user_id=user_id).values_list("cluster", flat=True).first()
            if cluster is not None:
                chain.append(stored_list(version, "best_sellers", key=f"segment:{cluster}"))
        exclude |= set(recent[:1])  # not the page they have just seen
    elif placement == "similar":
        chain = [neighbours(tables, product_ids, "similar", "similar item"),
                 [(pk, s, "best seller in category") for pk, s, _ in _category_lists(version, product_ids)]]
    elif placement == "bought_together":
        chain = [neighbours(tables, product_ids, "together", "bought together"),
                 neighbours(tables, product_ids, "similar", "similar item")]
        popular = []
    elif placement == "recently_viewed":
        recent = recent_products(user_id, session_key, 50, types=(EventType.VIEW,))
        chain = [[(pk, 1.0 / (1 + rank), "recently viewed") for rank, pk in enumerate(recent)]]
        popular = []
    else:  # best_sellers
        chain = [stored_list(version, "best_sellers", key=f"category:{category}")] if category else []
    if category:
        chain.append(stored_list(version, "best_sellers", key=f"category:{category}"))
    chain.append(popular)
    per_cat = int(settings["PER_CATEGORY"] if per_category is None else per_category)
    items = apply_rules((c for part in chain for c in part), int(limit), category=category,
                        per_category=per_cat, exclude=exclude)
    result = Recommendations(new_recommendation_id(version.pk if version else None, placement), placement,
                             items, version.pk if version else None)
    if record_impressions if record_impressions is not None else settings["RECORD_IMPRESSIONS"]:
        record_impression_events(result, user_id, session_key)
    return result


def _category_lists(version: ModelVersion | None, product_ids: Sequence[int]) -> list[Candidate]:
    adapter = get_adapter()
    out: list[Candidate] = []
    for product in product_queryset().filter(pk__in=list(product_ids)):
        out.extend(stored_list(version, "best_sellers", key=f"category:{adapter.get_category(product)}"))
    return out


def record_impression_events(result: Recommendations, user_id: int | None, session_key: str) -> int:
    """One ``impression`` event per product shown, with the list's recommendation id (never raises)."""
    if not result.items or not (user_id or session_key):
        return 0
    try:
        events = [capture.build_event(event_type=EventType.IMPRESSION, product_id=item.product_id, user_id=user_id,
                                      session_key=session_key, recommendation_id=result.id)
                  for item in result.items]
        return capture.record_events(events)
    except Exception:  # noqa: BLE001 - a page never fails because an impression was not stored
        logger.exception("Impressions of %s not recorded.", result.id)
        return 0

