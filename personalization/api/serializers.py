"""Serializers of the events API, for the OpenAPI schema.

The view validates with ``capture.accept_batch`` (plain Python, fast enough for 1,000 events per
request); these classes describe the same fields for drf-spectacular and must be kept in step.
"""
from __future__ import annotations

from rest_framework import serializers

from ..models import EventType


class EventInSerializer(serializers.Serializer):
    """One event sent by a mobile app or a server."""

    type = serializers.ChoiceField(choices=EventType.choices)
    product = serializers.IntegerField(required=False, allow_null=True, min_value=1, help_text="Product id.")
    quantity = serializers.IntegerField(required=False, default=1, min_value=1, max_value=1_000_000)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True, min_value=0)
    query = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    recommendation_id = serializers.CharField(
        required=False, allow_blank=True, max_length=64, default="",
        help_text="The id of the list it came from, as served to this customer or visitor (others are not counted).",
    )
    client_event_id = serializers.CharField(
        required=False,
        max_length=64,
        help_text="Unique id chosen by the client (a UUID); a retry with the same id stores nothing new.",
    )
    timestamp = serializers.DateTimeField(required=False, help_text="When it happened (ISO 8601); default: now.")
    session_key = serializers.CharField(
        required=False, allow_blank=True, max_length=64, default="",
        help_text="Device or visitor id; a customer may send only their own session's (servers: any).",
    )
    user = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="Customer id; only servers authenticated with an API key may set it.",
    )


class EventBatchSerializer(serializers.Serializer):
    events = serializers.ListField(
        child=EventInSerializer(),
        allow_empty=False,
        max_length=1000,
        help_text="1 to 1,000 events, stored all or nothing.",
    )


class EventBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events taken for storage.")
    duplicates = serializers.IntegerField(help_text="Events already stored under the same client_event_id (ignored).")


class EventErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True, help_text="Position of the bad event in `events`.")
    field = serializers.CharField(help_text="The bad field (`non_field_errors` when the item is not an object).")
    message = serializers.CharField()


class EventBatchErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = EventErrorSerializer(many=True, required=False)
