"""A fresh Oscar project's URLs plus ShopSense's includes (README "Plug into django-oscar")."""
from django.apps import apps
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # ShopSense:
    path("api/personalization/", include("personalization.urls")),
    path("api/pricing/", include("pricing.urls")),
    path("api/inventory/", include("inventory.urls")),
    path("api/", include("personalization.host.urls")),
    path("", include(apps.get_app_config("oscar").urls[0])),
]
