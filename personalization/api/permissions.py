"""Staff endpoints check Django's model permissions, as the admin does, not just ``is_staff``."""
from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

SAFE_ALIASES = {"HEAD": "GET", "OPTIONS": "GET"}


class StaffModelPermission(BasePermission):
    """A staff user holding every permission the view names for the request's method.

    The view declares ``required_perms = {"GET": ("app.view_model",), "POST": (...)}``, or for a
    viewset by action (``{"list": ..., "approve": ...}``); a method or action it does not name is
    refused. Servers using an API key and customers are never staff.
    """

    message = "Staff only, with the model permissions for this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and getattr(user, "is_staff", False)):
            return False
        perms = getattr(view, "required_perms", {})
        action = getattr(view, "action", None)
        required = perms.get(action) if action else perms.get(SAFE_ALIASES.get(request.method or "", request.method))
        return required is not None and user.has_perms(required)
