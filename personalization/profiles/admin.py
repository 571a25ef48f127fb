"""Admin of customer profiles and segments: filters, CSV export, the segments page, "rebuild now"."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from ..models import CustomerProfile, ProfileBuild, Segment
from ..ops.admin_actions import PermittedActionsMixin
from . import charts as profile_charts
from . import selectors

CSV_FIELDS = (
    "user_id",
    "username",
    "email",
    "rfm_segment",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "cluster",
    "cluster_label",
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
    "top_category",
    "price_index",
    "discount_share",
    "expected_purchases_90d",
    "probability_alive",
    "expected_order_value",
    "clv_90d",
    "updated_at",
)


def _user_search_fields() -> tuple[str, ...]:
    user_model = get_user_model()
    names = {user_model.USERNAME_FIELD, "email", "first_name", "last_name"}
    present = {field.name for field in user_model._meta.get_fields()}
    return tuple(f"user__{name}" for name in sorted(names & present))


class ClusterFilter(admin.SimpleListFilter):
    """Filter by K-means cluster, listing the current clusters with their words."""

    title = "cluster"
    parameter_name = "cluster"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(cluster), f"{cluster}: {label}") for cluster, label in sorted(selectors.cluster_labels().items())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CustomerProfile]) -> QuerySet[CustomerProfile]:
        value = self.value()
        if value is None:
            return queryset
        if not value.isdecimal():
            raise IncorrectLookupParameters(f"cluster must be a whole number, not {value!r}")
        return queryset.filter(cluster=int(value))


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_rows(queryset: QuerySet[CustomerProfile]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    labels = selectors.cluster_labels()
    username_field = get_user_model().USERNAME_FIELD
    yield writer.writerow(CSV_FIELDS)
    for profile in queryset.select_related("user").order_by("pk").iterator(chunk_size=2_000):
        user = profile.user
        row = {
            "username": getattr(user, username_field, ""),
            "email": getattr(user, "email", ""),
            "cluster_label": labels.get(profile.cluster, "") if profile.cluster is not None else "",
        }
        yield writer.writerow([row[name] if name in row else getattr(profile, name) for name in CSV_FIELDS])


def profiles_csv_response(
    queryset: QuerySet[CustomerProfile], filename: str = "customer-profiles.csv"
) -> StreamingHttpResponse:
    """The profiles as a streamed CSV download."""
    response = StreamingHttpResponse(_csv_rows(queryset), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(CustomerProfile)
class CustomerProfileAdmin(PermittedActionsMixin, admin.ModelAdmin):
    list_display = (
        "user",
        "rfm_segment",
        "scores",
        "cluster_words",
        "orders",
        "revenue",
        "last_purchase_at",
        "buyer_type",
        "clv_90d",
        "alive",
    )
    list_filter = ("rfm_segment", ClusterFilter, "buyer_type")
    list_select_related = ("user",)
    search_fields = _user_search_fields()
    ordering = ("-revenue",)
    show_full_result_count = False
    actions = ("export_csv",)
    readonly_fields = [field.name for field in CustomerProfile._meta.fields]
    change_list_template = "admin/personalization/customerprofile/change_list.html"

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return _user_search_fields()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="RFM")
    def scores(self, obj: CustomerProfile) -> str:
        return obj.scores

    @admin.display(description="cluster", ordering="cluster")
    def cluster_words(self, obj: CustomerProfile) -> str:
        if obj.cluster is None:
            return "–"
        return format_html(
            '<span style="white-space:nowrap"><span style="color:{}">●</span> {}: {}</span>',
            profile_charts.cluster_colour(obj.cluster),
            obj.cluster,
            getattr(obj, "cluster_label", "") or "",
        )

    @admin.display(description="P(alive)", ordering="probability_alive")
    def alive(self, obj: CustomerProfile) -> str:
        return "–" if obj.probability_alive is None else f"{obj.probability_alive:.0%}"

    def get_queryset(self, request: HttpRequest) -> QuerySet[CustomerProfile]:
        # the words of each profile's cluster, from the latest build, in the same query
        build = selectors.latest_build()
        label = Segment.objects.filter(build=build, cluster_id=OuterRef("cluster")).values("label")[:1]
        return super().get_queryset(request).annotate(cluster_label=Subquery(label))

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {"active_build": selectors.active_build(), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    @admin.action(description="Export selected profiles as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[CustomerProfile]) -> StreamingHttpResponse:
        return profiles_csv_response(queryset)

    # --- extra pages --------------------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("segments/", wrap(self.segments_view), name="personalization_customerprofile_segments"),
            path("rebuild/", wrap(self.rebuild_view), name="personalization_customerprofile_rebuild"),
            path("export/", wrap(self.export_view), name="personalization_customerprofile_export"),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """All profiles matching the change list's current filters and search, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            self.message_user(request, "Those filters are not valid; nothing was exported.", level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:personalization_customerprofile_changelist"))
        return profiles_csv_response(queryset)

    def rebuild_view(self, request: HttpRequest) -> HttpResponse:
        """Queue a rebuild (POST); without a Celery worker it runs before the page returns."""
        if not request.user.has_perm("personalization.add_profilebuild"):
            raise PermissionDenied
        target = reverse("admin:personalization_customerprofile_segments")
        if request.method != "POST":
            return HttpResponseRedirect(target)
        running = selectors.active_build()
        if running is not None:
            self.message_user(
                request, f"Build {running.pk} is already {running.get_status_display().lower()}.", messages.WARNING
            )
            return HttpResponseRedirect(target)
        from . import services as profiles  # pandas and scikit-learn load only when needed

        try:
            build = profiles.request_build(trigger="manual", requested_by=request.user)
        except Exception as exc:  # a rebuild run in-process (no worker) that failed
            self.message_user(request, f"The rebuild failed: {exc}", level=messages.ERROR)
            return HttpResponseRedirect(target)
        build.refresh_from_db()
        if build.status == ProfileBuild.Status.DONE:
            self.message_user(request, f"Rebuilt {build.customers:,} profiles.", level=messages.SUCCESS)
        else:
            self.message_user(request, f"Rebuild {build.pk} queued; this page shows its progress.", level=messages.INFO)
        return HttpResponseRedirect(target)

    def segments_view(self, request: HttpRequest) -> HttpResponse:
        """Segment sizes, the centroid table and the PCA scatter plot of the latest build."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        from . import services as profiles
        from .core import FEATURES

        build = selectors.latest_build()
        segments = list(selectors.current_segments(build))
        labels = {segment.cluster_id: segment.label for segment in segments}
        centroid_xy = {
            int(k): v for k, v in ((build.model_state or {}).get("centroid_xy", {}) if build else {}).items()
        }
        changelist = reverse("admin:personalization_customerprofile_changelist")
        rows = [
            {
                "segment": segment,
                "colour": profile_charts.cluster_colour(segment.cluster_id),
                "values": [_format_feature(f.name, segment.centroid.get(f.name)) for f in FEATURES],
                "url": f"{changelist}?cluster={segment.cluster_id}",
                "percent": 100 * segment.share,
            }
            for segment in segments
        ]
        rfm_counts = selectors.rfm_segment_counts()
        total = sum(item["customers"] for item in rfm_counts) or 1
        for item in rfm_counts:
            item["percent"] = 100 * item["customers"] / total
            item["url"] = f"{changelist}?rfm_segment__exact={item['code']}"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Customer segments",
            "build": build,
            "build_counts": {"customers": f"{build.customers:,}", "lines": f"{build.lines:,}"} if build else {},
            "active_build": selectors.active_build(),
            "last_failed": _failed_since(build),
            "features": FEATURES,
            "rows": rows,
            "rfm_counts": rfm_counts,
            "silhouette_by_k": sorted(((int(k), v) for k, v in (build.silhouette_by_k if build else {}).items())),
            "scatter": profile_charts.scatter_svg(build.points, centroid_xy, labels, build.explained_variance)
            if build
            else "",
            "settings_summary": profiles.settings_summary(),
            "can_rebuild": request.user.has_perm("personalization.add_profilebuild"),
        }
        return TemplateResponse(request, "admin/personalization/segments.html", context)


def _failed_since(build: ProfileBuild | None) -> ProfileBuild | None:
    """The latest failed build, if it is newer than the latest finished one."""
    failed = ProfileBuild.objects.filter(status=ProfileBuild.Status.FAILED)
    if build is not None:
        failed = failed.filter(created_at__gt=build.created_at)
    return failed.order_by("-created_at").first()


def _format_feature(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if name in {"revenue", "average_order_value"}:
        return f"{value:,.2f}"
    if name == "recency_days":
        return f"{value:,.0f}"
    if name in {"orders", "average_basket_units"}:
        return f"{value:,.1f}"
    if name == "discount_share":
        return f"{value:.0%}"
    return f"{value:.2f}"


@admin.register(ProfileBuild)
class ProfileBuildAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "progress_bar",
        "stage",
        "trigger",
        "customers",
        "k",
        "silhouette",
        "duration",
        "created_at",
    )
    list_filter = ("status", "trigger")
    readonly_fields = [field.name for field in ProfileBuild._meta.fields]
    exclude = ("points", "model_state")
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="progress")
    def progress_bar(self, obj: ProfileBuild) -> str:
        return format_html(
            '<progress value="{}" max="100">{}%</progress> {}%', obj.progress, obj.progress, obj.progress
        )

    @admin.display(description="seconds", ordering="duration_seconds")
    def duration(self, obj: ProfileBuild) -> str:
        return "–" if obj.duration_seconds is None else f"{obj.duration_seconds:.1f}"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {"segments_url": reverse("admin:personalization_customerprofile_segments"), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("cluster_id", "label", "size", "share_percent", "build")
    list_filter = ("build",)
    readonly_fields = [field.name for field in Segment._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Segment]:
        return super().get_queryset(request).select_related("build")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="share", ordering="share")
    def share_percent(self, obj: Segment) -> str:
        return f"{obj.share:.1%}"
