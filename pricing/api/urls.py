from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "pricing-api"

router = SimpleRouter()
router.register("suggestions", views.PriceSuggestionViewSet, basename="suggestion")
router.register("history", views.PriceHistoryViewSet, basename="history")

urlpatterns = [
    path("prices/", views.ProductPricesView.as_view(), name="prices"),
    path("", include(router.urls)),
]
