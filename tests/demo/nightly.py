"""The demo's first run and the nightly jobs, for the tests that check one live order degrades nothing.

The demo data (here the committed slice of it) is imported shifted to end yesterday, as ``bin/demo``
does; the first run trains every kind of model as ``bin/demo`` does; :func:`run_nightly_jobs` then
runs every task of the three apps' beat schedules, in-process, as the worker would.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.utils import timezone

from inventory.models import DemandForecast, PurchaseOrder, RestockSuggestion
from personalization.models import CustomerProfile, ModelVersion
from pricing.models import PriceSuggestion
from shop_project.shop import data_shift

SLICE = Path(__file__).resolve().parents[1] / "data" / "online_retail_slice.csv.gz"
KINDS = ("recommender", "pricing.elasticity", "inventory.forecaster")
# Fast settings for the slice; the kinds of model and the rules are the demo's.
SETTINGS = {"INVENTORY": {"FORECASTER": "WindowAverage"}}


def quiet(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def first_run() -> None:
    """What the first ``bin/demo`` does after the migrations."""
    quiet("import_online_retail", str(SLICE), "--end-yesterday", "--no-progress")
    quiet("build_profiles", "--no-progress")
    quiet("train_recommenders", "--no-progress")
    quiet("suggest_prices", "--default-policy")
    quiet("plan_restock")


def schedule_tasks() -> list[str]:
    from inventory.schedules import DEFAULT_SCHEDULES as INVENTORY_SCHEDULES
    from personalization.schedules import DEFAULT_SCHEDULES as PERSONALIZATION_SCHEDULES
    from pricing.schedules import DEFAULT_SCHEDULES as PRICING_SCHEDULES

    return [spec.task for spec in (*PERSONALIZATION_SCHEDULES, *PRICING_SCHEDULES, *INVENTORY_SCHEDULES)]


def run_nightly_jobs() -> list[str]:
    """Every scheduled task, once, in-process; raises the first task's error."""
    from shop_project.celery import app

    app.loader.import_default_modules()
    names = schedule_tasks()
    for name in names:
        app.tasks[name].apply(throw=True)
    return names


def snapshot() -> dict[str, Any]:
    """What the shop owner sees of each kind of model."""
    profiles = CustomerProfile.objects.all()
    return {
        "segments": Counter(profiles.values_list("rfm_segment", flat=True)),
        "clusters": Counter(profiles.values_list("cluster", flat=True)),
        "max_recency": max(profiles.values_list("recency_days", flat=True), default=0),
        "active": {kind: ModelVersion.objects.filter(kind=kind, status="active").first() for kind in KINDS},
        "pending_ids": set(PriceSuggestion.objects.filter(status="pending").values_list("pk", flat=True)),
        "latest_origin": DemandForecast.objects.order_by("-origin").values_list("origin", flat=True).first(),
    }


def share_moved(before: Counter, after: Counter) -> float:
    """Total variation distance between two distributions of counts (0: the same shares, 1: disjoint)."""
    total_before, total_after = sum(before.values()) or 1, sum(after.values()) or 1
    keys = set(before) | set(after)
    return sum(abs(before[key] / total_before - after[key] / total_after) for key in keys) / 2


def assert_nothing_degraded(before: dict[str, Any], after: dict[str, Any]) -> None:
    today = timezone.localdate()
    shift = data_shift.current()
    span_days = (today - shift.shifted_first).days
    # no customer is older than the data: recency measured from now, not from a jump in time
    assert 0 < after["max_recency"] <= span_days
    assert share_moved(before["segments"], after["segments"]) <= 0.1, (before["segments"], after["segments"])
    assert len(after["clusters"]) >= 2
    # every kind still has a live version, and none went live on one week of data
    for kind in KINDS:
        assert after["active"][kind] is not None, kind
    elasticity = after["active"]["pricing.elasticity"]
    assert elasticity.metrics["weeks"] >= 8
    for version in ModelVersion.objects.filter(kind__in=KINDS, status="active"):
        assert version.data_end is None or version.data_end.date() <= today
    failed = ModelVersion.objects.filter(kind__in=KINDS, status="failed")
    assert not failed.exists(), [(version.kind, version.error[-500:]) for version in failed]
    # suggestions were replaced only by a refit that went live, and some are still waiting
    if after["active"]["pricing.elasticity"].pk == before["active"]["pricing.elasticity"].pk:
        assert after["pending_ids"] == before["pending_ids"]
    assert bool(after["pending_ids"]) == bool(before["pending_ids"])
    # forecasts, restock plans and purchase orders live in this week's calendar
    monday = today - dt.timedelta(days=today.weekday())
    assert after["latest_origin"] == monday
    assert set(RestockSuggestion.objects.filter(status="open").values_list("planned_at", flat=True)) <= {today}
    for arrival in PurchaseOrder.objects.exclude(expected_arrival=None).values_list("expected_arrival", flat=True):
        assert today - dt.timedelta(days=1) <= arrival <= today + dt.timedelta(days=120)
