"""Model versions in the admin: every kind's versions (activate, retire), and for the recommender the
retrain button, the metrics chart, the preview of any customer's lists and the A/B test."""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest

from ..host.text import is_storable
from ..models import ModelVersion
from ..ops import registry
from ..ops.admin_actions import PermittedActionsMixin


@admin.register(ModelVersion)
class ModelVersionAdmin(PermittedActionsMixin, admin.ModelAdmin):
    list_display = (
        "__str__", "kind", "status", "refused", "progress", "stage", "metrics", "data_end", "created_at",
        "activated_at",
    )
    list_filter = ("kind", "status")
    search_fields = ("kind",)
    readonly_fields = ["refused", *(f.name for f in ModelVersion._meta.fields)]
    actions = ("activate_versions", "retire_versions", "retrain_recommender", "start_ab_test", "stop_ab_test")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="why not live")
    def refused(self, obj: ModelVersion) -> str:
        """The retrain rule's reason for keeping this version out of service (registry.promote)."""
        return registry.refusal(obj)

    # --- recommender: retrain now, metrics chart, preview ----------------------------------------
    def get_urls(self) -> list[Any]:
        from django.urls import path

        view = self.admin_site.admin_view
        return [
            path("retrain/", view(self.retrain_view), name="personalization_modelversion_retrain"),
            path("preview/", view(self.preview_view), name="personalization_modelversion_preview"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        from django.urls import reverse

        from .charts import metrics_svg
        from .config import KIND

        versions = list(ModelVersion.objects.filter(kind=KIND).exclude(status=ModelVersion.Status.FAILED)
                        .order_by("created_at", "id"))[-30:]
        from ..capture.rec_ids import unverified_counts
        from .experiments import challenger_version, version_stats

        context = {
            "metrics_chart": metrics_svg(versions),
            "ab_stats": version_stats(),
            "unverified_ids": unverified_counts(),
            "challenger": challenger_version(),
            "retrain_url": reverse("admin:personalization_modelversion_retrain"),
            "preview_url": reverse("admin:personalization_modelversion_preview"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> Any:
        version = self.get_object(request, object_id)
        context = {**(search_context(version) if version is not None else {}), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _retrain(self, request: HttpRequest) -> None:
        from .training import request_retrain

        ok, message = request_retrain()
        self.message_user(request, message, level=messages.SUCCESS if ok else messages.ERROR)

    def retrain_view(self, request: HttpRequest) -> Any:
        from django.http import HttpResponseNotAllowed, HttpResponseRedirect
        from django.urls import reverse

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        self._retrain(request)
        return HttpResponseRedirect(reverse("admin:personalization_modelversion_changelist"))

    @admin.action(description="Retrain the recommender now", permissions=["change"])
    def retrain_recommender(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        self._retrain(request)

    @admin.action(description="A/B test: serve the selected ready version to half of the visitors",
                  permissions=["change"])
    def start_ab_test(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        from . import experiments

        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to test.", level=messages.ERROR)
            return
        version = queryset.get()
        try:
            experiments.start(version, share=0.5)
        except ValueError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return
        self.message_user(request, f"{version} now serves half of the visitors.", level=messages.SUCCESS)

    @admin.action(description="A/B test: stop (everyone sees the active version)", permissions=["change"])
    def stop_ab_test(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        from . import experiments

        stopped = experiments.stop()
        self.message_user(request, f"Stopped {stopped} A/B test(s).", level=messages.SUCCESS)

    def preview_view(self, request: HttpRequest) -> Any:
        """Any customer's lists for every placement, with the source of each item (nothing is recorded)."""
        from django.core.exceptions import PermissionDenied
        from django.template.response import TemplateResponse

        from . import serving

        if not (self.has_view_permission(request) and request.user.has_perm("personalization.view_customerprofile")):
            raise PermissionDenied  # a customer's lists reveal what they bought and viewed
        query = request.GET.get("user", "").strip()
        context = {**self.admin_site.each_context(request), "title": "Preview recommendations", "query": query,
                   "opts": self.model._meta}
        if query and not is_storable(query):
            context["error"] = "A user name cannot hold a NUL character or invalid Unicode."
        elif query:
            User = get_user_model()
            lookup = {"pk": int(query)} if query.isdecimal() else {User.USERNAME_FIELD: query}
            customer = User._default_manager.filter(**lookup).first()
            if customer is None:
                context["error"] = f"No user {query!r}."
            else:
                version = serving.active_version()
                context.update(customer=customer, version=version, lists=[
                    serving.recommend(placement, user=customer, limit=10, record_impressions=False)
                    for placement in ("for_you", "recently_viewed", "best_sellers")
                ])
        return TemplateResponse(request, "admin/personalization/modelversion/preview.html", context)

    @admin.action(description="Activate the selected version (retires the active one)", permissions=["change"])
    def activate_versions(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", level=messages.ERROR)
            return
        version = queryset.get()
        try:
            registry.activate(version)
        except (ValueError, registry.ArtifactError) as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return
        self.message_user(request, f"{version} is now active.", level=messages.SUCCESS)

    @admin.action(description="Retire the selected versions", permissions=["change"])
    def retire_versions(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for version in queryset:
            registry.retire(version)
        self.message_user(request, f"Retired {queryset.count()} version(s).", level=messages.SUCCESS)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def search_context(version: ModelVersion) -> dict[str, Any]:
    """The settings a hybrid version serves and the search that chose them (``metadata["search"]``)."""
    search = (version.metadata or {}).get("search")
    params = (version.params or {}).get("params") or {}
    if not search and not params.get("sources"):
        return {}
    sources = [{"name": name, "model": spec.get("model", ""), "candidates": spec.get("candidates", 0),
                "params": ", ".join(f"{k}={_short(v)}" for k, v in (spec.get("params") or {}).items())}
               for name, spec in (params.get("sources") or {}).items()]
    ranker = ", ".join(f"{name}={_short(params[name])}" for name in
                       ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf", "negative_rate",
                        "l2_regularization") if name in params)
    trials = [{**trial, "params_text": ", ".join(f"{k}={_short(v)}" for k, v in sorted(trial["params"].items()))}
              for trial in (search or {}).get("trials", [])]
    return {"chosen_sources": sources, "chosen_ranker": ranker, "search": search or {}, "search_trials": trials}
