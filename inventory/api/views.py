"""Staff REST endpoints of the inventory app: staff with the Django model permissions of each action.

- ``GET forecasts/`` (``?product=``) — the latest stored demand forecasts;
- ``GET suggestions/`` (``?status=``, ``?exception=stockout|excess|dead``) — restock suggestions;
- ``GET exceptions/`` — the exceptions dashboard's summary of the open suggestions;
- ``POST suggestions/<id>/status/`` — mark ordered / snooze / dismiss;
- ``POST suggestions/purchase-orders/`` — turn suggestions into draft purchase orders;
- ``GET|POST purchase-orders/``, ``GET purchase-orders/<id>/`` (lines with unit costs, line and order
  totals), ``GET purchase-orders/<id>/csv/``, ``POST purchase-orders/<id>/order/``,
  ``POST purchase-orders/<id>/receive/`` (ordered ones only: adds the lines to the shop's stock; a draft is 409).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from personalization.api.base import ShopSenseAPI
from personalization.api.permissions import StaffModelPermission
from personalization.host.ids import is_id

from .. import services
from ..dashboard import exception_summary
from ..models import DemandForecast, PurchaseOrder, RestockSuggestion
from .serializers import (
    DemandForecastSerializer,
    ExceptionSummarySerializer,
    InventoryErrorSerializer,
    PurchaseOrderSerializer,
    RestockSuggestionSerializer,
    SuggestionIdsSerializer,
    SuggestionStatusSerializer,
)

EXCEPTIONS = {"stockout": "stockout_before_arrival", "excess": "excess", "dead": "dead_stock"}


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError({name: f"Must be an integer, not {raw!r}."}) from exc
    if not is_id(value):
        raise ValidationError({name: "Must be a positive integer (an id)."})
    return value


class StaffMixin(ShopSenseAPI):
    permission_classes = (StaffModelPermission,)
    required_perms: dict[str, tuple[str, ...]] = {}


@extend_schema(
    tags=["inventory"],
    parameters=[OpenApiParameter("product", int, description="Only this product's forecast.")],
    responses={200: DemandForecastSerializer(many=True)},
)
class ForecastListView(StaffMixin, generics.ListAPIView):
    required_perms = {"GET": ("inventory.view_demandforecast",)}
    serializer_class = DemandForecastSerializer

    def get_queryset(self) -> QuerySet[DemandForecast]:
        latest = DemandForecast.objects.order_by("-origin").values_list("origin", flat=True).first()
        queryset = DemandForecast.objects.filter(origin=latest).order_by("product_id")
        product = _int_param(self.request, "product")
        return queryset.filter(product_id=product) if product else queryset


@extend_schema(
    tags=["inventory"],
    parameters=[
        OpenApiParameter("status", str, enum=[c for c, _ in RestockSuggestion.Status.choices]),
        OpenApiParameter("exception", str, enum=list(EXCEPTIONS)),
    ],
    responses={200: RestockSuggestionSerializer(many=True)},
)
class SuggestionListView(StaffMixin, generics.ListAPIView):
    required_perms = {"GET": ("inventory.view_restocksuggestion",)}
    serializer_class = RestockSuggestionSerializer

    def get_queryset(self) -> QuerySet[RestockSuggestion]:
        queryset = RestockSuggestion.objects.all()  # the model's ordering: by urgency (order-by date, lost revenue)
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in RestockSuggestion.Status.values:
                raise ValidationError({"status": f"Choose one of {', '.join(RestockSuggestion.Status.values)}."})
            queryset = queryset.filter(status=wanted)
        exception = self.request.query_params.get("exception")
        if exception:
            if exception not in EXCEPTIONS:
                raise ValidationError({"exception": f"Choose one of {', '.join(EXCEPTIONS)}."})
            queryset = queryset.filter(**{EXCEPTIONS[exception]: True})
        return queryset


class ExceptionSummaryView(StaffMixin, APIView):
    required_perms = {"GET": ("inventory.view_restocksuggestion",)}

    @extend_schema(tags=["inventory"], responses={200: ExceptionSummarySerializer})
    def get(self, request: Request) -> Response:
        """Open suggestions, orders due and lost revenue, and the worst ten per exception (as the admin's
        exceptions dashboard)."""
        today = services.planning_date()
        summary = exception_summary(today)
        return Response(ExceptionSummarySerializer({**summary.__dict__, "today": today}).data)


class SuggestionStatusView(StaffMixin, APIView):
    required_perms = {"POST": ("inventory.change_restocksuggestion",)}

    @extend_schema(
        tags=["inventory"],
        request=SuggestionStatusSerializer,
        responses={
            200: RestockSuggestionSerializer,
            404: InventoryErrorSerializer,
            409: OpenApiResponse(InventoryErrorSerializer, description="The suggestion is no longer open."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        suggestion = get_object_or_404(RestockSuggestion, pk=pk)
        body = SuggestionStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = services.set_suggestion_status(
            [pk], body.validated_data["status"], body.validated_data["snooze_days"]
        )
        if not changed:
            return Response(
                {"detail": f"The suggestion is {suggestion.status}, not open."}, status=status.HTTP_409_CONFLICT
            )
        suggestion.refresh_from_db()
        return Response(RestockSuggestionSerializer(suggestion).data)


class SuggestionOrderView(StaffMixin, APIView):
    required_perms = {"POST": ("inventory.change_restocksuggestion", "inventory.add_purchaseorder")}

    @extend_schema(
        tags=["inventory"],
        request=SuggestionIdsSerializer,
        responses={201: PurchaseOrderSerializer(many=True)},
    )
    def post(self, request: Request) -> Response:
        body = SuggestionIdsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            orders = services.create_purchase_orders(body.validated_data["suggestions"], user=request.user)
        except services.PurchasingError as exc:
            raise ValidationError({"suggestions": str(exc)}) from exc
        return Response(PurchaseOrderSerializer(orders, many=True).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["inventory"])
class PurchaseOrderListView(StaffMixin, generics.ListCreateAPIView):
    required_perms = {"GET": ("inventory.view_purchaseorder",), "POST": ("inventory.add_purchaseorder",)}
    serializer_class = PurchaseOrderSerializer
    queryset = PurchaseOrder.objects.select_related("supplier").prefetch_related("lines").order_by("-created_at", "-id")

    def perform_create(self, serializer: Any) -> None:
        serializer.save(created_by=self.request.user)


@extend_schema(tags=["inventory"])
class PurchaseOrderDetailView(StaffMixin, generics.RetrieveAPIView):
    required_perms = {"GET": ("inventory.view_purchaseorder",)}
    serializer_class = PurchaseOrderSerializer
    queryset = PurchaseOrder.objects.select_related("supplier").prefetch_related("lines")


class PurchaseOrderCsvView(StaffMixin, APIView):
    required_perms = {"GET": ("inventory.view_purchaseorder",)}

    @extend_schema(
        tags=["inventory"],
        responses={(200, "text/csv"): OpenApiResponse(str, description="One row per line, then a TOTAL row."),
                   404: InventoryErrorSerializer},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        """The purchase order as CSV (to print or send to the supplier): lines, unit costs, totals."""
        order = get_object_or_404(
            PurchaseOrder.objects.select_related("supplier").prefetch_related("lines__product"), pk=pk
        )
        response = HttpResponse(services.purchase_orders_csv([order]), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="purchase-order-{order.pk}.csv"'
        return response


class PurchaseOrderActionView(StaffMixin, APIView):
    required_perms = {"POST": ("inventory.change_purchaseorder",)}
    action_name = "receive"

    @extend_schema(
        tags=["inventory"],
        request=None,
        responses={200: PurchaseOrderSerializer, 404: InventoryErrorSerializer, 409: InventoryErrorSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        order = get_object_or_404(PurchaseOrder, pk=pk)
        if self.action_name == "order":
            if not services.mark_ordered([pk]):
                return Response({"detail": f"{order} is {order.status}, not a draft."}, status=status.HTTP_409_CONFLICT)
        else:
            try:
                services.receive_purchase_order(pk)
            except services.PurchasingError as exc:
                return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        order.refresh_from_db()
        return Response(PurchaseOrderSerializer(order).data)
