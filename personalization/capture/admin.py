"""Behaviour capture in the admin: the event log (read-only) and the server API keys (create, revoke)."""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest

from ..models import ApiKey, Event
from ..ops.admin_actions import PermittedActionsMixin
from . import api_keys, buffer
from .admin_paging import EstimatedCountPaginator


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = (
        "timestamp", "event_type", "product", "user", "short_session",
        "quantity", "price", "source", "recommendation_id",
    )
    list_filter = ("event_type", "source", "timestamp")
    # Searched whole, through their indexes (see get_search_results): a substring search ran over every
    # row of a table of millions (3-4 s a search on a million events, bench/admin_events.py).
    search_fields = ("client_event_id", "session_key", "recommendation_id", "query")
    search_help_text = (
        "Whole values: an event id, a visitor id, a recommendation id, a customer's username or a search query "
        "(any case)."
    )
    list_select_related = ("product", "user")
    raw_id_fields = ("product", "user")
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # no COUNT(*) over millions of rows on every page
    readonly_fields = [f.name for f in Event._meta.fields]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Event], search_term: str
    ) -> tuple[QuerySet[Event], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        user_model = get_user_model()
        # The host's user model may have no ``username``: search whatever identifies its users.
        user_ids = list(
            user_model._default_manager.filter(**{f"{user_model.USERNAME_FIELD}__iexact": term}).values_list(
                "pk", flat=True
            )[:20]
        )
        matches = (
            Q(client_event_id=term)
            | Q(session_key=term)
            | Q(recommendation_id=term)
            | (Q(query_lower=term.lower()) & ~Q(query=""))  # the condition of the query's partial index
            | Q(user_id__in=user_ids)
        )
        return queryset.alias(query_lower=Lower("query")).filter(matches), False

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
