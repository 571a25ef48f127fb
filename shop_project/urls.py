from django.contrib import admin
from django.urls import include, path

from .api import PingView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/ping/", PingView.as_view(), name="api-ping"),
    path("api/", include("personalization.host.urls")),  # health, schema, docs, redoc
    path("api/personalization/", include("personalization.urls")),
    path("api/pricing/", include("pricing.urls")),
    path("api/inventory/", include("inventory.urls")),
    path("", include("shop_project.shop.urls")),
]

handler400 = "personalization.api.errors.bad_request"
handler404 = "personalization.api.errors.not_found"
handler500 = "personalization.api.errors.server_error"
