"""``GET recommendations/``: a placement's list for the caller (customers their own, guests by session).

Staff with ``personalization.view_customerprofile`` may pass ``user=`` to read any customer's list;
anyone else passing another customer's id gets 403. Bad parameters give 400 with a message per field.
Parameters are checked and the response is written in plain Python (the serializers below document
the response): this is the storefront's hot path.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..capture.visitor import get_visitor_id
from ..host.ids import MAX_ID, is_id
from ..host.text import UNSTORABLE_MESSAGE, is_storable
from ..recommending import serving
from ..recommending.config import PLACEMENTS
from .base import ShopSenseAPI
from .throttling import PUBLIC_THROTTLES

MAX_LIMIT = 50


TRUE, FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})


def parse_query(query: Any) -> dict[str, Any]:
    """The query parameters, checked (the hot path: plain Python, not a serializer, which costs ~0.2 ms).

    Raises ``ValidationError`` listing each bad field.
    """
    errors: dict[str, list[str]] = {}
    params: dict[str, Any] = {"limit": 8, "exclude_bought": False}
    placement = query.get("placement")
    if placement not in PLACEMENTS:
        errors["placement"] = ["This field is required." if placement is None else
                               f"{placement!r} is not a valid choice: {', '.join(PLACEMENTS)}."]
    params["placement"] = placement
    for name, low, high in (("limit", 1, MAX_LIMIT), ("user", 1, MAX_ID), ("per_category", 0, MAX_LIMIT)):
        raw = query.get(name)
        if raw is None:
            continue
        raw = raw.strip()
        if not (raw[1:] if raw[:1] == "-" else raw).isdecimal():
            errors[name] = ["A valid integer is required."]
        elif not low <= int(raw) <= high:
            errors[name] = [f"must be from {low} to {high}."]
        else:
            params[name] = int(raw)
    raw = query.get("product")
    if raw is not None:
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if not parts or not all(part.isdecimal() and is_id(int(part)) for part in parts) or len(parts) > 50:
            errors["product"] = ["must be one or more product ids separated by commas (at most 50)."]
        else:
            params["product"] = [int(part) for part in parts]
    elif placement in {"similar", "bought_together"}:
        errors["product"] = [f"the {placement} placement needs a product."]
    raw = query.get("category")
    if raw is not None:
        if len(raw) > 255:
            errors["category"] = ["must be at most 255 characters."]
        elif not is_storable(raw):
            errors["category"] = [UNSTORABLE_MESSAGE]
        params["category"] = raw
    raw = query.get("exclude_bought")
    if raw is not None:
        if raw.strip().lower() not in TRUE | FALSE:
            errors["exclude_bought"] = ["Must be a valid boolean."]
        params["exclude_bought"] = raw.strip().lower() in TRUE
    if errors:
        raise ValidationError(errors)
    return params


class RecommendedItemSerializer(serializers.Serializer):
    product = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField(help_text="The product's page with ?rec= so that a click is attributed (empty if the "
                                          "product has no page).")
    score = serializers.FloatField()
    source = serializers.CharField(help_text="Why it is in the list (model, bought before, because you viewed, ...).")


class RecommendationsSerializer(serializers.Serializer):
    recommendation_id = serializers.CharField(help_text="Send it back with clicks (?rec= or events); signed for the "
                                                        "caller, it counts only in their own events.")
    placement = serializers.CharField()
    model_version = serializers.IntegerField(allow_null=True)
    items = RecommendedItemSerializer(many=True)

    class Meta:
        ref_name = "PersonalizationRecommendations"


def _may_read_others(user: Any) -> bool:
    """Staff who may see customers' profiles may also read their recommendations."""
    return bool(user.is_staff and user.has_perm("personalization.view_customerprofile"))


def response_body(result: serving.Recommendations) -> dict[str, Any]:
    """The API's answer for a served list (the fields of :class:`RecommendationsSerializer`)."""
    return {
        "recommendation_id": result.id,
        "placement": result.placement,
        "model_version": result.model_version_id,
        "items": [{"product": item.product_id, "name": item.name,
                   "url": f"{item.path}?rec={result.id}" if item.path else "", "score": item.score,
                   "source": item.source} for item in result.items],
    }


class RecommendationsView(ShopSenseAPI, APIView):
    """Recommendations for the caller, computed from precomputed lists, the session and fallbacks."""

    permission_classes = [AllowAny]
    throttle_classes = PUBLIC_THROTTLES

    @extend_schema(
        operation_id="personalization_recommendations",
        parameters=[
            OpenApiParameter("placement", str, required=True, enum=list(PLACEMENTS)),
            OpenApiParameter("product", str, description="Product id(s) for similar / bought_together."),
            OpenApiParameter("limit", int, description=f"1 to {MAX_LIMIT}, default 8."),
            OpenApiParameter("category", str, description="Only products of this category."),
            OpenApiParameter("user", int, description="Staff with view_customerprofile: read this customer's list."),
            OpenApiParameter("exclude_bought", bool, description="Leave out products the customer bought."),
            OpenApiParameter("per_category", int, description="At most this many items of one category."),
        ],
        responses={
            200: RecommendationsSerializer,
            400: OpenApiResponse(description="A bad parameter (the message names it)."),
            403: OpenApiResponse(description="A customer asked for another customer's list."),
        },
        description=(
            "Top products for one placement: for_you (home), similar and bought_together (product page, cart), "
            "recently_viewed, best_sellers. Out-of-stock and inactive products never appear. Every answer "
            "carries a recommendation_id; item urls already hold it as ?rec= so that clicks are attributed."
        ),
    )
    def get(self, request: Request) -> Response:
        params = parse_query(request.query_params)
        caller = request.user if isinstance(request.user, get_user_model()) and request.user.is_authenticated \
            else None
        # A guest's visitor id, only in a session they already have: a call without a session cookie (a bot,
        # an app) must not write a session row each time.
        user, session_key = caller, get_visitor_id(request._request, start_session=False) if caller is None else ""
        if "user" in params:
            if caller is None or (params["user"] != caller.pk and not _may_read_others(caller)):
                raise PermissionDenied("You may only read your own recommendations.")
            user = get_user_model()._default_manager.filter(pk=params["user"]).first()
            if user is None:
                raise ValidationError({"user": [f"no user with id {params['user']}."]})
            session_key = ""
        try:
            result = serving.recommend(
                params["placement"], user=user, session_key=session_key, product_ids=params.get("product") or (),
                limit=params["limit"], category=params.get("category"), exclude_bought=params["exclude_bought"],
                per_category=params.get("per_category"), record_impressions=user is caller,
            )
        except serving.InvalidRequest as exc:
            body = {exc.field: [str(exc)]} if exc.field else {"detail": str(exc)}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(response_body(result))
