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
ones are left out; a category filter; at most ``per_category`` items of one category. Each answer
carries a recommendation id issued to the visitor (``<version>-<placement>-<random>-<signature>``, see
:mod:`~personalization.capture.rec_ids`); the products shown are recorded as ``impression`` events with it,
and a click (``?rec=`` on the product page) as a ``click`` event.

How a request is served (one Redis round trip when nothing changed, one more for the impressions):

- the active and challenger versions are memoised per process; the registry's generation token is
  read with the request's other keys and a new token (``registry.changed``) reloads them, so an
  activation reaches every server process on its next request (within 5 s when Redis is down);
- the *served list* of (version, placement, parameters, and the visitor for personal placements) is
  cached in Redis as ready-to-send rows (product id, score, source, name, page) with spare items, for
  ``CACHE_SECONDS``; for personal placements it records the newest entries of the visitor's recent
  lists (written by capture with each view, add-to-cart and purchase), so fresh behaviour rebuilds it
  on the very next request, before the events are even flushed to the database;
- unavailable products are dropped from the cached rows with a per-process snapshot of the inactive
  and out-of-stock product ids, refreshed every ``AVAILABILITY_SECONDS`` (default 5): that is how
  long a product that goes out of stock may still be shown. (Adapters whose stock or activity is not a
  database field are checked when a list is built, so within ``CACHE_SECONDS`` only.)

Without Redis every request builds its list from the database (the same code a cache miss runs).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from django.db.models import Count, Q
from django.utils import timezone

from ..capture import buffer, rec_ids
from ..capture import services as capture
from ..host import get_product_model
from ..host.adapters import get_adapter
from ..models import CustomerProfile, Event, EventType, ModelVersion, RecommendationList
from ..ops import redis_conn, registry
from . import experiments, served_cache
from .config import KIND, PLACEMENTS, rec_settings
from .data import product_queryset

logger = logging.getLogger(__name__)
Candidate = tuple[int, float, str]
Row = served_cache.Row
_TABLES: dict[int, dict[str, Any]] = {}
_TABLES_LOCK = threading.Lock()
CACHE_PREFIX = "shopsense:recs"
_SAFE_KEY = re.compile(r"[A-Za-z0-9:_.-]*")
PERSONAL_PLACEMENTS = frozenset({"for_you", "recently_viewed"})
_clock = time.monotonic


class InvalidRequest(ValueError):
    """A request the caller got wrong (unknown placement, missing product, bad limit); ``field`` names it."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclass
class RecommendedItem:
    """One recommended product; ``product`` (the host's object) is loaded on first use, for the whole list."""

    product_id: int
    score: float
    source: str
    name: str = ""
    path: str = ""  # the product's page (without ``?rec=``), empty when it has none
    _product: Any = field(default=None, repr=False)
    _list: Recommendations | None = field(default=None, repr=False)

    @property
    def product(self) -> Any:
        if self._product is None and self._list is not None:
            self._list.load_products()
        return self._product


@dataclass
class Recommendations:
    """One served list: iterate it for the items; ``id`` goes into every item's link as ``?rec=``."""

    id: str
    placement: str
    items: list[RecommendedItem] = field(default_factory=list)
    model_version_id: int | None = None

    def __post_init__(self) -> None:
        for item in self.items:
            item._list = self

    def __iter__(self) -> Iterator[RecommendedItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def product_ids(self) -> list[int]:
        return [item.product_id for item in self.items]

    def load_products(self) -> None:
        """Attach the host's product objects to the items (one query; the API never needs them)."""
        products = product_queryset().in_bulk([item.product_id for item in self.items if item._product is None])
        for item in self.items:
            item._product = item._product or products.get(item.product_id)
            item._list = None


def new_recommendation_id(version_id: int | None, placement: str, *, user_id: int | None = None,
                          session_key: str = "") -> str:
    """A signed id for one list, issued to this customer (or, for a guest, this visitor): the version and
    placement travel with every click, and only the caller it was issued to can make it count."""
    return rec_ids.issue(version_id, placement, user_id=user_id, session_key=session_key)


def version_of_recommendation(recommendation_id: str) -> int | None:
    """The model version named in a recommendation id (None for lists served without a model)."""
    return rec_ids.version_of(recommendation_id)


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
    cached = served_cache.cache_get(cache_key)
    if cached is not None:
        return cached
    query = RecommendationList.objects.filter(model_version=version, placement=placement)
    query = query.filter(user_id=user_id) if user_id else query.filter(user__isnull=True, key=key)
    row = query.order_by("-id").values_list("items", "scores", "sources").first()
    result = [] if row is None else [(int(p), float(s), str(src)) for p, s, src in zip(*row, strict=False)]
    served_cache.cache_set(cache_key, result, int(rec_settings()["CACHE_SECONDS"]))
    return result


def _safe_key(key: str) -> str:
    """``key`` when it is a valid cache key part, else its digest (category names hold spaces and ``&``)."""
    if _SAFE_KEY.fullmatch(key):
        return key
    return "h" + hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


def live_best_sellers(limit: int = 100) -> list[Candidate]:
    """Products with the most buyers in the last 90 days, straight from the events (no model needed)."""
    cache_key = f"{CACHE_PREFIX}:live-best-sellers"
    cached = served_cache.cache_get(cache_key)
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
    served_cache.cache_set(cache_key, result, 600)
    return result


# ------------------------------------------------------------------------------------------ behaviour
def _actor_q(user_id: int | None, session_key: str) -> Q | None:
    q = None
    if user_id:
        q = Q(user_id=user_id)
    if session_key:
        q = Q(session_key=session_key) if q is None else q | Q(session_key=session_key)
    return q


Behaviour = list[tuple[float, str, int]]  # (epoch seconds, event type, product id), newest first


def stored_behaviour(user_id: int | None, session_key: str, n: int = buffer.RECENT_LENGTH) -> Behaviour:
    """The visitor's latest views, add-to-carts and purchases in the database, newest first."""
    q = _actor_q(user_id, session_key)
    if q is None:
        return []
    rows = (Event.objects.filter(q, event_type__in=list(capture.RECENT_TYPES), product__isnull=False)
            .order_by("-timestamp", "-id").values_list("timestamp", "event_type", "product_id")[:n])
    return [(when.timestamp(), str(kind), int(pk)) for when, kind, pk in rows]


def parse_recent(lists: Sequence[Sequence[bytes]]) -> Behaviour:
    """The entries of the visitors' recent lists in Redis (see ``buffer.recent_keys``), newest first."""
    out: Behaviour = []
    for entries in lists:
        for raw in entries:
            millis, kind, pk = raw.decode().split(":", 2)
            if pk.isdigit():
                out.append((int(millis) / 1000, kind, int(pk)))
    out.sort(key=lambda row: -row[0])
    return out


def recent_products(behaviour: Behaviour, n: int,
                    types: Sequence[str] = (EventType.VIEW, EventType.CART)) -> list[int]:
    """The most recently viewed / carted products of a behaviour, newest first, without repeats."""
    out: list[int] = []
    for _, kind, pk in sorted(behaviour, key=lambda row: -row[0]):
        if kind in types and pk not in out:
            out.append(pk)
            if len(out) >= n:
                break
    return out


def bought_products(user_id: int | None, session_key: str) -> set[int]:
    """Everything the visitor bought (in the database)."""
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
                per_category: int = 0, exclude: Iterable[int] = ()) -> list[Row]:
    """The first ``limit`` candidates that pass the rules, in order, each product once, as ready rows.

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
    out: list[Row] = []
    per_cat: dict[str, int] = {}
    chunk = max(limit * 4, 50)
    for lo in range(0, len(ordered), chunk):
        block = ordered[lo:lo + chunk]
        products = {p.pk: p for p in adapter.active_products().filter(pk__in=[pk for pk, _, _ in block])
                    .select_related(*_category_relation())}
        for pk, score, source in block:
            product = products.get(pk)
            if product is None or not adapter.is_available(product):
                continue
            cat = adapter.get_category(product) or ""
            if category and cat != category:
                continue
            if per_category and per_cat.get(cat, 0) >= per_category:
                continue
            per_cat[cat] = per_cat.get(cat, 0) + 1
            get_url = getattr(product, "get_absolute_url", None)
            out.append((pk, round(float(score), 6), source, str(product), get_url() if get_url else ""))
            if len(out) >= limit:
                return out
    return out


def _category_relation() -> tuple[str, ...]:
    relation = product_queryset().query.select_related
    return tuple(relation) if isinstance(relation, dict) else ()


_hidden: tuple[float, frozenset[int]] = (float("-inf"), frozenset())


def unavailable_products(max_age: float) -> frozenset[int]:
    """Ids of inactive and out-of-stock products: one query per process every ``max_age`` seconds."""
    global _hidden
    loaded, ids = _hidden
    now = _clock()
    if now - loaded < max_age:
        return ids
    available = get_adapter().available_products()
    ids = frozenset(get_product_model()._default_manager.exclude(pk__in=available.values("pk"))
                    .values_list("pk", flat=True))
    _hidden = (now, ids)
    return ids


# ------------------------------------------------------------------------------------- live versions
@dataclass(frozen=True)
class LiveVersions:
    active: ModelVersion | None
    challenger: ModelVersion | None
    generation: bytes | None  # the registry's token in Redis when they were loaded
    local: int  # registry.local_changes() when they were loaded
    loaded: float


MEMO_SECONDS = 60.0  # the longest a process keeps its versions while Redis shows no change
MEMO_SECONDS_WITHOUT_REDIS = 5.0
_live: LiveVersions | None = None


def live_versions(max_age: float = MEMO_SECONDS) -> LiveVersions:
    """The active version and the A/B challenger, memoised per process (see ``registry.changed``)."""
    global _live
    live = _live
    if live is not None and live.local == registry.local_changes() and _clock() - live.loaded <= max_age:
        return live
    local, loaded, generation = registry.local_changes(), _clock(), None
    client = redis_conn.get_client()
    if client is not None and redis_conn.available():
        try:
            generation = client.get(registry.generation_key())
        except redis.RedisError as exc:
            redis_conn.mark_down(exc)
    live = LiveVersions(active_version(), experiments.challenger_version(), generation, local, loaded)
    _live = live
    return live


def reset() -> None:
    """Forget what this process memoised (versions, neighbour tables, unavailable products)."""
    global _live, _hidden
    _live, _hidden = None, (float("-inf"), frozenset())
    with _TABLES_LOCK:
        _TABLES.clear()


# ------------------------------------------------------------------------------------------ entry
@dataclass
class Request:
    """What one list depends on, apart from the model version and the visitor's fresh behaviour."""

    placement: str
    user_id: int | None
    session_key: str
    product_ids: list[int]
    limit: int
    category: str | None
    exclude_bought: bool
    per_category: int

    @property
    def personal(self) -> bool:
        """Whether the list depends on the visitor's behaviour (and is cached per visitor)."""
        return self.placement in PERSONAL_PLACEMENTS or self.exclude_bought

    def key(self) -> tuple[Any, ...]:
        visitor = (self.user_id, self.session_key) if self.personal else None
        return (tuple(self.product_ids), self.limit, self.category, self.exclude_bought, self.per_category, visitor)


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
    skip: Iterable[int] = (),
) -> Recommendations:
    """One placement's list for a visitor (see the module docstring). Raises :class:`InvalidRequest`.

    ``skip``: products already shown on the page (by the widgets above); the list is filled past them.
    """
    if placement not in PLACEMENTS:
        raise InvalidRequest(f"Unknown placement {placement!r}; choose one of {', '.join(PLACEMENTS)}.", "placement")
    if placement in {"similar", "bought_together"} and not product_ids:
        raise InvalidRequest(f"The {placement} placement needs a product.", "product")
    if not 1 <= int(limit) <= 100:
        raise InvalidRequest("limit must be between 1 and 100.", "limit")
    settings = rec_settings()
    request = Request(placement, user.pk if user is not None and getattr(user, "is_authenticated", False) else None,
                      session_key, [int(pk) for pk in product_ids], int(limit), category, exclude_bought,
                      int(settings["PER_CATEGORY"] if per_category is None else per_category))
    recent_keys = buffer.recent_keys(request.user_id, session_key) if request.personal else []

    live = live_versions()
    version = experiments.assign(live.active, live.challenger, request.user_id, session_key)
    key = served_cache.key(version, placement, request.key())
    reply = served_cache.read(key, recent_keys)
    stale = (reply is None and _clock() - live.loaded > MEMO_SECONDS_WITHOUT_REDIS
             or reply is not None and reply.generation != live.generation)
    if stale:
        live = live_versions(max_age=0)
        version = experiments.assign(live.active, live.challenger, request.user_id, session_key)
        key = served_cache.key(version, placement, request.key())
        reply = served_cache.read(key, recent_keys)

    entry: served_cache.Entry | None = reply.entry if reply is not None else None
    rows: list[Row] | None = None
    skipped = {int(pk) for pk in skip}
    if entry is not None and entry.fingerprint == reply.fingerprint:
        hidden = unavailable_products(float(settings["AVAILABILITY_SECONDS"])) | skipped
        rows = [row for row in entry.rows if row[0] not in hidden][:request.limit]
        if len(rows) < request.limit and not entry.complete:  # many went out of stock since: compose again
            rows = None
    if rows is None:
        if entry is None or time.time() - entry.base_time > int(settings["CACHE_SECONDS"]):
            entry = served_cache.Entry((), [], False, _base(request, version), time.time())
        # Spare items for products that go out of stock, and for those the page shows already.
        wanted = request.limit + max(request.limit, 10) + len(skipped)
        fresh = parse_recent(reply.recent) if reply is not None else []
        entry.rows = _compose(request, version, entry.base, fresh, wanted, settings)
        entry.complete = len(entry.rows) < wanted
        if reply is not None:
            entry.fingerprint = reply.fingerprint
            served_cache.store(key, entry, int(settings["CACHE_SECONDS"]))
        rows = [row for row in entry.rows if row[0] not in skipped][:request.limit]

    result = Recommendations(
        new_recommendation_id(version.pk if version else None, placement, user_id=request.user_id,
                              session_key=session_key), placement,
        [RecommendedItem(pk, score, source, name, path) for pk, score, source, name, path in rows],
        version.pk if version else None,
    )
    if record_impressions if record_impressions is not None else settings["RECORD_IMPRESSIONS"]:
        try:
            capture.record_impressions(result.product_ids, user_id=request.user_id, session_key=session_key,
                                       recommendation_id=result.id)
        except Exception:  # noqa: BLE001 - a page never fails because an impression was not stored
            logger.exception("Impressions of %s not recorded.", result.id)
    return result


def _base(request: Request, version: ModelVersion | None) -> dict[str, Any]:
    """The candidates a list is built from that come from the database and the cache
    (see :class:`~.served_cache.Entry`)."""
    missing = capture.missing_product_ids(request.product_ids)
    if missing:
        raise InvalidRequest(f"no product with id {min(missing)}.", "product")
    user_id, session_key, placement = request.user_id, request.session_key, request.placement
    base: dict[str, Any] = {
        "popular": (stored_list(version, "best_sellers", key="popular") or live_best_sellers())
        if placement not in {"bought_together", "recently_viewed"} else [],
        "category": stored_list(version, "best_sellers", key=f"category:{request.category}")
        if request.category else [],
        "stored": stored_behaviour(user_id, session_key) if request.personal else [],
        "bought": bought_products(user_id, session_key) if request.exclude_bought else set(),
    }
    if placement == "for_you" and user_id:
        base["own"] = stored_list(version, "for_you", user_id=user_id)
        cluster = CustomerProfile.objects.filter(user_id=user_id).values_list("cluster", flat=True).first()
        base["segment"] = stored_list(version, "best_sellers", key=f"segment:{cluster}") if cluster is not None else []
    elif placement == "similar":
        base["product_categories"] = [(pk, s, "best seller in category")
                                      for pk, s, _ in _category_lists(version, request.product_ids)]
    return base


def _compose(request: Request, version: ModelVersion | None, base: dict[str, Any], fresh: Behaviour, limit: int,
             settings: dict[str, Any]) -> list[Row]:
    """The list's rows: the fallback chain of the placement over ``base`` and the fresh behaviour, then the rules."""
    tables = tables_of(version)
    product_ids, placement = request.product_ids, request.placement
    behaviour = fresh + base["stored"]
    exclude: set[int] = set(product_ids)
    if request.exclude_bought:
        exclude |= base["bought"] | {pk for _, kind, pk in fresh if kind == EventType.PURCHASE}
    chain: list[Sequence[Candidate]]
    if placement == "for_you":
        recent = recent_products(behaviour, int(settings["SESSION_ITEMS"]))
        weights = [1.0 / (1 + rank) for rank in range(len(recent))]
        session = interleave(neighbours(tables, recent, "together", "because you viewed", weights),
                             neighbours(tables, recent, "similar", "because you viewed", weights))
        own = base.get("own") or []
        chain = [interleave(session, own) if own else session, base.get("segment") or []]
        exclude |= set(recent[:1])  # not the page they have just seen
    elif placement == "similar":
        chain = [neighbours(tables, product_ids, "similar", "similar item"), base["product_categories"]]
    elif placement == "bought_together":
        chain = [neighbours(tables, product_ids, "together", "bought together"),
                 neighbours(tables, product_ids, "similar", "similar item")]
    elif placement == "recently_viewed":
        recent = recent_products(behaviour, 50, types=(EventType.VIEW,))
        chain = [[(pk, 1.0 / (1 + rank), "recently viewed") for rank, pk in enumerate(recent)]]
    else:  # best_sellers
        chain = [base["category"]]
    chain += [base["category"], base["popular"]]
    return apply_rules((c for part in chain for c in part), limit, category=request.category,
                       per_category=request.per_category, exclude=exclude)


def _category_lists(version: ModelVersion | None, product_ids: Sequence[int]) -> list[Candidate]:
    adapter = get_adapter()
    out: list[Candidate] = []
    for product in product_queryset().filter(pk__in=list(product_ids)):
        out.extend(stored_list(version, "best_sellers", key=f"category:{adapter.get_category(product)}"))
    return out
