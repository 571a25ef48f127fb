"""The events API: ``POST /api/personalization/events/``, a batch of behaviour events, all or nothing."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..capture import services as capture
from ..capture.visitor import current_visitor_id
from .authentication import ApiKeyUser
from .base import ShopSenseAPI
from .parsers import SafeJSONParser
from .serializers import EventBatchErrorSerializer, EventBatchResultSerializer, EventBatchSerializer
from .throttling import ScopedRateThrottle


class EventsRateThrottle(ScopedRateThrottle):
    """Per user, per API key or per client address (see throttling.py); the rate is ``events``."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.user, ApiKeyUser):
            ident = f"key-{request.user.api_key.pk}"
        elif request.user and request.user.is_authenticated:
            ident = str(request.user.pk)
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class EventBatchView(ShopSenseAPI, APIView):
    """Store a batch of behaviour events, all or nothing."""

    parser_classes = [SafeJSONParser]
    throttle_classes = [EventsRateThrottle]
    throttle_scope = "events"

    @extend_schema(
        operation_id="personalization_events_create",
        request=EventBatchSerializer,
        responses={
            202: EventBatchResultSerializer,
            400: OpenApiResponse(EventBatchErrorSerializer, description="Invalid batch; nothing was stored."),
        },
        description=(
            "Send up to 1,000 events at once. The batch is validated as a whole: one bad event rejects "
            "the batch with a message per bad item (`errors`: index, field, message) and stores nothing. "
            "Signed-in customers send their own events; servers authenticated with an API key "
            "(`Authorization: Api-Key <prefix>.<secret>`) may name the customer (`user`) or a visitor "
            "(`session_key`); a customer may name only the visitor id of their own session (400 otherwise). "
            "An event whose `recommendation_id` was not issued to its customer or visitor is stored but never "
            "counts for the A/B figures. Retrying with the same `client_event_id`s stores nothing twice: events "
            "already stored are counted as `duplicates`."
        ),
        examples=[
            OpenApiExample(
                "Two events",
                request_only=True,
                value={
                    "events": [
                        {"type": "view", "product": 42, "client_event_id": "3f1c2b7e-1"},
                        {"type": "cart", "product": 42, "quantity": 2, "client_event_id": "3f1c2b7e-2"},
                    ]
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = request.data
        items = data.get("events") if isinstance(data, dict) else None
        is_server = isinstance(request.user, ApiKeyUser)
        try:
            result = capture.accept_batch(
                items,
                sender_user_id=None if is_server else request.user.pk,
                api_key_id=request.user.api_key.pk if is_server else None,
                sender_session_key="" if is_server else current_visitor_id(request._request),
            )
        except capture.InvalidBatch as exc:
            body: dict[str, Any] = {"detail": exc.detail}
            if exc.errors:
                body["errors"] = exc.errors
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response({"accepted": result.accepted, "duplicates": result.duplicates}, status=status.HTTP_202_ACCEPTED)
