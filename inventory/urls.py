"""Include as ``path("api/inventory/", include("inventory.urls"))``."""

from django.urls import include, path

urlpatterns = [path("", include("inventory.api.urls"))]
