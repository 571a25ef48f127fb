"""Admin actions a user may not run are refused with a message, not silently ignored."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect


class PermittedActionsMixin:
    """Mix into a ``ModelAdmin`` whose actions need model permissions (``@admin.action(permissions=...)``).

    Django leaves out the actions a user lacks the permission for and then ignores a POST naming one
    (or says "No action selected."); this says why nothing happened, and nothing does.
    """

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        action = request.POST.get("action") if request.method == "POST" else None
        if action and self.has_view_or_change_permission(request) and action not in self.get_actions(request):
            self.message_user(request, f"You do not have permission to run the action “{action}”.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)  # type: ignore[misc]
