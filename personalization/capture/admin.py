"""Behaviour capture in the admin: the event log (read-only) and the server API keys (create, revoke)."""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest

from ..models import ApiKey, Event
from ..ops.admin_actions import PermittedActionsMixin
from . import api_keys, buffer


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

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        set_aside = buffer.dead_letter_count()
        if set_aside:
            self.message_user(
                request,
                f"{set_aside} buffered events could not be stored (malformed, or refused by the database) and wait "
                f"with their reason in the Redis list {buffer.dead_letter_key()}; every other event was stored.",
                level=messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

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
