"""REST endpoints of customer profiles and segments.

- ``GET profile/`` — the signed-in customer's own profile, without the shop's internal scores.
- ``GET profiles/``, ``GET profiles/<user_id>/`` — staff with ``view_customerprofile``: every profile,
  filtered and paginated.
- ``GET segments/`` — the same staff: the current clusters, RFM segment counts and the build in progress.
- ``POST segments/rebuild/`` — staff with ``add_profilebuild``: queue a rebuild of every profile.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import BuyerType, CustomerProfile, ProfileBuild, RFMSegment, Segment
from ..profiles import selectors
from .base import ShopSenseAPI
from .permissions import StaffModelPermission

PUBLIC_TOP_CATEGORIES = 3
ORDERINGS = ("revenue", "-revenue", "clv_90d", "-clv_90d", "orders", "-orders", "last_purchase_at", "-last_purchase_at")


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class CategoryShareSerializer(serializers.Serializer):
    category = serializers.CharField()
    share = serializers.FloatField(help_text="Share of the customer's spend, 0..1.")


class MyProfileSerializer(serializers.ModelSerializer):
    """What a customer may see about themselves: facts of their own orders, no scores or predictions."""

    total_spent = serializers.DecimalField(source="revenue", max_digits=14, decimal_places=2)
    favourite_categories = serializers.SerializerMethodField()

    class Meta:
        model = CustomerProfile
        fields = (
            "first_purchase_at",
            "last_purchase_at",
            "orders",
            "total_spent",
            "average_order_value",
            "average_basket_units",
            "favourite_categories",
            "updated_at",
        )

    @extend_schema_field(CategoryShareSerializer(many=True))
    def get_favourite_categories(self, obj: CustomerProfile) -> list[dict[str, Any]]:
        ranked = sorted((obj.category_affinity or {}).items(), key=lambda item: (-item[1], item[0]))
        return [{"category": name, "share": share} for name, share in ranked[:PUBLIC_TOP_CATEGORIES]]


class StaffProfileSerializer(serializers.ModelSerializer):
    """Everything the rebuild computed about a customer (staff only)."""

    user_id = serializers.IntegerField()
    username = serializers.SerializerMethodField()
    rfm_segment_name = serializers.CharField(source="get_rfm_segment_display")
    rfm_scores = serializers.CharField(source="scores")
    cluster_label = serializers.SerializerMethodField()

    class Meta:
        model = CustomerProfile
        fields = (
            "user_id",
            "username",
            "rfm_segment",
            "rfm_segment_name",
            "rfm_scores",
            "recency_score",
            "frequency_score",
            "monetary_score",
            "cluster",
            "cluster_label",
            "pca_x",
            "pca_y",
            "first_purchase_at",
            "last_purchase_at",
            "recency_days",
            "orders",
            "purchase_days",
            "lines",
            "units",
            "revenue",
            "average_order_value",
            "average_basket_units",
            "buyer_type",
            "category_affinity",
            "top_category",
            "price_index",
            "discount_share",
            "expected_purchases_90d",
            "probability_alive",
            "expected_order_value",
            "clv_90d",
            "build",
            "updated_at",
        )

    def get_username(self, obj: CustomerProfile) -> str:
        return str(obj.user.get_username())

    def get_cluster_label(self, obj: CustomerProfile) -> str:
        labels = self.context.setdefault("cluster_labels", selectors.cluster_labels())
        return labels.get(obj.cluster, "") if obj.cluster is not None else ""


class ProfileFilterSerializer(serializers.Serializer):
    """Query parameters of the staff profile list."""

    segment = serializers.ChoiceField(
        choices=RFMSegment.values, required=False, help_text="RFM segment code (e.g. champions) or name (Champions)."
    )
    cluster = serializers.IntegerField(required=False, min_value=0, help_text="Cluster id of the current segments.")
    buyer_type = serializers.ChoiceField(choices=BuyerType.values, required=False)
    search = serializers.CharField(required=False, max_length=100, help_text="Part of the username or e-mail.")
    ordering = serializers.ChoiceField(choices=ORDERINGS, required=False, default="-revenue")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        data = {key: data.get(key) for key in self.fields if data.get(key) not in (None, "")}
        if "segment" in data:
            by_name = {label.lower(): code for code, label in RFMSegment.choices}
            data["segment"] = by_name.get(str(data["segment"]).strip().lower(), str(data["segment"]).strip().lower())
        return super().to_internal_value(data)

    def validate_cluster(self, value: int) -> int:
        known = sorted(selectors.cluster_labels())
        if value not in known:
            raise serializers.ValidationError(f"No cluster {value}; the current clusters are {known}.")
        return value


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ("cluster_id", "label", "size", "share", "centroid", "centroid_z")


class BuildSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProfileBuild
        fields = (
            "id",
            "status",
            "progress",
            "stage",
            "message",
            "trigger",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "as_of",
            "customers",
            "lines",
            "k",
            "silhouette",
            "silhouette_by_k",
            "explained_variance",
            "clv_params",
        )


class RFMCountSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    customers = serializers.IntegerField()


class SegmentsOverviewSerializer(serializers.Serializer):
    build = BuildSerializer(allow_null=True, help_text="The latest finished build.")
    active_build = BuildSerializer(allow_null=True, help_text="A build queued or running now, with its progress.")
    clusters = SegmentSerializer(many=True)
    rfm_segments = RFMCountSerializer(many=True)


class IsCustomer(IsAuthenticated):
    """A signed-in shop customer (not a server using an API key)."""

    message = "Sign in as a customer to see your profile."

    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and isinstance(request.user, get_user_model())


class MyProfileView(ShopSenseAPI, APIView):
    """The signed-in customer's own profile."""

    permission_classes = [IsCustomer]

    @extend_schema(
        operation_id="personalization_my_profile",
        responses={
            200: MyProfileSerializer,
            403: OpenApiResponse(ErrorSerializer, description="Not signed in as a customer."),
            404: OpenApiResponse(ErrorSerializer, description="No purchase yet, so no profile."),
        },
        description=(
            "What your orders say about you: first and last purchase, number of orders, total spent, average "
            "order, basket size and favourite categories. Always your own profile; no parameters."
        ),
    )
    def get(self, request: Request) -> Response:
        profile = selectors.profile_of(request.user)
        if profile is None:
            return Response(
                {"detail": "No profile yet: it is created with your first order."}, status=status.HTTP_404_NOT_FOUND
            )
        return Response(MyProfileSerializer(profile).data)


FILTER_PARAMETERS = [
    OpenApiParameter("segment", str, description="RFM segment code or name.", enum=RFMSegment.values),
    OpenApiParameter("cluster", int, description="Cluster id of the current segments."),
    OpenApiParameter("buyer_type", str, enum=BuyerType.values),
    OpenApiParameter("search", str, description="Part of the username or e-mail."),
    OpenApiParameter("ordering", str, enum=ORDERINGS, description="Default -revenue."),
]


class StaffProfileListView(ShopSenseAPI, generics.ListAPIView):
    """Every customer profile, for staff."""

    permission_classes = [StaffModelPermission]
    required_perms = {"GET": ("personalization.view_customerprofile",)}
    serializer_class = StaffProfileSerializer

    def get_queryset(self) -> QuerySet[CustomerProfile]:
        filters = ProfileFilterSerializer(data=self.request.query_params)
        if not filters.is_valid():
            raise ValidationError(filters.errors)
        params = filters.validated_data
        queryset = CustomerProfile.objects.select_related("user")
        if "segment" in params:
            queryset = queryset.filter(rfm_segment=params["segment"])
        if "cluster" in params:
            queryset = queryset.filter(cluster=params["cluster"])
        if "buyer_type" in params:
            queryset = queryset.filter(buyer_type=params["buyer_type"])
        if "search" in params:
            user_model = get_user_model()
            condition = Q(**{f"user__{user_model.USERNAME_FIELD}__icontains": params["search"]})
            if any(field.name == "email" for field in user_model._meta.get_fields()):
                condition |= Q(user__email__icontains=params["search"])
            queryset = queryset.filter(condition)
        return queryset.order_by(params["ordering"], "pk")

    @extend_schema(
        operation_id="personalization_profiles_list",
        parameters=FILTER_PARAMETERS,
        responses={
            200: StaffProfileSerializer(many=True),
            400: OpenApiResponse(description="A filter value is not valid (the message says which)."),
            403: OpenApiResponse(ErrorSerializer, description="Staff only."),
        },
        description="Customer profiles with RFM scores and segment, lifetime value and cluster; paginated.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class StaffProfileDetailView(ShopSenseAPI, generics.RetrieveAPIView):
    """One customer's profile, for staff."""

    permission_classes = [StaffModelPermission]
    required_perms = {"GET": ("personalization.view_customerprofile",)}
    serializer_class = StaffProfileSerializer
    lookup_field = "user_id"
    queryset = CustomerProfile.objects.select_related("user")

    @extend_schema(
        operation_id="personalization_profiles_retrieve", responses={200: StaffProfileSerializer, 404: ErrorSerializer}
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class SegmentsView(ShopSenseAPI, APIView):
    """The current segments, for staff."""

    permission_classes = [StaffModelPermission]
    required_perms = {"GET": ("personalization.view_customerprofile",)}

    @extend_schema(
        operation_id="personalization_segments",
        responses={200: SegmentsOverviewSerializer, 403: OpenApiResponse(ErrorSerializer, description="Staff only.")},
        description=(
            "Clusters of the latest build (sizes, words, centroids), customers per RFM segment, "
            "and the build in progress."
        ),
    )
    def get(self, request: Request) -> Response:
        build = selectors.latest_build()
        data = {
            "build": build,
            "active_build": selectors.active_build(),
            "clusters": list(selectors.current_segments(build)),
            "rfm_segments": selectors.rfm_segment_counts(),
        }
        return Response(SegmentsOverviewSerializer(data).data)


class RebuildView(ShopSenseAPI, APIView):
    """Queue a rebuild of every profile, for staff."""

    permission_classes = [StaffModelPermission]
    required_perms = {"POST": ("personalization.add_profilebuild",)}

    @extend_schema(
        operation_id="personalization_segments_rebuild",
        request=None,
        responses={
            202: BuildSerializer,
            409: OpenApiResponse(BuildSerializer, description="A build is queued or running already; this is it."),
        },
        description=(
            "Queues the rebuild for a Celery worker (without one it runs before the response). "
            "Poll segments/ for progress."
        ),
    )
    def post(self, request: Request) -> Response:
        from ..profiles import services as profiles

        running = selectors.active_build()
        if running is not None:
            return Response(BuildSerializer(running).data, status=status.HTTP_409_CONFLICT)
        try:
            build = profiles.request_build(trigger="api", requested_by=request.user)
        except Exception:
            build = ProfileBuild.objects.filter(trigger="api").order_by("-created_at").first()
            if build is None:
                raise
        build.refresh_from_db()
        return Response(BuildSerializer(build).data, status=status.HTTP_202_ACCEPTED)
