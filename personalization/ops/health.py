"""What ``GET /api/health/`` reports: the database, Redis, the latest model versions and the worker.

Nothing here names a customer, a host or a credential: errors are reported by their class name only
(a driver's message may hold the database user or address).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache
from django.db import connection

from ..capture import buffer
from ..host.conf import personalization_settings
from ..models import ModelVersion
from ..ops import redis_conn

HEARTBEAT_CACHE_KEY = "shopsense:worker-heartbeat"


@dataclass(frozen=True)
class HealthReport:
    body: dict[str, Any]

    @property
    def database_ok(self) -> bool:
        return bool(self.body["database"]["ok"])


def _timed(check: Any) -> tuple[bool, float, str]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # any failure is "down"; its class says which
        return False, round((time.perf_counter() - started) * 1000, 2), type(exc).__name__
    return True, round((time.perf_counter() - started) * 1000, 2), ""


def _database() -> dict[str, Any]:
    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    ok, latency, error = _timed(select_one)
    return {"ok": ok, "latency_ms": latency, **({"error": error} if error else {})}


def _redis() -> dict[str, Any]:
    client = redis_conn.get_client()
    if client is None:
        return {"status": "not configured", "latency_ms": None}
    ok, latency, error = _timed(client.ping)
    return {"status": "ok" if ok else "down", "latency_ms": latency, **({"error": error} if error else {})}


def record_heartbeat(now: float | None = None) -> None:
    """Called by the worker every 30 s (task ``personalization.worker_heartbeat``)."""
    cache.set(HEARTBEAT_CACHE_KEY, time.time() if now is None else now, timeout=None)


def _tasks_run_in_process() -> bool:
    """No worker to watch: Celery runs tasks in the calling process (no broker configured)."""
    from celery import current_app

    return bool(current_app.conf.task_always_eager)


def _worker(now: float) -> dict[str, Any]:
    if _tasks_run_in_process():
        return {"status": "in-process", "last_heartbeat": None, "age_seconds": None}
    try:
        beat = cache.get(HEARTBEAT_CACHE_KEY)
    except Exception as exc:  # the cache (Redis) is down: the heartbeat cannot be read
        return {"status": "unknown", "last_heartbeat": None, "age_seconds": None, "error": type(exc).__name__}
    if beat is None:
        return {"status": "missing", "last_heartbeat": None, "age_seconds": None}
    age = max(0.0, now - float(beat))
    stale = age > personalization_settings.WORKER_HEARTBEAT_STALE_SECONDS
    return {
        "status": "stale" if stale else "ok",
        "last_heartbeat": datetime.fromtimestamp(float(beat), tz=UTC).isoformat(),
        "age_seconds": round(age, 1),
    }


def _version(version: ModelVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {
        "id": version.pk,
        "status": version.status,
        "created_at": version.created_at.isoformat(),
        "trained_at": version.trained_at.isoformat() if version.trained_at else None,
    }


def _models() -> list[dict[str, Any]]:
    """Per kind: the newest version (whatever its state) and the one being served."""
    kinds = ModelVersion.objects.order_by("kind").values_list("kind", flat=True).distinct()
    rows = []
    for kind in kinds:
        versions = ModelVersion.objects.filter(kind=kind).only("pk", "status", "created_at", "trained_at")
        rows.append({
            "kind": kind,
            "latest": _version(versions.order_by("-created_at", "-id").first()),
            "active": _version(versions.filter(status=ModelVersion.Status.ACTIVE).first()),
        })
    return rows


def _events(redis_up: bool) -> dict[str, Any]:
    """Events waiting in the Redis buffer, and those the flush set aside (the dead-letter list)."""
    if not redis_up:
        return {"buffered": None, "dead_letter": None}
    try:
        buffered: int | None = buffer.length()
    except Exception:  # noqa: BLE001 - Redis went away between the two checks
        buffered = None
    return {"buffered": buffered, "dead_letter": buffer.dead_letter_count()}


def health_report() -> HealthReport:
    """Check everything once; ``status`` is ``down`` without a database, ``degraded`` when Redis is down
    or the worker's heartbeat is missing or stale (unless tasks run in-process), else ``ok``."""
    now = time.time()
    database = _database()
    redis_state = _redis()
    worker = _worker(now) if redis_state["status"] != "down" else {
        "status": "unknown", "last_heartbeat": None, "age_seconds": None,
    }
    models = _models() if database["ok"] else []
    if not database["ok"]:
        status = "down"
    elif redis_state["status"] == "down" or worker["status"] not in ("ok", "in-process"):
        status = "degraded"
    else:
        status = "ok"
    return HealthReport({
        "status": status,
        "time": datetime.fromtimestamp(now, tz=UTC).isoformat(),
        "database": database,
        "redis": redis_state,
        "worker": worker,
        "events": _events(redis_state["status"] == "ok"),
        "models": models,
    })
