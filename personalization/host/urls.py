"""The site-wide API pages, for a host to include as ``path("api/", include("personalization.host.urls"))``:

``/api/health/`` (the health check), ``/api/schema/`` (OpenAPI), ``/api/docs/`` (Swagger UI) and
``/api/redoc/`` (ReDoc), named ``api-health``, ``api-schema``, ``api-docs`` and ``api-redoc``.
"""
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from ..api.health import HealthView

urlpatterns = [
    path("health/", HealthView.as_view(), name="api-health"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
