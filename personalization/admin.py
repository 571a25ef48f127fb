from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest

from . import api_keys, registry
from .admin_actions import PermittedActionsMixin
from .models import ApiKey, Event, ModelVersion


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = (
        "timestamp", "event_type", "product", "user", "short_session",
        "quantity", "price", "source", "recommendation_id",
    )
    list_filter = ("event_type", "source", "timestamp")
    search_fields = ("client_event_id", "session_key", "recommendation_id", "query")
    list_select_related = ("product", "user")
    raw_id_fields = ("product", "user")
    show_full_result_count = False
    readonly_fields = [f.name for f in Event._meta.fields]

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # The host's user model may have no ``username``: search whatever identifies its users.
        return (*self.search_fields, f"user__{get_user_model().USERNAME_FIELD}")

    @admin.display(description="visitor")
    def short_session(self, obj: Event) -> str:
        return obj.session_key[:12]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(PermittedActionsMixin, admin.ModelAdmin):
    list_display = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created, raw_key = api_keys.create_api_key(obj.name)
        obj.pk = created.pk
        obj.prefix = created.prefix
        obj.key_hash = created.key_hash
        obj.created_at = created.created_at
        obj._state.adding = False
        obj._state.db = created._state.db
        self.message_user(
            request,
            f"API key created. Copy it now, it is not shown again: {raw_key}",
            level=messages.WARNING,
        )

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = sum(api_keys.revoke_api_key(api_key) for api_key in queryset)
        if revoked:
            self.message_user(request, f"Revoked {revoked} key(s).", level=messages.SUCCESS)
        else:
            self.message_user(request, "The selected keys were revoked already.", level=messages.INFO)



@admin.register(ModelVersion)
class ModelVersionAdmin(PermittedActionsMixin, admin.ModelAdmin):
    list_display = (
        "__str__", "kind", "status", "progress", "stage", "metrics", "data_end", "created_at", "activated_at",
    )
    list_filter = ("kind", "status")
    search_fields = ("kind",)
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ("activate_versions", "retire_versions", "retrain_recommender", "start_ab_test", "stop_ab_test")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

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

        from .recommending.charts import metrics_svg
        from .recommending.config import KIND

        versions = list(ModelVersion.objects.filter(kind=KIND).exclude(status=ModelVersion.Status.FAILED)
                        .order_by("created_at", "id"))[-30:]
        from .recommending.experiments import challenger_version, version_stats

        context = {
            "metrics_chart": metrics_svg(versions),
            "ab_stats": version_stats(),
            "challenger": challenger_version(),
            "retrain_url": reverse("admin:personalization_modelversion_retrain"),
            "preview_url": reverse("admin:personalization_modelversion_preview"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def _retrain(self, request: HttpRequest) -> None:
        from .recommending.training import request_retrain

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
        from .recommending import experiments

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
        from .recommending import experiments

        stopped = experiments.stop()
        self.message_user(request, f"Stopped {stopped} A/B test(s).", level=messages.SUCCESS)

    def preview_view(self, request: HttpRequest) -> Any:
        """Any customer's lists for every placement, with the source of each item (nothing is recorded)."""
        from django.core.exceptions import PermissionDenied
        from django.template.response import TemplateResponse

        from .recommending import serving

        if not (self.has_view_permission(request) and request.user.has_perm("personalization.view_customerprofile")):
            raise PermissionDenied  # a customer's lists reveal what they bought and viewed
        query = request.GET.get("user", "").strip()
        context = {**self.admin_site.each_context(request), "title": "Preview recommendations", "query": query,
                   "opts": self.model._meta}
        if query:
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


from . import admin_profiles  # noqa: E402,F401 - customer profiles, segments and builds
