"""The pricing API.

- ``GET prices/?products=1,2,3`` — public: current and prior price of up to 100 products (one price for
  every shopper); 400 when the list is not a list of ids.
- ``GET suggestions/`` (``?status=pending``), ``GET suggestions/<id>/``, ``POST suggestions/<id>/approve/``,
  ``.../reject/`` (``{"reason": ...}``), ``.../apply/`` — staff with the model permissions.
- ``GET history/`` (``?product=<id>``) — staff: the price history, newest first.

A refusal the shop owner has set up (pause switch, circuit breaker, a stale or decided suggestion)
answers 409 with the reason.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from personalization.api.base import ShopSenseAPI
from personalization.api.permissions import StaffModelPermission
from personalization.api.throttling import PUBLIC_THROTTLES
from personalization.host.adapters import get_adapter
from personalization.host.ids import IdConverter, is_id
from personalization.host.money import currency_symbol

from .. import actions
from ..models import PriceChange, PriceSuggestion
from ..selectors import prior_price
from .serializers import (
    PriceChangeSerializer,
    PriceSuggestionSerializer,
    PricingErrorSerializer,
    ProductPricesSerializer,
    RejectSerializer,
)

MAX_PRODUCTS = 100


def parse_ids(raw: str | None, name: str, *, limit: int = MAX_PRODUCTS) -> list[int]:
    """``"1,2,3"`` as ids; :class:`ValidationError` (400) with a message for anything else."""
    if not raw or not raw.strip():
        raise ValidationError({name: "Give one or more product ids, e.g. ?products=1,2,3."})
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not all(part.isdecimal() and is_id(int(part)) for part in parts):
        raise ValidationError({name: "Product ids are positive whole numbers separated by commas."})
    if len(parts) > limit:
        raise ValidationError({name: f"At most {limit} products at once."})
    return list(dict.fromkeys(int(part) for part in parts))


class ProductPricesView(ShopSenseAPI, APIView):
    """Current and prior prices of the given products (unknown or inactive products are left out)."""

    permission_classes = [AllowAny]
    throttle_classes = PUBLIC_THROTTLES

    @extend_schema(
        operation_id="pricing_prices_list",
        parameters=[
            OpenApiParameter("products", str, required=True, description="Comma-separated product ids (≤ 100).")
        ],
        responses={
            200: ProductPricesSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        ids = parse_ids(request.query_params.get("products"), "products")
        adapter = get_adapter()
        found = adapter.active_products().in_bulk(ids)
        results = [
            {
                "product": pk,
                "price": adapter.get_price(found[pk]),
                "prior_price": prior_price(found[pk]),
                "currency": currency_symbol(),
            }
            for pk in ids
            if pk in found
        ]
        return Response(ProductPricesSerializer({"results": results}).data)


def _conflict(exc: actions.PricingError) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


DECISION_RESPONSES = {
    200: PriceSuggestionSerializer,
    409: OpenApiResponse(
        PricingErrorSerializer, description="Paused, refused by the circuit breaker, stale or already decided."
    ),
}


class PriceSuggestionViewSet(ShopSenseAPI, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Price suggestions for staff: list, approve, reject with a reason, apply."""

    serializer_class = PriceSuggestionSerializer
    permission_classes = [StaffModelPermission]
    required_perms = {
        "list": ("pricing.view_pricesuggestion",),
        "retrieve": ("pricing.view_pricesuggestion",),
        "approve": ("pricing.change_pricesuggestion",),
        "reject": ("pricing.change_pricesuggestion",),
        "apply": ("pricing.change_pricesuggestion", "pricing.add_pricechange"),
    }
    lookup_value_regex = IdConverter.regex

    def get_queryset(self) -> QuerySet[PriceSuggestion]:
        queryset = PriceSuggestion.objects.order_by("-created_at", "-id")
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in PriceSuggestion.Status.values:
                raise ValidationError({"status": f"One of {', '.join(PriceSuggestion.Status.values)}."})
            queryset = queryset.filter(status=wanted)
        return queryset

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=PriceSuggestion.Status.values)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=DECISION_RESPONSES)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        try:
            row = actions.approve(self.get_object(), request.user)
        except actions.PricingError as exc:
            return _conflict(exc)
        return Response(PriceSuggestionSerializer(row).data)

    @extend_schema(request=RejectSerializer, responses=DECISION_RESPONSES)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        payload = RejectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            row = actions.reject(self.get_object(), request.user, payload.validated_data["reason"])
        except actions.PricingError as exc:
            return _conflict(exc)
        return Response(PriceSuggestionSerializer(row).data)

    @extend_schema(request=None, responses=DECISION_RESPONSES)
    @action(detail=True, methods=["post"])
    def apply(self, request: Request, pk: str | None = None) -> Response:
        suggestion = self.get_object()
        try:
            actions.apply_suggestion(suggestion, request.user)
        except actions.PricingError as exc:
            return _conflict(exc)
        suggestion.refresh_from_db()
        return Response(PriceSuggestionSerializer(suggestion).data)


class PriceHistoryViewSet(ShopSenseAPI, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The price history for staff, newest first; ``?product=<id>`` narrows it to one product."""

    serializer_class = PriceChangeSerializer
    permission_classes = [StaffModelPermission]
    required_perms = {"list": ("pricing.view_pricechange",)}

    def get_queryset(self) -> QuerySet[PriceChange]:
        queryset = PriceChange.objects.order_by("-changed_at", "-id")
        product = self.request.query_params.get("product")
        if product is not None:
            queryset = queryset.filter(product_id=parse_ids(product, "product", limit=1)[0])
        return queryset

    @extend_schema(parameters=[OpenApiParameter("product", int)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)
