"""``GET /api/health/``: database, Redis, the event buffer, the latest model versions and the worker's heartbeat.

Mount it where your load balancer looks: ``path("api/health/", HealthView.as_view())``. It needs no
credentials and answers 503 only when the database is down.
"""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..ops.health import health_report
from .base import ShopSenseAPI


def _version_serializer(name: str) -> serializers.Serializer:
    return inline_serializer(
        name,
        fields={
            "id": serializers.IntegerField(),
            "status": serializers.CharField(),
            "created_at": serializers.DateTimeField(),
            "trained_at": serializers.DateTimeField(allow_null=True),
        },
        allow_null=True,
    )


HealthSerializer = inline_serializer(
    "Health",
    fields={
        "status": serializers.ChoiceField(choices=["ok", "degraded", "down"]),
        "time": serializers.DateTimeField(),
        "database": inline_serializer(
            "HealthDatabase",
            fields={
                "ok": serializers.BooleanField(),
                "latency_ms": serializers.FloatField(),
                "error": serializers.CharField(required=False, help_text="The error's class name."),
            },
        ),
        "redis": inline_serializer(
            "HealthRedis",
            fields={
                "status": serializers.ChoiceField(choices=["ok", "down", "not configured"]),
                "latency_ms": serializers.FloatField(allow_null=True),
                "error": serializers.CharField(required=False),
            },
        ),
        "worker": inline_serializer(
            "HealthWorker",
            fields={
                "status": serializers.ChoiceField(choices=["ok", "stale", "missing", "unknown", "in-process"]),
                "last_heartbeat": serializers.DateTimeField(allow_null=True),
                "age_seconds": serializers.FloatField(allow_null=True),
                "error": serializers.CharField(required=False),
            },
        ),
        "events": inline_serializer(
            "HealthEvents",
            fields={
                "buffered": serializers.IntegerField(allow_null=True, help_text="Events waiting in the Redis buffer."),
                "dead_letter": serializers.IntegerField(
                    allow_null=True, help_text="Buffered items the flush set aside (malformed, or refused by the "
                    "database), kept for an operator; the rest of their batch was stored."),
            },
        ),
        "models": inline_serializer(
            "HealthModelKind",
            many=True,
            fields={
                "kind": serializers.CharField(),
                "latest": _version_serializer("HealthModelLatest"),
                "active": _version_serializer("HealthModelActive"),
            },
        ),
    },
)


class HealthView(ShopSenseAPI, APIView):
    """Health of the services ShopSense needs, for load balancers and monitoring."""

    # No authentication and no throttle: it must answer while Redis (the throttle store) is down, and it
    # costs one ``SELECT 1``, one Redis PING and two small queries on the model registry.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        operation_id="health",
        responses={200: HealthSerializer, 503: HealthSerializer},
        description=(
            "`status` is `ok`, `degraded` (Redis down, or the worker's heartbeat missing or older than "
            "`PERSONALIZATION['WORKER_HEARTBEAT_STALE_SECONDS']`) or `down` (no database: HTTP 503). "
            "`models` lists, per model kind, the newest version and the active one."
        ),
        auth=[],
    )
    def get(self, request: Request) -> Response:
        report = health_report()
        code = status.HTTP_200_OK if report.database_ok else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(report.body, status=code, headers={"Cache-Control": "no-store"})
