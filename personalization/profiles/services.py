"""Customer profiles and segments: rebuild them all, or fold one new order into one profile.

The data come from the host shop through the adapter (``get_adapter().order_lines_since()``, the
products' category and list price); the maths is in :mod:`personalization.profiles.core` and
``personalization.ml``. A rebuild is one :class:`~personalization.models.ProfileBuild` row whose
``status``/``progress`` the admin shows; it writes every profile and segment in one transaction,
so readers see either the old build or the new one.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..host import clock, get_order_line_model, get_order_model, get_product_model
from ..host.adapters import ShopAdapter, get_adapter
from ..host.conf import personalization_settings
from ..host.threads import limited_threads
from ..models import CustomerProfile, ProfileBuild, Segment
from ..ops import jobs, locks
from .core import NewLine, ProfileConfig, ProfileResult, apply_order, compute_profiles, empty_lines
from .selectors import latest_build

logger = logging.getLogger(__name__)
LOCK_NAME = "profiles-build"
PROFILE_FIELDS = (
    "first_purchase_at",
    "last_purchase_at",
    "orders",
    "purchase_days",
    "lines",
    "units",
    "revenue",
    "average_order_value",
    "average_basket_units",
    "buyer_type",
    "recency_days",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "rfm_segment",
    "category_affinity",
    "top_category",
    "price_index",
    "discount_share",
    "expected_purchases_90d",
    "probability_alive",
    "expected_order_value",
    "clv_90d",
    "cluster",
    "pca_x",
    "pca_y",
)
MONEY_FIELDS = frozenset({"revenue", "average_order_value", "expected_order_value", "clv_90d"})
READ_PROGRESS_EVERY = 50_000


class BuildAlreadyRunning(RuntimeError):
    """Another rebuild holds the lock; this one did nothing."""


def profile_config() -> ProfileConfig:
    """The build settings from ``PERSONALIZATION["PROFILES"]``."""
    options = personalization_settings.PROFILES
    k_min, k_max = (int(v) for v in options["SEGMENT_K_RANGE"])
    return ProfileConfig(
        k_range=(k_min, k_max),
        wholesale_basket_units=float(options["WHOLESALE_BASKET_UNITS"]),
        horizon_days=float(options["CLV_HORIZON_DAYS"]),
        clv_max_fit_customers=int(options["CLV_MAX_FIT_CUSTOMERS"]),
        scatter_points=int(options["SCATTER_POINTS"]),
        random_state=int(options["RANDOM_STATE"]),
    )


# --- reading the shop's data -------------------------------------------------------------------
def read_order_lines(
    adapter: ShopAdapter | None = None,
    since: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Every order line (``since`` a time, if given) as a frame with the core's columns.

    Lines whose product the shop deleted are left out; ``frame.attrs["skipped_deleted_product"]`` counts
    them. A line without a user (a guest, a deleted customer) is kept with a missing ``user_id``.
    """
    adapter = adapter or get_adapter()
    skipped = 0
    user_ids: list[int | None] = []
    order_ids: list[int] = []
    product_ids: list[int] = []
    quantities: list[int] = []
    prices: list[float] = []
    times: list[dt.datetime] = []
    for count, line in enumerate(adapter.order_lines_since(since), start=1):
        if progress is not None and count % READ_PROGRESS_EVERY == 0:
            progress(count)
        if line.product_id is None:
            skipped += 1
            continue
        user_ids.append(line.user_id)
        order_ids.append(line.order_id)
        product_ids.append(line.product_id)
        quantities.append(line.quantity)
        prices.append(float(line.price))
        times.append(line.placed_at)
    if skipped:
        logger.warning("Left out %d order lines whose product was deleted.", skipped)
    if not order_ids:
        frame = empty_lines()
        frame.attrs["skipped_deleted_product"] = skipped
        return frame
    frame = pd.DataFrame(
        {
            "user_id": pd.array(user_ids, dtype="Int64"),
            "order_id": np.asarray(order_ids, dtype=np.int64),
            "product_id": np.asarray(product_ids, dtype=np.int64),
            "quantity": np.asarray(quantities, dtype=np.int64),
            "price": np.asarray(prices, dtype=np.float64),
            "placed_at": pd.to_datetime(times, utc=True),
        }
    )
    frame.attrs["skipped_deleted_product"] = skipped
    return frame


def _forward_relations(model: type) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if f.is_relation and (f.many_to_one or f.one_to_one)]


def read_products(product_ids: Iterable[int], adapter: ShopAdapter | None = None) -> pd.DataFrame:
    """Category and current list price of the given products, through the adapter."""
    adapter = adapter or get_adapter()
    ids = sorted({int(pk) for pk in product_ids if pk is not None})
    model = get_product_model()
    # the category usually sits behind a foreign key: fetch those in the same query
    queryset = model._default_manager.select_related(*_forward_relations(model))
    categories: dict[int, str | None] = {}
    list_prices: dict[int, float] = {}
    for start in range(0, len(ids), 2_000):
        for product in queryset.filter(pk__in=ids[start : start + 2_000]):
            categories[product.pk] = adapter.get_category(product)
            try:
                list_prices[product.pk] = float(adapter.get_price(product))
            except (TypeError, ValueError, ArithmeticError):
                list_prices[product.pk] = float("nan")
    index = pd.Index(list(categories), dtype="int64", name="product_id")
    return pd.DataFrame(
        {
            "category": pd.Series(list(categories.values()), index=index, dtype=object),
            "list_price": pd.Series(list(list_prices.values()), index=index, dtype="float64"),
        }
    )


# --- rebuilding everything ---------------------------------------------------------------------
def request_build(trigger: str = "manual", requested_by: Any = None) -> ProfileBuild:
    """A pending build, queued for the Celery task once the current transaction commits."""
    build = ProfileBuild.objects.create(
        trigger=trigger,
        requested_by=requested_by if getattr(requested_by, "is_authenticated", False) else None,
        stage="Queued",
    )
    transaction.on_commit(lambda: jobs.enqueue("personalization.build_profiles", build_id=build.pk, trigger=trigger))
    return build


def _set_progress(build: ProfileBuild, percent: int, stage: str) -> None:
    build.progress, build.stage = percent, stage[:100]
    ProfileBuild.objects.filter(pk=build.pk).update(progress=percent, stage=build.stage)


def run_build(
    build_id: int | None = None,
    *,
    trigger: str = "command",
    as_of: dt.datetime | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> ProfileBuild:
    """Rebuild every customer's profile and the segments; returns the finished build.

    Takes a lock so that two rebuilds never run at once (:class:`BuildAlreadyRunning`). A failure
    marks the build failed, keeps the previous profiles, and is raised again.
    """
    build = ProfileBuild.objects.get(pk=build_id) if build_id else ProfileBuild.objects.create(trigger=trigger)
    if build.status == ProfileBuild.Status.DONE:
        return build  # a retried task whose work is already done
    lock_seconds = int(personalization_settings.PROFILES["BUILD_LOCK_SECONDS"])
    if not locks.acquire(LOCK_NAME, build.pk, lock_seconds):
        ProfileBuild.objects.filter(pk=build.pk).update(
            status=ProfileBuild.Status.FAILED, message="Another rebuild was running.", finished_at=timezone.now()
        )
        raise BuildAlreadyRunning("Another profile rebuild is running; try again when it has finished.")
    # Holding the lock, no other build runs: one still marked running was left by a worker that died.
    ProfileBuild.objects.filter(status=ProfileBuild.Status.RUNNING).exclude(pk=build.pk).update(
        status=ProfileBuild.Status.FAILED, message="Abandoned: the process running it stopped before it finished.",
        finished_at=timezone.now(),
    )

    def report(percent: int, stage: str) -> None:
        _set_progress(build, percent, stage)
        if progress is not None:
            progress(percent, stage)

    started = time.perf_counter()
    try:
        build.status, build.started_at, build.message = ProfileBuild.Status.RUNNING, timezone.now(), ""
        build.save(update_fields=["status", "started_at", "message"])
        adapter = get_adapter()
        total = max(get_order_line_model()._default_manager.count(), 1)
        report(2, "Reading order lines")
        lines = read_order_lines(
            adapter,
            progress=lambda count: report(2 + int(20 * min(count / total, 1.0)), f"Reading order lines ({count:,})"),
        )
        report(23, "Reading products")
        products = read_products(lines["product_id"].unique().tolist(), adapter)
        previous = latest_build()
        with limited_threads():  # SHOPSENSE_THREADS: K-means, BG/NBD
            result = compute_profiles(
                lines,
                products,
                as_of=pd.Timestamp(as_of) if as_of is not None else _reference_time(),
                config=profile_config(),
                previous_state=previous.model_state if previous else None,
                progress=report,
            )
        refused = absurdity(result)
        if refused:  # the previous profiles and segments stay
            logger.warning("Profile build %s refused: %s", build.pk, refused)
            ProfileBuild.objects.filter(pk=build.pk).update(
                status=ProfileBuild.Status.FAILED, message=f"Refused: {refused}"[:2000], finished_at=timezone.now(),
                duration_seconds=time.perf_counter() - started, as_of=result.as_of, data_until=result.data_until,
                customers=len(result.profiles),
            )
            build.refresh_from_db()
            if progress is not None:
                progress(100, f"Refused: {refused}")
            return build
        report(85, f"Saving {len(result.profiles):,} profiles")
        _save(build, result)
        skipped = int(lines.attrs.get("skipped_deleted_product", 0))
        build.message = f"Left out {skipped:,} order lines whose product was deleted." if skipped else ""
        build.duration_seconds = time.perf_counter() - started
        build.status, build.progress, build.stage, build.finished_at = (
            ProfileBuild.Status.DONE,
            100,
            "Done",
            timezone.now(),
        )
        build.save(update_fields=["duration_seconds", "status", "progress", "stage", "finished_at", "message"])
        if progress is not None:
            progress(100, "Done")
        return build
    except Exception as exc:
        logger.exception("Profile build %s failed", build.pk)
        ProfileBuild.objects.filter(pk=build.pk).update(
            status=ProfileBuild.Status.FAILED,
            message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            duration_seconds=time.perf_counter() - started,
        )
        raise
    finally:
        locks.release(LOCK_NAME, build.pk)


def absurdity(result: ProfileResult) -> str:
    """Why ``result`` must not replace the current profiles and segments ("" when it may).

    Refused: an as-of further after the latest order than the whole history is long (every customer would
    look lapsed for years); all of ``PROFILES["REFUSE_ONE_SEGMENT_FROM"]`` or more customers in one RFM
    segment or one cluster; the median recency moving by more than ``PROFILES["REFUSE_RECENCY_JUMP_DAYS"]``
    from the current profiles'.
    """
    frame = result.profiles
    if frame.empty or result.data_until is None:
        return ""
    options = personalization_settings.PROFILES
    as_of, until = pd.Timestamp(result.as_of), pd.Timestamp(result.data_until)
    span_days = (until - frame["first_purchase_at"].min()).days
    gap_days = (as_of - until).days
    if gap_days > max(span_days, 1):
        return (f"the reference time {as_of:%Y-%m-%d} lies {gap_days:,} days after the latest order "
                f"({until:%Y-%m-%d}), "
                f"more than the {span_days:,} days of history; set PERSONALIZATION[\"REFERENCE_TIME\"] to the data's "
                "as-of date or import data up to today")
    if len(frame) >= int(options["REFUSE_ONE_SEGMENT_FROM"]):
        for column, what in (("rfm_segment", "RFM segment"), ("cluster", "cluster")):
            if column in frame and frame[column].nunique() == 1:
                return f"all {len(frame):,} customers fell into one {what} ({frame[column].iloc[0]})"
    current = list(CustomerProfile.objects.values_list("recency_days", flat=True))
    if current:
        before, after = float(np.median(current)), float(frame["recency_days"].median())
        if abs(after - before) > float(options["REFUSE_RECENCY_JUMP_DAYS"]):
            return (f"the median recency would move from {before:,.0f} to {after:,.0f} days (more than "
                    f"PROFILES[\"REFUSE_RECENCY_JUMP_DAYS\"] = {options['REFUSE_RECENCY_JUMP_DAYS']})")
    return ""


def _reference_time() -> pd.Timestamp:
    """Now, or the as-of set (``PROFILES["REFERENCE_TIME"]``, else ``PERSONALIZATION["REFERENCE_TIME"]``)."""
    return pd.Timestamp(clock.reference_time(personalization_settings.PROFILES["REFERENCE_TIME"],
                                             'PERSONALIZATION["PROFILES"]["REFERENCE_TIME"]'))


def _clean(value: Any, name: str) -> Any:
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return None
        if name in MONEY_FIELDS:
            return Decimal(str(round(float(value), 2)))
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _profile_rows(result: ProfileResult, build: ProfileBuild) -> list[CustomerProfile]:
    frame = result.profiles
    if frame.empty:
        return []
    now = timezone.now()
    columns = {
        name: frame[name].tolist() for name in PROFILE_FIELDS if name not in {"first_purchase_at", "last_purchase_at"}
    }
    columns["first_purchase_at"] = [t.to_pydatetime() for t in frame["first_purchase_at"]]
    columns["last_purchase_at"] = [t.to_pydatetime() for t in frame["last_purchase_at"]]
    rows = []
    for position, user_id in enumerate(frame.index.tolist()):
        values = {name: _clean(columns[name][position], name) for name in PROFILE_FIELDS}
        rows.append(CustomerProfile(user_id=int(user_id), build=build, applied_orders=[], updated_at=now, **values))
    return rows


def _save(build: ProfileBuild, result: ProfileResult) -> None:
    """Write the build's profiles and segments in one transaction (upsert, then drop stale rows)."""
    rows = _profile_rows(result, build)
    with transaction.atomic():
        CustomerProfile.objects.bulk_create(
            rows,
            batch_size=1_000,
            update_conflicts=True,
            unique_fields=["user"],
            update_fields=[*PROFILE_FIELDS, "build", "applied_orders", "updated_at"],
        )
        # customers without purchases any more; profiles a concurrent order created stay
        CustomerProfile.objects.exclude(build=build).filter(updated_at__lt=build.started_at).delete()
        Segment.objects.bulk_create(
            [
                Segment(
                    build=build,
                    cluster_id=segment["cluster_id"],
                    label=segment["label"],
                    size=segment["size"],
                    share=segment["share"],
                    centroid=segment["centroid"],
                    centroid_z=segment["centroid_z"],
                )
                for segment in result.segments
            ]
        )
        build.as_of = result.as_of.to_pydatetime()
        build.data_until = result.data_until.to_pydatetime() if result.data_until is not None else None
        build.customers = len(result.profiles)
        build.lines = result.lines
        build.k = result.k
        build.silhouette = result.silhouette
        build.silhouette_by_k = result.silhouette_by_k
        build.explained_variance = result.explained_variance
        build.clv_params = _jsonable(result.clv_params)
        build.model_state = _jsonable(result.model_state)
        build.points = result.points
        build.save()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


# --- one new order -----------------------------------------------------------------------------
def update_profile_for_order(order_id: int) -> CustomerProfile | None:
    """Fold one placed order into its customer's profile (idempotent; guests are skipped).

    Scores, lifetime value and cluster use the latest build's stored models; the next rebuild
    recomputes everything from scratch.
    """
    order = get_order_model()._default_manager.filter(pk=order_id).first()
    if order is None:
        return None
    adapter = get_adapter()
    facts = [fact for fact in adapter.order_lines_of(order) if fact.product_id is not None]
    if not facts or facts[0].user_id is None:
        return None
    user_id, placed_at = facts[0].user_id, facts[0].placed_at
    products = read_products([fact.product_id for fact in facts], adapter)
    new_lines = [
        NewLine(
            quantity=fact.quantity,
            price=float(fact.price),
            category=products["category"].get(fact.product_id),
            list_price=_finite(products["list_price"].get(fact.product_id)),
        )
        for fact in facts
        if fact.quantity > 0
    ]
    build = latest_build()
    with transaction.atomic():
        profile = CustomerProfile.objects.select_for_update().filter(user_id=user_id).first()
        if profile is not None and (
            order_id in profile.applied_orders
            or (
                profile.build_id
                and profile.build is not None
                and profile.build.data_until
                and placed_at <= profile.build.data_until
            )
        ):
            return profile  # already counted, by this update or by the rebuild that read it
        current = {name: getattr(profile, name) for name in PROFILE_FIELDS} if profile is not None else None
        if current is not None:
            current["revenue"] = float(current["revenue"])
        values = apply_order(
            current,
            pd.Timestamp(placed_at),
            new_lines,
            build.model_state if build else None,
            as_of=pd.Timestamp(build.as_of) if build and build.as_of else None,
        )
        values = {name: _clean(values.get(name), name) for name in PROFILE_FIELDS}
        applied = [*(profile.applied_orders if profile else []), order_id][-500:]
        if profile is None:
            profile = CustomerProfile(user_id=user_id, build=None)
        for name, value in values.items():
            setattr(profile, name, value)
        profile.applied_orders = applied
        profile.updated_at = timezone.now()
        profile.save()
    return profile


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


# --- settings ----------------------------------------------------------------------------------
def settings_summary() -> dict[str, Any]:
    """The profile settings in effect (shown on the segments page)."""
    config = profile_config()
    return {
        "k range": f"{config.k_range[0]}–{config.k_range[1]}",
        "wholesale from": f"{config.wholesale_basket_units:g} units per order",
        "CLV horizon": f"{config.horizon_days:g} days",
        "reference time": str(
            personalization_settings.PROFILES["REFERENCE_TIME"] or personalization_settings.REFERENCE_TIME
        ),
        "time zone": settings.TIME_ZONE,
    }
