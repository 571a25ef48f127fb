from django.urls import path

from . import views

app_name = "personalization-api"

urlpatterns = [
    path("events/", views.EventBatchView.as_view(), name="events"),
]
