from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from personalization.api.health import HealthView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/health/", HealthView.as_view(), name="api-health"),
    path("api/personalization/", include("personalization.urls")),
    path("api/pricing/", include("pricing.urls")),
    path("api/inventory/", include("inventory.urls")),
]

handler400 = "personalization.api.errors.bad_request"
handler404 = "personalization.api.errors.not_found"
handler500 = "personalization.api.errors.server_error"
