"""Include as ``path("api/personalization/", include("personalization.urls"))``."""
from django.urls import include, path

urlpatterns = [path("", include("personalization.api.urls"))]
