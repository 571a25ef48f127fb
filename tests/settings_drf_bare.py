"""The test host with DRF's bare defaults: a host that configured nothing in
``REST_FRAMEWORK`` but the schema class the apps' ``check`` asks for.

The apps' API views own their configuration (``personalization/api/base.py``), so the permission matrix
and the events API must hold here exactly as under the demo's settings (bin/test runs them with this).
"""
from tests.settings import *  # noqa: F403

# The one key the apps need (drf-spectacular reads it at import; `check` says so: personalization.E005).
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
