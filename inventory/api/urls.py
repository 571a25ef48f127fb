from django.urls import path

from personalization.host import ids  # noqa: F401 - registers the shopsense_id converter

from . import views

app_name = "inventory-api"

urlpatterns = [
    path("forecasts/", views.ForecastListView.as_view(), name="forecasts"),
    path("suggestions/", views.SuggestionListView.as_view(), name="suggestions"),
    path("exceptions/", views.ExceptionSummaryView.as_view(), name="exceptions"),
    path("suggestions/<shopsense_id:pk>/status/", views.SuggestionStatusView.as_view(), name="suggestion-status"),
    path("suggestions/purchase-orders/", views.SuggestionOrderView.as_view(), name="suggestion-order"),
    path("purchase-orders/", views.PurchaseOrderListView.as_view(), name="purchase-orders"),
    path("purchase-orders/<shopsense_id:pk>/", views.PurchaseOrderDetailView.as_view(), name="purchase-order"),
    path("purchase-orders/<shopsense_id:pk>/csv/", views.PurchaseOrderCsvView.as_view(), name="purchase-order-csv"),
    path(
        "purchase-orders/<shopsense_id:pk>/order/",
        views.PurchaseOrderActionView.as_view(action_name="order"),
        name="purchase-order-order",
    ),
    path(
        "purchase-orders/<shopsense_id:pk>/receive/",
        views.PurchaseOrderActionView.as_view(action_name="receive"),
        name="purchase-order-receive",
    ),
]
