from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from .. import capture
from ..conf import personalization_settings
from ..models import Event, EventSource
from .authentication import ApiKeyUser
from .serializers import EventBatchErrorSerializer, EventBatchResultSerializer, EventBatchSerializer


class EventsRateThrottle(ScopedRateThrottle):
    """Per user, per API key or per client address."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.user, ApiKeyUser):
            ident = f"key-{request.user.api_key.pk}"
        elif request.user and request.user.is_authenticated:
            ident = str(request.user.pk)
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


def _bad_request(detail: str, errors: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def _flatten(item_errors: Any) -> list[tuple[str, str]]:
    if isinstance(item_errors, dict):
        return [(field, str(messages[0] if isinstance(messages, list) else messages)) for field, messages in item_errors.items()]
    return [("non_field_errors", str(item_errors))]


class EventBatchView(APIView):
    """Store a batch of behaviour events, all or nothing."""

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
            "the batch with a message per bad item and stores nothing. Signed-in customers send their own "
            "events; servers authenticated with an API key may name the customer (`user`) or a visitor "
            "(`session_key`). Retrying with the same `client_event_id`s stores nothing twice."
        ),
    )
    def post(self, request: Request) -> Response:
        raw_events = request.data.get("events") if isinstance(request.data, dict) else None
        limit = personalization_settings.EVENT_BATCH_MAX
        if not isinstance(raw_events, list) or not raw_events:
            return _bad_request('Send a JSON object {"events": [...]} with at least one event.')
        if len(raw_events) > limit:
            return _bad_request(f"A batch holds at most {limit} events; this one has {len(raw_events)}.")
        serializer = EventBatchSerializer(data={"events": raw_events})
        if not serializer.is_valid():
            item_errors = serializer.errors.get("events", [])
            if not isinstance(item_errors, list):
                return _bad_request("Each event must be a JSON object.", [{"index": None, "field": "events", "message": str(item_errors)}])
            errors = [
                {"index": index, "field": field, "message": message}
                for index, item in enumerate(item_errors)
                if item
                for field, message in _flatten(item)
            ]
            return _bad_request(f"{len({e['index'] for e in errors})} of {len(raw_events)} events are invalid; nothing was stored.", errors)

        is_server = isinstance(request.user, ApiKeyUser)
        events: list[capture.EventData] = []
        errors = []
        seen_ids: dict[str, int] = {}
        for index, item in enumerate(serializer.validated_data["events"]):
            if not is_server and item.get("user") not in (None, request.user.pk):
                errors.append({"index": index, "field": "user", "message": "Only a server API key may send events for another customer."})
                continue
            client_id = item.get("client_event_id")
            if client_id is not None:
                if client_id in seen_ids:
                    errors.append({"index": index, "field": "client_event_id", "message": f"Repeats the id of event {seen_ids[client_id]} in this batch."})
                    continue
                seen_ids[client_id] = index
            try:
                events.append(
                    capture.build_event(
                        event_type=item["type"],
                        user_id=item.get("user") if is_server else request.user.pk,
                        session_key=item.get("session_key", ""),
                        product_id=item.get("product"),
                        quantity=item.get("quantity", 1),
                        price=item.get("price"),
                        query=item.get("query", ""),
                        recommendation_id=item.get("recommendation_id", ""),
                        source=EventSource.API,
                        client_event_id=client_id,
                        timestamp=item.get("timestamp"),
                    )
                )
            except capture.InvalidEvent as exc:
                errors.extend({"index": index, "field": field, "message": message} for field, message in exc.errors.items())
        if not errors:
            missing = capture.missing_product_ids(event.product_id for event in events)
            errors = [
                {"index": index, "field": "product", "message": f"No product with id {event.product_id}."}
                for index, event in enumerate(events)
                if event.product_id in missing
            ]
        if errors:
            return _bad_request(f"{len({e['index'] for e in errors})} of {len(raw_events)} events are invalid; nothing was stored.", errors)

        stored = set(
            Event.objects.filter(client_event_id__in=[e.client_event_id for e in events]).values_list("client_event_id", flat=True)
        )
        fresh = [event for event in events if event.client_event_id not in stored]
        capture.record_events(fresh)
        return Response({"accepted": len(fresh), "duplicates": len(events) - len(fresh)}, status=status.HTTP_202_ACCEPTED)
