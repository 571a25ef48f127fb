"""Trivial API endpoint of the demo project: the floor that the serving benchmark compares against."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class PingView(APIView):
    """``GET /api/ping/``: ``{"ok": true}``, through the default authentication and throttle stack."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="ping",
        responses=inline_serializer("Ping", fields={"ok": serializers.BooleanField()}),
        description="Liveness probe; also the latency floor of the API (same authentication and throttles).",
    )
    def get(self, request: Request) -> Response:
        """Answer ``{"ok": true}``."""
        return Response({"ok": True})
