"""The test host with permissive DRF defaults: ``AllowAny``, Basic authentication only, no throttles, no
pagination, JSON only. None of it may open, break or un-paginate an endpoint of the apps."""
from tests.settings import *  # noqa: F403

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"],
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_PAGINATION_CLASS": None,
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
