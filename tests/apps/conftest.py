"""Fixtures shared by the apps' tests: one row of everything (``world``) and real processes (tests/processes.py)."""
from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from inventory.models import DemandForecast, PurchaseOrder, PurchaseOrderLine, RestockSuggestion
from personalization.capture import api_keys, buffer
from personalization.models import CustomerProfile, ModelVersion
from personalization.ops import redis_conn
from pricing import services as pricing_services
from pricing.models import PriceChange
from tests import processes
from tests.apps.test_pricing_support import make_item, make_policy


@pytest.fixture
def world(settings, tmp_path) -> dict[str, Any]:
    """One row of everything the API and the admin act on; the ids by name (and the raw API key)."""
    settings.MEDIA_ROOT = tmp_path  # model artifacts
    User = get_user_model()
    cust = User.objects.create_user("cust", email="cust@example.com", password="pw")
    User.objects.create_user("other", email="other@example.com", password="pw")
    item = make_item(code="A1", price="10.00", cost="5.00", stock=0)
    make_policy(absolute_floor=Decimal("10.99"), ceiling=Decimal("10.99"))
    suggestion = pricing_services.generate_suggestions([item]).created[0]
    pricing_services.write_price(make_item(code="B2", price="20.00"), Decimal("18.00"))
    now = timezone.now()
    profile = CustomerProfile.objects.create(
        user=cust, first_purchase_at=now, last_purchase_at=now, orders=1, purchase_days=1, lines=1, units=1,
        revenue=Decimal("10.00"), average_order_value=Decimal("10.00"), average_basket_units=1.0,
        buyer_type="retail", recency_days=0,
    )
    today = dt.date.today()
    forecast = DemandForecast.objects.create(product=item, origin=today, horizon=1, mean=[4.0], method="TSB")
    restock = RestockSuggestion.objects.create(
        product=item, forecast=forecast, planned_at=today, on_hand=0, on_order=0, forecast_demand=20.0,
        safety_stock=3.0, reorder_point=13.0, order_up_to=23.0, suggested_quantity=23, policy={"lead_time_days": 7},
    )
    draft_po = PurchaseOrder.objects.create()
    ordered_po = PurchaseOrder.objects.create(status=PurchaseOrder.Status.ORDERED, ordered_at=now)
    for po in (draft_po, ordered_po):
        PurchaseOrderLine.objects.create(purchase_order=po, product=item, quantity=5, unit_cost=Decimal("4.00"))
    version = ModelVersion.objects.create(kind="recommender.simple", status=ModelVersion.Status.READY)
    api_key, raw_key = api_keys.create_api_key("mobile app")
    return {
        "cust": cust.pk, "item": item.pk, "suggestion": suggestion.pk, "profile": profile.pk, "restock": restock.pk,
        "draft_po": draft_po.pk, "ordered_po": ordered_po.pk, "version": version.pk, "api_key": api_key.pk,
        "price_change": PriceChange.objects.latest("id").pk, "raw_key": raw_key,
    }


@pytest.fixture
def process_env(settings, transactional_db, tmp_path) -> dict[str, str]:
    """The environment of a subprocess sharing this test's database, Redis, buffer, cache and media."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": processes.database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "SHOPSENSE_TEST_EAGER": "0",
        "SHOPSENSE_TEST_BUFFER_KEY": buffer.buffer_key(),
        "SHOPSENSE_TEST_CACHE_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        "SHOPSENSE_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def start_worker(settings, process_env, tmp_path) -> Iterator[Callable[..., object]]:
    """Start real Celery worker processes on the test's Redis (the broker); all are stopped at the end.

    ``start(queues="default", pool="solo", concurrency=1, batch_size=5000, env={})``; the returned
    process has a ``log`` path.
    """
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    from personalization.tasks import flush_events

    app = flush_events.app
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # .delay() goes through the broker to the worker
    started = []

    def start(queues: str = "default", pool: str = "solo", concurrency: int = 1, batch_size: int = 5000,
              env: dict[str, str] | None = None):
        log = tmp_path / f"worker-{len(started) + 1}.log"
        command = processes.celery_worker_command(queues, f"test-{uuid.uuid4().hex[:8]}", pool, concurrency)
        full_env = {**process_env, "SHOPSENSE_TEST_FLUSH_BATCH_SIZE": str(batch_size), **(env or {})}
        process = processes.logged_popen(command, log, full_env)
        started.append(process)
        return process

    yield start

    app.conf.task_always_eager = eager
    for process in started:
        processes.stop(process)
    client = redis_conn.get_client()
    client.delete(buffer.buffer_key(), buffer.lock_key())
    for queue in ("default", "ml", "gpu"):  # messages no worker took (a refused or crashed test)
        client.delete(queue)
