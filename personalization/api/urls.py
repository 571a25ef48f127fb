from django.urls import path

from ..host import ids  # noqa: F401 - registers the shopsense_id converter
from . import profiles, recommendations, views

app_name = "personalization-api"

urlpatterns = [
    path("events/", views.EventBatchView.as_view(), name="events"),
    path("profile/", profiles.MyProfileView.as_view(), name="my-profile"),
    path("profiles/", profiles.StaffProfileListView.as_view(), name="profiles"),
    path("profiles/<shopsense_id:user_id>/", profiles.StaffProfileDetailView.as_view(), name="profile-detail"),
    path("segments/", profiles.SegmentsView.as_view(), name="segments"),
    path("segments/rebuild/", profiles.RebuildView.as_view(), name="segments-rebuild"),
    path("recommendations/", recommendations.RecommendationsView.as_view(), name="recommendations"),
]
