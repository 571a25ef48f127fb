"""Include as ``path("api/pricing/", include("pricing.urls"))``."""
from django.urls import include, path

urlpatterns = [path("", include("pricing.api.urls"))]
